//! The outbox: encoded events waiting for a confirmed delivery. Stored as one event JSON per line
//! (JSON strings escape newlines, so a line is always one whole event), newest last.
//!
//! An event leaves the outbox only when the collector answered 2xx for a request that carried it,
//! or a 4xx that resending cannot fix. Beacons do not count as confirmation: the collector
//! dedupes by `event_id`, so an event may arrive more than once but is never lost.

use crate::logic::wire::EVENT_HEAD;
use chattag_core::event::EVENT_ID_LEN;
use chattag_core::url::split_byte;

/// Oldest events are dropped beyond this (a collector down for days must not fill storage).
pub const CAP: usize = 200;
/// At most this many events per request (the collector's limit).
pub const MAX_BATCH: usize = chattag_core::event::MAX_BATCH;
/// Request bodies stay below this: keepalive fetches and beacons share a 64 KB in-flight quota,
/// so a batch leaves room for a beacon sent while it is in flight.
pub const MAX_BATCH_BYTES: usize = 48 * 1024;

/// The event id of an encoded event line.
pub fn event_id_of(line: &str) -> Option<&str> {
    let rest = line.strip_prefix(EVENT_HEAD)?;
    rest.get(..EVENT_ID_LEN)
}

/// Parses the stored text, skipping anything that is not an event line of ours.
pub fn parse(stored: &str) -> Vec<String> {
    // Byte helpers instead of char patterns throughout the snippet: each `Split<char>`
    // instantiation costs ~0.5 KB of wasm.
    split_byte(stored, b'\n')
        .filter(|l| event_id_of(l).is_some())
        .map(String::from)
        .collect()
}

/// The lines joined by `\n` (by hand: `[String]::join` is a ~0.9 KB instantiation of its own).
pub fn serialize(lines: &[String]) -> String {
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

/// Appends `line` unless an event with its id is already there; keeps the newest [`CAP`].
pub fn push(lines: &mut Vec<String>, line: String) {
    let id = event_id_of(&line);
    if id.is_none() || lines.iter().any(|l| event_id_of(l) == id) {
        return;
    }
    lines.push(line);
    if lines.len() > CAP {
        let excess = lines.len() - CAP;
        lines.drain(..excess);
    }
}

pub fn remove(lines: &mut Vec<String>, ids: &[String]) {
    lines.retain(|l| !event_id_of(l).is_some_and(|id| ids.iter().any(|x| x == id)));
}

/// The oldest events that fit one request: the JSON array body and the ids it carries.
/// Events too big to ever fit are returned in `oversized` so the caller can drop them.
pub struct Batch {
    pub body: String,
    pub ids: Vec<String>,
    pub oversized: Vec<String>,
}

pub fn batch(lines: &[String]) -> Batch {
    let mut body = String::from("[");
    let mut ids = Vec::new();
    let mut oversized = Vec::new();
    for line in lines {
        let Some(id) = event_id_of(line) else {
            continue;
        };
        if line.len() + 2 > MAX_BATCH_BYTES {
            oversized.push(id.into());
            continue;
        }
        if ids.len() == MAX_BATCH || body.len() + line.len() + 2 > MAX_BATCH_BYTES {
            break;
        }
        if !ids.is_empty() {
            body.push(',');
        }
        body.push_str(line);
        ids.push(id.into());
    }
    body.push(']');
    Batch {
        body,
        ids,
        oversized,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(n: usize, pad: usize) -> String {
        let id = format!("{n:026}");
        format!(
            "{EVENT_HEAD}{id}\",\"type\":\"click\",\"x\":\"{}\"}}",
            "a".repeat(pad)
        )
    }

    #[test]
    fn parse_skips_foreign_lines_and_serialize_round_trips() {
        let lines = vec![ev(1, 0), ev(2, 3)];
        let text = serialize(&lines) + "\ngarbage\n{\"event_id\":\"short\"}";
        assert_eq!(parse(&text), lines);
        assert_eq!(event_id_of(&ev(7, 0)), Some("00000000000000000000000007"));
    }

    #[test]
    fn push_dedupes_and_caps_oldest_first() {
        let mut lines = Vec::new();
        push(&mut lines, ev(1, 0));
        push(&mut lines, ev(1, 5));
        assert_eq!(lines.len(), 1);
        for n in 2..=CAP + 10 {
            push(&mut lines, ev(n, 0));
        }
        assert_eq!(lines.len(), CAP);
        assert_eq!(event_id_of(&lines[0]), Some(format!("{:026}", 11).as_str()));
    }

    #[test]
    fn remove_by_id() {
        let mut lines = vec![ev(1, 0), ev(2, 0), ev(3, 0)];
        remove(&mut lines, &[format!("{:026}", 2)]);
        assert_eq!(lines, vec![ev(1, 0), ev(3, 0)]);
    }

    #[test]
    fn batches_respect_count_and_byte_limits_and_are_json_arrays() {
        let lines: Vec<String> = (0..150).map(|n| ev(n, 10)).collect();
        let b = batch(&lines);
        assert_eq!(b.ids.len(), MAX_BATCH);
        let parsed: Vec<serde_json::Value> = serde_json::from_str(&b.body).unwrap();
        assert_eq!(parsed.len(), MAX_BATCH);

        let big: Vec<String> = (0..10).map(|n| ev(n, 10_000)).collect();
        let b = batch(&big);
        assert!(b.body.len() <= MAX_BATCH_BYTES);
        assert_eq!(b.ids.len(), 4);

        let huge = vec![ev(1, MAX_BATCH_BYTES), ev(2, 0)];
        let b = batch(&huge);
        assert_eq!(b.oversized, vec![format!("{:026}", 1)]);
        assert_eq!(b.ids, vec![format!("{:026}", 2)]);
        assert_eq!(batch(&[]).body, "[]");
    }
}
