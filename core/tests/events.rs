//! The event wire format: JSON round-trip, exact field names, and every validation error.

use chattag_core::event::{clean_url, MAX_URL_LEN};
use chattag_core::{
    event_id, ChatId, ChatIdError, Event, EventError, EventType, Field, IdentifierError,
    Identifiers, Prefix, Utm,
};

fn click() -> Event {
    Event {
        event_id: event_id(1_763_700_000_000, [7; 11]),
        kind: EventType::Click,
        chat_id: ChatId::generate(&Prefix::DEFAULT, [1, 2, 3, 4, 5]).into_string(),
        ts: 1_763_700_000_000,
        page: Some("https://shop.example/p/1?x=1".into()),
        referrer: Some("https://yandex.ru/".into()),
        ids: Identifiers {
            client_id: Some("1700000000123456789".into()),
            yclid: Some("5123456789012345678".into()),
            utm: Some(Utm {
                source: Some("yandex".into()),
                medium: Some("cpc".into()),
                ..Utm::default()
            }),
            ..Identifiers::default()
        },
        prev_chat_id: None,
        messenger: Some("telegram".into()),
        link_kind: Some("telegram_bot".into()),
        target: Some("https://t.me/shop_bot?start=CT00000000".into()),
    }
}

fn issue() -> Event {
    Event {
        kind: EventType::Issue,
        messenger: None,
        link_kind: None,
        target: None,
        ..click()
    }
}

#[test]
fn json_round_trip_with_wire_names() {
    let e = click();
    assert_eq!(e.validate(), Ok(()));
    let json = serde_json::to_string(&e).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["type"], "click");
    assert_eq!(v["client_id"], "1700000000123456789");
    assert_eq!(v["utm"]["source"], "yandex");
    assert_eq!(v["link_kind"], "telegram_bot");
    assert!(
        v.get("user_id").is_none(),
        "absent identifiers are omitted, not null: {json}"
    );
    assert!(v.get("prev_chat_id").is_none());
    assert!(v["ts"].is_u64());
    let back: Event = serde_json::from_str(&json).unwrap();
    assert_eq!(back, e);
    let minimal = r#"{"event_id":"0J5ZK7Q4R2M8X1C3V6B9N0D2F4","type":"update","chat_id":"CT00000000","ts":1763700000000}"#;
    let m: Event = serde_json::from_str(minimal).unwrap();
    assert_eq!(m.kind, EventType::Update);
    assert_eq!(m.validate(), Ok(()));
    assert!(
        serde_json::from_str::<Event>(&minimal.replace("update", "delete")).is_err(),
        "unknown type refused"
    );
}

#[test]
fn event_ids() {
    assert_eq!(event_id(0, [0; 11]), "0".repeat(26));
    // 2^48 - 1 ms and all random bits set: every one of the 130 bits is 1.
    assert_eq!(event_id((1 << 48) - 1, [0xff; 11]), "Z".repeat(26));
    // The time takes the first 48 bits, most significant first: 1 ms is bit 47, and
    // character 9 holds bits 45..49, so its value is 4.
    assert_eq!(
        event_id(1, [0; 11]),
        format!("{}4{}", "0".repeat(9), "0".repeat(16))
    );
    // Random bits follow: the last one used is bit 129 (the 26th character's lowest bit).
    let mut r = [0u8; 11];
    r[10] = 0b0100_0000;
    assert!(event_id(0, r).ends_with('1'));
    r[10] = 0b0010_0000; // beyond 130 bits: unused
    assert!(event_id(0, r).ends_with('0'));
    let distinct: std::collections::HashSet<String> = (0..=255u8)
        .map(|i| event_id(1_763_700_000_000, [i; 11]))
        .collect();
    assert_eq!(distinct.len(), 256);
}

#[test]
fn event_ids_sort_by_time() {
    let times = [
        0u64,
        1,
        999,
        1_000,
        1_763_700_000_000,
        1_763_700_000_001,
        2_000_000_000_000,
    ];
    let ids: Vec<String> = times.iter().map(|&t| event_id(t, [0xff; 11])).collect();
    for (i, &t) in times.iter().enumerate() {
        // A later millisecond sorts after, whatever the random bits.
        let next = event_id(t + 1, [0; 11]);
        assert!(ids[i] < next, "{} then {next}", ids[i]);
        if i > 0 {
            assert!(ids[i - 1] < ids[i]);
        }
    }
}

#[test]
fn validation_errors() {
    type Spoil = Box<dyn Fn(&mut Event)>;
    let cases: Vec<(EventError, Spoil)> = vec![
        (
            EventError::EventId,
            Box::new(|e| e.event_id = "short".into()),
        ),
        (
            EventError::EventId,
            Box::new(|e| e.event_id = "0j5zk7q4r2m8x1c3v6b9n0d2f4".into()),
        ),
        (
            EventError::EventId,
            Box::new(|e| e.event_id = "0J5ZK7Q4R2M8X1C3V6B9N0D2FU".into()),
        ),
        (
            EventError::ChatId(ChatIdError::Check),
            Box::new(|e| e.chat_id = "CT00000001".into()),
        ),
        (
            EventError::ChatId(ChatIdError::Length),
            Box::new(|e| e.chat_id = String::new()),
        ),
        (EventError::Ts, Box::new(|e| e.ts = 0)),
        (EventError::Ts, Box::new(|e| e.ts = 1_577_836_800_000)),
        (EventError::Ts, Box::new(|e| e.ts = 1_700_000_000)),
        (EventError::Ts, Box::new(|e| e.ts = 5_000_000_000_000)),
        (
            EventError::Page,
            Box::new(|e| e.page = Some("javascript:alert(1)".into())),
        ),
        (
            EventError::Page,
            Box::new(|e| e.page = Some("https://shop.example/#token".into())),
        ),
        (
            EventError::Page,
            Box::new(|e| {
                e.page = Some(["https://shop.example/", &"a".repeat(MAX_URL_LEN)].concat())
            }),
        ),
        (
            EventError::Page,
            Box::new(|e| e.page = Some("https://shop.example/a b".into())),
        ),
        (EventError::Page, Box::new(|e| e.page = Some(String::new()))),
        (
            EventError::Referrer,
            Box::new(|e| e.referrer = Some("file:///etc/passwd".into())),
        ),
        (
            EventError::Identifier(IdentifierError {
                field: Field::ClientId,
            }),
            Box::new(|e| e.ids.client_id = Some("x".into())),
        ),
        (
            EventError::Identifier(IdentifierError {
                field: Field::UserId,
            }),
            Box::new(|e| e.ids.user_id = Some("\"><script>".into())),
        ),
        (
            EventError::PrevChatId,
            Box::new(|e| e.prev_chat_id = Some("CT00000000".into())),
        ),
        (
            EventError::Click("click without messenger"),
            Box::new(|e| e.messenger = None),
        ),
        (
            EventError::Click("unknown messenger"),
            Box::new(|e| e.messenger = Some("icq".into())),
        ),
        (
            EventError::Click("click without link_kind"),
            Box::new(|e| e.link_kind = None),
        ),
        (
            EventError::Click("unknown link_kind"),
            Box::new(|e| e.link_kind = Some("fax".into())),
        ),
        (
            EventError::Click("link_kind does not belong to messenger"),
            Box::new(|e| e.link_kind = Some("viber_bot".into())),
        ),
        (
            EventError::Click("click without target"),
            Box::new(|e| e.target = None),
        ),
        (
            EventError::Click("target must be a messenger link of at most 8192 characters"),
            Box::new(|e| e.target = Some("javascript:alert(1)".into())),
        ),
        (
            EventError::Click("target must be a messenger link of at most 8192 characters"),
            Box::new(|e| e.target = Some(["https://wa.me/1?text=", &"a".repeat(9000)].concat())),
        ),
    ];
    for (expected, spoil) in cases {
        let mut e = click();
        spoil(&mut e);
        assert_eq!(e.validate(), Err(expected), "{e:?}");
        assert!(!expected.to_string().is_empty());
    }
    // prev_chat_id belongs to issue events, and must parse there.
    let mut i = issue();
    i.prev_chat_id = Some("CT00000000".into());
    assert_eq!(i.validate(), Ok(()));
    i.prev_chat_id = Some("CT00000001".into());
    assert_eq!(i.validate(), Err(EventError::PrevChatId));
    // Click fields on other types are refused.
    let mut i = issue();
    i.target = Some("https://t.me/x".into());
    assert!(matches!(i.validate(), Err(EventError::Click(_))));
    assert_eq!(
        EventError::ChatId(ChatIdError::Check).to_string(),
        "invalid chat_id: chat ID check character does not match"
    );
    assert_eq!(
        EventError::Identifier(IdentifierError {
            field: Field::Yclid
        })
        .to_string(),
        "invalid yclid"
    );
}

#[test]
fn page_urls_are_cleaned_for_events() {
    assert_eq!(
        clean_url("https://shop.example/p?x=1#section").as_deref(),
        Some("https://shop.example/p?x=1")
    );
    assert_eq!(
        clean_url("HTTP://shop.example/").as_deref(),
        Some("HTTP://shop.example/")
    );
    assert_eq!(clean_url(""), None);
    assert_eq!(clean_url("file:///C:/page.html"), None);
    assert_eq!(clean_url("about:blank"), None);
    assert_eq!(clean_url("https://"), None);
    assert_eq!(
        clean_url(&["https://shop.example/?", &"a".repeat(3000)].concat()),
        None
    );
}

#[test]
fn a_future_ts_is_recorded_at_arrival() {
    use chattag_core::event::{received_ts, FUTURE_TOLERANCE_MS};
    let now = 1_763_700_000_000;
    // The past and small skew are kept as sent.
    assert_eq!(received_ts(now - 3_600_000, now), now - 3_600_000);
    assert_eq!(
        received_ts(now + FUTURE_TOLERANCE_MS, now),
        now + FUTURE_TOLERANCE_MS
    );
    // Beyond the tolerance: the arrival time, however far ahead the claim.
    assert_eq!(received_ts(now + FUTURE_TOLERANCE_MS + 1, now), now);
    assert_eq!(received_ts(4_070_908_800_000, now), now); // 2099
    assert_eq!(received_ts(u64::MAX, u64::MAX - 1), u64::MAX);
}
