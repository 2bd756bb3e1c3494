//! The report's numbers: one row per conversation (joined with the visit its chat ID belongs to),
//! aggregated by pure functions so that each table is tested without a server.
//!
//! A chat counts on the UTC day it *started*; facts that arrive later (answered, revenue) update
//! that day, never the day they arrived.

use std::collections::BTreeMap;

use chattag_core::identifiers::Utm;

use crate::chats::matching::Reason;

/// A webhook item the collector kept raw because it could not read it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UnreadableRow {
    pub platform: String,
    /// `shape` | `no-partner` | `timestamp`.
    pub reason: String,
    pub detail: String,
    /// The start of the item as received.
    pub raw: String,
    pub received_ms: i64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChatRow {
    pub id: i64,
    pub platform: String,
    pub started_ms: i64,
    pub person: String,
    pub method: String,
    pub reason: Option<String>,
    pub answered: bool,
    pub revenue: Option<f64>,
    pub currency: Option<String>,
    pub tag: Option<String>,
    pub messages: i64,
    pub chat_id: Option<String>,
    /// From the visit (mapping) of the chat ID, when there is one.
    pub has_visitor_ids: bool,
    pub yclid: bool,
    pub utm: Option<Utm>,
    pub referrer: Option<String>,
    pub visit_known: bool,
    /// The chat ID was issued to two visitors (see `metrica::export::ExportChat::id_collision`).
    pub id_collision: bool,
}

/// How a chat is attributed, for the charts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Attribution {
    /// Tied by the chat ID itself, with Metrica IDs to send.
    Exact,
    /// Tied by click timing, with Metrica IDs.
    Probable,
    /// Metrica will see it as unattributed.
    Unattributed,
}

impl ChatRow {
    pub fn attribution(&self) -> Attribution {
        match (self.method.as_str(), self.has_visitor_ids) {
            ("exact-link" | "exact-text", true) => Attribution::Exact,
            ("probable-click", true) => Attribution::Probable,
            _ => Attribution::Unattributed,
        }
    }

    /// The reason code of an unattributed chat.
    pub fn unattributed_reason(&self) -> Option<&str> {
        if self.attribution() != Attribution::Unattributed {
            return None;
        }
        Some(match (self.reason.as_deref(), self.id_collision) {
            (Some(r), _) => r,
            // Matched to an ID that two visitors got: its Metrica IDs are withheld.
            (None, true) => "id-collision",
            // Matched to an ID, but that ID's visit carried no Metrica IDs (or never arrived).
            (None, false) => "no-visitor-ids",
        })
    }

    pub fn day(&self) -> i64 {
        self.started_ms.div_euclid(86_400_000)
    }

    /// Where the visit came from: yclid → Yandex Direct; else utm source / medium; else the
    /// referrer's host; else direct. Chats with no visit: "no visit known"; with a colliding
    /// chat ID: "unknown (ID collision)".
    pub fn source(&self) -> (String, String) {
        let campaign = self
            .utm
            .as_ref()
            .and_then(|u| u.campaign.clone())
            .unwrap_or_default();
        if !self.visit_known {
            return ("no visit known".into(), campaign);
        }
        // Two visits share the ID: their sources may differ, so neither is claimed.
        if self.id_collision {
            return ("unknown (ID collision)".into(), String::new());
        }
        if self.yclid {
            return ("Yandex Direct (yclid)".into(), campaign);
        }
        if let Some(src) = self.utm.as_ref().and_then(|u| u.source.as_deref()) {
            let medium = self
                .utm
                .as_ref()
                .and_then(|u| u.medium.as_deref())
                .unwrap_or("—");
            return (format!("{src} / {medium}"), campaign);
        }
        if let Some(host) = self.referrer.as_deref().and_then(referrer_host) {
            return (format!("{host} (referral)"), campaign);
        }
        ("direct".into(), campaign)
    }
}

/// The referrer's host as core splits URLs (without userinfo or port), lowercase, no `www.`.
fn referrer_host(url: &str) -> Option<String> {
    let host = chattag_core::url::split(url)?.host?.to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
    (!host.is_empty()).then_some(host)
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Group {
    pub chats: i64,
    pub exact: i64,
    pub probable: i64,
    pub unattributed: i64,
    pub answered: i64,
    /// Revenue per currency.
    pub revenue: BTreeMap<String, f64>,
}

impl Group {
    fn add(&mut self, c: &ChatRow) {
        self.chats += 1;
        match c.attribution() {
            Attribution::Exact => self.exact += 1,
            Attribution::Probable => self.probable += 1,
            Attribution::Unattributed => self.unattributed += 1,
        }
        if c.answered {
            self.answered += 1;
        }
        if let (Some(v), Some(cur)) = (c.revenue, c.currency.as_deref()) {
            *self.revenue.entry(cur.to_string()).or_default() += v;
        }
    }

    pub fn attributed(&self) -> i64 {
        self.exact + self.probable
    }
}

pub fn percent(part: i64, whole: i64) -> String {
    if whole == 0 {
        "—".into()
    } else {
        format!("{:.0}%", part as f64 * 100.0 / whole as f64)
    }
}

pub fn money(revenue: &BTreeMap<String, f64>) -> String {
    if revenue.is_empty() {
        return "—".into();
    }
    revenue
        .iter()
        .map(|(c, v)| format!("{} {c}", amount(*v)))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// `641000` → `641 000`, `1250.5` → `1 250.50`: thousands grouped with a narrow no-break space,
/// kopecks only when there are any.
pub fn amount(v: f64) -> String {
    let cents = (v * 100.0).round() as i64;
    let (int, frac) = (cents / 100, cents % 100);
    let digits = int.to_string();
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push('\u{202f}');
        }
        grouped.push(ch);
    }
    if frac == 0 {
        grouped
    } else {
        format!("{grouped}.{frac:02}")
    }
}

/// Chats per traffic source only (campaigns summed), for the chart.
pub fn by_source_only(rows: &[ChatRow]) -> Vec<(String, Group)> {
    grouped(rows, |r| r.source().0)
}

/// Every day of the range, including days without chats (a gap is information too).
pub fn by_day(rows: &[ChatRow], from_day: i64, to_day: i64) -> Vec<(i64, Group)> {
    let mut days: BTreeMap<i64, Group> =
        (from_day..=to_day).map(|d| (d, Group::default())).collect();
    for r in rows {
        if let Some(g) = days.get_mut(&r.day()) {
            g.add(r);
        }
    }
    days.into_iter().collect()
}

fn grouped(rows: &[ChatRow], key: impl Fn(&ChatRow) -> String) -> Vec<(String, Group)> {
    let mut map: BTreeMap<String, Group> = BTreeMap::new();
    for r in rows {
        map.entry(key(r)).or_default().add(r);
    }
    let mut out: Vec<_> = map.into_iter().collect();
    out.sort_by(|a, b| b.1.chats.cmp(&a.1.chats).then(a.0.cmp(&b.0)));
    out
}

pub fn by_messenger(rows: &[ChatRow]) -> Vec<(String, Group)> {
    grouped(rows, |r| r.platform.clone())
}

pub fn by_source(rows: &[ChatRow]) -> Vec<((String, String), Group)> {
    let mut map: BTreeMap<(String, String), Group> = BTreeMap::new();
    for r in rows {
        map.entry(r.source()).or_default().add(r);
    }
    let mut out: Vec<_> = map.into_iter().collect();
    out.sort_by(|a, b| b.1.chats.cmp(&a.1.chats).then(a.0.cmp(&b.0)));
    out
}

/// How chats were matched, and why the unattributed ones are.
pub fn attribution_breakdown(rows: &[ChatRow]) -> Vec<(String, String, i64)> {
    let mut map: BTreeMap<(u8, String, String), i64> = BTreeMap::new();
    for r in rows {
        let (order, what, detail) = match r.attribution() {
            Attribution::Exact => (
                0,
                "attributed".to_string(),
                format!("{} (chat ID)", r.method),
            ),
            Attribution::Probable => (
                1,
                "attributed".to_string(),
                "probable-click (timing)".to_string(),
            ),
            Attribution::Unattributed => {
                let code = r.unattributed_reason().unwrap_or("other");
                (
                    2,
                    "unattributed".to_string(),
                    format!("{code}: {}", Reason::describe(code)),
                )
            }
        };
        *map.entry((order, what, detail)).or_default() += 1;
    }
    map.into_iter().map(|((_, a, b), n)| (a, b, n)).collect()
}

pub fn total(rows: &[ChatRow]) -> Group {
    let mut g = Group::default();
    for r in rows {
        g.add(r);
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(day: i64, platform: &str, method: &str, ids: bool) -> ChatRow {
        ChatRow {
            platform: platform.into(),
            started_ms: day * 86_400_000 + 3_600_000,
            method: method.into(),
            has_visitor_ids: ids,
            visit_known: ids,
            ..Default::default()
        }
    }

    #[test]
    fn a_chat_counts_on_the_day_it_started() {
        let mut late = row(20_413, "telegram", "exact-link", true);
        late.answered = true;
        late.revenue = Some(10.5);
        late.currency = Some("RUB".into());
        let rows = vec![
            late,
            row(20_413, "whatsapp", "unmatched", false),
            row(20_415, "viber", "probable-click", true),
        ];
        let days = by_day(&rows, 20_412, 20_415);
        assert_eq!(days.len(), 4);
        assert_eq!(days[1].1.chats, 2);
        assert_eq!(
            (days[1].1.exact, days[1].1.unattributed, days[1].1.answered),
            (1, 1, 1)
        );
        assert_eq!(days[2].1.chats, 0);
        assert_eq!(days[3].1.probable, 1);
        assert_eq!(money(&days[1].1.revenue), "10.50 RUB");
        assert_eq!(amount(641_000.0), "641\u{202f}000");
        assert_eq!(amount(1_250.5), "1\u{202f}250.50");
        assert_eq!(amount(999.0), "999");
    }

    #[test]
    fn attribution_and_sources() {
        let mut no_ids = row(1, "telegram", "exact-link", false);
        no_ids.visit_known = true;
        let mut damaged = row(1, "whatsapp", "unmatched", false);
        damaged.reason = Some("damaged-id".into());
        let mut direct = row(1, "telegram", "exact-text", true);
        direct.yclid = true;
        let mut utm = row(1, "telegram", "exact-text", true);
        utm.utm = Some(Utm {
            source: Some("vk".into()),
            medium: Some("social".into()),
            campaign: Some("spring".into()),
            ..Default::default()
        });
        let mut referral = row(1, "viber", "exact-link", true);
        referral.referrer = Some("https://www.google.com/search?q=x".into());
        let rows = vec![
            no_ids.clone(),
            damaged.clone(),
            direct.clone(),
            utm.clone(),
            referral.clone(),
        ];
        assert_eq!(no_ids.unattributed_reason(), Some("no-visitor-ids"));
        let mut shared = row(1, "telegram", "exact-link", false);
        shared.visit_known = true;
        shared.id_collision = true;
        shared.yclid = true;
        assert_eq!(shared.attribution(), Attribution::Unattributed);
        assert_eq!(shared.source().0, "unknown (ID collision)");
        assert_eq!(shared.unattributed_reason(), Some("id-collision"));
        assert_eq!(
            attribution_breakdown(&[shared]),
            vec![(
                "unattributed".to_string(),
                format!("id-collision: {}", Reason::describe("id-collision")),
                1
            )]
        );
        assert_eq!(damaged.unattributed_reason(), Some("damaged-id"));
        assert_eq!(direct.source().0, "Yandex Direct (yclid)");
        assert_eq!(
            utm.source(),
            ("vk / social".to_string(), "spring".to_string())
        );
        assert_eq!(referral.source().0, "google.com (referral)");
        assert_eq!(damaged.source().0, "no visit known");
        let b = attribution_breakdown(&rows);
        assert_eq!(
            b.iter()
                .filter(|(a, _, _)| a == "attributed")
                .map(|x| x.2)
                .sum::<i64>(),
            3
        );
        assert!(b
            .iter()
            .any(|(_, d, n)| d.starts_with("damaged-id") && *n == 1));
        let m = by_messenger(&rows);
        assert_eq!(m[0].0, "telegram");
        assert_eq!(m[0].1.chats, 3);
        assert_eq!(percent(1, 3), "33%");
        assert_eq!(percent(0, 0), "—");
    }
}
