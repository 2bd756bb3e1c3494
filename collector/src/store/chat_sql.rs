//! The chat side's statements, written once for both backends (rendered by [`Dialect`]).
//!
//! Each function is one statement of `store/{sqlite,postgres}/chats.rs`; its doc names the
//! parameters in order. The steps around them (when a statement runs, what its rows mean) are
//! the backends' `record_message` and friends, with the non-SQL rules in
//! [`crate::store::chat_rules`]. Row assembly shared by both is at the end.

use chattag_core::ChatId;

use crate::chats::matching::{ClickCandidate, Method};
use crate::chats::model::CONVERSATION_GAP_MS;
use crate::store::chat_rules::BOT_OPEN_SKEW_MS;
use crate::store::dialect::Dialect;

/// Row IDs of `table` whose platform is `$1` and that name the person by `$4` (user ID), `$5`
/// (phone) or `$6` (username, without case) — or by `extra` — as a union of indexed lookups.
fn person(d: Dialect, table: &str, extra: &str) -> String {
    let username = d.eq_nocase("username", "$6::text");
    let mut terms = vec!["chat_user_id = $4::text", "phone = $5::text", &username];
    if !extra.is_empty() {
        terms.push(extra);
    }
    terms
        .iter()
        .map(|t| format!("SELECT id FROM {table} WHERE platform = $1::text AND {t}"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// The person's current conversation: the latest one active since `$2` that names them by any
/// identifier (`$3` stored key, `$4` user ID, `$5` phone, `$6` username), started by `$7` when
/// given. Columns: [`Open::COLUMNS`].
pub fn open_conversation(d: Dialect) -> String {
    d.render(&format!(
        "SELECT id, chat_id, method FROM conversations WHERE id IN ({})
           AND last_message_at >= $2::bigint AND started_at <= coalesce($7::bigint, started_at)
         ORDER BY started_at DESC LIMIT 1",
        person(d, "conversations", "user_key = $3::text")
    ))
}

/// The conversation a CRM keeps as (`$1` platform, `$2` external ID). Columns: [`Open::COLUMNS`].
pub fn conversation_by_external_id(d: Dialect) -> String {
    d.render(
        "SELECT id, chat_id, method FROM conversations WHERE platform = $1 AND external_id = $2",
    )
}

/// The site whose mapping holds chat ID `$1` (the most recently active, should two sites share it).
pub fn site_of(d: Dialect) -> String {
    d.render("SELECT site FROM chats WHERE chat_id = $1 ORDER BY last_seen DESC LIMIT 1")
}

/// Clicks on messenger `$1` between `$2` and `$3`, each with whether a conversation started by
/// `$4` already carries its ID exactly. Columns: chat_id, messenger, target, ts, claimed
/// (see [`click_candidate`]).
pub fn click_candidates(d: Dialect) -> String {
    d.render(
        "SELECT k.chat_id, k.messenger, k.target, k.ts,
                EXISTS (SELECT 1 FROM conversations c WHERE c.chat_id = k.chat_id
                        AND c.method IN ('exact-link', 'exact-text') AND c.started_at <= $4)
         FROM clicks k WHERE k.messenger = $1 AND k.ts BETWEEN $2 AND $3 LIMIT 1000",
    )
}

/// Remembers a platform's message or event ID (`$1` platform, `$2` ID, `$3` now); changes no
/// row for one seen before.
pub fn mark_seen(d: Dialect) -> String {
    d.render(
        "INSERT INTO inbound_seen (platform, message_id, received_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
}

/// A message continues conversation `$1`: `$2` counts it (a webhook message, not a CRM
/// report), `$3` its time, `$4`–`$9` fill what was unknown (username, name, phone, user ID,
/// text, ad click ID), `$10` now.
pub fn continue_conversation(d: Dialect) -> String {
    d.render(&format!(
        "UPDATE conversations SET
            messages = messages + CASE WHEN $2::boolean THEN 1 ELSE 0 END,
            last_message_at = {greatest}(last_message_at, $3::bigint),
            started_at = {least}(started_at, $3::bigint),
            username = coalesce(username, $4::text), display_name = coalesce(display_name, $5::text),
            phone = coalesce(phone, $6::text), chat_user_id = coalesce(chat_user_id, $7::text),
            first_text = coalesce(first_text, $8::text), ad_click_id = coalesce(ad_click_id, $9::text),
            updated_at = $10::bigint
         WHERE id = $1",
        greatest = d.greatest(),
        least = d.least(),
    ))
}

/// Conversation `$1` is now matched exactly: `$2` chat ID, `$3` method, `$4` site, `$5` now.
pub fn upgrade_match(d: Dialect) -> String {
    d.render(
        "UPDATE conversations SET chat_id = $2, method = $3, reason = NULL, site = $4, updated_at = $5 WHERE id = $1",
    )
}

/// A new conversation: `$1` platform, `$2` user key, `$3` user ID, `$4` username, `$5` phone,
/// `$6` name, `$7` account, `$8` start, `$9` first text, `$10` start parameter, `$11` chat ID,
/// `$12` site, `$13` method, `$14` reason, `$15` ad click ID, `$16` source, `$17` external ID,
/// `$18` now. Returns its id.
pub fn insert_conversation(d: Dialect) -> String {
    d.render(
        "INSERT INTO conversations (platform, user_key, chat_user_id, username, phone, display_name, account,
            started_at, last_message_at, messages, first_text, start_param, chat_id, site, method, reason,
            ad_click_id, source, external_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 1, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18)
         RETURNING id",
    )
}

/// Later facts about conversation `$1` overwrite what was known, except `answered` (`$2`),
/// which never goes back from 1 to 0 by omission: `$3` tag, `$4` revenue, `$5` currency, `$6`
/// page URL, `$7` chat URL, `$8` messages, `$9` now.
pub fn apply_facts(d: Dialect) -> String {
    d.render(
        "UPDATE conversations SET
            answered = coalesce($2::bigint, answered),
            answered_at = CASE WHEN $2::bigint = 1 THEN coalesce(answered_at, $9::bigint) ELSE answered_at END,
            tag = coalesce($3::text, tag),
            -- A new amount (or currency) gets a new time: it is the DateTime of its conversion.
            revenue_at = CASE WHEN $4::text IS NOT NULL AND (revenue IS NULL OR revenue <> $4::text OR coalesce(currency, '') <> coalesce($5::text, currency, ''))
                              THEN $9::bigint ELSE revenue_at END,
            revenue = coalesce($4::text, revenue), currency = coalesce($5::text, currency),
            page_url = coalesce($6::text, page_url), chat_url = coalesce($7::text, chat_url),
            messages = coalesce($8::bigint, messages), updated_at = $9::bigint
         WHERE id = $1",
    )
}

/// Forgets answers received before `$1` (unclaimed ones have waited long enough).
pub fn delete_old_answers(d: Dialect) -> String {
    d.render("DELETE FROM answers WHERE received_at < $1")
}

/// Logs an answer: `$1` platform, `$2` user ID, `$3` username, `$4` phone, `$5` its time, `$6`
/// the conversation it applied to (none yet: waiting), `$7` now.
pub fn insert_answer(d: Dialect) -> String {
    d.render(
        "INSERT INTO answers (platform, chat_user_id, username, phone, at_ms, conversation, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
}

/// Conversation `$1` was answered at `$2` (the earliest answer wins); `$3` now.
pub fn mark_answered(d: Dialect) -> String {
    d.render(&format!(
        "UPDATE conversations SET answered = 1, answered_at = {least}(coalesce(answered_at, $2::bigint), $2::bigint), updated_at = $3 WHERE id = $1",
        least = d.least(),
    ))
}

/// The person's answers (`$1`, `$4`–`$6` as in [`open_conversation`]) timed between `$2` and
/// `$3` and not yet applied to conversation `$7`. Columns: id, at_ms, conversation.
pub fn answers_to_claim(d: Dialect) -> String {
    d.render(&format!(
        "SELECT id, at_ms, conversation FROM answers WHERE id IN ({})
           AND at_ms BETWEEN $2::bigint AND $3::bigint AND coalesce(conversation, 0) <> $7::bigint",
        person(d, "answers", "")
    ))
}

/// Answer `$1` belongs to conversation `$2`.
pub fn claim_answer(d: Dialect) -> String {
    d.render("UPDATE answers SET conversation = $2 WHERE id = $1")
}

/// Conversation `$1` lost answers timed from `$2` on: `answered` again from what it keeps; `$3` now.
pub fn recount_answers(d: Dialect) -> String {
    d.render(&format!(
        "UPDATE conversations SET
            answered_at = (SELECT min(at_ms) FROM answers WHERE conversation = $1),
            answered = (SELECT {} FROM answers WHERE conversation = $1),
            updated_at = $3
         WHERE id = $1 AND answered_at >= $2",
        d.int_of_bool("count(*) > 0")
    ))
}

/// The person's unused bot openings between `$2` and `$3` (`$1`, `$4`–`$6` as in
/// [`open_conversation`]).
fn bot_opens_of_person(d: Dialect) -> String {
    format!(
        "id IN ({}) AND used_by IS NULL AND at_ms BETWEEN $2::bigint AND $3::bigint",
        person(d, "bot_opens", "")
    )
}

/// The bot openings that count for a message at `at_ms`: from one conversation gap before it
/// to [`BOT_OPEN_SKEW_MS`] after (the opening's event may be timed just after the message).
pub fn bot_open_window(at_ms: i64) -> (i64, i64) {
    (at_ms - CONVERSATION_GAP_MS, at_ms + BOT_OPEN_SKEW_MS)
}

/// The start parameter of the person's latest unused bot opening (see [`bot_opens_of_person`]).
pub fn latest_bot_open(d: Dialect) -> String {
    d.render(&format!(
        "SELECT start_param FROM bot_opens WHERE {} ORDER BY at_ms DESC LIMIT 1",
        bot_opens_of_person(d)
    ))
}

/// The person's unused bot openings (see [`bot_opens_of_person`]) are used by conversation `$7`.
pub fn use_bot_opens(d: Dialect) -> String {
    d.render(&format!(
        "UPDATE bot_opens SET used_by = $7::bigint WHERE {}",
        bot_opens_of_person(d)
    ))
}

/// Conversation `$1` takes what its latest bot opening knew of the person and it did not.
pub fn person_from_bot_open(d: Dialect) -> String {
    d.render(
        "UPDATE conversations SET
            chat_user_id = coalesce(conversations.chat_user_id, o.chat_user_id),
            username = coalesce(conversations.username, o.username),
            phone = coalesce(conversations.phone, o.phone),
            display_name = coalesce(conversations.display_name, o.display_name)
         FROM (SELECT chat_user_id, username, phone, display_name FROM bot_opens
               WHERE used_by = $1 ORDER BY at_ms DESC LIMIT 1) AS o
         WHERE conversations.id = $1",
    )
}

/// A bot opening: `$1` platform, `$2` user ID, `$3` username, `$4` phone, `$5` name, `$6`
/// account, `$7` time, `$8` start parameter, `$9` chat ID, `$10` site, `$11` now.
pub fn insert_bot_open(d: Dialect) -> String {
    d.render(
        "INSERT INTO bot_opens (platform, chat_user_id, username, phone, display_name, account, at_ms,
            start_param, chat_id, site, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
}

/// An item kept raw: `$1` platform, `$2` reason, `$3` detail, `$4` raw, `$5` now.
pub fn insert_unreadable(d: Dialect) -> String {
    d.render(
        "INSERT INTO webhook_unreadable (platform, reason, detail, raw, received_at) VALUES ($1, $2, $3, $4, $5)",
    )
}

/// A conversation that a message may continue.
pub struct Open {
    pub id: i64,
    pub chat_id: Option<String>,
    pub method: Method,
}

impl Open {
    /// From the columns id, chat_id, method.
    pub fn new(id: i64, chat_id: Option<String>, method: &str) -> Self {
        Open {
            id,
            chat_id,
            method: Method::parse(method).unwrap_or(Method::Unmatched),
        }
    }
}

/// One row of [`click_candidates`]. Stored IDs were validated at ingest; a row that no longer
/// parses is skipped (None), not fatal.
pub fn click_candidate(
    chat_id: &str,
    messenger: String,
    target: String,
    ts_ms: i64,
    claimed: bool,
) -> Option<ClickCandidate> {
    Some(ClickCandidate {
        chat_id: ChatId::parse(chat_id).ok()?,
        messenger,
        target: Some(target),
        ts_ms,
        claimed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whitespace runs as one space, so the pins read as one line each.
    fn flat(sql: &str) -> String {
        sql.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    const PERSON_PG: &str = "SELECT id FROM conversations WHERE platform = $1::text AND chat_user_id = $4::text UNION ALL SELECT id FROM conversations WHERE platform = $1::text AND phone = $5::text UNION ALL SELECT id FROM conversations WHERE platform = $1::text AND lower(username) = lower($6::text) UNION ALL SELECT id FROM conversations WHERE platform = $1::text AND user_key = $3::text";
    const PERSON_SQLITE: &str = "SELECT id FROM conversations WHERE platform = ?1 AND chat_user_id = ?4 UNION ALL SELECT id FROM conversations WHERE platform = ?1 AND phone = ?5 UNION ALL SELECT id FROM conversations WHERE platform = ?1 AND username = ?6 COLLATE NOCASE UNION ALL SELECT id FROM conversations WHERE platform = ?1 AND user_key = ?3";

    #[test]
    fn open_conversation_per_engine() {
        assert_eq!(
            flat(&open_conversation(Dialect::Postgres)),
            format!("SELECT id, chat_id, method FROM conversations WHERE id IN ({PERSON_PG}) AND last_message_at >= $2::bigint AND started_at <= coalesce($7::bigint, started_at) ORDER BY started_at DESC LIMIT 1")
        );
        assert_eq!(
            flat(&open_conversation(Dialect::Sqlite)),
            format!("SELECT id, chat_id, method FROM conversations WHERE id IN ({PERSON_SQLITE}) AND last_message_at >= ?2 AND started_at <= coalesce(?7, started_at) ORDER BY started_at DESC LIMIT 1")
        );
    }

    #[test]
    fn continued_and_answered_per_engine() {
        assert_eq!(
            flat(&continue_conversation(Dialect::Postgres)),
            "UPDATE conversations SET messages = messages + CASE WHEN $2::boolean THEN 1 ELSE 0 END, last_message_at = greatest(last_message_at, $3::bigint), started_at = least(started_at, $3::bigint), username = coalesce(username, $4::text), display_name = coalesce(display_name, $5::text), phone = coalesce(phone, $6::text), chat_user_id = coalesce(chat_user_id, $7::text), first_text = coalesce(first_text, $8::text), ad_click_id = coalesce(ad_click_id, $9::text), updated_at = $10::bigint WHERE id = $1"
        );
        assert_eq!(
            flat(&continue_conversation(Dialect::Sqlite)),
            "UPDATE conversations SET messages = messages + CASE WHEN ?2 THEN 1 ELSE 0 END, last_message_at = max(last_message_at, ?3), started_at = min(started_at, ?3), username = coalesce(username, ?4), display_name = coalesce(display_name, ?5), phone = coalesce(phone, ?6), chat_user_id = coalesce(chat_user_id, ?7), first_text = coalesce(first_text, ?8), ad_click_id = coalesce(ad_click_id, ?9), updated_at = ?10 WHERE id = ?1"
        );
        assert_eq!(
            flat(&mark_answered(Dialect::Postgres)),
            "UPDATE conversations SET answered = 1, answered_at = least(coalesce(answered_at, $2::bigint), $2::bigint), updated_at = $3 WHERE id = $1"
        );
        assert_eq!(
            flat(&mark_answered(Dialect::Sqlite)),
            "UPDATE conversations SET answered = 1, answered_at = min(coalesce(answered_at, ?2), ?2), updated_at = ?3 WHERE id = ?1"
        );
        assert_eq!(
            flat(&recount_answers(Dialect::Postgres)),
            "UPDATE conversations SET answered_at = (SELECT min(at_ms) FROM answers WHERE conversation = $1), answered = (SELECT (count(*) > 0)::int FROM answers WHERE conversation = $1), updated_at = $3 WHERE id = $1 AND answered_at >= $2"
        );
        assert_eq!(
            flat(&recount_answers(Dialect::Sqlite)),
            "UPDATE conversations SET answered_at = (SELECT min(at_ms) FROM answers WHERE conversation = ?1), answered = (SELECT count(*) > 0 FROM answers WHERE conversation = ?1), updated_at = ?3 WHERE id = ?1 AND answered_at >= ?2"
        );
    }

    #[test]
    fn bot_opens_per_engine() {
        let person = |pg: bool| {
            let (p1, p4, p5, user) = if pg {
                (
                    "$1::text",
                    "$4::text",
                    "$5::text",
                    "lower(username) = lower($6::text)",
                )
            } else {
                ("?1", "?4", "?5", "username = ?6 COLLATE NOCASE")
            };
            format!("SELECT id FROM bot_opens WHERE platform = {p1} AND chat_user_id = {p4} UNION ALL SELECT id FROM bot_opens WHERE platform = {p1} AND phone = {p5} UNION ALL SELECT id FROM bot_opens WHERE platform = {p1} AND {user}")
        };
        assert_eq!(
            flat(&use_bot_opens(Dialect::Postgres)),
            format!("UPDATE bot_opens SET used_by = $7::bigint WHERE id IN ({}) AND used_by IS NULL AND at_ms BETWEEN $2::bigint AND $3::bigint", person(true))
        );
        assert_eq!(
            flat(&use_bot_opens(Dialect::Sqlite)),
            format!("UPDATE bot_opens SET used_by = ?7 WHERE id IN ({}) AND used_by IS NULL AND at_ms BETWEEN ?2 AND ?3", person(false))
        );
    }

    /// Every shared statement: no placeholder of the other engine, no cast left for SQLite.
    #[test]
    fn every_statement_speaks_its_engine() {
        let all: [fn(Dialect) -> String; 20] = [
            open_conversation,
            conversation_by_external_id,
            site_of,
            click_candidates,
            mark_seen,
            continue_conversation,
            upgrade_match,
            insert_conversation,
            apply_facts,
            delete_old_answers,
            insert_answer,
            mark_answered,
            answers_to_claim,
            claim_answer,
            recount_answers,
            latest_bot_open,
            use_bot_opens,
            person_from_bot_open,
            insert_bot_open,
            insert_unreadable,
        ];
        for statement in all {
            let (pg, lite) = (statement(Dialect::Postgres), statement(Dialect::Sqlite));
            assert!(!pg.contains('?'), "{pg}");
            assert!(!pg.contains("COLLATE NOCASE"), "{pg}");
            assert!(!lite.contains('$') && !lite.contains("::"), "{lite}");
            assert!(
                !lite.contains("greatest(") && !lite.contains("least("),
                "{lite}"
            );
            assert!(!lite.contains("lower("), "{lite}");
        }
    }

    #[test]
    fn click_rows_that_no_longer_parse_are_skipped() {
        assert!(click_candidate("not an id", "telegram".into(), "t".into(), 1, false).is_none());
    }
}
