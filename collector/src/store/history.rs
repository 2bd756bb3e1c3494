//! A chat's history derived from its stored events, the same on every backend: the backends
//! read the event bodies (with when each arrived), these functions make the read API's values.

use chattag_core::event::{Event, EventType};
use chattag_core::identifiers::Identifiers;

use crate::store::model::{Click, IdentifierValue, PageVisit};
use crate::store::StoreError;

/// The stored `events.kind` of an event type: the wire name, kept in a column of its own on
/// every backend so that queries can filter by it without reading bodies.
pub fn kind_name(kind: EventType) -> &'static str {
    match kind {
        EventType::Issue => "issue",
        EventType::Update => "update",
        EventType::Click => "click",
    }
}

/// How far `previous_chat_ids` follows `prev_chat_id` links: a visitor gets a new ID per ad
/// click, so a long chain is possible but unbounded walks are not.
pub const MAX_CHAIN: usize = 50;
/// Per-record caps so that one busy chat ID cannot produce a huge response.
pub const MAX_PAGES: usize = 200;
/// Events of one chat read to derive its history: a real visitor produces a handful.
pub const MAX_EVENTS_READ: i64 = 5000;
pub const MAX_CLICKS: i64 = 200;

/// The clicks of one chat from its `click` events' bodies (oldest first).
pub fn clicks_from_bodies(rows: Vec<(String, i64)>) -> Result<Vec<Click>, StoreError> {
    let mut clicks = Vec::new();
    for (body, received_at) in rows {
        let ev: Event = serde_json::from_str(&body).map_err(StoreError::StoredEvent)?;
        clicks.push(Click {
            ts: i64::try_from(ev.ts).unwrap_or(i64::MAX),
            event_id: ev.event_id,
            // As stored in `clicks` at ingest: a click event always carries these.
            messenger: ev.messenger.unwrap_or_default(),
            link_kind: ev.link_kind.unwrap_or_default(),
            target: ev.target.unwrap_or_default(),
            page: ev.page,
            received_at,
        });
    }
    Ok(clicks)
}

/// The identifier values and pages of one chat from its events' bodies (oldest first).
pub fn history_from_bodies(
    rows: Vec<(String, i64)>,
) -> Result<(Vec<IdentifierValue>, Vec<PageVisit>), StoreError> {
    let mut values: Vec<IdentifierValue> = Vec::new();
    let mut pages: Vec<PageVisit> = Vec::new();
    for (body, received_at) in rows {
        let ev: Event = serde_json::from_str(&body).map_err(StoreError::StoredEvent)?;
        let ts = i64::try_from(ev.ts).unwrap_or(i64::MAX);
        for (field, value) in identifier_values(&ev.ids) {
            match values
                .iter_mut()
                .find(|v| v.field == field && v.value == value)
            {
                Some(v) => {
                    v.first_seen = v.first_seen.min(received_at);
                    v.last_seen = v.last_seen.max(received_at);
                    v.first_ts = v.first_ts.min(ts);
                    v.last_ts = v.last_ts.max(ts);
                    v.events += 1;
                }
                None => values.push(IdentifierValue {
                    field: field.to_owned(),
                    value,
                    first_seen: received_at,
                    last_seen: received_at,
                    first_ts: ts,
                    last_ts: ts,
                    events: 1,
                }),
            }
        }
        if let Some(url) = ev.page {
            if let Some(p) = pages.iter_mut().find(|p| p.url == url) {
                p.first_ts = p.first_ts.min(ts);
                p.last_ts = p.last_ts.max(ts);
                p.events += 1;
            } else if pages.len() < MAX_PAGES {
                pages.push(PageVisit {
                    url,
                    first_ts: ts,
                    last_ts: ts,
                    events: 1,
                });
            }
        }
    }
    values.sort_by(|a, b| a.field.cmp(&b.field).then(a.first_ts.cmp(&b.first_ts)));
    Ok((values, pages))
}

/// (field, value) for each identifier present; UTM as one JSON value (the five parameters
/// describe one landing together).
fn identifier_values(ids: &Identifiers) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = [
        ("client_id", &ids.client_id),
        ("yclid", &ids.yclid),
        ("user_id", &ids.user_id),
        ("purchase_id", &ids.purchase_id),
        ("gclid", &ids.gclid),
        ("fbclid", &ids.fbclid),
        ("ga_client_id", &ids.ga_client_id),
    ]
    .into_iter()
    .filter_map(|(f, v)| v.clone().map(|v| (f, v)))
    .collect();
    if let Some(json) = ids.utm.as_ref().and_then(|u| serde_json::to_string(u).ok()) {
        out.push(("utm", json));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored kind is the event's wire name: reading a body back and filtering by the
    /// column must agree.
    #[test]
    fn kind_names_are_the_wire_names() {
        for kind in [EventType::Issue, EventType::Update, EventType::Click] {
            let wire = serde_json::to_string(&kind).expect("serialises");
            assert_eq!(wire, format!("\"{}\"", kind_name(kind)));
        }
    }
}
