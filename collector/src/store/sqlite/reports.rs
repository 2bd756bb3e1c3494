//! The report page's rows in SQLite: conversations joined with the visit of their chat ID
//! (statements and rows shared: [`crate::store::report_sql`]).

use async_trait::async_trait;
use rusqlite::{params, Connection};

use super::SqliteStore;
use crate::reports::data::{ChatRow, UnreadableRow};
use crate::store::dialect::Dialect::Sqlite;
use crate::store::report_sql::{self as sql, RAW_SHOWN};
use crate::store::{ReportStore, StoreError};

#[async_trait]
impl ReportStore for SqliteStore {
    async fn report_rows(&self, from_ms: i64, to_ms: i64) -> Result<Vec<ChatRow>, StoreError> {
        self.read(move |conn| load(conn, from_ms, to_ms)).await
    }

    async fn unreadable(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: u32,
    ) -> Result<(i64, Vec<UnreadableRow>), StoreError> {
        self.read(move |conn| unreadable(conn, from_ms, to_ms, limit))
            .await
    }
}

fn unreadable(
    conn: &Connection,
    from_ms: i64,
    to_ms: i64,
    limit: u32,
) -> Result<(i64, Vec<UnreadableRow>), StoreError> {
    let count = conn.query_row(
        &sql::unreadable_count(Sqlite),
        params![from_ms, to_ms],
        |r| r.get(0),
    )?;
    let rows = conn
        .prepare(&sql::unreadable_rows(Sqlite))?
        .query_map(params![from_ms, to_ms, limit, RAW_SHOWN], |r| {
            sql::unreadable_row(r)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((count, rows))
}

fn load(conn: &Connection, from_ms: i64, to_ms: i64) -> Result<Vec<ChatRow>, StoreError> {
    Ok(conn
        .prepare(&sql::chat_rows(Sqlite, conversations_with_visit!()))?
        .query_map(params![from_ms, to_ms], |r| sql::chat_row(r))?
        .collect::<Result<Vec<_>, _>>()?)
}
