//! Expiry inside the server: every `interval`, each kind of data is walked in steps of at most
//! `batch` rows, each step one short job of the single writer, with a pause between steps so
//! that ingest's group commits interleave. With several instances on one database, only the one
//! holding the `privacy-expiry` lease runs the rounds ([`crate::scheduled`]).

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::PrivacySettings;
use crate::app::AppState;
use crate::scheduled::Lease;
use crate::store::lease::LeaseStore;
use crate::store::privacy::ExpiryTarget;

/// Pause between two steps: the writer serves everything else meanwhile.
const PAUSE: Duration = Duration::from_millis(20);

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
        for target in ExpiryTarget::ALL {
            // Every kind shows from the start, at 0.
            m.rows
                .get_or_create(&KindLabels {
                    kind: target.as_str(),
                })
                .inc_by(0);
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

/// One pass over every kind of data.
pub async fn run_round(state: &AppState, settings: &PrivacySettings) {
    let started = Instant::now();
    let metrics = &state.privacy_metrics;
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
        }
    }
    metrics.runs.inc();
    metrics
        .last_run_seconds
        .set(started.elapsed().as_secs_f64());
}
