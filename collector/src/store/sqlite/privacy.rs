//! [`PrivacyStore`] on SQLite. A person is found from one identifier by following what ties
//! rows together: conversations (by phone, messenger user ID, username or chat ID), the chat
//! IDs they carry, the visits (`chats`) of those chat IDs, the ClientIDs of those visits, and
//! back. The heavy scans (events and clicks have no index by chat ID) run on a read connection;
//! the write job then deletes by row ID and looks again only at rows added since.

use std::collections::BTreeSet;

use async_trait::async_trait;
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{Map, Value};

use super::SqliteStore;
use crate::privacy::key::PrivacyKey;
use crate::store::dialect::Dialect;
use crate::store::person::{lookups, merge, scan_csv, CsvRows, Found, LookupFinds, UploadAbout};
use crate::store::privacy::{
    AuditEntry, Counts, ExpiryStep, ExpiryTarget, Forgotten, PersonData, PhoneTable, PrivacyStore,
    RetentionPolicy, Whom,
};
use crate::store::StoreError;

fn json_list<T: serde::Serialize>(items: impl IntoIterator<Item = T>) -> String {
    Value::Array(
        items
            .into_iter()
            .filter_map(|v| serde_json::to_value(v).ok())
            .collect(),
    )
    .to_string()
}

fn strings(conn: &Connection, sql: &str, arg: &str) -> Result<Vec<String>, StoreError> {
    let mut st = conn.prepare_cached(sql)?;
    let rows = st.query_map([arg], |r| r.get::<_, Option<String>>(0))?;
    let mut out = Vec::new();
    for row in rows {
        if let Some(v) = row? {
            out.push(v);
        }
    }
    Ok(out)
}

fn ids(conn: &Connection, sql: &str, arg: &str) -> Result<Vec<i64>, StoreError> {
    let mut st = conn.prepare_cached(sql)?;
    let rows = st.query_map([arg], |r| r.get::<_, i64>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Follows the ties from `subject` until nothing new is found. `scan_after`: look at event and
/// click rows with a larger row ID only (`None`: all of them).
fn resolve(
    conn: &Connection,
    whom: &Whom,
    scan_after: Option<(i64, i64)>,
) -> Result<Found, StoreError> {
    let mut f = Found::seeded(whom);
    // A handful of rounds reach everything tied to the person; each adds only what is new.
    for _ in 0..4 {
        let before = (
            f.chat_ids.len(),
            f.client_ids.len(),
            f.conversations.len(),
            f.people.len(),
        );
        let mut convs = Vec::new();
        let mut opened = Vec::new();
        for (by, finds, sql) in lookups(Dialect::Sqlite) {
            for v in f.values_of(by) {
                match finds {
                    LookupFinds::Conversations => convs.extend(ids(conn, &sql, &v)?),
                    LookupFinds::ChatIds => opened.extend(strings(conn, &sql, &v)?),
                }
            }
        }
        f.chat_ids.extend(opened);
        for c in &f.chat_ids {
            let mut st = conn.prepare_cached(
                "SELECT chat_user_id, username, phone FROM bot_opens WHERE chat_id = ?1",
            )?;
            let rows = st.query_map([c], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })?;
            for row in rows {
                let (user, name, phone) = row?;
                f.user_ids.extend(user);
                f.usernames.extend(name);
                f.phones.extend(phone);
            }
        }
        for (platform, key) in &f.people {
            let mut st = conn.prepare_cached(
                "SELECT id FROM conversations WHERE platform = ?1 AND user_key = ?2",
            )?;
            let rows = st.query_map([platform, key], |r| r.get::<_, i64>(0))?;
            for r in rows {
                convs.push(r?);
            }
        }
        f.conversations.extend(convs);
        for &id in &f.conversations.clone() {
            conn.query_row(
                "SELECT platform, user_key, chat_user_id, username, phone, chat_id FROM conversations WHERE id = ?1",
                [id],
                |r| {
                    f.people.insert((r.get(0)?, r.get(1)?));
                    if let Some(v) = r.get::<_, Option<String>>(2)? {
                        f.user_ids.insert(v);
                    }
                    if let Some(v) = r.get::<_, Option<String>>(3)? {
                        f.usernames.insert(v);
                    }
                    if let Some(v) = r.get::<_, Option<String>>(4)? {
                        f.phones.insert(v);
                    }
                    if let Some(v) = r.get::<_, Option<String>>(5)? {
                        f.chat_ids.insert(v);
                    }
                    Ok(())
                },
            )
            .optional()?;
        }
        for c in &f.client_ids.clone() {
            f.chat_ids.extend(strings(
                conn,
                "SELECT chat_id FROM chats WHERE client_id = ?1",
                c,
            )?);
            f.chat_ids.extend(strings(
                conn,
                "SELECT chat_id FROM chat_conflicts WHERE known_client_id = ?1 OR new_client_id = ?1",
                c,
            )?);
        }
        for c in &f.chat_ids.clone() {
            let mut st = conn.prepare_cached(
                "SELECT client_id, yclid, user_id, purchase_id, gclid, fbclid, ga_client_id FROM chats WHERE chat_id = ?1",
            )?;
            let rows = st.query_map([c], |r| {
                let mut v = Vec::new();
                for i in 0..7 {
                    v.push(r.get::<_, Option<String>>(i)?);
                }
                Ok(v)
            })?;
            for row in rows {
                let row = row?;
                if let Some(Some(cid)) = row.first() {
                    f.client_ids.insert(cid.clone());
                }
                f.other_ids.extend(row.into_iter().skip(1).flatten());
            }
        }
        let after = (
            f.chat_ids.len(),
            f.client_ids.len(),
            f.conversations.len(),
            f.people.len(),
        );
        if after == before {
            break;
        }
    }
    f.hash_phone_likes(&whom.key);
    let (events_after, clicks_after) = scan_after.unwrap_or((0, 0));
    let chat_list = json_list(&f.chat_ids);
    {
        let mut st = conn.prepare(
            "SELECT id FROM events WHERE id > ?1 AND chat_id IN (SELECT value FROM json_each(?2))",
        )?;
        let rows = st.query_map(params![events_after, chat_list], |r| r.get::<_, i64>(0))?;
        for r in rows {
            f.events.insert(r?);
        }
        f.events_seen =
            conn.query_row("SELECT coalesce(max(id), 0) FROM events", [], |r| r.get(0))?;
        let mut st = conn.prepare(
            "SELECT id FROM clicks WHERE id > ?1 AND chat_id IN (SELECT value FROM json_each(?2))",
        )?;
        let rows = st.query_map(params![clicks_after, chat_list], |r| r.get::<_, i64>(0))?;
        for r in rows {
            f.clicks.insert(r?);
        }
        f.clicks_seen =
            conn.query_row("SELECT coalesce(max(id), 0) FROM clicks", [], |r| r.get(0))?;
    }
    Ok(f)
}

/// The per-person queries: (table, query, its `?1` list). A query may also name `?2` (the
/// conversations, or the ClientIDs where it compares ClientIDs), `?3` (phones, user IDs and
/// usernames) and `?4` (every identifying value); [`run_person`] binds them.
fn person_queries(f: &Found) -> Vec<(&'static str, String, String)> {
    let chats = json_list(&f.chat_ids);
    let convs = json_list(&f.conversations);
    let events = json_list(&f.events);
    let clicks = json_list(&f.clicks);
    let values = json_list(f.values());
    let mut q: Vec<(&'static str, String, String)> = vec![
        ("events", "SELECT * FROM events WHERE id IN (SELECT value FROM json_each(?1))".into(), events),
        ("clicks", "SELECT * FROM clicks WHERE id IN (SELECT value FROM json_each(?1))".into(), clicks),
        ("chats", "SELECT * FROM chats WHERE chat_id IN (SELECT value FROM json_each(?1))".into(), chats.clone()),
        ("chat_conflicts", "SELECT * FROM chat_conflicts WHERE chat_id IN (SELECT value FROM json_each(?1))
            OR known_client_id IN (SELECT value FROM json_each(?2)) OR new_client_id IN (SELECT value FROM json_each(?2))".into(), chats.clone()),
        ("conversations", "SELECT * FROM conversations WHERE id IN (SELECT value FROM json_each(?1))".into(), convs.clone()),
        ("metrica_sent", "SELECT * FROM metrica_sent WHERE conversation IN (SELECT value FROM json_each(?1))".into(), convs.clone()),
        // Delivered message IDs carry the chat partner's ID (Telegram: "<chat>:<message>").
        ("inbound_seen", "SELECT * FROM inbound_seen WHERE EXISTS (SELECT 1 FROM json_each(?1) v WHERE instr(message_id, v.value) > 0)".into(), values.clone()),
        ("inbox_rejects", "SELECT * FROM inbox_rejects WHERE EXISTS (SELECT 1 FROM json_each(?1) v WHERE instr(bodies, v.value) > 0)".into(), values.clone()),
    ];
    q.push((
        "metrica_facts_sent",
        "SELECT * FROM metrica_facts_sent WHERE conversation IN (SELECT value FROM json_each(?1))"
            .into(),
        convs.clone(),
    ));
    q.push(("bot_opens", "SELECT * FROM bot_opens WHERE chat_id IN (SELECT value FROM json_each(?1))
            OR used_by IN (SELECT value FROM json_each(?2)) OR chat_user_id IN (SELECT value FROM json_each(?3))
            OR phone IN (SELECT value FROM json_each(?3)) OR username IN (SELECT value FROM json_each(?3))".into(), chats.clone()));
    q.push(("answers", "SELECT * FROM answers WHERE conversation IN (SELECT value FROM json_each(?2))
            OR chat_user_id IN (SELECT value FROM json_each(?3)) OR phone IN (SELECT value FROM json_each(?3))".into(), chats.clone()));
    q.push(("webhook_unreadable", "SELECT * FROM webhook_unreadable WHERE EXISTS (SELECT 1 FROM json_each(?4) v WHERE instr(raw, v.value) > 0)".into(), chats.clone()));
    q
}

/// Runs one of [`person_queries`]' statements (select or delete) with its parameters.
fn run_person<T>(
    conn: &Connection,
    f: &Found,
    sql: &str,
    first: &str,
    run: impl FnOnce(&mut rusqlite::Statement<'_>, &[&dyn rusqlite::ToSql]) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let second_is_clients = sql.contains("known_client_id");
    let second = if second_is_clients {
        json_list(&f.client_ids)
    } else {
        json_list(&f.conversations)
    };
    let people = json_list(
        f.user_ids
            .iter()
            .chain(&f.phones)
            .chain(&f.usernames)
            .collect::<Vec<_>>(),
    );
    let values = json_list(f.values());
    let mut st = conn.prepare(sql)?;
    let all: [&dyn rusqlite::ToSql; 4] = [&first, &second, &people, &values];
    let n = st.parameter_count();
    run(&mut st, &all[..n])
}

fn collect(conn: &Connection, f: &Found) -> Result<PersonData, StoreError> {
    let mut data = PersonData::new();
    for (table, sql, first) in person_queries(f) {
        let rows = run_person(conn, f, &sql, &first, |st, p| {
            let names: Vec<String> = st.column_names().iter().map(|s| s.to_string()).collect();
            let mut rows = st.query(p)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(row_json(row, &names)?);
            }
            Ok(out)
        })?;
        if !rows.is_empty() {
            data.insert(table.to_owned(), rows);
        }
    }
    // Kept Metrica files: only their rows about this person.
    let uploads = upload_rows(conn, &f.values())?;
    if !uploads.is_empty() {
        data.insert(
            "metrica_uploads".to_owned(),
            uploads
                .into_iter()
                .map(|(id, rows)| serde_json::json!({"upload": id, "rows": rows}))
                .collect(),
        );
    }
    Ok(data)
}

fn row_json(row: &rusqlite::Row<'_>, names: &[String]) -> Result<Value, StoreError> {
    let mut obj = Map::new();
    for (i, name) in names.iter().enumerate() {
        let v = match row.get_ref(i)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(n) => Value::from(n),
            ValueRef::Real(x) => Value::from(x),
            ValueRef::Text(t) | ValueRef::Blob(t) => {
                let s = String::from_utf8_lossy(t).into_owned();
                // Stored JSON (event bodies, UTM) is shown as JSON, not as a string.
                if matches!(name.as_str(), "body" | "utm" | "bodies") {
                    serde_json::from_str(&s).unwrap_or(Value::String(s))
                } else {
                    Value::String(s)
                }
            }
        };
        obj.insert(name.clone(), v);
    }
    Ok(Value::Object(obj))
}

fn upload_rows(
    conn: &Connection,
    values: &BTreeSet<String>,
) -> Result<Vec<(i64, CsvRows)>, StoreError> {
    let mut out = Vec::new();
    for (id, _, rows) in uploads_about(conn, values)? {
        out.push((id, rows));
    }
    Ok(out)
}

fn uploads_about(
    conn: &Connection,
    values: &BTreeSet<String>,
) -> Result<Vec<UploadAbout>, StoreError> {
    let mut st = conn.prepare("SELECT id, csv FROM metrica_uploads WHERE csv <> ''")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, text) = row?;
        if let Some((kept, hit)) = scan_csv(&text, values) {
            out.push((id, kept, hit));
        }
    }
    Ok(out)
}

fn delete_person(conn: &Connection, f: &Found) -> Result<Counts, StoreError> {
    let mut counts = Counts::new();
    for (table, sql, first) in person_queries(f) {
        let delete = sql.replacen("SELECT * FROM", "DELETE FROM", 1);
        let n = run_person(conn, f, &delete, &first, |st, p| Ok(st.execute(p)?))?;
        if n > 0 {
            counts.insert(table.to_owned(), n as u64);
        }
    }
    for (id, kept, hit) in uploads_about(conn, &f.values())? {
        conn.execute(
            "UPDATE metrica_uploads SET csv = ?2, rows = max(rows - ?3, 0) WHERE id = ?1",
            params![id, kept, hit.len() as i64],
        )?;
        *counts.entry("metrica_uploads".to_owned()).or_default() += hit.len() as u64;
    }
    Ok(counts)
}

fn audit(conn: &Connection, entry: &AuditEntry, counts: &Counts) -> Result<(), StoreError> {
    let counts = serde_json::to_string(counts).map_err(StoreError::Serialize)?;
    conn.execute(
        "INSERT INTO privacy_audit (at_ms, action, subject_kind, subject_hash, via, counts) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![entry.at_ms, entry.action, entry.subject_kind, entry.subject_hash, entry.via, counts],
    )?;
    Ok(())
}

#[async_trait]
impl PrivacyStore for SqliteStore {
    async fn export_person(&self, whom: Whom, entry: AuditEntry) -> Result<PersonData, StoreError> {
        let data = self
            .read(move |conn| {
                let found = resolve(conn, &whom, None)?;
                collect(conn, &found)
            })
            .await?;
        let counts: Counts = data
            .iter()
            .map(|(t, rows)| (t.clone(), rows.len() as u64))
            .collect();
        self.write(move |conn| audit(conn, &entry, &counts)).await?;
        Ok(data)
    }

    async fn forget(&self, whom: Whom, entry: AuditEntry) -> Result<Forgotten, StoreError> {
        let first = {
            let whom = whom.clone();
            self.read(move |conn| resolve(conn, &whom, None)).await?
        };
        let removed = self
            .write(move |conn| {
                // Rows added since the read are looked at here; the rest is known.
                let seen = (first.events_seen, first.clicks_seen);
                let now = resolve(conn, &whom, Some(seen))?;
                let found = merge(first, now);
                // Deleted content is overwritten with zeros, not left in free space.
                conn.execute_batch("PRAGMA secure_delete = ON;")?;
                let result = delete_person(conn, &found);
                conn.execute_batch("PRAGMA secure_delete = FAST;")?;
                let counts = result?;
                audit(conn, &entry, &counts)?;
                Ok(counts)
            })
            .await?;
        // The person's events were applied before the read above, so the closed segment holding
        // them is deleted at once.
        let inbox_rotated = self.rotate_inbox().await?;
        let path = self.path.clone();
        let wal_truncated = tokio::task::spawn_blocking(move || checkpoint_truncate(&path))
            .await
            .map_err(|_| StoreError::JobPanicked)??;
        Ok(Forgotten {
            removed,
            wal_truncated,
            inbox_rotated,
        })
    }

    async fn expire_step(
        &self,
        target: ExpiryTarget,
        policy: &RetentionPolicy,
        now_ms: i64,
        after: i64,
        window: i64,
    ) -> Result<ExpiryStep, StoreError> {
        let policy = policy.clone();
        // Re-runnable (it depends only on its inputs and the database): the ingest jobs that
        // share its transaction then keep running without a savepoint each.
        self.writer
            .write_rerunnable(move |conn| {
                super::retention::step(conn, target, &policy, now_ms, after, window)
            })
            .await
    }

    async fn hash_phones_step(
        &self,
        key: &PrivacyKey,
        table: PhoneTable,
        after: i64,
        window: i64,
    ) -> Result<ExpiryStep, StoreError> {
        let ids = self
            .read(move |conn| super::retention::clear_phone_rows(conn, table, after, window))
            .await?;
        let Some(&last) = ids.last() else {
            return Ok(ExpiryStep::new(0, None));
        };
        let full = ids.len() as i64 >= window;
        let key = key.clone();
        let rows = self
            .write(move |conn| super::retention::hash_phones(conn, &key, table, &ids))
            .await?;
        Ok(ExpiryStep::walked(rows, full, last, false))
    }
}

/// Copies the WAL into the database and cuts it to zero bytes, so that the frames holding the
/// deleted rows' old pages are gone from disk as files. `false` when readers kept it from
/// finishing (it is then done by a later checkpoint).
fn checkpoint_truncate(path: &std::path::Path) -> Result<bool, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    Ok(busy == 0)
}
