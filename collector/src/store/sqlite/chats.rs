//! Conversations in SQLite: recording inbound messages and later facts, matching inside the same
//! transaction (so two webhook deliveries cannot both open a conversation for one person).
//!
//! A *conversation* is one person on one platform talking to the site, from its first message
//! until a gap of [`CONVERSATION_GAP_MS`] or a message carrying a *different* chat ID (a new ad
//! click, so a new chat for Metrica). The mapping tables of the event side (`chats`, `clicks`)
//! are read here, never written.

use async_trait::async_trait;
use chattag_core::ChatId;
use rusqlite::{params, Connection, OptionalExtension};

use super::SqliteStore;
use crate::chats::inbound::{Answered, Inbound, InboundMessage};
use crate::chats::intake::ValidIntake;
use crate::chats::matching::{
    self, ChatStartFacts, ClickCandidate, IdEvidence, MatchSettings, Method,
};
use crate::chats::model::{Delivery, IntakeSource, LaterFacts, Written, CONVERSATION_GAP_MS};
use crate::clock::now_ms;
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
                    Inbound::Answered(a) => {
                        if record_answered(conn, a, now)?.is_some() {
                            d.answered += 1;
                        }
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Recorded {
    /// A new conversation row, and how it was matched.
    Opened(i64, Method),
    /// An existing conversation got the message (and maybe a better match).
    Continued(i64),
    /// The platform delivered this message before (webhook retry).
    Duplicate,
}

struct Open {
    id: i64,
    chat_id: Option<String>,
    method: Method,
}

fn open_conversation(
    conn: &Connection,
    platform: &str,
    user_key: &str,
    at_ms: i64,
) -> Result<Option<Open>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT id, chat_id, method FROM conversations
             WHERE platform = ?1 AND user_key = ?2 AND last_message_at >= ?3
             ORDER BY started_at DESC LIMIT 1",
        )?
        .query_row(
            params![platform, user_key, at_ms - CONVERSATION_GAP_MS],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                ))
            },
        )
        .optional()?;
    Ok(row.map(|(id, chat_id, method)| Open {
        id,
        chat_id,
        method: Method::parse(&method).unwrap_or(Method::Unmatched),
    }))
}

/// The site whose mapping holds this chat ID (the most recently active, should two sites share it).
fn site_of(conn: &Connection, chat_id: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT site FROM chats WHERE chat_id = ?1 ORDER BY last_seen DESC LIMIT 1",
        )?
        .query_row([chat_id], |r| r.get(0))
        .optional()?)
}

fn click_candidates(
    conn: &Connection,
    messenger: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<ClickCandidate>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT chat_id, messenger, target, ts FROM clicks WHERE messenger = ?1 AND ts BETWEEN ?2 AND ?3 LIMIT 1000",
    )?;
    let rows = stmt.query_map(params![messenger, from_ms, to_ms], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (chat_id, messenger, target, ts_ms) = row?;
        // Stored IDs were validated at ingest; a row that no longer parses is skipped, not fatal.
        if let Ok(chat_id) = ChatId::parse(&chat_id) {
            out.push(ClickCandidate {
                chat_id,
                messenger,
                target: Some(target),
                ts_ms,
            });
        }
    }
    Ok(out)
}

/// Where a message comes from and what came with it.
#[derive(Clone, Debug)]
struct Provenance<'a> {
    /// `webhook`, `api` (POST /v1/chats) or `csv` (import).
    pub source: &'a str,
    /// The CRM's own ID of the chat: reports with the same one update it.
    pub external_id: Option<&'a str>,
    /// An ID the intake was given explicitly; otherwise it comes from the start parameter or text.
    pub evidence: Option<IdEvidence>,
    pub facts: &'a LaterFacts,
}

impl Provenance<'static> {
    pub fn webhook() -> Provenance<'static> {
        static NONE: LaterFacts = LaterFacts {
            answered: None,
            tag: None,
            revenue: None,
            currency: None,
            page_url: None,
            chat_url: None,
            messages: None,
        };
        Provenance {
            source: "webhook",
            external_id: None,
            evidence: None,
            facts: &NONE,
        }
    }
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
            .prepare_cached("INSERT INTO inbound_seen (platform, message_id, received_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")?
            .execute(params![platform, mid, now_ms])?;
        if fresh == 0 {
            return Ok(Recorded::Duplicate);
        }
    }
    let Some(user_key) = msg
        .user
        .key()
        .or_else(|| external_id.map(|e| format!("ext:{e}")))
    else {
        return Err(StoreError::NoChatPartner);
    };
    let evidence = evidence_override.unwrap_or_else(|| {
        matching::id_evidence(
            msg.start_param.as_deref(),
            msg.text.as_deref(),
            &settings.prefixes,
        )
    });
    let evidence_id = match &evidence {
        IdEvidence::Link(id) | IdEvidence::Text(id) => Some(id.as_str().to_string()),
        _ => None,
    };

    let existing = match external_id {
        Some(ext) => conn
            .prepare_cached("SELECT id, chat_id, method FROM conversations WHERE platform = ?1 AND external_id = ?2")?
            .query_row(params![platform, ext], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, String>(2)?)))
            .optional()?
            .map(|(id, chat_id, m)| Open { id, chat_id, method: Method::parse(&m).unwrap_or(Method::Unmatched) }),
        None => open_conversation(conn, platform, &user_key, msg.at_ms)?
            // A different exact ID means a new visit → a new chat for Metrica.
            .filter(|open| !(open.method.is_exact() && evidence_id.is_some() && evidence_id != open.chat_id)),
    };

    if let Some(open) = existing {
        conn.prepare_cached(
            "UPDATE conversations SET
                messages = messages + CASE WHEN ?2 THEN 1 ELSE 0 END,
                last_message_at = max(last_message_at, ?3),
                started_at = min(started_at, ?3),
                username = coalesce(username, ?4), display_name = coalesce(display_name, ?5),
                phone = coalesce(phone, ?6), chat_user_id = coalesce(chat_user_id, ?7),
                first_text = coalesce(first_text, ?8), ad_click_id = coalesce(ad_click_id, ?9),
                updated_at = ?10
             WHERE id = ?1",
        )?
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
                conn.prepare_cached(
                    "UPDATE conversations SET chat_id = ?2, method = ?3, reason = NULL, site = ?4, updated_at = ?5 WHERE id = ?1",
                )?
                .execute(params![open.id, id.as_str(), method.as_str(), site, now_ms])?;
            }
        }
        apply_facts(conn, open.id, facts, now_ms)?;
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
    conn.prepare_cached(
        "INSERT INTO conversations (platform, user_key, chat_user_id, username, phone, display_name, account,
            started_at, last_message_at, messages, first_text, start_param, chat_id, site, method, reason,
            ad_click_id, source, external_id, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, 1, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?18)",
    )?
    .execute(params![
        platform,
        user_key,
        msg.user.user_id,
        msg.user.username,
        msg.user.phone,
        msg.user.name,
        msg.account,
        msg.at_ms,
        msg.text,
        msg.start_param,
        decision.chat_id.as_ref().map(|c| c.as_str()),
        site,
        decision.method.as_str(),
        decision.reason.map(|r| r.code()),
        msg.ad_click_id,
        source,
        external_id,
        now_ms
    ])?;
    let id = conn.last_insert_rowid();
    apply_facts(conn, id, facts, now_ms)?;
    Ok(Recorded::Opened(id, decision.method))
}

fn method_of(e: &IdEvidence) -> Method {
    match e {
        IdEvidence::Link(_) => Method::ExactLink,
        IdEvidence::Text(_) => Method::ExactText,
        _ => Method::Unmatched,
    }
}

/// Later facts overwrite what was known (a CRM corrects revenue), except `answered`, which
/// never goes back from 1 to 0 by omission.
fn apply_facts(conn: &Connection, id: i64, f: &LaterFacts, now_ms: i64) -> Result<(), StoreError> {
    if *f == LaterFacts::default() {
        return Ok(());
    }
    conn.prepare_cached(
        "UPDATE conversations SET
            answered = coalesce(?2, answered),
            answered_at = CASE WHEN ?2 = 1 THEN coalesce(answered_at, ?9) ELSE answered_at END,
            tag = coalesce(?3, tag), revenue = coalesce(?4, revenue), currency = coalesce(?5, currency),
            page_url = coalesce(?6, page_url), chat_url = coalesce(?7, chat_url),
            messages = coalesce(?8, messages), updated_at = ?9
         WHERE id = ?1",
    )?
    .execute(params![id, f.answered, f.tag, f.revenue, f.currency, f.page_url, f.chat_url, f.messages, now_ms])?;
    Ok(())
}

/// The site's side replied: the person's current conversation is answered.
fn record_answered(
    conn: &Connection,
    a: &Answered,
    now_ms: i64,
) -> Result<Option<i64>, StoreError> {
    let Some(open) = open_conversation(conn, a.platform.as_str(), &a.user_key, a.at_ms)? else {
        return Ok(None);
    };
    conn.prepare_cached(
        "UPDATE conversations SET answered = 1, answered_at = min(coalesce(answered_at, ?2), ?2), updated_at = ?3 WHERE id = ?1",
    )?
    .execute(params![open.id, a.at_ms, now_ms])?;
    Ok(Some(open.id))
}
