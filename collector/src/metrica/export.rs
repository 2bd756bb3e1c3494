//! Builds the chat-import CSV: validates each chat, keeps `DateTime` distinct per visitor and in
//! the past, and writes only the columns that carry data (see [`super::columns`]).

use std::collections::HashSet;

use super::columns::{Field, Requirement, COLUMNS, DOCUMENTED_PLATFORMS};
use crate::csv_format::CsvText;
use crate::money::{is_iso_4217, normalize_revenue};

/// One chat as the exporter needs it (joined from the conversation and the visitor mapping).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExportChat {
    /// The collector's conversation row ID; recorded per upload so a chat is sent once.
    pub conversation: i64,
    pub platform: String,
    pub started_ms: i64,
    pub chat_user_id: Option<String>,
    pub username: Option<String>,
    pub phone: Option<String>,
    pub client_id: Option<String>,
    pub user_id: Option<String>,
    pub yclid: Option<String>,
    pub purchase_id: Option<String>,
    pub answered: bool,
    pub tag: Option<String>,
    pub revenue: Option<String>,
    pub currency: Option<String>,
    pub page_url: Option<String>,
    pub chat_url: Option<String>,
    /// The chat ID was issued to two different visitors (the ingest's `chat_conflicts`): which
    /// of them wrote is unknown, so the visitor IDs above are already cleared (see
    /// [`ExportChat::without_colliding_ids`]) and the chat can only go out unattributed.
    pub id_collision: bool,
}

impl ExportChat {
    /// Applies the collision rule: a chat whose ID two visitors share keeps no visitor IDs, so
    /// Metrica never credits it to a visit that may not be the one that produced it.
    pub fn without_colliding_ids(mut self) -> ExportChat {
        if self.id_collision {
            self.client_id = None;
            self.user_id = None;
            self.yclid = None;
            self.purchase_id = None;
        }
        self
    }

    /// The visitor IDs to send: none for a colliding chat ID, whether or not the caller
    /// cleared them with [`ExportChat::without_colliding_ids`].
    pub fn visitor_ids(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("client_id", self.client_id.as_deref()),
            ("user_id", self.user_id.as_deref()),
            ("yclid", self.yclid.as_deref()),
            ("purchase_id", self.purchase_id.as_deref()),
        ]
        .into_iter()
        .filter(|_| !self.id_collision)
        .filter_map(|(k, v)| v.map(|v| (k, v)))
    }

    pub fn has_visitor_id(&self) -> bool {
        self.visitor_ids().next().is_some()
    }
}

#[derive(Clone, Copy, Debug)]
pub struct ExportOptions {
    /// Rows without any visitor ID ("unattributed" in Metrica) are written too.
    pub include_unattributed: bool,
    /// Send MAX chats with `ChatPlatform=max`. MAX is not a documented Metrica platform, so this
    /// is off unless a counter's send rules name `max` explicitly.
    pub allow_max: bool,
    /// Seconds since the epoch; every `DateTime` must be strictly before it.
    pub now_s: i64,
    /// Leave out the optional columns whose header Metrica's documentation does not confirm
    /// (answered flag, tag, revenue, page URL, chat URL), should Metrica refuse unknown headers.
    pub only_confirmed: bool,
    /// Write revenue on the chat row. Off when the counter names a revenue goal: then money goes
    /// out as an offline conversion only ([`super::conversions`]), one path whenever it arrives.
    pub revenue_on_row: bool,
}

/// Why a chat is not in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Skip {
    UnsupportedPlatform(String),
    NoChatPartner,
    NoVisitorId,
    /// The chat ID was issued to two visitors; without unattributed rows there is nothing to send.
    IdCollision,
    /// Could not find a free second for this visitor within a minute before the chat.
    NoFreeSecond,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::UnsupportedPlatform(p) => {
                write!(f, "platform {p:?} is not a Metrica chat platform")
            }
            Skip::NoChatPartner => f.write_str("no chat partner ID (username, user ID or phone)"),
            Skip::NoVisitorId => f.write_str("no visitor ID (unattributed rows not requested)"),
            Skip::IdCollision => f.write_str(
                "id-collision: its chat ID was issued to two visitors, so it is unattributed (unattributed rows not requested)",
            ),
            Skip::NoFreeSecond => f.write_str("no free DateTime second for this visitor"),
        }
    }
}

/// A value dropped from a row that was otherwise written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub conversation: i64,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenRow {
    pub conversation: i64,
    /// The `DateTime` written, to be recorded so later exports avoid the same second.
    pub date_time: i64,
}

#[derive(Clone, Debug, Default)]
pub struct Export {
    pub csv: String,
    pub rows: Vec<WrittenRow>,
    pub skipped: Vec<(i64, Skip)>,
    pub warnings: Vec<Warning>,
}

pub const MAX_TAG_CHARS: usize = 100;
/// How far back a `DateTime` may be nudged to keep it distinct.
const MAX_NUDGE_S: i64 = 60;

struct Row {
    values: Vec<(Field, String)>,
}

/// `taken`: (visitor ID kind, value, DateTime) already used for this counter in earlier uploads.
pub fn build(
    chats: &[ExportChat],
    opts: &ExportOptions,
    taken: &HashSet<(String, String, i64)>,
) -> Export {
    let mut export = Export::default();
    let mut used: HashSet<(String, String, i64)> = taken.clone();
    let mut rows: Vec<Row> = Vec::new();
    let mut sorted: Vec<&ExportChat> = chats.iter().collect();
    sorted.sort_by_key(|c| (c.started_ms, c.conversation));

    for chat in sorted {
        let platform = chat.platform.to_ascii_lowercase();
        let documented = DOCUMENTED_PLATFORMS.contains(&platform.as_str());
        if !(documented || (platform == "max" && opts.allow_max)) {
            export
                .skipped
                .push((chat.conversation, Skip::UnsupportedPlatform(platform)));
            continue;
        }
        if chat.chat_user_id.is_none() && chat.username.is_none() && chat.phone.is_none() {
            export
                .skipped
                .push((chat.conversation, Skip::NoChatPartner));
            continue;
        }
        if !chat.has_visitor_id() && !opts.include_unattributed {
            let why = if chat.id_collision {
                Skip::IdCollision
            } else {
                Skip::NoVisitorId
            };
            export.skipped.push((chat.conversation, why));
            continue;
        }
        // In the past: a chat stamped "now" or later (clock skew) moves to one second ago.
        let mut ts = (chat.started_ms.div_euclid(1000)).min(opts.now_s - 1);
        let origin = ts;
        let clash = |ts: i64, used: &HashSet<(String, String, i64)>| {
            chat.visitor_ids()
                .any(|(k, v)| used.contains(&(k.to_string(), v.to_string(), ts)))
        };
        // Several conversions with the same visitor ID and second collapse into one in Metrica:
        // step back a second at a time (never forward, which could reach the future).
        while clash(ts, &used) && origin - ts < MAX_NUDGE_S {
            ts -= 1;
        }
        if clash(ts, &used) {
            export.skipped.push((chat.conversation, Skip::NoFreeSecond));
            continue;
        }
        for (k, v) in chat.visitor_ids() {
            used.insert((k.to_string(), v.to_string(), ts));
        }

        let mut values = vec![
            (Field::DateTime, ts.to_string()),
            (Field::ChatPlatform, platform),
        ];
        let mut put = |f: Field, v: &Option<String>| {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                values.push((f, v.to_string()));
            }
        };
        put(Field::ChatUsername, &chat.username);
        // A hashed phone is no PhoneNumber; it stands in as the partner's ID when none is known.
        let (phone, pseudonym) = crate::privacy::phones::for_metrica(chat.phone.as_deref());
        put(Field::ChatUserId, &chat.chat_user_id.clone().or(pseudonym));
        put(Field::PhoneNumber, &phone);
        for (kind, v) in chat.visitor_ids() {
            let field = match kind {
                "client_id" => Field::ClientId,
                "user_id" => Field::UserId,
                "yclid" => Field::Yclid,
                "purchase_id" => Field::PurchaseId,
                _ => continue,
            };
            put(field, &Some(v.to_string()));
        }
        put(Field::PageUrl, &chat.page_url);
        put(Field::ChatUrl, &chat.chat_url);
        values.push((
            Field::Answered,
            if chat.answered { "1" } else { "0" }.to_string(),
        ));
        let mut warn = |m: String| {
            export.warnings.push(Warning {
                conversation: chat.conversation,
                message: m,
            })
        };
        if let Some(tag) = chat.tag.as_deref().filter(|t| !t.is_empty()) {
            if tag.chars().count() <= MAX_TAG_CHARS {
                values.push((Field::Tag, tag.to_string()));
            } else {
                warn(format!(
                    "tag longer than {MAX_TAG_CHARS} characters left out"
                ));
            }
        }
        match (chat.revenue.as_deref(), chat.currency.as_deref()) {
            (None, _) => {}
            (Some(_), _) if !opts.revenue_on_row => {}
            (Some(r), Some(c)) => match (normalize_revenue(r), is_iso_4217(c)) {
                (Some(r), true) => {
                    values.push((Field::Revenue, r));
                    values.push((Field::Currency, c.to_string()));
                }
                (None, _) => warn(format!("revenue {r:?} is not a plain number; left out")),
                (_, false) => warn(format!(
                    "currency {c:?} is not an ISO 4217 code; revenue left out"
                )),
            },
            (Some(_), None) => warn("revenue without a currency left out".to_string()),
        }
        export.rows.push(WrittenRow {
            conversation: chat.conversation,
            date_time: ts,
        });
        rows.push(Row { values });
    }

    // Required columns always; optional ones only when some row has a value — for the answered
    // flag, a 1 (an all-zero column says nothing the absence would not). Unconfirmed optional
    // headers only when allowed.
    let carries = |c: &super::columns::Column| {
        rows.iter().any(|r| {
            r.values
                .iter()
                .any(|(f, v)| *f == c.field && (c.field != Field::Answered || v == "1"))
        })
    };
    let columns: Vec<_> = COLUMNS
        .iter()
        .filter(|c| {
            c.requirement == Requirement::Always
                || (carries(c)
                    && !(opts.only_confirmed
                        && c.requirement == Requirement::Optional
                        && !c.confirmed))
        })
        .collect();
    let mut csv = CsvText::new();
    csv.row(columns.iter().map(|c| c.name));
    // Only free text is guarded against spreadsheet formulas (a CRM's tag, a messenger user
    // name): Metrica matches the other columns by exact value (a PhoneNumber starts with +).
    let free_text = |i: usize| matches!(columns[i].field, Field::Tag | Field::ChatUsername);
    for row in &rows {
        csv.row_guarding(
            columns.iter().map(|c| {
                row.values
                    .iter()
                    .find(|(f, _)| *f == c.field)
                    .map_or("", |(_, v)| v.as_str())
            }),
            free_text,
        );
    }
    export.csv = csv.finish();
    export
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(conv: i64, platform: &str, started_s: i64) -> ExportChat {
        ExportChat {
            conversation: conv,
            platform: platform.into(),
            started_ms: started_s * 1000 + 250,
            chat_user_id: Some(format!("u{conv}")),
            client_id: Some("1700000000123456789".into()),
            ..Default::default()
        }
    }

    const NOW: i64 = 1_763_800_000;

    fn opts() -> ExportOptions {
        ExportOptions {
            include_unattributed: false,
            allow_max: false,
            now_s: NOW,
            only_confirmed: false,
            revenue_on_row: true,
        }
    }

    #[test]
    fn header_and_distinct_seconds_per_visitor() {
        let t = 1_763_700_000;
        let chats = [
            chat(1, "telegram", t),
            chat(2, "WhatsApp", t),
            chat(3, "viber", t - 1),
        ];
        let e = build(&chats, &opts(), &HashSet::new());
        let lines: Vec<&str> = e.csv.lines().collect();
        assert_eq!(lines[0], "DateTime,ChatPlatform,ChatUserID,ClientID");
        // Same ClientID: 1 keeps t, 2 moves to t-1, which 3 wanted, so 3 moves to t-2.
        let stamps: Vec<i64> = e.rows.iter().map(|r| r.date_time).collect();
        let mut uniq = stamps.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), 3, "{stamps:?}");
        assert!(stamps.iter().all(|&s| s <= t));
        assert!(e.csv.contains(",whatsapp,"));
    }

    #[test]
    fn earlier_uploads_and_future_stamps() {
        let t = 1_763_700_000;
        let taken: HashSet<_> = [(
            "client_id".to_string(),
            "1700000000123456789".to_string(),
            t,
        )]
        .into();
        let e = build(&[chat(1, "telegram", t)], &opts(), &taken);
        assert_eq!(e.rows[0].date_time, t - 1);
        let e = build(&[chat(1, "telegram", NOW + 500)], &opts(), &HashSet::new());
        assert_eq!(e.rows[0].date_time, NOW - 1);
    }

    #[test]
    fn platform_partner_and_visitor_rules() {
        let t = 1_763_700_000;
        let mut no_partner = chat(2, "telegram", t);
        no_partner.chat_user_id = None;
        let mut anon = chat(3, "viber", t);
        anon.client_id = None;
        let chats = [
            chat(1, "max", t),
            no_partner,
            anon.clone(),
            chat(4, "vk", t),
        ];
        let e = build(&chats, &opts(), &HashSet::new());
        assert!(e.rows.is_empty());
        assert_eq!(
            e.skipped,
            vec![
                (1, Skip::UnsupportedPlatform("max".into())),
                (2, Skip::NoChatPartner),
                (3, Skip::NoVisitorId),
                (4, Skip::UnsupportedPlatform("vk".into())),
            ]
        );
        let e = build(
            &[chat(1, "max", t), anon],
            &ExportOptions {
                include_unattributed: true,
                allow_max: true,
                now_s: NOW,
                only_confirmed: false,
                revenue_on_row: true,
            },
            &HashSet::new(),
        );
        assert_eq!(e.rows.len(), 2);
        assert!(e.csv.contains(",max,"));
    }

    #[test]
    fn optional_values_validated() {
        let t = 1_763_700_000;
        let mut a = chat(1, "telegram", t);
        a.answered = true;
        a.tag = Some("ads, \"spring\"".into());
        a.revenue = Some("1 250,5".into());
        a.currency = Some("RUB".into());
        let mut b = chat(2, "telegram", t - 100);
        b.tag = Some("x".repeat(101));
        b.revenue = Some("-5".into());
        b.currency = Some("RUB".into());
        let mut c = chat(3, "telegram", t - 200);
        c.revenue = Some("10".into());
        c.currency = Some("RUR".into());
        let e = build(&[a, b, c], &opts(), &HashSet::new());
        let lines: Vec<&str> = e.csv.lines().collect();
        assert_eq!(
            lines[0],
            "DateTime,ChatPlatform,ChatUserID,ClientID,Answered,Tag,Price,Currency"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.ends_with(",1,\"ads, \"\"spring\"\"\",1250.5,RUB")),
            "{lines:?}"
        );
        assert_eq!(e.warnings.len(), 3, "{:?}", e.warnings);
    }

    #[test]
    fn answered_column_and_only_confirmed() {
        let t = 1_763_700_000;
        let mut a = chat(1, "telegram", t);
        a.answered = true;
        a.tag = Some("sale".into());
        let b = chat(2, "telegram", t - 100);
        let e = build(&[a.clone(), b.clone()], &opts(), &HashSet::new());
        assert_eq!(
            e.csv.lines().next(),
            Some("DateTime,ChatPlatform,ChatUserID,ClientID,Answered,Tag")
        );
        assert!(
            e.csv.contains(",u2,1700000000123456789,0,\r\n"),
            "{}",
            e.csv
        );
        let strict = ExportOptions {
            only_confirmed: true,
            ..opts()
        };
        let e = build(&[a, b], &strict, &HashSet::new());
        // Visitor-ID columns stay (they carry the attribution); unconfirmed extras go.
        assert_eq!(
            e.csv.lines().next(),
            Some("DateTime,ChatPlatform,ChatUserID,ClientID")
        );
    }

    #[test]
    fn colliding_ids_are_never_sent() {
        let t = 1_763_700_000;
        let mut shared = chat(1, "telegram", t);
        shared.yclid = Some("5100000000000000001".into());
        shared.id_collision = true;
        let clean = chat(2, "whatsapp", t - 10);
        let e = build(&[shared.clone(), clean.clone()], &opts(), &HashSet::new());
        assert_eq!(e.skipped, vec![(1, Skip::IdCollision)]);
        assert_eq!(e.rows.len(), 1);
        assert!(!e.csv.contains("5100000000000000001"), "{}", e.csv);

        // With unattributed rows the chat goes out, but with none of the visitor IDs.
        let loose = ExportOptions {
            include_unattributed: true,
            ..opts()
        };
        let e = build(&[shared, clean], &loose, &HashSet::new());
        assert_eq!(e.rows.len(), 2);
        let lines: Vec<&str> = e.csv.lines().collect();
        assert_eq!(lines[0], "DateTime,ChatPlatform,ChatUserID,ClientID");
        assert!(
            lines.contains(&format!("{t},telegram,u1,").as_str()),
            "{lines:?}"
        );
        assert!(!e.csv.contains("5100000000000000001"));
        assert!(lines
            .iter()
            .any(|l| l.ends_with(",whatsapp,u2,1700000000123456789")));
    }
}
