//! Known answers for the generator, the check character and event IDs, computed independently of
//! this crate by `core/tests/vectors/chat_ids.py` (Luhn mod N as Wikipedia describes it, with the
//! result re-verified by the separate "validate" algorithm). The other tests check generation,
//! parsing and finding against each other; these pin each of them to the specification, so a
//! generator that uses fewer random bits or a check character computed the wrong way round fails
//! here even when it is consistent with the parser.

use chattag_core::alphabet::{char_of, value, value_tolerant, ALPHABET};
use chattag_core::chat_id::{check_value, BODY_LEN, MAX_LEN, MIN_LEN, RANDOM_BYTES};
use chattag_core::{event_id, ChatId, ChatIdError, Prefix};

/// (prefix, random bytes, the chat ID) from `python3 core/tests/vectors/chat_ids.py`.
const GENERATED: &[(&str, [u8; RANDOM_BYTES], &str)] = &[
    ("CT", [0x00, 0x00, 0x00, 0x00, 0x00], "CT00000000"),
    ("CT", [0xff, 0xff, 0xff, 0xff, 0xff], "CTZZZZZZZ7"),
    ("CT", [0x12, 0x34, 0x56, 0x78, 0x9a], "CTT4YC5T8A"),
    ("CT", [0xfe, 0xdc, 0xba, 0x98, 0x76], "CTP36NBEVM"),
    ("CT", [0x00, 0x00, 0x00, 0x00, 0x01], "CT1000000Y"),
    ("CT", [0x00, 0x00, 0x00, 0x00, 0x20], "CT0100000Z"),
    // The top 5 of the 40 random bits are not used.
    ("CT", [0x80, 0x00, 0x00, 0x00, 0x00], "CT00000000"),
    ("CT", [0x08, 0x00, 0x00, 0x00, 0x00], "CT00000000"),
    ("CT", [0x07, 0x00, 0x00, 0x00, 0x00], "CT000000W7"),
    ("A", [0x01, 0x02, 0x03, 0x04, 0x05], "A50160145"),
    ("ABCD", [0x09, 0x08, 0x07, 0x06, 0x05], "ABCD5G1E044A"),
    ("OLD", [0x01, 0x02, 0x03, 0x04, 0x05], "OLD50160145"),
    ("ZZ", [0xa5, 0x5a, 0xc3, 0x3c, 0x99], "ZZS4F6CDNN"),
];

/// (body, check character) from the same script.
const CHECKS: &[(&str, char)] = &[
    ("8F2A9KQ", 'Z'),
    ("0000000", '0'),
    ("ZZZZZZZ", '7'),
    ("0000001", 'Y'),
    ("1000000", 'Y'),
    ("ABCDEFG", 'G'),
];

#[test]
fn generator_known_answers() {
    for &(prefix, random, expected) in GENERATED {
        let id = ChatId::generate(&Prefix::new(prefix).unwrap(), random);
        assert_eq!(id.as_str(), expected, "{prefix} {random:02x?}");
        assert_eq!(id.prefix(), prefix);
        assert_eq!(ChatId::parse(expected), Ok(id.clone()));
        assert_eq!(id.to_string(), expected);
        assert_eq!(format!("{id:?}"), expected);
        assert_eq!(id.into_string(), expected);
    }
}

#[test]
fn check_character_known_answers() {
    for &(body, check) in CHECKS {
        let values: Vec<u8> = body.bytes().map(|c| value(c).unwrap()).collect();
        assert_eq!(char_of(check_value(&values)), check as u8, "{body}");
        let id = format!("CT{body}{check}");
        assert_eq!(ChatId::parse(&id).map(ChatId::into_string), Ok(id.clone()));
        // Every other check character is refused.
        for &other in ALPHABET.iter().filter(|&&c| c != check as u8) {
            let wrong = format!("CT{body}{}", other as char);
            assert_eq!(ChatId::parse(&wrong), Err(ChatIdError::Check), "{wrong}");
        }
    }
    // The example the documentation used to show: its check character is wrong.
    assert_eq!(ChatId::parse("CT8F2A9KQ3"), Err(ChatIdError::Check));
    assert!(ChatId::parse("CT8F2A9KQZ").is_ok());
}

/// 35 random bits, each of which reaches the ID: flipping any one of them changes it, and the
/// five unused top bits never do.
#[test]
fn every_random_bit_counts() {
    let base = ChatId::generate(&Prefix::DEFAULT, [0; RANDOM_BYTES]);
    let mut seen = std::collections::HashSet::new();
    for bit in 0..40 {
        let mut r = [0u8; RANDOM_BYTES];
        r[RANDOM_BYTES - 1 - bit / 8] = 1 << (bit % 8);
        let id = ChatId::generate(&Prefix::DEFAULT, r);
        if bit < 35 {
            assert_ne!(id, base, "bit {bit}");
            assert!(
                seen.insert(id),
                "bit {bit} gives the same ID as another bit"
            );
        } else {
            assert_eq!(id, base, "bit {bit} is not one of the 35 used");
        }
    }
}

#[test]
fn length_limits() {
    assert_eq!((BODY_LEN, MIN_LEN, MAX_LEN), (7, 9, 12));
    // Shortest and longest valid IDs, and one character either side.
    assert!(ChatId::parse("A50160145").is_ok());
    assert_eq!(ChatId::parse("50160145"), Err(ChatIdError::Length));
    assert!(ChatId::parse("ABCD5G1E044A").is_ok());
    assert_eq!(ChatId::parse("ABCDE5G1E044A"), Err(ChatIdError::Length));
    // A prefix character outside A-Z (digit, lowercase, '@' and '[' either side of the range).
    for bad in [
        "1BCD5G1E044A",
        "aBCD5G1E044A",
        "@BCD5G1E044A",
        "[BCD5G1E044A",
    ] {
        assert_eq!(ChatId::parse(bad), Err(ChatIdError::Prefix), "{bad}");
    }
    // A body or check character outside the alphabet (each position).
    for pos in 4..12 {
        let mut b = b"ABCD5G1E044A".to_vec();
        b[pos] = b'U';
        let s = String::from_utf8(b).unwrap();
        assert_eq!(ChatId::parse(&s), Err(ChatIdError::Body), "{s}");
    }
}

#[test]
fn prefix_limits() {
    use chattag_core::PrefixError;
    for ok in ["A", "Z", "AZ", "ABCD"] {
        assert_eq!(
            Prefix::new(ok).map(|p| p.as_str().to_owned()),
            Ok(ok.to_owned())
        );
    }
    assert_eq!(Prefix::new("ABCDE"), Err(PrefixError::TooLong));
    for bad in ["@", "[", "a", "Ж"] {
        assert_eq!(
            Prefix::new(bad),
            Err(PrefixError::NotUppercaseLatin),
            "{bad}"
        );
    }
    assert_eq!(Prefix::default().as_str(), "CT");
    assert_eq!(Prefix::DEFAULT.as_str(), "CT");
    assert_eq!(Prefix::new("").unwrap_err().to_string(), "prefix is empty");
    assert_eq!(
        Prefix::new("ABCDE").unwrap_err().to_string(),
        "prefix is longer than 4 letters"
    );
    assert_eq!(
        Prefix::new("a").unwrap_err().to_string(),
        "prefix must be letters A-Z"
    );
}

#[test]
fn error_messages() {
    let msg = |s: &str| ChatId::parse(s).unwrap_err().to_string();
    assert_eq!(msg("CT"), "chat ID must be 9-12 characters");
    assert_eq!(msg("ct00000000"), "chat ID prefix must be 1-4 letters A-Z");
    assert_eq!(
        msg("CTU0000000"),
        "chat ID has a character outside Crockford base32"
    );
    assert_eq!(msg("CT00000001"), "chat ID check character does not match");
}

#[test]
fn alphabet_tolerance() {
    for (i, &c) in ALPHABET.iter().enumerate() {
        assert_eq!(value_tolerant(c), Some(i as u8));
        assert_eq!(value_tolerant(c.to_ascii_lowercase()), Some(i as u8));
    }
    for (c, v) in [
        (b'O', 0),
        (b'o', 0),
        (b'I', 1),
        (b'i', 1),
        (b'L', 1),
        (b'l', 1),
    ] {
        assert_eq!(value_tolerant(c), Some(v), "{}", c as char);
    }
    for c in [b'U', b'u', b'-', b' ', b'@', b'[', b'/', b':'] {
        assert_eq!(value_tolerant(c), None, "{}", c as char);
    }
}

/// (ms, random bytes, event ID) from `python3 core/tests/vectors/chat_ids.py`.
const EVENT_IDS: &[(u64, [u8; 11], &str)] = &[
    (0, [0x00; 11], "00000000000000000000000000"),
    (1763700000000, [0x00; 11], "06DA9DJ5000000000000000000"),
    (1763700000000, [0xff; 11], "06DA9DJ503ZZZZZZZZZZZZZZZZ"),
    (281474976710655, [0x00; 11], "ZZZZZZZZZW0000000000000000"),
    (
        1,
        [
            0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
        ],
        "00000000040G40R40M30E20918",
    ),
    (
        1577836800001,
        [
            0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ],
        "05QNWSQ8060000000000000000",
    ),
];

#[test]
fn event_id_known_answers() {
    for &(ms, random, expected) in EVENT_IDS {
        assert_eq!(event_id(ms, random), expected, "{ms} {random:02x?}");
    }
}
