//! One person's data, the same on both backends: what a search from one identifier has found
//! ([`Found`]), and the rows of kept Metrica files that are about them ([`scan_csv`]). The
//! backends' `privacy.rs` run the SQL that fills and deletes.

use std::collections::BTreeSet;

use crate::privacy::subject::Subject;

/// The rows of one person.
#[derive(Debug, Default, Clone)]
pub struct Found {
    pub chat_ids: BTreeSet<String>,
    pub client_ids: BTreeSet<String>,
    pub conversations: BTreeSet<i64>,
    /// (platform, user_key) of the person's conversations: all of their conversations.
    pub people: BTreeSet<(String, String)>,
    pub phones: BTreeSet<String>,
    pub user_ids: BTreeSet<String>,
    pub usernames: BTreeSet<String>,
    /// Other values that identify the visit (yclid, the site's UserID, gclid...), searched in
    /// kept files and raw payloads.
    pub other_ids: BTreeSet<String>,
    pub events: BTreeSet<i64>,
    pub clicks: BTreeSet<i64>,
    /// The largest event / click row ID looked at.
    pub events_seen: i64,
    pub clicks_seen: i64,
}

impl Found {
    /// What the request names, before any tie is followed (a phone with and without `+`).
    pub fn seeded(subject: &Subject) -> Found {
        let mut f = Found::default();
        match subject {
            Subject::Phone(p) => {
                f.phones.insert(p.clone());
                f.phones.insert(format!("+{p}"));
            }
            Subject::UserId(u) => {
                f.user_ids.insert(u.clone());
            }
            Subject::Username(u) => {
                f.usernames.insert(u.clone());
            }
            Subject::ChatId(c) => {
                f.chat_ids.insert(c.clone());
            }
            Subject::ClientId(c) => {
                f.client_ids.insert(c.clone());
            }
        }
        f
    }

    /// Every identifying string, for searches in text (raw payloads, CSV files).
    pub fn values(&self) -> BTreeSet<String> {
        let mut all = BTreeSet::new();
        for set in [
            &self.chat_ids,
            &self.client_ids,
            &self.phones,
            &self.user_ids,
            &self.usernames,
            &self.other_ids,
        ] {
            all.extend(set.iter().filter(|v| v.len() >= 4).cloned());
        }
        all
    }
}

/// Rows of a CSV file, cell by cell.
pub type CsvRows = Vec<Vec<String>>;

/// An upload with rows about the person: (upload, its file without them, those rows).
pub type UploadAbout = (i64, String, CsvRows);

/// CSV files kept of uploads, split into (header + the rows that are not about the person, the
/// rows that are), for every upload that has any about them.
pub fn scan_csv(csv_text: &str, values: &BTreeSet<String>) -> Option<(String, CsvRows)> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv_text.as_bytes());
    let mut writer = crate::csv_format::CsvText::new();
    let mut hit = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.ok()?;
        let about = i > 0 && record.iter().any(|field| values.contains(field.trim()));
        if about {
            hit.push(record.iter().map(str::to_owned).collect());
        } else {
            writer.row(record.iter());
        }
    }
    if hit.is_empty() {
        return None;
    }
    Some((writer.finish(), hit))
}

/// Everything either search found.
pub fn merge(mut a: Found, b: Found) -> Found {
    a.chat_ids.extend(b.chat_ids);
    a.client_ids.extend(b.client_ids);
    a.conversations.extend(b.conversations);
    a.people.extend(b.people);
    a.phones.extend(b.phones);
    a.user_ids.extend(b.user_ids);
    a.usernames.extend(b.usernames);
    a.other_ids.extend(b.other_ids);
    a.events.extend(b.events);
    a.clicks.extend(b.clicks);
    a
}
