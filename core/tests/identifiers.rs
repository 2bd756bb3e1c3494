//! Visitor identifiers: where they are read from and the hostile values that must be dropped.

use chattag_core::identifiers::*;
use chattag_core::{Field, IdentifierError, Identifiers, Utm};
use proptest::prelude::*;

/// Values no identifier may ever take: markup, script, control and invisible characters, huge.
fn hostile() -> Vec<String> {
    let mut v: Vec<String> = [
        "\"><script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "'; DROP TABLE chats; --",
        "123\"456",
        "12<3",
        "abc\0def",
        "line\nbreak",
        "tab\there",
        "\u{7f}",
        "\u{1b}[31mred",
        "admin\u{202e}gpj.exe",
        "zero\u{200b}width",
        "\u{feff}bom",
        "a\u{2028}b",
        "\u{2066}isolate\u{2069}",
        "back`tick",
        "back\\slash",
        "",
        " ",
        "\u{a0}\u{3000}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("1".repeat(10_000));
    v.push("a".repeat(10_000));
    v.push("я".repeat(10_000));
    v
}

#[test]
fn every_cleaner_drops_the_hostile_corpus() {
    let cleaners: [(&str, Cleaner); 8] = [
        ("client_id", clean_client_id),
        ("yclid", clean_yclid),
        ("gclid", clean_gclid),
        ("fbclid", clean_fbclid),
        ("ga_client_id", clean_ga_client_id),
        ("user_id", clean_user_id),
        ("purchase_id", clean_purchase_id),
        ("utm", clean_utm_value),
    ];
    for value in hostile() {
        for (name, clean) in cleaners {
            // `'` is fine in a UTM value ("women's shoes"), `;` is not — covered separately.
            if name == "utm" && value == "'; DROP TABLE chats; --" {
                continue;
            }
            assert_eq!(clean(&value), None, "{name} accepted {value:?}");
        }
    }
    assert_eq!(
        clean_utm_value("'; DROP TABLE chats; --"),
        None,
        "; is refused in utm"
    );
}

#[test]
fn valid_values_are_kept_exactly() {
    assert_eq!(
        clean_client_id("1700000000123456789").as_deref(),
        Some("1700000000123456789")
    );
    assert_eq!(
        clean_client_id(&"9".repeat(32)).as_deref(),
        Some("9".repeat(32).as_str())
    );
    assert_eq!(clean_client_id(&"9".repeat(33)), None);
    assert_eq!(clean_client_id("0"), Some("0".into()));
    assert_eq!(clean_client_id(" 123"), None);
    assert_eq!(clean_client_id("-123"), None);
    assert_eq!(clean_client_id("12.3"), None);
    assert_eq!(clean_client_id("１２３"), None, "full-width digits");
    assert_eq!(
        clean_yclid("5123456789012345678").as_deref(),
        Some("5123456789012345678")
    );
    assert_eq!(clean_yclid("abc"), None);
    assert_eq!(
        clean_gclid("EAIaIQobChMI-_x").as_deref(),
        Some("EAIaIQobChMI-_x")
    );
    assert_eq!(clean_gclid(&"a".repeat(256)).map(|s| s.len()), Some(256));
    assert_eq!(clean_gclid(&"a".repeat(257)), None);
    assert_eq!(clean_gclid("a.b"), None);
    assert_eq!(clean_fbclid("IwAR2.x_y-z").as_deref(), Some("IwAR2.x_y-z"));
    assert_eq!(clean_fbclid(&"a".repeat(513)), None);
    assert_eq!(
        clean_ga_client_id("123456789.1700000000").as_deref(),
        Some("123456789.1700000000")
    );
    for bad in ["123", "123.", ".123", "1.2.3", "a.1", "1.1 "] {
        assert_eq!(clean_ga_client_id(bad), None, "{bad}");
    }
    assert_eq!(
        clean_user_id("user-42@shop").as_deref(),
        Some("user-42@shop")
    );
    assert_eq!(clean_user_id("Иван Петров").as_deref(), Some("Иван Петров"));
    assert_eq!(
        clean_user_id(&"я".repeat(128)).map(|s| s.chars().count()),
        Some(128)
    );
    assert_eq!(clean_user_id(&"я".repeat(129)), None);
    assert_eq!(clean_user_id("O'Brien"), None, "' is refused in site ids");
    assert_eq!(
        clean_purchase_id("ORDER-2026-0001").as_deref(),
        Some("ORDER-2026-0001")
    );
    assert_eq!(
        clean_utm_value("women's shoes").as_deref(),
        Some("women's shoes")
    );
    assert_eq!(clean_utm_value("весна_2026").as_deref(), Some("весна_2026"));
    assert_eq!(
        clean_utm_value(&"x".repeat(200)).map(|s| s.len()),
        Some(200)
    );
    assert_eq!(clean_utm_value(&"x".repeat(201)), None);
}

#[test]
fn cookies() {
    let c =
        "_ga=GA1.1.123456789.1700000000; _ym_uid=1700000000123456789; _ym_d=1700000000; other=x=y";
    assert_eq!(cookie_value(c, "_ym_uid"), Some("1700000000123456789"));
    assert_eq!(cookie_value(c, "other"), Some("x=y"));
    assert_eq!(cookie_value(c, "_ym"), None);
    assert_eq!(cookie_value("", "_ym_uid"), None);
    assert_eq!(cookie_value("a_ym_uid=1", "_ym_uid"), None);
    assert_eq!(cookie_value("_ym_uid=1; _ym_uid=2", "_ym_uid"), Some("1"));
    assert_eq!(
        client_id_from_cookies(c).as_deref(),
        Some("1700000000123456789")
    );
    assert_eq!(client_id_from_cookies("_ym_uid=\"><script>"), None);
    assert_eq!(client_id_from_cookies("_ym_uid="), None);
    assert_eq!(
        ga_client_id_from_cookies(c).as_deref(),
        Some("123456789.1700000000")
    );
    assert_eq!(
        ga_client_id_from_cookies("_ga=GA1.2.123.456").as_deref(),
        Some("123.456")
    );
    assert_eq!(ga_client_id_from_cookies("_ga=GA1.1.123"), None);
    assert_eq!(ga_client_id_from_cookies("_ga=XX1.1.123.456"), None);
    assert_eq!(ga_client_id_from_cookies("_ga_ABC=GS1.1.123.456"), None);
}

#[test]
fn storage() {
    assert_eq!(
        client_id_from_storage("\"1700000000123456789\"").as_deref(),
        Some("1700000000123456789")
    );
    assert_eq!(
        client_id_from_storage("1700000000123456789").as_deref(),
        Some("1700000000123456789")
    );
    assert_eq!(client_id_from_storage(" \"17\" ").as_deref(), Some("17"));
    assert_eq!(client_id_from_storage("\"17"), None);
    assert_eq!(client_id_from_storage("{\"v\":17}"), None);
    assert_eq!(client_id_from_storage("null"), None);
    assert_eq!(client_id_from_storage(""), None);
}

#[test]
fn landing_query() {
    let l = from_query("?yclid=5123456789&utm_source=yandex&utm_medium=cpc&utm_campaign=spring+sale%21&utm_term=%D0%B4%D0%B8%D0%B2%D0%B0%D0%BD&gclid=abc_-1&fbclid=IwAR.x");
    assert_eq!(l.yclid.as_deref(), Some("5123456789"));
    assert_eq!(l.gclid.as_deref(), Some("abc_-1"));
    assert_eq!(l.fbclid.as_deref(), Some("IwAR.x"));
    let utm = l.utm.unwrap();
    assert_eq!(utm.source.as_deref(), Some("yandex"));
    assert_eq!(utm.medium.as_deref(), Some("cpc"));
    assert_eq!(utm.campaign.as_deref(), Some("spring sale!"));
    assert_eq!(utm.term.as_deref(), Some("диван"));
    assert_eq!(utm.content, None);
    assert_eq!(from_query("yclid=1").yclid.as_deref(), Some("1"));
    assert_eq!(from_query(""), Landing::default());
    assert_eq!(from_query("?"), Landing::default());
    // Hostile values are dropped, not truncated or unescaped into something else.
    let l = from_query("?yclid=1%3Cscript%3E&utm_source=%22%3E%3Cscript%3E&utm_medium=a%00b&utm_campaign=%E2%80%AEevil&gclid=a%20b&fbclid=%FF");
    assert_eq!(l, Landing::default());
    // The first clean value of a repeated key wins.
    assert_eq!(
        from_query("yclid=bad&yclid=2&yclid=3").yclid.as_deref(),
        Some("2")
    );
    let big = ["yclid=", &"1".repeat(10_000)].concat();
    assert_eq!(from_query(&big).yclid, None);
}

#[test]
fn validate_and_clean() {
    let good = Identifiers {
        client_id: Some("1700000000123456789".into()),
        yclid: Some("5123".into()),
        user_id: Some("u-1".into()),
        purchase_id: Some("p-1".into()),
        gclid: Some("g".into()),
        fbclid: Some("f".into()),
        ga_client_id: Some("1.2".into()),
        utm: Some(Utm {
            source: Some("yandex".into()),
            ..Utm::default()
        }),
    };
    assert_eq!(good.validate(), Ok(()));
    assert_eq!(good.clone().cleaned(), good);
    assert_eq!(Identifiers::default().validate(), Ok(()));
    type Spoil = fn(&mut Identifiers);
    let cases: [(Field, Spoil); 8] = [
        (Field::ClientId, |i| i.client_id = Some("12a".into())),
        (Field::Yclid, |i| i.yclid = Some("".into())),
        (Field::UserId, |i| i.user_id = Some("<b>".into())),
        (Field::PurchaseId, |i| {
            i.purchase_id = Some("x\u{202e}".into())
        }),
        (Field::Gclid, |i| i.gclid = Some("a b".into())),
        (Field::Fbclid, |i| i.fbclid = Some("a;b".into())),
        (Field::GaClientId, |i| {
            i.ga_client_id = Some("GA1.1.1.2".into())
        }),
        (Field::Utm, |i| {
            i.utm = Some(Utm {
                term: Some("a\nb".into()),
                ..Utm::default()
            })
        }),
    ];
    for (field, spoil) in cases {
        let mut bad = good.clone();
        spoil(&mut bad);
        assert_eq!(bad.validate(), Err(IdentifierError { field }));
        let cleaned = bad.cleaned();
        assert_eq!(cleaned.validate(), Ok(()));
        assert_ne!(cleaned, good, "{field:?} must have been dropped");
    }
    assert_eq!(
        IdentifierError {
            field: Field::Yclid
        }
        .to_string(),
        "invalid yclid"
    );
    assert_eq!(
        IdentifierError {
            field: Field::GaClientId
        }
        .to_string(),
        "invalid ga_client_id"
    );
    // A UTM object with only invalid values disappears entirely.
    let i = Identifiers {
        utm: Some(Utm {
            source: Some("<".into()),
            ..Utm::default()
        }),
        ..Identifiers::default()
    };
    assert_eq!(i.cleaned().utm, None);
}

proptest! {
    /// Whatever a cleaner accepts comes back byte-identical, and is free of markup and control
    /// characters: cleaning never transforms a value.
    #[test]
    fn cleaners_never_transform(s in "\\PC{0,40}|[0-9]{1,40}|[ -~]{0,300}") {
        for clean in [clean_client_id, clean_yclid, clean_gclid, clean_fbclid, clean_ga_client_id, clean_user_id, clean_purchase_id, clean_utm_value] {
            if let Some(v) = clean(&s) {
                prop_assert_eq!(&v, &s);
                prop_assert!(!v.chars().any(|c| c.is_control() || matches!(c, '<' | '>' | '"' | '`' | '\\')));
            }
        }
        let l = from_query(&s);
        for v in [l.yclid, l.gclid, l.fbclid].into_iter().flatten() {
            prop_assert!(v.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')));
        }
    }
}
