//! The site's own check of probable matching, before any guess goes to Metrica.
//!
//! Apply the matching rule at the moments chats *with* a code began, pretending their real
//! clicker had not clicked: whatever the rule would still have credited there is a background
//! click it credits by mistake. That share `q`, times all code-less chats, bounds the wrong
//! acceptances from above, so `1 − q · codeless / accepted` is a conservative precision estimate
//! (docs/probable-matching.md: never above the true precision in the simulation for the
//! 5-minute rule). Probable chats go out only while it is above the counter's bar.

/// Days of chats the estimate looks at.
pub const EVIDENCE_DAYS: i64 = 28;
/// Below this many chats with a code on the messenger, the estimate is not trusted.
pub const MIN_CODED: i64 = 30;
/// "More likely than not": the lowest bar a site owner may set.
pub const MIN_PRECISION: f64 = 0.5;

/// Counts for one messenger over [`EVIDENCE_DAYS`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    pub platform: String,
    /// Chats that arrived with a code.
    pub coded: i64,
    /// Of those, how many the rule would have credited to someone else had their clicker not
    /// clicked.
    pub coded_false_hits: i64,
    /// Chats without a usable code (probable or unmatched).
    pub codeless: i64,
    /// Chats the rule credited (probable-click).
    pub accepted: i64,
}

/// The verdict for one messenger.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verdict {
    /// Estimated precision above the bar: probable chats may go out.
    Trusted(f64),
    /// Estimated precision at or below the bar.
    TooLow(f64),
    /// Fewer than [`MIN_CODED`] chats with a code: nothing to estimate from.
    NotEnoughEvidence(i64),
}

impl Evidence {
    /// `None` when nothing was accepted (no guess to judge).
    pub fn estimate(&self) -> Option<f64> {
        if self.coded == 0 || self.accepted == 0 {
            return None;
        }
        let q = self.coded_false_hits as f64 / self.coded as f64;
        Some(1.0 - q * self.codeless as f64 / self.accepted as f64)
    }

    pub fn verdict(&self, bar: f64) -> Verdict {
        if self.coded < MIN_CODED {
            return Verdict::NotEnoughEvidence(self.coded);
        }
        match self.estimate() {
            Some(p) if p > bar.max(MIN_PRECISION) => Verdict::Trusted(p),
            Some(p) => Verdict::TooLow(p),
            // Nothing accepted: nothing would be sent either way.
            None => Verdict::TooLow(0.0),
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Trusted(p) => write!(f, "estimated precision {p:.2}"),
            Verdict::TooLow(p) => write!(f, "estimated precision {p:.2} is not above the bar"),
            Verdict::NotEnoughEvidence(n) => write!(
                f,
                "only {n} chat(s) with a code in {EVIDENCE_DAYS} days (needs {MIN_CODED}) to estimate precision"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(coded: i64, hits: i64, codeless: i64, accepted: i64) -> Evidence {
        Evidence {
            platform: "whatsapp".into(),
            coded,
            coded_false_hits: hits,
            codeless,
            accepted,
        }
    }

    #[test]
    fn estimate_and_verdicts() {
        // q = 0.1, 40 code-less, 20 accepted: at most 4 wrong of 20 → 0.8.
        let e = ev(100, 10, 40, 20);
        assert!((e.estimate().unwrap() - 0.8).abs() < 1e-9);
        assert_eq!(e.verdict(0.5), Verdict::Trusted(e.estimate().unwrap()));
        assert!(matches!(e.verdict(0.8), Verdict::TooLow(_)));
        // A bar below 0.5 is raised to 0.5.
        let busy = ev(100, 30, 40, 20); // 1 − 0.3·2 = 0.4
        assert!(matches!(busy.verdict(0.1), Verdict::TooLow(_)));
        assert_eq!(ev(29, 0, 5, 5).verdict(0.5), Verdict::NotEnoughEvidence(29));
        assert!(matches!(ev(30, 0, 5, 0).verdict(0.5), Verdict::TooLow(_)));
        assert!(ev(30, 0, 5, 5).verdict(0.5) == Verdict::Trusted(1.0));
    }
}
