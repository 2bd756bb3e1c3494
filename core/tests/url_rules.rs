//! The URL splitter and query editor at their edges: which strings have a scheme at all, ports,
//! empty query segments, and escapes cut short at the end of a value.

use chattag_core::url::{decode_bytes, ends_with_ci, raw_index, split, with_param};
use chattag_core::{classify, Hint, LinkKind, Skip};

#[test]
fn what_has_a_scheme() {
    // RFC 3986: a letter, then letters, digits, `+`, `-`, `.`.
    for ok in ["a:x", "tg:resolve", "a+b.c-d1:x", "Z:"] {
        assert!(split(ok).is_some(), "{ok}");
    }
    for bad in [
        ":x", "1a:x", "+a:x", "a b:x", "a_b:x", "a/b:x", "ж:x", "no colon",
    ] {
        assert_eq!(split(bad), None, "{bad}");
    }
    let p = split("tg:?domain=x#f").unwrap();
    assert_eq!((p.scheme, p.host, p.path), ("tg", None, ""));
    assert_eq!((p.query, p.fragment), (Some("domain=x"), Some("f")));
    assert_eq!((p.query_start, p.query_end), (4, 12));
    let p = split("https://h/p").unwrap();
    assert_eq!((p.query, p.fragment), (None, None));
    assert_eq!((p.query_start, p.query_end), (11, 11));
    // `?` inside the fragment is not a query.
    let p = split("https://h/p#a?b").unwrap();
    assert_eq!((p.path, p.query, p.fragment), ("/p", None, Some("a?b")));
}

#[test]
fn ports_and_userinfo() {
    fn host(h: &str) -> Option<&str> {
        split(h).and_then(|p| p.host)
    }
    assert_eq!(host("https://wa.me:443/1"), Some("wa.me"));
    assert_eq!(host("https://wa.me:/1"), Some("wa.me"));
    assert_eq!(host("https://wa.me:x/1"), Some("wa.me:x"));
    assert_eq!(host("https://a:b@wa.me:1/1"), Some("wa.me"));
    assert_eq!(host("https://a@b@wa.me/1"), Some("wa.me"));
    assert_eq!(
        classify("https://wa.me:8443/79991234567", Hint::Auto).map(|c| c.kind),
        Ok(LinkKind::WhatsApp)
    );
    assert_eq!(
        classify("https://wa.me:x/79991234567", Hint::Auto),
        Err(Skip::NotMessenger)
    );
}

#[test]
fn editing_a_query_with_empty_segments() {
    let edit = |h: &str, k: &str, v: &str| with_param(h, &split(h).unwrap(), k, v);
    // An empty segment is never the parameter, wherever it stands.
    assert_eq!(
        edit("https://h/?&start=a", "start", "b"),
        "https://h/?&start=b"
    );
    assert_eq!(
        edit("https://h/?&&x=1", "start", "b"),
        "https://h/?&&x=1&start=b"
    );
    assert_eq!(
        edit("https://h/?x=1&&start=a&", "start", "b"),
        "https://h/?x=1&&start=b&"
    );
    // The first of two is edited; a key is compared up to `=` only.
    assert_eq!(
        edit("https://h/?start=a&start=c", "start", "b"),
        "https://h/?start=b&start=c"
    );
    assert_eq!(
        edit("https://h/?start=a=b", "start", "x"),
        "https://h/?start=x"
    );
    assert_eq!(
        edit("https://h/?Start=a", "start", "x"),
        "https://h/?Start=a&start=x"
    );
}

#[test]
fn escapes_cut_short_at_the_end() {
    assert_eq!(decode_bytes("a%4", false), b"a%4");
    assert_eq!(decode_bytes("%", false), b"%");
    assert_eq!(decode_bytes("%41", false), b"A");
    assert_eq!(decode_bytes("%4a%4A", false), b"JJ");
    assert_eq!(decode_bytes("++%2B", true), b"  +");
    // raw_index: every decoded byte maps back to its raw unit, up to the end.
    for (raw, expected) in [
        ("a%4", vec![0, 1, 2, 3]),
        ("%4", vec![0, 1, 2]),
        ("%41", vec![0, 3]),
        ("%41%", vec![0, 3, 4]),
        ("x%41%4", vec![0, 1, 4, 5, 6]),
        ("%%41", vec![0, 1, 4]),
    ] {
        let got: Vec<usize> = (0..expected.len()).map(|i| raw_index(raw, i)).collect();
        assert_eq!(got, expected, "{raw}");
        assert_eq!(raw_index(raw, expected.len() + 5), raw.len(), "{raw}");
    }
}

#[test]
fn suffixes_longer_than_the_name() {
    assert!(!ends_with_ci("ot", "bot"));
    assert!(!ends_with_ci("", "bot"));
    assert!(ends_with_ci("bot", "BOT"));
    // A one- or two-letter MAX name is no bot name.
    for name in ["b", "ot", "bo"] {
        assert_eq!(
            classify(&format!("https://max.ru/{name}"), Hint::Auto),
            Err(Skip::NotAChat),
            "{name}"
        );
    }
    assert_eq!(
        classify("https://me/x", Hint::Auto),
        Err(Skip::NotMessenger)
    );
}
