//! The finder's rules one by one: every Cyrillic look-alike it maps (in the prefix and in the
//! body), every character that may sit between prefix and body, and the edges of a word.

use chattag_core::{find_chat_id, ChatId, Prefix};

fn prefix(p: &str) -> Prefix {
    Prefix::new(p).unwrap()
}

/// An ID whose first body character has value `v` (the rest `0`).
fn id_starting_with(p: &str, v: u8) -> ChatId {
    ChatId::generate(&prefix(p), [0, 0, 0, 0, v])
}

/// Every Cyrillic letter (upper and lower case) that a Russian or Ukrainian keyboard gives for a
/// Latin letter of the ID, with that Latin letter.
const LOOKALIKES: &[(char, char, char)] = &[
    ('А', 'а', 'A'),
    ('В', 'в', 'B'),
    ('С', 'с', 'C'),
    ('Е', 'е', 'E'),
    ('Н', 'н', 'H'),
    ('К', 'к', 'K'),
    ('М', 'м', 'M'),
    ('О', 'о', 'O'),
    ('Р', 'р', 'P'),
    ('Т', 'т', 'T'),
    ('Х', 'х', 'X'),
    ('У', 'у', 'Y'),
    ('І', 'і', 'I'),
];

#[test]
fn every_cyrillic_lookalike_in_the_prefix() {
    for &(upper, lower, latin) in LOOKALIKES {
        // A one-letter prefix of that Latin letter, typed in Cyrillic.
        let p = latin.to_string();
        let id = ChatId::generate(&prefix(&p), [1, 2, 3, 4, 5]);
        let body = &id.as_str()[1..];
        for typed in [upper, lower] {
            let text = format!("номер {typed}{body}, спасибо");
            assert_eq!(
                find_chat_id(&text, &[prefix(&p)]),
                Some(id.clone()),
                "{text:?}"
            );
        }
    }
}

#[test]
fn every_cyrillic_lookalike_in_the_body() {
    for &(upper, lower, latin) in LOOKALIKES {
        // O and I are Crockford confusables for 0 and 1; the rest are alphabet letters.
        let v = match latin {
            'O' => 0,
            'I' => 1,
            l => chattag_core::alphabet::value(l as u8).unwrap(),
        };
        let id = id_starting_with("CT", v);
        let rest = &id.as_str()[3..];
        for typed in [upper, lower] {
            let text = format!("CT{typed}{rest}");
            assert_eq!(
                find_chat_id(&text, &[Prefix::DEFAULT]),
                Some(id.clone()),
                "{text:?}"
            );
        }
    }
}

#[test]
fn other_cyrillic_letters_are_not_lookalikes() {
    // Д, Ж, Я and the lookalike-free lowercase forms glue to the ID like any letter.
    let id = ChatId::parse("CT8F2A9KQZ").unwrap();
    for c in ['Д', 'Ж', 'я', 'ё', 'Ї'] {
        for text in [format!("{c}CT8F2A9KQZ"), format!("CT8F2A9KQZ{c}")] {
            assert_eq!(find_chat_id(&text, &[Prefix::DEFAULT]), None, "{text:?}");
        }
        // In place of a body letter it is no letter of the alphabet.
        let text = format!("CT8F2{c}9KQZ");
        assert_eq!(find_chat_id(&text, &[Prefix::DEFAULT]), None, "{text:?}");
    }
    assert_eq!(find_chat_id("CT8F2A9KQZ", &[Prefix::DEFAULT]), Some(id));
}

#[test]
fn gaps_between_prefix_and_body() {
    let id = ChatId::parse("CT8F2A9KQZ").unwrap();
    let ct = [Prefix::DEFAULT];
    for gap in [" ", "-", "\u{a0}"] {
        for text in [
            format!("CT{gap}8F2A9KQZ"),
            format!("код ct{gap}8f2a9kqz."),
            format!("(CT{gap}8F2A9KQZ)"),
        ] {
            assert_eq!(find_chat_id(&text, &ct), Some(id.clone()), "{text:?}");
        }
    }
    // Not gaps: two of them, other punctuation, other whitespace.
    for text in [
        "CT  8F2A9KQZ",
        "CT--8F2A9KQZ",
        "CT_8F2A9KQZ",
        "CT.8F2A9KQZ",
        "CT/8F2A9KQZ",
        "CT\t8F2A9KQZ",
        "CT\n8F2A9KQZ",
        "CT:8F2A9KQZ",
    ] {
        assert_eq!(find_chat_id(text, &ct), None, "{text:?}");
    }
}

#[test]
fn a_split_id_must_end_where_the_word_ends() {
    let id = ChatId::parse("CT8F2A9KQZ").unwrap();
    let ct = [Prefix::DEFAULT];
    // Whole: the text ends, or punctuation / space follows.
    for text in [
        "CT 8F2A9KQZ",
        "CT 8F2A9KQZ.",
        "CT 8F2A9KQZ ok",
        "CT-8F2A9KQZ!",
    ] {
        assert_eq!(find_chat_id(text, &ct), Some(id.clone()), "{text:?}");
    }
    // Not whole: a letter or digit (ASCII or not) continues the body, or it is cut short.
    for text in [
        "CT 8F2A9KQZ0",
        "CT 8F2A9KQZя",
        "CT 8F2A9KQ",
        "CT 8F2A9KQ Z",
        "CT ",
        "CT -",
        "CT",
        "CT 8F2Ж9KQZ",
    ] {
        assert_eq!(find_chat_id(text, &ct), None, "{text:?}");
    }
    // A one-character body after the gap at the very end of the text.
    assert_eq!(find_chat_id("CT 8", &ct), None);
}

#[test]
fn a_whole_word_id_is_exactly_prefix_body_check() {
    let ct = [Prefix::DEFAULT];
    let id = ChatId::parse("CT8F2A9KQZ").unwrap();
    assert_eq!(find_chat_id("CT8F2A9KQZ", &ct), Some(id.clone()));
    assert_eq!(find_chat_id("xCT8F2A9KQZ", &ct), None);
    assert_eq!(find_chat_id("CT8F2A9KQZx", &ct), None);
    assert_eq!(find_chat_id("CT8F2A9KQ", &ct), None);
    // A later, valid word after an invalid one is still found.
    assert_eq!(find_chat_id("CT8F2A9KQ3 CT8F2A9KQZ", &ct), Some(id.clone()));
    assert_eq!(find_chat_id("CTX CT 8F2A9KQZ", &ct), Some(id));
    // Only the bare prefix may be followed by a gap: a longer word that merely starts with it
    // is something else.
    for text in [
        "CTX 8F2A9KQZ",
        "CTABC 8F2A9KQZ",
        "CT8F 8F2A9KQZ",
        "order CTXY",
        "CTX",
    ] {
        assert_eq!(find_chat_id(text, &ct), None, "{text:?}");
    }
    // The prefix is compared as a whole: a longer configured prefix that the text only starts.
    assert_eq!(find_chat_id("CT8F2A9KQZ", &[prefix("CTX")]), None);
}

#[test]
fn several_prefixes_each_recognised() {
    let a = ChatId::generate(&prefix("AB"), [1, 2, 3, 4, 5]);
    let b = ChatId::generate(&prefix("XYZ"), [1, 2, 3, 4, 5]);
    let both = [prefix("AB"), prefix("XYZ")];
    assert_eq!(find_chat_id(a.as_str(), &both), Some(a.clone()));
    assert_eq!(find_chat_id(b.as_str(), &both), Some(b.clone()));
    let split_b = format!("{} {}", b.prefix(), &b.as_str()[3..]);
    assert_eq!(find_chat_id(&split_b, &both), Some(b.clone()));
    assert_eq!(find_chat_id(a.as_str(), &both[1..]), None);
    assert_eq!(find_chat_id(a.as_str(), &[]), None);
}
