//! [`PrivacyStore`] on PostgreSQL: `store/sqlite/privacy.rs` ported (read that module for the
//! ties followed from one identifier). Lists are bound as arrays instead of JSON. Forgetting
//! runs in one transaction that finds the person again under it, so rows added by another
//! instance meanwhile are deleted too; afterwards the tables that lost rows are vacuumed, so
//! the deleted tuples are pruned from their pages (PostgreSQL has no WAL to truncate here:
//! `wal_truncated` stays false).

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use serde_json::Value;

use super::sql::{exec, rows};
use super::PgStore;
use crate::privacy::key::PrivacyKey;
use crate::store::dialect::Dialect;
use crate::store::person::{lookups, scan_csv, Found, LookupFinds, UploadAbout};
use crate::store::privacy::{
    AuditEntry, Counts, ExpiryStep, ExpiryTarget, Forgotten, PersonData, PhoneTable, PrivacyStore,
    RetentionPolicy, Whom,
};
use crate::store::StoreError;

async fn strings<C: GenericClient>(c: &C, sql: &str, arg: &str) -> Result<Vec<String>, StoreError> {
    Ok(rows(c, sql, &[&arg])
        .await?
        .iter()
        .filter_map(|r| r.get::<_, Option<String>>(0))
        .collect())
}

async fn ids<C: GenericClient>(c: &C, sql: &str, arg: &str) -> Result<Vec<i64>, StoreError> {
    Ok(rows(c, sql, &[&arg])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Follows the ties from `subject` until nothing new is found (see SQLite's `resolve`).
async fn resolve<C: GenericClient>(c: &C, whom: &Whom) -> Result<Found, StoreError> {
    let mut f = Found::seeded(whom);
    for _ in 0..4 {
        let before = (
            f.chat_ids.len(),
            f.client_ids.len(),
            f.conversations.len(),
            f.people.len(),
        );
        let mut convs = Vec::new();
        let mut opened = Vec::new();
        for (by, finds, sql) in lookups(Dialect::Postgres) {
            for v in f.values_of(by) {
                match finds {
                    LookupFinds::Conversations => convs.extend(ids(c, &sql, &v).await?),
                    LookupFinds::ChatIds => opened.extend(strings(c, &sql, &v).await?),
                }
            }
        }
        f.chat_ids.extend(opened);
        for chat in &f.chat_ids.clone() {
            for r in rows(
                c,
                "SELECT chat_user_id, username, phone FROM bot_opens WHERE chat_id = $1",
                &[chat],
            )
            .await?
            {
                f.user_ids.extend(r.get::<_, Option<String>>(0));
                f.usernames.extend(r.get::<_, Option<String>>(1));
                f.phones.extend(r.get::<_, Option<String>>(2));
            }
        }
        for (platform, key) in &f.people {
            for r in rows(
                c,
                "SELECT id FROM conversations WHERE platform = $1 AND user_key = $2",
                &[platform, key],
            )
            .await?
            {
                convs.push(r.get(0));
            }
        }
        f.conversations.extend(convs);
        let list: Vec<i64> = f.conversations.iter().copied().collect();
        for r in rows(
            c,
            "SELECT platform, user_key, chat_user_id, username, phone, chat_id FROM conversations WHERE id = ANY($1)",
            &[&list],
        )
        .await?
        {
            f.people.insert((r.get(0), r.get(1)));
            f.user_ids.extend(r.get::<_, Option<String>>(2));
            f.usernames.extend(r.get::<_, Option<String>>(3));
            f.phones.extend(r.get::<_, Option<String>>(4));
            f.chat_ids.extend(r.get::<_, Option<String>>(5));
        }
        for cid in &f.client_ids.clone() {
            f.chat_ids
                .extend(strings(c, "SELECT chat_id FROM chats WHERE client_id = $1", cid).await?);
            f.chat_ids.extend(
                strings(
                    c,
                    "SELECT chat_id FROM chat_conflicts WHERE known_client_id = $1 OR new_client_id = $1",
                    cid,
                )
                .await?,
            );
        }
        for chat in &f.chat_ids.clone() {
            for r in rows(
                c,
                "SELECT client_id, yclid, user_id, purchase_id, gclid, fbclid, ga_client_id FROM chats WHERE chat_id = $1",
                &[chat],
            )
            .await?
            {
                if let Some(cid) = r.get::<_, Option<String>>(0) {
                    f.client_ids.insert(cid);
                }
                for i in 1..7 {
                    f.other_ids.extend(r.get::<_, Option<String>>(i));
                }
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
    let chats: Vec<&String> = f.chat_ids.iter().collect();
    f.events = rows(
        c,
        "SELECT id FROM events WHERE chat_id = ANY($1)",
        &[&chats],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    f.clicks = rows(
        c,
        "SELECT id FROM clicks WHERE chat_id = ANY($1)",
        &[&chats],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    Ok(f)
}

/// The lists a person query binds: `$1` chat IDs, `$2` conversations, `$3` ClientIDs, `$4`
/// phones, user IDs and usernames, `$5` every identifying value, `$6` events, `$7` clicks.
struct Lists {
    chats: Vec<String>,
    conversations: Vec<i64>,
    clients: Vec<String>,
    people: Vec<String>,
    values: Vec<String>,
    events: Vec<i64>,
    clicks: Vec<i64>,
}

impl Lists {
    fn of(f: &Found) -> Lists {
        Lists {
            chats: f.chat_ids.iter().cloned().collect(),
            conversations: f.conversations.iter().copied().collect(),
            clients: f.client_ids.iter().cloned().collect(),
            people: f
                .user_ids
                .iter()
                .chain(&f.phones)
                .chain(&f.usernames)
                .cloned()
                .collect(),
            values: f.values().into_iter().collect(),
            events: f.events.iter().copied().collect(),
            clicks: f.clicks.iter().copied().collect(),
        }
    }
}

/// Per table, the condition that selects the person's rows (the same as SQLite's
/// `person_queries`), over the lists of [`Lists`]; every condition names all seven so that
/// their types are known.
const PERSON: [(&str, &str); 12] = [
    ("events", "id = ANY($6)"),
    ("clicks", "id = ANY($7)"),
    ("chats", "chat_id = ANY($1)"),
    (
        "chat_conflicts",
        "chat_id = ANY($1) OR known_client_id = ANY($3) OR new_client_id = ANY($3)",
    ),
    ("conversations", "id = ANY($2)"),
    ("metrica_sent", "conversation = ANY($2)"),
    // Delivered message IDs carry the chat partner's ID (Telegram: "<chat>:<message>").
    (
        "inbound_seen",
        "EXISTS (SELECT 1 FROM unnest($5::text[]) v WHERE strpos(message_id, v) > 0)",
    ),
    (
        "inbox_rejects",
        "EXISTS (SELECT 1 FROM unnest($5::text[]) v WHERE strpos(bodies, v) > 0)",
    ),
    ("metrica_facts_sent", "conversation = ANY($2)"),
    (
        "bot_opens",
        "chat_id = ANY($1) OR used_by = ANY($2) OR chat_user_id = ANY($4) OR phone = ANY($4) OR username = ANY($4)",
    ),
    (
        "answers",
        "conversation = ANY($2) OR chat_user_id = ANY($4) OR phone = ANY($4)",
    ),
    (
        "webhook_unreadable",
        "EXISTS (SELECT 1 FROM unnest($5::text[]) v WHERE strpos(raw, v) > 0)",
    ),
];

/// `cond` with every list named, so that PostgreSQL knows each parameter's type.
fn with_all_lists(cond: &str) -> String {
    format!(
        "({cond}) AND $1::text[] IS NOT NULL AND $2::bigint[] IS NOT NULL AND $3::text[] IS NOT NULL
         AND $4::text[] IS NOT NULL AND $5::text[] IS NOT NULL AND $6::bigint[] IS NOT NULL
         AND $7::bigint[] IS NOT NULL"
    )
}

async fn collect<C: GenericClient>(c: &C, f: &Found) -> Result<PersonData, StoreError> {
    let l = Lists::of(f);
    let mut data = PersonData::new();
    for (table, cond) in PERSON {
        let found = rows(
            c,
            &format!(
                "SELECT row_to_json(t)::text FROM (SELECT * FROM {table} WHERE {}) t",
                with_all_lists(cond)
            ),
            &[
                &l.chats,
                &l.conversations,
                &l.clients,
                &l.people,
                &l.values,
                &l.events,
                &l.clicks,
            ],
        )
        .await?;
        let mut out = Vec::new();
        for r in found {
            let text: String = r.get(0);
            let mut value: Value = serde_json::from_str(&text).map_err(StoreError::StoredEvent)?;
            // Stored JSON (event bodies, UTM) is shown as JSON, not as a string (as SQLite's).
            if let Value::Object(obj) = &mut value {
                for name in ["body", "utm", "bodies"] {
                    if let Some(Value::String(s)) = obj.get(name) {
                        if let Ok(parsed) = serde_json::from_str::<Value>(s) {
                            obj.insert(name.to_owned(), parsed);
                        }
                    }
                }
            }
            out.push(value);
        }
        if !out.is_empty() {
            data.insert(table.to_owned(), out);
        }
    }
    let uploads = uploads_about(c, f).await?;
    if !uploads.is_empty() {
        data.insert(
            "metrica_uploads".to_owned(),
            uploads
                .into_iter()
                .map(|(id, _, rows)| serde_json::json!({"upload": id, "rows": rows}))
                .collect(),
        );
    }
    Ok(data)
}

async fn uploads_about<C: GenericClient>(c: &C, f: &Found) -> Result<Vec<UploadAbout>, StoreError> {
    let values = f.values();
    let mut out = Vec::new();
    for r in rows(
        c,
        "SELECT id, csv FROM metrica_uploads WHERE csv <> ''",
        &[],
    )
    .await?
    {
        let text: String = r.get(1);
        if let Some((kept, hit)) = scan_csv(&text, &values) {
            out.push((r.get(0), kept, hit));
        }
    }
    Ok(out)
}

async fn delete_person<C: GenericClient>(c: &C, f: &Found) -> Result<Counts, StoreError> {
    let l = Lists::of(f);
    let mut counts = Counts::new();
    for (table, cond) in PERSON {
        let n = exec(
            c,
            &format!("DELETE FROM {table} WHERE {}", with_all_lists(cond)),
            &[
                &l.chats,
                &l.conversations,
                &l.clients,
                &l.people,
                &l.values,
                &l.events,
                &l.clicks,
            ],
        )
        .await?;
        if n > 0 {
            counts.insert(table.to_owned(), n);
        }
    }
    for (id, kept, hit) in uploads_about(c, f).await? {
        exec(
            c,
            "UPDATE metrica_uploads SET csv = $2, rows = greatest(rows - $3, 0) WHERE id = $1",
            &[&id, &kept, &(hit.len() as i64)],
        )
        .await?;
        *counts.entry("metrica_uploads".to_owned()).or_default() += hit.len() as u64;
    }
    Ok(counts)
}

async fn audit<C: GenericClient>(
    c: &C,
    entry: &AuditEntry,
    counts: &Counts,
) -> Result<(), StoreError> {
    let counts = serde_json::to_string(counts).map_err(StoreError::Serialize)?;
    exec(
        c,
        "INSERT INTO privacy_audit (at_ms, action, subject_kind, subject_hash, via, counts) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&entry.at_ms, &entry.action, &entry.subject_kind, &entry.subject_hash, &entry.via, &counts],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl PrivacyStore for PgStore {
    async fn export_person(&self, whom: Whom, entry: AuditEntry) -> Result<PersonData, StoreError> {
        let c = self.client().await?;
        let found = resolve(&c, &whom).await?;
        let data = collect(&c, &found).await?;
        let counts: Counts = data
            .iter()
            .map(|(t, rows)| (t.clone(), rows.len() as u64))
            .collect();
        audit(&c, &entry, &counts).await?;
        Ok(data)
    }

    async fn forget(&self, whom: Whom, entry: AuditEntry) -> Result<Forgotten, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // One forget at a time, and none while chat-side writes tie new rows to the person.
        exec(
            &tx,
            "SELECT pg_advisory_xact_lock($1)",
            &[&super::chats::CHATS_LOCK],
        )
        .await?;
        let found = resolve(&tx, &whom).await?;
        let removed = delete_person(&tx, &found).await?;
        audit(&tx, &entry, &removed).await?;
        tx.commit().await?;
        // Prune the deleted tuples from their pages now rather than at the next autovacuum.
        for table in removed.keys() {
            if let Err(error) = client.batch_execute(&format!("VACUUM {table}")).await {
                tracing::warn!(%error, table, "vacuum after forget failed; autovacuum will prune later");
            }
        }
        Ok(Forgotten {
            removed,
            wal_truncated: false,
            inbox_rotated: false,
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
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let step = super::retention::step(&tx, target, policy, now_ms, after, window).await?;
        tx.commit().await?;
        Ok(step)
    }

    async fn hash_phones_step(
        &self,
        key: &PrivacyKey,
        table: PhoneTable,
        after: i64,
        window: i64,
    ) -> Result<ExpiryStep, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let step = super::retention::hash_phones_step(&tx, key, table, after, window).await?;
        tx.commit().await?;
        Ok(step)
    }

    fn stored_privacy_key(&self) -> Option<&str> {
        Some(self.privacy_key())
    }
}
