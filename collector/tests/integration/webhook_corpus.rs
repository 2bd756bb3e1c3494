//! The webhook corpus end to end: the real collector receives every payload of
//! `tests/corpus/webhooks/` (105 bodies shaped like the messengers' own, see its SOURCES.md),
//! correctly signed, in the order of `expectations.json`, and what it stored after each one is
//! compared with that file: messages counted, chats opened, codes matched (on the right person's
//! chat), codes that must not be matched (someone else's words, a group), bot openings kept,
//! answers, the chat partner's identifiers, unreadable items kept raw. Then every payload is
//! delivered again (a messenger retry) and nothing may change.
//!
//! Every mismatch is collected and reported together, so a run names each defect at once.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::webhooks::Messenger;
use common::{Response, Server};
use serde_json::Value;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/webhooks")
}

/// `files` of expectations.json in the order the file lists them (serde_json's map is sorted).
fn files_in_order(raw: &str, files: &serde_json::Map<String, Value>) -> Vec<(String, Value)> {
    let mut out: Vec<(usize, String, Value)> = files
        .iter()
        .map(|(k, v)| {
            let at = raw
                .find(&format!("\"{k}\": {{"))
                .unwrap_or_else(|| panic!("{k} not found in expectations.json"));
            (at, k.clone(), v.clone())
        })
        .collect();
    out.sort_by_key(|(at, _, _)| *at);
    out.into_iter().map(|(_, k, v)| (k, v)).collect()
}

#[derive(Clone, Debug, PartialEq)]
struct Conv {
    chat_id: Option<String>,
    messages: i64,
    answered: bool,
    answered_at: Option<i64>,
    chat_user_id: Option<String>,
    phone: Option<String>,
    username: Option<String>,
    ad_click_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
struct BotOpen {
    chat_id: Option<String>,
    chat_user_id: Option<String>,
    phone: Option<String>,
    username: Option<String>,
}

/// What the collector has stored, read from its database.
#[derive(Clone, Debug, PartialEq)]
struct Stored {
    convs: BTreeMap<i64, Conv>,
    bot_opens: Vec<BotOpen>,
    /// reason of each unreadable item kept, in order.
    unreadable: Vec<String>,
    pending_answers: i64,
}

fn stored(server: &Server) -> Stored {
    let convs = server
        .rows(
            "SELECT id, chat_id, messages, answered, answered_at, chat_user_id, phone, username, ad_click_id
             FROM conversations ORDER BY id",
        )
        .iter()
        .map(|r| {
            (
                r.get::<i64>(0),
                Conv {
                    chat_id: r.get(1),
                    messages: r.get(2),
                    answered: r.get::<i64>(3) == 1,
                    answered_at: r.get(4),
                    chat_user_id: r.get(5),
                    phone: r.get(6),
                    username: r.get(7),
                    ad_click_id: r.get(8),
                },
            )
        })
        .collect();
    let bot_opens = server
        .rows("SELECT chat_id, chat_user_id, phone, username FROM bot_opens ORDER BY id")
        .iter()
        .map(|r| BotOpen {
            chat_id: r.get(0),
            chat_user_id: r.get(1),
            phone: r.get(2),
            username: r.get(3),
        })
        .collect();
    let unreadable = server
        .rows("SELECT reason FROM webhook_unreadable ORDER BY id")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let pending_answers =
        server.db_count("SELECT count(*) FROM answers WHERE conversation IS NULL");
    Stored {
        convs,
        bot_opens,
        unreadable,
        pending_answers,
    }
}

fn post(server: &Server, file: &str, body: &[u8]) -> Response {
    match file.split('/').next() {
        Some("telegram") => server.telegram(body),
        Some("whatsapp") => server.whatsapp(body),
        Some("viber") => server.viber(body),
        Some("max") => server.max(body),
        other => panic!("no messenger for {other:?}"),
    }
}

fn same_username(stored: Option<&str>, want: &str) -> bool {
    stored.is_some_and(|s| {
        s.trim_start_matches('@')
            .eq_ignore_ascii_case(want.trim_start_matches('@'))
    })
}

/// Whether a row carries every identifier the payload gives for the partner (`null`: the row
/// must have none, e.g. no phone from someone else's contact card).
fn carries(
    partner: &Value,
    user_id: Option<&str>,
    phone: Option<&str>,
    username: Option<&str>,
) -> bool {
    let fits = |k: &str, stored: Option<&str>, same: &dyn Fn(&str) -> bool| match partner.get(k) {
        None => true,
        Some(Value::Null) => stored.is_none(),
        Some(w) => w.as_str().is_some_and(same),
    };
    fits("user_id", user_id, &|w| user_id == Some(w))
        && fits("phone", phone, &|w| phone == Some(w))
        && fits("username", username, &|w| same_username(username, w))
}

/// An `answered` entry: `id:X` / `user_id:X` (a user ID), `phone:X`, or several joined by ` / `
/// (any of them names the person).
fn names_person(entry: &str, c: &Conv) -> bool {
    entry.split(" / ").any(|part| match part.split_once(':') {
        Some(("id" | "user_id", v)) => c.chat_user_id.as_deref() == Some(v),
        Some(("phone", v)) => c.phone.as_deref() == Some(v),
        _ => panic!("unknown answered entry {entry:?}"),
    })
}

fn codes_of(exp: &Value) -> Vec<String> {
    let mut out: Vec<String> = exp["codes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if let Some(c) = exp["code"].as_str() {
        out.push(c.to_owned());
    }
    out
}

fn chat_ids(s: &Stored) -> BTreeSet<String> {
    s.convs.values().filter_map(|c| c.chat_id.clone()).collect()
}

/// What went wrong with one file, as readable lines.
fn check_file(
    file: &str,
    exp: &Value,
    res: &Response,
    before: &Stored,
    after: &Stored,
    opened_codes: &BTreeSet<String>,
    follows_answer: bool,
) -> Vec<String> {
    let mut bad = Vec::new();
    let mut fail = |what: String| bad.push(format!("{file}: {what}"));
    if !(200..300).contains(&res.status) {
        fail(format!(
            "answered HTTP {} {}",
            res.status,
            String::from_utf8_lossy(&res.body)
        ));
    }
    let want_messages = exp["chat_messages"].as_i64().expect("chat_messages");
    let total = |s: &Stored| s.convs.values().map(|c| c.messages).sum::<i64>();
    let counted = total(after) - total(before);
    if counted != want_messages {
        fail(format!(
            "{counted} message(s) counted, {want_messages} expected"
        ));
    }
    let new_convs: Vec<&Conv> = after
        .convs
        .iter()
        .filter(|(id, _)| !before.convs.contains_key(id))
        .map(|(_, c)| c)
        .collect();
    if want_messages == 0 && !new_convs.is_empty() {
        fail(format!(
            "{} chat(s) opened without a message",
            new_convs.len()
        ));
    }
    let bot_open = exp["bot_open"].as_bool().unwrap_or(false);
    let new_opens = &after.bot_opens[before.bot_opens.len().min(after.bot_opens.len())..];
    if new_opens.len() != usize::from(bot_open) {
        fail(format!(
            "{} bot opening(s) kept, {} expected",
            new_opens.len(),
            u8::from(bot_open)
        ));
    }

    // Codes: where the payload carries one, it is matched (a chat's ID, or the bot opening's);
    // otherwise no chat gains an ID other than one a bot opening carried before.
    let codes = codes_of(exp);
    for code in &codes {
        let found = if bot_open {
            new_opens
                .iter()
                .any(|o| o.chat_id.as_deref() == Some(code.as_str()))
        } else {
            after
                .convs
                .values()
                .any(|c| c.chat_id.as_deref() == Some(code.as_str()))
        };
        if !found {
            fail(format!("code {code} not matched"));
        }
    }
    for gained in chat_ids(after).difference(&chat_ids(before)) {
        if !codes.contains(gained) && !opened_codes.contains(gained) {
            fail(format!(
                "a chat was matched to {gained}, which this payload does not carry"
            ));
        }
    }

    // A code the payload carries that nobody may be credited with: a forwarded or quoted
    // message (someone else wrote it), an edit, a group or channel.
    if let Some(foreign) = exp["foreign_code"].as_str() {
        let on_chat = after
            .convs
            .values()
            .any(|c| c.chat_id.as_deref() == Some(foreign));
        let on_open = new_opens
            .iter()
            .any(|o| o.chat_id.as_deref() == Some(foreign));
        if on_chat || on_open {
            fail(format!(
                "code {foreign} credited, but it is in {} (not the person's own words)",
                exp["foreign_code_in"].as_str().unwrap_or("the payload")
            ));
        }
    }
    // Several people in one delivery: each code ends on its own sender's chat.
    if let Some(owners) = exp["code_partner"].as_object() {
        for (code, partner) in owners {
            let ok = after.convs.values().any(|c| {
                c.chat_id.as_deref() == Some(code.as_str())
                    && carries(
                        partner,
                        c.chat_user_id.as_deref(),
                        c.phone.as_deref(),
                        c.username.as_deref(),
                    )
            });
            if !ok {
                fail(format!("code {code} is not on the chat of {partner}"));
            }
        }
    }

    // The chat partner: the chat that got the message (or the bot opening) carries every
    // identifier the payload gives.
    if let Some(partner) = exp.get("partner").filter(|p| p.is_object()) {
        if want_messages > 0 {
            let touched: Vec<&Conv> = after
                .convs
                .iter()
                .filter(|(id, c)| before.convs.get(id).is_none_or(|b| b.messages < c.messages))
                .map(|(_, c)| c)
                .collect();
            if !touched.iter().any(|c| {
                carries(
                    partner,
                    c.chat_user_id.as_deref(),
                    c.phone.as_deref(),
                    c.username.as_deref(),
                )
            }) {
                fail(format!(
                    "no chat that got the message carries partner {partner}: {touched:?}"
                ));
            }
        }
        if bot_open
            && !new_opens.iter().any(|o| {
                carries(
                    partner,
                    o.chat_user_id.as_deref(),
                    o.phone.as_deref(),
                    o.username.as_deref(),
                )
            })
        {
            fail(format!("the bot opening does not carry partner {partner}"));
        }
    }
    if let Some(clid) = exp["ad_click_id"].as_str() {
        if !after
            .convs
            .values()
            .any(|c| c.ad_click_id.as_deref() == Some(clid))
        {
            fail("ad click ID not kept".into());
        }
    }

    // Answers.
    let answered: Vec<&str> = exp["answered"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let newly_answered = after
        .convs
        .iter()
        .filter(|(id, c)| c.answered && before.convs.get(id).is_none_or(|b| !b.answered))
        .count();
    // A payload that answers none marks nothing answered, except the later step of a sequence
    // whose earlier step's answer was waiting for it (checked with the sequence).
    if answered.is_empty()
        && ((newly_answered > 0 && !follows_answer)
            || after.pending_answers > before.pending_answers)
    {
        fail(
            "a chat was marked answered (or an answer kept) by a payload that answers none".into(),
        );
    }
    for entry in answered {
        let known: Vec<&Conv> = after
            .convs
            .values()
            .filter(|c| names_person(entry, c))
            .collect();
        let ok = if known.is_empty() {
            // The person has not written yet: the answer waits for their message.
            after.pending_answers > before.pending_answers
        } else {
            known.iter().any(|c| c.answered)
        };
        if !ok {
            fail(format!("{entry} not answered (nor kept for later)"));
        }
    }

    // Unreadable items are kept raw with their reason; every other payload is read.
    let kept = &after.unreadable[before.unreadable.len().min(after.unreadable.len())..];
    match exp["unreadable"].as_str() {
        Some(reason) => {
            if kept != [reason.to_owned()] {
                fail(format!("kept unread: {kept:?}, expected [{reason:?}]"));
            }
        }
        None => {
            if !kept.is_empty() {
                fail(format!("kept unread: {kept:?}, expected to be read"));
            }
        }
    }
    bad
}

#[test]
fn every_corpus_payload_is_stored_as_expected() {
    let dir = corpus_dir();
    let raw = std::fs::read_to_string(dir.join("expectations.json")).expect("expectations.json");
    let exp: Value = serde_json::from_str(&raw).expect("expectations.json is JSON");
    let files = files_in_order(&raw, exp["files"].as_object().expect("files"));
    assert_eq!(files.len(), 105, "the corpus has 105 payloads");

    let server = Server::start_with_webhooks(
        &[
            Messenger::Telegram,
            Messenger::WhatsApp,
            Messenger::Viber,
            Messenger::Max,
        ],
        // Phones in clear (the owner's opt-in): this test reads them back as the messengers sent them.
        &[("CHATTAG_PHONES", "clear")],
    );
    let later_steps: BTreeSet<&str> = exp["sequences"]
        .as_array()
        .expect("sequences")
        .iter()
        .flat_map(|s| s["steps"].as_array().expect("steps").iter().skip(1))
        .filter_map(Value::as_str)
        .collect();
    let mut problems = Vec::new();
    let mut opened_codes = BTreeSet::new();
    let mut bodies = Vec::new();
    for (file, want) in &files {
        let body = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let before = stored(&server);
        let res = post(&server, file, &body);
        let after = stored(&server);
        let follows_answer = later_steps.contains(file.as_str());
        problems.extend(check_file(
            file,
            want,
            &res,
            &before,
            &after,
            &opened_codes,
            follows_answer,
        ));
        if want["bot_open"].as_bool() == Some(true) {
            opened_codes.extend(codes_of(want));
        }
        bodies.push((file, body));
    }

    // The sequence in which the answer overtakes the message.
    for seq in exp["sequences"].as_array().expect("sequences") {
        assert_eq!(
            seq["name"], "status before its message",
            "a sequence this test does not know: {seq}"
        );
        let s = stored(&server);
        // The person also wrote earlier with another code (whatsapp/mixed_notification.json),
        // which is another chat; the answer belongs to the one its message opened.
        let chats: Vec<&Conv> = s
            .convs
            .values()
            .filter(|c| {
                c.phone.as_deref() == Some("79991234567")
                    && c.chat_id.as_deref() == Some("CTAH4QSVDM")
            })
            .collect();
        let ok = chats
            .iter()
            .all(|c| c.answered && c.answered_at == Some(1_763_700_520_000));
        if !ok || chats.len() != 1 {
            problems.push(format!(
                "sequence {:?}: {} — got {chats:?}",
                seq["name"], seq["expect"]
            ));
        }
    }

    // Every payload again, as a messenger retrying: conversations, counts and bot openings stay.
    let before = stored(&server);
    for (file, body) in &bodies {
        let res = post(&server, file, body);
        if !(200..300).contains(&res.status) {
            problems.push(format!("{file} (retry): HTTP {}", res.status));
        }
    }
    let after = stored(&server);
    for (id, c) in &after.convs {
        if before.convs.get(id) != Some(c) {
            problems.push(format!(
                "retried deliveries changed chat {id}: {:?} -> {c:?}",
                before.convs.get(id)
            ));
        }
    }
    if after.bot_opens != before.bot_opens {
        problems.push("retried deliveries added bot openings".into());
    }

    // What was kept unread is visible to the site owner: the report page and /metrics.
    let page = server.get_authed("/reports?days=366");
    let html = String::from_utf8_lossy(&page.body);
    let kept = stored(&server).unreadable.len();
    if page.status != 200
        || !html.contains(&format!("Webhook messages not understood: {kept}"))
        || !html.contains("message_created without message")
    {
        problems.push(format!(
            "the report page does not show the {kept} item(s) kept unread (HTTP {})",
            page.status
        ));
    }
    let metrics = server.request("GET", "/metrics", &[], b"");
    let want = format!(
        r#"chattag_chat_webhook_unreadable_total{{messenger="max",reason="shape"}} {kept}"#
    );
    if !String::from_utf8_lossy(&metrics.body).contains(&want) {
        problems.push(format!("/metrics lacks {want}"));
    }

    assert!(
        problems.is_empty(),
        "{} mismatch(es) with expectations.json:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
