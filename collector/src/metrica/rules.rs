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
//! probable = true                   # also chats matched by click timing (probable-click)
//! ```

use serde::Deserialize;

use super::columns::DOCUMENTED_PLATFORMS;
use super::export::ExportChat;

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
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
    #[serde(default = "yes")]
    pub probable: bool,
}

fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
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
            probable: true,
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
        if !self.probable && chat.method == "probable-click" {
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
}

/// Applies a counter's send rules; returns the admitted chats and how many each rule excluded.
pub fn apply_rules(
    rules: &CounterRules,
    all: Vec<Candidate>,
) -> (Vec<ExportChat>, Vec<(&'static str, usize)>) {
    let mut excluded: Vec<(&'static str, usize)> = Vec::new();
    let mut admitted = Vec::new();
    for c in all {
        let facts = RuleFacts {
            site: c.site.as_deref(),
            platform: &c.chat.platform,
            answered: c.chat.answered,
            tag: c.chat.tag.as_deref(),
            messages: c.messages,
            method: &c.method,
        };
        match rules.admits(&facts) {
            Ok(()) => admitted.push(c.chat),
            Err(rule) => match excluded.iter_mut().find(|(r, _)| *r == rule) {
                Some((_, n)) => *n += 1,
                None => excluded.push((rule, 1)),
            },
        }
    }
    (admitted, excluded)
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
    }
}
