//! Expiry inside the server: every `interval`, each kind of data is walked in steps of at most
//! `batch` rows, each step one short job of the single writer, with a pause between steps and a
//! wait while ingest's backlog is high, so that ingest's group commits interleave. With several
//! instances on one database, only the one holding the `privacy-expiry` lease runs the rounds
//! ([`crate::scheduled`]).

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::phones::Phones;
use super::PrivacySettings;
use crate::app::AppState;
use crate::scheduled::Lease;
use crate::store::lease::LeaseStore;
use crate::store::privacy::{ExpiryTarget, PhoneTable};

/// Pause between two steps: the writer serves everything else meanwhile. (A pause as long as
/// the step took was tried: under busy ingest a step mostly waits for the writer, so expiry
/// slowed tenfold without a better ingest p99; waiting for the ingest backlog instead, below,
/// helped — `docs/benchmarks-collector.md`.)
const PAUSE: Duration = Duration::from_millis(20);

/// Acknowledged events waiting to be applied above which a step waits: then the writer is
/// behind ingest, and a step would only delay it further (`docs/benchmarks-collector.md`).
const BACKLOG_YIELD: usize = 1_000;

/// The longest a step waits for that backlog to clear, so that expiry still progresses under
/// ingest that never lets it.
const MAX_YIELD: Duration = Duration::from_secs(2);

/// Waits (at most [`MAX_YIELD`]) while the writer is behind ingest.
async fn yield_to_ingest(state: &AppState) {
    let until = Instant::now() + MAX_YIELD;
    while state.store.backlog() > BACKLOG_YIELD && Instant::now() < until {
        tokio::time::sleep(PAUSE).await;
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: &'static str,
}

#[derive(Clone, Default)]
pub struct ExpiryMetrics {
    pub rows: Family<KindLabels, Counter>,
    pub runs: Counter,
    pub failures: Counter,
    pub last_run_seconds: Gauge<f64, AtomicU64>,
}

impl ExpiryMetrics {
    pub fn register(registry: &mut Registry) -> ExpiryMetrics {
        let m = ExpiryMetrics::default();
        registry.register(
            "chattag_privacy_expired_rows",
            "Rows deleted (or first-message texts cleared) by retention, by kind",
            m.rows.clone(),
        );
        registry.register(
            "chattag_privacy_expiry_runs",
            "Completed expiry rounds",
            m.runs.clone(),
        );
        registry.register(
            "chattag_privacy_expiry_failures",
            "Expiry steps that failed (retried next round)",
            m.failures.clone(),
        );
        registry.register(
            "chattag_privacy_expiry_last_run_seconds",
            "How long the last expiry round took",
            m.last_run_seconds.clone(),
        );
        let kinds = ExpiryTarget::ALL.map(ExpiryTarget::as_str);
        for kind in kinds.into_iter().chain([PHONES_HASHED]) {
            // Every kind shows from the start, at 0.
            m.rows.get_or_create(&KindLabels { kind }).inc_by(0);
        }
        m
    }
}

/// The lease of the expiry rounds: one instance among those on a database runs them.
pub const LEASE: &str = "privacy-expiry";

pub fn spawn(state: AppState, settings: PrivacySettings) {
    tokio::spawn(async move {
        let store: Arc<dyn LeaseStore> = state.store.clone();
        let lease = Lease::keep(store, LEASE, state.config.lease_ttl);
        let mut tick = tokio::time::interval_at(
            tokio::time::Instant::now() + settings.interval,
            settings.interval,
        );
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // Another instance on this database runs this round.
            if lease.is_held() {
                run_round(&state, &settings).await;
            }
        }
    });
}

/// The metric kind of phones kept in clear from before phones were hashed, hashed by expiry.
const PHONES_HASHED: &str = "phones_hashed";

/// One pass over every kind of data; first, while phones are hashed, over the phones kept in
/// clear before (a collector that kept them so and now hashes them ends up with none in clear).
pub async fn run_round(state: &AppState, settings: &PrivacySettings) {
    let started = Instant::now();
    let metrics = &state.privacy_metrics;
    if let Phones::Hashed(key) = &state.phones {
        for table in PhoneTable::ALL {
            let mut after = 0;
            loop {
                match state
                    .store
                    .hash_phones_step(key, table, after, settings.batch)
                    .await
                {
                    Ok(step) => {
                        metrics
                            .rows
                            .get_or_create(&KindLabels {
                                kind: PHONES_HASHED,
                            })
                            .inc_by(step.rows);
                        match step.next {
                            Some(next) => after = next,
                            None => break,
                        }
                    }
                    Err(e) => {
                        metrics.failures.inc();
                        tracing::warn!(kind = PHONES_HASHED, error = %e, "hashing stored phones failed");
                        break;
                    }
                }
                tokio::time::sleep(PAUSE).await;
                yield_to_ingest(state).await;
            }
        }
    }
    for target in ExpiryTarget::ALL {
        let mut after = 0;
        loop {
            let now = crate::clock::now_ms();
            match state
                .store
                .expire_step(target, &settings.policy, now, after, settings.batch)
                .await
            {
                Ok(step) => {
                    metrics
                        .rows
                        .get_or_create(&KindLabels {
                            kind: target.as_str(),
                        })
                        .inc_by(step.rows);
                    match step.next {
                        Some(next) => after = next,
                        None => break,
                    }
                }
                Err(e) => {
                    metrics.failures.inc();
                    tracing::warn!(kind = target.as_str(), error = %e, "expiry step failed");
                    break;
                }
            }
            tokio::time::sleep(PAUSE).await;
            yield_to_ingest(state).await;
        }
    }
    metrics.runs.inc();
    metrics
        .last_run_seconds
        .set(started.elapsed().as_secs_f64());
}
