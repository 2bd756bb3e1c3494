//! The Metrica side in SQLite: export candidates (conversations joined with the visitor IDs of
//! their chat ID) and the upload ledger (`metrica_uploads`, `metrica_sent`).

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};

use super::SqliteStore;
use crate::clock::now_ms;
use crate::metrica::conversions::{ConversionRow, LateRevenue};
use crate::metrica::export::{ExportChat, WrittenRow};
use crate::metrica::probable::Evidence;
use crate::metrica::rules::{Candidate, CandidateKey, CandidateQuery};
use crate::metrica::upload::Uploading;
use crate::metrica::uploads::{
    CounterSummary, PendingUpload, UploadKind, UploadState, UploadTotals, MAX_ATTEMPTS,
};
use crate::store::{MetricaStore, StoreError};

#[async_trait]
impl MetricaStore for SqliteStore {
    async fn export_candidates(&self, query: CandidateQuery) -> Result<Vec<Candidate>, StoreError> {
        self.read(move |conn| candidates(conn, &query)).await
    }

    async fn candidate_bound(
        &self,
        query: CandidateQuery,
    ) -> Result<Option<CandidateKey>, StoreError> {
        self.read(move |conn| candidate_bound(conn, &query)).await
    }

    async fn latest_sent_second(&self, counter: u64) -> Result<Option<i64>, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .prepare_cached("SELECT max(date_time) FROM metrica_sent WHERE counter = ?1")?
                .query_row([counter as i64], |r| r.get(0))?)
        })
        .await
    }

    async fn retry_candidate(&self, counter: u64) -> Result<Option<PendingUpload>, StoreError> {
        self.read(move |conn| retry_candidate(conn, counter)).await
    }

    async fn create_upload(
        &self,
        counter: u64,
        csv: String,
        rows: Vec<WrittenRow>,
        forced: bool,
        created_ms: i64,
    ) -> Result<i64, StoreError> {
        self.write(move |conn| create_upload(conn, counter, &csv, &rows, forced, created_ms))
            .await
    }

    async fn mark_sent(&self, upload: i64, answer: Uploading) -> Result<(), StoreError> {
        self.write(move |conn| mark_sent(conn, upload, &answer, now_ms()))
            .await
    }

    async fn mark_status(&self, upload: i64, answer: Uploading) -> Result<(), StoreError> {
        self.write(move |conn| mark_status(conn, upload, &answer, now_ms()))
            .await
    }

    async fn mark_failed(&self, upload: i64, error: String) -> Result<UploadState, StoreError> {
        self.write(move |conn| mark_failed(conn, upload, &error, now_ms()))
            .await
    }

    async fn unfinished(&self, counter: u64) -> Result<Vec<(i64, u64, u64)>, StoreError> {
        self.read(move |conn| unfinished(conn, counter)).await
    }

    async fn upload_summaries(&self) -> Result<Vec<CounterSummary>, StoreError> {
        self.read(summaries).await
    }

    async fn upload_totals(&self) -> Result<UploadTotals, StoreError> {
        self.read(upload_totals).await
    }

    async fn late_revenue(
        &self,
        counter: u64,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<LateRevenue>, StoreError> {
        self.read(move |conn| late_revenue(conn, counter, after, limit))
            .await
    }

    async fn create_conversion_upload(
        &self,
        counter: u64,
        target: String,
        csv: String,
        rows: Vec<ConversionRow>,
        created_ms: i64,
    ) -> Result<i64, StoreError> {
        self.write(move |conn| {
            create_conversion_upload(conn, counter, &target, &csv, &rows, created_ms)
        })
        .await
    }

    async fn refuse_columns(
        &self,
        upload: i64,
        names: Vec<String>,
        message: String,
        csv: String,
    ) -> Result<(), StoreError> {
        self.write(move |conn| refuse_columns(conn, upload, &names, &message, &csv, now_ms()))
            .await
    }

    async fn probable_evidence(
        &self,
        from_ms: i64,
        to_ms: i64,
        window_ms: i64,
    ) -> Result<Vec<Evidence>, StoreError> {
        self.read(move |conn| probable_evidence(conn, from_ms, to_ms, window_ms))
            .await
    }

    async fn refused_columns(&self, counter: u64) -> Result<Vec<String>, StoreError> {
        self.read(move |conn| refused_columns(conn, counter)).await
    }
}

/// The key of the `query.limit`-th conversation after `query.after` (index only).
fn candidate_bound(
    conn: &Connection,
    query: &CandidateQuery,
) -> Result<Option<CandidateKey>, StoreError> {
    let (after_start, after_id) = query.after_bounds();
    Ok(conn
        .prepare_cached(
            "SELECT started_at, id FROM conversations
             WHERE started_at >= ?1 AND started_at < ?2 AND (started_at > ?3 OR id > ?4)
             ORDER BY started_at, id LIMIT 1 OFFSET ?5",
        )?
        .query_row(
            params![
                query.from_ms.max(after_start),
                query.to_ms,
                after_start,
                after_id,
                i64::from(query.limit.max(1)) - 1
            ],
            |r| {
                Ok(CandidateKey {
                    started_ms: r.get(0)?,
                    conversation: r.get(1)?,
                })
            },
        )
        .optional()?)
}

/// One page of conversations started in `[from_ms, to_ms)` after `query.after` in the order
/// `(started_at, id)` (the `conversations_by_start` index holds exactly that order), joined with
/// the visitor IDs of their chat ID. Without `include_sent`, chats already sent to the counter
/// are left out and each row carries the seconds of earlier rows that share one of its visitor
/// IDs within its nudge window (`metrica_sent_by_time`), looked up only when the window reaches
/// back to `query.sent_until_s` (a first upload of many chats looks up none). A chat ID flagged as a collision
/// (issued to two ClientIDs) yields no visitor IDs: see `ExportChat::id_collision`.
fn candidates(conn: &Connection, query: &CandidateQuery) -> Result<Vec<Candidate>, StoreError> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT c.id, c.platform, c.started_at, c.chat_user_id, c.username, c.phone, c.answered, c.tag,
                c.revenue, c.currency, c.page_url, c.chat_url, c.method, c.messages,
                m.site, m.client_id, m.user_id, m.yclid, m.purchase_id, m.landing_page,
                CASE WHEN m.event_rowids <> '' THEN
                (SELECT json_extract(k.body, '$.page') FROM events k
                    WHERE k.id IN (SELECT value FROM json_each('[' || m.event_rowids || ']')) AND k.kind = 'click'
                    AND json_extract(k.body, '$.page') IS NOT NULL
                    AND k.ts <= c.started_at + 120000 ORDER BY k.ts DESC, k.id DESC LIMIT 1) END,
                coalesce(m.collision, 0), m.first_ts,
                CASE WHEN NOT ?3 AND coalesce(m.collision, 0) = 0
                          AND min(c.started_at / 1000, ?8 - 1) - ?9 <= ?10 THEN
                (SELECT group_concat(s.date_time) FROM metrica_sent s
                    WHERE s.counter = ?4
                      AND s.date_time BETWEEN min(c.started_at / 1000, ?8 - 1) - ?9 AND min(c.started_at / 1000, ?8 - 1)
                      AND (s.client_id = m.client_id OR s.user_id = m.user_id
                           OR s.yclid = m.yclid OR s.purchase_id = m.purchase_id)) END
",
        conversations_with_visit!(),
        // ?1 is the later of `from` and the last key's start, so each page is an index range
        // that begins where the last one ended (not a scan from `from`).
        "         WHERE c.started_at >= ?1 AND c.started_at < ?2
           AND (c.started_at > ?5 OR c.id > ?6)
           AND c.started_at <= ?11 AND (c.started_at < ?11 OR c.id <= ?12)
           AND (?3 OR NOT EXISTS (SELECT 1 FROM metrica_sent s WHERE s.counter = ?4 AND s.conversation = c.id))
         ORDER BY c.started_at, c.id
         LIMIT ?7"
    ))?;
    let (after_start, after_id) = query.after_bounds();
    let (until_start, until_id) = query.until_bounds();
    let rows = stmt.query_map(
        params![
            query.from_ms.max(after_start),
            query.to_ms,
            query.include_sent,
            query.counter as i64,
            after_start,
            after_id,
            i64::from(query.limit),
            query.now_s,
            crate::metrica::export::MAX_NUDGE_S,
            query.sent_until_s.unwrap_or(i64::MAX),
            until_start,
            until_id,
        ],
        |r| {
            let click_page: Option<String> = r.get(20)?;
            let landing: Option<String> = r.get(19)?;
            let page_url: Option<String> = r.get(10)?;
            let id_collision = r.get::<_, i64>(21)? != 0;
            // The visit's pages may belong to the other visitor (and a landing URL can carry its
            // yclid): with a collision only the CRM's own page is used.
            let visit_page = if id_collision {
                None
            } else {
                click_page.or(landing)
            };
            let taken: Option<String> = r.get(23)?;
            Ok(Candidate {
                chat: ExportChat {
                    conversation: r.get(0)?,
                    platform: r.get(1)?,
                    started_ms: r.get(2)?,
                    chat_user_id: r.get(3)?,
                    username: r.get(4)?,
                    phone: r.get(5)?,
                    answered: r.get::<_, i64>(6)? == 1,
                    tag: r.get(7)?,
                    revenue: r.get(8)?,
                    currency: r.get(9)?,
                    // The CRM's page if it sent one, else the page of the click, else the landing page.
                    page_url: page_url.or(visit_page),
                    chat_url: r.get(11)?,
                    client_id: r.get(15)?,
                    user_id: r.get(16)?,
                    yclid: r.get(17)?,
                    purchase_id: r.get(18)?,
                    id_collision,
                }
                .without_colliding_ids(),
                site: r.get(14)?,
                method: r.get(12)?,
                messages: u32::try_from(r.get::<_, i64>(13)?).unwrap_or(u32::MAX),
                visit_ms: r.get(22)?,
                // group_concat of integers: digits and commas only.
                taken: taken
                    .as_deref()
                    .unwrap_or("")
                    .split(',')
                    .filter_map(|t| t.parse().ok())
                    .collect(),
            })
        },
    )?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// A failed (or interrupted) upload of this counter that should be tried again before anything new.
fn retry_candidate(conn: &Connection, counter: u64) -> Result<Option<PendingUpload>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, csv, rows, attempts, kind, created_at FROM metrica_uploads
             WHERE counter = ?1 AND state IN ('pending', 'failed') ORDER BY id LIMIT 1",
            [counter as i64],
            |r| {
                Ok(PendingUpload {
                    id: r.get(0)?,
                    counter,
                    kind: UploadKind::parse(&r.get::<_, String>(4)?),
                    csv: r.get(1)?,
                    rows: r.get(2)?,
                    attempts: r.get(3)?,
                    created_ms: r.get(5)?,
                })
            },
        )
        .optional()?)
}

/// Ledger rows per INSERT statement: one statement (prepared once, cached) reserves this many
/// chats, so a file of 50,000 chats is 782 statements instead of 50,000. 8 parameters each:
/// 512 per statement, far below SQLite's limit.
const LEDGER_CHUNK: usize = 64;

/// The ledger INSERT for `n` rows: the same upsert as one row, with `n` tuples.
fn ledger_insert(n: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO metrica_sent (counter, conversation, upload, date_time, client_id, user_id, yclid, purchase_id) VALUES ",
    );
    for i in 0..n {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str("(?,?,?,?,?,?,?,?)");
    }
    sql.push_str(
        " ON CONFLICT (counter, conversation) DO UPDATE SET upload = excluded.upload, date_time = excluded.date_time,
             client_id = excluded.client_id, user_id = excluded.user_id, yclid = excluded.yclid, purchase_id = excluded.purchase_id",
    );
    sql
}

/// Records a new file and reserves its chats for this counter, in one transaction.
fn create_upload(
    conn: &Connection,
    counter: u64,
    csv: &str,
    rows: &[WrittenRow],
    forced: bool,
    now_ms: i64,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO metrica_uploads (counter, created_at, updated_at, rows, state, forced, csv) VALUES (?1, ?2, ?2, ?3, 'pending', ?4, ?5)",
        params![counter as i64, now_ms, rows.len() as i64, forced, csv],
    )?;
    let upload = conn.last_insert_rowid();
    let counter = counter as i64;
    // In key order: the rows of a file come in start order, which need not be conversation
    // order (a CRM's backfill), and inserts in key order split fewer B-tree pages.
    let mut sorted: Vec<&WrittenRow> = rows.iter().collect();
    sorted.sort_unstable_by_key(|r| r.conversation);
    let mut chunks = sorted.chunks_exact(LEDGER_CHUNK);
    let mut full = conn.prepare_cached(&ledger_insert(LEDGER_CHUNK))?;
    for chunk in chunks.by_ref() {
        bind_ledger(&mut full, counter, upload, chunk)?;
        full.raw_execute()?;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        // Not cached: one odd size per file.
        let mut stmt = conn.prepare(&ledger_insert(rest.len()))?;
        bind_ledger(&mut stmt, counter, upload, rest)?;
        stmt.raw_execute()?;
    }
    Ok(upload)
}

/// Binds `rows` to a statement of [`ledger_insert`]`(rows.len())`.
fn bind_ledger(
    stmt: &mut rusqlite::Statement<'_>,
    counter: i64,
    upload: i64,
    rows: &[&WrittenRow],
) -> Result<(), StoreError> {
    for (i, row) in rows.iter().enumerate() {
        let at = i * 8;
        stmt.raw_bind_parameter(at + 1, counter)?;
        stmt.raw_bind_parameter(at + 2, row.conversation)?;
        stmt.raw_bind_parameter(at + 3, upload)?;
        stmt.raw_bind_parameter(at + 4, row.date_time)?;
        stmt.raw_bind_parameter(at + 5, row.client_id.as_deref())?;
        stmt.raw_bind_parameter(at + 6, row.user_id.as_deref())?;
        stmt.raw_bind_parameter(at + 7, row.yclid.as_deref())?;
        stmt.raw_bind_parameter(at + 8, row.purchase_id.as_deref())?;
    }
    Ok(())
}

fn mark_sent(conn: &Connection, upload: i64, u: &Uploading, now_ms: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE metrica_uploads SET state = 'sent', attempts = attempts + 1, metrica_id = ?2, status = ?3,
             source_quantity = ?4, line_quantity = ?5, error = NULL, updated_at = ?6 WHERE id = ?1",
        params![upload, u.id as i64, u.status, u.source_quantity.map(|v| v as i64), u.line_quantity.map(|v| v as i64), now_ms],
    )?;
    Ok(())
}

fn mark_status(
    conn: &Connection,
    upload: i64,
    u: &Uploading,
    now_ms: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE metrica_uploads SET status = ?2, source_quantity = coalesce(?3, source_quantity),
             line_quantity = coalesce(?4, line_quantity), updated_at = ?5 WHERE id = ?1",
        params![
            upload,
            u.status,
            u.source_quantity.map(|v| v as i64),
            u.line_quantity.map(|v| v as i64),
            now_ms
        ],
    )?;
    Ok(())
}

/// Returns the new state: `failed` (to retry) or `abandoned` (its chats released).
fn mark_failed(
    conn: &Connection,
    upload: i64,
    error: &str,
    now_ms: i64,
) -> Result<UploadState, StoreError> {
    let attempts: i64 = conn.query_row(
        "UPDATE metrica_uploads SET attempts = attempts + 1, error = ?2, updated_at = ?3, state = 'failed' WHERE id = ?1 RETURNING attempts",
        params![upload, error, now_ms],
        |r| r.get(0),
    )?;
    if attempts >= MAX_ATTEMPTS {
        conn.execute(
            "UPDATE metrica_uploads SET state = 'abandoned' WHERE id = ?1",
            [upload],
        )?;
        conn.execute("DELETE FROM metrica_sent WHERE upload = ?1", [upload])?;
        conn.execute("DELETE FROM metrica_facts_sent WHERE upload = ?1", [upload])?;
        return Ok(UploadState::Abandoned);
    }
    Ok(UploadState::Failed)
}

/// Sent uploads whose Metrica status is not final yet: (upload, counter, metrica id).
fn unfinished(conn: &Connection, counter: u64) -> Result<Vec<(i64, u64, u64)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, metrica_id FROM metrica_uploads
         WHERE counter = ?1 AND state = 'sent' AND metrica_id IS NOT NULL
           AND coalesce(status, '') NOT IN ('PROCESSED', 'LINKAGE_FAILURE')",
    )?;
    let rows = stmt.query_map([counter as i64], |r| {
        Ok((r.get::<_, i64>(0)?, counter, r.get::<_, i64>(1)? as u64))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn summaries(conn: &Connection) -> Result<Vec<CounterSummary>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT u.counter,
                (SELECT count(*) FROM metrica_sent s WHERE s.counter = u.counter),
                count(*), sum(u.state = 'failed'),
                (SELECT coalesce(x.status, x.state) FROM metrica_uploads x WHERE x.counter = u.counter ORDER BY x.id DESC LIMIT 1),
                max(u.updated_at),
                (SELECT count(*) FROM metrica_facts_sent f WHERE f.counter = u.counter)
         FROM metrica_uploads u GROUP BY u.counter ORDER BY u.counter",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(CounterSummary {
            counter: r.get::<_, i64>(0)? as u64,
            chats_sent: r.get(1)?,
            uploads: r.get(2)?,
            failed: r.get(3)?,
            last_status: r.get(4)?,
            last_at: r.get(5)?,
            conversions_sent: r.get(6)?,
            refused_columns: Vec::new(),
        })
    })?;
    let mut out = rows.collect::<Result<Vec<_>, _>>()?;
    for s in &mut out {
        s.refused_columns = refused_columns(conn, s.counter)?;
    }
    Ok(out)
}

fn upload_totals(conn: &Connection) -> Result<UploadTotals, StoreError> {
    let uploads = conn
        .prepare_cached(
            "SELECT counter, state, coalesce(status, ''), count(*) FROM metrica_uploads GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        )?
        .query_map([], |r| {
            Ok((
                (r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?),
                r.get(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let chats_sent = conn
        .prepare_cached(
            "SELECT counter, count(*) FROM metrica_sent GROUP BY counter ORDER BY counter",
        )?
        .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(UploadTotals {
        uploads,
        chats_sent,
    })
}

/// Revenue of chats whose row reached the counter (in a file Metrica accepted) and that has
/// no offline conversion yet: a page of `limit` by conversation after `after` (the ledger's key
/// is (counter, conversation), so each page is a range of it). `DateTime` is when the amount
/// was recorded; rows from before that was kept fall back to the chat's last update.
fn late_revenue(
    conn: &Connection,
    counter: u64,
    after: Option<i64>,
    limit: u32,
) -> Result<Vec<LateRevenue>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.id, s.client_id, s.user_id, s.yclid, s.purchase_id, c.revenue, c.currency,
                coalesce(c.revenue_at, c.updated_at)
         FROM metrica_sent s
         JOIN metrica_uploads u ON u.id = s.upload AND u.state = 'sent'
         JOIN conversations c ON c.id = s.conversation
         WHERE s.counter = ?1 AND s.conversation > ?2 AND c.revenue IS NOT NULL AND c.currency IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM metrica_facts_sent f
                           WHERE f.counter = ?1 AND f.conversation = c.id AND f.kind = 'revenue')
         ORDER BY s.conversation
         LIMIT ?3",
    )?;
    let after = after.unwrap_or(i64::MIN);
    let rows = stmt.query_map(params![counter as i64, after, i64::from(limit)], |r| {
        Ok(LateRevenue {
            conversation: r.get(0)?,
            client_id: r.get(1)?,
            user_id: r.get(2)?,
            yclid: r.get(3)?,
            purchase_id: r.get(4)?,
            price: r.get(5)?,
            currency: r.get(6)?,
            recorded_ms: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn create_conversion_upload(
    conn: &Connection,
    counter: u64,
    target: &str,
    csv: &str,
    rows: &[ConversionRow],
    now_ms: i64,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO metrica_uploads (counter, created_at, updated_at, rows, state, csv, kind) VALUES (?1, ?2, ?2, ?3, 'pending', ?4, 'conversions')",
        params![counter as i64, now_ms, rows.len() as i64, csv],
    )?;
    let upload = conn.last_insert_rowid();
    let mut stmt = conn.prepare(
        "INSERT INTO metrica_facts_sent (counter, conversation, kind, upload, date_time, target, price, currency)
         VALUES (?1, ?2, 'revenue', ?3, ?4, ?5, ?6, ?7)",
    )?;
    for row in rows {
        stmt.execute(params![
            counter as i64,
            row.conversation,
            upload,
            row.date_time,
            target,
            row.price,
            row.currency
        ])?;
    }
    Ok(upload)
}

fn refuse_columns(
    conn: &Connection,
    upload: i64,
    names: &[String],
    message: &str,
    csv: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    let counter: i64 = conn.query_row(
        "UPDATE metrica_uploads SET csv = ?2, error = ?3, updated_at = ?4 WHERE id = ?1 RETURNING counter",
        params![upload, csv, message, now_ms],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare(
        "INSERT INTO metrica_refused_columns (counter, name, upload, refused_at, message) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (counter, name) DO UPDATE SET upload = excluded.upload, refused_at = excluded.refused_at, message = excluded.message",
    )?;
    for name in names {
        stmt.execute(params![counter, name, upload, now_ms, message])?;
    }
    Ok(())
}

/// The matching rule replayed at each coded chat's start without its own visitor: exactly one
/// other unclaimed visitor clicked the same messenger in the window (the account filter is not
/// replayed). Code-less chats are those matched by timing or left unmatched for want of a code.
fn probable_evidence(
    conn: &Connection,
    from_ms: i64,
    to_ms: i64,
    window_ms: i64,
) -> Result<Vec<Evidence>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT c.platform,
                sum(c.method IN ('exact-link', 'exact-text')),
                sum(c.method IN ('exact-link', 'exact-text') AND (
                    SELECT count(DISTINCT k.chat_id) FROM clicks k
                    WHERE k.messenger = c.platform AND k.ts BETWEEN c.started_at - ?3 AND c.started_at
                      AND k.chat_id <> c.chat_id
                      AND NOT EXISTS (SELECT 1 FROM conversations x WHERE x.chat_id = k.chat_id
                                      AND x.method IN ('exact-link', 'exact-text') AND x.started_at <= c.started_at)
                ) = 1),
                sum(c.method = 'probable-click' OR (c.method = 'unmatched'
                    AND c.reason IN ('no-id-no-click', 'ambiguous-clicks', 'damaged-id'))),
                sum(c.method = 'probable-click')
         FROM conversations c
         WHERE c.started_at >= ?1 AND c.started_at < ?2
           AND c.platform IN ('whatsapp', 'telegram', 'viber', 'max')
         GROUP BY c.platform ORDER BY c.platform",
    )?;
    let rows = stmt.query_map(params![from_ms, to_ms, window_ms], |r| {
        Ok(Evidence {
            platform: r.get(0)?,
            coded: r.get(1)?,
            coded_false_hits: r.get(2)?,
            codeless: r.get(3)?,
            accepted: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn refused_columns(conn: &Connection, counter: u64) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT name FROM metrica_refused_columns WHERE counter = ?1 ORDER BY name",
    )?;
    let rows = stmt.query_map([counter as i64], |r| r.get(0))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page of a chat's latest click up to 2 minutes after the conversation started is the
    /// export page when the CRM sent none (read from the stored click events).
    #[test]
    fn candidate_page_is_the_latest_click_page_before_the_chat() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::sqlite::migrations::apply(
            &mut conn,
            &crate::store::sqlite::migrations::all(),
        )
        .unwrap();
        conn.execute_batch(
            r#"
INSERT INTO chats (site, chat_id, first_seen, last_seen, first_ts, last_ts, ids_ts, client_id,
                   landing_page, events, clicks, collision, event_rowids)
VALUES ('shop', 'CTX', 1, 1, 1000, 1000, 1000, '123', 'https://shop.example/landing', 5, 4, 0, '1,2,3,4,5');
INSERT INTO events (event_id, site, kind, chat_id, ts, received_at, body) VALUES
  ('e1', 'shop', 'click', 'CTX', 1000, 1, '{"page":"https://shop.example/early"}'),
  ('e2', 'shop', 'click', 'CTX', 2000, 1, '{"page":"https://shop.example/late"}'),
  ('e3', 'shop', 'issue', 'CTX', 3000, 1, '{"page":"https://shop.example/issue"}'),
  ('e4', 'shop', 'click', 'CTX', 3000, 1, '{}'),
  ('e5', 'shop', 'click', 'CTX', 500000, 1, '{"page":"https://shop.example/after"}'),
  ('e6', 'other', 'click', 'CTX', 2500, 1, '{"page":"https://other.example/"}');
INSERT INTO conversations (platform, user_key, started_at, last_message_at, messages, chat_id,
                           site, method, source, created_at, updated_at)
VALUES ('telegram', 'u1', 10000, 10000, 1, 'CTX', 'shop', 'start_param', 'webhook', 1, 1);
"#,
        )
        .unwrap();
        let query = CandidateQuery {
            counter: 1,
            from_ms: 0,
            to_ms: 20_000,
            include_sent: true,
            after: None,
            limit: 10,
            now_s: 1_000_000,
            sent_until_s: None,
            until: None,
        };
        let found = candidates(&conn, &query).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].chat.page_url.as_deref(),
            Some("https://shop.example/late")
        );
    }
    /// Keyset pages cover every candidate once, in (started_at, id) order, also when several
    /// chats start in the same millisecond across a page boundary; each carries the seconds
    /// earlier rows of the counter use for one of its visitor IDs in its nudge window only.
    #[test]
    fn keyset_pages_cover_every_candidate_once_with_their_taken_seconds() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::sqlite::migrations::apply(
            &mut conn,
            &crate::store::sqlite::migrations::all(),
        )
        .unwrap();
        conn.execute_batch(
            r#"
INSERT INTO chats (site, chat_id, first_seen, last_seen, first_ts, last_ts, ids_ts, client_id,
                   yclid, landing_page, events, clicks, collision, event_rowids)
VALUES ('shop', 'CTA', 1, 1, 1000, 1000, 1000, '123', NULL, NULL, 1, 0, 0, ''),
       ('shop', 'CTB', 1, 1, 1000, 1000, 1000, '456', '789', NULL, 1, 0, 0, '');
INSERT INTO conversations (id, platform, user_key, started_at, last_message_at, messages,
                           chat_id, site, method, source, created_at, updated_at)
VALUES (1, 'telegram', 'u1', 1000000, 1, 1, 'CTA', 'shop', 'start_param', 'webhook', 1, 1),
       (7, 'telegram', 'u7', 1000000, 1, 1, 'CTA', 'shop', 'start_param', 'webhook', 1, 1),
       (3, 'telegram', 'u3', 1000000, 1, 1, 'CTB', 'shop', 'start_param', 'webhook', 1, 1),
       (2, 'telegram', 'u2', 1000500, 1, 1, 'CTB', 'shop', 'start_param', 'webhook', 1, 1),
       (9, 'telegram', 'u9', 999999, 1, 1, 'CTA', 'shop', 'start_param', 'webhook', 1, 1),
       (4, 'telegram', 'u4', 1002000, 1, 1, 'CTA', 'shop', 'start_param', 'webhook', 1, 1),
       (5, 'telegram', 'u5', 1500000, 1, 1, 'CTB', 'shop', 'start_param', 'webhook', 1, 1);
-- Sent earlier: conversation 99 of ClientID 123 at seconds 995 and 1001, yclid 789 at 940,
-- a row of another counter, and one far outside any window.
INSERT INTO metrica_sent (counter, conversation, upload, date_time, client_id, yclid)
VALUES (1, 99, 1, 995, '123', NULL), (1, 98, 1, 1001, '123', NULL), (1, 97, 1, 940, NULL, '789'),
       (2, 96, 2, 999, '123', NULL), (1, 95, 1, 100, '123', NULL);
"#,
        )
        .unwrap();
        let mut query = CandidateQuery {
            counter: 1,
            from_ms: 0,
            to_ms: 2_000_000,
            include_sent: false,
            after: None,
            limit: 2,
            now_s: 1_000_000,
            sent_until_s: None,
            until: None,
        };
        let mut seen = Vec::new();
        loop {
            let page = candidates(&conn, &query).unwrap();
            assert!(page.len() <= 2);
            let Some(last) = page.last() else { break };
            query.after = Some(last.key());
            seen.extend(page.iter().map(|c| (c.chat.conversation, c.taken.clone())));
        }
        let order: Vec<i64> = seen.iter().map(|s| s.0).collect();
        assert_eq!(order, vec![9, 1, 3, 7, 2, 4, 5]);
        let taken: std::collections::HashMap<i64, Vec<i64>> = seen.into_iter().collect();
        // ClientID 123 at second 1000: 995 is in [940, 1000], 1001 is after it.
        assert_eq!(taken[&1], vec![995]);
        assert_eq!(taken[&9], vec![995]);
        // yclid 789 (chat B) at second 1000 reaches 940; ClientID 456 has nothing.
        assert_eq!(taken[&3], vec![940]);
        // At second 1002 the window [942, 1002] holds 995 and 1001.
        let mut four = taken[&4].clone();
        four.sort_unstable();
        assert_eq!(four, vec![995, 1001]);
        assert!(taken[&5].is_empty());

        // Rows up to second 938 came before the export (`sent_until_s`): windows starting
        // later ([939, 999] and on) are not looked up (rows after that are the exporter's own).
        query.after = None;
        query.limit = 100;
        query.sent_until_s = Some(938);
        let page = candidates(&conn, &query).unwrap();
        assert_eq!(page.len(), 7);
        assert!(page.iter().all(|c| c.taken.is_empty()));
        query.sent_until_s = Some(940);
        let page = candidates(&conn, &query).unwrap();
        let one = page.iter().find(|c| c.chat.conversation == 1).unwrap();
        assert_eq!(one.taken, vec![995]);
        query.sent_until_s = None;

        // Segments: each ends at the index's `limit`-th conversation after the last (sent or
        // not); read side by side with `until`, they cover every candidate once, in order.
        let mut segment = CandidateQuery { limit: 2, ..query };
        let mut in_segments = Vec::new();
        loop {
            let end = candidate_bound(&conn, &segment).unwrap();
            segment.until = end;
            let page = candidates(&conn, &segment).unwrap();
            assert!(page.len() <= 2);
            in_segments.extend(page.iter().map(|c| c.chat.conversation));
            segment.after = end;
            if end.is_none() {
                break;
            }
        }
        assert_eq!(in_segments, vec![9, 1, 3, 7, 2, 4, 5]);

        // Sent chats are left out unless included, and then nothing is taken.
        conn.execute("INSERT INTO metrica_sent (counter, conversation, upload, date_time, client_id) VALUES (1, 7, 1, 500, '123')", []).unwrap();
        query.after = None;
        query.limit = 100;
        let ids: Vec<i64> = candidates(&conn, &query)
            .unwrap()
            .iter()
            .map(|c| c.chat.conversation)
            .collect();
        assert_eq!(ids, vec![9, 1, 3, 2, 4, 5]);
        query.include_sent = true;
        let all = candidates(&conn, &query).unwrap();
        assert_eq!(all.len(), 7);
        assert!(all.iter().all(|c| c.taken.is_empty()));
    }
}
