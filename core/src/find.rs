//! Finding a chat ID in what a person typed or pasted: the first message of a chat.
//!
//! People retype codes: in lowercase, on a Russian keyboard layout (Cyrillic С and Т look exactly
//! like Latin C and T), with O for 0 or l for 1, with a space or dash after the prefix. All of that
//! is accepted; a wrong character is not — the check character must verify, so a mistyped ID is
//! never attributed to somebody else's visit.

use crate::alphabet::value_tolerant;
use crate::chat_id::{check_value, ChatId, Prefix, BODY_LEN};

/// One character of the text, reduced to what matters for matching.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// An ASCII letter or digit (uppercased), including mapped Cyrillic look-alikes.
    Ascii(u8),
    /// Any other letter or digit: glues a token to its neighbours, never matches.
    Foreign,
    /// A space or dash: may sit between prefix and body.
    Gap,
    /// Anything else: a delimiter.
    Other,
}

/// Latin letter a Cyrillic character is indistinguishable from (as typed on a Russian or
/// Ukrainian layout), uppercased.
fn cyrillic_lookalike(c: char) -> Option<u8> {
    Some(match c {
        'А' | 'а' => b'A',
        'В' | 'в' => b'B',
        'С' | 'с' => b'C',
        'Е' | 'е' => b'E',
        'Н' | 'н' => b'H',
        'К' | 'к' => b'K',
        'М' | 'м' => b'M',
        'О' | 'о' => b'O',
        'Р' | 'р' => b'P',
        'Т' | 'т' => b'T',
        'Х' | 'х' => b'X',
        'У' | 'у' => b'Y',
        'І' | 'і' => b'I',
        _ => return None,
    })
}

fn unit(c: char) -> Unit {
    if c.is_ascii_alphanumeric() {
        Unit::Ascii(c.to_ascii_uppercase() as u8)
    } else if let Some(l) = cyrillic_lookalike(c) {
        Unit::Ascii(l)
    } else if c == ' ' || c == '-' || c == '\u{a0}' {
        Unit::Gap
    } else if c.is_alphanumeric() {
        Unit::Foreign
    } else {
        Unit::Other
    }
}

/// What a text says about a chat ID: the answer both the collector's matching and its reports
/// rely on.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Found {
    /// A whole ID whose check character verifies (canonical form).
    Id(ChatId),
    /// Something shaped like an ID of one of the prefixes (prefix, optional gap, eight alphabet
    /// characters as a whole token) whose check character fails: a mistyped or edited code.
    Damaged,
    None,
}

/// Finds a chat ID anywhere in free text: case-insensitive, Crockford confusables in body and
/// check (O→0, I/L→1), Cyrillic look-alikes mapped to Latin (also in the prefix), delimited by
/// non-alphanumerics or the text's edges, an optional single `-`, space or no-break space
/// between prefix and body, check character verified. Returns the first such ID in canonical
/// form; else [`Found::Damaged`] when something ID-shaped failed its check. Only `prefixes` are
/// recognised.
pub fn search_chat_id(text: &str, prefixes: &[Prefix]) -> Found {
    let units: Vec<Unit> = text.chars().map(unit).collect();
    let mut damaged = false;
    let mut i = 0;
    while i < units.len() {
        if !is_word(units[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < units.len() && is_word(units[i]) {
            i += 1;
        }
        match match_word(&units, start, i, prefixes) {
            Found::Id(id) => return Found::Id(id),
            Found::Damaged => damaged = true,
            Found::None => {}
        }
    }
    if damaged {
        Found::Damaged
    } else {
        Found::None
    }
}

/// [`search_chat_id`] when only a verified ID matters.
pub fn find_chat_id(text: &str, prefixes: &[Prefix]) -> Option<ChatId> {
    match search_chat_id(text, prefixes) {
        Found::Id(id) => Some(id),
        Found::Damaged | Found::None => None,
    }
}

fn is_word(u: Unit) -> bool {
    matches!(u, Unit::Ascii(_) | Unit::Foreign)
}

/// A word `units[start..end]` (maximal run of letters/digits) holding a whole ID, or a word that
/// is exactly a prefix followed by one gap and a word of body+check.
fn match_word(units: &[Unit], start: usize, end: usize, prefixes: &[Prefix]) -> Found {
    let word = &units[start..end];
    let mut damaged = false;
    for prefix in prefixes {
        let p = prefix.as_str().as_bytes();
        if !starts_with_prefix(word, p) {
            continue;
        }
        let body = if word.len() == p.len() + BODY_LEN + 1 {
            Some(&word[p.len()..])
        } else if word.len() == p.len() && end + 1 < units.len() && units[end] == Unit::Gap {
            let body_start = end + 1;
            let body_end = body_start + BODY_LEN + 1;
            let whole = body_end <= units.len()
                && units[body_start..body_end]
                    .iter()
                    .all(|u| matches!(u, Unit::Ascii(_)))
                && units.get(body_end).is_none_or(|u| !is_word(*u));
            whole.then(|| &units[body_start..body_end])
        } else {
            None
        };
        match body.map(|b| verify(prefix, b)) {
            Some(Found::Id(id)) => return Found::Id(id),
            Some(Found::Damaged) => damaged = true,
            Some(Found::None) | None => {}
        }
    }
    if damaged {
        Found::Damaged
    } else {
        Found::None
    }
}

fn starts_with_prefix(word: &[Unit], p: &[u8]) -> bool {
    word.len() >= p.len() && word.iter().zip(p).all(|(u, &c)| *u == Unit::Ascii(c))
}

/// Body and check characters (tolerant of case and confusables) → the canonical ID if the check
/// character verifies, [`Found::Damaged`] if they are all alphabet characters but it does not.
fn verify(prefix: &Prefix, units: &[Unit]) -> Found {
    let mut values = [0u8; BODY_LEN + 1];
    for (v, u) in values.iter_mut().zip(units) {
        match u {
            Unit::Ascii(c) => match value_tolerant(*c) {
                Some(x) => *v = x,
                None => return Found::None,
            },
            _ => return Found::None,
        }
    }
    let mut body = [0u8; BODY_LEN];
    body.copy_from_slice(&values[..BODY_LEN]);
    if check_value(&body) != values[BODY_LEN] {
        return Found::Damaged;
    }
    Found::Id(ChatId::from_parts(prefix.as_str(), &body))
}

/// Every exact, canonical ID (as the snippet writes it) with one of `prefixes`, delimited by
/// non-ASCII-alphanumerics, with its byte range. Works on bytes (a link's decoded text need not
/// be UTF-8) and needs no Unicode tables, unlike [`find_chat_id`]: the link tagger uses it to
/// recognise its own earlier tags.
#[cfg(test)]
pub(crate) fn canonical_ids<'a>(
    text: &'a [u8],
    prefixes: &'a [&'a str],
) -> impl Iterator<Item = (usize, usize, ChatId)> + 'a {
    let mut at = 0;
    core::iter::from_fn(move || next_canonical_id(text, &mut at, &|p| prefixes.contains(&p)))
}

/// The next ID of [`canonical_ids`] from byte `*at` on whose prefix passes `ours`; `*at` moves
/// past it. One plain function, not an iterator: the link tagger calls it from two loops.
#[inline(never)]
pub(crate) fn next_canonical_id(
    text: &[u8],
    at: &mut usize,
    ours: &impl Fn(&str) -> bool,
) -> Option<(usize, usize, ChatId)> {
    let mut i = *at;
    while i < text.len() {
        // One loop per word: a delimiter makes an empty word, stepped over.
        let start = i;
        while i < text.len() && text[i].is_ascii_alphanumeric() {
            i += 1;
        }
        if i == start {
            i += 1;
            continue;
        }
        if let Ok(id) = ChatId::parse_bytes(&text[start..i]) {
            if ours(id.prefix()) {
                *at = i;
                return Some((start, i, id));
            }
        }
    }
    *at = i;
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct() -> Vec<Prefix> {
        vec![Prefix::DEFAULT]
    }

    #[test]
    fn finds_in_plain_text() {
        let id = ChatId::generate(&Prefix::DEFAULT, [9, 8, 7, 6, 5]);
        let msg = [
            "Здравствуйте! Номер обращения: ",
            id.as_str(),
            ". Хочу заказать",
        ]
        .concat();
        assert_eq!(find_chat_id(&msg, &ct()), Some(id.clone()));
        assert_eq!(find_chat_id("no id", &ct()), None);
    }

    #[test]
    fn canonical_scan() {
        let id = ChatId::generate(&Prefix::DEFAULT, [9, 8, 7, 6, 5]);
        let text = ["x ", id.as_str(), " ", "X", id.as_str()].concat();
        let found: Vec<_> = canonical_ids(text.as_bytes(), &["CT"]).collect();
        assert_eq!(found, vec![(2, 12, id)]);
        let bytes = [b"\xff".as_slice(), found[0].2.as_str().as_bytes(), b"\xd0"].concat();
        assert_eq!(canonical_ids(&bytes, &["CT"]).count(), 1);
    }
}
