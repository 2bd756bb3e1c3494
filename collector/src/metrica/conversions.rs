//! Revenue that reaches Metrica after its chat row: offline conversions (type `BASIC`) on the
//! goal a counter names (`revenue_goal`). Metrica documents no way to change a chat row already
//! sent, and documents offline conversions as adding to a visit, so money goes out this way, one
//! row per chat, once (the ledger is `metrica_facts_sent`). Columns as documented for offline
//! conversions: `Target`, `DateTime`, `ClientId` / `UserId` / `Yclid` / `PurchaseId`, `Price`,
//! `Currency` (docs/metrica-chat-import.md, section 3).

use std::collections::HashSet;

use crate::csv_format::CsvText;
use crate::money::{is_iso_4217, normalize_revenue};

/// A chat already sent to the counter whose revenue has not been sent yet, with the visitor IDs
/// of its chat row (so the conversion lands on the same visit).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LateRevenue {
    pub conversation: i64,
    pub client_id: Option<String>,
    pub user_id: Option<String>,
    pub yclid: Option<String>,
    pub purchase_id: Option<String>,
    pub price: String,
    pub currency: String,
    /// When the amount was recorded: the conversion's `DateTime`.
    pub recorded_ms: i64,
}

/// One conversion written, to be recorded in the ledger with the same file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversionRow {
    pub conversation: i64,
    pub date_time: i64,
    pub price: String,
    pub currency: String,
}

#[derive(Clone, Debug, Default)]
pub struct Conversions {
    pub csv: String,
    pub rows: Vec<ConversionRow>,
    /// (conversation, why it is not in the file).
    pub skipped: Vec<(i64, &'static str)>,
}

const IDS: [&str; 4] = ["ClientId", "UserId", "Yclid", "PurchaseId"];

fn ids(f: &LateRevenue) -> [Option<&str>; 4] {
    [
        f.client_id.as_deref(),
        f.user_id.as_deref(),
        f.yclid.as_deref(),
        f.purchase_id.as_deref(),
    ]
}

/// `now_s`: every `DateTime` must be in the past ("an error occurs if the file is loaded before
/// the DateTime value has been reached").
pub fn build(goal: &str, facts: &[LateRevenue], now_s: i64) -> Conversions {
    let mut out = Conversions::default();
    let mut used: HashSet<(usize, &str, i64)> = HashSet::new();
    let mut rows: Vec<(i64, &LateRevenue, String)> = Vec::new();
    for f in facts {
        let ids = ids(f);
        if ids.iter().all(Option::is_none) {
            out.skipped.push((f.conversation, "no visitor ID"));
            continue;
        }
        let (Some(price), true) = (normalize_revenue(&f.price), is_iso_4217(&f.currency)) else {
            out.skipped
                .push((f.conversation, "revenue or currency not valid"));
            continue;
        };
        // Two conversions of one visitor in one second may collapse: step back a second.
        let mut ts = f.recorded_ms.div_euclid(1000).min(now_s - 1);
        while ids
            .iter()
            .enumerate()
            .any(|(k, v)| v.is_some_and(|v| used.contains(&(k, v, ts))))
        {
            ts -= 1;
        }
        for (k, v) in ids.iter().enumerate() {
            if let Some(v) = v {
                used.insert((k, v, ts));
            }
        }
        rows.push((ts, f, price));
    }
    let present: Vec<usize> = (0..IDS.len())
        .filter(|&k| rows.iter().any(|(_, f, _)| ids(f)[k].is_some()))
        .collect();
    let mut csv = CsvText::new();
    let mut header = vec!["Target", "DateTime"];
    header.extend(present.iter().map(|&k| IDS[k]));
    header.extend(["Price", "Currency"]);
    csv.row(header);
    for (ts, f, price) in rows {
        let ts_text = ts.to_string();
        let ids = ids(f);
        let mut cells = vec![goal, ts_text.as_str()];
        cells.extend(present.iter().map(|&k| ids[k].unwrap_or("")));
        cells.extend([price.as_str(), f.currency.as_str()]);
        csv.row(cells);
        out.rows.push(ConversionRow {
            conversation: f.conversation,
            date_time: ts,
            price,
            currency: f.currency.clone(),
        });
    }
    out.csv = csv.finish();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paid(conv: i64, client: &str, at_s: i64) -> LateRevenue {
        LateRevenue {
            conversation: conv,
            client_id: Some(client.into()),
            price: "1250.50".into(),
            currency: "RUB".into(),
            recorded_ms: at_s * 1000 + 400,
            ..Default::default()
        }
    }

    #[test]
    fn documented_columns_distinct_seconds_and_skips() {
        let t = 1_763_700_000;
        let mut anon = paid(3, "x", t);
        anon.client_id = None;
        let mut bad = paid(4, "y", t);
        bad.currency = "RUR".into();
        let c = build(
            "chat_paid",
            &[
                paid(1, "17", t),
                paid(2, "17", t),
                anon,
                bad,
                paid(5, "18", t + 99),
            ],
            t + 10,
        );
        let lines: Vec<&str> = c.csv.lines().collect();
        assert_eq!(lines[0], "Target,DateTime,ClientId,Price,Currency");
        assert_eq!(lines[1], format!("chat_paid,{t},17,1250.50,RUB"));
        assert_eq!(lines[2], format!("chat_paid,{},17,1250.50,RUB", t - 1));
        // In the future: moved to a second before "now".
        assert_eq!(lines[3], format!("chat_paid,{},18,1250.50,RUB", t + 9));
        assert_eq!(
            c.skipped,
            vec![(3, "no visitor ID"), (4, "revenue or currency not valid")]
        );
        assert_eq!(c.rows.len(), 3);
    }
}
