//! Leases in PostgreSQL: a row with an expiry in `leases`, on the server's clock.
//!
//! Why a row and not a session-level `pg_advisory_lock` held on a dedicated connection:
//! * a session lock lives as long as its connection, so it needs one connection kept out of
//!   the pool for the life of the process; behind PgBouncer (or a managed pooler) in
//!   transaction mode, session state does not survive the transaction and the lock would be
//!   released, or taken on a server connection another client then uses;
//! * a process that freezes (stopped VM, long GC-like pause) keeps its TCP connection and so
//!   its lock for ever; a lease expires `ttl` after the last renewal whatever the holder does;
//! * the row says who holds what until when (`SELECT * FROM leases`), and it behaves like the
//!   SQLite lease, so one set of tests covers both.
//!
//! The cost: a killed holder's work moves after up to `ttl` (plus a renewal period), not at
//! once as when the server notices a dead connection. Work is hourly; 30 s is nothing.
//!
//! `INSERT … ON CONFLICT DO UPDATE … WHERE` takes the conflicting row's lock and re-checks the
//! condition on its newest version, so two instances claiming at once cannot both win.

use std::time::Duration;

use async_trait::async_trait;

use super::PgStore;
use crate::store::lease::{ttl_ms, Claim, LeaseStore};
use crate::store::StoreError;

#[async_trait]
impl LeaseStore for PgStore {
    async fn try_hold(&self, name: &str, holder: &str, ttl: Duration) -> Result<Claim, StoreError> {
        let client = self.client().await?;
        let won = client
            .query_opt(
                "INSERT INTO leases (name, holder, until_ms, taken_ms)
                 SELECT $1, $2, now_ms + $3, now_ms
                   FROM (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now_ms) t
                 ON CONFLICT (name) DO UPDATE SET
                     taken_ms = CASE WHEN leases.holder = excluded.holder THEN leases.taken_ms
                                     ELSE excluded.taken_ms END,
                     holder = excluded.holder,
                     until_ms = excluded.until_ms
                 WHERE leases.holder = excluded.holder OR leases.until_ms <= excluded.taken_ms
                 RETURNING holder",
                &[&name, &holder, &ttl_ms(ttl)],
            )
            .await?;
        if won.is_some() {
            return Ok(Claim::Held);
        }
        let row = client
            .query_opt(
                "SELECT holder, until_ms FROM leases WHERE name = $1",
                &[&name],
            )
            .await?;
        Ok(match row {
            Some(row) => Claim::NotHeld {
                holder: row.get(0),
                until_ms: row.get(1),
            },
            // Released between the two statements: free now, taken at the next claim.
            None => Claim::NotHeld {
                holder: String::new(),
                until_ms: 0,
            },
        })
    }

    async fn release(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM leases WHERE name = $1 AND holder = $2",
                &[&name, &holder],
            )
            .await?;
        Ok(())
    }
}
