//! Conversations in SQLite: recording inbound messages and later facts, matching inside the same
//! transaction (so two webhook deliveries cannot both open a conversation for one person).
//!
//! A *conversation* is one person on one platform talking to the site, from its first message
//! until a gap of [`CONVERSATION_GAP_MS`] or a message carrying a *different* chat ID (a new ad
//! click, so a new chat for Metrica). The mapping tables of the event side (`chats`, `clicks`)
//! are read here, never written.
//!
//! A person is whoever a payload names by user ID, phone or username (any one matches). Beside
//! conversations: `bot_opens` (the person opened the bot; its code is the evidence of their next
//! message), `answers` (every answer, so one that overtook its message is claimed when that
//! message opens the conversation) and `webhook_unreadable` (items kept raw).

use std::collections::BTreeSet;

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};

use super::SqliteStore;
use crate::chats::inbound::{Answered, BotOpened, ChatUser, Inbound, InboundMessage, Unreadable};
use crate::chats::intake::ValidIntake;
use crate::chats::matching::{self, ChatStartFacts, ClickCandidate, IdEvidence, MatchSettings};
use crate::chats::model::{Delivery, IntakeSource, LaterFacts, Written, CONVERSATION_GAP_MS};
use crate::clock::now_ms;
use crate::store::chat_rules::{
    self as rules, method_of, Answer, Provenance, Recorded, ANSWER_KEEP_MS,
};
use crate::store::chat_sql::{self as sql, Open};
use crate::store::dialect::Dialect::Sqlite;
use crate::store::{ChatStore, StoreError};

#[async_trait]
impl ChatStore for SqliteStore {
    async fn record_delivery(
        &self,
        items: Vec<Inbound>,
        settings: MatchSettings,
    ) -> Result<Delivery, StoreError> {
        self.write(move |conn| {
            let now = now_ms();
            let mut d = Delivery::default();
            for item in &items {
                match item {
                    Inbound::Message(m) => {
                        match record_message(conn, m, Provenance::webhook(), &settings, now)? {
                            Recorded::Opened(_, method) => {
                                d.opened += 1;
                                d.methods.push(method);
                            }
                            Recorded::Continued(_) => d.continued += 1,
                            Recorded::Duplicate => d.duplicates += 1,
                        }
                    }
                    Inbound::Answered(a) => match record_answered(conn, a, now)? {
                        Answer::Applied => d.answered += 1,
                        Answer::Pending => d.pending_answers += 1,
                    },
                    Inbound::BotOpened(b) => {
                        if record_bot_open(conn, b, &settings, now)? {
                            d.bot_opens += 1;
                        } else {
                            d.duplicates += 1;
                        }
                    }
                    Inbound::Unreadable(u) => {
                        record_unreadable(conn, u, now)?;
                        d.unreadable += 1;
                    }
                }
            }
            Ok(d)
        })
        .await
    }

    async fn record_intake(
        &self,
        valid: Vec<ValidIntake>,
        settings: MatchSettings,
        source: IntakeSource,
    ) -> Result<Vec<Written>, StoreError> {
        self.write(move |conn| {
            let now = now_ms();
            let mut out = Vec::with_capacity(valid.len());
            for v in &valid {
                let origin = Provenance {
                    source: source.as_str(),
                    external_id: v.external_id.as_deref(),
                    evidence: v.evidence.clone(),
                    facts: &v.facts,
                };
                match record_message(conn, &v.message, origin, &settings, now)? {
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
            Ok(out)
        })
        .await
    }
}

/// The person's current conversation: the latest one active within [`CONVERSATION_GAP_MS`]
/// that names them by any identifier this payload gives (stored key, user ID, phone, username).
///
/// `started_by`: only conversations started by then (an answer belongs to a conversation that
/// existed when it was given; a message may be an earlier one delivered late).
fn open_conversation(
    conn: &Connection,
    platform: &str,
    user: &ChatUser,
    user_key: Option<&str>,
    at_ms: i64,
    started_by: Option<i64>,
) -> Result<Option<Open>, StoreError> {
    Ok(conn
        .prepare_cached(&sql::open_conversation(Sqlite))?
        .query_row(
            params![
                platform,
                at_ms - CONVERSATION_GAP_MS,
                user_key,
                user.user_id,
                user.phone,
                user.username,
                started_by
            ],
            open_row,
        )
        .optional()?)
}

/// An [`Open`] from the columns id, chat_id, method.
fn open_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Open> {
    Ok(Open::new(r.get(0)?, r.get(1)?, &r.get::<_, String>(2)?))
}

/// The site whose mapping holds this chat ID (the most recently active, should two sites share it).
fn site_of(conn: &Connection, chat_id: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached(&sql::site_of(Sqlite))?
        .query_row([chat_id], |r| r.get(0))
        .optional()?)
}

fn click_candidates(
    conn: &Connection,
    messenger: &str,
    from_ms: i64,
    to_ms: i64,
    chat_start_ms: i64,
) -> Result<Vec<ClickCandidate>, StoreError> {
    let mut stmt = conn.prepare_cached(&sql::click_candidates(Sqlite))?;
    let rows = stmt.query_map(params![messenger, from_ms, to_ms, chat_start_ms], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, bool>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (chat_id, messenger, target, ts_ms, claimed) = row?;
        out.extend(sql::click_candidate(
            &chat_id, messenger, target, ts_ms, claimed,
        ));
    }
    Ok(out)
}

/// Records one inbound message, matching it when it opens a conversation.
fn record_message(
    conn: &Connection,
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
        let fresh = conn
            .prepare_cached(&sql::mark_seen(Sqlite))?
            .execute(params![platform, mid, now_ms])?;
        if fresh == 0 {
            return Ok(Recorded::Duplicate);
        }
    }
    let Some(user_key) = rules::user_key(msg, external_id) else {
        return Err(StoreError::NoChatPartner);
    };
    let opened = match source {
        "webhook" => latest_bot_open(conn, platform, &msg.user, msg.at_ms)?,
        _ => None,
    };
    let (evidence, start_param) = rules::evidence(msg, evidence_override, opened, settings);
    let evidence_id = rules::evidence_id(&evidence);

    let existing = match external_id {
        Some(ext) => conn
            .prepare_cached(&sql::conversation_by_external_id(Sqlite))?
            .query_row(params![platform, ext], open_row)
            .optional()?,
        None => open_conversation(conn, platform, &msg.user, Some(&user_key), msg.at_ms, None)?
            // A different exact ID means a new visit → a new chat for Metrica.
            .filter(|open| {
                !(open.method.is_exact() && evidence_id.is_some() && evidence_id != open.chat_id)
            }),
    };

    if let Some(open) = existing {
        conn.prepare_cached(&sql::continue_conversation(Sqlite))?
            .execute(params![
                open.id,
                // A CRM report about a known chat is not a new message from the person; it may set
                // `messages` itself.
                source == "webhook",
                msg.at_ms,
                msg.user.username,
                msg.user.name,
                msg.user.phone,
                msg.user.user_id,
                msg.text,
                msg.ad_click_id,
                now_ms
            ])?;
        // A later message may carry the ID the first one lacked: upgrade, never downgrade.
        if !open.method.is_exact() {
            if let (IdEvidence::Link(id) | IdEvidence::Text(id), method) =
                (&evidence, method_of(&evidence))
            {
                let site = site_of(conn, id.as_str())?;
                conn.prepare_cached(&sql::upgrade_match(Sqlite))?
                    .execute(params![open.id, id.as_str(), method.as_str(), site, now_ms])?;
            }
        }
        apply_facts(conn, open.id, facts, now_ms)?;
        use_bot_opens(conn, platform, &msg.user, msg.at_ms, open.id)?;
        return Ok(Recorded::Continued(open.id));
    }

    let messenger = msg.platform.snippet_messenger();
    let window = settings.window;
    let clicks = match (&evidence, messenger) {
        (IdEvidence::Link(_) | IdEvidence::Text(_), _) | (_, None) => Vec::new(),
        (_, Some(m)) => click_candidates(
            conn,
            m,
            msg.at_ms - window.before_ms,
            msg.at_ms + window.skew_ms,
            msg.at_ms,
        )?,
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
        Some(id) => site_of(conn, id.as_str())?,
        None => None,
    };
    let id: i64 = conn
        .prepare_cached(&sql::insert_conversation(Sqlite))?
        .query_row(
            params![
                platform,
                user_key,
                msg.user.user_id,
                msg.user.username,
                msg.user.phone,
                msg.user.name,
                msg.account,
                msg.at_ms,
                msg.text,
                start_param,
                decision.chat_id.as_ref().map(|c| c.as_str()),
                site,
                decision.method.as_str(),
                decision.reason.map(|r| r.code()),
                msg.ad_click_id,
                source,
                external_id,
                now_ms
            ],
            |r| r.get(0),
        )?;
    apply_facts(conn, id, facts, now_ms)?;
    use_bot_opens(conn, platform, &msg.user, msg.at_ms, id)?;
    claim_answers(conn, id, platform, &msg.user, msg.at_ms, now_ms)?;
    Ok(Recorded::Opened(id, decision.method))
}

/// Later facts overwrite what was known (a CRM corrects revenue), except `answered`, which
/// never goes back from 1 to 0 by omission.
fn apply_facts(conn: &Connection, id: i64, f: &LaterFacts, now_ms: i64) -> Result<(), StoreError> {
    if *f == LaterFacts::default() {
        return Ok(());
    }
    conn.prepare_cached(&sql::apply_facts(Sqlite))?
        .execute(params![
            id, f.answered, f.tag, f.revenue, f.currency, f.page_url, f.chat_url, f.messages,
            now_ms
        ])?;
    Ok(())
}

/// The site's side replied: the person's current conversation is answered. Every answer is
/// logged, so that a conversation opened later by a message timed before it (the status
/// overtook the message) claims it; one for a person without a conversation waits there.
fn record_answered(conn: &Connection, a: &Answered, now_ms: i64) -> Result<Answer, StoreError> {
    let platform = a.platform.as_str();
    let open = open_conversation(
        conn,
        platform,
        &a.partner,
        a.partner.key().as_deref(),
        a.at_ms,
        Some(a.at_ms),
    )?;
    conn.prepare_cached(&sql::delete_old_answers(Sqlite))?
        .execute([now_ms - ANSWER_KEEP_MS])?;
    conn.prepare_cached(&sql::insert_answer(Sqlite))?
        .execute(params![
            platform,
            a.partner.user_id,
            a.partner.username,
            a.partner.phone,
            a.at_ms,
            open.as_ref().map(|o| o.id),
            now_ms
        ])?;
    let Some(open) = open else {
        return Ok(Answer::Pending);
    };
    conn.prepare_cached(&sql::mark_answered(Sqlite))?
        .execute(params![open.id, a.at_ms, now_ms])?;
    Ok(Answer::Applied)
}

/// A conversation that just opened at `at_ms` claims the person's answers timed after it:
/// waiting ones, and ones applied to an earlier conversation only because this message had not
/// arrived yet. That earlier conversation loses `answered` when nothing else answered it.
fn claim_answers(
    conn: &Connection,
    conversation: i64,
    platform: &str,
    user: &ChatUser,
    at_ms: i64,
    now_ms: i64,
) -> Result<(), StoreError> {
    let who = params![
        platform,
        at_ms,
        at_ms + CONVERSATION_GAP_MS,
        user.user_id,
        user.phone,
        user.username,
        conversation
    ];
    let mut stmt = conn.prepare_cached(&sql::answers_to_claim(Sqlite))?;
    let claimed = stmt
        .query_map(who, |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let Some(first) = claimed.iter().map(|(_, at, _)| *at).min() else {
        return Ok(());
    };
    for (id, _, _) in &claimed {
        conn.prepare_cached(&sql::claim_answer(Sqlite))?
            .execute(params![id, conversation])?;
    }
    conn.prepare_cached(&sql::mark_answered(Sqlite))?
        .execute(params![conversation, first, now_ms])?;
    let earlier: BTreeSet<i64> = claimed.iter().filter_map(|(_, _, c)| *c).collect();
    for old in earlier {
        conn.prepare_cached(&sql::recount_answers(Sqlite))?
            .execute(params![old, at_ms, now_ms])?;
    }
    Ok(())
}

/// The start parameter of the person's latest unused bot opening before `at_ms`, if it had one.
fn latest_bot_open(
    conn: &Connection,
    platform: &str,
    user: &ChatUser,
    at_ms: i64,
) -> Result<Option<String>, StoreError> {
    let (from, to) = sql::bot_open_window(at_ms);
    Ok(conn
        .prepare_cached(&sql::latest_bot_open(Sqlite))?
        .query_row(
            params![platform, from, to, user.user_id, user.phone, user.username],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten())
}

/// The person's message consumes their earlier bot openings: each applies to one next message.
fn use_bot_opens(
    conn: &Connection,
    platform: &str,
    user: &ChatUser,
    at_ms: i64,
    conversation: i64,
) -> Result<(), StoreError> {
    let (from, to) = sql::bot_open_window(at_ms);
    let used = conn
        .prepare_cached(&sql::use_bot_opens(Sqlite))?
        .execute(params![
            platform,
            from,
            to,
            user.user_id,
            user.phone,
            user.username,
            conversation
        ])?;
    if used > 0 {
        // The opening may name the person more fully (a username the message lacks).
        conn.prepare_cached(&sql::person_from_bot_open(Sqlite))?
            .execute([conversation])?;
    }
    Ok(())
}

/// Keeps a bot opening (once per platform event). Returns false for a retried one.
fn record_bot_open(
    conn: &Connection,
    b: &BotOpened,
    settings: &MatchSettings,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let platform = b.platform.as_str();
    if let Some(id) = b.event_id.as_deref() {
        let fresh = conn
            .prepare_cached(&sql::mark_seen(Sqlite))?
            .execute(params![platform, id, now_ms])?;
        if fresh == 0 {
            return Ok(false);
        }
    }
    let chat_id = rules::bot_open_chat_id(b.start_param.as_deref(), settings);
    let site = match &chat_id {
        Some(id) => site_of(conn, id)?,
        None => None,
    };
    conn.prepare_cached(&sql::insert_bot_open(Sqlite))?
        .execute(params![
            platform,
            b.user.user_id,
            b.user.username,
            b.user.phone,
            b.user.name,
            b.account,
            b.at_ms,
            b.start_param,
            chat_id,
            site,
            now_ms
        ])?;
    Ok(true)
}

fn record_unreadable(conn: &Connection, u: &Unreadable, now_ms: i64) -> Result<(), StoreError> {
    conn.prepare_cached(&sql::insert_unreadable(Sqlite))?
        .execute(params![
            u.platform.as_str(),
            u.reason.as_str(),
            u.detail,
            u.raw,
            now_ms
        ])?;
    Ok(())
}
