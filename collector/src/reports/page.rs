//! The report page: one self-contained HTML document (inline CSS, inline SVG, no scripts, no
//! external resources), for the site owner and their marketer.

use std::fmt::Write;

use super::data::{self, money, percent, ChatRow, UnreadableRow};
use super::svg::{self, esc};
use super::tables::{self, Table};
use crate::metrica::uploads::CounterSummary;

pub struct PageInput<'a> {
    pub rows: &'a [ChatRow],
    pub uploads: &'a [CounterSummary],
    /// Webhook items kept unread in the period, and the latest of them.
    pub unreadable_count: i64,
    pub unreadable: &'a [UnreadableRow],
    pub days: i64,
    pub from_day: i64,
    pub to_day: i64,
}

const CSS: &str = r#"
:root{--ink:#0f172a;--muted:#64748b;--line:#e2e8f0;--bg:#f8fafc;--card:#fff;--accent:#1b7f5b}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#0f172a;color:#fff;padding:22px 32px 18px}
header h1{margin:0;font-size:22px;font-weight:650;letter-spacing:-.01em}
header p{margin:4px 0 0;color:#cbd5e1;font-size:14px}
nav.range{margin-top:12px;display:flex;gap:6px;flex-wrap:wrap}
nav.range a{color:#e2e8f0;text-decoration:none;border:1px solid #334155;border-radius:999px;padding:3px 12px;font-size:13px}
nav.range a.on{background:#fff;color:#0f172a;border-color:#fff}
main{max-width:1120px;margin:0 auto;padding:24px 32px 48px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:14px;margin-bottom:22px}
.kpi{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:14px 16px}
.kpi .v{font-size:26px;white-space:nowrap;font-weight:700;letter-spacing:-.02em}
.kpi .v.long{font-size:19px;line-height:39px}
.kpi .l{color:var(--muted);font-size:13px}
.kpi .s{color:var(--muted);font-size:12px;margin-top:2px}
section{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:18px 20px;margin-bottom:18px}
section h2{font-size:16px;margin:0 0 4px;font-weight:650}
section .hint{color:var(--muted);font-size:13px;margin:0 0 10px}
.row{display:grid;grid-template-columns:minmax(0,1.1fr) minmax(0,1fr);gap:18px;align-items:start}
@media (max-width:860px){.row{grid-template-columns:1fr}}
.chart{width:100%;height:auto;display:block}
.bars{max-width:680px}
.chart .axis{font-size:11px;fill:#64748b}
.chart .label{font-size:13px;fill:#0f172a}
.chart .value{font-size:13px;font-weight:600;fill:#0f172a}
.chart .note{font-weight:400;fill:#64748b}
.chart .big{font-size:24px;font-weight:700;fill:#0f172a}
.legend{display:flex;gap:16px;font-size:13px;color:var(--muted);margin:6px 0 0}
.legend i{display:inline-block;width:11px;height:11px;border-radius:3px;margin-right:6px;vertical-align:-1px}
table{border-collapse:collapse;width:100%;font-size:13.5px}
th{text-align:left;color:var(--muted);font-weight:600;border-bottom:1px solid var(--line);padding:6px 8px;white-space:nowrap}
td{border-bottom:1px solid #f1f5f9;padding:6px 8px;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.scroll{max-height:360px;overflow:auto}
.tools{text-align:right;margin:10px 0 4px}
a.csv{font-size:13px;color:var(--accent);text-decoration:none;border:1px solid #cde7db;border-radius:8px;padding:2px 10px}
a.csv:hover{background:#effaf5}
.empty{color:var(--muted);padding:8px 0}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:8px}
"#;

fn is_numeric(s: &str) -> bool {
    let t = s.trim_end_matches('%');
    !t.is_empty() && t.parse::<f64>().is_ok()
}

fn table_html(t: &Table, days: i64) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<div class="tools"><a class="csv" href="/reports/{}.csv?days={days}" download>Download CSV</a></div>"#,
        t.key
    );
    if t.rows.is_empty() {
        s.push_str(r#"<p class="empty">Nothing in this period.</p>"#);
        return s;
    }
    let numeric: Vec<bool> = (0..t.header.len())
        .map(|i| {
            t.rows.iter().all(|r| {
                r.get(i)
                    .is_none_or(|c| c == "—" || c.is_empty() || is_numeric(c))
            })
        })
        .collect();
    s.push_str(r#"<div class="scroll"><table><thead><tr>"#);
    for (i, h) in t.header.iter().enumerate() {
        let _ = write!(
            s,
            r#"<th{}>{}</th>"#,
            if numeric[i] { r#" class="n""# } else { "" },
            esc(h)
        );
    }
    s.push_str("</tr></thead><tbody>");
    for r in &t.rows {
        s.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            let _ = write!(
                s,
                r#"<td{}>{}</td>"#,
                if numeric.get(i).copied().unwrap_or(false) {
                    r#" class="n""#
                } else {
                    ""
                },
                esc(c)
            );
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table></div>");
    s
}

fn legend(items: &[(&str, &str)]) -> String {
    let mut s = String::from(r#"<div class="legend">"#);
    for (colour, name) in items {
        let _ = write!(
            s,
            r#"<span><i style="background:{colour}"></i>{}</span>"#,
            esc(name)
        );
    }
    s.push_str("</div>");
    s
}

pub fn render(input: &PageInput) -> String {
    let rows = input.rows;
    let total = data::total(rows);
    let days_tbl = tables::daily(rows, input.from_day, input.to_day);
    let messengers = tables::messengers(rows);
    let attribution = tables::attribution(rows);
    let sources = tables::sources(rows);
    let uploads = tables::uploads(input.uploads);
    let latest = tables::chats(rows, 100);
    let sent: i64 = input.uploads.iter().map(|u| u.chats_sent).sum();

    let mut s = String::new();
    let _ = write!(
        s,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><title>Chats report — chattag</title><style>{CSS}</style></head><body>"#
    );
    let _ = write!(
        s,
        r#"<header><h1>Chats from your site</h1><p>{} – {} (UTC) · every chat counts on the day it started; later replies and revenue update that day</p><nav class="range">"#,
        crate::dates::date_of_day(input.from_day),
        crate::dates::date_of_day(input.to_day)
    );
    for d in [7, 30, 90, 365] {
        let _ = write!(
            s,
            r#"<a href="/reports?days={d}"{}>{}</a>"#,
            if d == input.days {
                r#" class="on""#
            } else {
                ""
            },
            if d == 365 {
                "1 year".to_string()
            } else {
                format!("{d} days")
            }
        );
    }
    s.push_str("</nav></header><main>");

    // Headline numbers.
    s.push_str(r#"<div class="kpis">"#);
    let kpis = [
        (
            total.chats.to_string(),
            "chats started",
            format!("{} exact · {} probable", total.exact, total.probable),
        ),
        (
            percent(total.attributed(), total.chats),
            "attributed to a visit",
            format!(
                "{} of {} carry Metrica IDs",
                total.attributed(),
                total.chats
            ),
        ),
        (
            percent(total.answered, total.chats),
            "answered",
            format!("{} still waiting", total.chats - total.answered),
        ),
        (
            money(&total.revenue),
            "revenue from chats",
            "as reported by your CRM".to_string(),
        ),
        (
            sent.to_string(),
            "sent to Yandex Metrica",
            format!("{} counter(s)", input.uploads.len()),
        ),
    ];
    for (v, l, sub) in kpis {
        let class = if v.chars().count() > 9 { "v long" } else { "v" };
        let _ = write!(
            s,
            r#"<div class="kpi"><div class="{class}">{}</div><div class="l">{}</div><div class="s">{}</div></div>"#,
            esc(&v),
            esc(l),
            esc(&sub)
        );
    }
    s.push_str("</div>");

    // Chats per day.
    let chart_days: Vec<(String, [i64; 3])> = data::by_day(rows, input.from_day, input.to_day)
        .iter()
        .map(|(d, g)| {
            (
                crate::dates::date_of_day(*d),
                [g.exact, g.probable, g.unattributed],
            )
        })
        .collect();
    let _ = write!(
        s,
        r#"<section><h2>Chats per day</h2><p class="hint">Exact: the chat carried the visitor's chat ID. Probable: one visitor clicked that messenger just before. Unattributed: Metrica will not tie it to a visit.</p>{}{}</section>"#,
        svg::stacked_days(&chart_days, "Chats per day by attribution"),
        legend(&[
            (svg::EXACT, "exact"),
            (svg::PROBABLE, "probable"),
            (svg::UNATTRIBUTED, "unattributed")
        ])
    );

    // Messengers + answered.
    let bars: Vec<(String, i64, &str, String)> = data::by_messenger(rows)
        .iter()
        .map(|(m, g)| {
            (
                m.clone(),
                g.chats,
                svg::messenger_colour(m),
                format!("· {} answered", percent(g.answered, g.chats)),
            )
        })
        .collect();
    let _ = write!(
        s,
        r#"<section><h2>Messengers and replies</h2><p class="hint">Where people write, and how many got an answer.</p><div class="row"><div>{}</div><div>{}</div></div>{}</section>"#,
        svg::hbars(&bars, "Chats by messenger"),
        svg::donut(
            (total.answered, "answered", svg::ANSWERED),
            (
                total.chats - total.answered,
                "not answered",
                svg::UNANSWERED
            ),
            "Answered share"
        ),
        table_html(&messengers, input.days)
    );

    // Traffic sources.
    let src_bars: Vec<(String, i64, &str, String)> = data::by_source_only(rows)
        .iter()
        .take(8)
        .map(|(src, g)| {
            (
                src.clone(),
                g.chats,
                svg::EXACT,
                format!("· {} attributed", percent(g.attributed(), g.chats)),
            )
        })
        .collect();
    let _ = write!(
        s,
        r#"<section><h2>Traffic sources</h2><p class="hint">The visit behind each chat: a Yandex Direct click (yclid), UTM tags, or the referring site.</p><div class="bars">{}</div>{}</section>"#,
        svg::hbars(&src_bars, "Chats by traffic source"),
        table_html(&sources, input.days)
    );

    // Attribution reasons.
    let _ = write!(
        s,
        r#"<section><h2>Attribution</h2><p class="hint">How each chat was tied to a visit — and, for the rest, why not.</p>{}</section>"#,
        table_html(&attribution, input.days)
    );

    let _ = write!(
        s,
        r#"<section><h2>{}</h2>{}</section>"#,
        esc(days_tbl.title),
        table_html(&days_tbl, input.days)
    );
    let _ = write!(
        s,
        r#"<section><h2>{}</h2><p class="hint">Uploads to the chat import of each counter (the automatic goal “Chat”).</p>{}</section>"#,
        esc(uploads.title),
        table_html(&uploads, input.days)
    );
    let _ = write!(
        s,
        r#"<section><h2>{}</h2>{}</section>"#,
        esc(latest.title),
        table_html(&latest, input.days)
    );
    if input.unreadable_count > 0 {
        s.push_str(&unreadable_section(
            input.unreadable_count,
            input.unreadable,
        ));
    }
    s.push_str("<footer>chattag collector · this page loads no scripts and no external resources</footer></main></body></html>");
    s
}

/// Messenger deliveries the collector acknowledged but could not read, kept raw: the site owner
/// sees that something was not understood (and what), instead of a chat silently missing.
fn unreadable_section(count: i64, items: &[UnreadableRow]) -> String {
    let mut s = format!(
        r#"<section><h2>Webhook messages not understood: {count}</h2><p class="hint">Acknowledged to the messenger and kept as received (table <code>webhook_unreadable</code>), but not counted as chats. The latest {}:</p><div class="scroll"><table><tr><th>received (UTC)</th><th>messenger</th><th>reason</th><th>detail</th><th>as received</th></tr>"#,
        items.len()
    );
    for u in items {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&crate::dates::datetime(u.received_ms)),
            esc(&u.platform),
            esc(&u.reason),
            esc(&u.detail),
            esc(&u.raw)
        );
    }
    s.push_str("</table></div></section>");
    s
}

pub fn login(message: Option<&str>) -> String {
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Chats report — sign in</title><style>{CSS}
form{{max-width:360px;margin:80px auto;background:#fff;border:1px solid var(--line);border-radius:12px;padding:24px}}
input{{width:100%;padding:8px 10px;border:1px solid var(--line);border-radius:8px;font:inherit;margin:10px 0}}
button{{background:var(--accent);color:#fff;border:0;border-radius:8px;padding:8px 16px;font:inherit;cursor:pointer}}
.err{{color:#b91c1c;font-size:13px}}</style></head><body>
<form method="post" action="/reports/login"><h2>Chats report</h2><p class="hint">Enter the collector's read token.</p>{}
<input type="password" name="token" autocomplete="current-password" required autofocus><button type="submit">Open the report</button></form></body></html>"#,
        message
            .map(|m| format!(r#"<p class="err">{}</p>"#, esc(m)))
            .unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_has_no_scripts_and_escapes_data() {
        let rows = vec![ChatRow {
            platform: "telegram".into(),
            person: "<img src=x onerror=alert(1)>".into(),
            method: "exact-link".into(),
            started_ms: 20_413 * 86_400_000,
            has_visitor_ids: true,
            visit_known: true,
            ..Default::default()
        }];
        let html = render(&PageInput {
            rows: &rows,
            uploads: &[],
            unreadable_count: 1,
            unreadable: &[UnreadableRow {
                platform: "max".into(),
                reason: "shape".into(),
                detail: "message_created without message".into(),
                raw: r#"{"update_type":"<script>"}"#.into(),
                received_ms: 20_413 * 86_400_000,
            }],
            days: 7,
            from_day: 20_407,
            to_day: 20_413,
        });
        assert!(!html.contains("<script") && !html.contains("<img"));
        assert!(html.contains("Webhook messages not understood: 1"));
        assert!(html.contains("message_created without message"));
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(!html.contains("src=\"http"));
        for key in tables::KEYS {
            assert!(
                html.contains(&format!("/reports/{key}.csv?days=7")),
                "{key}"
            );
        }
    }
}
