//! Delivery policy: what a collector answer means for the events a request carried, and how long
//! to wait before the next try. Pure; `app` does the sending.
//! [`Sender`] is the state around it: one request in flight, its token, the attempt count, the
//! pending retry.

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

/// The sending state of one page view: at most one request in flight, and after a failed one
/// nothing new until its backoff timer fired. Pure: the caller sends, sets the timer and edits
/// the outbox as told.
#[derive(Default)]
pub struct Sender {
    in_flight: Option<(u32, Vec<String>)>,
    /// Failed attempts in a row (the backoff grows with it; a delivery resets it).
    attempt: u32,
    retry_pending: bool,
    last_token: u32,
}

/// What to do with a settled request's events.
#[derive(PartialEq, Eq, Debug)]
pub enum Settled {
    /// Delivered or refused: take these events out of the outbox (and send the next batch).
    Remove(Outcome, Vec<String>),
    /// Keep them; try again after this many ms.
    RetryIn(u32),
}

impl Sender {
    /// A request may start now (none in flight, no retry waiting).
    pub fn idle(&self) -> bool {
        self.in_flight.is_none() && !self.retry_pending
    }

    /// Records a request carrying `ids`; returns the token its answer must come back with.
    /// `None` when not [`idle`](Self::idle).
    pub fn start(&mut self, ids: Vec<String>) -> Option<u32> {
        if !self.idle() {
            return None;
        }
        self.last_token = self.last_token.wrapping_add(1);
        self.in_flight = Some((self.last_token, ids));
        Some(self.last_token)
    }

    /// The answer to request `token` (`status` 0: a network error). `None` for a stale token:
    /// an answer after [`reset`](Self::reset), or to a request that was already settled.
    /// `jitter`: a random byte for the backoff.
    pub fn settle(&mut self, token: u32, status: u16, jitter: u8) -> Option<Settled> {
        if self.in_flight.as_ref().is_none_or(|(t, _)| *t != token) {
            return None;
        }
        let (_, ids) = self.in_flight.take()?;
        Some(match outcome(status) {
            Outcome::Retry => {
                self.attempt = self.attempt.saturating_add(1);
                self.retry_pending = true;
                Settled::RetryIn(backoff_ms(self.attempt, jitter))
            }
            done => {
                self.attempt = 0;
                Settled::Remove(done, ids)
            }
        })
    }

    /// The backoff timer fired: sending may resume.
    pub fn retry_due(&mut self) {
        self.retry_pending = false;
    }

    /// Consent withdrawn: forget the request in flight (its answer becomes stale) and any retry.
    pub fn reset(&mut self) {
        self.in_flight = None;
        self.retry_pending = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_request_at_a_time_and_its_answer_says_what_leaves_the_outbox() {
        let mut s = Sender::default();
        let t = s.start(ids(&["a", "b"])).unwrap();
        assert!(!s.idle());
        assert_eq!(s.start(ids(&["c"])), None, "one in flight");
        assert_eq!(
            s.settle(t.wrapping_add(1), 200, 0),
            None,
            "someone else's answer"
        );
        assert_eq!(
            s.settle(t, 200, 0),
            Some(Settled::Remove(Outcome::Delivered, ids(&["a", "b"])))
        );
        assert_eq!(s.settle(t, 200, 0), None, "settled once");
        let t2 = s.start(ids(&["c"])).unwrap();
        assert_ne!(t2, t, "a new token per request");
        assert_eq!(
            s.settle(t2, 400, 0),
            Some(Settled::Remove(Outcome::Refused, ids(&["c"])))
        );
        assert!(s.idle());
    }

    #[test]
    fn failures_back_off_longer_each_time_until_a_delivery() {
        let mut s = Sender::default();
        let mut waits = vec![];
        for status in [0, 503, 429] {
            let t = s.start(ids(&["a"])).unwrap();
            let Some(Settled::RetryIn(ms)) = s.settle(t, status, 128) else {
                panic!("{status} is retried");
            };
            waits.push(ms);
            assert!(
                !s.idle() && s.start(ids(&["a"])).is_none(),
                "waits for the timer"
            );
            s.retry_due();
        }
        assert_eq!(waits, [1_000, 2_000, 4_000]);
        let t = s.start(ids(&["a"])).unwrap();
        assert!(matches!(s.settle(t, 200, 128), Some(Settled::Remove(..))));
        let t = s.start(ids(&["b"])).unwrap();
        assert_eq!(
            s.settle(t, 0, 128),
            Some(Settled::RetryIn(1_000)),
            "reset by the delivery"
        );
    }

    #[test]
    fn after_a_reset_the_old_answer_is_stale() {
        let mut s = Sender::default();
        let t = s.start(ids(&["a"])).unwrap();
        s.reset();
        assert!(s.idle());
        assert_eq!(s.settle(t, 200, 0), None);
        let t = s.start(ids(&["a"])).unwrap();
        assert_eq!(s.settle(t, 0, 0), Some(Settled::RetryIn(500)));
        s.reset();
        assert!(s.idle(), "a pending retry is dropped too");
    }

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
