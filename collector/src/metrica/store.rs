//! What was sent to which counter: uploads (each file, its attempts and Metrica's status) and
//! the chats in them, so that a chat goes to a counter once unless forced, and a failed upload is
//! retried with the same file rather than rebuilt.

use std::collections::HashSet;

use rusqlite::{params, Connection, OptionalExtension};

use super::export::{ExportChat, WrittenRow};
use super::rules::{CounterRules, RuleFacts};
use super::upload::Uploading;
use crate::store::migrations::Migration;
use crate::store::StoreError;

/// After this many failed attempts an upload is abandoned and its chats become eligible for a
/// new file (the file itself may be what Metrica refuses).
pub const MAX_ATTEMPTS: i64 = 5;

pub const MIGRATIONS: &[Migration] = &[Migration {
    name: "metrica_0001_uploads",
    sql: r#"
CREATE TABLE metrica_uploads (
    id              INTEGER PRIMARY KEY,
    counter         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    rows            INTEGER NOT NULL,
    state           TEXT NOT NULL,      -- pending | sent | failed | abandoned
    attempts        INTEGER NOT NULL DEFAULT 0,
    forced          INTEGER NOT NULL DEFAULT 0,
    metrica_id      INTEGER,
    status          TEXT,               -- Metrica's: UPLOADED … PROCESSED | LINKAGE_FAILURE
    source_quantity INTEGER,
    line_quantity   INTEGER,
    error           TEXT,
    csv             TEXT NOT NULL
);
CREATE INDEX metrica_uploads_by_counter ON metrica_uploads(counter, state);

CREATE TABLE metrica_sent (
    counter      INTEGER NOT NULL,
    conversation INTEGER NOT NULL,
    upload       INTEGER NOT NULL,
    date_time    INTEGER NOT NULL,
    client_id    TEXT,
    user_id      TEXT,
    yclid        TEXT,
    purchase_id  TEXT,
    PRIMARY KEY (counter, conversation)
) WITHOUT ROWID;
CREATE INDEX metrica_sent_by_upload ON metrica_sent(upload);
"#,
}];

/// A chat with what the send rules look at.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub chat: ExportChat,
    pub site: Option<String>,
    pub method: String,
    pub messages: u32,
}

/// Conversations started in `[from_ms, to_ms)`, joined with the visitor IDs of their chat ID.
/// Without `force`, chats already sent to `counter` are left out. A chat ID flagged as a
/// collision (issued to two ClientIDs) yields no visitor IDs: see `ExportChat::id_collision`.
pub fn candidates(
    conn: &Connection,
    counter: u64,
    from_ms: i64,
    to_ms: i64,
    force: bool,
) -> Result<Vec<Candidate>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT c.id, c.platform, c.started_at, c.chat_user_id, c.username, c.phone, c.answered, c.tag,
                c.revenue, c.currency, c.page_url, c.chat_url, c.method, c.messages,
                m.site, m.client_id, m.user_id, m.yclid, m.purchase_id, m.landing_page,
                (SELECT json_extract(k.body, '$.page') FROM events k
                    WHERE k.id IN (SELECT value FROM json_each('[' || m.event_rowids || ']')) AND k.kind = 'click'
                    AND json_extract(k.body, '$.page') IS NOT NULL
                    AND k.ts <= c.started_at + 120000 ORDER BY k.ts DESC, k.id DESC LIMIT 1),
                coalesce(m.collision, 0)
         FROM conversations c
         LEFT JOIN chats m ON m.chat_id = c.chat_id AND m.site = coalesce(c.site,
              (SELECT x.site FROM chats x WHERE x.chat_id = c.chat_id ORDER BY x.last_seen DESC LIMIT 1))
         WHERE c.started_at >= ?1 AND c.started_at < ?2
           AND (?3 OR NOT EXISTS (SELECT 1 FROM metrica_sent s WHERE s.counter = ?4 AND s.conversation = c.id))
         ORDER BY c.started_at, c.id",
    )?;
    let rows = stmt.query_map(params![from_ms, to_ms, force, counter as i64], |r| {
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
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Applies a counter's send rules; returns the admitted chats and how many each rule excluded.
pub fn apply_rules(
    rules: &CounterRules,
    all: Vec<Candidate>,
) -> (Vec<ExportChat>, Vec<(&'static str, usize)>) {
    let mut excluded: Vec<(&'static str, usize)> = Vec::new();
    let mut admitted = Vec::new();
    for c in all {
        let facts = RuleFacts {
            site: c.site.as_deref(),
            platform: &c.chat.platform,
            answered: c.chat.answered,
            tag: c.chat.tag.as_deref(),
            messages: c.messages,
            method: &c.method,
        };
        match rules.admits(&facts) {
            Ok(()) => admitted.push(c.chat),
            Err(rule) => match excluded.iter_mut().find(|(r, _)| *r == rule) {
                Some((_, n)) => *n += 1,
                None => excluded.push((rule, 1)),
            },
        }
    }
    (admitted, excluded)
}

/// (visitor ID kind, value, DateTime) already used for this counter.
pub fn taken_seconds(
    conn: &Connection,
    counter: u64,
) -> Result<HashSet<(String, String, i64)>, StoreError> {
    let mut stmt = conn.prepare("SELECT date_time, client_id, user_id, yclid, purchase_id FROM metrica_sent WHERE counter = ?1")?;
    let mut out = HashSet::new();
    let rows = stmt.query_map([counter as i64], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            [
                r.get::<_, Option<String>>(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
            ],
        ))
    })?;
    for row in rows {
        let (ts, ids) = row?;
        for (kind, v) in ["client_id", "user_id", "yclid", "purchase_id"]
            .into_iter()
            .zip(ids)
        {
            if let Some(v) = v {
                out.insert((kind.to_string(), v, ts));
            }
        }
    }
    Ok(out)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingUpload {
    pub id: i64,
    pub counter: u64,
    pub csv: String,
    pub rows: i64,
    pub attempts: i64,
}

/// A failed (or interrupted) upload of this counter that should be tried again before anything new.
pub fn retry_candidate(
    conn: &Connection,
    counter: u64,
) -> Result<Option<PendingUpload>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, csv, rows, attempts FROM metrica_uploads
             WHERE counter = ?1 AND state IN ('pending', 'failed') ORDER BY id LIMIT 1",
            [counter as i64],
            |r| {
                Ok(PendingUpload {
                    id: r.get(0)?,
                    counter,
                    csv: r.get(1)?,
                    rows: r.get(2)?,
                    attempts: r.get(3)?,
                })
            },
        )
        .optional()?)
}

/// Records a new file and reserves its chats for this counter, in one transaction.
pub fn create_upload(
    conn: &Connection,
    counter: u64,
    csv: &str,
    rows: &[WrittenRow],
    chats: &[ExportChat],
    forced: bool,
    now_ms: i64,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO metrica_uploads (counter, created_at, updated_at, rows, state, forced, csv) VALUES (?1, ?2, ?2, ?3, 'pending', ?4, ?5)",
        params![counter as i64, now_ms, rows.len() as i64, forced, csv],
    )?;
    let upload = conn.last_insert_rowid();
    let mut stmt = conn.prepare(
        "INSERT INTO metrica_sent (counter, conversation, upload, date_time, client_id, user_id, yclid, purchase_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (counter, conversation) DO UPDATE SET upload = excluded.upload, date_time = excluded.date_time,
             client_id = excluded.client_id, user_id = excluded.user_id, yclid = excluded.yclid, purchase_id = excluded.purchase_id",
    )?;
    for row in rows {
        let Some(chat) = chats.iter().find(|c| c.conversation == row.conversation) else {
            return Err(StoreError::Corrupt(format!(
                "exported row for unknown conversation {}",
                row.conversation
            )));
        };
        stmt.execute(params![
            counter as i64,
            row.conversation,
            upload,
            row.date_time,
            chat.client_id,
            chat.user_id,
            chat.yclid,
            chat.purchase_id
        ])?;
    }
    Ok(upload)
}

pub fn mark_sent(
    conn: &Connection,
    upload: i64,
    u: &Uploading,
    now_ms: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE metrica_uploads SET state = 'sent', attempts = attempts + 1, metrica_id = ?2, status = ?3,
             source_quantity = ?4, line_quantity = ?5, error = NULL, updated_at = ?6 WHERE id = ?1",
        params![upload, u.id as i64, u.status, u.source_quantity.map(|v| v as i64), u.line_quantity.map(|v| v as i64), now_ms],
    )?;
    Ok(())
}

pub fn mark_status(
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
pub fn mark_failed(
    conn: &Connection,
    upload: i64,
    error: &str,
    now_ms: i64,
) -> Result<&'static str, StoreError> {
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
        return Ok("abandoned");
    }
    Ok("failed")
}

/// Sent uploads whose Metrica status is not final yet: (upload, counter, metrica id).
pub fn unfinished(conn: &Connection, counter: u64) -> Result<Vec<(i64, u64, u64)>, StoreError> {
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

/// Per counter: chats sent (in uploads not abandoned), uploads, last status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterSummary {
    pub counter: u64,
    pub chats_sent: i64,
    pub uploads: i64,
    pub failed: i64,
    pub last_status: Option<String>,
    pub last_at: Option<i64>,
}

pub fn summaries(conn: &Connection) -> Result<Vec<CounterSummary>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT u.counter,
                (SELECT count(*) FROM metrica_sent s WHERE s.counter = u.counter),
                count(*), sum(u.state = 'failed'),
                (SELECT coalesce(x.status, x.state) FROM metrica_uploads x WHERE x.counter = u.counter ORDER BY x.id DESC LIMIT 1),
                max(u.updated_at)
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
        })
    })?;
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
        crate::store::migrations::apply(&mut conn, &crate::store::migrations::all()).unwrap();
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
        let found = candidates(&conn, 1, 0, 20_000, true).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].chat.page_url.as_deref(),
            Some("https://shop.example/late")
        );
    }
}
