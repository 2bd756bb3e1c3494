//! One person's data, the same on both backends: what a search from one identifier has found
//! ([`Found`]), and the rows of kept Metrica files that are about them ([`scan_csv`]). The
//! backends' `privacy.rs` run the SQL that fills and deletes.

use std::collections::BTreeSet;

use crate::privacy::key::PrivacyKey;
use crate::privacy::phones;
use crate::privacy::subject::Subject;
use crate::store::dialect::Dialect;
use crate::store::privacy::Whom;

/// Which identifiers of a search a lookup is run with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupBy {
    Phones,
    UserIds,
    Usernames,
    ChatIds,
    UserIdsAndPhones,
}

/// What a lookup returns: conversation row IDs, or chat IDs (bot openings tie a messenger
/// user to a chat ID too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupFinds {
    Conversations,
    ChatIds,
}

/// One round's lookups of a person's search, each run once per value with the value as `$1`
/// (rendered for `d`): the same on every backend.
pub fn lookups(d: Dialect) -> Vec<(LookupBy, LookupFinds, String)> {
    use LookupBy as By;
    use LookupFinds as Finds;
    [
        (
            By::Phones,
            Finds::Conversations,
            "SELECT id FROM conversations WHERE phone = $1".to_string(),
        ),
        (
            By::UserIds,
            Finds::Conversations,
            "SELECT id FROM conversations WHERE chat_user_id = $1 OR user_key = $1".to_string(),
        ),
        (
            By::Usernames,
            Finds::Conversations,
            format!(
                "SELECT id FROM conversations WHERE {}",
                d.eq_nocase("username", "$1")
            ),
        ),
        (
            By::ChatIds,
            Finds::Conversations,
            "SELECT id FROM conversations WHERE chat_id = $1".to_string(),
        ),
        (
            By::UserIdsAndPhones,
            Finds::ChatIds,
            "SELECT chat_id FROM bot_opens WHERE chat_user_id = $1 OR phone = $1".to_string(),
        ),
        (
            By::Usernames,
            Finds::ChatIds,
            format!(
                "SELECT chat_id FROM bot_opens WHERE {}",
                d.eq_nocase("username", "$1")
            ),
        ),
    ]
    .into_iter()
    .map(|(by, finds, sql)| (by, finds, d.render(&sql)))
    .collect()
}

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
    /// The hashed form of every phone-like value above: how phones are stored when hashed, and
    /// what replaced phone-like digits in kept texts and raw items.
    pub hashed: BTreeSet<String>,
    pub events: BTreeSet<i64>,
    pub clicks: BTreeSet<i64>,
    /// The largest event / click row ID looked at.
    pub events_seen: i64,
    pub clicks_seen: i64,
}

impl Found {
    /// The values a lookup by `by` is run with (copied: the search adds to these sets).
    pub fn values_of(&self, by: LookupBy) -> Vec<String> {
        let sets: &[&BTreeSet<String>] = match by {
            LookupBy::Phones => &[&self.phones],
            LookupBy::UserIds => &[&self.user_ids],
            LookupBy::Usernames => &[&self.usernames],
            LookupBy::ChatIds => &[&self.chat_ids],
            LookupBy::UserIdsAndPhones => &[&self.user_ids, &self.phones],
        };
        sets.iter().flat_map(|s| s.iter().cloned()).collect()
    }

    /// What the request names, before any tie is followed: a phone with and without `+`, and
    /// hashed (phones may be kept hashed; a WhatsApp ID made of the phone's digits too).
    pub fn seeded(whom: &Whom) -> Found {
        let mut f = Found::default();
        let key = &whom.key;
        match &whom.subject {
            Subject::Phone(p) => {
                f.phones.insert(p.clone());
                f.phones.insert(format!("+{p}"));
                f.phones.insert(phones::token(key, p));
                f.user_ids.insert(phones::token(key, p));
            }
            Subject::UserId(u) => {
                f.user_ids.insert(u.clone());
                f.user_ids.extend(hashed_forms(key, [u]));
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

    /// Adds the hashed forms of every phone-like value found (after the search).
    pub fn hash_phone_likes(&mut self, key: &PrivacyKey) {
        let hashed = hashed_forms(
            key,
            self.phones
                .iter()
                .chain(&self.user_ids)
                .chain(&self.usernames)
                .chain(&self.other_ids),
        );
        self.hashed.extend(hashed);
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
            &self.hashed,
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
    a.hashed.extend(b.hashed);
    a.events.extend(b.events);
    a.clicks.extend(b.clicks);
    a
}

/// A value that may be a phone in its stored digits (or a WhatsApp ID made of them).
fn phone_like(v: &str) -> Option<&str> {
    let digits = v.strip_prefix('+').unwrap_or(v);
    ((7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(digits)
}

/// The hashed forms of the phone-like values among `values`.
fn hashed_forms<'a>(key: &PrivacyKey, values: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    values
        .into_iter()
        .filter_map(|v| phone_like(v))
        .map(|d| phones::token(key, d))
        .collect()
}

/// A row's phone fields hashed the way new data is hashed before it is stored (phone, a WhatsApp
/// user ID that is the phone, the `phone:` person key): the new (user ID, phone, person key), or
/// `None` when nothing changes (already hashed, or no phone) or the platform is unknown. Both
/// backends' phone-hashing steps rewrite rows with it.
pub fn rehash_phones(
    key: &PrivacyKey,
    platform: &str,
    user_id: Option<String>,
    phone: Option<String>,
    person: Option<String>,
) -> Option<(Option<String>, Option<String>, Option<String>)> {
    let platform = crate::chats::inbound::Platform::parse(platform)?;
    let mut user = crate::chats::inbound::ChatUser {
        user_id: user_id.clone(),
        phone: phone.clone(),
        ..crate::chats::inbound::ChatUser::default()
    };
    phones::hash_user(key, &platform, &mut user);
    let person_hashed = person.as_deref().map(|k| phones::hash_user_key(key, k));
    if user.user_id == user_id && user.phone == phone && person_hashed == person {
        return None;
    }
    Some((user.user_id, user.phone, person_hashed))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lookups each engine runs, as rendered: usernames without case by each engine's
    /// index (SQLite's `COLLATE NOCASE`, PostgreSQL's `lower()`), placeholders its own.
    #[test]
    fn lookups_per_engine() {
        let sql = |d| lookups(d).into_iter().map(|l| l.2).collect::<Vec<_>>();
        assert_eq!(
            sql(Dialect::Sqlite),
            [
                "SELECT id FROM conversations WHERE phone = ?1",
                "SELECT id FROM conversations WHERE chat_user_id = ?1 OR user_key = ?1",
                "SELECT id FROM conversations WHERE username = ?1 COLLATE NOCASE",
                "SELECT id FROM conversations WHERE chat_id = ?1",
                "SELECT chat_id FROM bot_opens WHERE chat_user_id = ?1 OR phone = ?1",
                "SELECT chat_id FROM bot_opens WHERE username = ?1 COLLATE NOCASE",
            ]
        );
        assert_eq!(
            sql(Dialect::Postgres)[2],
            "SELECT id FROM conversations WHERE lower(username) = lower($1)"
        );
        assert_eq!(
            sql(Dialect::Postgres)[5],
            "SELECT chat_id FROM bot_opens WHERE lower(username) = lower($1)"
        );
    }

    #[test]
    fn bot_openings_are_looked_up_by_user_ids_and_phones() {
        let mut f = Found::default();
        f.user_ids.insert("u1".into());
        f.phones.insert("79160001122".into());
        assert_eq!(
            f.values_of(LookupBy::UserIdsAndPhones),
            ["u1", "79160001122"]
        );
        assert_eq!(f.values_of(LookupBy::Usernames), Vec::<String>::new());
    }
}
