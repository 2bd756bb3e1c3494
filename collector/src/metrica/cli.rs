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
use super::export::{self, ExportOptions};
use super::probable::{Verdict, EVIDENCE_DAYS};
use super::refusal;
use super::rules::apply_rules;
use super::rules::{is_counter_number, parse_counters, CounterRules};
use super::rules::{Candidate, DAY_MS};
use super::upload::{MetricaClient, OAuthToken, UploadError, DEFAULT_BASE};
use super::uploads::{PendingUpload, UploadKind, UploadState, MAX_ATTEMPTS};
use crate::chats::matching::{Method, Window};
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

    /// Comment stored with the upload in Metrica.
    #[arg(long, default_value = "chattag")]
    pub comment: String,

    /// Several `upload metrica` processes on one database: one uploads, and another takes over
    /// this long after it stopped (killed, cut off). See docs/postgresql.md.
    #[arg(long, env = "CHATTAG_LEASE_TTL", default_value = "30s",
          value_parser = crate::durations::parse_duration)]
    pub lease_ttl: Duration,
}

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
    // One worker thread: the upload lease is renewed there while this thread blocks on
    // Metrica's answers and sleeps between runs.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let store = crate::store::open(&db.database()?, false, Arc::new(StoreMetrics::default()))?;
    Ok((rt, store))
}

/// The file, the chats admitted by the send rules, and how many each rule excluded.
type Built = (
    export::Export,
    Vec<export::ExportChat>,
    Vec<(&'static str, usize)>,
);

/// How a file is built: `upload` holds back chats that have not settled (unless forced).
struct BuildMode {
    include_sent: bool,
    only_confirmed: bool,
    upload: bool,
}

fn build_export(
    rt: &tokio::runtime::Runtime,
    store: &dyn Storage,
    rules: &CounterRules,
    from: i64,
    to: i64,
    mode: BuildMode,
) -> Result<Built, CommandError> {
    let counter = rules.id;
    let include_sent = mode.include_sent;
    let now = now_ms();
    let (all, taken) = rt.block_on(store.export_candidates(counter, from, to, include_sent))?;
    let (all, held) = self_checked(rt, store, rules, all, now)?;
    let settling_at = (mode.upload && !include_sent).then_some(now);
    let (admitted, mut excluded) = apply_rules(rules, all, settling_at);
    if held > 0 {
        excluded.push(("probable-self-check", held));
    }
    let opts = ExportOptions {
        include_unattributed: rules.include_unattributed,
        allow_max: rules.allows_max(),
        now_s: now / 1000,
        only_confirmed: mode.only_confirmed,
        revenue_on_row: rules.revenue_goal.is_none(),
    };
    // With --all / --force the earlier seconds of these very chats are not "taken".
    let taken = if include_sent {
        Default::default()
    } else {
        taken
    };
    Ok((export::build(&admitted, &opts, &taken), admitted, excluded))
}

/// With `send_probable`, probable chats of a messenger go out only while the site's own
/// precision estimate clears the counter's bar; returns the rest and how many were held back.
fn self_checked(
    rt: &tokio::runtime::Runtime,
    store: &dyn Storage,
    rules: &CounterRules,
    all: Vec<Candidate>,
    now: i64,
) -> Result<(Vec<Candidate>, usize), CommandError> {
    let probable = |c: &Candidate| c.method == Method::ProbableClick.as_str();
    if !rules.send_probable || !all.iter().any(probable) {
        return Ok((all, 0));
    }
    let evidence = rt.block_on(store.probable_evidence(
        now - EVIDENCE_DAYS * DAY_MS,
        now,
        Window::default().before_ms,
    ))?;
    let verdict = |platform: &str| {
        evidence
            .iter()
            .find(|e| e.platform == platform)
            .map_or(Verdict::NotEnoughEvidence(0), |e| {
                e.verdict(rules.probable_min_precision)
            })
    };
    let mut platforms: Vec<&str> = all
        .iter()
        .filter(|c| probable(c))
        .map(|c| c.chat.platform.as_str())
        .collect();
    platforms.sort_unstable();
    platforms.dedup();
    for p in platforms {
        eprintln!(
            "counter {}: probable matches on {p}: {}",
            rules.id,
            verdict(p)
        );
    }
    let before = all.len();
    let kept: Vec<Candidate> = all
        .into_iter()
        .filter(|c| !probable(c) || matches!(verdict(&c.chat.platform), Verdict::Trusted(_)))
        .collect();
    let held = before - kept.len();
    Ok((kept, held))
}

fn explain(counter: u64, e: &export::Export, excluded: &[(&'static str, usize)]) {
    for (rule, n) in excluded {
        if *rule == "settling" {
            eprintln!("counter {counter}: {n} chat(s) not settled yet (not answered, settle time not passed): sent by a later run");
        } else if *rule == "probable-self-check" {
            eprintln!("counter {counter}: {n} probable chat(s) held back: the site's own precision estimate does not clear the bar");
        } else if *rule == "probable" {
            eprintln!("counter {counter}: {n} chat(s) excluded by the send rule `probable`: matched by click timing only, without a code (send_probable = true sends them while the site's precision estimate holds)");
        } else {
            eprintln!("counter {counter}: {n} chat(s) excluded by the send rule `{rule}`");
        }
    }
    let unconfirmed = refusal::unconfirmed_in(&e.csv);
    if !e.rows.is_empty() && !unconfirmed.is_empty() {
        eprintln!(
            "counter {counter}: columns not confirmed by Metrica's documentation: {} (--only-confirmed-columns leaves them out)",
            unconfirmed.join(", ")
        );
    }
    for (conv, why) in &e.skipped {
        eprintln!("counter {counter}: chat #{conv} left out: {why}");
    }
    for w in &e.warnings {
        eprintln!("counter {counter}: chat #{}: {}", w.conversation, w.message);
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
    let (e, _, excluded) = build_export(
        &rt,
        &*store,
        rules,
        from,
        to,
        BuildMode {
            include_sent: args.all,
            only_confirmed: args.select.only_confirmed_columns,
            upload: false,
        },
    )?;
    explain(rules.id, &e, &excluded);
    match &args.out {
        Some(path) => std::fs::write(path, &e.csv).map_err(|source| CommandError::Write {
            path: path.display().to_string(),
            source,
        })?,
        None => std::io::stdout().write_all(e.csv.as_bytes())?,
    }
    eprintln!("counter {}: {} row(s) written", rules.id, e.rows.len());
    Ok(())
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
        &rt, &*store, &client, &rules, &args, &settings, every, &lease,
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
    store: &dyn Storage,
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
    store: &dyn Storage,
    client: &MetricaClient,
    rules: &CounterRules,
    from: i64,
    to: i64,
    args: &UploadArgs,
    s: &Settings,
) -> Result<(), CommandError> {
    let counter = rules.id;

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

    // A failed file first, unchanged (its chats are reserved for it); a failure stops here so
    // that chats are never spread over two files in flight.
    let pending = rt.block_on(store.retry_candidate(counter))?;
    if let Some(p) = pending {
        println!(
            "counter {counter}: retrying upload #{} ({} chats, attempt {})",
            p.id,
            p.rows,
            p.attempts + 1
        );
        send(rt, store, client, &p, args, s)?;
    }

    // A column Metrica refused stays out of this counter's files.
    let refused = rt.block_on(store.refused_columns(counter))?;
    if !refused.is_empty() {
        eprintln!(
            "counter {counter}: Metrica refused the column(s) {}: sending confirmed columns only",
            refused.join(", ")
        );
    }
    let (e, chats, excluded) = build_export(
        rt,
        store,
        rules,
        from,
        to,
        BuildMode {
            include_sent: args.force,
            only_confirmed: args.select.only_confirmed_columns || !refused.is_empty(),
            upload: true,
        },
    )?;
    explain(counter, &e, &excluded);
    if e.rows.is_empty() {
        println!("counter {counter}: no new chats to upload");
    } else {
        let (csv, rows, force) = (e.csv.clone(), e.rows.clone(), args.force);
        let n = rows.len() as i64;
        let id = rt.block_on(store.create_upload(counter, csv, rows, chats, force))?;
        send(
            rt,
            store,
            client,
            &PendingUpload {
                id,
                counter,
                kind: UploadKind::Chats,
                csv: e.csv,
                rows: n,
                attempts: 0,
            },
            args,
            s,
        )?;
    }
    let sent_revenue = upload_late_revenue(rt, store, client, rules, args, s)?;
    if e.rows.is_empty() && !sent_revenue {
        println!("counter {counter}: nothing new to upload");
    }
    Ok(())
}

/// Revenue of chats already sent, as offline conversions on the counter's goal; true when a
/// file was sent.
fn upload_late_revenue(
    rt: &tokio::runtime::Runtime,
    store: &dyn Storage,
    client: &MetricaClient,
    rules: &CounterRules,
    args: &UploadArgs,
    s: &Settings,
) -> Result<bool, CommandError> {
    let counter = rules.id;
    let late = rt.block_on(store.late_revenue(counter))?;
    let Some(goal) = rules.revenue_goal.as_deref() else {
        if !late.is_empty() {
            eprintln!(
                "counter {counter}: {} chat(s) have revenue that rides only on their chat row; amounts recorded after the row was sent are not sent: set revenue_goal for the counter",
                late.len()
            );
        }
        return Ok(false);
    };
    let c = conversions::build(goal, &late, now_ms() / 1000);
    for (conv, why) in &c.skipped {
        eprintln!("counter {counter}: revenue of chat #{conv} not sent: {why}");
    }
    if c.rows.is_empty() {
        return Ok(false);
    }
    let n = c.rows.len() as i64;
    let id = rt.block_on(store.create_conversion_upload(
        counter,
        goal.to_string(),
        c.csv.clone(),
        c.rows,
    ))?;
    send(
        rt,
        store,
        client,
        &PendingUpload {
            id,
            counter,
            kind: UploadKind::Conversions,
            csv: c.csv,
            rows: n,
            attempts: 0,
        },
        args,
        s,
    )?;
    Ok(true)
}

fn send(
    rt: &tokio::runtime::Runtime,
    store: &dyn Storage,
    client: &MetricaClient,
    plan: &PendingUpload,
    args: &UploadArgs,
    s: &Settings,
) -> Result<(), CommandError> {
    let (counter, upload) = (plan.counter, plan.id);
    let what = match plan.kind {
        UploadKind::Chats => "chats",
        UploadKind::Conversions => "offline conversions",
    };
    let mut csv = plan.csv.clone();
    let mut delay = s.retry_delay;
    let mut refusal_retried = false;
    let mut attempt = 0;
    while attempt < s.attempts {
        attempt += 1;
        let answer = match plan.kind {
            UploadKind::Chats => client.upload(counter, &csv, Some(&args.comment)),
            UploadKind::Conversions => {
                client.upload_conversions(counter, &csv, Some(&args.comment))
            }
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
                let first = u.clone();
                rt.block_on(store.mark_sent(upload, first))?;
                if !s.wait.is_zero() && !u.is_final() {
                    match client.poll(counter, u.id, s.poll_interval, s.wait) {
                        Ok(last) => {
                            println!("counter {counter}: upload #{upload} is {}", last.status);
                            rt.block_on(store.mark_status(upload, last))?;
                        }
                        Err(e) => eprintln!("counter {counter}: polling upload #{upload}: {e} (the next run checks again)"),
                    }
                }
                return Ok(());
            }
            Err(e) => {
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
