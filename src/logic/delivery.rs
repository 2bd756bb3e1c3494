//! Delivery policy: what a collector answer means for the events a request carried, and how long
//! to wait before the next try. Pure; `app` does the sending.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    /// 2xx: the collector committed the events — remove them from the outbox.
    Delivered,
    /// A 4xx other than 408/429: the request itself is wrong and resending cannot fix it —
    /// remove them too, or they would block the outbox forever.
    Refused,
    /// Network failure (status 0), 408, 429, 5xx, anything else: keep them and try again.
    Retry,
}

pub fn outcome(status: u16) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered,
        408 | 429 => Outcome::Retry,
        400..=499 => Outcome::Refused,
        _ => Outcome::Retry,
    }
}

const BASE_MS: u32 = 1_000;
const MAX_MS: u32 = 60_000;

/// Exponential backoff with jitter for the `attempt`-th retry (1-based): 1 s, 2 s, 4 s … capped
/// at 60 s, each scaled by 0.5–1.5 from `jitter` (a random byte) so that many visitors' pages
/// do not retry in lockstep after a collector outage.
pub fn backoff_ms(attempt: u32, jitter: u8) -> u32 {
    let exp = attempt.saturating_sub(1).min(16);
    let base = BASE_MS.saturating_mul(1 << exp).min(MAX_MS);
    // base × (128 + jitter) / 256 ∈ [0.5, 1.5) × base
    ((base as u64 * (128 + jitter as u64)) / 256) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(outcome(200), Outcome::Delivered);
        assert_eq!(outcome(204), Outcome::Delivered);
        assert_eq!(outcome(400), Outcome::Refused);
        assert_eq!(outcome(413), Outcome::Refused);
        assert_eq!(outcome(408), Outcome::Retry);
        assert_eq!(outcome(429), Outcome::Retry);
        assert_eq!(outcome(500), Outcome::Retry);
        assert_eq!(outcome(503), Outcome::Retry);
        assert_eq!(outcome(0), Outcome::Retry, "network error / aborted");
        assert_eq!(outcome(302), Outcome::Retry);
    }

    #[test]
    fn backoff_grows_caps_and_jitters() {
        assert_eq!(backoff_ms(1, 128), 1_000);
        assert_eq!(backoff_ms(2, 128), 2_000);
        assert_eq!(backoff_ms(3, 128), 4_000);
        assert_eq!(backoff_ms(50, 128), 60_000);
        assert_eq!(backoff_ms(1, 0), 500);
        assert!(backoff_ms(1, 255) < 1_500);
        assert!(backoff_ms(7, 255) < 90_000 && backoff_ms(7, 255) > 60_000);
    }
}
