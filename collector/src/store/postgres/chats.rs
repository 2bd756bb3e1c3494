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
use deadpool_postgres::Transaction;
use tokio_postgres::Row;

use super::sql::{exec, one, opt, rows};
use super::PgStore;
use crate::chats::inbound::{Answered, BotOpened, ChatUser, Inbound, InboundMessage, Unreadable};
use crate::chats::intake::ValidIntake;
use crate::chats::matching::{self, ChatStartFacts, ClickCandidate, IdEvidence, MatchSettings};
use crate::chats::model::{Delivery, IntakeSource, LaterFacts, Written, CONVERSATION_GAP_MS};
use crate::clock::now_ms;
use crate::store::chat_rules::{
    self as rules, method_of, Answer, Provenance, Recorded, ANSWER_KEEP_MS,
};
use crate::store::chat_sql::{self as sql, Open};
use crate::store::dialect::Dialect::Postgres;
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

/// The person's current conversation ([`sql::open_conversation`]).
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
        &sql::open_conversation(Postgres),
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
    Ok(row.as_ref().map(open_row))
}

/// An [`Open`] from the columns id, chat_id, method.
fn open_row(r: &Row) -> Open {
    Open::new(r.get(0), r.get(1), r.get(2))
}

/// The site whose mapping holds this chat ID (the most recently active, should two sites share it).
async fn site_of(tx: &Transaction<'_>, chat_id: &str) -> Result<Option<String>, StoreError> {
    Ok(opt(tx, &sql::site_of(Postgres), &[&chat_id])
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
        &sql::click_candidates(Postgres),
        &[&messenger, &from_ms, &to_ms, &chat_start_ms],
    )
    .await?;
    Ok(found
        .iter()
        .filter_map(|r| sql::click_candidate(r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect())
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
        let fresh = exec(tx, &sql::mark_seen(Postgres), &[&platform, &mid, &now_ms]).await?;
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
            &sql::conversation_by_external_id(Postgres),
            &[&platform, &ext],
        )
        .await?
        .as_ref()
        .map(open_row),
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
            &sql::continue_conversation(Postgres),
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
                    &sql::upgrade_match(Postgres),
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
        &sql::insert_conversation(Postgres),
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
        &sql::apply_facts(Postgres),
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

/// The site's side replied (see SQLite's `record_answered` for why every answer is logged).
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
        &sql::delete_old_answers(Postgres),
        &[&(now_ms - ANSWER_KEEP_MS)],
    )
    .await?;
    exec(
        tx,
        &sql::insert_answer(Postgres),
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
        &sql::mark_answered(Postgres),
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
        &sql::answers_to_claim(Postgres),
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
        exec(tx, &sql::claim_answer(Postgres), &[id, &conversation]).await?;
    }
    exec(
        tx,
        &sql::mark_answered(Postgres),
        &[&conversation, &first, &now_ms],
    )
    .await?;
    let earlier: BTreeSet<i64> = claimed.iter().filter_map(|(_, _, c)| *c).collect();
    for old in earlier {
        exec(
            tx,
            &sql::recount_answers(Postgres),
            &[&old, &at_ms, &now_ms],
        )
        .await?;
    }
    Ok(())
}

/// The start parameter of the person's latest unused bot opening before `at_ms`, if it had one.
async fn latest_bot_open(
    tx: &Transaction<'_>,
    platform: &str,
    user: &ChatUser,
    at_ms: i64,
) -> Result<Option<String>, StoreError> {
    let (from, to) = sql::bot_open_window(at_ms);
    Ok(opt(
        tx,
        &sql::latest_bot_open(Postgres),
        &[
            &platform,
            &from,
            &to,
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
    let (from, to) = sql::bot_open_window(at_ms);
    let used = exec(
        tx,
        &sql::use_bot_opens(Postgres),
        &[
            &platform,
            &from,
            &to,
            &user.user_id,
            &user.phone,
            &user.username,
            &conversation,
        ],
    )
    .await?;
    if used > 0 {
        // The opening may name the person more fully (a username the message lacks).
        exec(tx, &sql::person_from_bot_open(Postgres), &[&conversation]).await?;
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
        let fresh = exec(tx, &sql::mark_seen(Postgres), &[&platform, &id, &now_ms]).await?;
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
        &sql::insert_bot_open(Postgres),
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
        &sql::insert_unreadable(Postgres),
        &[
            &u.platform.as_str(),
            &u.reason.as_str(),
            &u.detail,
            &u.raw,
            &now_ms,
        ],
    )
    .await?;
    Ok(())
}
