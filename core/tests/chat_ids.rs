//! Chat ID generation, strict parsing, the check character, and finding IDs in typed text.

use chattag_core::alphabet::ALPHABET;
use chattag_core::{find_chat_id, ChatId, ChatIdError, Prefix};
use proptest::prelude::*;

fn prefix_strategy() -> impl Strategy<Value = Prefix> {
    "[A-Z]{1,4}".prop_map(|p| Prefix::new(&p).unwrap())
}

fn id_strategy() -> impl Strategy<Value = ChatId> {
    (prefix_strategy(), any::<[u8; 5]>()).prop_map(|(p, r)| ChatId::generate(&p, r))
}

fn ct() -> Vec<Prefix> {
    vec![Prefix::DEFAULT]
}

/// Every ID with `s[pos]` replaced by every other character of the alphabet (body and check).
fn substitutions(id: &str) -> Vec<String> {
    let plen = id.len() - 8;
    let mut out = Vec::new();
    for pos in plen..id.len() {
        for &c in ALPHABET {
            if c != id.as_bytes()[pos] {
                let mut b = id.as_bytes().to_vec();
                b[pos] = c;
                out.push(String::from_utf8(b).unwrap());
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn generated_ids_are_canonical(id in id_strategy()) {
        prop_assert_eq!(ChatId::parse(id.as_str()), Ok(id.clone()));
        prop_assert!(id.as_str().bytes().skip(id.prefix().len()).all(|c| ALPHABET.contains(&c)));
        // Telegram `start` and MAX payload rules hold for the ID alone.
        prop_assert!(id.as_str().len() <= 64 && id.as_str().bytes().all(|c| c.is_ascii_alphanumeric()));
        prop_assert_eq!(find_chat_id(id.as_str(), &[Prefix::new(id.prefix()).unwrap()]), Some(id.clone()));
    }

    /// Every single-character substitution in body or check is rejected by the strict parser
    /// and never returned by the tolerant finder (in any case, in any surrounding text).
    #[test]
    fn all_single_substitutions_are_rejected(id in id_strategy()) {
        let prefixes = [Prefix::new(id.prefix()).unwrap()];
        for s in substitutions(id.as_str()) {
            prop_assert_eq!(ChatId::parse(&s), Err(ChatIdError::Check), "{}", s);
            prop_assert_eq!(find_chat_id(&s, &prefixes), None, "{}", s);
            let lower = s.to_lowercase();
            let text = ["Здравствуйте, номер ", lower.as_str(), " спасибо"].concat();
            prop_assert_eq!(find_chat_id(&text, &prefixes), None, "{}", text);
        }
    }

    /// The prefix is not covered by the check character, so the finder only ever accepts the
    /// configured prefixes: a substituted prefix letter is not found.
    #[test]
    fn prefix_substitutions_are_not_found(id in id_strategy(), pos in 0usize..4, letter in "[A-Z]") {
        let plen = id.prefix().len();
        let pos = pos % plen;
        let mut b = id.as_str().as_bytes().to_vec();
        prop_assume!(b[pos] != letter.as_bytes()[0]);
        b[pos] = letter.as_bytes()[0];
        let s = String::from_utf8(b).unwrap();
        prop_assert_eq!(find_chat_id(&s, &[Prefix::new(id.prefix()).unwrap()]), None);
    }
}

/// Adjacent transpositions in body+check are mostly, not always, caught by Luhn mod 32 (a swap
/// of values whose doubled forms differ by the same amount is invisible). Measured, not assumed.
#[test]
fn transposition_detection_rate() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let (mut total, mut caught) = (0u32, 0u32);
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let r = state.to_le_bytes();
        let id = ChatId::generate(&Prefix::DEFAULT, [r[0], r[1], r[2], r[3], r[4]]);
        let b = id.as_str().as_bytes();
        for i in 2..b.len() - 1 {
            if b[i] == b[i + 1] {
                continue;
            }
            let mut t = b.to_vec();
            t.swap(i, i + 1);
            let t = String::from_utf8(t).unwrap();
            total += 1;
            if ChatId::parse(&t).is_err() {
                caught += 1;
            }
        }
    }
    let rate = caught as f64 / total as f64;
    println!(
        "adjacent transpositions caught: {caught}/{total} = {:.2}%",
        rate * 100.0
    );
    assert!(rate > 0.9, "rate {rate}");
    assert!(
        rate < 1.0,
        "Luhn mod 32 cannot catch every transposition; a 100% rate means the test is broken"
    );
}

#[test]
fn parse_errors() {
    assert_eq!(ChatId::parse(""), Err(ChatIdError::Length));
    assert_eq!(ChatId::parse("CT123456"), Err(ChatIdError::Length));
    assert_eq!(ChatId::parse("ABCDE12345678"), Err(ChatIdError::Length));
    assert_eq!(ChatId::parse("ct8F2A9KQ3"), Err(ChatIdError::Prefix));
    assert_eq!(ChatId::parse("CTO0000000"), Err(ChatIdError::Body));
    assert_eq!(ChatId::parse("CTU0000000"), Err(ChatIdError::Body));
    assert_eq!(ChatId::parse("CTl0000000"), Err(ChatIdError::Body));
    assert_eq!(
        ChatId::parse("CT00000000").map(|i| i.into_string()),
        Ok("CT00000000".to_owned())
    );
    assert_eq!(ChatId::parse("CT00000001"), Err(ChatIdError::Check));
    // Multi-byte input of the right byte length is refused, not sliced mid-character.
    assert!(ChatId::parse("CTЖ000000").is_err());
    assert!(ChatId::parse("ЖЖЖЖЖ").is_err());
}

fn sample() -> ChatId {
    ChatId::generate(&Prefix::DEFAULT, [0x42, 0x17, 0xa5, 0x3c, 0x99])
}

/// A lowercase/Cyrillic/confusable rendering of `id` as a person might type it.
fn mangle(id: &str, f: impl Fn(char) -> char) -> String {
    id.chars().map(f).collect()
}

#[test]
fn finds_ids_in_realistic_messages() {
    let id = sample();
    let s = id.as_str();
    let body = &s[2..];
    let cases: Vec<String> = vec![
        ["Здравствуйте! Номер обращения: ", s].concat(),
        ["Hi, I'd like the red one.\n\nRequest number: ", s].concat(),
        [s, " хочу заказать"].concat(),
        ["номер ", &s.to_lowercase(), ", спасибо"].concat(),
        ["CT-", body].concat(),
        ["ct ", &body.to_lowercase()].concat(),
        ["CT\u{a0}", body].concat(),
        // Russian layout: Cyrillic С and Т in the prefix.
        ["СТ", body, " вот"].concat(),
        ["ст", &body.to_lowercase()].concat(),
        // Cyrillic look-alikes inside the body (Е, К, Н, Т, Х …).
        [
            "CT",
            &mangle(body, |c| match c {
                'E' => 'Е',
                'K' => 'К',
                'H' => 'Н',
                'T' => 'Т',
                'X' => 'Х',
                'M' => 'М',
                'A' => 'А',
                'B' => 'В',
                'C' => 'С',
                'P' => 'Р',
                c => c,
            }),
        ]
        .concat(),
        // Crockford confusables.
        [
            "CT",
            &mangle(body, |c| match c {
                '0' => 'O',
                '1' => 'l',
                c => c,
            }),
        ]
        .concat(),
        ["(", s, ")"].concat(),
        ["https://t.me/shop_bot?start=promo_", s].concat(),
        ["«", s, "»"].concat(),
        ["#", s, "!"].concat(),
        ["🙂", s, "🙂"].concat(),
    ];
    for text in &cases {
        assert_eq!(
            find_chat_id(text, &[Prefix::DEFAULT]),
            Some(id.clone()),
            "{text:?}"
        );
    }
}

#[test]
fn rejects_glued_and_partial_ids() {
    let id = sample();
    let s = id.as_str();
    let body = &s[2..];
    let cases: Vec<String> = vec![
        ["x", s].concat(),
        [s, "x"].concat(),
        [s, "7"].concat(),
        ["Ж", s].concat(),
        [s, "д"].concat(),
        ["CT--", body].concat(),
        ["CT  ", body].concat(),
        ["CT", &body[..7]].concat(),
        ["CT-", body, "Z"].concat(),
        ["XCT-", body].concat(),
        body.to_owned(),
        ["ZZ", body].concat(),
        String::new(),
    ];
    for text in &cases {
        assert_eq!(find_chat_id(text, &[Prefix::DEFAULT]), None, "{text:?}");
    }
}

#[test]
fn first_of_two_ids_and_only_known_prefixes() {
    let a = ChatId::generate(&Prefix::DEFAULT, [1, 2, 3, 4, 5]);
    let b = ChatId::generate(&Prefix::DEFAULT, [5, 4, 3, 2, 1]);
    let text = ["codes ", a.as_str(), " and ", b.as_str()].concat();
    assert_eq!(find_chat_id(&text, &ct()), Some(a.clone()));
    // A mistyped first ID does not hide a correct second one.
    let bad = [
        &a.as_str()[..9],
        if a.as_str().ends_with('Z') { "Y" } else { "Z" },
    ]
    .concat();
    let text = [bad.as_str(), " sorry, ", b.as_str()].concat();
    assert_eq!(find_chat_id(&text, &ct()), Some(b.clone()));
    let shop = ChatId::generate(&Prefix::new("SHOP").unwrap(), [1, 2, 3, 4, 5]);
    assert_eq!(find_chat_id(shop.as_str(), &ct()), None);
    assert_eq!(
        find_chat_id(
            shop.as_str(),
            &[Prefix::DEFAULT, Prefix::new("SHOP").unwrap()]
        ),
        Some(shop.clone())
    );
    assert_eq!(find_chat_id(a.as_str(), &[]), None);
    // Canonical form comes back whatever was typed.
    let typed = ["с т-", &a.as_str()[2..].to_lowercase()].concat();
    assert_eq!(
        find_chat_id(&typed, &ct()),
        None,
        "two gaps are not tolerated"
    );
}

#[test]
fn finder_survives_hostile_text() {
    let long = "Ж".repeat(100_000) + sample().as_str();
    assert_eq!(find_chat_id(&long, &ct()), None, "glued to the Ж run");
    let long = "-".repeat(100_000) + sample().as_str();
    assert_eq!(find_chat_id(&long, &ct()), Some(sample()));
    assert_eq!(find_chat_id("\u{202e}\0\u{feff}", &ct()), None);
    let spaced = ["\u{202e}", sample().as_str(), "\u{202c}"].concat();
    assert_eq!(find_chat_id(&spaced, &ct()), Some(sample()));
}
