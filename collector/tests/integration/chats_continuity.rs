//! How a person's later messages change the chat they are in, through the real webhooks and the
//! real store: a message with a *different* exact chat ID is a new visit, so a new chat for
//! Metrica; a chat without an ID (or with only a probable match) is upgraded when the code
//! arrives in a later message, and an exact chat is never downgraded.

use crate::common;

use common::webhooks::{whatsapp_text, Messenger};
use common::{new_chat_id, new_event_id, Server, TS};
use serde_json::json;

const PERSON: &str = "16505551234";

fn start() -> Server {
    Server::start_with_webhooks(&[Messenger::WhatsApp, Messenger::Telegram], &[])
}

fn issue(server: &Server, chat_id: &str) {
    let r = server.post_events(&json!([common::issue(chat_id)]));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// One WhatsApp text from `PERSON`, `s` seconds after `TS`.
fn say(server: &Server, text: &str, s: u64) {
    let body = whatsapp_text(PERSON, "Sheena", text, TS / 1000 + s, &format!("wamid.{s}"));
    let r = server.whatsapp(&body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

#[derive(Debug, PartialEq)]
struct Chat {
    method: String,
    chat_id: Option<String>,
    reason: Option<String>,
    site: Option<String>,
    messages: i64,
}

fn chats(server: &Server) -> Vec<Chat> {
    server
        .rows("SELECT method, chat_id, reason, site, messages FROM conversations ORDER BY id")
        .iter()
        .map(|r| Chat {
            method: r.get(0),
            chat_id: r.get(1),
            reason: r.get(2),
            site: r.get(3),
            messages: r.get(4),
        })
        .collect()
}

fn exact(id: &str, messages: i64) -> Chat {
    Chat {
        method: "exact-text".into(),
        chat_id: Some(id.into()),
        reason: None,
        site: Some("shop.example".into()),
        messages,
    }
}

#[test]
fn a_different_exact_id_starts_a_new_chat() {
    let server = start();
    let (a, b) = (new_chat_id(), new_chat_id());
    issue(&server, &a);
    issue(&server, &b);
    say(&server, &format!("Hello! Request number: {a}"), 10);
    // Follow-ups without a code, and with the same code again, stay in the chat.
    say(&server, "Is it in stock?", 20);
    say(&server, &format!("my code was {a}"), 30);
    assert_eq!(chats(&server), vec![exact(&a, 3)]);
    // Days later the same person comes from a new ad click with a new code: a new chat.
    say(
        &server,
        &format!("Hi again. Request number: {b}"),
        3 * 24 * 3600,
    );
    say(&server, "Thanks", 3 * 24 * 3600 + 10);
    assert_eq!(chats(&server), vec![exact(&a, 3), exact(&b, 2)]);
}

#[test]
fn a_later_code_upgrades_an_unmatched_chat_and_exact_is_never_downgraded() {
    let server = start();
    let a = new_chat_id();
    issue(&server, &a);
    say(&server, "Hello, do you deliver?", 10);
    let first = chats(&server);
    assert_eq!(first.len(), 1);
    assert_eq!(
        (first[0].method.as_str(), first[0].reason.as_deref()),
        ("unmatched", Some("no-id-no-click"))
    );
    // The code arrives in the second message: the same chat becomes exact.
    say(&server, &format!("Sorry, forgot: {a}"), 20);
    assert_eq!(chats(&server), vec![exact(&a, 2)]);
    // A message with a mistyped code, or none, never takes that back.
    let mut damaged = a.clone();
    let last = damaged.pop().unwrap();
    damaged.push(if last == '7' { '8' } else { '7' });
    say(&server, &format!("code {damaged}"), 30);
    say(&server, "ok", 40);
    assert_eq!(chats(&server), vec![exact(&a, 4)]);
}

#[test]
fn a_later_code_replaces_a_probable_match() {
    let server = start();
    let (guess, real) = (new_chat_id(), new_chat_id());
    issue(&server, &guess);
    issue(&server, &real);
    // One visitor clicked this business number a minute before the first message: probable.
    let click = json!({"event_id": new_event_id(), "type": "click", "chat_id": guess, "ts": TS + 40_000,
        "page": "https://shop.example/p/1", "messenger": "whatsapp", "link_kind": "whatsapp",
        "target": "https://wa.me/15550783881?text=Hi"});
    assert_eq!(server.post_events(&json!([click])).status, 200);
    server.caught_up();
    say(&server, "Hi", 100);
    let first = chats(&server);
    assert_eq!(
        (first[0].method.as_str(), first[0].chat_id.as_deref()),
        ("probable-click", Some(guess.as_str()))
    );
    // The person then sends the code they were given: exact, in the same chat.
    say(&server, &format!("code {real}"), 110);
    assert_eq!(chats(&server), vec![exact(&real, 2)]);
}

#[test]
fn telegram_start_then_another_code_is_a_new_chat() {
    let server = start();
    let (a, b) = (new_chat_id(), new_chat_id());
    issue(&server, &a);
    issue(&server, &b);
    let update = |n: i64, text: String, s: u64| {
        serde_json::to_vec(&json!({"update_id": n, "message": {"message_id": n,
            "from": {"id": 381920477, "is_bot": false, "first_name": "Anna"},
            "chat": {"id": 381920477, "type": "private"}, "date": TS / 1000 + s, "text": text}}))
        .unwrap()
    };
    // Opening the bot is not a chat by itself: each opening is followed by the person's
    // message, which carries the opening's code as link evidence.
    let steps = [
        (1, format!("/start {a}"), 10),
        (2, "Hello".to_string(), 11),
        (3, format!("/start {a}"), 20),
        (4, "Me again".to_string(), 21),
        (5, format!("/start promo_{b}"), 30),
        (6, "Hi".to_string(), 31),
    ];
    for (n, text, s) in steps {
        assert_eq!(server.telegram(&update(n, text, s)).status, 200);
    }
    let got: Vec<(String, Option<String>, i64)> = chats(&server)
        .into_iter()
        .map(|c| (c.method, c.chat_id, c.messages))
        .collect();
    assert_eq!(
        got,
        vec![
            ("exact-link".into(), Some(a.clone()), 2),
            ("exact-link".into(), Some(b.clone()), 1)
        ]
    );
}

/// A Telegram person who writes, then presses a bot's "share my phone number" button: the
/// phone joins the chat they are in (kept as its keyed hash, the default), no new chat opens.
#[test]
fn a_telegram_phone_shared_later_joins_the_open_chat() {
    let server = start();
    let user = 381_920_477_i64;
    let hello = common::webhooks::telegram_hello(user, 1, TS / 1000 + 10);
    assert_eq!(server.telegram(&hello).status, 200);
    let card = json!({"update_id": 1_000_002, "message": {"message_id": 2,
        "from": {"id": user, "is_bot": false, "first_name": "A"},
        "chat": {"id": user, "type": "private"}, "date": TS / 1000 + 20,
        "contact": {"phone_number": "+7 916 123-45-90", "first_name": "A", "user_id": user}}});
    let r = server.telegram(&serde_json::to_vec(&card).expect("json"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let rows = server.rows("SELECT messages, phone FROM conversations");
    assert_eq!(rows.len(), 1, "one chat");
    assert_eq!(rows[0].get::<i64>(0), 2);
    let phone: Option<String> = rows[0].get(1);
    assert!(
        phone.as_deref().is_some_and(|p| p.starts_with("ph:")),
        "{phone:?}"
    );
}
