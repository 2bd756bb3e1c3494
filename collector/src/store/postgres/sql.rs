//! Short forms of a cached statement run on a connection or a transaction.

use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::store::StoreError;

pub type Params<'a> = [&'a (dyn ToSql + Sync)];

/// Rows changed.
pub async fn exec<C: GenericClient>(c: &C, sql: &str, p: &Params<'_>) -> Result<u64, StoreError> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.execute(&st, p).await?)
}

pub async fn rows<C: GenericClient>(
    c: &C,
    sql: &str,
    p: &Params<'_>,
) -> Result<Vec<Row>, StoreError> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.query(&st, p).await?)
}

pub async fn opt<C: GenericClient>(
    c: &C,
    sql: &str,
    p: &Params<'_>,
) -> Result<Option<Row>, StoreError> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&st, p).await?)
}

pub async fn one<C: GenericClient>(c: &C, sql: &str, p: &Params<'_>) -> Result<Row, StoreError> {
    let st = c.prepare_cached(sql).await?;
    Ok(c.query_one(&st, p).await?)
}
