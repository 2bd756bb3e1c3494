//! When Metrica refuses a column: which of the file's unconfirmed columns it named, and the same
//! file without them. Metrica's documentation does not say how an unknown header is answered
//! (docs/metrica-chat-import.md, "Unknown column"), so a 4xx whose message names one of our
//! unconfirmed headers — or speaks of a column or header without naming one — counts as a
//! refusal of those headers; the same rows are then sent once more with confirmed columns only.

use super::columns::{Requirement, COLUMNS};
use crate::csv_format::{read_rows, CsvText};

/// Optional headers whose spelling Metrica's documentation does not confirm.
pub fn is_unconfirmed(name: &str) -> bool {
    COLUMNS
        .iter()
        .any(|c| c.name == name && c.requirement == Requirement::Optional && !c.confirmed)
}

/// The unconfirmed headers of a CSV text, in file order.
pub fn unconfirmed_in(csv: &str) -> Vec<String> {
    let header = csv.lines().next().unwrap_or("");
    header
        .split(',')
        .filter(|h| is_unconfirmed(h))
        .map(str::to_owned)
        .collect()
}

/// The unconfirmed headers of `csv` that an error answer refuses; empty when it is not about a
/// column (a bad token, a malformed file, a server error).
pub fn refused(status: u16, body: &str, csv: &str) -> Vec<String> {
    if !(400..500).contains(&status) || matches!(status, 401 | 403 | 429) {
        return Vec::new();
    }
    let ours = unconfirmed_in(csv);
    let lower = body.to_lowercase();
    let named: Vec<String> = ours
        .iter()
        .filter(|h| mentions(&lower, &h.to_lowercase()))
        .cloned()
        .collect();
    if !named.is_empty() {
        return named;
    }
    let about_columns = ["column", "header", "field", "столб", "колонк", "заголов"]
        .iter()
        .any(|w| lower.contains(w));
    if about_columns {
        ours
    } else {
        Vec::new()
    }
}

/// `word` in `text` not as part of a longer identifier (`price` is not in `priceless`).
fn mentions(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

/// The same rows without the `drop` columns.
pub fn without_columns(csv: &str, drop: &[String]) -> String {
    let rows = read_rows(csv).unwrap_or_default();
    let Some(header) = rows.first() else {
        return csv.to_string();
    };
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| !drop.contains(&header[i]))
        .collect();
    let mut out = CsvText::new();
    for row in &rows {
        out.row(keep.iter().map(|&i| row.get(i).map_or("", String::as_str)));
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "DateTime,ChatPlatform,ChatUserID,ClientID,Answered,PageURL\r\n1,telegram,u1,17,1,\"https://s.example/a,b\"\r\n2,viber,u2,18,0,\r\n";

    #[test]
    fn finds_the_refused_columns() {
        assert_eq!(unconfirmed_in(CSV), vec!["Answered", "PageURL"]);
        assert_eq!(
            refused(400, r#"{"message":"Unknown column: Answered"}"#, CSV),
            vec!["Answered"]
        );
        assert_eq!(
            refused(400, "Неизвестный столбец в заголовке", CSV),
            vec!["Answered", "PageURL"]
        );
        // Not about a column, or not a refusal at all.
        assert!(refused(400, "type must be CHATS", CSV).is_empty());
        assert!(refused(403, "column Answered", CSV).is_empty());
        assert!(refused(503, "column Answered", CSV).is_empty());
        // ClientID is unconfirmed in spelling but required for attribution: never dropped.
        assert!(refused(400, "column ClientID is unknown", CSV).len() == 2);
        assert!(!mentions("priceless", "price"));
    }

    #[test]
    fn same_rows_without_the_columns() {
        let out = without_columns(CSV, &["Answered".into(), "PageURL".into()]);
        assert_eq!(
            out,
            "DateTime,ChatPlatform,ChatUserID,ClientID\r\n1,telegram,u1,17\r\n2,viber,u2,18\r\n"
        );
    }
}
