//! Expiry inside the server: every `interval`, each kind of data is walked in steps, each step
//! one short job of the single writer, with a pause between steps and a wait while ingest's
//! backlog is high, so that ingest's group commits interleave. A step's size is chosen by the
//! writer time the previous one took ([`next_window`]): about [`STEP_BUDGET`] while ingest
//! flows, more while nothing else waits for the writer. With several instances on one
//! database, only the one holding the `privacy-expiry` lease runs the rounds
//! ([`crate::scheduled`]).

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::phones::Phones;
use super::PrivacySettings;
use crate::app::AppState;
use crate::scheduled::Lease;
use crate::store::lease::LeaseStore;
use crate::store::privacy::{ExpiryStep, ExpiryTarget, PhoneTable};

/// Pause between two steps: the writer serves everything else meanwhile. Under 20,000 events/s
/// a step's round trip is mostly the wait for the writer's current transaction (~0.1 s), so the
/// pause sets the pace less than the step size does. 20 ms with 4 ms steps expired 1,000,000
/// events in 19–34 s of running time; 50 ms with 2 ms steps took 58 s, and 234 s when the
/// writer was behind, with no p99 difference the shared machine could show
/// (`docs/benchmarks-collector.md`). (A pause as long as the step's whole round trip was tried:
/// expiry slowed tenfold without a better ingest p99.)
const PAUSE: Duration = Duration::from_millis(20);

/// Acknowledged events waiting to be applied above which a step waits: then the writer is
/// behind ingest, and a step would only delay it further (`docs/benchmarks-collector.md`).
/// The writer gathers up to 8,192 events (or 200 ms) into one transaction, so a backlog below
/// two transactions' worth is that gathering, not the writer falling behind; at 1,000 (tried)
/// a step under 20,000 events/s nearly always waited the whole [`MAX_YIELD`].
const BACKLOG_YIELD: usize = 16_384;

/// The longest a step waits for that backlog to clear, so that expiry still progresses under
/// ingest that never lets it.
const MAX_YIELD: Duration = Duration::from_secs(2);

/// Writer time a step aims at while ingest waits for the writer: a few milliseconds added to a
/// group commit that applies thousands of events (`docs/benchmarks-collector.md`).
pub const STEP_BUDGET: Duration = Duration::from_millis(4);

/// Writer time a step aims at while nothing waits for the writer (no ingest backlog).
pub const IDLE_BUDGET: Duration = Duration::from_millis(40);

/// The most rows a step looks at (the upper bound of `batch` in the config).
pub const MAX_WINDOW: i64 = 100_000;

/// The fewest rows a step looks at once sized by time (unless `batch` is smaller).
const MIN_WINDOW: i64 = 100;

/// The next step's window from the last full one's: scaled so that its writer time nears
/// `budget`, between `floor` and [`MAX_WINDOW`]. It grows at most twofold per step but shrinks
/// at once: a window grown while the writer was idle must not run long once ingest resumes
/// (halving per step was tried: steps of 100,000 rows took seconds each while it shrank).
pub fn next_window(window: i64, took: Duration, budget: Duration, floor: i64) -> i64 {
    let took_us = took.as_micros().max(1) as f64;
    let scaled = window as f64 * budget.as_micros() as f64 / took_us;
    let bounded = scaled.min(window as f64 * 2.0) as i64;
    bounded.clamp(floor.clamp(1, MAX_WINDOW), MAX_WINDOW)
}

/// Waits (at most [`MAX_YIELD`]) while the writer is behind ingest.
async fn yield_to_ingest(state: &AppState) {
    let until = Instant::now() + MAX_YIELD;
    while state.store.backlog() > BACKLOG_YIELD && Instant::now() < until {
        tokio::time::sleep(PAUSE).await;
    }
}

/// The window of a walk: it starts at the configured `batch` and follows the steps' own
/// writer time.
struct Pace {
    window: i64,
    floor: i64,
}

impl Pace {
    fn new(batch: i64) -> Pace {
        Pace {
            window: batch.clamp(1, MAX_WINDOW),
            floor: batch.min(MIN_WINDOW),
        }
    }

    /// Only a full window says what a window costs.
    fn after(&mut self, step: &ExpiryStep, writer_idle: bool) {
        if step.next.is_some() {
            let budget = if writer_idle {
                IDLE_BUDGET
            } else {
                STEP_BUDGET
            };
            self.window = next_window(self.window, step.took, budget, self.floor);
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: &'static str,
}

#[derive(Clone)]
pub struct ExpiryMetrics {
    pub rows: Family<KindLabels, Counter>,
    pub runs: Counter,
    pub failures: Counter,
    pub last_run_seconds: Gauge<f64, AtomicU64>,
    /// Writer time of each step's own work.
    pub step_seconds: Histogram,
}

impl Default for ExpiryMetrics {
    fn default() -> ExpiryMetrics {
        ExpiryMetrics {
            rows: Family::default(),
            runs: Counter::default(),
            failures: Counter::default(),
            last_run_seconds: Gauge::default(),
            // 0.25 ms .. ~1 s
            step_seconds: Histogram::new(exponential_buckets(0.00025, 2.0, 13)),
        }
    }
}

impl ExpiryMetrics {
    pub fn register(registry: &mut Registry) -> ExpiryMetrics {
        let m = ExpiryMetrics::default();
        registry.register(
            "chattag_privacy_expiry_step_seconds",
            "Time one expiry step's own work took (inside the writer's job, not the wait for it)",
            m.step_seconds.clone(),
        );
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
        let mut pace = Pace::new(settings.batch);
        loop {
            let now = crate::clock::now_ms();
            // Sampled before the step: right after it the backlog is mostly 0, since the
            // step's transaction applied what was waiting.
            let writer_idle = state.store.backlog() == 0;
            match state
                .store
                .expire_step(target, &settings.policy, now, after, pace.window)
                .await
            {
                Ok(step) => {
                    metrics.step_seconds.observe(step.took.as_secs_f64());
                    pace.after(&step, writer_idle);
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

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_window_follows_the_writer_time_of_the_last_step() {
        let budget = 4 * MS;
        // 1,000 rows in 1 ms with a 4 ms budget: twice as many next (at most twofold a step).
        assert_eq!(next_window(1_000, MS, budget, 100), 2_000);
        // 2,000 rows in 5 ms: 1,600 to take 4 ms.
        assert_eq!(next_window(2_000, 5 * MS, budget, 100), 1_600);
        // A window grown while idle shrinks at once to what the budget allows under ingest.
        assert_eq!(next_window(100_000, 100 * MS, budget, 100), 4_000);
        assert_eq!(next_window(2_000, 500 * MS, budget, 100), 100);
        // Between the floor and the largest window.
        assert_eq!(next_window(150, 100 * MS, budget, 100), 100);
        assert_eq!(next_window(90_000, MS, 40 * MS, 100), MAX_WINDOW);
        // A configured batch below the floor of timed windows is the floor.
        assert_eq!(next_window(2, 10 * MS, budget, 2), 2);
        assert_eq!(next_window(2, Duration::ZERO, budget, 2), 4);
    }
}
