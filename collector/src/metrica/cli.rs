//! `chattag-collector export metrica` and `chattag-collector upload metrica`.
//!
//! Export writes the chat-import CSV for a counter and a time range and records nothing.
//! Upload builds the file of chats not yet sent to the counter (all of them with `--force`),
//! records it, sends it, polls Metrica's status, and retries: within a run with backoff, and on
//! the next run (the same file, before anything new) when the run ended with a failure.
//! `--every 1h` repeats the upload for unattended operation.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::conversions;
use super::export::{CsvSpool, WrittenRow};
use super::refusal;
use super::rules::{is_counter_number, parse_counters, CounterRules};
use super::stream::{RowStream, PAGE_SIZE};
use super::upload::{MetricaClient, OAuthToken, UploadError, DEFAULT_BASE};
use super::uploads::{PendingUpload, UploadKind, UploadState, MAX_ATTEMPTS};
use crate::cli::db::DbArgs;
use crate::cli::error::CommandError;
use crate::clock::now_ms;
use crate::dates::parse_rfc3339_ms;
use crate::durations::{parse_duration, parse_every};
use crate::metrics::StoreMetrics;
use crate::scheduled::{Lease, Standing};
use crate::store::lease::LeaseStore;
use crate::store::Storage;

#[derive(Debug, Subcommand)]
pub enum ExportTarget {
    /// Write Metrica's chat-import CSV for a counter and a time range (records nothing).
    Metrica(ExportArgs),
}

#[derive(Debug, Subcommand)]
pub enum UploadTarget {
    /// Upload chats not yet sent to Metrica's chat import; retries failed uploads.
    Metrica(UploadArgs),
}

#[derive(Debug, Clone, Args)]
pub struct Selection {
    #[command(flatten)]
    pub db: DbArgs,

    /// Metrica counter number (repeatable for upload; with --counters-file, selects from it).
    #[arg(long = "counter")]
    pub counters: Vec<u64>,

    /// TOML file with [[counter]] send rules (see metrica/rules.rs).
    #[arg(long, env = "CHATTAG_COUNTERS_FILE")]
    pub counters_file: Option<PathBuf>,

    /// First day (UTC, YYYY-MM-DD) or RFC 3339 time; default: 21 days ago (Metrica's window).
    #[arg(long)]
    pub from: Option<String>,

    /// Last day (UTC, inclusive) or RFC 3339 time (exclusive); default: now.
    #[arg(long)]
    pub to: Option<String>,

    /// Also write rows without any visitor ID (unattributed in Metrica).
    #[arg(long)]
    pub include_unattributed: bool,

    /// Leave out optional columns whose header names Metrica's documentation does not confirm
    /// (Answered, Tag, Price, Currency, PageURL, ChatURL).
    #[arg(long)]
    pub only_confirmed_columns: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub select: Selection,

    /// Output file; default: stdout.
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,

    /// Include chats already uploaded to the counter.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Clone, Args)]
pub struct UploadArgs {
    #[command(flatten)]
    pub select: Selection,

    /// Send chats again even if they were uploaded to this counter before.
    #[arg(long)]
    pub force: bool,

    /// Metrica API base URL (tests point it at a local stand-in).
    #[arg(long, env = "CHATTAG_METRICA_API", default_value = DEFAULT_BASE)]
    pub metrica_api: String,

    /// File holding the OAuth token. The token itself only as CHATTAG_METRICA_TOKEN (never argv).
    #[arg(long, env = "CHATTAG_METRICA_TOKEN_FILE")]
    pub metrica_token_file: Option<PathBuf>,

    /// Upload attempts within one run (backoff doubles from --retry-delay).
    #[arg(long, default_value_t = 3)]
    pub attempts: u32,

    /// First delay between attempts, e.g. 5s, 500ms.
    #[arg(long, default_value = "5s")]
    pub retry_delay: String,

    /// How long to poll Metrica's status after an upload (0s = do not wait; later runs refresh it).
    #[arg(long, default_value = "2m")]
    pub wait: String,

    /// Interval between status polls.
    #[arg(long, default_value = "30s")]
    pub poll_interval: String,

    /// Repeat every interval (e.g. 1h) until stopped.
    #[arg(long)]
    pub every: Option<String>,

    /// Comment stored with the upload in Metrica; each file's key (`file <id> <created ms>`)
    /// follows it, so a file whose answer was lost is found in Metrica's list, not sent twice.
    #[arg(long, default_value = "chattag")]
    pub comment: String,

    /// Rows per uploaded file: a larger set of chats goes out as several files, each recorded
    /// with its chats before it is sent (memory stays bounded by one file).
    #[arg(long, default_value_t = DEFAULT_ROWS_PER_FILE)]
    pub rows_per_file: usize,

    /// Several `upload metrica` processes on one database: one uploads, and another takes over
    /// this long after it stopped (killed, cut off). See docs/postgresql.md.
    #[arg(long, env = "CHATTAG_LEASE_TTL", default_value = "30s",
          value_parser = crate::durations::parse_duration)]
    pub lease_ttl: Duration,
}

/// 50,000 rows: about 5 MB of CSV, far below Metrica's 1 GB per file; up to three files are in
/// memory at once (one built, one waiting, one recorded and sent), and a failed file holds back
/// (and resends) no more than that.
pub const DEFAULT_ROWS_PER_FILE: usize = 50_000;
/// A part also closes at this size, whatever its rows (long URLs): Metrica accepts up to 1 GB.
const MAX_FILE_BYTES: u64 = 256 << 20;

/// `YYYY-MM-DD` (a UTC day; `end` = the day after) or an RFC 3339 time.
fn parse_bound(s: &str, end: bool) -> Result<i64, CommandError> {
    let s = s.trim();
    if s.len() == 10 {
        let ms = parse_rfc3339_ms(&format!("{s}T00:00:00Z"))
            .ok_or_else(|| CommandError::Refused(format!("{s:?}: expected YYYY-MM-DD")))?;
        return Ok(if end { ms + 86_400_000 } else { ms });
    }
    parse_rfc3339_ms(s).ok_or_else(|| {
        CommandError::Refused(format!("{s:?}: expected YYYY-MM-DD or an RFC 3339 time"))
    })
}

fn range(sel: &Selection, now: i64) -> Result<(i64, i64), CommandError> {
    let from = match &sel.from {
        Some(s) => parse_bound(s, false)?,
        None => now - 21 * 86_400_000,
    };
    let to = match &sel.to {
        Some(s) => parse_bound(s, true)?,
        None => now + 1,
    };
    if from >= to {
        return Err(CommandError::Refused("--from must be before --to".into()));
    }
    Ok((from, to))
}

/// The counters to work on, with their rules.
fn counters(sel: &Selection) -> Result<Vec<CounterRules>, CommandError> {
    let file = match &sel.counters_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| CommandError::Read {
                path: path.display().to_string(),
                source,
            })?;
            parse_counters(&text)?
        }
        None => Vec::new(),
    };
    let mut out: Vec<CounterRules> = if sel.counters.is_empty() {
        file
    } else {
        sel.counters
            .iter()
            .map(|id| {
                file.iter()
                    .find(|c| c.id == *id)
                    .cloned()
                    .unwrap_or_else(|| CounterRules::for_counter(*id))
            })
            .collect()
    };
    if out.is_empty() {
        return Err(CommandError::Refused(
            "name a counter: --counter N, or a --counters-file with [[counter]] tables".into(),
        ));
    }
    for c in &mut out {
        c.include_unattributed |= sel.include_unattributed;
        if !is_counter_number(c.id) {
            return Err(CommandError::Refused(format!(
                "{} is not a Metrica counter number",
                c.id
            )));
        }
    }
    Ok(out)
}

fn open(db: &DbArgs) -> Result<(tokio::runtime::Runtime, Arc<dyn Storage>), CommandError> {
    // One worker: the next page of candidates is read while this one is written, and the
    // upload lease is renewed while this thread blocks on Metrica's answers and sleeps.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let store = crate::store::open(&db.database()?, false, Arc::new(StoreMetrics::default()))?;
    Ok((rt, store))
}

/// Prints the file's columns that Metrica's documentation does not confirm.
fn explain_columns(counter: u64, header: &[&str]) {
    let unconfirmed: Vec<&str> = header
        .iter()
        .copied()
        .filter(|h| refusal::is_unconfirmed(h))
        .collect();
    if !unconfirmed.is_empty() {
        eprintln!(
            "counter {counter}: columns not confirmed by Metrica's documentation: {} (--only-confirmed-columns leaves them out)",
            unconfirmed.join(", ")
        );
    }
}

pub fn export(target: ExportTarget) -> Result<(), CommandError> {
    let ExportTarget::Metrica(args) = target;
    let rules = counters(&args.select)?;
    let [rules] = rules.as_slice() else {
        return Err(CommandError::Refused(
            "export writes one file: name exactly one counter".into(),
        ));
    };
    let (from, to) = range(&args.select, now_ms())?;
    let (rt, store) = open(&args.select.db)?;
    let only_confirmed = args.select.only_confirmed_columns;
    let mut rows = RowStream::new(
        &rt,
        Arc::clone(&store),
        rules,
        from,
        to,
        args.all,
        false,
        only_confirmed,
        now_ms(),
    );
    // One file of any size: rows wait in a temporary file until the columns are known.
    let mut spool = CsvSpool::on_disk()?;
    // An export records nothing: the ledger entries are dropped a page's worth at a time.
    let mut ledger = Vec::new();
    let mut limit = 0;
    loop {
        limit += PAGE_SIZE as usize;
        let more = rows.fill(&mut spool, &mut ledger, limit, u64::MAX)?;
        ledger.clear();
        if !more {
            break;
        }
    }
    rows.explain();
    if spool.rows() > 0 {
        explain_columns(rules.id, &spool.header(only_confirmed));
    }
    let n = spool.rows();
    match &args.out {
        // Not a regular file (`/dev/null`, `/dev/stdout`, a FIFO): written into as it is. A
        // rename would replace the device or pipe itself with a file (as root, /dev/null).
        Some(path) if std::fs::metadata(path).is_ok_and(|m| !m.file_type().is_file()) => {
            let write_err = write_error(path);
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(write_err)?;
            let mut w = std::io::BufWriter::new(file);
            spool.finish(only_confirmed, &mut w).map_err(write_err)?;
            w.flush().map_err(write_err)?;
        }
        // Written next to the target and renamed: the file is complete or absent.
        Some(path) => {
            let write_err = write_error(path);
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => std::path::Path::new("."),
            };
            let tmp = tempfile::NamedTempFile::new_in(dir).map_err(write_err)?;
            let mut w = std::io::BufWriter::new(tmp);
            spool.finish(only_confirmed, &mut w).map_err(write_err)?;
            let tmp = w.into_inner().map_err(|e| write_err(e.into_error()))?;
            tmp.persist(path).map_err(|e| write_err(e.error))?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            spool.finish(only_confirmed, &mut w)?;
            w.flush()?;
        }
    }
    eprintln!("counter {}: {n} row(s) written", rules.id);
    Ok(())
}

/// The error for a failed write of the output file `path`.
fn write_error(path: &std::path::Path) -> impl Fn(std::io::Error) -> CommandError + Copy + '_ {
    move |source| CommandError::Write {
        path: path.display().to_string(),
        source,
    }
}

struct Settings {
    attempts: u32,
    retry_delay: Duration,
    wait: Duration,
    poll_interval: Duration,
}

pub fn upload(target: UploadTarget) -> Result<(), CommandError> {
    let UploadTarget::Metrica(args) = target;
    let rules = counters(&args.select)?;
    if args.rows_per_file == 0 {
        return Err(CommandError::Refused(
            "--rows-per-file must be at least 1".into(),
        ));
    }
    let token = OAuthToken::load(
        args.metrica_token_file.as_deref(),
        std::env::var("CHATTAG_METRICA_TOKEN").ok(),
    )?;
    let settings = Settings {
        attempts: args.attempts.max(1),
        retry_delay: parse_duration(&args.retry_delay)?,
        wait: parse_duration(&args.wait)?,
        poll_interval: parse_duration(&args.poll_interval)?.max(Duration::from_millis(50)),
    };
    let every = args.every.as_deref().map(parse_every).transpose()?;
    let client = MetricaClient::new(&args.metrica_api, token, Duration::from_secs(120));
    let (rt, store) = open(&args.select.db)?;
    let lease = {
        let _in_runtime = rt.enter();
        let store: Arc<dyn LeaseStore> = store.clone();
        Lease::keep(store, upload_lease(&rules), args.lease_ttl)
    };
    let scheduled = every.is_some();
    match rt.block_on(lease.first_answer()) {
        Standing::Held | Standing::Asking => {}
        Standing::NotHeld { holder, until_ms } if !scheduled => {
            return Err(CommandError::Refused(format!(
                "{} is running in {holder} (its lease runs until {} UTC); not starting a second one",
                lease.name(),
                crate::dates::datetime(until_ms)
            )))
        }
        Standing::NotHeld { holder, .. } => eprintln!(
            "{} is running in {holder}: this process takes over if that one stops",
            lease.name()
        ),
        Standing::Unknown(why) if !scheduled => {
            return Err(CommandError::Refused(format!(
                "cannot take the lease {}: {why}",
                lease.name()
            )))
        }
        Standing::Unknown(why) => eprintln!("cannot take the lease {} yet: {why}", lease.name()),
    }
    let result = upload_runs(
        &rt, &store, &client, &rules, &args, &settings, every, &lease,
    );
    let released = rt.block_on(lease.release());
    result?;
    Ok(released?)
}

/// The lease of one set of counters' uploads: processes uploading the same counters take
/// turns, others do not wait for them.
fn upload_lease(rules: &[CounterRules]) -> String {
    let mut ids: Vec<String> = rules.iter().map(|r| r.id.to_string()).collect();
    ids.sort();
    format!("metrica-upload:{}", ids.join(","))
}

/// One run, or (with `every`) a run each interval while this process holds `lease`.
#[allow(clippy::too_many_arguments)]
fn upload_runs(
    rt: &tokio::runtime::Runtime,
    store: &Arc<dyn Storage>,
    client: &MetricaClient,
    rules: &[CounterRules],
    args: &UploadArgs,
    settings: &Settings,
    every: Option<Duration>,
    lease: &Lease,
) -> Result<(), CommandError> {
    loop {
        if every.is_some() && !lease.is_held() {
            rt.block_on(lease.held());
            eprintln!("{}: this process now runs the uploads", lease.name());
        }
        let (from, to) = range(&args.select, now_ms())?;
        let mut failures = Vec::new();
        for r in rules {
            if let Err(e) = upload_counter(rt, store, client, r, from, to, args, settings) {
                eprintln!("counter {}: {e}", r.id);
                failures.push(r.id);
            }
        }
        match every {
            None if failures.is_empty() => return Ok(()),
            None => {
                return Err(CommandError::Refused(format!(
                    "upload failed for counter(s) {failures:?}; the next run retries the same file"
                )))
            }
            Some(every) => {
                eprintln!("next upload run in {}s", every.as_secs());
                std::thread::sleep(every);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn upload_counter(
    rt: &tokio::runtime::Runtime,
    shared: &Arc<dyn Storage>,
    client: &MetricaClient,
    rules: &CounterRules,
    from: i64,
    to: i64,
    args: &UploadArgs,
    s: &Settings,
) -> Result<(), CommandError> {
    let counter = rules.id;
    let store = &**shared;

    // Statuses of earlier uploads that were still being processed.
    let unfinished = rt.block_on(store.unfinished(counter))?;
    for (upload, _, metrica_id) in unfinished {
        match client.status(counter, metrica_id) {
            Ok(u) => {
                println!(
                    "counter {counter}: upload #{upload} (Metrica {metrica_id}) is {}",
                    u.status
                );
                rt.block_on(store.mark_status(upload, u))?;
            }
            Err(e) => eprintln!("counter {counter}: status of upload #{upload}: {e}"),
        }
    }

    // Failed or interrupted files first, oldest first and unchanged (their chats are reserved
    // for them); a failure stops here so that chats are never spread over more files in flight.
    let mut sent = Vec::new();
    while let Some(p) = rt.block_on(store.retry_candidate(counter))? {
        println!(
            "counter {counter}: retrying upload #{} ({} chats, attempt {})",
            p.id,
            p.rows,
            p.attempts + 1
        );
        // It may have reached Metrica in a run whose answer was lost: looked up first.
        sent.extend(send(rt, store, client, &p, true, args, s)?);
    }

    // A column Metrica refused stays out of this counter's files.
    let refused = rt.block_on(store.refused_columns(counter))?;
    if !refused.is_empty() {
        eprintln!(
            "counter {counter}: Metrica refused the column(s) {}: sending confirmed columns only",
            refused.join(", ")
        );
    }
    let only_confirmed = args.select.only_confirmed_columns || !refused.is_empty();
    // Parts are built on one thread while the previous one is reserved and sent on this one
    // (the channel holds one): memory is at most three parts. Each part is reserved, with its
    // chats, in one transaction before it is sent, and sent before the next is reserved, so at
    // most one part is ever in flight; a failure stops the run and the builder with it.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Part>(1);
    let now = now_ms();
    let (built, consumed) = std::thread::scope(|scope| {
        let builder = scope.spawn(move || -> Result<usize, CommandError> {
            let mut rows = RowStream::new(
                rt,
                Arc::clone(shared),
                rules,
                from,
                to,
                args.force,
                true,
                only_confirmed,
                now,
            );
            let built = build_parts(&mut rows, &tx, args.rows_per_file, only_confirmed);
            rows.explain();
            built.map(|()| rows.written())
        });
        let consumed = (|| -> Result<usize, CommandError> {
            let mut parts = 0;
            for part in &rx {
                parts += 1;
                explain_columns(counter, &part.header);
                let n = part.rows.len() as i64;
                let csv = part.csv;
                let created_ms = now_ms();
                let id = rt.block_on(store.create_upload(
                    counter,
                    csv.clone(),
                    part.rows,
                    args.force,
                    created_ms,
                ))?;
                let plan = PendingUpload {
                    id,
                    counter,
                    kind: UploadKind::Chats,
                    csv,
                    rows: n,
                    attempts: 0,
                    created_ms,
                };
                sent.extend(send(rt, store, client, &plan, false, args, s)?);
            }
            Ok(parts)
        })();
        // Stops the builder if this side stopped first.
        drop(rx);
        let built = builder
            .join()
            .unwrap_or_else(|_| Err(CommandError::Refused("the file builder panicked".into())));
        (built, consumed)
    });
    let parts = consumed?;
    let written = built?;
    if parts > 1 {
        println!(
            "counter {counter}: {written} chats in {parts} files of at most {} rows",
            args.rows_per_file
        );
    }
    if parts == 0 {
        println!("counter {counter}: no new chats to upload");
    }
    let sent_revenue = upload_late_revenue(rt, store, client, rules, args, s, &mut sent)?;
    poll(rt, store, client, counter, &sent, s)?;
    if parts == 0 && !sent_revenue {
        println!("counter {counter}: nothing new to upload");
    }
    Ok(())
}

/// One file of an upload, built and not yet reserved.
struct Part {
    header: Vec<&'static str>,
    csv: String,
    rows: Vec<WrittenRow>,
}

/// Fills parts of at most `rows_per_file` rows (or [`MAX_FILE_BYTES`]) and hands each over,
/// until the chats run out or the receiver stops.
fn build_parts(
    rows: &mut RowStream<'_>,
    tx: &std::sync::mpsc::SyncSender<Part>,
    rows_per_file: usize,
    only_confirmed: bool,
) -> Result<(), CommandError> {
    // Sized after the last part: parts are alike, so a part's buffers are allocated once.
    let (mut spool_bytes, mut ledger_rows) = (0, 0);
    loop {
        let mut spool = CsvSpool::in_memory_with_capacity(spool_bytes);
        let mut ledger = Vec::with_capacity(ledger_rows);
        let more = rows.fill(&mut spool, &mut ledger, rows_per_file, MAX_FILE_BYTES)?;
        if ledger.is_empty() {
            return Ok(());
        }
        (spool_bytes, ledger_rows) = (spool.buffered(), ledger.len());
        let part = Part {
            header: spool.header(only_confirmed),
            csv: spool.finish_to_string(only_confirmed)?,
            rows: ledger,
        };
        if tx.send(part).is_err() || !more {
            return Ok(());
        }
    }
}

/// Waits (up to `--wait` in all) for Metrica to finish the files sent in this run, recording
/// each status; what is not final yet is checked by the next run.
fn poll(
    rt: &tokio::runtime::Runtime,
    store: &dyn Storage,
    client: &MetricaClient,
    counter: u64,
    sent: &[(i64, u64)],
    s: &Settings,
) -> Result<(), CommandError> {
    if s.wait.is_zero() {
        return Ok(());
    }
    let deadline = std::time::Instant::now() + s.wait;
    for &(upload, metrica_id) in sent {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match client.poll(counter, metrica_id, s.poll_interval, left) {
            Ok(last) => {
                println!("counter {counter}: upload #{upload} is {}", last.status);
                rt.block_on(store.mark_status(upload, last))?;
            }
            Err(e) => eprintln!(
                "counter {counter}: polling upload #{upload}: {e} (the next run checks again)"
            ),
        }
    }
    Ok(())
}

/// Late facts read per query, and so the most conversions in one file.
const LATE_PAGE: u32 = 5_000;

/// Revenue of chats already sent, as offline conversions on the counter's goal, a page of late
/// facts at a time (one file per page, recorded and sent before the next page is read, so many
/// late facts never sit in memory at once); true when a file was sent. Pages hold at most
/// `--rows-per-file` facts.
fn upload_late_revenue(
    rt: &tokio::runtime::Runtime,
    store: &dyn Storage,
    client: &MetricaClient,
    rules: &CounterRules,
    args: &UploadArgs,
    s: &Settings,
    sent: &mut Vec<(i64, u64)>,
) -> Result<bool, CommandError> {
    let counter = rules.id;
    let limit = u32::try_from(args.rows_per_file)
        .unwrap_or(u32::MAX)
        .clamp(1, LATE_PAGE);
    let mut after = None;
    let mut any = false;
    let mut unsent = 0;
    loop {
        let late = rt.block_on(store.late_revenue(counter, after, limit))?;
        let Some(last) = late.last() else { break };
        after = Some(last.conversation);
        let full = late.len() == limit as usize;
        match rules.revenue_goal.as_deref() {
            None => unsent += late.len(),
            Some(goal) => {
                any |= send_conversions(rt, store, client, counter, goal, &late, args, s, sent)?
            }
        }
        if !full {
            break;
        }
    }
    if unsent > 0 {
        eprintln!(
            "counter {counter}: {unsent} chat(s) have revenue that rides only on their chat row; amounts recorded after the row was sent are not sent: set revenue_goal for the counter"
        );
    }
    Ok(any)
}

/// One file of offline conversions for `late` (the distinct-second rule holds within it);
/// true when it was sent.
#[allow(clippy::too_many_arguments)]
fn send_conversions(
    rt: &tokio::runtime::Runtime,
    store: &dyn Storage,
    client: &MetricaClient,
    counter: u64,
    goal: &str,
    late: &[conversions::LateRevenue],
    args: &UploadArgs,
    s: &Settings,
    sent: &mut Vec<(i64, u64)>,
) -> Result<bool, CommandError> {
    let c = conversions::build(goal, late, now_ms() / 1000);
    for (conv, why) in &c.skipped {
        eprintln!("counter {counter}: revenue of chat #{conv} not sent: {why}");
    }
    if c.rows.is_empty() {
        return Ok(false);
    }
    let n = c.rows.len() as i64;
    let created_ms = now_ms();
    let id = rt.block_on(store.create_conversion_upload(
        counter,
        goal.to_string(),
        c.csv.clone(),
        c.rows,
        created_ms,
    ))?;
    let plan = PendingUpload {
        id,
        counter,
        kind: UploadKind::Conversions,
        csv: c.csv,
        rows: n,
        attempts: 0,
        created_ms,
    };
    sent.extend(send(rt, store, client, &plan, false, args, s)?);
    Ok(true)
}

/// Sends one file (retrying within the run, and once without refused columns) and records the
/// outcome. Returns the upload and Metrica's ID when Metrica's status is not final yet.
///
/// The file goes out with its key in the comment ([`super::upload::file_comment`]). When it may
/// already have reached Metrica (`maybe_sent`: a file of an earlier run, which may have been on
/// the wire when that run ended; or an attempt whose answer did not come back), Metrica's list
/// of uploads is read and a file found there by its key is adopted instead of being counted as
/// failed or sent again: a lost answer does not put the same chats into Metrica twice, nor
/// releases them into a new file. If the list cannot be read, nothing more is sent or counted
/// (the next run checks again).
fn send(
    rt: &tokio::runtime::Runtime,
    store: &dyn Storage,
    client: &MetricaClient,
    plan: &PendingUpload,
    maybe_sent: bool,
    args: &UploadArgs,
    s: &Settings,
) -> Result<Option<(i64, u64)>, CommandError> {
    let (counter, upload) = (plan.counter, plan.id);
    let what = match plan.kind {
        UploadKind::Chats => "chats",
        UploadKind::Conversions => "offline conversions",
    };
    let key = plan.key();
    let comment = super::upload::file_comment(&key, &args.comment);
    let mut csv = plan.csv.clone();
    let mut delay = s.retry_delay;
    let mut refusal_retried = false;
    let mut attempt = 0;
    while attempt < s.attempts {
        attempt += 1;
        if maybe_sent && attempt == 1 {
            if let Some(pending) = adopt_if_listed(rt, store, client, plan, &key)? {
                return Ok(pending);
            }
        }
        let answer = match plan.kind {
            UploadKind::Chats => client.upload(counter, &csv, Some(&comment)),
            UploadKind::Conversions => client.upload_conversions(counter, &csv, Some(&comment)),
        };
        // A refused unconfirmed column: the same rows once more, with confirmed columns only.
        // The refused file was not accepted, so nothing reaches Metrica twice.
        if let (Err(UploadError::Status { status, body }), UploadKind::Chats, false) =
            (&answer, plan.kind, refusal_retried)
        {
            let names = refusal::refused(*status, body, &csv);
            if !names.is_empty() {
                refusal_retried = true;
                let message = format!(
                    "Metrica refused column(s) {}: {status} {body}",
                    names.join(", ")
                );
                eprintln!("counter {counter}: upload #{upload}: {message}; sending the same rows with confirmed columns only");
                // Confirmed columns only: a second guessed header must not fail the retry.
                csv = refusal::without_columns(&csv, &refusal::unconfirmed_in(&csv));
                rt.block_on(store.refuse_columns(upload, names, message, csv.clone()))?;
                attempt -= 1;
                continue;
            }
        }
        match answer {
            Ok(u) => {
                println!(
                    "counter {counter}: uploaded #{upload}: {} {what}, Metrica upload {} status {} (rows {} / valid {})",
                    plan.rows,
                    u.id,
                    u.status,
                    u.source_quantity.map_or("?".into(), |v| v.to_string()),
                    u.line_quantity.map_or("?".into(), |v| v.to_string()),
                );
                let pending = (!u.is_final()).then_some((upload, u.id));
                rt.block_on(store.mark_sent(upload, u))?;
                return Ok(pending);
            }
            Err(e) => {
                // An answer that did not come back (or a gateway's 5xx) may hide an accepted
                // file; a 4xx is Metrica's own refusal.
                if e.is_retryable() {
                    eprintln!("counter {counter}: upload #{upload} attempt {attempt}: {e}; looking it up in Metrica's list of uploads");
                    if let Some(pending) = adopt_if_listed(rt, store, client, plan, &key)? {
                        return Ok(pending);
                    }
                }
                let msg = e.to_string();
                let state = rt.block_on(store.mark_failed(upload, msg))?;
                eprintln!("counter {counter}: upload #{upload} attempt {attempt} failed: {e}");
                if state == UploadState::Abandoned {
                    return Err(CommandError::Refused(format!("upload #{upload} abandoned after {} attempts; its chats go into the next file", MAX_ATTEMPTS)));
                }
                if !e.is_retryable() || attempt == s.attempts {
                    return Err(CommandError::Refused(format!(
                        "upload #{upload} failed: {e}"
                    )));
                }
                std::thread::sleep(delay);
                delay = delay.saturating_mul(2);
            }
        }
    }
    Err(CommandError::Refused(format!("upload #{upload} failed")))
}

/// Looks the file up in Metrica's list of uploads by its key; if Metrica has it, records it as
/// sent with Metrica's upload and returns `Some` (what [`send`] returns). A list that cannot be
/// read stops the run: sending again could count the chats twice.
fn adopt_if_listed(
    rt: &tokio::runtime::Runtime,
    store: &dyn Storage,
    client: &MetricaClient,
    plan: &PendingUpload,
    key: &str,
) -> Result<Option<Option<(i64, u64)>>, CommandError> {
    let (counter, upload) = (plan.counter, plan.id);
    let found = client.find_by_comment(counter, key).map_err(|e| {
        CommandError::Refused(format!(
            "upload #{upload}: cannot check whether Metrica already has it ({e}); not sending it again until that can be checked"
        ))
    })?;
    let Some(u) = found else { return Ok(None) };
    println!(
        "counter {counter}: upload #{upload} had reached Metrica (Metrica upload {}, status {}, found by its comment): not sent again",
        u.id, u.status
    );
    let pending = (!u.is_final()).then_some((upload, u.id));
    rt.block_on(store.mark_sent(upload, u))?;
    Ok(Some(pending))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert_eq!(parse_bound("2026-11-21", false).unwrap(), 1_795_219_200_000);
        assert_eq!(
            parse_bound("2026-11-21", true).unwrap(),
            1_795_219_200_000 + 86_400_000
        );
        assert!(parse_bound("21.11.2026", false).is_err());
    }
}
