//! The report page's rows on PostgreSQL.

use async_trait::async_trait;

use super::PgStore;
use crate::reports::data::{ChatRow, UnreadableRow};
use crate::store::{ReportStore, StoreError};

#[async_trait]
impl ReportStore for PgStore {
    async fn report_rows(&self, _from_ms: i64, _to_ms: i64) -> Result<Vec<ChatRow>, StoreError> {
        Err(StoreError::NotYetOnPostgres("report_rows"))
    }

    async fn unreadable(
        &self,
        _from_ms: i64,
        _to_ms: i64,
        _limit: u32,
    ) -> Result<(i64, Vec<UnreadableRow>), StoreError> {
        Err(StoreError::NotYetOnPostgres("unreadable"))
    }
}
