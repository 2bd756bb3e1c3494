//! What a typed text says about a chat ID: found, damaged (ID-shaped with a failing check
//! character) or none (`search_chat_id`).

use chattag_core::{search_chat_id, ChatId, Found, Prefix};

fn id(seed: u8) -> ChatId {
    ChatId::generate(&Prefix::DEFAULT, [seed, 1, 2, 3, 4])
}

fn ct() -> Vec<Prefix> {
    vec![Prefix::DEFAULT]
}

/// `id` with its check character replaced by another alphabet character.
fn wrong_check(id: &ChatId) -> String {
    let mut s = id.as_str().to_string();
    let last = s.pop().unwrap();
    s.push(if last == '0' { '1' } else { '0' });
    s
}

#[test]
fn found_damaged_none() {
    let a = id(7);
    let s = a.as_str();
    assert_eq!(
        search_chat_id(&format!("hi {s}"), &ct()),
        Found::Id(a.clone())
    );
    assert!(ChatId::parse(&wrong_check(&a)).is_err());
    assert_eq!(
        search_chat_id(&format!("код {}", wrong_check(&a)), &ct()),
        Found::Damaged
    );
    assert_eq!(search_chat_id("hello, do you deliver?", &ct()), Found::None);
    assert_eq!(search_chat_id("", &ct()), Found::None);
}

#[test]
fn a_verified_id_wins_over_an_earlier_damaged_one() {
    let a = id(3);
    let text = format!("{} sorry, {}", wrong_check(&a), a.as_str());
    assert_eq!(search_chat_id(&text, &ct()), Found::Id(a));
}

#[test]
fn damaged_ids_are_recognised_through_the_same_folds_as_good_ones() {
    let a = id(9);
    let wrong = wrong_check(&a);
    let body = &wrong[2..];
    // Lowercase, a gap after the prefix (space, dash, no-break space), Cyrillic look-alikes
    // in the prefix.
    for text in [
        wrong.to_lowercase(),
        format!("CT {body}"),
        format!("CT-{body}"),
        format!("CT\u{a0}{body}"),
        format!("СТ{body}"),
        format!("ст-{}", body.to_lowercase()),
    ] {
        assert_eq!(search_chat_id(&text, &ct()), Found::Damaged, "{text:?}");
    }
    // Not a whole token, or not eight alphabet characters: not ID-shaped at all.
    for text in [
        format!("X{wrong}"),
        format!("{wrong}9"),
        format!("{wrong}ж"),
        "CTUUUUUUUU".to_string(),
        format!("CT  {body}"),
    ] {
        assert_eq!(search_chat_id(&text, &ct()), Found::None, "{text:?}");
    }
}

#[test]
fn other_prefixes_are_not_ours() {
    let other = ChatId::generate(&Prefix::new("ZZ").unwrap(), [1, 1, 2, 3, 4]);
    assert_eq!(search_chat_id(other.as_str(), &ct()), Found::None);
    let wrong = wrong_check(&other);
    assert_eq!(search_chat_id(&wrong, &ct()), Found::None);
}
