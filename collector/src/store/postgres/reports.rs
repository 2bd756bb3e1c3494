//! The report page's rows on PostgreSQL (statements and rows shared with SQLite:
//! [`crate::store::report_sql`]).

use async_trait::async_trait;

use super::metrica::conversations_with_visit;
use super::sql::{one, rows};
use super::PgStore;
use crate::reports::data::{ChatRow, UnreadableRow};
use crate::store::dialect::Dialect::Postgres;
use crate::store::report_sql::{self as sql, RAW_SHOWN};
use crate::store::{ReportStore, StoreError};

#[async_trait]
impl ReportStore for PgStore {
    async fn report_rows(&self, from_ms: i64, to_ms: i64) -> Result<Vec<ChatRow>, StoreError> {
        let c = self.client().await?;
        let found = rows(
            &c,
            &sql::chat_rows(Postgres, conversations_with_visit!()),
            &[&from_ms, &to_ms],
        )
        .await?;
        Ok(found.iter().map(sql::chat_row).collect::<Result<_, _>>()?)
    }

    async fn unreadable(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: u32,
    ) -> Result<(i64, Vec<UnreadableRow>), StoreError> {
        let c = self.client().await?;
        let count: i64 = one(&c, &sql::unreadable_count(Postgres), &[&from_ms, &to_ms])
            .await?
            .get(0);
        let found = rows(
            &c,
            &sql::unreadable_rows(Postgres),
            &[&from_ms, &to_ms, &i64::from(limit), &RAW_SHOWN],
        )
        .await?;
        Ok((
            count,
            found
                .iter()
                .map(sql::unreadable_row)
                .collect::<Result<_, _>>()?,
        ))
    }
}
