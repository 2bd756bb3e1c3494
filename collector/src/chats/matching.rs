//! How a chat is tied to the visit that produced it. Pure decisions; storage supplies the inputs.
//!
//! 1. **exact-link** — the deeplink data (Telegram `/start`, Viber `context`, MAX `payload`)
//!    carries a chat ID (`chattag_core::links::split_start_param`, which also separates a site's own
//!    start value such as `promo_CT8F2A9KQZ`).
//! 2. **exact-text** — the person's message contains an ID found by the shared tolerant parser
//!    (`chattag_core::search_chat_id`: case, confusables, Cyrillic look-alikes; the check
//!    character must verify, so a mistyped ID is never an exact match).
//! 3. **probable-click** — no ID, but exactly one *unclaimed* visitor (one chat ID whose code no
//!    chat has brought yet) clicked a link to the same messenger (and, where both sides name it,
//!    the same account) within the window (5 minutes) before the chat started. Chosen with the
//!    seeded simulation in docs/probable-matching.md; a guess, so it is marked as probable
//!    everywhere and not exported to Metrica unless a counter asks for it and the site's own
//!    precision estimate holds (`metrica::probable`).
//! 4. **unmatched** — with a [`Reason`] that reports show to the site owner.

use chattag_core::{account_of_link, search_chat_id, ChatId, Found, Prefix};

#[derive(Clone, Copy, PartialEq, Eq, Debug, PartialOrd, Ord)]
pub enum Method {
    ExactLink,
    ExactText,
    ProbableClick,
    Unmatched,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::ExactLink => "exact-link",
            Method::ExactText => "exact-text",
            Method::ProbableClick => "probable-click",
            Method::Unmatched => "unmatched",
        }
    }

    pub fn parse(s: &str) -> Option<Method> {
        [
            Method::ExactLink,
            Method::ExactText,
            Method::ProbableClick,
            Method::Unmatched,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }

    pub fn is_exact(self) -> bool {
        matches!(self, Method::ExactLink | Method::ExactText)
    }
}

/// Why a chat could not be tied to a visit. Stored as [`Reason::code`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reason {
    /// The message contains something shaped like an ID whose check character fails
    /// (a mistyped or edited code), and no single click could stand in for it.
    DamagedId,
    /// Neither an ID nor any click on this messenger in the window.
    NoIdNoClick,
    /// No ID, and several visitors clicked within the window: guessing would be wrong too often.
    AmbiguousClicks,
    /// A platform the snippet does not tag (generic intake), and no ID in the message.
    UntrackedPlatform,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::DamagedId => "damaged-id",
            Reason::NoIdNoClick => "no-id-no-click",
            Reason::AmbiguousClicks => "ambiguous-clicks",
            Reason::UntrackedPlatform => "untracked-platform",
        }
    }

    /// Words for the report page.
    pub fn describe(code: &str) -> &'static str {
        match code {
            "damaged-id" => "code typed with a mistake",
            "no-id-no-click" => "no code, no click on the site",
            "ambiguous-clicks" => "no code, several visitors clicked",
            "untracked-platform" => "platform not tagged by the snippet",
            "no-visitor-ids" => "code known, but no Metrica IDs recorded for it",
            "id-collision" => "code issued to two visitors; their Metrica IDs withheld",
            _ => "other",
        }
    }
}

/// What the chat itself says about its ID.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum IdEvidence {
    Link(ChatId),
    Text(ChatId),
    /// Something ID-shaped with a failing check character.
    Damaged,
    None,
}

pub fn id_evidence(
    start_param: Option<&str>,
    text: Option<&str>,
    prefixes: &[Prefix],
) -> IdEvidence {
    if let Some(id) = start_param.and_then(|p| chattag_core::links::split_start_param(p).chat_id) {
        if prefixes.iter().any(|p| p.as_str() == id.prefix()) {
            return IdEvidence::Link(id);
        }
    }
    let Some(text) = text else {
        return IdEvidence::None;
    };
    match search_chat_id(text, prefixes) {
        Found::Id(id) => IdEvidence::Text(id),
        Found::Damaged => IdEvidence::Damaged,
        Found::None => IdEvidence::None,
    }
}

/// A click recorded by the snippet, as the probable-match step needs it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ClickCandidate {
    pub chat_id: ChatId,
    /// `click.messenger`: whatsapp | telegram | viber | max.
    pub messenger: String,
    /// `click.target`: the tagged link that was opened.
    pub target: Option<String>,
    pub ts_ms: i64,
    /// A chat carrying this visitor's code arrived before: that visitor is accounted for and
    /// did not write a second, code-less chat (the simulation's "free precision").
    pub claimed: bool,
}

/// The window of the probable match.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// How long before the chat's start a click still counts.
    pub before_ms: i64,
    /// Tolerance for the visitor's clock running ahead of the messenger's.
    pub skew_ms: i64,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            // 5 minutes: the simulation's best recall among rules whose self-checked precision
            // stays above 0.5 (10 minutes fails already at 100 clicks a day).
            before_ms: 5 * 60 * 1000,
            skew_ms: 2 * 60 * 1000,
        }
    }
}

/// Matching settings, from the `[chats]` config table.
#[derive(Clone, Debug)]
pub struct MatchSettings {
    pub prefixes: Vec<Prefix>,
    pub window: Window,
}

impl Default for MatchSettings {
    fn default() -> Self {
        MatchSettings {
            prefixes: vec![Prefix::DEFAULT],
            window: Window::default(),
        }
    }
}

/// The chat's side of a probable match.
pub struct ChatStartFacts<'a> {
    /// Snippet messenger name for the platform, None for platforms the snippet does not tag.
    pub messenger: Option<&'a str>,
    /// The site's account (bot username, business phone) when the webhook or config names it.
    pub account: Option<&'a str>,
    pub started_ms: i64,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Decision {
    pub method: Method,
    pub chat_id: Option<ChatId>,
    pub reason: Option<Reason>,
}

pub fn decide(
    evidence: IdEvidence,
    facts: &ChatStartFacts,
    clicks: &[ClickCandidate],
    window: Window,
) -> Decision {
    let damaged = match evidence {
        IdEvidence::Link(id) => {
            return Decision {
                method: Method::ExactLink,
                chat_id: Some(id),
                reason: None,
            }
        }
        IdEvidence::Text(id) => {
            return Decision {
                method: Method::ExactText,
                chat_id: Some(id),
                reason: None,
            }
        }
        IdEvidence::Damaged => true,
        IdEvidence::None => false,
    };
    let unmatched = |reason| Decision {
        method: Method::Unmatched,
        chat_id: None,
        reason: Some(reason),
    };
    let Some(messenger) = facts.messenger else {
        return unmatched(if damaged {
            Reason::DamagedId
        } else {
            Reason::UntrackedPlatform
        });
    };
    let mut ids: Vec<&ChatId> = clicks
        .iter()
        .filter(|c| c.messenger == messenger && !c.claimed)
        .filter(|c| {
            c.ts_ms >= facts.started_ms - window.before_ms
                && c.ts_ms <= facts.started_ms + window.skew_ms
        })
        .filter(
            |c| match (facts.account, c.target.as_deref().and_then(account_of_link)) {
                (Some(ours), Some(theirs)) => ours.eq_ignore_ascii_case(&theirs),
                // Only one side names the account: it cannot rule the click out.
                _ => true,
            },
        )
        .map(|c| &c.chat_id)
        .collect();
    ids.sort();
    ids.dedup();
    match ids.as_slice() {
        [one] => Decision {
            method: Method::ProbableClick,
            chat_id: Some((*one).clone()),
            reason: None,
        },
        [] => unmatched(if damaged {
            Reason::DamagedId
        } else {
            Reason::NoIdNoClick
        }),
        _ => unmatched(if damaged {
            Reason::DamagedId
        } else {
            Reason::AmbiguousClicks
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid ID made with the core's own generator, so the tests do not depend on a
    /// hand-computed check character.
    fn make(prefix: &str, seed: u8) -> ChatId {
        ChatId::generate(&Prefix::new(prefix).unwrap(), [seed, 1, 2, 3, 4])
    }

    fn click(chat_id: &ChatId, messenger: &str, target: &str, ts_ms: i64) -> ClickCandidate {
        ClickCandidate {
            chat_id: chat_id.clone(),
            messenger: messenger.into(),
            target: Some(target.into()),
            ts_ms,
            claimed: false,
        }
    }

    const T0: i64 = 1_763_700_000_000;

    #[test]
    fn exact_evidence_wins_over_clicks() {
        let a = make("CT", 1);
        let b = make("CT", 2);
        let facts = ChatStartFacts {
            messenger: Some("telegram"),
            account: None,
            started_ms: T0,
        };
        let clicks = [click(
            &b,
            "telegram",
            "https://t.me/shop_bot?start=x",
            T0 - 1000,
        )];
        let d = decide(
            IdEvidence::Link(a.clone()),
            &facts,
            &clicks,
            Window::default(),
        );
        assert_eq!(
            d,
            Decision {
                method: Method::ExactLink,
                chat_id: Some(a.clone()),
                reason: None
            }
        );
        let d = decide(
            IdEvidence::Text(a.clone()),
            &facts,
            &clicks,
            Window::default(),
        );
        assert_eq!(d.method, Method::ExactText);
    }

    #[test]
    fn probable_click_needs_exactly_one_visitor_in_window_on_same_account() {
        let a = make("CT", 1);
        let b = make("CT", 2);
        let w = Window::default();
        let facts = ChatStartFacts {
            messenger: Some("whatsapp"),
            account: Some("79991234567"),
            started_ms: T0,
        };
        // Same visitor clicked twice: still one candidate.
        let clicks = [
            click(
                &a,
                "whatsapp",
                "https://wa.me/79991234567?text=x",
                T0 - 60_000,
            ),
            click(
                &a,
                "whatsapp",
                "https://wa.me/79991234567?text=x",
                T0 - 30_000,
            ),
            // Other messenger, other account, too old, too far in the future: all ruled out.
            click(&b, "telegram", "https://t.me/shop_bot", T0 - 1000),
            click(
                &b,
                "whatsapp",
                "https://wa.me/70000000000?text=x",
                T0 - 1000,
            ),
            click(
                &b,
                "whatsapp",
                "https://wa.me/79991234567?text=x",
                T0 - w.before_ms - 1,
            ),
            click(
                &b,
                "whatsapp",
                "https://wa.me/79991234567?text=x",
                T0 + w.skew_ms + 1,
            ),
        ];
        let d = decide(IdEvidence::None, &facts, &clicks, w);
        assert_eq!(
            d,
            Decision {
                method: Method::ProbableClick,
                chat_id: Some(a.clone()),
                reason: None
            }
        );

        // A second visitor in the window makes it ambiguous.
        let mut two = clicks.to_vec();
        two.push(click(
            &b,
            "whatsapp",
            "https://wa.me/79991234567?text=x",
            T0 - 5_000,
        ));
        let d = decide(IdEvidence::None, &facts, &two, w);
        assert_eq!(
            (d.method, d.reason),
            (Method::Unmatched, Some(Reason::AmbiguousClicks))
        );

        // …unless the second visitor's code already arrived in a chat of their own.
        if let Some(last) = two.last_mut() {
            last.claimed = true;
        }
        assert_eq!(
            decide(IdEvidence::None, &facts, &two, w).chat_id,
            Some(a.clone())
        );
        // A claimed visitor alone is no candidate.
        let only_claimed = [ClickCandidate {
            claimed: true,
            ..clicks[0].clone()
        }];
        assert_eq!(
            decide(IdEvidence::None, &facts, &only_claimed, w).reason,
            Some(Reason::NoIdNoClick)
        );

        let d = decide(IdEvidence::None, &facts, &[], w);
        assert_eq!(d.reason, Some(Reason::NoIdNoClick));
        let d = decide(IdEvidence::Damaged, &facts, &[], w);
        assert_eq!(d.reason, Some(Reason::DamagedId));
        // A damaged code still gets a probable match when one click explains the chat.
        let d = decide(IdEvidence::Damaged, &facts, &clicks, w);
        assert_eq!(d.method, Method::ProbableClick);
        let generic = ChatStartFacts {
            messenger: None,
            account: None,
            started_ms: T0,
        };
        assert_eq!(
            decide(IdEvidence::None, &generic, &clicks, w).reason,
            Some(Reason::UntrackedPlatform)
        );
    }

    #[test]
    fn evidence_from_start_param_and_text() {
        let ct = [Prefix::DEFAULT];
        let a = make("CT", 7);
        let s = a.as_str();
        assert_eq!(id_evidence(Some(s), None, &ct), IdEvidence::Link(a.clone()));
        assert_eq!(
            id_evidence(Some(&format!("promo_{s}")), None, &ct),
            IdEvidence::Link(a.clone())
        );
        // A start value without our ID falls through to the text.
        assert_eq!(
            id_evidence(Some("promo"), Some(&format!("hi {s}")), &ct),
            IdEvidence::Text(a.clone())
        );
        assert_eq!(id_evidence(Some(""), None, &ct), IdEvidence::None);

        // Retyped: lowercase, with a Crockford confusable (0 → O) and a Cyrillic С.
        let retyped: String = s.to_lowercase().replacen('0', "o", 1).replacen('c', "с", 1);
        assert_eq!(
            id_evidence(None, Some(&format!("Здравствуйте! Номер: {retyped}")), &ct),
            IdEvidence::Text(a.clone())
        );

        // A wrong check character: never exact, reported as damaged.
        let mut wrong = s.to_string();
        let last = wrong.pop().unwrap();
        wrong.push(if last == '0' { '1' } else { '0' });
        assert!(ChatId::parse(&wrong).is_err());
        assert_eq!(
            id_evidence(None, Some(&format!("код {wrong}")), &ct),
            IdEvidence::Damaged
        );
        assert_eq!(
            id_evidence(None, Some("hello, do you deliver?"), &ct),
            IdEvidence::None
        );
        // Another site's prefix is not ours.
        let other = make("ZZ", 7);
        assert_eq!(
            id_evidence(Some(other.as_str()), None, &ct),
            IdEvidence::None
        );
    }

    #[test]
    fn method_names_round_trip() {
        for m in [
            Method::ExactLink,
            Method::ExactText,
            Method::ProbableClick,
            Method::Unmatched,
        ] {
            assert_eq!(Method::parse(m.as_str()), Some(m));
        }
    }
}
