//! The chat ID: `<prefix><7 random><1 check>`, e.g. `CT8F2A9KQZ`.
//!
//! * prefix: 1–4 of `A–Z` (default `CT`), configured per site;
//! * body: 7 Crockford base32 characters from a CSPRNG (35 bits), never derived from a visitor ID;
//! * check: Luhn mod 32 over the body, so every single-character substitution is detected.
//!
//! All characters are in `A-Z0-9`, so an ID is a valid Telegram `start` / MAX `payload` as is.

use std::borrow::Cow;

use crate::alphabet::{char_of, value};

pub const BODY_LEN: usize = 7;
pub const MAX_PREFIX_LEN: usize = 4;
pub const MIN_LEN: usize = 1 + BODY_LEN + 1;
pub const MAX_LEN: usize = MAX_PREFIX_LEN + BODY_LEN + 1;
/// Random bytes needed by [`ChatId::generate`] (35 of the 40 bits are used).
pub const RANDOM_BYTES: usize = 5;

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Prefix {
    // A string, not a byte array: turning bytes back into `&str` needs `str::from_utf8`, which
    // is 0.6 KB of wasm that nothing else in the snippet needs.
    text: Cow<'static, str>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PrefixError {
    Empty,
    TooLong,
    NotUppercaseLatin,
}

impl Prefix {
    pub const DEFAULT: Prefix = Prefix {
        text: Cow::Borrowed("CT"),
    };

    pub fn new(s: &str) -> Result<Prefix, PrefixError> {
        let b = s.as_bytes();
        if b.is_empty() {
            return Err(PrefixError::Empty);
        }
        if b.len() > MAX_PREFIX_LEN {
            return Err(PrefixError::TooLong);
        }
        if !crate::url::all_bytes(b, u8::is_ascii_uppercase) {
            return Err(PrefixError::NotUppercaseLatin);
        }
        Ok(Prefix {
            text: Cow::Owned(s.to_owned()),
        })
    }

    #[inline(always)]
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl Default for Prefix {
    fn default() -> Self {
        Prefix::DEFAULT
    }
}

/// A valid chat ID in canonical form (uppercase, no confusables, check character verified).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChatId(String);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ChatIdError {
    Length,
    Prefix,
    Body,
    Check,
}

/// Luhn mod N (N = 32) check character over body values.
pub fn check_value(body: &[u8]) -> u8 {
    let mut factor = 2u32;
    let mut sum = 0u32;
    for &v in body.iter().rev() {
        let addend = factor * v as u32;
        sum += addend / 32 + addend % 32;
        factor = if factor == 2 { 1 } else { 2 };
    }
    ((32 - sum % 32) % 32) as u8
}

impl ChatId {
    /// A new ID from CSPRNG bytes supplied by the caller (getrandom in the browser / server).
    pub fn generate(prefix: &Prefix, random: [u8; RANDOM_BYTES]) -> ChatId {
        let bits = random.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64);
        let mut body = [0u8; BODY_LEN];
        for (i, v) in body.iter_mut().enumerate() {
            *v = ((bits >> (5 * i)) & 31) as u8;
        }
        Self::from_parts(prefix.as_str(), &body)
    }

    #[inline(always)]
    pub(crate) fn from_parts(prefix: &str, body: &[u8; BODY_LEN]) -> ChatId {
        let mut s = String::with_capacity(prefix.len() + BODY_LEN + 1);
        s.push_str(prefix);
        for &v in body {
            s.push(char_of(v) as char);
        }
        s.push(char_of(check_value(body)) as char);
        ChatId(s)
    }

    /// Strict parse of a canonical ID (as the snippet sends it). For text a person typed, use
    /// [`crate::find_chat_id`], which is tolerant of case and confusables.
    pub fn parse(s: &str) -> Result<ChatId, ChatIdError> {
        Self::parse_bytes(s.as_bytes())
    }

    /// [`ChatId::parse`] of bytes (a word of a link's decoded text, not necessarily UTF-8
    /// around it). A valid ID is ASCII, so its bytes become the string one by one, without
    /// `str::from_utf8` (0.6 KB of wasm).
    pub(crate) fn parse_bytes(b: &[u8]) -> Result<ChatId, ChatIdError> {
        if b.len() < MIN_LEN || b.len() > MAX_LEN {
            return Err(ChatIdError::Length);
        }
        let plen = b.len() - BODY_LEN - 1;
        if !crate::url::all_bytes(&b[..plen], u8::is_ascii_uppercase) {
            return Err(ChatIdError::Prefix);
        }
        // Body and check character read in one loop: one copy of the alphabet lookup.
        let mut values = [0u8; BODY_LEN + 1];
        for (i, v) in values.iter_mut().enumerate() {
            *v = value(b[plen + i]).ok_or(ChatIdError::Body)?;
        }
        if values[BODY_LEN] != check_value(&values[..BODY_LEN]) {
            return Err(ChatIdError::Check);
        }
        let mut s = String::with_capacity(b.len());
        for &c in b {
            s.push(c as char);
        }
        Ok(ChatId(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn prefix(&self) -> &str {
        &self.0[..self.0.len() - BODY_LEN - 1]
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl core::fmt::Display for ChatId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::fmt::Debug for ChatId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::fmt::Display for ChatIdError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ChatIdError::Length => "chat ID must be 9-12 characters",
            ChatIdError::Prefix => "chat ID prefix must be 1-4 letters A-Z",
            ChatIdError::Body => "chat ID has a character outside Crockford base32",
            ChatIdError::Check => "chat ID check character does not match",
        })
    }
}

impl core::fmt::Display for PrefixError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            PrefixError::Empty => "prefix is empty",
            PrefixError::TooLong => "prefix is longer than 4 letters",
            PrefixError::NotUppercaseLatin => "prefix must be letters A-Z",
        })
    }
}

impl std::error::Error for ChatIdError {}
impl std::error::Error for PrefixError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back() {
        for seed in 0u8..=255 {
            let id = ChatId::generate(
                &Prefix::DEFAULT,
                [seed, seed ^ 0x5a, 7, seed.wrapping_mul(31), 1],
            );
            assert_eq!(id.as_str().len(), 10);
            assert_eq!(ChatId::parse(id.as_str()), Ok(id.clone()));
            assert_eq!(id.prefix(), "CT");
        }
    }

    #[test]
    fn prefix_rules() {
        assert!(Prefix::new("ABCD").is_ok());
        assert_eq!(Prefix::new(""), Err(PrefixError::Empty));
        assert_eq!(Prefix::new("ABCDE"), Err(PrefixError::TooLong));
        assert_eq!(Prefix::new("ct"), Err(PrefixError::NotUppercaseLatin));
        assert_eq!(Prefix::new("C1"), Err(PrefixError::NotUppercaseLatin));
    }
}
