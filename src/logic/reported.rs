//! What the collector already knows about the current chat ID, so that an `update` is sent only
//! when a page learns something new (e.g. `_ym_uid` appeared, the site called `setUserId`) and
//! not on every page view. Kept as one 32-bit FNV-1a hash per identifier field (0 = never
//! reported): compact enough for the cookie, and no identifier value is stored twice.
//!
//! "Absent" never counts as new: a page that does not call `setUserId` does not retract the
//! user ID an earlier page reported.

use chattag_core::identifiers::{Identifiers, Utm};

use crate::logic::wire::HEX_LOWER;

const FIELDS: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Reported([u32; FIELDS]);

const FNV_PRIME: u32 = 0x0100_0193;
const FNV_BASIS: u32 = 0x811c_9dc5;

/// FNV-1a over `s`, continuing from `h` (the offset basis for a fresh hash).
fn fnv1a(mut h: u32, s: &str) -> u32 {
    for b in s.bytes() {
        h = (h ^ b as u32).wrapping_mul(FNV_PRIME);
    }
    h
}

/// 0 means "absent", so a present value never hashes to it.
fn present(h: u32) -> u32 {
    h.max(1)
}

fn hash(v: &Option<String>) -> u32 {
    v.as_deref().map_or(0, |s| present(fnv1a(FNV_BASIS, s)))
}

/// The UTM fields as one hash: each part after the first follows a unit separator (0x1f).
fn utm_hash(u: &Option<Utm>) -> u32 {
    fn then(h: u32, v: &Option<String>) -> u32 {
        fnv1a(
            (h ^ 0x1f).wrapping_mul(FNV_PRIME),
            v.as_deref().unwrap_or(""),
        )
    }
    u.as_ref().map_or(0, |u| {
        let h = fnv1a(FNV_BASIS, u.source.as_deref().unwrap_or(""));
        present(then(
            then(then(then(h, &u.medium), &u.campaign), &u.term),
            &u.content,
        ))
    })
}

/// Records `now` in `told` when it is a present value the collector was not told; returns
/// whether it was.
#[inline(never)]
fn tell(told: &mut u32, now: u32) -> bool {
    let news = now != 0 && now != *told;
    if news {
        *told = now;
    }
    news
}

impl Reported {
    /// The state after `ids` were reported in full (an `issue`): absent fields are 0 either way.
    #[cfg(test)]
    pub fn of(ids: &Identifiers) -> Reported {
        let mut r = Reported::default();
        r.merge(ids);
        r
    }

    /// Whether `ids` carry a present value the collector has not been told.
    #[cfg(test)]
    pub fn has_news(&self, ids: &Identifiers) -> bool {
        let mut copy = *self;
        copy.merge(ids)
    }

    /// The state after `ids` were reported in an `update` (present fields overwrite). Returns
    /// whether that was news: a present value the collector had not been told.
    pub fn merge(&mut self, ids: &Identifiers) -> bool {
        // Field by field (`|`, not `||`: every field is merged); an array of hashes walked by a
        // loop was larger in the wasm.
        let t = &mut self.0;
        tell(&mut t[0], hash(&ids.client_id))
            | tell(&mut t[1], hash(&ids.yclid))
            | tell(&mut t[2], hash(&ids.user_id))
            | tell(&mut t[3], hash(&ids.purchase_id))
            | tell(&mut t[4], hash(&ids.gclid))
            | tell(&mut t[5], hash(&ids.fbclid))
            | tell(&mut t[6], hash(&ids.ga_client_id))
            | tell(&mut t[7], utm_hash(&ids.utm))
    }

    pub fn encode_into(&self, out: &mut String) {
        for i in 0..FIELDS * 8 {
            let digit = (self.0[i / 8] >> (28 - 4 * (i % 8))) & 15;
            out.push(HEX_LOWER[digit as usize] as char);
        }
    }

    pub fn decode(s: &str) -> Option<Reported> {
        let b = s.as_bytes();
        if b.len() != FIELDS * 8 {
            return None;
        }
        let mut out = [0u32; FIELDS];
        for (i, &c) in b.iter().enumerate() {
            let d = (c as char).to_digit(16)?;
            out[i / 8] = (out[i / 8] << 4) | d;
        }
        Some(Reported(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(client: Option<&str>, user: Option<&str>) -> Identifiers {
        Identifiers {
            client_id: client.map(Into::into),
            user_id: user.map(Into::into),
            ..Identifiers::default()
        }
    }

    #[test]
    fn only_new_or_changed_present_values_are_news() {
        let told = Reported::of(&ids(None, Some("u1")));
        assert!(!told.has_news(&ids(None, Some("u1"))));
        assert!(!told.has_news(&ids(None, None)), "absent is not news");
        assert!(
            told.has_news(&ids(Some("123"), Some("u1"))),
            "late ClientID"
        );
        assert!(told.has_news(&ids(None, Some("u2"))), "changed user ID");
        let mut merged = told;
        merged.merge(&ids(Some("123"), None));
        assert!(!merged.has_news(&ids(Some("123"), Some("u1"))));
    }

    #[test]
    fn utm_fields_are_told_apart() {
        let a = Identifiers {
            utm: Some(Utm {
                source: Some("ab".into()),
                ..Utm::default()
            }),
            ..Identifiers::default()
        };
        let b = Identifiers {
            utm: Some(Utm {
                medium: Some("ab".into()),
                ..Utm::default()
            }),
            ..Identifiers::default()
        };
        assert!(Reported::of(&a).has_news(&b));
    }

    #[test]
    fn hashes_stay_those_of_stored_records() {
        // Records in visitors' cookies hold these hashes: a change would make every stored
        // identifier look new once (values computed independently, FNV-1a 32 with 0x1f between
        // the UTM parts).
        let ids = Identifiers {
            client_id: Some("1700000000123456789".into()),
            utm: Some(Utm {
                source: Some("yandex".into()),
                campaign: Some("spring sale".into()),
                content: Some("b".into()),
                ..Utm::default()
            }),
            ..Identifiers::default()
        };
        let mut s = String::new();
        Reported::of(&ids).encode_into(&mut s);
        let zero = "00000000";
        assert_eq!(
            s,
            ["9b1215a0", zero, zero, zero, zero, zero, zero, "be3e9b06"].concat()
        );
        let empty_utm = Identifiers {
            utm: Some(Utm::default()),
            ..Identifiers::default()
        };
        assert_eq!(Reported::of(&empty_utm).0[7], 0x4929_2171);
    }

    #[test]
    fn text_round_trip() {
        let r = Reported::of(&ids(Some("1700000000123456789"), Some("u")));
        let mut s = String::new();
        r.encode_into(&mut s);
        assert_eq!(s.len(), 64);
        assert_eq!(Reported::decode(&s), Some(r));
        assert_eq!(Reported::decode(&s[1..]), None);
        assert_eq!(
            Reported::decode(&s.replace('0', "g")),
            if s.contains('0') { None } else { Some(r) }
        );
    }
}
