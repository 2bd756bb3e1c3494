//! Crockford base32: the chat ID alphabet. No I, L, O, U: nothing to confuse with 1, 0 or V.

pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// [`ALPHABET`] as a string, for the shared byte search (converted at compile time).
const ALPHABET_STR: &str = match core::str::from_utf8(ALPHABET) {
    Ok(s) => s,
    Err(_) => panic!("the alphabet is ASCII"),
};

/// Value of a canonical (uppercase, exact) alphabet character.
#[inline(always)]
pub fn value(c: u8) -> Option<u8> {
    // A search of the 32-byte alphabet the encoder needs anyway: smaller in wasm than the
    // range match it replaces.
    crate::url::find_byte(ALPHABET_STR, c).map(|v| v as u8)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The alphabet's values spelled out as ranges (Crockford: no I, L, O, U).
    fn value_by_ranges(c: u8) -> Option<u8> {
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

    #[test]
    fn value_of_every_byte() {
        for c in 0..=255u8 {
            assert_eq!(value(c), value_by_ranges(c), "byte {c}");
        }
        for v in 0..32u8 {
            assert_eq!(value(char_of(v)), Some(v));
        }
    }
}
