//! Visitor identifiers: where each comes from, what a valid value looks like, and the caps that
//! keep hostile values (markup, control characters, 10 KB strings) out of links and reports.
//! Every value that enters the system goes through one of the `clean_*` functions here — in the
//! snippet before it is stored or sent, and again in the collector before it is written.

use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Utm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// The identifiers the snippet knows about a visitor. Absent = unknown.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Identifiers {
    /// Metrica ClientID (`_ym_uid`): digits, kept as a string (it exceeds 2^53).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yclid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gclid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fbclid: Option<String>,
    /// GA client id from `_ga` (`GA1.1.123.456` → `123.456`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ga_client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm: Option<Utm>,
}

/// Which identifier a validation error is about.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Field {
    ClientId,
    Yclid,
    UserId,
    PurchaseId,
    Gclid,
    Fbclid,
    GaClientId,
    Utm,
}

impl Field {
    /// The wire name of the field.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::ClientId => "client_id",
            Field::Yclid => "yclid",
            Field::UserId => "user_id",
            Field::PurchaseId => "purchase_id",
            Field::Gclid => "gclid",
            Field::Fbclid => "fbclid",
            Field::GaClientId => "ga_client_id",
            Field::Utm => "utm",
        }
    }
}

/// A present identifier that is not in its clean form.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IdentifierError {
    pub field: Field,
}

impl core::fmt::Display for IdentifierError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("invalid ")?;
        f.write_str(self.field.as_str())
    }
}

impl std::error::Error for IdentifierError {}

pub const MAX_CLIENT_ID_LEN: usize = 32;
pub const MAX_YCLID_LEN: usize = 32;
pub const MAX_GCLID_LEN: usize = 256;
pub const MAX_FBCLID_LEN: usize = 512;
/// Each of the two numbers in a GA client id (`<random>.<timestamp>`).
pub const MAX_GA_PART_LEN: usize = 20;
/// In characters, not bytes.
pub const MAX_SITE_ID_LEN: usize = 128;
/// In characters, not bytes.
pub const MAX_UTM_LEN: usize = 200;

/// A `clean_*` function: the value itself when valid, else `None`.
pub type Cleaner = fn(&str) -> Option<String>;

/// The rule behind a `clean_*` function: whether the value is valid. Checking and cleaning in
/// place use it directly, with no copy of the value to drop again.
type Rule = fn(&str) -> bool;

/// `v` itself when it passes `ok`: every `clean_*` function.
fn cleaned_by(v: &str, ok: Rule) -> Option<String> {
    if ok(v) {
        Some(v.to_owned())
    } else {
        None
    }
}

/// 1 to `max` bytes.
fn has_len(v: &str, max: usize) -> bool {
    !v.is_empty() && v.len() <= max
}

fn is_client_id(v: &str) -> bool {
    has_len(v, MAX_CLIENT_ID_LEN) && crate::url::all_digits(v)
}

fn is_yclid(v: &str) -> bool {
    has_len(v, MAX_YCLID_LEN) && crate::url::all_digits(v)
}

fn is_gclid(v: &str) -> bool {
    has_len(v, MAX_GCLID_LEN) && crate::url::all_alnum_or(v, "_-")
}

fn is_fbclid(v: &str) -> bool {
    has_len(v, MAX_FBCLID_LEN) && crate::url::all_alnum_or(v, "_-.")
}

fn is_ga_client_id(v: &str) -> bool {
    let digits = |s: &str| has_len(s, MAX_GA_PART_LEN) && crate::url::all_digits(s);
    crate::url::split_once_byte(v, b'.').is_some_and(|(a, b)| digits(a) && digits(b))
}

/// Metrica ClientID: 1–32 digits. Kept as an opaque string: it exceeds 2^53, and leading zeros
/// (never seen, but not excluded by Metrica) must survive.
pub fn clean_client_id(v: &str) -> Option<String> {
    cleaned_by(v, is_client_id)
}

pub fn clean_yclid(v: &str) -> Option<String> {
    cleaned_by(v, is_yclid)
}

pub fn clean_gclid(v: &str) -> Option<String> {
    cleaned_by(v, is_gclid)
}

pub fn clean_fbclid(v: &str) -> Option<String> {
    cleaned_by(v, is_fbclid)
}

/// `<digits>.<digits>`, the part of `_ga` that identifies the browser.
pub fn clean_ga_client_id(v: &str) -> Option<String> {
    cleaned_by(v, is_ga_client_id)
}

/// Characters that change how surrounding text is displayed or hide content without being
/// "control characters": bidi overrides and isolates (U+202E can make `gpj.exe` read `exe.jpg`),
/// zero-width characters, line/paragraph separators, BOM, interlinear annotations, tag characters.
/// Unicode's Cf/Zl/Zp categories, listed by hand because std has no category tables.
fn is_invisible_format(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2 | 0x180E
        | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF
        | 0xFFF9..=0xFFFB | 0xFFFE | 0xFFFF | 0x110BD | 0x110CD | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
}

/// Free text a site or a link supplies: bounded in characters, nothing that can break out of an
/// HTML attribute, a JS string or a CSV cell, nothing invisible. Rejected as a whole, never
/// trimmed into something else.
fn is_clean_text(v: &str, max_chars: usize, forbidden: &[char]) -> bool {
    // No separate byte-length test: the loop stops at the first character past the limit.
    let (mut n, mut visible) = (0, false);
    for c in v.chars() {
        n += 1;
        if n > max_chars || c.is_control() || is_invisible_format(c) || forbidden.contains(&c) {
            return false;
        }
        visible |= !c.is_whitespace();
    }
    visible
}

const SITE_ID_FORBIDDEN: &[char] = &['<', '>', '"', '\'', '`', '\\'];
const UTM_FORBIDDEN: &[char] = &['<', '>', '"', '`', '\\', ';'];

fn is_site_id(v: &str) -> bool {
    is_clean_text(v, MAX_SITE_ID_LEN, SITE_ID_FORBIDDEN)
}

fn is_utm_value(v: &str) -> bool {
    is_clean_text(v, MAX_UTM_LEN, UTM_FORBIDDEN)
}

/// UserID set by the site (`chattag.setUserId`): 1–128 printable characters, none of `< > " ' `` ` `` \`.
pub fn clean_user_id(v: &str) -> Option<String> {
    cleaned_by(v, is_site_id)
}

pub fn clean_purchase_id(v: &str) -> Option<String> {
    cleaned_by(v, is_site_id)
}

/// A `utm_*` value (already percent-decoded): ≤ 200 characters, any script, no markup characters.
pub fn clean_utm_value(v: &str) -> Option<String> {
    cleaned_by(v, is_utm_value)
}

/// The value of cookie `name` in `document.cookie` syntax (`a=1; b=2`); the first one wins, as
/// browsers list the most specific path first.
pub fn cookie_value<'a>(cookie_header: &'a str, name: &str) -> Option<&'a str> {
    for pair in crate::url::split_byte(cookie_header, b';') {
        if let (key, Some(value)) = crate::url::cut(pair, b'=') {
            if key.trim_ascii() == name {
                return Some(value.trim_ascii());
            }
        }
    }
    None
}

/// Metrica's ClientID from its `_ym_uid` cookie.
pub fn client_id_from_cookies(cookies: &str) -> Option<String> {
    clean_client_id(cookie_value(cookies, "_ym_uid")?)
}

/// Metrica's ClientID from its localStorage copy (`_ym_uid`), which Metrica stores JSON-encoded
/// (`"1700000000123456789"`); a bare number is accepted too.
pub fn client_id_from_storage(raw: &str) -> Option<String> {
    let v = raw.trim_ascii();
    let v = match v.strip_prefix("\"") {
        Some(inner) => inner.strip_suffix("\"")?,
        None => v,
    };
    clean_client_id(v)
}

/// GA client id from the `_ga` cookie: `GA1.1.123.456` (version, domain depth, random,
/// timestamp) → `123.456`.
pub fn ga_client_id_from_cookies(cookies: &str) -> Option<String> {
    let v = cookie_value(cookies, "_ga")?;
    let rest = v.strip_prefix("GA")?;
    let (version, rest) = crate::url::split_once_byte(rest, b'.')?;
    let (depth, id) = crate::url::split_once_byte(rest, b'.')?;
    if version.is_empty() || !crate::url::all_digits(version) {
        return None;
    }
    if depth.is_empty()
        || !crate::url::all_bytes(depth.as_bytes(), |c| c.is_ascii_digit() || *c == b'-')
    {
        return None;
    }
    clean_ga_client_id(id)
}

/// Identifiers an ad click leaves in the landing page's query string.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Landing {
    pub yclid: Option<String>,
    pub gclid: Option<String>,
    pub fbclid: Option<String>,
    pub utm: Option<Utm>,
}

/// Reads `location.search` (with or without the leading `?`), form-decoding each value
/// (`+` is a space) and keeping only clean ones. For a repeated key the first clean value wins.
pub fn from_query(query: &str) -> Landing {
    // `&str` pattern, not `char`: shares the std instance the other callers use.
    let query = query.strip_prefix("?").unwrap_or(query);
    let query = crate::url::before_byte(query, b'#');
    let mut landing = Landing::default();
    // Filled in place (and emptied below if nothing was found): moving a `Utm` in copies it.
    let Landing {
        yclid,
        gclid,
        fbclid,
        utm,
    } = &mut landing;
    let utm = utm.insert(Utm::default());
    // The slots in the order of the key list below, and the rule for each: a table indexed by
    // the key's position instead of a match arm per key.
    let slots: [&mut Option<String>; 8] = [
        yclid,
        gclid,
        fbclid,
        &mut utm.source,
        &mut utm.medium,
        &mut utm.campaign,
        &mut utm.term,
        &mut utm.content,
    ];
    const RULES: [Rule; 4] = [is_yclid, is_gclid, is_fbclid, is_utm_value];
    let mut any_utm = false;
    for p in crate::url::params(query) {
        // The key's position in one name list: one scan instead of a comparison per name.
        const KEYS: &str =
            "yclid gclid fbclid utm_source utm_medium utm_campaign utm_term utm_content";
        let Some(i) = crate::url::index_in(KEYS, p.key, str::eq) else {
            continue;
        };
        let ok = RULES[i.min(3)];
        let slot = &mut *slots[i];
        if slot.is_none() {
            *slot = crate::url::decode(p.value, true).filter(|v| ok(v));
            // Noted as it is filled: no test of the five fields afterwards.
            any_utm |= i >= 3 && slot.is_some();
        }
    }
    if !any_utm {
        landing.utm = None;
    }
    landing
}

fn check(v: &Option<String>, field: Field, ok: Rule) -> Result<(), IdentifierError> {
    match v {
        Some(s) if !ok(s) => Err(IdentifierError { field }),
        _ => Ok(()),
    }
}

/// Empties `slot` when its value is not clean. In place: moving each `Option<String>` through a
/// filter copies the whole struct around in the wasm.
#[inline(never)]
fn keep(slot: &mut Option<String>, ok: Rule) {
    if slot.as_deref().is_some_and(|s| !ok(s)) {
        *slot = None;
    }
}

impl Utm {
    /// No field set (cheaper in wasm than comparing with `Utm::default()`).
    fn is_empty(&self) -> bool {
        self.source.is_none()
            && self.medium.is_none()
            && self.campaign.is_none()
            && self.term.is_none()
            && self.content.is_none()
    }

    fn is_clean(&self) -> bool {
        [
            &self.source,
            &self.medium,
            &self.campaign,
            &self.term,
            &self.content,
        ]
        .iter()
        .all(|v| v.as_deref().is_none_or(is_utm_value))
    }

    /// Drops every invalid value, in place.
    fn clean(&mut self) {
        keep(&mut self.source, is_utm_value);
        keep(&mut self.medium, is_utm_value);
        keep(&mut self.campaign, is_utm_value);
        keep(&mut self.term, is_utm_value);
        keep(&mut self.content, is_utm_value);
    }
}

impl Identifiers {
    /// For the collector: every present field must already be in clean form (the snippet cleans
    /// before sending, so anything else was not sent by the snippet).
    pub fn validate(&self) -> Result<(), IdentifierError> {
        check(&self.client_id, Field::ClientId, is_client_id)?;
        check(&self.yclid, Field::Yclid, is_yclid)?;
        check(&self.user_id, Field::UserId, is_site_id)?;
        check(&self.purchase_id, Field::PurchaseId, is_site_id)?;
        check(&self.gclid, Field::Gclid, is_gclid)?;
        check(&self.fbclid, Field::Fbclid, is_fbclid)?;
        check(&self.ga_client_id, Field::GaClientId, is_ga_client_id)?;
        match &self.utm {
            Some(u) if !u.is_clean() => Err(IdentifierError { field: Field::Utm }),
            _ => Ok(()),
        }
    }

    /// For the snippet: the same identifiers with every invalid value dropped.
    pub fn cleaned(mut self) -> Identifiers {
        keep(&mut self.client_id, is_client_id);
        keep(&mut self.yclid, is_yclid);
        keep(&mut self.user_id, is_site_id);
        keep(&mut self.purchase_id, is_site_id);
        keep(&mut self.gclid, is_gclid);
        keep(&mut self.fbclid, is_fbclid);
        keep(&mut self.ga_client_id, is_ga_client_id);
        // In place: moving the `Utm` out and back copies it.
        if let Some(utm) = &mut self.utm {
            utm.clean();
            if utm.is_empty() {
                self.utm = None;
            }
        }
        self
    }
}
