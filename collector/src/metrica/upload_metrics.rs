//! Metrica uploads on the server's `/metrics`.
//!
//! Uploads run in the `upload metrica` process (often `--every 1h` or cron), not in the server,
//! so in-process counters would vanish with each run. Every upload and its outcome is recorded in
//! the database ([`super::store`]), so the server reads the totals from there at scrape time:
//!
//! * `chattag_metrica_uploads{counter, state, status}` — files by our state (`pending`, `sent`,
//!   `failed`, `abandoned`) and Metrica's last status (`UPLOADED` … `PROCESSED`,
//!   `LINKAGE_FAILURE`; empty before Metrica answered);
//! * `chattag_metrica_chats_sent{counter}` — chats in uploads that were not abandoned.
//!
//! Both are gauges (a failed upload that later succeeds moves from `failed` to `sent`). A query
//! that fails leaves them out of that scrape rather than failing `/metrics`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use rusqlite::{Connection, OpenFlags};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UploadLabels {
    counter: String,
    state: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CounterLabels {
    counter: String,
}

/// Reads upload totals from the database on each scrape.
pub struct UploadGauges {
    db: PathBuf,
    /// One read-only connection, opened at the first scrape and reused.
    conn: Mutex<Option<Connection>>,
}

impl std::fmt::Debug for UploadGauges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadGauges")
            .field("db", &self.db)
            .finish()
    }
}

type Totals = (Vec<(UploadLabels, i64)>, Vec<(CounterLabels, i64)>);

impl UploadGauges {
    pub fn new(db: &Path) -> UploadGauges {
        UploadGauges {
            db: db.to_path_buf(),
            conn: Mutex::new(None),
        }
    }

    fn totals(&self) -> Result<Totals, rusqlite::Error> {
        let mut guard = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.is_none() {
            let conn = Connection::open_with_flags(
                &self.db,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            // A scrape must not hang on a checkpoint.
            conn.busy_timeout(Duration::from_millis(500))?;
            *guard = Some(conn);
        }
        let Some(conn) = guard.as_ref() else {
            return Err(rusqlite::Error::InvalidQuery);
        };
        let mut stmt = conn.prepare_cached(
            "SELECT counter, state, coalesce(status, ''), count(*) FROM metrica_uploads GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        )?;
        let uploads = stmt
            .query_map([], |r| {
                Ok((
                    UploadLabels {
                        counter: r.get::<_, i64>(0)?.to_string(),
                        state: r.get(1)?,
                        status: r.get(2)?,
                    },
                    r.get(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut stmt = conn.prepare_cached(
            "SELECT counter, count(*) FROM metrica_sent GROUP BY counter ORDER BY counter",
        )?;
        let sent = stmt
            .query_map([], |r| {
                Ok((
                    CounterLabels {
                        counter: r.get::<_, i64>(0)?.to_string(),
                    },
                    r.get(1)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok((uploads, sent))
    }
}

impl Collector for UploadGauges {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (uploads, sent) = match self.totals() {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read Metrica upload totals for /metrics");
                return Ok(());
            }
        };
        let mut family = encoder.encode_descriptor(
            "chattag_metrica_uploads",
            "Metrica chat-import uploads by counter, our state and Metrica's last status",
            None,
            MetricType::Gauge,
        )?;
        for (labels, n) in &uploads {
            ConstGauge::new(*n).encode(family.encode_family(labels)?)?;
        }
        let mut family = encoder.encode_descriptor(
            "chattag_metrica_chats_sent",
            "Chats sent to each Metrica counter (uploads not abandoned)",
            None,
            MetricType::Gauge,
        )?;
        for (labels, n) in &sent {
            ConstGauge::new(*n).encode(family.encode_family(labels)?)?;
        }
        Ok(())
    }
}

/// Called by `AppState::open` once the database exists.
pub fn register(registry: &mut Registry, db: &Path) {
    registry.register_collector(Box::new(UploadGauges::new(db)));
}
