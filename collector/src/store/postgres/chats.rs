//! Conversations on PostgreSQL: `store/sqlite/chats.rs` ported statement by statement (read
//! that module for what each step means); the rules that are not SQL are shared
//! ([`crate::store::chat_rules`]).
//!
//! Several instances: every chat-side write transaction first takes one transaction-scoped
//! advisory lock ([`CHATS_LOCK`]), so deliveries are recorded and matched one after another
//! across instances, as SQLite's single writer does within one. Why one lock and not one per
//! person: a person is whoever a payload names by user ID, phone *or* username, so two
//! deliveries about one person may share no key to lock on; and the chat side writes a few
//! rows per message, far below ingest's rate, so serialising it costs nothing measurable. The
//! same webhook retried to two instances at once: the second waits for the first's COMMIT,
//! then finds its message ID in `inbound_seen` (primary key) and records a duplicate.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chattag_core::ChatId;
use deadpool_postgres::Transaction;

use super::sql::{exec, one, opt, rows};
use super::PgStore;
use crate::chats::inbound::{Answered, BotOpened, ChatUser, Inbound, InboundMessage, Unreadable};
use crate::chats::intake::ValidIntake;
use crate::chats::matching::{
    self, ChatStartFacts, ClickCandidate, IdEvidence, MatchSettings, Method,
};
use crate::chats::model::{Delivery, IntakeSource, LaterFacts, Written, CONVERSATION_GAP_MS};
use crate::clock::now_ms;
use crate::store::chat_rules::{
    self as rules, method_of, Answer, Provenance, Recorded, ANSWER_KEEP_MS, BOT_OPEN_SKEW_MS,
};
use crate::store::{ChatStore, StoreError};

/// The advisory lock of chat-side writes ("chattag" and 2).
pub const CHATS_LOCK: i64 = 0x6368_6174_7461_6702;

#[async_trait]
impl ChatStore for PgStore {
    async fn record_delivery(
        &self,
        items: Vec<Inbound>,
        settings: MatchSettings,
    ) -> Result<Delivery, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        exec(&tx, "SELECT pg_advisory_xact_lock($1)", &[&CHATS_LOCK]).await?;
        let now = now_ms();
        let mut d = Delivery::default();
        for item in &items {
            match item {
                Inbound::Message(m) => {
                    match record_message(&tx, m, Provenance::webhook(), &settings, now).await? {
                        Recorded::Opened(_, method) => {
                            d.opened += 1;
                            d.methods.push(method);
                        }
                        Recorded::Continued(_) => d.continued += 1,
                        Recorded::Duplicate => d.duplicates += 1,
                    }
                }
                Inbound::Answered(a) => match record_answered(&tx, a, now).await? {
                    Answer::Applied => d.answered += 1,
                    Answer::Pending => d.pending_answers += 1,
                },
                Inbound::BotOpened(b) => {
                    if record_bot_open(&tx, b, &settings, now).await? {
                        d.bot_opens += 1;
                    } else {
                        d.duplicates += 1;
                    }
                }
                Inbound::Unreadable(u) => {
                    record_unreadable(&tx, u, now).await?;
                    d.unreadable += 1;
                }
            }
        }
        tx.commit().await?;
        Ok(d)
    }

    async fn record_intake(
        &self,
        valid: Vec<ValidIntake>,
        settings: MatchSettings,
        source: IntakeSource,
    ) -> Result<Vec<Written>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        exec(&tx, "SELECT pg_advisory_xact_lock($1)", &[&CHATS_LOCK]).await?;
        let now = now_ms();
        let mut out = Vec::with_capacity(valid.len());
        for v in &valid {
            let origin = Provenance {
                source: source.as_str(),
                external_id: v.external_id.as_deref(),
                evidence: v.evidence.clone(),
                facts: &v.facts,
            };
            match record_message(&tx, &v.message, origin, &settings, now).await? {
                Recorded::Opened(conversation, method) => out.push(Written {
                    conversation,
                    opened: Some(method),
                }),
                Recorded::Continued(conversation) => out.push(Written {
                    conversation,
                    opened: None,
                }),
                Recorded::Duplicate => {}
            }
        }
        tx.commit().await?;
        Ok(out)
    }
}

struct Open {
    id: i64,
    chat_id: Option<String>,
    method: Method,
}

/// Row IDs of `table` whose platform is `$1` and that name the person by `$4` (user ID), `$5`
/// (phone) or `$6` (username, without case) — or by `extra` — as a union of indexed lookups.
fn person(table: &str, extra: &str) -> String {
    let mut terms = vec![
        "chat_user_id = $4::text",
        "phone = $5::text",
        "lower(username) = lower($6::text)",
    ];
    if !extra.is_empty() {
        terms.push(extra);
    }
    terms
        .iter()
        .map(|t| format!("SELECT id FROM {table} WHERE platform = $1::text AND {t}"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// The person's current conversation (see SQLite's `open_conversation`).
async fn open_conversation(
    tx: &Transaction<'_>,
    platform: &str,
    user: &ChatUser,
    user_key: Option<&str>,
    at_ms: i64,
    started_by: Option<i64>,
) -> Result<Option<Open>, StoreError> {
    let row = opt(
        tx,
        &format!(
            "SELECT id, chat_id, method FROM conversations WHERE id IN ({})
               AND last_message_at >= $2::bigint AND started_at <= coalesce($7::bigint, started_at)
             ORDER BY started_at DESC LIMIT 1",
            person("conversations", "user_key = $3::text")
        ),
        &[
            &platform,
            &(at_ms - CONVERSATION_GAP_MS),
            &user_key,
            &user.user_id,
            &user.phone,
            &user.username,
            &started_by,
        ],
    )
    .await?;
    Ok(row.map(|r| Open {
        id: r.get(0),
        chat_id: r.get(1),
        method: Method::parse(&r.get::<_, String>(2)).unwrap_or(Method::Unmatched),
    }))
}

/// The site whose mapping holds this chat ID (the most recently active, should two sites share it).
async fn site_of(tx: &Transaction<'_>, chat_id: &str) -> Result<Option<String>, StoreError> {
    Ok(opt(
        tx,
        "SELECT site FROM chats WHERE chat_id = $1 ORDER BY last_seen DESC LIMIT 1",
        &[&chat_id],
    )
    .await?
    .map(|r| r.get(0)))
}

async fn click_candidates(
    tx: &Transaction<'_>,
    messenger: &str,
    from_ms: i64,
    to_ms: i64,
    chat_start_ms: i64,
) -> Result<Vec<ClickCandidate>, StoreError> {
    let found = rows(
        tx,
        "SELECT k.chat_id, k.messenger, k.target, k.ts,
                EXISTS (SELECT 1 FROM conversations c WHERE c.chat_id = k.chat_id
                        AND c.method IN ('exact-link', 'exact-text') AND c.started_at <= $4)
         FROM clicks k WHERE k.messenger = $1 AND k.ts BETWEEN $2 AND $3 LIMIT 1000",
        &[&messenger, &from_ms, &to_ms, &chat_start_ms],
    )
    .await?;
    let mut out = Vec::new();
    for r in found {
        // Stored IDs were validated at ingest; a row that no longer parses is skipped, not fatal.
        if let Ok(chat_id) = ChatId::parse(&r.get::<_, String>(0)) {
            out.push(ClickCandidate {
                chat_id,
                messenger: r.get(1),
                target: Some(r.get(2)),
                ts_ms: r.get(3),
                claimed: r.get(4),
            });
        }
    }
    Ok(out)
}

/// Records one inbound message, matching it when it opens a conversation.
async fn record_message(
    tx: &Transaction<'_>,
    msg: &InboundMessage,
    origin: Provenance<'_>,
    settings: &MatchSettings,
    now_ms: i64,
) -> Result<Recorded, StoreError> {
    let Provenance {
        source,
        external_id,
        evidence: evidence_override,
        facts,
    } = origin;
    let platform = msg.platform.as_str();
    if let Some(mid) = msg.message_id.as_deref() {
        let fresh = exec(
            tx,
            "INSERT INTO inbound_seen (platform, message_id, received_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&platform, &mid, &now_ms],
        )
        .await?;
        if fresh == 0 {
            return Ok(Recorded::Duplicate);
        }
    }
    let Some(user_key) = rules::user_key(msg, external_id) else {
        return Err(StoreError::NoChatPartner);
    };
    let opened = match source {
        "webhook" => latest_bot_open(tx, platform, &msg.user, msg.at_ms).await?,
        _ => None,
    };
    let (evidence, start_param) = rules::evidence(msg, evidence_override, opened, settings);
    let evidence_id = rules::evidence_id(&evidence);

    let existing = match external_id {
        Some(ext) => opt(
            tx,
            "SELECT id, chat_id, method FROM conversations WHERE platform = $1 AND external_id = $2",
            &[&platform, &ext],
        )
        .await?
        .map(|r| Open {
            id: r.get(0),
            chat_id: r.get(1),
            method: Method::parse(&r.get::<_, String>(2)).unwrap_or(Method::Unmatched),
        }),
        None => open_conversation(tx, platform, &msg.user, Some(&user_key), msg.at_ms, None)
            .await?
            // A different exact ID means a new visit → a new chat for Metrica.
            .filter(|open| {
                !(open.method.is_exact() && evidence_id.is_some() && evidence_id != open.chat_id)
            }),
    };

    if let Some(open) = existing {
        exec(
            tx,
            "UPDATE conversations SET
                messages = messages + CASE WHEN $2::boolean THEN 1 ELSE 0 END,
                last_message_at = greatest(last_message_at, $3::bigint),
                started_at = least(started_at, $3::bigint),
                username = coalesce(username, $4::text), display_name = coalesce(display_name, $5::text),
                phone = coalesce(phone, $6::text), chat_user_id = coalesce(chat_user_id, $7::text),
                first_text = coalesce(first_text, $8::text), ad_click_id = coalesce(ad_click_id, $9::text),
                updated_at = $10::bigint
             WHERE id = $1",
            &[
                &open.id,
                // A CRM report about a known chat is not a new message from the person.
                &(source == "webhook"),
                &msg.at_ms,
                &msg.user.username,
                &msg.user.name,
                &msg.user.phone,
                &msg.user.user_id,
                &msg.text,
                &msg.ad_click_id,
                &now_ms,
            ],
        )
        .await?;
        // A later message may carry the ID the first one lacked: upgrade, never downgrade.
        if !open.method.is_exact() {
            if let (IdEvidence::Link(id) | IdEvidence::Text(id), method) =
                (&evidence, method_of(&evidence))
            {
                let site = site_of(tx, id.as_str()).await?;
                exec(
                    tx,
                    "UPDATE conversations SET chat_id = $2, method = $3, reason = NULL, site = $4, updated_at = $5 WHERE id = $1",
                    &[&open.id, &id.as_str(), &method.as_str(), &site, &now_ms],
                )
                .await?;
            }
        }
        apply_facts(tx, open.id, facts, now_ms).await?;
        use_bot_opens(tx, platform, &msg.user, msg.at_ms, open.id).await?;
        return Ok(Recorded::Continued(open.id));
    }

    let messenger = msg.platform.snippet_messenger();
    let window = settings.window;
    let clicks = match (&evidence, messenger) {
        (IdEvidence::Link(_) | IdEvidence::Text(_), _) | (_, None) => Vec::new(),
        (_, Some(m)) => {
            click_candidates(
                tx,
                m,
                msg.at_ms - window.before_ms,
                msg.at_ms + window.skew_ms,
                msg.at_ms,
            )
            .await?
        }
    };
    let decision = matching::decide(
        evidence,
        &ChatStartFacts {
            messenger,
            account: msg.account.as_deref(),
            started_ms: msg.at_ms,
        },
        &clicks,
        window,
    );
    let site = match &decision.chat_id {
        Some(id) => site_of(tx, id.as_str()).await?,
        None => None,
    };
    let id: i64 = one(
        tx,
        "INSERT INTO conversations (platform, user_key, chat_user_id, username, phone, display_name, account,
            started_at, last_message_at, messages, first_text, start_param, chat_id, site, method, reason,
            ad_click_id, source, external_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 1, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18)
         RETURNING id",
        &[
            &platform,
            &user_key,
            &msg.user.user_id,
            &msg.user.username,
            &msg.user.phone,
            &msg.user.name,
            &msg.account,
            &msg.at_ms,
            &msg.text,
            &start_param,
            &decision.chat_id.as_ref().map(|c| c.as_str()),
            &site,
            &decision.method.as_str(),
            &decision.reason.map(|r| r.code()),
            &msg.ad_click_id,
            &source,
            &external_id,
            &now_ms,
        ],
    )
    .await?
    .get(0);
    apply_facts(tx, id, facts, now_ms).await?;
    use_bot_opens(tx, platform, &msg.user, msg.at_ms, id).await?;
    claim_answers(tx, id, platform, &msg.user, msg.at_ms, now_ms).await?;
    Ok(Recorded::Opened(id, decision.method))
}

/// Later facts overwrite what was known, except `answered`, which never goes back from 1 to 0
/// by omission.
async fn apply_facts(
    tx: &Transaction<'_>,
    id: i64,
    f: &LaterFacts,
    now_ms: i64,
) -> Result<(), StoreError> {
    if *f == LaterFacts::default() {
        return Ok(());
    }
    let answered = f.answered.map(i64::from);
    let messages = f.messages.map(i64::from);
    exec(
        tx,
        "UPDATE conversations SET
            answered = coalesce($2::bigint, answered),
            answered_at = CASE WHEN $2::bigint = 1 THEN coalesce(answered_at, $9::bigint) ELSE answered_at END,
            tag = coalesce($3::text, tag),
            revenue_at = CASE WHEN $4::text IS NOT NULL AND (revenue IS NULL OR revenue <> $4::text OR coalesce(currency, '') <> coalesce($5::text, currency, ''))
                              THEN $9::bigint ELSE revenue_at END,
            revenue = coalesce($4::text, revenue), currency = coalesce($5::text, currency),
            page_url = coalesce($6::text, page_url), chat_url = coalesce($7::text, chat_url),
            messages = coalesce($8::bigint, messages), updated_at = $9::bigint
         WHERE id = $1",
        &[
            &id,
            &answered,
            &f.tag,
            &f.revenue,
            &f.currency,
            &f.page_url,
            &f.chat_url,
            &messages,
            &now_ms,
        ],
    )
    .await?;
    Ok(())
}

/// The site's side replied (see SQLite's `record_answered`).
async fn record_answered(
    tx: &Transaction<'_>,
    a: &Answered,
    now_ms: i64,
) -> Result<Answer, StoreError> {
    let platform = a.platform.as_str();
    let open = open_conversation(
        tx,
        platform,
        &a.partner,
        a.partner.key().as_deref(),
        a.at_ms,
        Some(a.at_ms),
    )
    .await?;
    exec(
        tx,
        "DELETE FROM answers WHERE received_at < $1",
        &[&(now_ms - ANSWER_KEEP_MS)],
    )
    .await?;
    exec(
        tx,
        "INSERT INTO answers (platform, chat_user_id, username, phone, at_ms, conversation, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &platform,
            &a.partner.user_id,
            &a.partner.username,
            &a.partner.phone,
            &a.at_ms,
            &open.as_ref().map(|o| o.id),
            &now_ms,
        ],
    )
    .await?;
    let Some(open) = open else {
        return Ok(Answer::Pending);
    };
    exec(
        tx,
        "UPDATE conversations SET answered = 1, answered_at = least(coalesce(answered_at, $2::bigint), $2::bigint), updated_at = $3 WHERE id = $1",
        &[&open.id, &a.at_ms, &now_ms],
    )
    .await?;
    Ok(Answer::Applied)
}

/// A conversation that just opened claims the person's answers timed after it (see SQLite's
/// `claim_answers`).
async fn claim_answers(
    tx: &Transaction<'_>,
    conversation: i64,
    platform: &str,
    user: &ChatUser,
    at_ms: i64,
    now_ms: i64,
) -> Result<(), StoreError> {
    let claimed: Vec<(i64, i64, Option<i64>)> = rows(
        tx,
        &format!(
            "SELECT id, at_ms, conversation FROM answers WHERE id IN ({})
               AND at_ms BETWEEN $2::bigint AND $3::bigint AND coalesce(conversation, 0) <> $7::bigint",
            person("answers", "")
        ),
        &[
            &platform,
            &at_ms,
            &(at_ms + CONVERSATION_GAP_MS),
            &user.user_id,
            &user.phone,
            &user.username,
            &conversation,
        ],
    )
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect();
    let Some(first) = claimed.iter().map(|(_, at, _)| *at).min() else {
        return Ok(());
    };
    for (id, _, _) in &claimed {
        exec(
            tx,
            "UPDATE answers SET conversation = $2 WHERE id = $1",
            &[id, &conversation],
        )
        .await?;
    }
    exec(
        tx,
        "UPDATE conversations SET answered = 1, answered_at = least(coalesce(answered_at, $2::bigint), $2::bigint), updated_at = $3 WHERE id = $1",
        &[&conversation, &first, &now_ms],
    )
    .await?;
    let earlier: BTreeSet<i64> = claimed.iter().filter_map(|(_, _, c)| *c).collect();
    for old in earlier {
        exec(
            tx,
            "UPDATE conversations SET
                answered_at = (SELECT min(at_ms) FROM answers WHERE conversation = $1),
                answered = (SELECT (count(*) > 0)::int FROM answers WHERE conversation = $1),
                updated_at = $3
             WHERE id = $1 AND answered_at >= $2",
            &[&old, &at_ms, &now_ms],
        )
        .await?;
    }
    Ok(())
}

/// The person's unused bot openings between `$2` and `$3`.
fn bot_opens_of_person() -> String {
    format!(
        "id IN ({}) AND used_by IS NULL AND at_ms BETWEEN $2::bigint AND $3::bigint",
        person("bot_opens", "")
    )
}

/// The start parameter of the person's latest unused bot opening before `at_ms`, if it had one.
async fn latest_bot_open(
    tx: &Transaction<'_>,
    platform: &str,
    user: &ChatUser,
    at_ms: i64,
) -> Result<Option<String>, StoreError> {
    Ok(opt(
        tx,
        &format!(
            "SELECT start_param FROM bot_opens WHERE {} ORDER BY at_ms DESC LIMIT 1",
            bot_opens_of_person()
        ),
        &[
            &platform,
            &(at_ms - CONVERSATION_GAP_MS),
            &(at_ms + BOT_OPEN_SKEW_MS),
            &user.user_id,
            &user.phone,
            &user.username,
        ],
    )
    .await?
    .and_then(|r| r.get(0)))
}

/// The person's message consumes their earlier bot openings: each applies to one next message.
async fn use_bot_opens(
    tx: &Transaction<'_>,
    platform: &str,
    user: &ChatUser,
    at_ms: i64,
    conversation: i64,
) -> Result<(), StoreError> {
    let used = exec(
        tx,
        &format!(
            "UPDATE bot_opens SET used_by = $7::bigint WHERE {}",
            bot_opens_of_person()
        ),
        &[
            &platform,
            &(at_ms - CONVERSATION_GAP_MS),
            &(at_ms + BOT_OPEN_SKEW_MS),
            &user.user_id,
            &user.phone,
            &user.username,
            &conversation,
        ],
    )
    .await?;
    if used > 0 {
        // The opening may name the person more fully (a username the message lacks).
        exec(
            tx,
            "UPDATE conversations SET
                chat_user_id = coalesce(conversations.chat_user_id, o.chat_user_id),
                username = coalesce(conversations.username, o.username),
                phone = coalesce(conversations.phone, o.phone),
                display_name = coalesce(conversations.display_name, o.display_name)
             FROM (SELECT chat_user_id, username, phone, display_name FROM bot_opens
                   WHERE used_by = $1 ORDER BY at_ms DESC LIMIT 1) AS o
             WHERE conversations.id = $1",
            &[&conversation],
        )
        .await?;
    }
    Ok(())
}

/// Keeps a bot opening (once per platform event). Returns false for a retried one.
async fn record_bot_open(
    tx: &Transaction<'_>,
    b: &BotOpened,
    settings: &MatchSettings,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let platform = b.platform.as_str();
    if let Some(id) = b.event_id.as_deref() {
        let fresh = exec(
            tx,
            "INSERT INTO inbound_seen (platform, message_id, received_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&platform, &id, &now_ms],
        )
        .await?;
        if fresh == 0 {
            return Ok(false);
        }
    }
    let chat_id = rules::bot_open_chat_id(b.start_param.as_deref(), settings);
    let site = match &chat_id {
        Some(id) => site_of(tx, id).await?,
        None => None,
    };
    exec(
        tx,
        "INSERT INTO bot_opens (platform, chat_user_id, username, phone, display_name, account, at_ms,
            start_param, chat_id, site, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            &platform,
            &b.user.user_id,
            &b.user.username,
            &b.user.phone,
            &b.user.name,
            &b.account,
            &b.at_ms,
            &b.start_param,
            &chat_id,
            &site,
            &now_ms,
        ],
    )
    .await?;
    Ok(true)
}

async fn record_unreadable(
    tx: &Transaction<'_>,
    u: &Unreadable,
    now_ms: i64,
) -> Result<(), StoreError> {
    exec(
        tx,
        "INSERT INTO webhook_unreadable (platform, reason, detail, raw, received_at) VALUES ($1, $2, $3, $4, $5)",
        &[&u.platform.as_str(), &u.reason.as_str(), &u.detail, &u.raw, &now_ms],
    )
    .await?;
    Ok(())
}
