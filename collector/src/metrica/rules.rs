//! Send rules per Metrica counter, in the manner of call-tracking integrations: which chats a
//! counter receives. Read from a TOML file (`--counters-file`), one `[[counter]]` table each:
//!
//! ```toml
//! [[counter]]
//! id = 12345678
//! sites = ["shop.example"]          # sites (as the collector names them) whose chats go here; empty = all
//! platforms = ["telegram", "whatsapp", "viber"]   # empty = the three Metrica documents; add "max" to opt in
//! answered_only = false             # only chats the site answered
//! tags = []                         # only chats with one of these tags; empty = any
//! min_messages = 1                  # at least this many messages from the person
//! include_unattributed = false      # also rows without any visitor ID
//! send_probable = false             # also chats matched by click timing (probable-click); off by default
//! probable_min_precision = 0.5      # ...and then only while the site's own estimate is above this
//! settle = "24h"                    # upload a chat once answered or this long after it began (1h..7d)
//! revenue_goal = "chat_paid"        # JavaScript-event goal that carries revenue as offline conversions
//! ```
//!
//! Why settle and the goal: Metrica documents no update of a chat row already sent, so a chat is
//! sent once, after it has settled, and money that arrives later goes out as an offline
//! conversion (docs/metrica-chat-import.md).

use serde::Deserialize;

use super::columns::DOCUMENTED_PLATFORMS;
use super::export::ExportChat;

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CounterRules {
    pub id: u64,
    #[serde(default)]
    pub sites: Vec<String>,
    #[serde(default)]
    pub platforms: Vec<String>,
    #[serde(default)]
    pub answered_only: bool,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default = "one")]
    pub min_messages: u32,
    #[serde(default)]
    pub include_unattributed: bool,
    /// Export chats matched by click timing. Off by default: a guess trains the ad system on
    /// noise when it is wrong (docs/probable-matching.md). `probable` is the older key.
    #[serde(default, alias = "probable")]
    pub send_probable: bool,
    /// The precision the site's own estimate must exceed for probable chats to go out (≥ 0.5).
    #[serde(default = "half")]
    pub probable_min_precision: f64,
    /// How long after its first message an unanswered chat is uploaded as not answered.
    #[serde(default = "default_settle", deserialize_with = "settle_ms")]
    pub settle: i64,
    /// The goal (JavaScript-event identifier) whose offline conversions carry revenue.
    #[serde(default)]
    pub revenue_goal: Option<String>,
}

fn one() -> u32 {
    1
}
fn half() -> f64 {
    super::probable::MIN_PRECISION
}

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR_MS;
/// 24 h: a business day and a night, leaving ≥ 19 of Metrica's 21 days for the visit→chat delay.
pub const DEFAULT_SETTLE_MS: i64 = DAY_MS;
pub const SETTLE_RANGE_MS: std::ops::RangeInclusive<i64> = HOUR_MS..=7 * DAY_MS;
/// A chat whose visit is this old goes out at once: Metrica links offline data to a visit for
/// 21 days, counted to the start of processing (up to 2 h after upload).
pub const WINDOW_EDGE_MS: i64 = 20 * DAY_MS;

fn default_settle() -> i64 {
    DEFAULT_SETTLE_MS
}

fn settle_ms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let text = String::deserialize(d)?;
    let ms = crate::durations::parse_duration(&text)
        .map_err(serde::de::Error::custom)?
        .as_millis();
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    if !SETTLE_RANGE_MS.contains(&ms) {
        return Err(serde::de::Error::custom(format!(
            "settle {text:?} must be between 1h and 7d"
        )));
    }
    Ok(ms)
}

/// Whether a chat is ready for its one and only row: answered, or the settle time has passed
/// since it began, or its visit is about to leave Metrica's 21-day window.
pub fn is_settled(
    answered: bool,
    started_ms: i64,
    visit_ms: Option<i64>,
    now_ms: i64,
    settle_ms: i64,
) -> bool {
    answered
        || now_ms - started_ms >= settle_ms
        || visit_ms.is_some_and(|v| now_ms - v >= WINDOW_EDGE_MS)
}

impl CounterRules {
    /// Defaults for a counter named only on the command line.
    pub fn for_counter(id: u64) -> CounterRules {
        CounterRules {
            id,
            sites: Vec::new(),
            platforms: Vec::new(),
            answered_only: false,
            tags: Vec::new(),
            min_messages: 1,
            include_unattributed: false,
            send_probable: false,
            probable_min_precision: super::probable::MIN_PRECISION,
            settle: DEFAULT_SETTLE_MS,
            revenue_goal: None,
        }
    }

    pub fn allows_max(&self) -> bool {
        self.platforms.iter().any(|p| p.eq_ignore_ascii_case("max"))
    }

    /// Decides whether one chat is sent to this counter. `Err` carries the rule that excluded it.
    pub fn admits(&self, chat: &RuleFacts) -> Result<(), &'static str> {
        if !self.sites.is_empty() && !chat.site.is_some_and(|s| self.sites.iter().any(|x| x == s)) {
            return Err("site");
        }
        let platform_ok = if self.platforms.is_empty() {
            DOCUMENTED_PLATFORMS.contains(&chat.platform)
        } else {
            self.platforms
                .iter()
                .any(|p| p.eq_ignore_ascii_case(chat.platform))
        };
        if !platform_ok {
            return Err("platform");
        }
        if self.answered_only && !chat.answered {
            return Err("answered_only");
        }
        if !self.tags.is_empty() && !chat.tag.is_some_and(|t| self.tags.iter().any(|x| x == t)) {
            return Err("tags");
        }
        if chat.messages < self.min_messages {
            return Err("min_messages");
        }
        if !self.send_probable && chat.method == "probable-click" {
            return Err("probable");
        }
        Ok(())
    }
}

/// A chat with what the send rules look at.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub chat: ExportChat,
    pub site: Option<String>,
    pub method: String,
    pub messages: u32,
    /// The visitor's first recorded activity with this chat ID (ms), for Metrica's 21-day window.
    pub visit_ms: Option<i64>,
    /// `DateTime` seconds that rows of earlier uploads to the counter already use for one of
    /// this chat's visitor IDs, within the window its own `DateTime` may be nudged into
    /// ([`CandidateQuery::taken_window`]); empty when sent chats are included.
    pub taken: Vec<i64>,
}

impl Candidate {
    /// Where the next page starts.
    pub fn key(&self) -> CandidateKey {
        CandidateKey {
            started_ms: self.chat.started_ms,
            conversation: self.chat.conversation,
        }
    }
}

/// A candidate's place in the export order `(started_at, conversation id)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CandidateKey {
    pub started_ms: i64,
    pub conversation: i64,
}

/// One page of export candidates ([`crate::store::MetricaStore::export_candidates`]): keyset
/// paging, so a backend reads each page by index from where the last one ended and an export
/// of any size is held in memory a page at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CandidateQuery {
    pub counter: u64,
    /// Conversations started in `[from_ms, to_ms)`.
    pub from_ms: i64,
    pub to_ms: i64,
    /// Also chats already sent to `counter` (`--all`, `--force`); then no second is taken.
    pub include_sent: bool,
    /// Only candidates after this one in the export order.
    pub after: Option<CandidateKey>,
    /// Only candidates up to this one (inclusive): a segment found by
    /// [`crate::store::MetricaStore::candidate_bound`], so that segments are read side by side.
    pub until: Option<CandidateKey>,
    pub limit: u32,
    /// The exporter's clock (Unix seconds): every `DateTime` is before it.
    pub now_s: i64,
    /// The counter's latest ledger `DateTime` when the export began (`Some(i64::MIN)`: none).
    /// A chat whose window starts after it can meet no earlier row, and rows of this export are
    /// the exporter's own concern, so its lookup is skipped. `None`: every chat looks.
    pub sent_until_s: Option<i64>,
}

impl CandidateQuery {
    /// `after` as SQL bounds: (start ms, conversation id), the lowest possible when unset.
    pub fn after_bounds(&self) -> (i64, i64) {
        self.after
            .map_or((i64::MIN, i64::MIN), |k| (k.started_ms, k.conversation))
    }

    /// `until` as SQL bounds, the highest possible when unset.
    pub fn until_bounds(&self) -> (i64, i64) {
        self.until
            .map_or((i64::MAX, i64::MAX), |k| (k.started_ms, k.conversation))
    }

    /// The `DateTime` seconds a chat that started at `started_ms` may be written with: its own
    /// second (at most one before `now_s`) and up to [`super::export::MAX_NUDGE_S`] before it.
    /// The taken seconds a backend returns are those of earlier rows in this window.
    pub fn taken_window(&self, started_ms: i64) -> std::ops::RangeInclusive<i64> {
        let origin = started_ms.div_euclid(1000).min(self.now_s - 1);
        origin - super::export::MAX_NUDGE_S..=origin
    }
}

/// Applies a counter's send rules to one chat; `Err` names the rule that excluded it.
/// `settling_at`: the upload's "now", to hold back chats that have not settled yet (see
/// [`is_settled`]); `None` for an export or a forced upload, which take every chat as it is.
pub fn admit(
    rules: &CounterRules,
    c: &Candidate,
    settling_at: Option<i64>,
) -> Result<(), &'static str> {
    let settled = settling_at.is_none_or(|now| {
        is_settled(
            c.chat.answered,
            c.chat.started_ms,
            c.visit_ms,
            now,
            rules.settle,
        )
    });
    let facts = RuleFacts {
        site: c.site.as_deref(),
        platform: &c.chat.platform,
        answered: c.chat.answered,
        tag: c.chat.tag.as_deref(),
        messages: c.messages,
        method: &c.method,
    };
    rules
        .admits(&facts)
        .and(if settled { Ok(()) } else { Err("settling") })
}

/// Counts one exclusion by rule, in the order rules first exclude something.
pub fn count_exclusion(excluded: &mut Vec<(&'static str, usize)>, rule: &'static str) {
    match excluded.iter_mut().find(|(r, _)| *r == rule) {
        Some((_, n)) => *n += 1,
        None => excluded.push((rule, 1)),
    }
}

/// What the rules look at.
pub struct RuleFacts<'a> {
    pub site: Option<&'a str>,
    pub platform: &'a str,
    pub answered: bool,
    pub tag: Option<&'a str>,
    pub messages: u32,
    pub method: &'a str,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountersFile {
    #[serde(default)]
    pub counter: Vec<CounterRules>,
}

#[derive(Debug)]
pub struct RulesError(pub String);

impl std::fmt::Display for RulesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "counters file: {}", self.0)
    }
}

impl std::error::Error for RulesError {}

/// Metrica counter numbers are positive and fit a signed 32-bit integer; anything else is a typo
/// that would only fail later, at Metrica.
pub fn is_counter_number(id: u64) -> bool {
    (1..=i32::MAX as u64).contains(&id)
}

pub fn parse_counters(text: &str) -> Result<Vec<CounterRules>, RulesError> {
    let file: CountersFile = toml::from_str(text).map_err(|e| RulesError(e.to_string()))?;
    let mut seen = std::collections::HashSet::new();
    for c in &file.counter {
        if !is_counter_number(c.id) {
            return Err(RulesError(format!(
                "counter id {} is not a Metrica counter number",
                c.id
            )));
        }
        if !(super::probable::MIN_PRECISION..=1.0).contains(&c.probable_min_precision) {
            return Err(RulesError(format!(
                "counter {}: probable_min_precision must be between 0.5 and 1",
                c.id
            )));
        }
        if !seen.insert(c.id) {
            return Err(RulesError(format!("counter {} is listed twice", c.id)));
        }
    }
    Ok(file.counter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_numbers_are_positive_i32() {
        assert!(!is_counter_number(0));
        assert!(is_counter_number(1));
        assert!(is_counter_number(2_147_483_647));
        assert!(!is_counter_number(2_147_483_648));
        let err = parse_counters("[[counter]]\nid = 0\n").unwrap_err();
        assert!(err.to_string().contains("counter id 0 is not"), "{err}");
        let err = parse_counters("[[counter]]\nid = 5\n[[counter]]\nid = 5\n").unwrap_err();
        assert!(err.to_string().contains("listed twice"), "{err}");
    }

    fn facts<'a>(platform: &'a str) -> RuleFacts<'a> {
        RuleFacts {
            site: Some("shop.example"),
            platform,
            answered: false,
            tag: None,
            messages: 1,
            method: "exact-link",
        }
    }

    #[test]
    fn rules_filter() {
        let text = r#"
            [[counter]]
            id = 12345678
            sites = ["shop.example"]
            answered_only = true
            tags = ["sale"]
            min_messages = 2
            probable = false
            settle = "2h"
            revenue_goal = "chat_paid"
            [[counter]]
            id = 87654321
            platforms = ["telegram", "max"]
        "#;
        let cs = parse_counters(text).unwrap();
        let (strict, loose) = (&cs[0], &cs[1]);
        assert_eq!(strict.admits(&facts("telegram")), Err("answered_only"));
        let mut f = facts("telegram");
        f.answered = true;
        assert_eq!(strict.admits(&f), Err("tags"));
        f.tag = Some("sale");
        assert_eq!(strict.admits(&f), Err("min_messages"));
        f.messages = 2;
        assert_eq!(strict.admits(&f), Ok(()));
        f.method = "probable-click";
        assert_eq!(strict.admits(&f), Err("probable"));
        f.site = Some("other.example");
        assert_eq!(strict.admits(&f), Err("site"));
        assert_eq!(strict.admits(&facts("max")), Err("platform"));
        assert_eq!(loose.admits(&facts("max")), Ok(()));
        assert!(loose.allows_max() && !strict.allows_max());
        assert_eq!(loose.admits(&facts("whatsapp")), Err("platform"));
        assert_eq!(
            CounterRules::for_counter(1).admits(&facts("vk")),
            Err("platform")
        );
    }

    #[test]
    fn bad_files() {
        assert!(parse_counters("[[counter]]\nid = 1\nid = 1").is_err());
        assert!(parse_counters("[[counter]]\nid = 1\n[[counter]]\nid = 1").is_err());
        assert!(parse_counters("[[counter]]\nid = 1\ncolour = 1").is_err());
        assert!(parse_counters("[[counter]]\nid = 0").is_err());
        assert!(parse_counters("[[counter]]\nid = 1\nsettle = \"30m\"").is_err());
        assert!(parse_counters("[[counter]]\nid = 1\nsettle = \"8d\"").is_err());
        assert!(parse_counters("[[counter]]\nid = 1\nsettle = \"soon\"").is_err());
        assert!(parse_counters("[[counter]]\nid = 1\nprobable_min_precision = 0.3").is_err());
    }

    #[test]
    fn settle_defaults_and_edges() {
        let cs = parse_counters(
            "[[counter]]\nid = 1\n[[counter]]\nid = 2\nsettle = \"1h\"\nsend_probable = true",
        )
        .unwrap();
        assert_eq!(
            (
                cs[0].settle,
                cs[0].send_probable,
                cs[0].revenue_goal.as_deref()
            ),
            (DAY_MS, false, None)
        );
        assert_eq!((cs[1].settle, cs[1].send_probable), (HOUR_MS, true));
        let t = 1_000 * DAY_MS;
        // Answered: at once. Unanswered: only after the settle time.
        assert!(is_settled(true, t, None, t + 1, DAY_MS));
        assert!(!is_settled(false, t, None, t + DAY_MS - 1, DAY_MS));
        assert!(is_settled(false, t, None, t + DAY_MS, DAY_MS));
        // A chat whose visit is 20 days old goes out at once.
        assert!(is_settled(
            false,
            t,
            Some(t - WINDOW_EDGE_MS + 1),
            t + 1,
            DAY_MS
        ));
        assert!(!is_settled(false, t, Some(t - 1), t + 1, DAY_MS));
    }
}
