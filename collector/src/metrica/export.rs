//! Builds the chat-import CSV: validates each chat, keeps `DateTime` distinct per visitor and in
//! the past, and writes only the columns that carry data (see [`super::columns`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{Read, Seek, SeekFrom, Write};

use super::columns::{Field, Requirement, COLUMNS, DOCUMENTED_PLATFORMS};
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

/// A row written: what the ledger records for its chat ([`crate::store::MetricaStore::create_upload`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WrittenRow {
    pub conversation: i64,
    /// The `DateTime` written, to be recorded so later exports avoid the same second.
    pub date_time: i64,
    /// The visitor IDs written (none for a colliding chat ID): later revenue goes to the same
    /// visit, and later rows avoid their seconds.
    pub client_id: Option<String>,
    pub user_id: Option<String>,
    pub yclid: Option<String>,
    pub purchase_id: Option<String>,
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
pub const MAX_NUDGE_S: i64 = 60;

/// The visitor-ID kinds, in the ledger's order.
const ID_KINDS: [&str; 4] = ["client_id", "user_id", "yclid", "purchase_id"];

fn kind_index(kind: &str) -> u8 {
    ID_KINDS.iter().position(|k| *k == kind).unwrap_or(0) as u8
}

/// Seconds this run has written per visitor ID, kept only while a later chat could still be
/// nudged onto them. Chats come in start order, so their own seconds never decrease: a second
/// older than the current chat's window can never clash again and is forgotten. Memory follows
/// the number of chats per minute, not the size of the export.
///
/// A visitor ID is held as a 64-bit hash of its kind and value (no copy of the text per row):
/// two IDs sharing a hash could only make a chat step back one more second than needed, never
/// let two conversions of one visitor share a second.
#[derive(Default)]
struct RecentSeconds {
    hasher: std::hash::RandomState,
    by_id: HashMap<u64, Vec<i64>>,
    order: VecDeque<(i64, u64)>,
}

impl RecentSeconds {
    fn key(&self, kind: u8, id: &str) -> u64 {
        std::hash::BuildHasher::hash_one(&self.hasher, (kind, id))
    }

    fn contains(&self, key: u64, ts: i64) -> bool {
        self.by_id.get(&key).is_some_and(|v| v.contains(&ts))
    }

    fn insert(&mut self, key: u64, ts: i64) {
        self.by_id.entry(key).or_default().push(ts);
        self.order.push_back((ts, key));
    }

    /// Forgets the seconds before `ts`.
    fn forget_before(&mut self, ts: i64) {
        while self.order.front().is_some_and(|(t, _)| *t < ts) {
            let Some((t, key)) = self.order.pop_front() else {
                break;
            };
            if let Some(v) = self.by_id.get_mut(&key) {
                if let Some(i) = v.iter().position(|e| *e == t) {
                    v.swap_remove(i);
                }
                if v.is_empty() {
                    self.by_id.remove(&key);
                }
            }
        }
    }

    fn len(&self) -> usize {
        self.order.len()
    }
}

/// Decides the rows of one export, one chat at a time, in export order (start time, then
/// conversation): validation, the distinct-second rule, the values of each column. Rows go to a
/// [`CsvSpool`]; nothing of earlier rows is kept but the seconds still in reach.
pub struct Exporter {
    opts: ExportOptions,
    recent: RecentSeconds,
    /// The `DateTime` text of the row being written (reused: no allocation per row).
    ts_text: String,
    /// The last chat's own second: the order check (a backend that pages out of order would
    /// break the distinct-second rule silently).
    last_origin: i64,
}

impl Exporter {
    pub fn new(opts: ExportOptions) -> Exporter {
        Exporter {
            opts,
            recent: RecentSeconds::default(),
            ts_text: String::new(),
            last_origin: i64::MIN,
        }
    }

    /// How many (visitor ID, second) pairs are held: bounded by the chats of the last minute.
    pub fn seconds_held(&self) -> usize {
        self.recent.len()
    }

    /// Writes `chat`'s row to `spool` and returns what the ledger records, or why the chat is not
    /// in the file. `taken`: seconds earlier uploads to the counter use for one of its visitor
    /// IDs in its nudge window ([`super::rules::Candidate::taken`]). Values dropped from a row
    /// that was written are pushed to `warnings`.
    pub fn write(
        &mut self,
        chat: &ExportChat,
        taken: &[i64],
        spool: &mut CsvSpool,
        warnings: &mut Vec<Warning>,
    ) -> std::io::Result<Result<WrittenRow, Skip>> {
        let opts = &self.opts;
        // Lowercase already, as the collector stores platforms: no copy then.
        let platform: std::borrow::Cow<'_, str> =
            if chat.platform.bytes().any(|b| b.is_ascii_uppercase()) {
                chat.platform.to_ascii_lowercase().into()
            } else {
                chat.platform.as_str().into()
            };
        let documented = DOCUMENTED_PLATFORMS.contains(&&*platform);
        if !(documented || (platform == "max" && opts.allow_max)) {
            return Ok(Err(Skip::UnsupportedPlatform(platform.into_owned())));
        }
        if chat.chat_user_id.is_none() && chat.username.is_none() && chat.phone.is_none() {
            return Ok(Err(Skip::NoChatPartner));
        }
        if !chat.has_visitor_id() && !opts.include_unattributed {
            return Ok(Err(if chat.id_collision {
                Skip::IdCollision
            } else {
                Skip::NoVisitorId
            }));
        }
        // In the past: a chat stamped "now" or later (clock skew) moves to one second ago.
        let origin = (chat.started_ms.div_euclid(1000)).min(opts.now_s - 1);
        debug_assert!(origin >= self.last_origin, "chats out of export order");
        self.last_origin = self.last_origin.max(origin);
        self.recent.forget_before(origin - MAX_NUDGE_S);
        let recent = &self.recent;
        let mut keys = [0u64; 4];
        let mut n_keys = 0;
        for (k, v) in chat.visitor_ids() {
            keys[n_keys] = recent.key(kind_index(k), v);
            n_keys += 1;
        }
        let keys = &keys[..n_keys];
        let clash = |ts: i64| taken.contains(&ts) || keys.iter().any(|&k| recent.contains(k, ts));
        // Several conversions with the same visitor ID and second collapse into one in Metrica:
        // step back a second at a time (never forward, which could reach the future).
        let mut ts = origin;
        while clash(ts) && origin - ts < MAX_NUDGE_S {
            ts -= 1;
        }
        if clash(ts) {
            return Ok(Err(Skip::NoFreeSecond));
        }
        for &k in keys {
            self.recent.insert(k, ts);
        }

        self.ts_text.clear();
        {
            use std::fmt::Write as _;
            let _ = write!(self.ts_text, "{ts}");
        }
        let mut row = spool.row();
        row.set(Field::DateTime, &self.ts_text);
        row.set(Field::ChatPlatform, &platform);
        row.set_opt(Field::ChatUsername, chat.username.as_deref());
        // A hashed phone is no PhoneNumber; it stands in as the partner's ID when none is known.
        let (phone, pseudonym) = crate::privacy::phones::for_metrica(chat.phone.as_deref());
        row.set_opt(
            Field::ChatUserId,
            chat.chat_user_id.as_deref().or(pseudonym.as_deref()),
        );
        row.set_opt(Field::PhoneNumber, phone.as_deref());
        let mut written = WrittenRow {
            conversation: chat.conversation,
            date_time: ts,
            ..WrittenRow::default()
        };
        for (kind, v) in chat.visitor_ids() {
            let (field, slot) = match kind {
                "client_id" => (Field::ClientId, &mut written.client_id),
                "user_id" => (Field::UserId, &mut written.user_id),
                "yclid" => (Field::Yclid, &mut written.yclid),
                "purchase_id" => (Field::PurchaseId, &mut written.purchase_id),
                _ => continue,
            };
            row.set_opt(field, Some(v));
            *slot = Some(v.to_string());
        }
        row.set_opt(Field::PageUrl, chat.page_url.as_deref());
        row.set_opt(Field::ChatUrl, chat.chat_url.as_deref());
        row.set(Field::Answered, if chat.answered { "1" } else { "0" });
        let mut warn = |m: String| {
            warnings.push(Warning {
                conversation: chat.conversation,
                message: m,
            })
        };
        if let Some(tag) = chat.tag.as_deref().filter(|t| !t.is_empty()) {
            if tag.chars().count() <= MAX_TAG_CHARS {
                row.set(Field::Tag, tag);
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
                    row.set(Field::Revenue, &r);
                    row.set(Field::Currency, c);
                }
                (None, _) => warn(format!("revenue {r:?} is not a plain number; left out")),
                (_, false) => warn(format!(
                    "currency {c:?} is not an ISO 4217 code; revenue left out"
                )),
            },
            (Some(_), None) => warn("revenue without a currency left out".to_string()),
        }
        row.finish()?;
        Ok(Ok(written))
    }
}

/// Rows of a CSV file whose columns are known only at the end: optional columns are written only
/// when some row has a value (for the answered flag, a 1), so each row is kept with every
/// column, already escaped, until [`CsvSpool::finish`] writes the header and the rows with the
/// columns that carry data. Kept in memory (one file part, bounded by the caller) or in an
/// anonymous temporary file (a whole export).
pub struct CsvSpool {
    buf: Vec<u8>,
    file: Option<std::io::BufWriter<std::fs::File>>,
    present: Vec<bool>,
    rows: usize,
    bytes: u64,
    scratch: String,
    cells: Vec<(usize, usize)>,
}

/// Flushes to the temporary file in blocks of this size.
const SPOOL_BLOCK: usize = 1 << 20;

fn column_index(field: Field) -> usize {
    COLUMNS.iter().position(|c| c.field == field).unwrap_or(0)
}

impl CsvSpool {
    /// Rows kept in memory: for one bounded file part.
    pub fn in_memory() -> CsvSpool {
        CsvSpool::in_memory_with_capacity(0)
    }

    /// Rows kept in memory, room for `bytes` of them reserved at once (the size of the last
    /// part: no regrowing and copying of a part as it fills).
    pub fn in_memory_with_capacity(bytes: usize) -> CsvSpool {
        CsvSpool {
            buf: Vec::with_capacity(bytes),
            file: None,
            present: vec![false; COLUMNS.len()],
            rows: 0,
            bytes: 0,
            scratch: String::new(),
            cells: Vec::with_capacity(COLUMNS.len()),
        }
    }

    /// Rows kept in an anonymous temporary file (removed by the system when closed).
    pub fn on_disk() -> std::io::Result<CsvSpool> {
        let mut spool = CsvSpool::in_memory();
        spool.file = Some(std::io::BufWriter::new(tempfile::tempfile()?));
        Ok(spool)
    }

    /// Whether rows go to a temporary file rather than memory.
    pub fn is_on_disk(&self) -> bool {
        self.file.is_some()
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Bytes of rows held in memory (for a spool on disk, less than a block).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Escaped bytes of the rows so far (about the size of the file).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    fn row(&mut self) -> SpoolRow<'_> {
        self.scratch.clear();
        self.cells.clear();
        SpoolRow { spool: self }
    }

    /// The columns to write: required ones always; the others when some row has a value,
    /// unconfirmed optional headers only when allowed.
    fn columns(&self, only_confirmed: bool) -> Vec<usize> {
        (0..COLUMNS.len())
            .filter(|&i| {
                let c = &COLUMNS[i];
                c.requirement == Requirement::Always
                    || (self.present[i]
                        && !(only_confirmed
                            && c.requirement == Requirement::Optional
                            && !c.confirmed))
            })
            .collect()
    }

    /// The header [`CsvSpool::finish`] writes for the rows so far.
    pub fn header(&self, only_confirmed: bool) -> Vec<&'static str> {
        self.columns(only_confirmed)
            .into_iter()
            .map(|i| COLUMNS[i].name)
            .collect()
    }

    /// Writes the file: the header, then every row with the columns that carry data.
    pub fn finish(mut self, only_confirmed: bool, out: &mut dyn Write) -> std::io::Result<()> {
        let columns = self.columns(only_confirmed);
        out.write_all(self.header(only_confirmed).join(",").as_bytes())?;
        out.write_all(b"\r\n")?;
        let n = COLUMNS.len();
        let mut keep = vec![false; n];
        for &i in &columns {
            keep[i] = true;
        }
        let mut line = Vec::new();
        let mut write_record = |record: &[u8], out: &mut dyn Write| -> std::io::Result<()> {
            // Record: per column a little-endian u32 length and the escaped cell.
            line.clear();
            let mut at = 0;
            let mut first = true;
            for &kept in &keep {
                let len = record
                    .get(at..at + 4)
                    .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
                at += 4;
                if kept {
                    if !first {
                        line.push(b',');
                    }
                    first = false;
                    line.extend_from_slice(record.get(at..at + len).unwrap_or_default());
                }
                at += len;
            }
            line.extend_from_slice(b"\r\n");
            out.write_all(&line)
        };
        match self.file.take() {
            None => {
                let buf = std::mem::take(&mut self.buf);
                let mut rest = &buf[..];
                while let Some((record, tail)) = next_record(rest) {
                    write_record(record, out)?;
                    rest = tail;
                }
            }
            Some(mut file) => {
                file.write_all(&self.buf)?;
                let mut file = file.into_inner().map_err(|e| e.into_error())?;
                file.seek(SeekFrom::Start(0))?;
                let mut reader = std::io::BufReader::with_capacity(SPOOL_BLOCK, file);
                let mut record = Vec::new();
                loop {
                    let mut len = [0u8; 4];
                    match reader.read_exact(&mut len) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                        Err(e) => return Err(e),
                    }
                    record.clear();
                    record.resize(u32::from_le_bytes(len) as usize, 0);
                    reader.read_exact(&mut record)?;
                    write_record(&record, out)?;
                }
            }
        }
        Ok(())
    }

    /// The whole file as text (an in-memory part).
    pub fn finish_to_string(self, only_confirmed: bool) -> std::io::Result<String> {
        let mut out = Vec::with_capacity(self.bytes as usize + 256);
        self.finish(only_confirmed, &mut out)?;
        String::from_utf8(out).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }
}

/// Splits a length-prefixed record off the front of an in-memory spool.
fn next_record(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = buf.get(..4)?;
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    let body = buf.get(4..4 + len)?;
    Some((body, &buf[4 + len..]))
}

/// One row being written: cells in any order, escaped as they come.
struct SpoolRow<'a> {
    spool: &'a mut CsvSpool,
}

impl SpoolRow<'_> {
    fn set(&mut self, field: Field, value: &str) {
        let i = column_index(field);
        // Only free text is guarded against spreadsheet formulas (a CRM's tag, a messenger
        // user name): Metrica matches the other columns by exact value (a PhoneNumber starts
        // with +).
        let guard = matches!(field, Field::Tag | Field::ChatUsername);
        let start = self.spool.scratch.len();
        crate::csv_format::write_cell(&mut self.spool.scratch, value, guard);
        self.spool.cells.push((i, start));
        let carries = if field == Field::Answered {
            value == "1"
        } else {
            !value.is_empty()
        };
        if carries {
            self.spool.present[i] = true;
        }
    }

    fn set_opt(&mut self, field: Field, value: Option<&str>) {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            self.set(field, v);
        }
    }

    /// Appends the row: per column (in [`COLUMNS`] order) its length and escaped text.
    fn finish(self) -> std::io::Result<()> {
        let s = self.spool;
        let n = COLUMNS.len();
        let mut spans = vec![(0usize, 0usize); n];
        for (k, &(i, start)) in s.cells.iter().enumerate() {
            let end = s.cells.get(k + 1).map_or(s.scratch.len(), |c| c.1);
            spans[i] = (start, end);
        }
        let body: usize = 4 * n + s.scratch.len();
        s.buf.extend_from_slice(&(body as u32).to_le_bytes());
        for (start, end) in spans {
            s.buf
                .extend_from_slice(&((end - start) as u32).to_le_bytes());
            s.buf.extend_from_slice(&s.scratch.as_bytes()[start..end]);
        }
        s.rows += 1;
        s.bytes += s.scratch.len() as u64 + n as u64 + 1;
        if let Some(file) = s.file.as_mut() {
            if s.buf.len() >= SPOOL_BLOCK {
                file.write_all(&s.buf)?;
                s.buf.clear();
            }
        }
        Ok(())
    }
}

/// Builds a whole file in memory (small exports and the tests): the chats in export order,
/// `taken` the (visitor ID kind, value, DateTime) already used for this counter.
pub fn build(
    chats: &[ExportChat],
    opts: &ExportOptions,
    taken: &HashSet<(String, String, i64)>,
) -> Export {
    let mut export = Export::default();
    let mut sorted: Vec<&ExportChat> = chats.iter().collect();
    sorted.sort_by_key(|c| (c.started_ms, c.conversation));
    let mut exporter = Exporter::new(*opts);
    let mut spool = CsvSpool::in_memory();
    for chat in sorted {
        let own: Vec<i64> = taken
            .iter()
            .filter(|(k, v, _)| chat.visitor_ids().any(|(ck, cv)| ck == k && cv == v))
            .map(|(_, _, t)| *t)
            .collect();
        match exporter.write(chat, &own, &mut spool, &mut export.warnings) {
            Ok(Ok(row)) => export.rows.push(row),
            Ok(Err(skip)) => export.skipped.push((chat.conversation, skip)),
            // Writing to memory does not fail.
            Err(_) => {}
        }
    }
    export.csv = spool
        .finish_to_string(opts.only_confirmed)
        .unwrap_or_default();
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
    /// The distinct-second rule keeps only the seconds a later chat can still reach: a long
    /// export of one visitor holds about a minute of them, not one per row.
    #[test]
    fn seconds_held_stay_within_the_nudge_window() {
        let t = 1_763_000_000;
        let mut exporter = Exporter::new(opts());
        let mut spool = CsvSpool::in_memory();
        let mut warnings = Vec::new();
        let mut seconds = HashSet::new();
        for i in 0..10_000 {
            // Two chats of one ClientID in every other second: one keeps it, one steps back
            // into the free second before it.
            let c = chat(i, "telegram", t + i - i % 2);
            let row = exporter
                .write(&c, &[], &mut spool, &mut warnings)
                .unwrap()
                .unwrap();
            assert!(seconds.insert(row.date_time), "second reused: {row:?}");
            assert!(exporter.seconds_held() <= (MAX_NUDGE_S + 2) as usize);
        }
        assert_eq!(spool.rows(), 10_000);
        // Seconds taken by earlier uploads are avoided too.
        let mut exporter = Exporter::new(opts());
        let c = chat(1, "telegram", t);
        let row = exporter
            .write(&c, &[t, t - 1], &mut spool, &mut warnings)
            .unwrap()
            .unwrap();
        assert_eq!(row.date_time, t - 2);
        assert_eq!(row.client_id.as_deref(), Some("1700000000123456789"));
    }

    /// A spool on disk keeps at most a block in memory and writes the same file as one in
    /// memory.
    #[test]
    fn spool_on_disk_holds_a_block_and_writes_the_same_file() {
        let t = 1_763_000_000;
        let mut disk = CsvSpool::on_disk().unwrap();
        let mut memory = CsvSpool::in_memory();
        let (mut a, mut b) = (Exporter::new(opts()), Exporter::new(opts()));
        let mut warnings = Vec::new();
        for i in 0..30_000 {
            let mut c = chat(i, "whatsapp", t + i);
            c.page_url = Some(format!("https://shop.example/p/{i},\"x\""));
            a.write(&c, &[], &mut disk, &mut warnings).unwrap().unwrap();
            b.write(&c, &[], &mut memory, &mut warnings)
                .unwrap()
                .unwrap();
            assert!(disk.buffered() < SPOOL_BLOCK);
        }
        assert!(disk.is_on_disk() && memory.buffered() > 2 * SPOOL_BLOCK);
        let mut from_disk = Vec::new();
        disk.finish(false, &mut from_disk).unwrap();
        let from_memory = memory.finish_to_string(false).unwrap();
        assert_eq!(String::from_utf8(from_disk).unwrap(), from_memory);
        assert!(from_memory.starts_with("DateTime,ChatPlatform,ChatUserID,ClientID,PageURL\r\n"));
        assert!(from_memory.contains(",\"https://shop.example/p/7,\"\"x\"\"\"\r\n"));
    }
}
