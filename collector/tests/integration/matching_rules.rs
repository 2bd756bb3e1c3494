//! The matcher's decisions one rule at a time (pure functions, no server): which evidence wins,
//! the exact edges of the click window, the account filter, one visitor counted once, and the
//! reason given for every unmatched chat. End to end through the webhooks and the store:
//! chats_continuity.rs.

use chattag_collector::chats::matching::{
    decide, id_evidence, ChatStartFacts, ClickCandidate, Decision, IdEvidence, Method, Reason,
    Window,
};
use chattag_core::{ChatId, Prefix};

const T0: i64 = 1_763_700_000_000;

fn id(seed: u8) -> ChatId {
    ChatId::generate(&Prefix::DEFAULT, [seed, 1, 2, 3, 4])
}

fn click(chat_id: &ChatId, messenger: &str, target: Option<&str>, ts_ms: i64) -> ClickCandidate {
    ClickCandidate {
        chat_id: chat_id.clone(),
        messenger: messenger.into(),
        target: target.map(Into::into),
        ts_ms,
        claimed: false,
    }
}

fn facts<'a>(messenger: Option<&'a str>, account: Option<&'a str>) -> ChatStartFacts<'a> {
    ChatStartFacts {
        messenger,
        account,
        started_ms: T0,
    }
}

fn probable(chat_id: &ChatId) -> Decision {
    Decision {
        method: Method::ProbableClick,
        chat_id: Some(chat_id.clone()),
        reason: None,
    }
}

fn unmatched(reason: Reason) -> Decision {
    Decision {
        method: Method::Unmatched,
        chat_id: None,
        reason: Some(reason),
    }
}

const TG: &str = "https://t.me/shop_bot?start=x";

#[test]
fn window_edges_exactly() {
    let w = Window {
        before_ms: 600_000,
        skew_ms: 120_000,
    };
    let a = id(1);
    let f = facts(Some("telegram"), None);
    let at = |ts: i64| {
        decide(
            IdEvidence::None,
            &f,
            &[click(&a, "telegram", Some(TG), ts)],
            w,
        )
    };
    assert_eq!(at(T0 - 600_000), probable(&a));
    assert_eq!(at(T0 - 600_001), unmatched(Reason::NoIdNoClick));
    assert_eq!(at(T0), probable(&a));
    assert_eq!(at(T0 + 120_000), probable(&a));
    assert_eq!(at(T0 + 120_001), unmatched(Reason::NoIdNoClick));
    // The defaults: five minutes before (docs/probable-matching.md), two minutes of clock skew
    // after.
    let d = Window::default();
    assert_eq!((d.before_ms, d.skew_ms), (300_000, 120_000));
}

#[test]
fn only_clicks_on_the_same_messenger_count() {
    let a = id(1);
    let f = facts(Some("whatsapp"), None);
    let clicks = [click(&a, "telegram", Some(TG), T0 - 1000)];
    assert_eq!(
        decide(IdEvidence::None, &f, &clicks, Window::default()),
        unmatched(Reason::NoIdNoClick)
    );
    let clicks = [click(&a, "whatsapp", Some("https://wa.me/1"), T0 - 1000)];
    assert_eq!(
        decide(IdEvidence::None, &f, &clicks, Window::default()),
        probable(&a)
    );
}

#[test]
fn account_filter() {
    let (a, b) = (id(1), id(2));
    let w = Window::default();
    let ours = facts(Some("telegram"), Some("Shop_Bot"));
    // The same account in any case counts; another account does not.
    let same = click(
        &a,
        "telegram",
        Some("https://t.me/shop_bot?start=x"),
        T0 - 1000,
    );
    let other = click(
        &b,
        "telegram",
        Some("https://t.me/other_bot?start=x"),
        T0 - 1000,
    );
    assert_eq!(
        decide(IdEvidence::None, &ours, &[same.clone(), other.clone()], w),
        probable(&a)
    );
    assert_eq!(
        decide(IdEvidence::None, &ours, std::slice::from_ref(&other), w),
        unmatched(Reason::NoIdNoClick)
    );
    // When only one side names the account, the click cannot be ruled out.
    let no_target = click(&b, "telegram", None, T0 - 1000);
    assert_eq!(
        decide(IdEvidence::None, &ours, std::slice::from_ref(&no_target), w),
        probable(&b)
    );
    let unreadable = click(&b, "telegram", Some("https://example.com/"), T0 - 1000);
    assert_eq!(
        decide(IdEvidence::None, &ours, &[unreadable], w),
        probable(&b)
    );
    let anyone = facts(Some("telegram"), None);
    assert_eq!(decide(IdEvidence::None, &anyone, &[other], w), probable(&b));
    // So a click naming nothing plus one naming our account: two visitors.
    assert_eq!(
        decide(IdEvidence::None, &ours, &[same, no_target], w),
        unmatched(Reason::AmbiguousClicks)
    );
}

#[test]
fn one_visitor_counts_once() {
    let (a, b) = (id(1), id(2));
    let w = Window::default();
    let f = facts(Some("telegram"), None);
    let twice = [
        click(&a, "telegram", Some(TG), T0 - 5000),
        click(&b, "telegram", Some(TG), T0 - 4000),
        click(&a, "telegram", Some(TG), T0 - 3000),
    ];
    assert_eq!(
        decide(IdEvidence::None, &f, &twice, w),
        unmatched(Reason::AmbiguousClicks)
    );
    // Same visitor, not adjacent in the list: still one.
    let interleaved = [
        click(&a, "telegram", Some(TG), T0 - 5000),
        click(&b, "whatsapp", Some(TG), T0 - 4000),
        click(&a, "telegram", Some(TG), T0 - 3000),
    ];
    assert_eq!(decide(IdEvidence::None, &f, &interleaved, w), probable(&a));
}

#[test]
fn every_reason() {
    let (a, b) = (id(1), id(2));
    let w = Window::default();
    let tg = facts(Some("telegram"), None);
    let generic = facts(None, None);
    let one = [click(&a, "telegram", Some(TG), T0 - 1000)];
    let two = [
        click(&a, "telegram", Some(TG), T0 - 1000),
        click(&b, "telegram", Some(TG), T0 - 1000),
    ];
    let d = |e: IdEvidence, f: &ChatStartFacts, c: &[ClickCandidate]| decide(e, f, c, w);
    assert_eq!(
        d(IdEvidence::None, &tg, &[]),
        unmatched(Reason::NoIdNoClick)
    );
    assert_eq!(
        d(IdEvidence::Damaged, &tg, &[]),
        unmatched(Reason::DamagedId)
    );
    assert_eq!(
        d(IdEvidence::None, &tg, &two),
        unmatched(Reason::AmbiguousClicks)
    );
    assert_eq!(
        d(IdEvidence::Damaged, &tg, &two),
        unmatched(Reason::DamagedId)
    );
    assert_eq!(d(IdEvidence::Damaged, &tg, &one), probable(&a));
    assert_eq!(
        d(IdEvidence::None, &generic, &one),
        unmatched(Reason::UntrackedPlatform)
    );
    assert_eq!(
        d(IdEvidence::Damaged, &generic, &one),
        unmatched(Reason::DamagedId)
    );
    // Exact evidence wins over everything, on any platform.
    for f in [&tg, &generic] {
        assert_eq!(
            d(IdEvidence::Link(b.clone()), f, &one),
            Decision {
                method: Method::ExactLink,
                chat_id: Some(b.clone()),
                reason: None
            }
        );
        assert_eq!(
            d(IdEvidence::Text(b.clone()), f, &one),
            Decision {
                method: Method::ExactText,
                chat_id: Some(b.clone()),
                reason: None
            }
        );
    }
}

#[test]
fn evidence_sources_in_order() {
    let ct = [Prefix::DEFAULT];
    let (a, b) = (id(1), id(2));
    let (sa, sb) = (a.as_str(), b.as_str());
    // The start parameter wins over the text.
    assert_eq!(
        id_evidence(Some(sa), Some(&format!("code {sb}")), &ct),
        IdEvidence::Link(a.clone())
    );
    assert_eq!(
        id_evidence(Some(&format!("promo_spring_{sa}")), None, &ct),
        IdEvidence::Link(a.clone())
    );
    // A start value of another site's prefix, or none of ours: the text decides.
    let zz = ChatId::generate(&Prefix::new("ZZ").unwrap(), [1, 1, 2, 3, 4]);
    assert_eq!(
        id_evidence(Some(zz.as_str()), Some(&format!("code {sb}")), &ct),
        IdEvidence::Text(b.clone())
    );
    assert_eq!(id_evidence(Some(zz.as_str()), None, &ct), IdEvidence::None);
    assert_eq!(id_evidence(None, None, &ct), IdEvidence::None);
    assert_eq!(id_evidence(None, Some("hello"), &ct), IdEvidence::None);
    // Several prefixes: each is ours.
    let both = [Prefix::DEFAULT, Prefix::new("ZZ").unwrap()];
    assert_eq!(
        id_evidence(Some(zz.as_str()), None, &both),
        IdEvidence::Link(zz.clone())
    );
    // A mistyped code is damaged, never exact.
    let mut bad = sb.to_owned();
    let last = bad.pop().unwrap();
    bad.push(if last == '7' { '8' } else { '7' });
    assert_eq!(
        id_evidence(None, Some(&format!("code {bad}")), &ct),
        IdEvidence::Damaged
    );
    assert_eq!(
        id_evidence(Some(&bad), Some(&format!("code {bad}")), &ct),
        IdEvidence::Damaged
    );
}

#[test]
fn names() {
    let methods = [
        (Method::ExactLink, "exact-link", true),
        (Method::ExactText, "exact-text", true),
        (Method::ProbableClick, "probable-click", false),
        (Method::Unmatched, "unmatched", false),
    ];
    for (m, name, exact) in methods {
        assert_eq!(m.as_str(), name);
        assert_eq!(Method::parse(name), Some(m));
        assert_eq!(m.is_exact(), exact, "{name}");
    }
    assert_eq!(Method::parse("exact"), None);
    let reasons = [
        (Reason::DamagedId, "damaged-id", "code typed with a mistake"),
        (
            Reason::NoIdNoClick,
            "no-id-no-click",
            "no code, no click on the site",
        ),
        (
            Reason::AmbiguousClicks,
            "ambiguous-clicks",
            "no code, several visitors clicked",
        ),
        (
            Reason::UntrackedPlatform,
            "untracked-platform",
            "platform not tagged by the snippet",
        ),
    ];
    for (r, code, words) in reasons {
        assert_eq!(r.code(), code);
        assert_eq!(Reason::describe(code), words);
    }
    assert_eq!(
        Reason::describe("no-visitor-ids"),
        "code known, but no Metrica IDs recorded for it"
    );
    assert_eq!(
        Reason::describe("id-collision"),
        "code issued to two visitors; their Metrica IDs withheld"
    );
    assert_eq!(Reason::describe("x"), "other");
}
