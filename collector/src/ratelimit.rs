//! Per-IP token bucket. Memory is bounded: idle buckets (already full again) are swept when a
//! shard grows past its cap, so a flood of distinct addresses cannot grow the table forever.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

const SHARDS: usize = 16;
const MAX_PER_SHARD: usize = 8192;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second per address; 0 disables limiting.
    pub per_second: u32,
    /// Requests allowed in a burst above the sustained rate.
    pub burst: u32,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

pub struct RateLimiter {
    limit: RateLimit,
    hasher: RandomState,
    shards: Vec<Mutex<HashMap<IpAddr, Bucket>>>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            limit,
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.limit.per_second > 0
    }

    /// Takes one token for `ip`; on refusal returns the seconds until one is available.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.check_at(ip, Instant::now())
    }

    fn check_at(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        if !self.enabled() {
            return Ok(());
        }
        let rate = f64::from(self.limit.per_second);
        let burst = f64::from(self.limit.burst.max(1));
        let shard = &self.shards[(self.hasher.hash_one(ip) as usize) % SHARDS];
        // A poisoned lock only means another request panicked mid-update; the map is still usable.
        let mut map = shard.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_PER_SHARD && !map.contains_key(&ip) {
            map.retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * rate < burst);
            if map.len() >= MAX_PER_SHARD {
                map.clear();
            }
        }
        let bucket = map.entry(ip).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let refill = now.duration_since(bucket.last).as_secs_f64() * rate;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / rate).ceil() as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let rl = RateLimiter::new(RateLimit {
            per_second: 2,
            burst: 3,
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(rl.check_at(ip, t0).is_ok());
        }
        assert_eq!(rl.check_at(ip, t0), Err(1));
        // Another address has its own bucket.
        assert!(rl.check_at("10.0.0.2".parse().unwrap(), t0).is_ok());
        assert!(rl.check_at(ip, t0 + Duration::from_millis(500)).is_ok());
        assert!(rl.check_at(ip, t0 + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn zero_disables() {
        let rl = RateLimiter::new(RateLimit {
            per_second: 0,
            burst: 0,
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!((0..10_000).all(|_| rl.check(ip).is_ok()));
    }
}
