//! The happy path of parsing events: a flat mirror of [`Event`].
//!
//! `Event` flattens its identifiers (`#[serde(flatten)]`), and serde implements flatten by
//! buffering every field of the object before deserialising it: that was most of the parse
//! time per request. This struct lists the same fields flat, so a valid body is read in one
//! pass. Errors still come from deserialising `Event` itself (see `body::parse_events`), so
//! their wording does not depend on this mirror; a test holds the two to the same result.

use std::fmt;

use chattag_core::event::{Event, EventType};
use chattag_core::identifiers::{Identifiers, Utm};
use serde::de::{value::MapAccessDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A [`WireEvent`] read from a JSON object only. A derived struct also accepts an array
/// filled by position, which `Event` (flattened, so a map) refuses.
pub struct EventObject(pub WireEvent);

impl<'de> Deserialize<'de> for EventObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectOnly;
        impl<'de> Visitor<'de> for ObjectOnly {
            type Value = EventObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an event object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<EventObject, A::Error> {
                WireEvent::deserialize(MapAccessDeserializer::new(map)).map(EventObject)
            }
        }
        deserializer.deserialize_map(ObjectOnly)
    }
}

#[derive(Deserialize)]
pub struct WireEvent {
    event_id: String,
    #[serde(rename = "type")]
    kind: EventType,
    chat_id: String,
    ts: u64,
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    referrer: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    yclid: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    purchase_id: Option<String>,
    #[serde(default)]
    gclid: Option<String>,
    #[serde(default)]
    fbclid: Option<String>,
    #[serde(default)]
    ga_client_id: Option<String>,
    #[serde(default)]
    utm: Option<Utm>,
    #[serde(default)]
    prev_chat_id: Option<String>,
    #[serde(default)]
    messenger: Option<String>,
    #[serde(default)]
    link_kind: Option<String>,
    #[serde(default)]
    target: Option<String>,
}

impl From<WireEvent> for Event {
    fn from(w: WireEvent) -> Event {
        Event {
            event_id: w.event_id,
            kind: w.kind,
            chat_id: w.chat_id,
            ts: w.ts,
            page: w.page,
            referrer: w.referrer,
            ids: Identifiers {
                client_id: w.client_id,
                yclid: w.yclid,
                user_id: w.user_id,
                purchase_id: w.purchase_id,
                gclid: w.gclid,
                fbclid: w.fbclid,
                ga_client_id: w.ga_client_id,
                utm: w.utm,
            },
            prev_chat_id: w.prev_chat_id,
            messenger: w.messenger,
            link_kind: w.link_kind,
            target: w.target,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field, absent fields, nulls, unknown fields, nested UTM: same `Event` both ways.
    #[test]
    fn the_mirror_reads_what_event_reads() {
        let bodies = [
            r#"{"event_id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","type":"issue","chat_id":"CT8F2A9KQ3","ts":1763700000000,"page":"https://shop.example/p?utm_source=y","referrer":"https://yandex.ru/","client_id":"1700000000123456789","yclid":"5123","user_id":"u1","purchase_id":"p1","gclid":"g1","fbclid":"f1","ga_client_id":"123.456","utm":{"source":"yandex","medium":"cpc","campaign":"spring","content":"c","term":"t"},"prev_chat_id":"CT00000000"}"#,
            r#"{"event_id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","type":"click","chat_id":"CT8F2A9KQ3","ts":1,"messenger":"telegram","link_kind":"telegram_bot","target":"https://t.me/x?start=CT8F2A9KQ3"}"#,
            r#"{"type":"update","ts":5,"chat_id":"c","event_id":"e","client_id":null,"utm":null,"extra":{"a":[1,2]},"page":null}"#,
        ];
        for body in bodies {
            let via_event: Event = serde_json::from_str(body).unwrap();
            let via_wire: Event = serde_json::from_str::<EventObject>(body).unwrap().0.into();
            assert_eq!(via_wire, via_event, "{body}");
        }
    }

    /// What `Event` refuses, the mirror refuses too (then the slow path words the error).
    #[test]
    fn the_mirror_refuses_what_event_refuses() {
        let bodies = [
            r#"{"type":"issue","chat_id":"c","ts":1}"#,
            r#"{"event_id":"e","type":"delete","chat_id":"c","ts":1}"#,
            r#"{"event_id":"e","type":"issue","chat_id":"c","ts":"1"}"#,
            r#"{"event_id":"e","type":"issue","chat_id":"c","ts":1,"client_id":5}"#,
            r#"{"event_id":"e","type":"issue","chat_id":"c","ts":1,"utm":"x"}"#,
            r#"{"event_id":"e","type":"issue","chat_id":"c","ts":-1}"#,
            // Fields by position: a derived struct would take it, `Event` does not.
            r#"["01ARZ3NDEKTSV4RRFFQ69G5FAV","issue","CT8F2A9KQ3",1763700000000]"#,
        ];
        for body in bodies {
            assert!(
                serde_json::from_str::<Event>(body).is_err(),
                "Event accepts {body}"
            );
            assert!(
                serde_json::from_str::<EventObject>(body).is_err(),
                "mirror accepts {body}"
            );
        }
    }
}
