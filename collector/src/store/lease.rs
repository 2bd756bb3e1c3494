//! Leases: scheduled work (`upload metrica --every`, retention) runs in one process at a time
//! across every collector on one database, and moves to another when its holder dies.
//!
//! A lease is a named row with a holder and an expiry. [`LeaseStore::try_hold`] takes it when it
//! is free or expired, and extends it when the caller already holds it; a holder that stops
//! renewing (killed, frozen, cut off from the database) loses it `ttl` after its last renewal,
//! and the next claimant gets it. Each backend measures `ttl` on one clock (the SQLite file's
//! machine, the PostgreSQL server's), so processes with skewed clocks still agree on who holds
//! it. Keeping a lease alive and running work under it is [`crate::scheduled`]'s job.

use std::time::Duration;

use async_trait::async_trait;

use super::StoreError;

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The caller holds the lease for `ttl` from the claim.
    Held,
    /// Another process holds it until `until_ms` (backend clock, Unix ms).
    NotHeld { holder: String, until_ms: i64 },
}

#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes the lease `name` for `holder` until `ttl` from now if it is free, expired or
    /// already `holder`'s (which extends it).
    async fn try_hold(&self, name: &str, holder: &str, ttl: Duration) -> Result<Claim, StoreError>;

    /// Gives the lease up if `holder` holds it, so that another process takes it at once.
    async fn release(&self, name: &str, holder: &str) -> Result<(), StoreError>;
}

/// Milliseconds of a TTL as the backends store them (a TTL too large for i64 ms is capped).
pub fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2)
}
