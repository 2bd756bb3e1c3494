//! Per-address token bucket. An IPv6 client is one network prefix (a /64 by default: one home
//! or phone network, which hands out addresses freely), an IPv4 client one address. Memory is
//! bounded: when a shard is full, idle buckets (already full again) are swept, and if that is not
//! enough the least recently used eighth goes — never the whole table, which would hand every
//! limited client a fresh burst.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, Ipv6Addr};
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
    /// IPv6 addresses sharing this many leading bits share a bucket.
    pub ipv6_prefix: u8,
}

impl RateLimit {
    pub fn new(per_second: u32, burst: u32) -> RateLimit {
        RateLimit {
            per_second,
            burst,
            ipv6_prefix: 64,
        }
    }
}

/// The bucket an address is counted in: IPv6 cut to `prefix` bits (an IPv4-mapped IPv6
/// address is its IPv4 address).
pub fn bucket_key(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u32::from(prefix.min(128));
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        },
    }
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

pub struct RateLimiter {
    limit: RateLimit,
    /// Tokens per second.
    rate: f64,
    hasher: RandomState,
    shards: Vec<Mutex<HashMap<IpAddr, Bucket>>>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter::with_rate(limit, f64::from(limit.per_second))
    }

    /// `per_minute` requests a minute per client, `burst` at once (the login form).
    pub fn per_minute(per_minute: u32, burst: u32, ipv6_prefix: u8) -> RateLimiter {
        let limit = RateLimit {
            per_second: u32::from(per_minute > 0),
            burst,
            ipv6_prefix,
        };
        RateLimiter::with_rate(limit, f64::from(per_minute) / 60.0)
    }

    fn with_rate(limit: RateLimit, rate: f64) -> RateLimiter {
        RateLimiter {
            limit,
            rate,
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
        let ip = bucket_key(ip, self.limit.ipv6_prefix);
        let rate = self.rate;
        let burst = f64::from(self.limit.burst.max(1));
        let shard = &self.shards[(self.hasher.hash_one(ip) as usize) % SHARDS];
        // A poisoned lock only means another request panicked mid-update; the map is still usable.
        let mut map = shard.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_PER_SHARD && !map.contains_key(&ip) {
            map.retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * rate < burst);
            if map.len() >= MAX_PER_SHARD {
                evict_least_recent(&mut map, MAX_PER_SHARD / 8);
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

/// Drops the `n` buckets used longest ago.
fn evict_least_recent(map: &mut HashMap<IpAddr, Bucket>, n: usize) {
    let mut lasts: Vec<Instant> = map.values().map(|b| b.last).collect();
    let n = n.clamp(1, lasts.len().max(1));
    if lasts.is_empty() {
        return;
    }
    let (_, cut, _) = lasts.select_nth_unstable(n - 1);
    let cut = *cut;
    let mut left = n;
    map.retain(|_, b| {
        if left > 0 && b.last <= cut {
            left -= 1;
            false
        } else {
            true
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let rl = RateLimiter::new(RateLimit::new(2, 3));
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
        let rl = RateLimiter::new(RateLimit::new(0, 0));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!((0..10_000).all(|_| rl.check(ip).is_ok()));
    }

    #[test]
    fn one_ipv6_network_is_one_client() {
        let rl = RateLimiter::new(RateLimit::new(1, 3));
        let t0 = Instant::now();
        let passed = (0..200u32)
            .filter(|i| {
                let ip: IpAddr = format!("2001:db8:1:2::{i:x}").parse().unwrap();
                rl.check_at(ip, t0).is_ok()
            })
            .count();
        assert_eq!(passed, 3);
        // Another /64 is another client; a /56 setting joins them.
        assert!(rl.check_at("2001:db8:1:3::1".parse().unwrap(), t0).is_ok());
        assert_eq!(
            bucket_key("2001:db8:1:2ff::1".parse().unwrap(), 56),
            "2001:db8:1:200::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            bucket_key("::ffff:203.0.113.7".parse().unwrap(), 64),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn a_flood_of_addresses_does_not_reset_a_limited_client() {
        let rl = RateLimiter::new(RateLimit::new(1, 2));
        let t0 = Instant::now();
        let limited: IpAddr = "198.51.100.9".parse().unwrap();
        assert!(rl.check_at(limited, t0).is_ok());
        assert!(rl.check_at(limited, t0).is_ok());
        assert!(rl.check_at(limited, t0).is_err());
        // Fill every shard twice past its cap with fresh addresses, one per microsecond (0.26 s
        // in all, so the limited client earns back less than one request).
        let mut now = t0;
        let mut passed = 0;
        for i in 0..(SHARDS * MAX_PER_SHARD * 2) as u32 {
            now += Duration::from_micros(1);
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            let _ = rl.check_at(ip, now);
            // The limited client keeps trying, as an attacker hammering on would.
            if i % 1000 == 0 && rl.check_at(limited, now).is_ok() {
                passed += 1;
            }
        }
        assert_eq!(passed, 0, "the limited client got fresh bursts");
        assert!(rl.check_at(limited, now).is_err());
        let total: usize = rl.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(total <= SHARDS * MAX_PER_SHARD);
    }
}
