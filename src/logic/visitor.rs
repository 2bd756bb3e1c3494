//! The visitor record and its lifecycle: one chat ID per visitor, kept for `lifetime` and renewed
//! by a new ad click; the landing's click IDs and UTM kept with it (`yclid` for 90 days, as
//! Yandex's own sample does). Pure: the caller supplies the stored text, the landing, the clock
//! and the random bytes.
//!
//! Stored (cookie and localStorage, same text) as a query string, so that the landing part is
//! read back through `identifiers::from_query` — stored values are validated exactly like URL
//! values, and a tampered record cannot smuggle anything into a link or a report:
//! `v=1&id=CT8F2A9KQ3&t=<issued ms>&yt=<yclid ms>&r=<reported>&yclid=…&gclid=…&fbclid=…&utm_…`

use chattag_core::chat_id::RANDOM_BYTES;
use chattag_core::identifiers::{from_query, Landing};
use chattag_core::url::{encode_component_into, param};
use chattag_core::{ChatId, Prefix};

use crate::logic::reported::Reported;
use crate::logic::wire::push_u64;

pub const DAY_MS: u64 = 24 * 60 * 60 * 1000;
pub const YCLID_LIFETIME_MS: u64 = 90 * DAY_MS;
/// A record issued further in the future than this is a broken clock or a forgery: start over.
const CLOCK_SKEW_MS: u64 = DAY_MS;

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Record {
    pub chat_id: ChatId,
    /// When the chat ID was issued (ms since the epoch); it lives `lifetime` from here.
    pub issued: u64,
    /// When the stored yclid arrived; it lives [`YCLID_LIFETIME_MS`] from here.
    pub yclid_at: u64,
    /// Click IDs and UTM of the ad click that started this ID (yclid possibly older).
    pub landing: Landing,
    /// What the collector has been told about this chat ID.
    pub reported: Reported,
}

impl Record {
    #[cfg(test)]
    pub fn encode(&self) -> String {
        let mut s = String::new();
        self.encode_into(&mut s);
        s
    }

    /// Appends the record's text to `s`.
    pub fn encode_into(&self, s: &mut String) {
        s.push_str("v=1&id=");
        s.push_str(self.chat_id.as_str());
        s.push_str("&t=");
        push_u64(s, self.issued);
        s.push_str("&yt=");
        push_u64(s, self.yclid_at);
        s.push_str("&r=");
        self.reported.encode_into(s);
        let l = &self.landing;
        pair(s, "yclid", &l.yclid);
        pair(s, "gclid", &l.gclid);
        pair(s, "fbclid", &l.fbclid);
        if let Some(u) = &l.utm {
            pair(s, "utm_source", &u.source);
            pair(s, "utm_medium", &u.medium);
            pair(s, "utm_campaign", &u.campaign);
            pair(s, "utm_term", &u.term);
            pair(s, "utm_content", &u.content);
        }
    }

    /// When the chat ID stops being valid: `lifetime` after it was issued.
    pub fn id_expires(&self, clock: &Clock) -> u64 {
        self.issued.saturating_add(clock.lifetime_ms)
    }

    /// When the stored yclid stops counting: [`YCLID_LIFETIME_MS`] after it arrived.
    pub fn yclid_expires(&self) -> u64 {
        self.yclid_at.saturating_add(YCLID_LIFETIME_MS)
    }

    /// The chat ID is valid now (issued no later than the clock allows, not yet expired).
    pub fn id_live(&self, clock: &Clock) -> bool {
        live(self.issued, self.id_expires(clock), clock.now)
    }

    pub fn yclid_live(&self, clock: &Clock) -> bool {
        live(self.yclid_at, self.yclid_expires(), clock.now)
    }

    /// How long storage should keep this record, in seconds from now (the cookie's max-age):
    /// until the ID expires, or until its yclid does when that is later (a yclid outlives the
    /// ID that came with it).
    pub fn keep_for_s(&self, clock: &Clock) -> u64 {
        let mut until = self.id_expires(clock);
        if self.landing.yclid.is_some() {
            until = until.max(self.yclid_expires());
        }
        until.saturating_sub(clock.now) / 1000
    }

    /// `None` for anything that is not a complete, valid record of this format. Not inlined (nor
    /// `resolve`): a copy per caller in the page view cost 166 B gzip of wasm (measured).
    #[inline(never)]
    pub fn decode(s: &str) -> Option<Record> {
        let q = Some(s);
        if param(q, "v")? != "1" {
            return None;
        }
        // The plain values first, the allocating ones last: no early return drops a string.
        let issued = parse_u64(param(q, "t")?)?;
        let yclid_at = parse_u64(param(q, "yt")?)?;
        let reported = Reported::decode(param(q, "r")?)?;
        Some(Record {
            chat_id: ChatId::parse(param(q, "id")?).ok()?,
            issued,
            yclid_at,
            reported,
            landing: from_query(s),
        })
    }
}

fn pair(s: &mut String, key: &str, v: &Option<String>) {
    if let Some(v) = v {
        s.push('&');
        s.push_str(key);
        s.push('=');
        encode_component_into(s, v);
    }
}

/// Something that started at `start` and ends at `end` counts at `now`; a start further in the
/// future than [`CLOCK_SKEW_MS`] is a broken clock or a forgery and never counts.
fn live(start: u64, end: u64, now: u64) -> bool {
    start <= now.saturating_add(CLOCK_SKEW_MS) && now < end
}

fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut n = 0u64;
    for c in s.bytes() {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (c - b'0') as u64;
    }
    Some(n)
}

/// How this page view starts.
#[derive(Debug, PartialEq, Eq)]
pub struct Resolution {
    pub record: Record,
    /// A new chat ID was issued (an `issue` event is due).
    pub issued: bool,
    /// `issued` only: the still-valid ID the new ad click replaced.
    pub prev: Option<ChatId>,
    /// The record differs from what was stored (it must be written back).
    pub changed: bool,
}

pub struct Clock {
    pub now: u64,
    pub lifetime_ms: u64,
}

/// Decides the visitor's chat ID for this page view.
///
/// * no usable record, or its ID expired, or it carries another prefix → a new ID;
/// * the landing URL carries a click ID (yclid/gclid/fbclid) that differs from the stored one →
///   a new ID, `prev` = the old one (a new ad click starts a new attribution);
/// * otherwise the ID stays; UTM on the landing URL (without a click) refreshes the stored UTM.
///
/// A yclid survives an expired ID for its own 90 days; gclid/fbclid/UTM belong to the click
/// that started the ID and go with it.
#[inline(never)]
pub fn resolve(
    stored: Option<Record>,
    mut landing: Landing,
    clock: &Clock,
    prefix: &Prefix,
    random: [u8; RANDOM_BYTES],
) -> Resolution {
    let now = clock.now;
    let unexpired = |r: &Record| r.id_live(clock);
    let live = |r: &Record| unexpired(r) && r.chat_id.prefix() == prefix.as_str();
    let yclid_live = |r: &Record| r.yclid_live(clock);
    let new_click = |r: &Record| {
        differs(&landing.yclid, &r.landing.yclid)
            || differs(&landing.gclid, &r.landing.gclid)
            || differs(&landing.fbclid, &r.landing.fbclid)
    };

    match stored {
        Some(mut record) if live(&record) && !new_click(&record) => {
            // Field by field rather than a clone compared with the original: the same answer
            // with less code in the wasm.
            let mut changed = false;
            // Swapped in, not moved: `landing` is then dropped whole, in one place.
            if landing.utm.is_some() && landing.utm != record.landing.utm {
                std::mem::swap(&mut record.landing.utm, &mut landing.utm);
                changed = true;
            }
            if !yclid_live(&record) && record.landing.yclid.is_some() {
                record.landing.yclid = None;
                changed = true;
            }
            Resolution {
                record,
                issued: false,
                prev: None,
                changed,
            }
        }
        old => {
            // The stored yclid outlives the ID unless this click brings its own.
            let mut yclid_at = if landing.yclid.is_some() { now } else { 0 };
            let mut prev = None;
            if let Some(mut r) = old {
                let (id_live, kept_live) = (unexpired(&r), yclid_live(&r));
                if landing.yclid.is_none() && kept_live && r.landing.yclid.is_some() {
                    landing.yclid = r.landing.yclid.take();
                    yclid_at = r.yclid_at;
                }
                if id_live {
                    prev = Some(r.chat_id);
                }
            }
            let record = Record {
                chat_id: ChatId::generate(prefix, random),
                issued: now,
                yclid_at,
                landing,
                reported: Reported::default(),
            };
            Resolution {
                record,
                issued: true,
                prev,
                changed: true,
            }
        }
    }
}

/// A click ID on the URL that is not the stored one.
fn differs(url: &Option<String>, stored: &Option<String>) -> bool {
    url.is_some() && url != stored
}

#[cfg(test)]
mod tests {
    use super::*;
    use chattag_core::identifiers::Utm;

    const NOW: u64 = 1_763_700_000_000;
    const LIFE: u64 = 21 * DAY_MS;

    fn clock(now: u64) -> Clock {
        Clock {
            now,
            lifetime_ms: LIFE,
        }
    }

    fn landing(q: &str) -> Landing {
        from_query(q)
    }

    fn first_visit(q: &str) -> Record {
        let r = resolve(
            None,
            landing(q),
            &clock(NOW),
            &Prefix::DEFAULT,
            [1, 2, 3, 4, 5],
        );
        assert!(r.issued && r.prev.is_none() && r.changed);
        r.record
    }

    #[test]
    fn record_round_trips_through_its_text() {
        let mut rec = first_visit("?yclid=123&gclid=G-1&fbclid=F.b&utm_source=ya&utm_campaign=%D0%BB%D0%B5%D1%82%D0%BE%20%26%20x");
        rec.reported = Reported::default();
        let text = rec.encode();
        assert_eq!(Record::decode(&text), Some(rec.clone()));
        assert_eq!(
            rec.landing.utm.as_ref().and_then(|u| u.campaign.as_deref()),
            Some("лето & x")
        );
    }

    #[test]
    fn broken_or_hostile_records_are_rejected_or_cleaned() {
        assert_eq!(Record::decode(""), None);
        assert_eq!(Record::decode("v=2&id=CT8F2A9KQ3&t=1&yt=0&r="), None);
        let good = first_visit("").encode();
        // Wrong check character.
        let bad_id = good.replacen(&good[7..17], "CT00000001", 1);
        assert_eq!(Record::decode(&bad_id), None);
        assert_eq!(Record::decode(&good.replace("&t=", "&t=x")), None);
        // Markup in a stored click ID is dropped, the rest of the record survives.
        let tampered = first_visit("").encode() + "&gclid=%22%3E%3Cscript%3E";
        let rec = Record::decode(&tampered).unwrap();
        assert_eq!(rec.landing.gclid, None);
    }

    #[test]
    fn same_visitor_keeps_the_id_within_its_lifetime() {
        let rec = first_visit("?yclid=123");
        let r = resolve(
            Some(rec.clone()),
            landing(""),
            &clock(NOW + LIFE - 1),
            &Prefix::DEFAULT,
            [9; 5],
        );
        assert!(!r.issued && !r.changed);
        assert_eq!(r.record, rec);
        // A reload of the landing URL is not a new click.
        let r = resolve(
            Some(rec.clone()),
            landing("?yclid=123"),
            &clock(NOW + 1000),
            &Prefix::DEFAULT,
            [9; 5],
        );
        assert!(!r.issued);
    }

    #[test]
    fn a_new_ad_click_renews_the_id_and_names_the_previous_one() {
        let rec = first_visit("?yclid=123&utm_source=ya");
        for q in ["?yclid=456", "?gclid=abc", "?fbclid=x.y"] {
            let r = resolve(
                Some(rec.clone()),
                landing(q),
                &clock(NOW + DAY_MS),
                &Prefix::DEFAULT,
                [9; 5],
            );
            assert!(r.issued, "{q}");
            assert_eq!(r.prev.as_ref(), Some(&rec.chat_id));
            assert_ne!(r.record.chat_id, rec.chat_id);
            assert_eq!(r.record.issued, NOW + DAY_MS);
            // The old click's UTM does not carry over to the new click.
            assert_eq!(r.record.landing.utm, None);
        }
        let r = resolve(
            Some(rec.clone()),
            landing("?gclid=abc"),
            &clock(NOW + DAY_MS),
            &Prefix::DEFAULT,
            [9; 5],
        );
        assert_eq!(
            r.record.landing.yclid.as_deref(),
            Some("123"),
            "yclid kept for its 90 days"
        );
        assert_eq!(r.record.yclid_at, NOW);
    }

    #[test]
    fn an_expired_id_is_replaced_but_the_yclid_lives_90_days() {
        let rec = first_visit("?yclid=123&gclid=g");
        let r = resolve(
            Some(rec.clone()),
            landing(""),
            &clock(NOW + LIFE),
            &Prefix::DEFAULT,
            [9; 5],
        );
        assert!(r.issued);
        assert_eq!(r.prev, None, "an expired ID is not 'replaced'");
        assert_eq!(r.record.landing.yclid.as_deref(), Some("123"));
        assert_eq!(r.record.landing.gclid, None);
        let r = resolve(
            Some(rec.clone()),
            landing(""),
            &clock(NOW + YCLID_LIFETIME_MS),
            &Prefix::DEFAULT,
            [9; 5],
        );
        assert_eq!(r.record.landing.yclid, None);
        // Within the ID's lifetime, a yclid past 90 days is dropped too (lifetime set longer).
        let long = Clock {
            now: NOW + YCLID_LIFETIME_MS,
            lifetime_ms: 365 * DAY_MS,
        };
        let r = resolve(Some(rec), landing(""), &long, &Prefix::DEFAULT, [9; 5]);
        assert!(!r.issued && r.changed);
        assert_eq!(r.record.landing.yclid, None);
    }

    #[test]
    fn storage_keeps_the_record_until_its_id_or_its_yclid_expires() {
        let plain = first_visit("?gclid=g");
        assert_eq!(plain.keep_for_s(&clock(NOW)), LIFE / 1000);
        assert_eq!(plain.keep_for_s(&clock(NOW + LIFE - 1000)), 1);
        assert_eq!(
            plain.keep_for_s(&clock(NOW + LIFE + 5)),
            0,
            "never negative"
        );
        let ad = first_visit("?yclid=123");
        assert_eq!(ad.keep_for_s(&clock(NOW)), YCLID_LIFETIME_MS / 1000);
        // A lifetime longer than the yclid's: the ID decides.
        let long = Clock {
            now: NOW,
            lifetime_ms: 365 * DAY_MS,
        };
        assert_eq!(ad.keep_for_s(&long), 365 * DAY_MS / 1000);
        // The record is kept exactly as long as `resolve` still uses something in it.
        let last = clock(NOW + YCLID_LIFETIME_MS - 1);
        assert!(ad.yclid_live(&last) && !ad.id_live(&last));
        let gone = clock(NOW + YCLID_LIFETIME_MS);
        assert!(!ad.yclid_live(&gone) && ad.keep_for_s(&gone) == 0);
    }

    #[test]
    fn utm_without_a_click_refreshes_the_stored_utm() {
        let rec = first_visit("?utm_source=a");
        let r = resolve(
            Some(rec.clone()),
            landing("?utm_source=b"),
            &clock(NOW + 5),
            &Prefix::DEFAULT,
            [9; 5],
        );
        assert!(!r.issued && r.changed);
        assert_eq!(
            r.record.landing.utm,
            Some(Utm {
                source: Some("b".into()),
                ..Utm::default()
            })
        );
    }

    #[test]
    fn future_dated_records_and_other_prefixes_start_over() {
        let mut rec = first_visit("");
        rec.issued = NOW + 2 * DAY_MS;
        assert!(
            resolve(
                Some(rec.clone()),
                landing(""),
                &clock(NOW),
                &Prefix::DEFAULT,
                [9; 5]
            )
            .issued
        );
        let rec = first_visit("");
        let xy = Prefix::new("XY").unwrap();
        let r = resolve(Some(rec.clone()), landing(""), &clock(NOW), &xy, [9; 5]);
        assert!(r.issued);
        assert_eq!(r.record.chat_id.prefix(), "XY");
        assert_eq!(r.prev, Some(rec.chat_id));
    }
}
