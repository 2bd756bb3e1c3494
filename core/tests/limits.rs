//! Every length and range limit of the event schema, the identifiers and the templates, at the
//! limit and one past it, and each condition of a rule on its own.

use chattag_core::event::{
    is_clean_url, MAX_BATCH, MAX_BODY_BYTES, MAX_TARGET_LEN, MAX_TS, MAX_URL_LEN, MIN_TS,
};
use chattag_core::identifiers::{
    clean_fbclid, clean_ga_client_id, clean_purchase_id, clean_user_id, clean_utm_value,
    clean_yclid, from_query, ga_client_id_from_cookies,
};
use chattag_core::{
    event_id, ChatId, Event, EventError, EventType, Prefix, Template, TemplateError,
};

fn click() -> Event {
    Event {
        event_id: event_id(1_763_700_000_000, [7; 11]),
        kind: EventType::Click,
        chat_id: ChatId::generate(&Prefix::DEFAULT, [1, 2, 3, 4, 5]).into_string(),
        ts: 1_763_700_000_000,
        messenger: Some("telegram".into()),
        link_kind: Some("telegram_bot".into()),
        target: Some("https://t.me/shop_bot?start=CT00000000".into()),
        ..Event::default()
    }
}

#[test]
fn wire_constants() {
    assert_eq!(MAX_BODY_BYTES, 65_536);
    assert_eq!(MAX_BATCH, 100);
    assert_eq!(MAX_URL_LEN, 2048);
    assert_eq!(MAX_TARGET_LEN, 8192);
}

#[test]
fn ts_range_exactly() {
    let with_ts = |ts| Event { ts, ..click() }.validate();
    assert_eq!(with_ts(MIN_TS), Err(EventError::Ts));
    assert_eq!(with_ts(MIN_TS + 1), Ok(()));
    assert_eq!(with_ts(MAX_TS - 1), Ok(()));
    assert_eq!(with_ts(MAX_TS), Err(EventError::Ts));
}

#[test]
fn url_length_exactly() {
    let url = |len: usize| {
        let head = "https://shop.example/?q=";
        format!("{head}{}", "u".repeat(len - head.len()))
    };
    assert!(is_clean_url(&url(MAX_URL_LEN)));
    assert!(!is_clean_url(&url(MAX_URL_LEN + 1)));
    let page = |len| {
        Event {
            page: Some(url(len)),
            ..click()
        }
        .validate()
    };
    assert_eq!(page(MAX_URL_LEN), Ok(()));
    assert_eq!(page(MAX_URL_LEN + 1), Err(EventError::Page));
    let referrer = |len| {
        Event {
            referrer: Some(url(len)),
            ..click()
        }
        .validate()
    };
    assert_eq!(referrer(MAX_URL_LEN), Ok(()));
    assert_eq!(referrer(MAX_URL_LEN + 1), Err(EventError::Referrer));
    // Each condition alone.
    assert!(is_clean_url("http://x"));
    assert!(is_clean_url("HTTPS://x"));
    assert!(!is_clean_url("https://"));
    assert!(!is_clean_url("http://"));
    assert!(!is_clean_url("https://x/#"));
    assert!(!is_clean_url("https://x/\u{7f}"));
    assert!(!is_clean_url("https://x/\u{a0}"));
    assert!(!is_clean_url("ftp://x"));
}

#[test]
fn target_length_and_schemes_exactly() {
    let target = |t: String| {
        Event {
            target: Some(t),
            ..click()
        }
        .validate()
    };
    let bad = Err(EventError::Click(
        "target must be a messenger link of at most 8192 characters",
    ));
    let head = "https://t.me/shop_bot?start=";
    let of_len = |len: usize| format!("{head}{}", "s".repeat(len - head.len()));
    assert_eq!(target(of_len(8192)), Ok(()));
    assert_eq!(target(of_len(8193)), bad);
    for ok in [
        "https:x",
        "HTTP:x",
        "tg:resolve",
        "viber:pa",
        "WhatsApp:send",
    ] {
        assert_eq!(target(ok.into()), Ok(()), "{ok}");
    }
    for no in ["ftp:x", "t.me/x", "https://t.me/a b", "https://t.me/\u{1}"] {
        assert_eq!(target(no.into()), bad, "{no}");
    }
}

#[test]
fn click_fields_only_on_clicks() {
    let msg = "messenger, link_kind and target belong to click events only";
    for kind in [EventType::Issue, EventType::Update] {
        let plain = Event {
            kind,
            messenger: None,
            link_kind: None,
            target: None,
            ..click()
        };
        assert_eq!(plain.validate(), Ok(()));
        let one_each: [fn(&mut Event); 3] = [
            |e| e.messenger = Some("telegram".into()),
            |e| e.link_kind = Some("telegram_bot".into()),
            |e| e.target = Some("https://t.me/x".into()),
        ];
        for set in one_each {
            let mut e = plain.clone();
            set(&mut e);
            assert_eq!(e.validate(), Err(EventError::Click(msg)), "{e:?}");
        }
        // prev_chat_id: issue only.
        let prev = Event {
            prev_chat_id: Some("CT00000000".into()),
            ..plain.clone()
        };
        let expected = if kind == EventType::Issue {
            Ok(())
        } else {
            Err(EventError::PrevChatId)
        };
        assert_eq!(prev.validate(), expected, "{kind:?}");
    }
    let prev_on_click = Event {
        prev_chat_id: Some("CT00000000".into()),
        ..click()
    };
    assert_eq!(prev_on_click.validate(), Err(EventError::PrevChatId));
}

#[test]
fn every_event_error_message() {
    let cases = [
        (
            EventError::EventId,
            "event_id must be 26 Crockford base32 characters",
        ),
        (
            EventError::Ts,
            "ts must be milliseconds between 2020 and 2100",
        ),
        (
            EventError::Page,
            "page must be an http(s) URL without fragment, at most 2048 characters",
        ),
        (
            EventError::Referrer,
            "referrer must be an http(s) URL without fragment, at most 2048 characters",
        ),
        (
            EventError::PrevChatId,
            "prev_chat_id must be a valid chat ID, on issue events only",
        ),
        (EventError::Click("x y"), "x y"),
    ];
    for (e, msg) in cases {
        assert_eq!(e.to_string(), msg);
    }
    // An event ID of 25 or 27 characters.
    let id = |s: String| {
        Event {
            event_id: s,
            ..click()
        }
        .validate()
    };
    assert_eq!(id("0".repeat(25)), Err(EventError::EventId));
    assert_eq!(id("0".repeat(27)), Err(EventError::EventId));
    assert_eq!(id("0".repeat(26)), Ok(()));
}

#[test]
fn identifier_limits_exactly() {
    assert_eq!(clean_yclid(&"1".repeat(32)).map(|v| v.len()), Some(32));
    assert_eq!(clean_yclid(&"1".repeat(33)), None);
    assert_eq!(clean_fbclid(&"f".repeat(512)).map(|v| v.len()), Some(512));
    assert_eq!(clean_fbclid(&"f".repeat(513)), None);
    let twenty = "1".repeat(20);
    let ga = format!("{twenty}.{twenty}");
    assert_eq!(clean_ga_client_id(&ga).as_deref(), Some(ga.as_str()));
    assert_eq!(clean_ga_client_id(&format!("1{twenty}.1")), None);
    assert_eq!(clean_ga_client_id(&format!("1.1{twenty}")), None);
    // Characters, not bytes: 4-byte characters up to the limit are fine.
    for (clean, max) in [
        (clean_user_id as fn(&str) -> Option<String>, 128),
        (clean_purchase_id, 128),
        (clean_utm_value, 200),
    ] {
        assert!(clean(&"🙂".repeat(max)).is_some(), "{max}");
        assert_eq!(clean(&"🙂".repeat(max + 1)), None, "{max}");
        assert!(clean(&"x".repeat(max)).is_some(), "{max}");
        assert_eq!(clean(&"x".repeat(max + 1)), None, "{max}");
    }
    // Whitespace alone is no value; with one visible character it is.
    assert_eq!(clean_user_id("   "), None);
    assert_eq!(clean_user_id(" a ").as_deref(), Some(" a "));
}

#[test]
fn ga_cookie_parts() {
    let ga = |c: &str| ga_client_id_from_cookies(&format!("_ga={c}"));
    assert_eq!(ga("GA1.1.12.34").as_deref(), Some("12.34"));
    assert_eq!(ga("GA10.3-2.12.34").as_deref(), Some("12.34"));
    for bad in [
        "GA.1.12.34",
        "GAx.1.12.34",
        "GA1..12.34",
        "GA1.a.12.34",
        "GA1.1.12.x",
    ] {
        assert_eq!(ga(bad), None, "{bad}");
    }
}

#[test]
fn every_landing_parameter() {
    let l = from_query("utm_content=banner_1&utm_term=sofa");
    let utm = l.utm.expect("utm");
    assert_eq!(utm.content.as_deref(), Some("banner_1"));
    assert_eq!(utm.term.as_deref(), Some("sofa"));
    assert_eq!(
        from_query("utm_medium=cpc")
            .utm
            .and_then(|u| u.medium)
            .as_deref(),
        Some("cpc")
    );
    assert_eq!(
        from_query("utm_campaign=x")
            .utm
            .and_then(|u| u.campaign)
            .as_deref(),
        Some("x")
    );
    assert_eq!(
        from_query("utm_source=y")
            .utm
            .and_then(|u| u.source)
            .as_deref(),
        Some("y")
    );
    assert_eq!(from_query("gclid=g").gclid.as_deref(), Some("g"));
    assert_eq!(from_query("fbclid=f").fbclid.as_deref(), Some("f"));
    // A fragment is not part of the query.
    assert_eq!(from_query("yclid=1#yclid=2").yclid.as_deref(), Some("1"));
    assert_eq!(from_query("#yclid=2").yclid, None);
}

#[test]
fn template_errors_and_limits() {
    assert_eq!(
        TemplateError::MissingId.to_string(),
        "template must contain {id}"
    );
    assert_eq!(
        TemplateError::TooLong.to_string(),
        "template is longer than 500 characters"
    );
    assert_eq!(
        TemplateError::UnknownPlaceholder.to_string(),
        "template has a placeholder other than {id} {text} {url} {title}"
    );
    // 500 characters, counted as characters: 4-byte ones too.
    let t = |n: usize| Template::custom(&format!("{{id}}{}", "🙂".repeat(n)));
    assert!(t(496).is_ok());
    assert_eq!(t(497), Err(TemplateError::TooLong));
}
