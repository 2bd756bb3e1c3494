//! Applying one request's events to the mapping model, inside the writer's transaction.
//!
//! Order-independent by design: the snippet's outbox may deliver an older event after a newer
//! one, so first/last values use min/max of the visitor clock, and the "current" identifiers
//! only move forward in visitor time.
//!
//! Kept lean on purpose: every B-tree touched per event is a page written to the WAL at each
//! commit, and that is what limits ingest. The identifier history and the pages of a chat are
//! derived from its events when read (`queries::chat`), not maintained here.

use chattag_core::event::{Event, EventType};
use rusqlite::{params, Connection, OptionalExtension};

use crate::store::history::kind_name;
use crate::store::model::IngestOutcome;
use crate::store::StoreError;

/// An event with its stored JSON form, serialised before it reaches the writer thread.
pub struct Prepared {
    event: Event,
    body: String,
}

impl Prepared {
    /// An event read back from its stored form (inbox recovery).
    pub fn from_body(body: String) -> Result<Prepared, serde_json::Error> {
        let event: Event = serde_json::from_str(&body)?;
        Ok(Prepared { event, body })
    }

    pub fn event_id(&self) -> &str {
        &self.event.event_id
    }

    /// The stored JSON form.
    pub fn body(&self) -> &str {
        &self.body
    }
}

pub fn prepare(events: Vec<Event>) -> Result<Vec<Prepared>, StoreError> {
    events
        .into_iter()
        .map(|event| {
            let body = serde_json::to_string(&event).map_err(StoreError::Serialize)?;
            Ok(Prepared { event, body })
        })
        .collect()
}

pub fn apply(
    conn: &Connection,
    site: &str,
    events: &[Prepared],
    received_at: i64,
) -> Result<IngestOutcome, StoreError> {
    let mut outcome = IngestOutcome::default();
    for p in events {
        if store_event(conn, site, &p.event, &p.body, received_at)? {
            outcome.accepted += 1;
        } else {
            outcome.duplicates += 1;
        }
    }
    Ok(outcome)
}

/// Returns false when the event was already stored (a resend).
fn store_event(
    conn: &Connection,
    site: &str,
    ev: &Event,
    body: &str,
    received_at: i64,
) -> Result<bool, StoreError> {
    let ts = ts_of(ev);
    let inserted = conn
        .prepare_cached(
            "INSERT INTO events (event_id, site, kind, chat_id, ts, received_at, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (event_id) DO NOTHING",
        )?
        .execute(params![
            ev.event_id,
            site,
            kind_name(ev.kind),
            ev.chat_id,
            ts,
            received_at,
            body
        ])?;
    if inserted == 0 {
        return Ok(false);
    }
    let rowid = conn.last_insert_rowid();

    // An `issue` normally names a new chat ID: create its row outright, and only when the ID
    // is already known look up its ClientID (a collision check) and merge (a lookup before
    // every issue cost about a sixth of the writer's time).
    if ev.kind == EventType::Issue
        && write_chat(conn, site, ev, rowid, ts, received_at, ChatWrite::IfNew)?
    {
        return Ok(true);
    }
    let known_client_id: Option<String> = match (ev.kind, &ev.ids.client_id) {
        (EventType::Issue, Some(_)) => conn
            .prepare_cached("SELECT client_id FROM chats WHERE site = ?1 AND chat_id = ?2")?
            .query_row(params![site, ev.chat_id], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten(),
        _ => None,
    };
    let collision = match (ev.kind, known_client_id, ev.ids.client_id.as_deref()) {
        (EventType::Issue, Some(known), Some(new)) if known != new => {
            conn.prepare_cached(
                "INSERT INTO chat_conflicts (event_id, site, chat_id, known_client_id, new_client_id, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
            )?
            .execute(params![ev.event_id, site, ev.chat_id, known, new, received_at])?;
            tracing::warn!(site, chat_id = %ev.chat_id, "chat ID reissued with a different ClientID; flagged as a collision");
            true
        }
        _ => false,
    };

    write_chat(
        conn,
        site,
        ev,
        rowid,
        ts,
        received_at,
        ChatWrite::Merge { collision },
    )?;
    if ev.kind == EventType::Click {
        conn.prepare_cached(
            "INSERT INTO clicks (event_id, site, chat_id, messenger, link_kind, target, page, ts, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            ev.event_id,
            site,
            ev.chat_id,
            ev.messenger.as_deref().unwrap_or_default(),
            ev.link_kind.as_deref().unwrap_or_default(),
            ev.target.as_deref().unwrap_or_default(),
            ev.page,
            ts,
            received_at
        ])?;
    }
    Ok(true)
}

/// The most event row IDs a chat keeps (its history shows these; a real visitor sends a
/// handful of events per chat ID).
const MAX_EVENT_ROWIDS: i64 = 1000;

/// The columns of a new `chats` row, `?1`..`?18` (bound in [`write_chat`]).
macro_rules! insert_chat {
    () => {
        "INSERT INTO chats (site, chat_id, first_seen, last_seen, first_ts, last_ts, ids_ts,
                            client_id, yclid, user_id, purchase_id, gclid, fbclid, ga_client_id, utm,
                            landing_page, referrer, prev_chat_id, events, clicks, collision, event_rowids)
         VALUES (?1, ?2, ?3, ?3, ?4, ?4, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 1, ?16, ?17, ?18)"
    };
}

/// How [`write_chat`] treats a row that exists already.
enum ChatWrite {
    /// Leave it: only a new chat ID gets a row.
    IfNew,
    /// Merge this event into it.
    Merge { collision: bool },
}

/// Writes the `chats` row of `ev`'s chat ID; true when a row was inserted or merged.
fn write_chat(
    conn: &Connection,
    site: &str,
    ev: &Event,
    rowid: i64,
    ts: i64,
    received_at: i64,
    how: ChatWrite,
) -> Result<bool, StoreError> {
    let ids = &ev.ids;
    let utm = match &ids.utm {
        Some(utm) => Some(serde_json::to_string(utm).map_err(StoreError::Serialize)?),
        None => None,
    };
    let is_click = i64::from(ev.kind == EventType::Click);
    let collision = i64::from(matches!(how, ChatWrite::Merge { collision: true }));
    let rowid = rowid.to_string();
    let values: [&dyn rusqlite::ToSql; 19] = [
        &site,
        &ev.chat_id,
        &received_at,
        &ts,
        &ids.client_id,
        &ids.yclid,
        &ids.user_id,
        &ids.purchase_id,
        &ids.gclid,
        &ids.fbclid,
        &ids.ga_client_id,
        &utm,
        &ev.page,
        &ev.referrer,
        &ev.prev_chat_id,
        &is_click,
        &collision,
        &rowid,
        &MAX_EVENT_ROWIDS,
    ];
    let written = match how {
        ChatWrite::IfNew => conn
            .prepare_cached(concat!(insert_chat!(), " ON CONFLICT (site, chat_id) DO NOTHING"))?
            .execute(&values[..18])?,
        // A present value replaces the current one only if this event is not older than the
        // one that set the current values; an absent value never erases a known one.
        ChatWrite::Merge { .. } => conn
            .prepare_cached(concat!(
                insert_chat!(),
                "
         ON CONFLICT (site, chat_id) DO UPDATE SET
           last_seen = max(last_seen, excluded.last_seen),
           first_ts = min(first_ts, excluded.first_ts),
           last_ts = max(last_ts, excluded.last_ts),
           ids_ts = max(ids_ts, excluded.ids_ts),
           client_id = CASE WHEN excluded.client_id IS NOT NULL AND (client_id IS NULL OR excluded.ids_ts >= ids_ts) THEN excluded.client_id ELSE client_id END,
           yclid = CASE WHEN excluded.yclid IS NOT NULL AND (yclid IS NULL OR excluded.ids_ts >= ids_ts) THEN excluded.yclid ELSE yclid END,
           user_id = CASE WHEN excluded.user_id IS NOT NULL AND (user_id IS NULL OR excluded.ids_ts >= ids_ts) THEN excluded.user_id ELSE user_id END,
           purchase_id = CASE WHEN excluded.purchase_id IS NOT NULL AND (purchase_id IS NULL OR excluded.ids_ts >= ids_ts) THEN excluded.purchase_id ELSE purchase_id END,
           gclid = CASE WHEN excluded.gclid IS NOT NULL AND (gclid IS NULL OR excluded.ids_ts >= ids_ts) THEN excluded.gclid ELSE gclid END,
           fbclid = CASE WHEN excluded.fbclid IS NOT NULL AND (fbclid IS NULL OR excluded.ids_ts >= ids_ts) THEN excluded.fbclid ELSE fbclid END,
           ga_client_id = CASE WHEN excluded.ga_client_id IS NOT NULL AND (ga_client_id IS NULL OR excluded.ids_ts >= ids_ts) THEN excluded.ga_client_id ELSE ga_client_id END,
           utm = CASE WHEN excluded.utm IS NOT NULL AND (utm IS NULL OR excluded.ids_ts >= ids_ts) THEN excluded.utm ELSE utm END,
           landing_page = CASE WHEN excluded.first_ts < first_ts THEN coalesce(excluded.landing_page, landing_page) ELSE coalesce(landing_page, excluded.landing_page) END,
           referrer = CASE WHEN excluded.first_ts < first_ts THEN coalesce(excluded.referrer, referrer) ELSE coalesce(referrer, excluded.referrer) END,
           prev_chat_id = coalesce(prev_chat_id, excluded.prev_chat_id),
           event_rowids = CASE WHEN events >= ?19 THEN event_rowids
                               WHEN event_rowids = '' THEN excluded.event_rowids
                               ELSE event_rowids || ',' || excluded.event_rowids END,
           events = events + 1,
           clicks = clicks + excluded.clicks,
           collision = max(collision, excluded.collision)"
            ))?
            .execute(&values[..])?,
    };
    Ok(written == 1)
}

/// Event::validate bounds `ts` far below i64::MAX; saturate rather than wrap regardless.
fn ts_of(ev: &Event) -> i64 {
    i64::try_from(ev.ts).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chattag_core::identifiers::{Identifiers, Utm};
    use chattag_core::{ChatId, Prefix};

    /// splitmix64: keys as random as real ones. (Keys derived from a counter share long
    /// prefixes, land on a few hot B-tree pages, and made this cost look 3× smaller.)
    fn mix(i: u64) -> [u8; 8] {
        let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)).to_le_bytes()
    }

    fn events(n: usize) -> Vec<Event> {
        (0..n)
            .map(|i| {
                let b = mix(i as u64);
                let chat = ChatId::generate(&Prefix::DEFAULT, [b[0], b[1], b[2], b[3], b[4]])
                    .into_string();
                let mut rnd = [0u8; 11];
                rnd[..8].copy_from_slice(&mix(!(i as u64)));
                Event {
                    // Like browsers sending now: time-ordered IDs, ~100 events per ms.
                    event_id: chattag_core::event::event_id(
                        1_763_700_000_000 + i as u64 / 100,
                        rnd,
                    ),
                    kind: if i % 2 == 0 {
                        EventType::Issue
                    } else {
                        EventType::Click
                    },
                    chat_id: chat.clone(),
                    ts: 1_763_700_000_000,
                    page: Some("https://shop.example/p/1".into()),
                    referrer: None,
                    ids: Identifiers {
                        client_id: Some("1700000000123456789".into()),
                        yclid: Some("5123456789".into()),
                        utm: Some(Utm {
                            source: Some("yandex".into()),
                            ..Utm::default()
                        }),
                        ..Identifiers::default()
                    },
                    prev_chat_id: None,
                    messenger: (i % 2 == 1).then(|| "telegram".into()),
                    link_kind: (i % 2 == 1).then(|| "telegram_bot".into()),
                    target: (i % 2 == 1).then(|| format!("https://t.me/shop_bot?start={chat}")),
                }
            })
            .collect()
    }

    #[test]
    fn a_chat_lists_its_first_event_rowids_up_to_the_cap() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::sqlite::migrations::apply(
            &mut conn,
            &crate::store::sqlite::migrations::all(),
        )
        .unwrap();
        let mut evs = events(MAX_EVENT_ROWIDS as usize + 5);
        let chat = evs[0].chat_id.clone();
        for ev in &mut evs {
            ev.chat_id = chat.clone();
        }
        apply(&conn, "shop", &prepare(evs).unwrap(), 1).unwrap();
        let (list, count): (String, i64) = conn
            .query_row(
                "SELECT event_rowids, events FROM chats WHERE site = 'shop' AND chat_id = ?1",
                [&chat],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(count, MAX_EVENT_ROWIDS + 5);
        let ids: Vec<i64> = list.split(',').map(|v| v.parse().unwrap()).collect();
        assert_eq!(ids, (1..=MAX_EVENT_ROWIDS).collect::<Vec<_>>());
    }

    /// A row with an empty list (a chat backfilled without events, or written by an older
    /// binary) gets a plain list, not ",<id>" (which json_each refuses).
    #[test]
    fn the_first_listed_event_of_an_existing_row_has_no_leading_comma() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::sqlite::migrations::apply(
            &mut conn,
            &crate::store::sqlite::migrations::all(),
        )
        .unwrap();
        let mut ev = events(1).remove(0);
        ev.kind = EventType::Update;
        conn.execute(
            "INSERT INTO chats (site, chat_id, first_seen, last_seen, first_ts, last_ts, ids_ts,
                                events, clicks, collision, event_rowids)
             VALUES ('shop', ?1, 1, 1, 1, 1, 1, 0, 0, 0, '')",
            [&ev.chat_id],
        )
        .unwrap();
        apply(&conn, "shop", &prepare(vec![ev.clone()]).unwrap(), 2).unwrap();
        let list: String = conn
            .query_row(
                "SELECT event_rowids FROM chats WHERE chat_id = ?1",
                [&ev.chat_id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(list, "1");
        let listed: i64 = conn
            .query_row(
                "SELECT count(*) FROM json_each('[' || ?1 || ']')",
                [&list],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(listed, 1);
    }

    fn thread_cpu() -> std::time::Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes into the timespec we own.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }

    /// Not a correctness test: prints the writer's CPU cost per event (run with --ignored).
    #[test]
    #[ignore]
    fn ingest_cost_per_event() {
        let dir = std::env::temp_dir().join(format!("chattag-ingest-cost-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let mut conn = Connection::open(dir.join("t.db")).unwrap();
        conn.execute_batch(&std::env::var("INGEST_COST_PRAGMAS").unwrap_or_default())
            .unwrap();
        conn.execute_batch(
            // As the server sets them (store/sqlite.rs).
            "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=2500;",
        )
        .unwrap();
        crate::store::sqlite::migrations::apply(
            &mut conn,
            &crate::store::sqlite::migrations::all(),
        )
        .unwrap();
        conn.execute_batch(&std::env::var("INGEST_COST_AFTER").unwrap_or_default())
            .unwrap();
        let n: usize = std::env::var("N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000);
        let per: usize = std::env::var("PER")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(200);
        let evs = prepare(events(n)).unwrap();
        let t = std::time::Instant::now();
        let cpu0 = thread_cpu();
        // Like the server under load: 20 requests of 10 events per transaction, without
        // per-request savepoints (the writer's path while no request fails).
        for txn in evs.chunks(per) {
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            for request in txn.chunks(10) {
                apply(&conn, "shop", request, 1).unwrap();
            }
            conn.execute_batch("COMMIT").unwrap();
        }
        let took = t.elapsed();
        let cpu = thread_cpu() - cpu0;
        eprintln!(
            "{} events in {:?} wall, {:?} CPU: {:.1} µs CPU/event",
            evs.len(),
            took,
            cpu,
            cpu.as_micros() as f64 / evs.len() as f64
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
