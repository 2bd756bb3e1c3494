//! Read-side SQL on PostgreSQL: one chat ID with everything known about it, and the recent
//! mappings list. The statements and the record's assembly are shared
//! ([`crate::store::read_sql`]); how one chat's events are found is PostgreSQL's own (an
//! index on (site, chat_id), where SQLite lists them in the `chats` row).

use deadpool_postgres::Object;
use tokio_postgres::Row;

use crate::store::columns::Columns;
use crate::store::dialect::Dialect::Postgres;
use crate::store::history::{clicks_from_bodies, history_from_bodies, MAX_CLICKS, MAX_EVENTS_READ};
use crate::store::model::{ChatRecord, MappingCursor, MappingPage, MappingQuery};
use crate::store::read_sql::{self as sql, ChatRow, Related};
use crate::store::StoreError;

impl Columns for Row {
    type Error = tokio_postgres::Error;
    fn int(&self, i: usize) -> Result<i64, Self::Error> {
        self.try_get(i)
    }
    fn text(&self, i: usize) -> Result<String, Self::Error> {
        self.try_get(i)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error> {
        self.try_get(i)
    }
    fn flag(&self, i: usize) -> Result<bool, Self::Error> {
        self.try_get(i)
    }
}

/// Every row through `assemble`, stopping at the first column that does not read.
fn each<T>(
    rows: &[Row],
    assemble: impl Fn(&Row) -> Result<T, tokio_postgres::Error>,
) -> Result<Vec<T>, StoreError> {
    Ok(rows.iter().map(assemble).collect::<Result<_, _>>()?)
}

pub async fn chat(
    c: &Object,
    site: Option<&str>,
    chat_id: &str,
) -> Result<Vec<ChatRecord>, StoreError> {
    let rows = match site {
        Some(site) => {
            let st = c.prepare_cached(&sql::chat_at_site(Postgres)).await?;
            c.query(&st, &[&site, &chat_id]).await?
        }
        None => {
            let st = c.prepare_cached(&sql::chat_on_every_site(Postgres)).await?;
            c.query(&st, &[&chat_id]).await?
        }
    };
    let mut out = Vec::with_capacity(rows.len());
    for row in each(&rows, sql::chat_row)? {
        out.push(full_record(c, row).await?);
    }
    Ok(out)
}

async fn full_record(c: &Object, row: ChatRow) -> Result<ChatRecord, StoreError> {
    let site = row.summary.site.clone();
    let id = row.summary.chat_id.clone();

    let bodies = |kind: Option<&'static str>, limit: i64| {
        let (site, id) = (site.clone(), id.clone());
        async move {
            let st = c
                .prepare_cached(
                    "SELECT body, received_at FROM events WHERE site = $1 AND chat_id = $2
                       AND ($3::text IS NULL OR kind = $3) ORDER BY ts, id LIMIT $4",
                )
                .await?;
            let rows = c.query(&st, &[&site, &id, &kind, &limit]).await?;
            Ok::<_, StoreError>(
                rows.iter()
                    .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)))
                    .collect::<Vec<_>>(),
            )
        }
    };
    let (identifier_history, pages) = history_from_bodies(bodies(None, MAX_EVENTS_READ).await?)?;
    let clicks = clicks_from_bodies(bodies(Some("click"), MAX_CLICKS).await?)?;
    let site_and_id: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&site, &id];

    let st = c.prepare_cached(&sql::conflicts(Postgres)).await?;
    let conflicts = each(&c.query(&st, &site_and_id).await?, sql::conflict)?;
    let previous_chat_ids =
        previous_chain(c, &site, row.summary.prev_chat_id.as_deref(), &id).await?;
    let st = c.prepare_cached(&sql::next_chat_ids(Postgres)).await?;
    let next_chat_ids = each(&c.query(&st, &site_and_id).await?, |r| r.text(0))?;
    let st = c.prepare_cached(&sql::conversation_links(Postgres)).await?;
    let conversations = each(&c.query(&st, &site_and_id).await?, sql::conversation_link)?;

    Ok(row.record(Related {
        identifier_history,
        pages,
        clicks,
        conflicts,
        previous_chat_ids,
        next_chat_ids,
        conversations,
    }))
}

/// Follows `prev_chat_id` from `start` until [`sql::chain_ends`].
async fn previous_chain(
    c: &Object,
    site: &str,
    start: Option<&str>,
    own: &str,
) -> Result<Vec<String>, StoreError> {
    let st = c.prepare_cached(&sql::previous_chat_id(Postgres)).await?;
    let mut chain: Vec<String> = Vec::new();
    let mut next = start.map(str::to_owned);
    while let Some(id) = next.take() {
        if sql::chain_ends(&chain, &id, own) {
            break;
        }
        next = c
            .query_opt(&st, &[&site, &id])
            .await?
            .and_then(|r| r.get::<_, Option<String>>(0));
        chain.push(id);
    }
    Ok(chain)
}

pub async fn mappings(c: &Object, q: &MappingQuery) -> Result<MappingPage, StoreError> {
    let after = q.after.unwrap_or(MappingCursor {
        last_seen: i64::MAX,
        rowid: i64::MAX,
    });
    let st = c.prepare_cached(&sql::mappings_page(Postgres)).await?;
    let rows = c
        .query(
            &st,
            &[&q.site, &after.last_seen, &after.rowid, &i64::from(q.limit)],
        )
        .await?;
    Ok(sql::mapping_page(each(&rows, sql::mapping_row)?, q.limit))
}
