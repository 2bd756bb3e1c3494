//! Crockford base32: the chat ID alphabet. No I, L, O, U: nothing to confuse with 1, 0 or V.

pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Value of a canonical (uppercase, exact) alphabet character.
pub fn value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'H' => Some(c - b'A' + 10),
        b'J' | b'K' => Some(c - b'J' + 18),
        b'M' | b'N' => Some(c - b'M' + 20),
        b'P'..=b'T' => Some(c - b'P' + 22),
        b'V'..=b'Z' => Some(c - b'V' + 27),
        _ => None,
    }
}

/// Value of a character as a person may have typed it: any case, with Crockford's
/// confusables (`O`→0, `I`/`L`→1). `U` stays invalid.
pub fn value_tolerant(c: u8) -> Option<u8> {
    match c.to_ascii_uppercase() {
        b'O' => Some(0),
        b'I' | b'L' => Some(1),
        u => value(u),
    }
}

pub fn char_of(v: u8) -> u8 {
    ALPHABET[(v & 31) as usize]
}
