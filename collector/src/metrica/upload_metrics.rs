//! Metrica uploads on the server's `/metrics`.
//!
//! Uploads run in the `upload metrica` process (often `--every 1h` or cron), not in the server,
//! so in-process counters would vanish with each run. Every upload and its outcome is recorded in
//! the database ([`super::uploads`]), so the server reads the totals from there at scrape time
//! ([`crate::store::MetricaStore::upload_totals`]):
//!
//! * `chattag_metrica_uploads{counter, state, status}` — files by our state (`pending`, `sent`,
//!   `failed`, `abandoned`) and Metrica's last status (`UPLOADED` … `PROCESSED`,
//!   `LINKAGE_FAILURE`; empty before Metrica answered);
//! * `chattag_metrica_chats_sent{counter}` — chats in uploads that were not abandoned.
//!
//! Both are gauges (a failed upload that later succeeds moves from `failed` to `sent`). A query
//! that fails leaves them out of that scrape rather than failing `/metrics`.

use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::uploads::UploadTotals;

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

/// The totals read from storage for the scrape in progress (the `/metrics` handler reads them
/// before it renders; the registry's collectors cannot wait for storage themselves).
#[derive(Clone, Debug, Default)]
pub struct UploadGauges(Arc<Mutex<Option<UploadTotals>>>);

impl UploadGauges {
    /// `None` (the read failed) leaves the gauges out of this scrape.
    pub fn set(&self, totals: Option<UploadTotals>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = totals;
    }

    fn totals(&self) -> Option<UploadTotals> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Collector for UploadGauges {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(totals) = self.totals() else {
            return Ok(());
        };
        let mut family = encoder.encode_descriptor(
            "chattag_metrica_uploads",
            "Metrica chat-import uploads by counter, our state and Metrica's last status",
            None,
            MetricType::Gauge,
        )?;
        for ((counter, state, status), n) in &totals.uploads {
            let labels = UploadLabels {
                counter: counter.to_string(),
                state: state.clone(),
                status: status.clone(),
            };
            ConstGauge::new(*n).encode(family.encode_family(&labels)?)?;
        }
        let mut family = encoder.encode_descriptor(
            "chattag_metrica_chats_sent",
            "Chats sent to each Metrica counter (uploads not abandoned)",
            None,
            MetricType::Gauge,
        )?;
        for (counter, n) in &totals.chats_sent {
            let labels = CounterLabels {
                counter: counter.to_string(),
            };
            ConstGauge::new(*n).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// Registers the gauges; the returned handle takes each scrape's totals.
pub fn register(registry: &mut Registry) -> UploadGauges {
    let gauges = UploadGauges::default();
    registry.register_collector(Box::new(gauges.clone()));
    gauges
}
