//! The Metrica side on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::metrica::conversions::{ConversionRow, LateRevenue};
use crate::metrica::export::{ExportChat, WrittenRow};
use crate::metrica::probable::Evidence;
use crate::metrica::rules::Candidate;
use crate::metrica::upload::Uploading;
use crate::metrica::uploads::{CounterSummary, PendingUpload, UploadState, UploadTotals};
use crate::store::{MetricaStore, StoreError, TakenSeconds};

#[async_trait]
impl MetricaStore for PgStore {
    async fn export_candidates(
        &self,
        _counter: u64,
        _from_ms: i64,
        _to_ms: i64,
        _include_sent: bool,
    ) -> Result<(Vec<Candidate>, TakenSeconds), StoreError> {
        Err(StoreError::NotYetOnPostgres("export_candidates"))
    }
    async fn retry_candidate(&self, _counter: u64) -> Result<Option<PendingUpload>, StoreError> {
        Err(StoreError::NotYetOnPostgres("retry_candidate"))
    }
    async fn create_upload(
        &self,
        _counter: u64,
        _csv: String,
        _rows: Vec<WrittenRow>,
        _chats: Vec<ExportChat>,
        _forced: bool,
    ) -> Result<i64, StoreError> {
        Err(StoreError::NotYetOnPostgres("create_upload"))
    }
    async fn mark_sent(&self, _upload: i64, _answer: Uploading) -> Result<(), StoreError> {
        Err(StoreError::NotYetOnPostgres("mark_sent"))
    }
    async fn mark_status(&self, _upload: i64, _answer: Uploading) -> Result<(), StoreError> {
        Err(StoreError::NotYetOnPostgres("mark_status"))
    }
    async fn mark_failed(&self, _upload: i64, _error: String) -> Result<UploadState, StoreError> {
        Err(StoreError::NotYetOnPostgres("mark_failed"))
    }
    async fn unfinished(&self, _counter: u64) -> Result<Vec<(i64, u64, u64)>, StoreError> {
        Err(StoreError::NotYetOnPostgres("unfinished"))
    }
    async fn upload_summaries(&self) -> Result<Vec<CounterSummary>, StoreError> {
        Err(StoreError::NotYetOnPostgres("upload_summaries"))
    }
    async fn upload_totals(&self) -> Result<UploadTotals, StoreError> {
        Err(StoreError::NotYetOnPostgres("upload_totals"))
    }
    async fn late_revenue(&self, _counter: u64) -> Result<Vec<LateRevenue>, StoreError> {
        Err(StoreError::NotYetOnPostgres("late_revenue"))
    }
    async fn create_conversion_upload(
        &self,
        _counter: u64,
        _target: String,
        _csv: String,
        _rows: Vec<ConversionRow>,
    ) -> Result<i64, StoreError> {
        Err(StoreError::NotYetOnPostgres("create_conversion_upload"))
    }
    async fn refuse_columns(
        &self,
        _upload: i64,
        _names: Vec<String>,
        _message: String,
        _csv: String,
    ) -> Result<(), StoreError> {
        Err(StoreError::NotYetOnPostgres("refuse_columns"))
    }
    async fn probable_evidence(
        &self,
        _from_ms: i64,
        _to_ms: i64,
        _window_ms: i64,
    ) -> Result<Vec<Evidence>, StoreError> {
        Err(StoreError::NotYetOnPostgres("probable_evidence"))
    }
    async fn refused_columns(&self, _counter: u64) -> Result<Vec<String>, StoreError> {
        Err(StoreError::NotYetOnPostgres("refused_columns"))
    }
}
