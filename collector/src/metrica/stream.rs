//! A counter's chat rows, streamed: candidates are read a page at a time (keyset on start time
//! and conversation), filtered by the send rules and the probable-match self-check, and written
//! by [`Exporter`] into a [`CsvSpool`] until a file part is full. Nothing holds the whole export:
//! memory is one page of candidates, one part's rows (an upload) or a spool in a temporary file
//! (an export), and the seconds written in the last minute.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::export::{CsvSpool, ExportOptions, Exporter, Skip, Warning, WrittenRow};
use super::probable::{Verdict, EVIDENCE_DAYS};
use super::rules::{admit, count_exclusion, Candidate, CandidateQuery, CounterRules, DAY_MS};
use crate::chats::matching::{Method, Window};
use crate::cli::error::CommandError;
use crate::store::{Storage, StoreError};

/// Candidates read per query.
pub const PAGE_SIZE: u32 = 5_000;
/// Segments read at once, ahead of the one being written: reading is most of an export's work,
/// and two reader connections share it.
const READ_AHEAD: usize = 2;
/// Chats named one by one on stderr (left out, or a value dropped); the rest are counted.
const LISTED: usize = 50;

/// The rows of one counter's export or upload, read from the store as they are written.
pub struct RowStream<'a> {
    rt: &'a tokio::runtime::Runtime,
    store: Arc<dyn Storage>,
    rules: &'a CounterRules,
    query: CandidateQuery,
    page: std::vec::IntoIter<Candidate>,
    /// The next segments, in order, read while this one is written (on a multi-thread runtime).
    reading:
        std::collections::VecDeque<tokio::task::JoinHandle<Result<Vec<Candidate>, StoreError>>>,
    /// Where the next segment to read begins (after this key); `None` before the first.
    cursor: Option<super::rules::CandidateKey>,
    /// Every segment up to the end of the range is being read or was read.
    all_scheduled: bool,
    started: bool,
    /// The upload's "now" for the settle rule; `None` takes every chat as it is.
    settling_at: Option<i64>,
    now_ms: i64,
    exporter: Exporter,
    probable: ProbableCheck,
    excluded: Vec<(&'static str, usize)>,
    notes: Notes,
    warnings: Vec<Warning>,
    written: usize,
    pages: usize,
}

impl<'a> RowStream<'a> {
    /// `include_sent`: also chats already sent (`--all`, `--force`); `upload`: hold back chats
    /// that have not settled (unless `include_sent`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        rt: &'a tokio::runtime::Runtime,
        store: Arc<dyn Storage>,
        rules: &'a CounterRules,
        from_ms: i64,
        to_ms: i64,
        include_sent: bool,
        upload: bool,
        only_confirmed: bool,
        now_ms: i64,
    ) -> RowStream<'a> {
        let opts = ExportOptions {
            include_unattributed: rules.include_unattributed,
            allow_max: rules.allows_max(),
            now_s: now_ms.div_euclid(1000),
            only_confirmed,
            revenue_on_row: rules.revenue_goal.is_none(),
        };
        RowStream {
            rt,
            store,
            rules,
            query: CandidateQuery {
                counter: rules.id,
                from_ms,
                to_ms,
                include_sent,
                after: None,
                until: None,
                limit: PAGE_SIZE,
                now_s: opts.now_s,
                sent_until_s: None,
            },
            page: Vec::new().into_iter(),
            reading: std::collections::VecDeque::new(),
            cursor: None,
            all_scheduled: false,
            started: false,
            settling_at: (upload && !include_sent).then_some(now_ms),
            now_ms,
            exporter: Exporter::new(opts),
            probable: ProbableCheck::default(),
            excluded: Vec::new(),
            notes: Notes::default(),
            warnings: Vec::new(),
            written: 0,
            pages: 0,
        }
    }

    /// The next candidate. Candidates are read in segments of at most [`PAGE_SIZE`]
    /// conversations whose ends come from the index ([`crate::store::MetricaStore::candidate_bound`]),
    /// [`READ_AHEAD`] segments at once on separate connections while this one is written, and
    /// consumed in order.
    fn next_candidate(&mut self) -> Result<Option<Candidate>, CommandError> {
        loop {
            if let Some(c) = self.page.next() {
                return Ok(Some(c));
            }
            self.schedule()?;
            let Some(read) = self.reading.pop_front() else {
                return Ok(None);
            };
            let page = self
                .rt
                .block_on(read)
                .map_err(|_| StoreError::JobPanicked)??;
            self.pages += 1;
            self.page = page.into_iter();
            // The next segment starts reading before this one is written.
            self.schedule()?;
        }
    }

    /// Starts reading segments until [`READ_AHEAD`] are in flight or the range is covered.
    fn schedule(&mut self) -> Result<(), CommandError> {
        if !self.started {
            self.started = true;
            if !self.query.include_sent {
                // Rows of earlier uploads end here; this export's own rows are the exporter's
                // to avoid (it holds the last minute's seconds).
                let latest = self
                    .rt
                    .block_on(self.store.latest_sent_second(self.rules.id))?;
                self.query.sent_until_s = Some(latest.unwrap_or(i64::MIN));
            }
        }
        while !self.all_scheduled && self.reading.len() < READ_AHEAD {
            let mut segment = self.query;
            segment.after = self.cursor;
            let end = self.rt.block_on(self.store.candidate_bound(segment))?;
            segment.until = end;
            self.cursor = end;
            self.all_scheduled = end.is_none();
            let store = Arc::clone(&self.store);
            self.reading.push_back(
                self.rt
                    .spawn(async move { store.export_candidates(segment).await }),
            );
        }
        Ok(())
    }

    /// Writes rows into `spool` (and their ledger entries into `rows`) until it holds
    /// `max_rows` rows or `max_bytes` bytes, or the chats run out. Returns whether it stopped
    /// because the part was full (more rows may follow).
    pub fn fill(
        &mut self,
        spool: &mut CsvSpool,
        rows: &mut Vec<WrittenRow>,
        max_rows: usize,
        max_bytes: u64,
    ) -> Result<bool, CommandError> {
        let counter = self.rules.id;
        while spool.rows() < max_rows && spool.bytes() < max_bytes {
            let Some(c) = self.next_candidate()? else {
                return Ok(false);
            };
            if !self
                .probable
                .admits(self.rt, &*self.store, self.rules, self.now_ms, &c)?
            {
                count_exclusion(&mut self.excluded, "probable-self-check");
                continue;
            }
            if let Err(rule) = admit(self.rules, &c, self.settling_at) {
                count_exclusion(&mut self.excluded, rule);
                continue;
            }
            match self
                .exporter
                .write(&c.chat, &c.taken, spool, &mut self.warnings)?
            {
                Ok(row) => {
                    rows.push(row);
                    self.written += 1;
                }
                Err(why) => self.notes.left_out(counter, c.chat.conversation, &why),
            }
            for w in self.warnings.drain(..) {
                self.notes.warning(counter, &w);
            }
        }
        Ok(true)
    }

    /// Rows written so far.
    pub fn written(&self) -> usize {
        self.written
    }

    /// Candidate pages read so far.
    pub fn pages(&self) -> usize {
        self.pages
    }

    /// Prints what the rules excluded and the totals of chats left out beyond those listed.
    pub fn explain(&self) {
        let counter = self.rules.id;
        for (rule, n) in &self.excluded {
            match *rule {
                "settling" => eprintln!("counter {counter}: {n} chat(s) not settled yet (not answered, settle time not passed): sent by a later run"),
                "probable-self-check" => eprintln!("counter {counter}: {n} probable chat(s) held back: the site's own precision estimate does not clear the bar"),
                "probable" => eprintln!("counter {counter}: {n} chat(s) excluded by the send rule `probable`: matched by click timing only, without a code (send_probable = true sends them while the site's precision estimate holds)"),
                _ => eprintln!("counter {counter}: {n} chat(s) excluded by the send rule `{rule}`"),
            }
        }
        self.notes.explain(counter);
    }
}

/// With `send_probable`, probable chats of a messenger go out only while the site's own
/// precision estimate clears the counter's bar. The evidence is read once, at the first
/// probable chat; each messenger's verdict is printed once.
#[derive(Default)]
struct ProbableCheck {
    evidence: Option<Vec<super::probable::Evidence>>,
    verdicts: Vec<(String, bool)>,
}

impl ProbableCheck {
    fn admits(
        &mut self,
        rt: &tokio::runtime::Runtime,
        store: &dyn Storage,
        rules: &CounterRules,
        now: i64,
        c: &Candidate,
    ) -> Result<bool, CommandError> {
        if !rules.send_probable || c.method != Method::ProbableClick.as_str() {
            return Ok(true);
        }
        let platform = c.chat.platform.as_str();
        if let Some((_, trusted)) = self.verdicts.iter().find(|(p, _)| p == platform) {
            return Ok(*trusted);
        }
        if self.evidence.is_none() {
            self.evidence = Some(rt.block_on(store.probable_evidence(
                now - EVIDENCE_DAYS * DAY_MS,
                now,
                Window::default().before_ms,
            ))?);
        }
        let verdict = self
            .evidence
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|e| e.platform == platform)
            .map_or(Verdict::NotEnoughEvidence(0), |e| {
                e.verdict(rules.probable_min_precision)
            });
        eprintln!(
            "counter {}: probable matches on {platform}: {verdict}",
            rules.id
        );
        let trusted = matches!(verdict, Verdict::Trusted(_));
        self.verdicts.push((platform.to_string(), trusted));
        Ok(trusted)
    }
}

/// Chats left out and values dropped: the first [`LISTED`] named, the rest counted by reason,
/// so a large export neither floods the terminal nor keeps a list of them.
#[derive(Default)]
struct Notes {
    listed: usize,
    more_left_out: BTreeMap<String, usize>,
    more_warnings: usize,
}

impl Notes {
    fn left_out(&mut self, counter: u64, conversation: i64, why: &Skip) {
        if self.listed < LISTED {
            self.listed += 1;
            eprintln!("counter {counter}: chat #{conversation} left out: {why}");
        } else {
            *self.more_left_out.entry(why.to_string()).or_default() += 1;
        }
    }

    fn warning(&mut self, counter: u64, w: &Warning) {
        if self.listed < LISTED {
            self.listed += 1;
            eprintln!("counter {counter}: chat #{}: {}", w.conversation, w.message);
        } else {
            self.more_warnings += 1;
        }
    }

    fn explain(&self, counter: u64) {
        for (why, n) in &self.more_left_out {
            eprintln!("counter {counter}: {n} more chat(s) left out: {why}");
        }
        if self.more_warnings > 0 {
            eprintln!(
                "counter {counter}: {} more value(s) left out of rows that were written",
                self.more_warnings
            );
        }
    }
}
