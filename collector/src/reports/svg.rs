//! Server-side SVG charts: no scripts, no external resources, every label escaped. Each chart
//! has a `<title>` and `role="img"` with an `aria-label` so it reads without the picture too.

use std::fmt::Write;

/// HTML/XML text escaping for element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub const EXACT: &str = "#1b7f5b";
pub const PROBABLE: &str = "#7cc4a4";
pub const UNATTRIBUTED: &str = "#c9d1d9";
pub const ANSWERED: &str = "#2563eb";
pub const UNANSWERED: &str = "#f59e0b";

pub fn messenger_colour(name: &str) -> &'static str {
    match name {
        "telegram" => "#229ed9",
        "whatsapp" => "#25d366",
        "viber" => "#7360f2",
        "max" => "#0b57d0",
        _ => "#8b949e",
    }
}

/// A "nice" axis maximum ≥ v: 1, 2, 5 × 10^n.
fn nice_max(v: i64) -> i64 {
    if v <= 4 {
        return 4.max(v);
    }
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if m * step * 4 >= v {
                return m * step * 4;
            }
        }
        step *= 10;
    }
}

/// Daily columns stacked by attribution. `days`: (label, [exact, probable, unattributed]).
pub fn stacked_days(days: &[(String, [i64; 3])], title: &str) -> String {
    let (w, h) = (760.0_f64, 240.0_f64);
    let (left, right, top, bottom) = (36.0, 8.0, 12.0, 34.0);
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let max = nice_max(
        days.iter()
            .map(|(_, v)| v.iter().sum::<i64>())
            .max()
            .unwrap_or(0),
    );
    let n = days.len().max(1) as f64;
    let slot = plot_w / n;
    let bar = (slot * 0.7).clamp(2.0, 28.0);
    let total: i64 = days.iter().map(|(_, v)| v.iter().sum::<i64>()).sum();
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{} — {total} chats" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        esc(title),
        esc(title)
    );
    for i in 0..=4 {
        let v = max * i / 4;
        let y = top + plot_h - plot_h * (v as f64) / (max as f64);
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e7eb"/><text x="{}" y="{:.1}" class="axis" text-anchor="end">{v}</text>"##,
            w - right,
            left - 6.0,
            y + 4.0
        );
    }
    let label_every = (days.len() / 10).max(1);
    for (i, (label, values)) in days.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - bar) / 2.0;
        let mut y = top + plot_h;
        let names = ["exact", "probable", "unattributed"];
        for (k, (&v, colour)) in values
            .iter()
            .zip([EXACT, PROBABLE, UNATTRIBUTED])
            .enumerate()
        {
            if v == 0 {
                continue;
            }
            let bh = plot_h * v as f64 / max as f64;
            y -= bh;
            let _ = write!(
                s,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{bh:.1}" fill="{colour}" rx="2"><title>{}: {v} {}</title></rect>"#,
                esc(label),
                names[k]
            );
        }
        if i % label_every == 0 {
            // Labels are YYYY-MM-DD; the axis shows MM-DD.
            let short = label.get(5..).unwrap_or(label);
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{}" class="axis" text-anchor="middle">{}</text>"#,
                x + bar / 2.0,
                h - bottom + 16.0,
                esc(short)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars: (label, value, colour, note shown after the value).
pub fn hbars(items: &[(String, i64, &str, String)], title: &str) -> String {
    let row_h = 30.0_f64;
    let (w, label_w) = (640.0_f64, 170.0_f64);
    let h = (items.len().max(1) as f64) * row_h + 8.0;
    let max = items.iter().map(|i| i.1).max().unwrap_or(0).max(1) as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        esc(title),
        esc(title)
    );
    if items.is_empty() {
        let _ = write!(
            s,
            r#"<text x="0" y="20" class="axis">No chats in this period</text>"#
        );
    }
    for (i, (label, value, colour, note)) in items.iter().enumerate() {
        let y = 4.0 + i as f64 * row_h;
        // Room on the right for the value and its note.
        let bw = ((w - label_w - 190.0) * (*value as f64) / max).max(2.0);
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" class="label" text-anchor="end">{}</text><rect x="{label_w}" y="{:.1}" width="{bw:.1}" height="18" rx="3" fill="{colour}"/><text x="{:.1}" y="{:.1}" class="value">{value}<tspan class="note"> {}</tspan></text>"#,
            label_w - 8.0,
            y + 14.0,
            esc(label),
            y + 1.0,
            label_w + bw + 6.0,
            y + 14.0,
            esc(note)
        );
    }
    s.push_str("</svg>");
    s
}

/// A two-part donut with the first part's share in the middle.
pub fn donut(first: (i64, &str, &str), second: (i64, &str, &str), title: &str) -> String {
    let total = first.0 + second.0;
    let (cx, cy, r, sw) = (70.0_f64, 70.0_f64, 52.0_f64, 18.0_f64);
    let circ = 2.0 * std::f64::consts::PI * r;
    let frac = if total == 0 {
        0.0
    } else {
        first.0 as f64 / total as f64
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart donut" viewBox="0 0 320 140" role="img" aria-label="{}: {} {}, {} {}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        esc(title),
        first.0,
        esc(first.1),
        second.0,
        esc(second.1),
        esc(title)
    );
    let _ = write!(
        s,
        r#"<circle cx="{cx}" cy="{cy}" r="{r}" fill="none" stroke="{}" stroke-width="{sw}"/>"#,
        if total == 0 { UNATTRIBUTED } else { second.2 }
    );
    if frac > 0.0 {
        let _ = write!(
            s,
            r#"<circle cx="{cx}" cy="{cy}" r="{r}" fill="none" stroke="{}" stroke-width="{sw}" stroke-dasharray="{:.2} {:.2}" transform="rotate(-90 {cx} {cy})"/>"#,
            first.2,
            circ * frac,
            circ
        );
    }
    let pct = if total == 0 {
        "—".to_string()
    } else {
        format!("{:.0}%", frac * 100.0)
    };
    let _ = write!(
        s,
        r#"<text x="{cx}" y="{}" class="big" text-anchor="middle">{pct}</text>"#,
        cy + 8.0
    );
    for (i, (v, name, colour)) in [first, second].iter().enumerate() {
        let y = 50.0 + i as f64 * 30.0;
        let _ = write!(
            s,
            r#"<rect x="160" y="{:.1}" width="14" height="14" rx="3" fill="{colour}"/><text x="182" y="{:.1}" class="label">{} — {v}</text>"#,
            y - 11.0,
            y,
            esc(name)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_escaped_and_scales() {
        let days = vec![
            ("2026-11-20".to_string(), [3, 1, 2]),
            ("<script>".to_string(), [1, 0, 0]),
        ];
        let svg = stacked_days(&days, "Chats per day");
        assert!(svg.contains("&lt;script&gt;") && !svg.contains("<script>"));
        assert_eq!(svg.matches("<rect").count(), 4);
        assert!(svg.contains(">11-20<"));
        let bars = hbars(
            &[
                ("telegram".into(), 5, "#229ed9", "60% answered".into()),
                ("x\"y".into(), 1, "#000", String::new()),
            ],
            "By messenger",
        );
        assert!(bars.contains("x&quot;y"));
        assert_eq!(nice_max(0), 4);
        assert_eq!(nice_max(7), 8);
        assert_eq!(nice_max(37), 40);
        assert_eq!(nice_max(130), 200);
        let d = donut(
            (3, "answered", ANSWERED),
            (1, "not answered", UNANSWERED),
            "Answered",
        );
        assert!(d.contains(">75%<"));
        assert!(donut((0, "a", ANSWERED), (0, "b", UNANSWERED), "t").contains(">—<"));
    }
}
