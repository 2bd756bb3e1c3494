//! What browser ingest may still store: events per site and in all per UTC day, and disk space
//! above a floor. Refusals are retryable answers (429 until the next day, 503 while the volume
//! is low), so the snippet keeps the events and sends them again.
//!
//! The day counters live in memory: a restart starts the day's count afresh. They bound what an
//! anonymous sender can make the collector store; they are not billing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::config::Limits;

const DAY_MS: u64 = 86_400_000;
/// How long a free-space reading is reused (statvfs is cheap, but not per request).
const DISK_CHECK_MS: u64 = 1_000;
/// Retry-After while the volume is below its floor.
pub const LOW_DISK_RETRY_S: u64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The site's or the collector's daily quota is used up; retry after this many seconds.
    Quota { retry_after_s: u64 },
    /// The volume has less free space than the floor.
    LowDisk { free_bytes: u64 },
}

pub struct Budget {
    site_daily: u64,
    daily: u64,
    min_free: u64,
    dir: PathBuf,
    counts: Mutex<Counts>,
    free_bytes: AtomicU64,
    free_checked_ms: AtomicU64,
}

#[derive(Default)]
struct Counts {
    day: u64,
    total: u64,
    /// Keyed by configured site IDs only (ingest has resolved the Origin), so bounded.
    sites: HashMap<String, u64>,
}

impl Budget {
    /// `db`: the database file; its directory's volume is watched (`None`: the database is
    /// elsewhere, PostgreSQL, and no floor applies here).
    pub fn new(limits: &Limits, db: Option<&std::path::Path>) -> Budget {
        let dir = db
            .and_then(|db| db.parent())
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), PathBuf::from);
        Budget {
            site_daily: limits.site_daily_events,
            daily: limits.daily_events,
            min_free: if db.is_some() {
                limits.min_free_bytes
            } else {
                0
            },
            dir,
            counts: Mutex::new(Counts::default()),
            free_bytes: AtomicU64::new(u64::MAX),
            free_checked_ms: AtomicU64::new(0),
        }
    }

    /// Whether the volume is above its floor (checked for every write request).
    pub fn check_disk(&self, now_ms: u64) -> Result<(), Refusal> {
        let free = self.free_bytes(now_ms);
        if free < self.min_free {
            return Err(Refusal::LowDisk { free_bytes: free });
        }
        Ok(())
    }

    /// Whether `events` more from `site` fit in today's quotas.
    pub fn check(&self, site: &str, events: u64, now_ms: u64) -> Result<(), Refusal> {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.roll(now_ms);
        let site_used = c.sites.get(site).copied().unwrap_or(0);
        let over = |limit: u64, used: u64| limit > 0 && used.saturating_add(events) > limit;
        if over(self.daily, c.total) || over(self.site_daily, site_used) {
            let retry_after_s = (DAY_MS - now_ms % DAY_MS).div_ceil(1000);
            return Err(Refusal::Quota { retry_after_s });
        }
        Ok(())
    }

    /// Counts `events` newly stored for `site`.
    pub fn spend(&self, site: &str, events: u64, now_ms: u64) {
        if events == 0 {
            return;
        }
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.roll(now_ms);
        c.total = c.total.saturating_add(events);
        match c.sites.get_mut(site) {
            Some(n) => *n = n.saturating_add(events),
            None => {
                c.sites.insert(site.to_owned(), events);
            }
        }
    }

    fn free_bytes(&self, now_ms: u64) -> u64 {
        if self.min_free == 0 {
            return u64::MAX;
        }
        let checked = self.free_checked_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(checked) < DISK_CHECK_MS {
            return self.free_bytes.load(Ordering::Relaxed);
        }
        self.free_checked_ms.store(now_ms, Ordering::Relaxed);
        // An unreadable volume is not reported as full: the write itself will say.
        let free = crate::disk::free_bytes(&self.dir).unwrap_or(u64::MAX);
        let was = self.free_bytes.swap(free, Ordering::Relaxed);
        match (was < self.min_free, free < self.min_free) {
            (false, true) => tracing::warn!(
                free_mb = free >> 20,
                floor_mb = self.min_free >> 20,
                "disk space below the floor: writes are refused (503) until there is more"
            ),
            (true, false) => tracing::info!(
                free_mb = free >> 20,
                "disk space above the floor again: writes resume"
            ),
            _ => {}
        }
        free
    }
}

impl Counts {
    fn roll(&mut self, now_ms: u64) {
        let day = now_ms / DAY_MS;
        if day != self.day {
            self.day = day;
            self.total = 0;
            self.sites.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits(site: u64, all: u64) -> Limits {
        Limits {
            header_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            max_connections: 1,
            min_free_bytes: 0,
            site_daily_events: site,
            daily_events: all,
        }
    }

    #[test]
    fn per_site_and_global_quotas_reset_at_utc_midnight() {
        let b = Budget::new(&limits(10, 15), Some(std::path::Path::new("x.db")));
        let t = 20_000 * DAY_MS + 3_600_000;
        assert_eq!(b.check("a", 10, t), Ok(()));
        b.spend("a", 10, t);
        assert!(matches!(
            b.check("a", 1, t),
            Err(Refusal::Quota {
                retry_after_s: 82_800
            })
        ));
        assert_eq!(b.check("b", 5, t), Ok(()));
        b.spend("b", 5, t);
        assert!(matches!(b.check("c", 1, t), Err(Refusal::Quota { .. })));
        assert_eq!(b.check("a", 10, t + DAY_MS), Ok(()));
    }

    #[test]
    fn zero_means_no_quota() {
        let b = Budget::new(&limits(0, 0), Some(std::path::Path::new("x.db")));
        b.spend("a", u64::MAX, 0);
        assert_eq!(b.check("a", 1_000_000, 0), Ok(()));
    }
}
