//! JSON for the wire: [`Event`] and [`Identifiers`] exactly as `serde_json` writes them (field
//! order, omitted `None`s, escapes), without linking `serde_json` or `core::fmt` into the wasm.
//! A native test holds this byte-for-byte equal to `serde_json::to_string`, so the schema keeps
//! one definition: `chattag_core::event`.
//!
//! Every event starts with `{"event_id":"<26 chars>"`, which lets the outbox find an event's id
//! without parsing JSON (the loader's outbox, www/loader/outbox.js, relies on it).

use chattag_core::event::{Event, EventType};
use chattag_core::identifiers::Identifiers;

/// Prefix every encoded event starts with, followed by the 26-character event id (the loader's
/// outbox reads the id there; a test pins it).
#[cfg(test)]
pub const EVENT_HEAD: &str = "{\"event_id\":\"";

#[cfg(test)]
pub fn event_json(e: &Event) -> String {
    let mut s = String::new();
    push_event(&mut s, e);
    s
}

/// Appends the event's JSON to `out` (the page view writes it straight into its effects).
pub fn push_event(out: &mut String, e: &Event) {
    let mut w = Obj::new(out);
    w.str("event_id", &e.event_id);
    w.str(
        "type",
        match e.kind {
            EventType::Issue => "issue",
            EventType::Update => "update",
            EventType::Click => "click",
        },
    );
    w.str("chat_id", &e.chat_id);
    w.key("ts");
    push_u64(w.out, e.ts);
    w.opt("page", &e.page);
    w.opt("referrer", &e.referrer);
    identifier_fields(&mut w, &e.ids);
    w.opt("prev_chat_id", &e.prev_chat_id);
    w.opt("messenger", &e.messenger);
    w.opt("link_kind", &e.link_kind);
    w.opt("target", &e.target);
    w.out.push('}');
}

#[cfg(test)]
pub fn identifiers_json(ids: &Identifiers) -> String {
    let mut s = String::new();
    push_identifiers(&mut s, ids);
    s
}

/// Appends the identifiers' JSON to `out`.
pub fn push_identifiers(out: &mut String, ids: &Identifiers) {
    let mut w = Obj::new(out);
    identifier_fields(&mut w, ids);
    w.out.push('}');
}

fn identifier_fields(w: &mut Obj, ids: &Identifiers) {
    w.opt("client_id", &ids.client_id);
    w.opt("yclid", &ids.yclid);
    w.opt("user_id", &ids.user_id);
    w.opt("purchase_id", &ids.purchase_id);
    w.opt("gclid", &ids.gclid);
    w.opt("fbclid", &ids.fbclid);
    w.opt("ga_client_id", &ids.ga_client_id);
    if let Some(u) = &ids.utm {
        w.key("utm");
        // The nested object is written by the same writer.
        w.out.push('{');
        w.first = true;
        w.opt("source", &u.source);
        w.opt("medium", &u.medium);
        w.opt("campaign", &u.campaign);
        w.opt("term", &u.term);
        w.opt("content", &u.content);
        w.out.push('}');
        w.first = false;
    }
}

/// A JSON object being written: `{` already pushed, members comma-separated.
struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    fn new(out: &'a mut String) -> Obj<'a> {
        out.push('{');
        Obj { out, first: true }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_json_str(self.out, k);
        self.out.push(':');
    }

    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        push_json_str(self.out, v);
    }

    fn opt(&mut self, k: &str, v: &Option<String>) {
        if let Some(v) = v {
            self.str(k, v);
        }
    }
}

/// Lower-case hex digits: serde_json's `\u00XX` escapes and the stored record's hashes.
pub const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// A JSON string literal with serde_json's escapes: `"` `\` and the C0 controls (short forms for
/// \b \t \n \f \r, `\u00XX` otherwise); everything else, non-ASCII included, as is.
pub fn push_json_str(out: &mut String, s: &str) {
    // Byte by byte into the string's bytes (no `&s[a..b]` slicing, whose char-boundary checks
    // cost code). SAFETY: every byte of `s` is copied, in order, and only ASCII is added between
    // them, so `out` is UTF-8 again when this returns; nothing reads it in between.
    let v = unsafe { out.as_mut_vec() };
    v.push(b'"');
    for b in s.bytes() {
        // The letter after the backslash: the character itself, a short form, or `u` (`\u00XX`).
        let esc = if b == b'"' || b == b'\\' {
            b
        } else if b < 0x20 {
            b"uuuuuuuubtnufruuuuuuuuuuuuuuuuuu"[b as usize]
        } else {
            v.push(b);
            continue;
        };
        v.push(b'\\');
        v.push(esc);
        if esc == b'u' {
            v.extend_from_slice(b"00");
            v.push(HEX_LOWER[(b >> 4) as usize]);
            v.push(HEX_LOWER[(b & 15) as usize]);
        }
    }
    v.push(b'"');
}

/// Decimal digits of `n` (instead of `to_string`, which pulls in `core::fmt`).
pub fn push_u64(out: &mut String, n: u64) {
    // Recursion (at most 20 deep) instead of a digit buffer: smaller code.
    if n >= 10 {
        push_u64(out, n / 10);
    }
    out.push((b'0' + (n % 10) as u8) as char);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chattag_core::identifiers::Utm;

    fn full_event() -> Event {
        Event {
            event_id: "0J5ZK7Q4R2M8X1C3V6B9N0D2F4".into(),
            kind: EventType::Click,
            chat_id: "CT8F2A9KQ3".into(),
            ts: 1_763_700_000_000,
            page: Some("https://shop.example/p/1?q=\"x\"".into()),
            referrer: Some("https://yandex.ru/".into()),
            ids: Identifiers {
                client_id: Some("1700000000123456789".into()),
                yclid: Some("5123456789012345678".into()),
                user_id: Some("u\\ser\u{1}\u{1f}\t\n\r\u{8}\u{c}\u{7f}".into()),
                purchase_id: Some("Заказ №5 — ok ✓".into()),
                gclid: Some("Cj0KCQ_-".into()),
                fbclid: Some("IwAR.x".into()),
                ga_client_id: Some("123.456".into()),
                utm: Some(Utm {
                    source: Some("yandex".into()),
                    medium: None,
                    campaign: Some("spring sale".into()),
                    term: None,
                    content: Some("b".into()),
                }),
            },
            prev_chat_id: Some("CT00000000".into()),
            messenger: Some("telegram".into()),
            link_kind: Some("telegram_bot".into()),
            target: Some("https://t.me/shop_bot?start=CT8F2A9KQ3".into()),
        }
    }

    #[test]
    fn matches_serde_json_for_every_field_and_escape() {
        let e = full_event();
        assert_eq!(event_json(&e), serde_json::to_string(&e).unwrap());
        assert!(event_json(&e).starts_with(EVENT_HEAD));
    }

    #[test]
    fn matches_serde_json_with_fields_absent() {
        for kind in [EventType::Issue, EventType::Update, EventType::Click] {
            let e = Event {
                event_id: "X".into(),
                kind,
                chat_id: "CT8F2A9KQ3".into(),
                ts: 0,
                ..Event::default()
            };
            assert_eq!(event_json(&e), serde_json::to_string(&e).unwrap());
        }
        let ids = Identifiers {
            utm: Some(Utm::default()),
            ..Identifiers::default()
        };
        assert_eq!(identifiers_json(&ids), serde_json::to_string(&ids).unwrap());
        assert_eq!(identifiers_json(&Identifiers::default()), "{}");
    }

    #[test]
    fn round_trips_through_serde() {
        let e = full_event();
        let back: Event = serde_json::from_str(&event_json(&e)).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn writes_decimal() {
        for n in [0u64, 7, 10, 1_763_700_000_000, u64::MAX] {
            let mut s = String::new();
            push_u64(&mut s, n);
            assert_eq!(s, n.to_string());
        }
    }
}
