//! The report's tables: one definition used for the HTML page and for its CSV download.

use super::data::{self, money, percent, ChatRow, Group};
use crate::csv_format::CsvText;
use crate::dates::{date_of_day, datetime};
use crate::metrica::uploads::CounterSummary;

#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// File name stem of the CSV download, e.g. `daily` → `/reports/daily.csv`.
    pub key: &'static str,
    pub title: &'static str,
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

pub const KEYS: &[&str] = &[
    "daily",
    "messengers",
    "attribution",
    "sources",
    "uploads",
    "chats",
];

/// The column names of [`group_cells`], kept beside it so the two cannot drift apart.
const GROUP_HEADER: [&str; 6] = [
    "chats",
    "answered",
    "answered share",
    "attributed",
    "attributed share",
    "revenue",
];

/// `leading` columns, then the [`GROUP_HEADER`] ones.
fn group_header(leading: &[&'static str]) -> Vec<&'static str> {
    leading.iter().chain(GROUP_HEADER.iter()).copied().collect()
}

fn group_cells(g: &Group) -> Vec<String> {
    vec![
        g.chats.to_string(),
        g.answered.to_string(),
        percent(g.answered, g.chats),
        g.attributed().to_string(),
        percent(g.attributed(), g.chats),
        money(&g.revenue),
    ]
}

pub fn daily(rows: &[ChatRow], from_day: i64, to_day: i64) -> Table {
    Table {
        key: "daily",
        title: "Chats per day (UTC)",
        header: vec![
            "day",
            "chats",
            "exact",
            "probable",
            "unattributed",
            "answered",
            "revenue",
        ],
        rows: data::by_day(rows, from_day, to_day)
            .iter()
            .rev()
            .map(|(day, g)| {
                vec![
                    date_of_day(*day),
                    g.chats.to_string(),
                    g.exact.to_string(),
                    g.probable.to_string(),
                    g.unattributed.to_string(),
                    g.answered.to_string(),
                    money(&g.revenue),
                ]
            })
            .collect(),
    }
}

pub fn messengers(rows: &[ChatRow]) -> Table {
    Table {
        key: "messengers",
        title: "By messenger",
        header: group_header(&["messenger"]),
        rows: data::by_messenger(rows)
            .iter()
            .map(|(m, g)| {
                let mut r = vec![m.clone()];
                r.extend(group_cells(g));
                r
            })
            .collect(),
    }
}

pub fn attribution(rows: &[ChatRow]) -> Table {
    let total = rows.len() as i64;
    Table {
        key: "attribution",
        title: "Attribution and reasons",
        header: vec!["status", "how / why", "chats", "share"],
        rows: data::attribution_breakdown(rows)
            .into_iter()
            .map(|(a, d, n)| vec![a, d, n.to_string(), percent(n, total)])
            .collect(),
    }
}

pub fn sources(rows: &[ChatRow]) -> Table {
    Table {
        key: "sources",
        title: "By traffic source",
        header: group_header(&["source", "campaign"]),
        rows: data::by_source(rows)
            .iter()
            .map(|((src, campaign), g)| {
                let mut r = vec![src.clone(), campaign.clone()];
                r.extend(group_cells(g));
                r
            })
            .collect(),
    }
}

pub fn uploads(summaries: &[CounterSummary]) -> Table {
    Table {
        key: "uploads",
        title: "Sent to Yandex Metrica",
        header: vec![
            "counter",
            "chats sent",
            "uploads",
            "failed",
            "last status",
            "last activity (UTC)",
            "revenue sent as conversions",
            "columns Metrica refused",
        ],
        rows: summaries
            .iter()
            .map(|s| {
                vec![
                    s.counter.to_string(),
                    s.chats_sent.to_string(),
                    s.uploads.to_string(),
                    s.failed.to_string(),
                    s.last_status.clone().unwrap_or_default(),
                    s.last_at.map(datetime).unwrap_or_default(),
                    s.conversions_sent.to_string(),
                    s.refused_columns.join(" "),
                ]
            })
            .collect(),
    }
}

/// How a chat partner reads on the report: a phone kept as a keyed hash is named as one, with
/// the start of the hash to tell people apart, instead of a 35-character token that looks like
/// an ID.
fn person_label(person: &str) -> String {
    match person.strip_prefix(crate::privacy::phones::TOKEN_PREFIX) {
        Some(hash) => format!(
            "phone (hashed) {}…",
            hash.chars().take(8).collect::<String>()
        ),
        None => person.to_owned(),
    }
}

pub fn chats(rows: &[ChatRow], limit: usize) -> Table {
    Table {
        key: "chats",
        title: "Latest chats",
        header: vec![
            "started (UTC)",
            "messenger",
            "person",
            "matched",
            "source",
            "answered",
            "messages",
            "tag",
            "revenue",
        ],
        rows: rows
            .iter()
            .take(limit)
            .map(|r| {
                let matched = match r.unattributed_reason() {
                    Some(reason) => format!(
                        "unattributed: {}",
                        crate::chats::matching::Reason::describe(reason)
                    ),
                    // A guess must not read like a match: say what it rests on.
                    None if r.method == crate::chats::matching::Method::ProbableClick.as_str() => {
                        "PROBABLE: click timing only, no code (not sent to Metrica unless send_probable)".to_string()
                    }
                    None => r.method.clone(),
                };
                vec![
                    datetime(r.started_ms),
                    r.platform.clone(),
                    person_label(&r.person),
                    matched,
                    r.source().0,
                    if r.answered { "yes" } else { "no" }.to_string(),
                    r.messages.to_string(),
                    r.tag.clone().unwrap_or_default(),
                    match (r.revenue, r.currency.as_deref()) {
                        (Some(v), Some(c)) => format!("{} {c}", data::amount(v)),
                        _ => String::new(),
                    },
                ]
            })
            .collect(),
    }
}

/// CSV for spreadsheets: RFC 4180 quoting, and a leading `'` on cells that a spreadsheet would
/// run as a formula (`=`, `+`, `-`, `@`): chat texts and names come from strangers.
pub fn to_csv(t: &Table) -> String {
    // CsvText guards every cell against spreadsheet formulas (names and referrers come from
    // visitors).
    let mut csv = CsvText::new();
    csv.row(&t.header);
    for r in &t.rows {
        csv.row(r);
    }
    format!("\u{feff}{}", csv.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_tables_name_every_group_column() {
        let groups = [
            "chats",
            "answered",
            "answered share",
            "attributed",
            "attributed share",
            "revenue",
        ];
        let by_messenger: Vec<&str> = ["messenger"].into_iter().chain(groups).collect();
        let by_source: Vec<&str> = ["source", "campaign"].into_iter().chain(groups).collect();
        assert_eq!(messengers(&[]).header, by_messenger);
        assert_eq!(sources(&[]).header, by_source);
        assert_eq!(
            group_cells(&Group::default()).len(),
            GROUP_HEADER.len(),
            "one name per cell"
        );
    }

    #[test]
    fn hashed_phones_read_as_hashed_phones() {
        assert_eq!(
            person_label("ph:3f9a1c0d5e6f7a8b9c0d1e2f3a4b5c6d"),
            "phone (hashed) 3f9a1c0d…"
        );
        // Whatever a row holds, never a panic on a character boundary.
        assert_eq!(person_label("ph:Жжжжжжжжжж"), "phone (hashed) Жжжжжжжж…");
        assert_eq!(person_label("Anna"), "Anna");
        assert_eq!(person_label("79160001122"), "79160001122");
    }

    #[test]
    fn csv_guards_formulas_and_quotes() {
        let t = Table {
            key: "chats",
            title: "x",
            header: vec!["a", "b"],
            rows: vec![
                vec!["=HYPERLINK(\"http://x\")".into(), "-5".into()],
                vec!["a,b".into(), "@x".into()],
            ],
        };
        let csv = to_csv(&t);
        assert_eq!(
            csv,
            "\u{feff}a,b\r\n\"'=HYPERLINK(\"\"http://x\"\")\",-5\r\na,b,'@x\r\n"
                .replace("a,b,'@x", "\"a,b\",'@x")
        );
    }
}
