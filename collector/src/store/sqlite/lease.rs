//! Leases in SQLite: one row per lease in `leases`, taken and renewed by one upsert inside a
//! write transaction (`BEGIN IMMEDIATE`), so two processes on one file never both take it.
//! Every process on the file runs on one machine, so its clock is the one clock.

use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, Connection};

use super::SqliteStore;
use crate::clock::now_ms;
use crate::store::lease::{ttl_ms, Claim, LeaseStore};
use crate::store::StoreError;

#[async_trait]
impl LeaseStore for SqliteStore {
    async fn try_hold(&self, name: &str, holder: &str, ttl: Duration) -> Result<Claim, StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.write(move |conn| try_hold(conn, &name, &holder, ttl_ms(ttl), now_ms()))
            .await
    }

    async fn release(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.write(move |conn| release(conn, &name, &holder)).await
    }
}

fn release(conn: &Connection, name: &str, holder: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM leases WHERE name = ?1 AND holder = ?2")?
        .execute(params![name, holder])?;
    Ok(())
}

fn try_hold(
    conn: &Connection,
    name: &str,
    holder: &str,
    ttl_ms: i64,
    now: i64,
) -> Result<Claim, StoreError> {
    // The update applies only to the holder's own row or an expired one; otherwise the row
    // stays as it is and the SELECT names its holder.
    conn.prepare_cached(
        "INSERT INTO leases (name, holder, until_ms, taken_ms) VALUES (?1, ?2, ?3 + ?4, ?3)
         ON CONFLICT (name) DO UPDATE SET
             taken_ms = CASE WHEN leases.holder = excluded.holder THEN leases.taken_ms
                             ELSE excluded.taken_ms END,
             holder = excluded.holder,
             until_ms = excluded.until_ms
         WHERE leases.holder = excluded.holder OR leases.until_ms <= ?3",
    )?
    .execute(params![name, holder, now, ttl_ms])?;
    let (current, until_ms): (String, i64) = conn
        .prepare_cached("SELECT holder, until_ms FROM leases WHERE name = ?1")?
        .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(if current == holder {
        Claim::Held
    } else {
        Claim::NotHeld {
            holder: current,
            until_ms,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrations::apply(&mut conn, &super::super::migrations::all()).unwrap();
        conn
    }

    #[test]
    fn one_holder_until_it_stops_renewing() {
        let conn = db();
        assert_eq!(try_hold(&conn, "job", "a", 1000, 0).unwrap(), Claim::Held);
        assert_eq!(
            try_hold(&conn, "job", "b", 1000, 500).unwrap(),
            Claim::NotHeld {
                holder: "a".into(),
                until_ms: 1000
            }
        );
        // a renews: b still waits past a's first expiry.
        assert_eq!(try_hold(&conn, "job", "a", 1000, 900).unwrap(), Claim::Held);
        assert!(matches!(
            try_hold(&conn, "job", "b", 1000, 1500).unwrap(),
            Claim::NotHeld { until_ms: 1900, .. }
        ));
        // a stops renewing: b takes it at expiry, and a is then refused.
        assert_eq!(
            try_hold(&conn, "job", "b", 1000, 1900).unwrap(),
            Claim::Held
        );
        assert!(matches!(
            try_hold(&conn, "job", "a", 1000, 2000).unwrap(),
            Claim::NotHeld { .. }
        ));
        // Another lease name is independent.
        assert_eq!(
            try_hold(&conn, "other", "a", 1000, 2000).unwrap(),
            Claim::Held
        );
    }

    #[test]
    fn a_released_lease_is_taken_at_once() {
        let conn = db();
        assert_eq!(try_hold(&conn, "job", "a", 60_000, 0).unwrap(), Claim::Held);
        // Only the holder's release counts.
        release(&conn, "job", "b").unwrap();
        assert!(matches!(
            try_hold(&conn, "job", "b", 60_000, 1).unwrap(),
            Claim::NotHeld { .. }
        ));
        release(&conn, "job", "a").unwrap();
        assert_eq!(try_hold(&conn, "job", "b", 60_000, 2).unwrap(), Claim::Held);
    }
}
