//! A deliberately small URL splitter and query editor.
//!
//! The snippet must stay tiny and must not disturb a site's links, so instead of a full WHATWG
//! parser (the `url` crate is ~100 KB of wasm) this works on the raw string: it finds the
//! scheme, authority, path, query and fragment by position and edits one query parameter while
//! every other byte of the link stays exactly as the site wrote it.

/// Positions of the parts of an absolute URL within the original string.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Parts<'a> {
    /// Lowercased by the caller when compared; as written here.
    pub scheme: &'a str,
    /// The host without userinfo or port (`None` for `tg:resolve?…`-style URLs).
    pub host: Option<&'a str>,
    /// From the end of the authority (or the scheme's `:` / `://`) to `?` / `#`.
    pub path: &'a str,
    /// Without the leading `?`; `None` when the URL has no `?`.
    pub query: Option<&'a str>,
    /// Without the leading `#`.
    pub fragment: Option<&'a str>,
    /// Byte offset where the query text starts (just after `?`), or where `?` would be inserted.
    pub query_start: usize,
    /// Byte offset where the query ends (the `#` or the end of the string).
    pub query_end: usize,
}

/// Splits an absolute URL. Returns `None` for relative links, fragments and anything without a
/// plain `scheme:` (so `javascript:` and friends come back with their scheme, and the caller
/// decides).
#[inline(always)]
pub fn split(href: &str) -> Option<Parts<'_>> {
    // Each part is cut off at its delimiter with `cut` / `rcut`, which return both sides from
    // one call: every `&s[..i]` is a separate char-boundary check in the wasm.
    let (scheme, rest) = cut(href, b':');
    let rest = rest?;
    let sb = scheme.as_bytes();
    if sb.is_empty() || !sb[0].is_ascii_alphabetic() || !all_alnum_or(scheme, "+-.") {
        return None;
    }
    let (before_frag, fragment) = cut(rest, b'#');
    let (hier, query) = cut(before_frag, b'?');
    let rest_start = scheme.len() + 1;
    let hier_end = rest_start + hier.len();
    let (host, path) = if let Some(after) = hier.strip_prefix("//") {
        // Browsers end the authority at `\` too for http(s); treating it the same means a
        // `https://evil.example\@wa.me` trick is seen as evil.example, as the browser sees it.
        let end = position(after.as_bytes(), &|c| c == b'/' || c == b'\\').unwrap_or(after.len());
        let (authority, path) = after.split_at(end);
        let host_port = rcut(authority, b'@').1;
        let host = match rcut(host_port, b':') {
            (Some(host), port) if all_digits(port) => host,
            _ => host_port,
        };
        (Some(host), path)
    } else {
        (None, hier)
    };
    Some(Parts {
        scheme,
        host,
        path,
        query,
        fragment,
        query_start: hier_end + query.is_some() as usize,
        query_end: rest_start + before_frag.len(),
    })
}

/// One `key=value` pair of a query, both raw (still percent-encoded).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Param<'a> {
    pub key: &'a str,
    pub value: &'a str,
    /// Whether the pair had an `=` at all (`?start` vs `?start=`).
    pub has_eq: bool,
}

/// The `&`-separated pairs of a raw query, empty segments skipped.
pub fn params(query: &str) -> Params<'_> {
    Params(split_byte(query, b'&'))
}

/// The iterator of [`params`].
#[derive(Clone, Debug)]
pub struct Params<'a>(SplitByte<'a>);

impl<'a> Iterator for Params<'a> {
    type Item = Param<'a>;

    #[inline(always)]
    fn next(&mut self) -> Option<Param<'a>> {
        loop {
            let s = self.0.next()?;
            if s.is_empty() {
                continue;
            }
            let (key, value) = cut(s, b'=');
            return Some(Param {
                key,
                value: value.unwrap_or(""),
                has_eq: value.is_some(),
            });
        }
    }
}

/// The raw value of the first parameter named `key` (exact, case-sensitive, as messengers read it).
#[inline(never)]
pub fn param<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    for p in params(query?) {
        if p.key == key {
            return Some(p.value);
        }
    }
    None
}

/// `href` with the first `key` parameter's value replaced by `raw_value` (already encoded), or
/// the parameter appended when absent. Every other byte — other parameters, their order and
/// encoding, the fragment — is kept.
#[inline(always)]
pub fn with_param(href: &str, parts: &Parts<'_>, key: &str, raw_value: &str) -> String {
    // One splice for every case: `href[..start]`, a separator, `key=value`, `href[end..]`.
    let (start, end, sep) = match parts.query {
        Some(q) => {
            let base = parts.query_start;
            let mut offset = 0;
            let mut found = None;
            for seg in split_byte(q, b'&') {
                if !seg.is_empty() && before_byte(seg, b'=') == key {
                    found = Some((base + offset, base + offset + seg.len()));
                    break;
                }
                offset += seg.len() + 1;
            }
            match found {
                Some((start, end)) => (start, end, ""),
                None if q.is_empty() || q.ends_with("&") => (parts.query_end, parts.query_end, ""),
                None => (parts.query_end, parts.query_end, "&"),
            }
        }
        None => (parts.query_start, parts.query_start, "?"),
    };
    let mut out = String::with_capacity(href.len() + key.len() + raw_value.len() + 2);
    out.push_str(&href[..start]);
    out.push_str(sep);
    push_pair(&mut out, key, raw_value);
    out.push_str(&href[end..]);
    out
}

#[inline(always)]
fn push_pair(out: &mut String, key: &str, raw_value: &str) {
    out.push_str(key);
    out.push('=');
    out.push_str(raw_value);
}

/// `encodeURIComponent`: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` as UTF-8 `%XX`.
pub fn encode_component_into(out: &mut String, s: &str) {
    encode_bytes_into(out, s.as_bytes())
}

/// [`encode_component_into`] for bytes that may not be valid UTF-8 (a site's text with a bad
/// escape, decoded): every non-ASCII byte is escaped, so the output is always valid.
pub fn encode_bytes_into(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        if b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            )
        {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b));
        }
    }
}

pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    encode_component_into(&mut out, s);
    out
}

/// Percent-decodes `s`. With `plus_is_space`, `+` is a space (form encoding, as in
/// `location.search`); without it `+` stays `+` (messenger text parameters, where we cannot know
/// which convention the site used and must not reinterpret its text). Invalid escapes are kept as
/// written; invalid UTF-8 makes the result `None`.
pub fn decode(s: &str, plus_is_space: bool) -> Option<String> {
    let b = decode_bytes(s, plus_is_space);
    // UTF-8 decoded by hand, character by character, instead of `String::from_utf8`: std's
    // validator (0.6 KB of wasm, built for speed on long texts) is needed nowhere else. Rejects
    // what std rejects: stray continuation bytes, truncated sequences, overlong forms
    // (`cp < min`), surrogates and code points above U+10FFFF (`char::from_u32`).
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let lead = b[i];
        let (len, min, mut cp) = match lead {
            0x00..=0x7F => (1, 0, lead as u32),
            0xC0..=0xDF => (2, 0x80, (lead & 0x1F) as u32),
            0xE0..=0xEF => (3, 0x800, (lead & 0x0F) as u32),
            0xF0..=0xF7 => (4, 0x10000, (lead & 0x07) as u32),
            _ => return None,
        };
        for k in 1..len {
            let c = *b.get(i + k)?;
            if c & 0xC0 != 0x80 {
                return None;
            }
            cp = cp << 6 | (c & 0x3F) as u32;
        }
        if cp < min {
            return None;
        }
        out.push(char::from_u32(cp)?);
        i += len;
    }
    Some(out)
}

/// Percent-decoded bytes, not necessarily UTF-8 (see [`decode`]).
pub fn decode_bytes(s: &str, plus_is_space: bool) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let (v, len) = unit_at(b, i);
        out.push(if v == b'+' && len == 1 && plus_is_space {
            b' '
        } else {
            v
        });
        i += len;
    }
    out
}

/// The byte the raw unit starting at `b[i]` stands for, and the unit's length: a `%XX` escape
/// is three bytes, anything else (an invalid escape too) one byte, itself. Shared by
/// [`decode_bytes`] and [`raw_index`], which must agree on what a unit is.
fn unit_at(b: &[u8], i: usize) -> (u8, usize) {
    if b[i] == b'%' && i + 2 < b.len() {
        // Both digits in one loop: one inlined copy of the digit lookup.
        let mut v = 0;
        for k in 1..3 {
            match hex(b[i + k]) {
                Some(d) => v = v << 4 | d,
                None => return (b[i], 1),
            }
        }
        return (v, 3);
    }
    (b[i], 1)
}

/// The index in `raw` of the unit that [`decode_bytes`] (without `plus_is_space`) turned into
/// decoded byte `pos`: every `%XX` escape is one decoded byte, every other byte is itself.
pub fn raw_index(raw: &str, pos: usize) -> usize {
    let b = raw.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < b.len() && n < pos {
        i += unit_at(b, i).1;
        n += 1;
    }
    i
}

/// Upper-case hex digits are the first 16 characters of the chat ID alphabet, so one table
/// serves both.
fn hex_digit(v: u8) -> char {
    crate::alphabet::char_of(v & 15) as char
}

/// Value of a hex digit, either case.
#[inline(always)]
fn hex(c: u8) -> Option<u8> {
    crate::alphabet::value(c.to_ascii_uppercase()).filter(|&v| v < 16)
}

// The helpers below stand in for `str::find` / `split` / `eq_ignore_ascii_case`: those are
// generic over patterns and inline at every call, which costs kilobytes in the snippet. One
// byte-level version each is enough for ASCII delimiters; whether it is inlined is measured.

/// ASCII-case-insensitive equality.
#[inline(never)]
pub fn eq_ci(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// ASCII-case-insensitive `strip_prefix`.
pub fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    match s.get(..prefix.len()) {
        Some(head) if eq_ci(head, prefix) => Some(&s[prefix.len()..]),
        _ => None,
    }
}

/// ASCII-case-insensitive `ends_with`.
pub fn ends_with_ci(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.get(s.len() - suffix.len()..)
            .is_some_and(|tail| eq_ci(tail, suffix))
}

/// Position of `name` among the space-separated words of `list` (`same` decides what equal
/// means; empty words never match). Name lists as one string, not arrays of `&str`: an array
/// costs 8 bytes of pointer and length per name in the wasm data, a separator one.
#[inline(never)]
pub fn index_in(list: &str, name: &str, same: fn(&str, &str) -> bool) -> Option<usize> {
    for (i, item) in split_byte(list, b' ').enumerate() {
        if !item.is_empty() && same(name, item) {
            return Some(i);
        }
    }
    None
}

/// Every byte is an ASCII digit (true for ""): `all_bytes` with the digit test, at each caller.
#[inline(always)]
pub fn all_digits(s: &str) -> bool {
    all_bytes(s.as_bytes(), u8::is_ascii_digit)
}

/// Every byte of `s` passes `ok` (true for ""). A plain loop over a function pointer: iterator
/// `all` with a closure is a separate `try_fold` instance per caller in the wasm.
#[inline(never)]
pub fn all_bytes(s: &[u8], ok: fn(&u8) -> bool) -> bool {
    for c in s {
        if !ok(c) {
            return false;
        }
    }
    true
}

/// Every byte of `s` is an ASCII letter or digit or one of `extra` (true for ""). One function
/// for every such character class instead of a closure each.
pub fn all_alnum_or(s: &str, extra: &str) -> bool {
    for &c in s.as_bytes() {
        if !c.is_ascii_alphanumeric() && find_byte(extra, c).is_none() {
            return false;
        }
    }
    true
}

/// Position of the first byte of `s` that passes `hit` (`None` when there is none).
#[inline(always)]
pub fn position(s: &[u8], hit: &dyn Fn(u8) -> bool) -> Option<usize> {
    let mut i = 0;
    while i < s.len() {
        if hit(s[i]) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Position of an ASCII byte.
#[inline(always)]
pub fn find_byte(s: &str, b: u8) -> Option<usize> {
    let s = s.as_bytes();
    let mut i = 0;
    while i < s.len() {
        if s[i] == b {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[inline(always)]
pub fn rfind_byte(s: &str, b: u8) -> Option<usize> {
    let s = s.as_bytes();
    let mut i = s.len();
    while i > 0 {
        i -= 1;
        if s[i] == b {
            return Some(i);
        }
    }
    None
}

/// `s` cut at the first `b`: the part before it (all of `s` when there is none) and the part
/// after it, if any.
#[inline(never)]
pub fn cut(s: &str, b: u8) -> (&str, Option<&str>) {
    match find_byte(s, b) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// `s` cut at the last `b`: the part before it, if any, and the part after it (all of `s` when
/// there is none).
pub fn rcut(s: &str, b: u8) -> (Option<&str>, &str) {
    match rfind_byte(s, b) {
        Some(i) => (Some(&s[..i]), &s[i + 1..]),
        None => (None, s),
    }
}

/// `s` up to the first `b` (all of `s` when there is none).
#[inline(always)]
pub fn before_byte(s: &str, b: u8) -> &str {
    cut(s, b).0
}

/// `s.split_once(b as char)` for an ASCII byte.
#[inline(always)]
pub fn split_once_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    let (before, after) = cut(s, b);
    Some((before, after?))
}

/// `s.split(b as char)` for an ASCII byte.
pub fn split_byte(s: &str, b: u8) -> SplitByte<'_> {
    SplitByte { rest: Some(s), b }
}

/// The iterator of [`split_byte`]: a named type whose `next` is one call of `cut`.
#[derive(Clone, Debug)]
pub struct SplitByte<'a> {
    rest: Option<&'a str>,
    b: u8,
}

impl<'a> Iterator for SplitByte<'a> {
    type Item = &'a str;

    #[inline(always)]
    fn next(&mut self) -> Option<&'a str> {
        let (item, rest) = cut(self.rest?, self.b);
        self.rest = rest;
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_parts() {
        let p = split("https://user@WA.me:443/7999?text=a&x=1#frag").unwrap();
        assert_eq!(p.scheme, "https");
        assert_eq!(p.host, Some("WA.me"));
        assert_eq!(p.path, "/7999");
        assert_eq!(p.query, Some("text=a&x=1"));
        assert_eq!(p.fragment, Some("frag"));
        let p = split("tg:resolve?domain=a").unwrap();
        assert_eq!(p.host, None);
        assert_eq!(p.path, "resolve");
        assert_eq!(split("/relative?x"), None);
        assert_eq!(split("#frag"), None);
        assert_eq!(
            split("https://evil.example\\@wa.me/1").unwrap().host,
            Some("evil.example")
        );
    }

    #[test]
    fn edits_one_param_keeping_the_rest() {
        let h = "https://x.y/p?a=1&text=old&b=%20#f";
        let p = split(h).unwrap();
        assert_eq!(
            with_param(h, &p, "text", "new"),
            "https://x.y/p?a=1&text=new&b=%20#f"
        );
        assert_eq!(
            with_param(h, &p, "start", "S"),
            "https://x.y/p?a=1&text=old&b=%20&start=S#f"
        );
        let h = "https://x.y/p#f";
        assert_eq!(
            with_param(h, &split(h).unwrap(), "k", "v"),
            "https://x.y/p?k=v#f"
        );
        let h = "https://x.y/p?";
        assert_eq!(
            with_param(h, &split(h).unwrap(), "k", "v"),
            "https://x.y/p?k=v"
        );
        let h = "https://x.y/p?a&";
        assert_eq!(
            with_param(h, &split(h).unwrap(), "k", "v"),
            "https://x.y/p?a&k=v"
        );
        let h = "https://x.y/p?start&a=1";
        assert_eq!(
            with_param(h, &split(h).unwrap(), "start", "v"),
            "https://x.y/p?start=v&a=1"
        );
        // A key that merely starts with the name is a different parameter.
        let h = "https://x.y/p?startapp=1";
        assert_eq!(
            with_param(h, &split(h).unwrap(), "start", "v"),
            "https://x.y/p?startapp=1&start=v"
        );
    }

    #[test]
    fn encodes_like_encode_uri_component() {
        assert_eq!(
            encode_component("a b\n\nНомер: X-1_(ok)!~*'."),
            "a%20b%0A%0A%D0%9D%D0%BE%D0%BC%D0%B5%D1%80%3A%20X-1_(ok)!~*'."
        );
        assert_eq!(encode_component("&=?#+/%"), "%26%3D%3F%23%2B%2F%25");
    }

    #[test]
    fn byte_helpers() {
        assert_eq!(
            split_byte("a&&b&", b'&').collect::<Vec<_>>(),
            vec!["a", "", "b", ""]
        );
        assert_eq!(split_byte("", b'&').collect::<Vec<_>>(), vec![""]);
        assert!(eq_ci("WA.me", "wa.ME"));
        assert!(!eq_ci("wa.me", "wa.m"));
        assert!(!eq_ci("Жa", "жa"));
        assert!(ends_with_ci("Shop_BOT", "bot"));
        assert!(!ends_with_ci("Жbot", "Жbo"));
        assert!(!ends_with_ci("Ж", "t"), "never slices inside a character");
        assert_eq!(strip_prefix_ci("WWW.wa.me", "www."), Some("wa.me"));
        assert_eq!(strip_prefix_ci("ЖЖ", "w"), None);
        assert_eq!(rfind_byte("a_b_c", b'_'), Some(3));
        assert_eq!(rfind_byte("_bc", b'_'), Some(0));
        assert_eq!(rfind_byte("abc", b'_'), None);
        assert_eq!(find_byte("ab_c_", b'_'), Some(2));
        assert_eq!(find_byte("", b'_'), None);
        assert_eq!(cut("a_b_c", b'_'), ("a", Some("b_c")));
        assert_eq!(cut("_", b'_'), ("", Some("")));
        assert_eq!(cut("abc", b'_'), ("abc", None));
        assert_eq!(rcut("a_b_c", b'_'), (Some("a_b"), "c"));
        assert_eq!(rcut("_", b'_'), (Some(""), ""));
        assert_eq!(rcut("abc", b'_'), (None, "abc"));
        assert_eq!(before_byte("a#b#", b'#'), "a");
        assert_eq!(before_byte("ab", b'#'), "ab");
        assert_eq!(split_once_byte("k=v=w", b'='), Some(("k", "v=w")));
        assert_eq!(split_once_byte("k", b'='), None);
        assert_eq!(position(b"ab-c", &|c| c == b'-'), Some(2));
        assert_eq!(position(b"abc", &|c| c == b'-'), None);
        assert!(all_bytes(b"", u8::is_ascii_digit));
        assert!(all_bytes(b"0129", u8::is_ascii_digit));
        assert!(!all_bytes(b"01a9", u8::is_ascii_digit));
        assert!(all_alnum_or("", ""));
        assert!(all_alnum_or("aZ09_-", "_-"));
        assert!(!all_alnum_or("a.b", "_-"));
        assert!(!all_alnum_or("aЖ", "_"), "ASCII only");
        assert_eq!(
            params("a=1&&b&c=&=d").collect::<Vec<_>>(),
            vec![
                Param {
                    key: "a",
                    value: "1",
                    has_eq: true
                },
                Param {
                    key: "b",
                    value: "",
                    has_eq: false
                },
                Param {
                    key: "c",
                    value: "",
                    has_eq: true
                },
                Param {
                    key: "",
                    value: "d",
                    has_eq: true
                },
            ]
        );
        assert_eq!(param(Some("a=1&b=2&b=3"), "b"), Some("2"));
        assert_eq!(param(Some("ab=1"), "a"), None);
        assert_eq!(param(None, "a"), None);
    }

    #[test]
    fn hex_of_every_byte() {
        for c in 0..=255u8 {
            let expected = match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                b'A'..=b'F' => Some(c - b'A' + 10),
                _ => None,
            };
            assert_eq!(hex(c), expected, "byte {c}");
        }
        for v in 0..16u8 {
            assert_eq!(hex_digit(v), b"0123456789ABCDEF"[v as usize] as char);
        }
    }

    /// [`decode`]'s hand-written UTF-8 decoding against std's, for every one- and two-byte
    /// sequence and every lead byte of a longer one with each second byte and edge third/fourth
    /// bytes (overlongs, surrogates, beyond U+10FFFF, truncation, stray continuation bytes).
    #[test]
    fn decodes_utf8_exactly_as_std() {
        let check = |bytes: &[u8]| {
            let mut raw = String::new();
            for b in bytes {
                raw.push('%');
                raw.push(hex_digit(b >> 4));
                raw.push(hex_digit(*b));
            }
            assert_eq!(
                decode(&raw, false),
                String::from_utf8(bytes.to_vec()).ok(),
                "bytes {bytes:x?}"
            );
        };
        let edges = [
            0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF,
        ];
        for a in 0..=255u8 {
            check(&[a]);
            for b in 0..=255u8 {
                check(&[a, b]);
                for c in edges {
                    check(&[a, b, c]);
                    check(&[b'x', a, b, c, b'y']);
                    if a >= 0xF0 {
                        for d in edges {
                            check(&[a, b, c, d]);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn decodes() {
        assert_eq!(decode("a%20b+c", false).as_deref(), Some("a b+c"));
        assert_eq!(decode("a%20b+c", true).as_deref(), Some("a b c"));
        assert_eq!(decode("100%", false).as_deref(), Some("100%"));
        assert_eq!(decode("%zz%4", false).as_deref(), Some("%zz%4"));
        assert_eq!(decode("%FF", false), None);
        assert_eq!(decode_bytes("%FFa%20b", false), b"\xffa b");
        let raw = "%D0%96a%20%zz+b";
        let decoded = decode_bytes(raw, false);
        assert_eq!(decoded, "Жa %zz+b".as_bytes());
        let at = |i: usize| &raw[raw_index(raw, i)..];
        assert_eq!(at(0), raw);
        assert_eq!(at(2), "a%20%zz+b");
        assert_eq!(at(3), "%20%zz+b");
        assert_eq!(at(4), "%zz+b");
        assert_eq!(at(7), "+b");
        assert_eq!(at(9), "");
        assert_eq!(decode("%D0%9D", false).as_deref(), Some("Н"));
    }
}
