#!/usr/bin/env node
// Collector ingest benchmark: builds the release binaries, starts chattag-collector on a
// temporary SQLite database (loopback only), and measures ingest with chattag-loadgen against
// the real POST /v1/events and, in alternating rounds of the same run, against a bare handler
// on the same server stack (hidden --bench-bare route: same middleware, reads the body, answers
// without parsing or storing). Per batch size:
//
//   * closed loop (highest throughput): acknowledged events/s, and the rate at which they reach
//     the mapping tables — ingest answers once events are durable in the inbox, and the tables
//     follow; after each round the run waits until the backlog is applied, and "applied/s"
//     counts that drain time in (a lower bound on the sustained rate);
//   * open loop at the target rate (20,000 events/s): latency percentiles measured from each
//     request's scheduled time, which is what "p99 at 20,000 events/s" means.
//
// Prints a markdown table with PASS/MISS against the targets and writes it to
// docs/benchmarks-collector.md.
//
// Then the webhook path (runWebhookBench): signed WhatsApp Cloud API notifications with 1 and 20
// messages each, posted to POST /v1/webhooks/whatsapp of a collector with an app secret, each
// message from a new person; messages/s and latency percentiles, closed loop, and the server's
// accepted-delivery counter checked against the acknowledged requests.
//
//   node scripts/bench_collector.mjs [--rounds 2] [--duration 5] [--connections 128] [--batches 10,1] [--no-build] [--no-write] [--no-webhooks]
//
// Bounded: rounds × scenarios × (warmup + duration) seconds of load, then the server is stopped.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TARGETS = { eventsPerSec: 20_000, p99Ms: 25, ratioToBare: 0.5 };
const ORIGIN = 'https://bench.example';

function parseArgs(argv) {
  const opts = { rounds: 2, duration: 5, warmup: 1, connections: 128, build: true, write: true, batches: [10, 1], webhooks: true, ingest: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      return v;
    };
    if (a === '--rounds') opts.rounds = Math.min(num(), 10);
    else if (a === '--duration') opts.duration = Math.min(num(), 60);
    else if (a === '--connections') opts.connections = Math.min(num(), 256);
    else if (a === '--batches') opts.batches = argv[++i].split(',').map(Number).filter((n) => n >= 1 && n <= 100);
    else if (a === '--no-build') opts.build = false;
    else if (a === '--no-write') opts.write = false;
    else if (a === '--no-webhooks') opts.webhooks = false;
    else if (a === '--only-webhooks') opts.ingest = false;
    else throw new Error(`unknown argument ${a}`);
  }
  return opts;
}

function build() {
  const r = spawnSync('cargo', ['build', '--release', '-p', 'chattag-collector', '--bins'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('cargo build --release -p chattag-collector failed');
}

function targetDir() {
  return process.env.CARGO_TARGET_DIR ? process.env.CARGO_TARGET_DIR : join(ROOT, 'target');
}

/** Starts the collector on port 0 and resolves with { child, addr } once it prints its address. */
function startCollector(dbPath, extraEnv = {}) {
  const bin = join(targetDir(), 'release', 'chattag-collector');
  const child = spawn(
    bin,
    // One loopback client sends millions of events: the per-client rate limit and the daily
    // event quotas would refuse most of them. Timeouts, the connection cap and the disk floor
    // stay at their defaults.
    ['--listen', '127.0.0.1:0', '--db', dbPath, '--allowed-origin', ORIGIN, '--rate-limit', '0',
      '--site-daily-events', '0', '--daily-events', '0', '--bench-bare', '--log', 'warn'],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, CHATTAG_READ_TOKEN: '', ...extraEnv } },
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('collector did not start within 15 s')), 15_000);
    child.once('exit', (code) => reject(new Error(`collector exited early (${code})`)));
    const rl = createInterface({ input: child.stdout });
    rl.once('line', (line) => {
      clearTimeout(timer);
      const m = /listening on http:\/\/(\S+)/.exec(line);
      if (!m) reject(new Error(`unexpected collector output: ${line}`));
      else resolve({ child, addr: m[1] });
    });
  });
}

function loadgen(addr, path, batch, opts, rate, extra = []) {
  const bin = join(targetDir(), 'release', 'chattag-loadgen');
  const args = ['--url', `http://${addr}${path}`, '--origin', ORIGIN, '--connections', String(opts.connections),
    '--batch', String(batch), '--duration', String(opts.duration), '--warmup', String(opts.warmup), ...extra];
  if (rate) args.push('--rate', String(rate));
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: (opts.duration + opts.warmup + 30) * 1000 });
  if (r.status !== 0) throw new Error(`loadgen failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim());
}

/**
 * GET with one retry on a connection error: the server closes idle keep-alive connections (its
 * idle and header timeouts), and a reused pooled socket can be closed just as it is reused
 * ("other side closed"); a GET is safe to send again, as browsers do.
 */
async function get(url) {
  try {
    return await fetch(url);
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
    return fetch(url);
  }
}

async function metricValue(addr, name) {
  const res = await get(`http://${addr}/metrics`);
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

/**
 * The webhook path: signed WhatsApp notifications with `batch` messages each, closed loop, on a
 * fresh database per batch size. Returns a markdown section.
 */
export async function runWebhookBench(opts, batches = [1, 20]) {
  const rows = [];
  const loadBefore = loadavg();
  for (const batch of batches) {
    const dir = mkdtempSync(join(tmpdir(), 'chattag-bench-wa-'));
    const secret = `bench-app-secret-${process.pid}-${Date.now()}`;
    const secretFile = join(dir, 'app-secret');
    writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
    const { child, addr } = await startCollector(join(dir, 'bench.db'), {
      CHATTAG_WHATSAPP_APP_SECRET: secret,
      CHATTAG_WHATSAPP_VERIFY_TOKEN: `bench-verify-${process.pid}`,
    });
    try {
      const rounds = [];
      for (let i = 0; i < opts.rounds; i++) {
        rounds.push(loadgen(addr, '/v1/webhooks/whatsapp', batch, opts, null, ['--whatsapp-secret-file', secretFile]));
      }
      const accepted = await metricValue(addr, 'chattag_chat_webhooks_total{messenger="whatsapp",outcome="accepted"}');
      const acked = rounds.reduce((s, r) => s + r.requests_ok, 0);
      // Warmup requests are accepted too: the server's count is at least the measured acks.
      if (!(accepted >= acked)) throw new Error(`server accepted ${accepted} WhatsApp deliveries, the load generator counted ${acked}`);
      rows.push({ batch, c: combine(rounds) });
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const loadAfter = loadavg();
  const lines = [
    '| messages per notification | notifications/s | messages/s | p50 ms | p99 ms | failed | messages/s per round |',
    '|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map(({ batch, c }) => `| ${batch} | ${fmt(c.requestsPerSec)} | **${fmt(c.eventsPerSec)}** | ${c.p50.toFixed(2)} | **${c.p99.toFixed(2)}** | ${c.failures} | ${c.perRound.join(', ')} |`),
  ];
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  const context = [
    `- run: ${new Date().toISOString()}, commit ${commit || 'unknown'}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}; load average before / after: ${loadBefore.map((x) => x.toFixed(2)).join(' ')} / ${loadAfter.map((x) => x.toFixed(2)).join(' ')}`,
    `- POST /v1/webhooks/whatsapp, each notification signed (X-Hub-Signature-256, HMAC-SHA256 of the body) and verified; every message from a new person, every other one with a chat ID in its text; answered after the messages are committed to SQLite (conversation opened and matched in the same transaction; WAL, synchronous=FULL)`,
    `- ${opts.connections} keep-alive connections, closed loop, ${opts.rounds} rounds × ${opts.duration} s after ${opts.warmup} s warmup; a fresh database per row; p50/p99 = worst round (latency at saturation)`,
  ].join('\n');
  return `## Webhook path (WhatsApp)\n\n${lines.join('\n')}\n\n${context}\n`;
}

/** Waits until the collector has applied every acknowledged event; returns the seconds it took. */
async function drain(addr) {
  const started = Date.now();
  for (;;) {
    const health = await (await get(`http://${addr}/healthz`)).json();
    if (health.inbox_backlog === 0) return (Date.now() - started) / 1000;
    if (Date.now() - started > 120_000) throw new Error(`backlog of ${health.inbox_backlog} events not applied within 120 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sum rates over rounds; latency = worst round (percentiles cannot be averaged honestly). */
function combine(rounds) {
  const secs = rounds.reduce((s, r) => s + r.duration_s, 0);
  const drainSecs = rounds.reduce((s, r) => s + (r.drain_s ?? 0), 0);
  return {
    // Acknowledged during the measured windows, over those windows plus the time the tables
    // needed afterwards to catch up: how fast events reach the tables, sustained.
    appliedPerSec: rounds.reduce((s, r) => s + r.events, 0) / (secs + drainSecs),
    drainSecs,
    events: rounds.reduce((s, r) => s + r.events, 0),
    eventsPerSec: rounds.reduce((s, r) => s + r.events, 0) / secs,
    requestsPerSec: rounds.reduce((s, r) => s + r.requests_ok, 0) / secs,
    p50: Math.max(...rounds.map((r) => r.p50_ms)),
    p99: Math.max(...rounds.map((r) => r.p99_ms)),
    failures: rounds.reduce((s, r) => s + r.non_2xx + r.errors, 0),
    perRound: rounds.map((r) => Math.round(r.events_per_s)),
  };
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');
const mark = (ok) => (ok ? 'PASS' : 'MISS');

export async function runCollectorBench(argv = []) {
  const opts = parseArgs(argv);
  if (opts.build) build();
  const dir = mkdtempSync(join(tmpdir(), 'chattag-bench-'));
  const loadBefore = loadavg();
  const { child, addr } = await startCollector(join(dir, 'bench.db'));
  const rows = [];
  try {
    for (const batch of opts.batches) {
      // Applying an event costs more as the random-key indexes outgrow the page cache, so the
      // size of the database each batch size met is part of its result.
      const storedBefore = await metricValue(addr, 'chattag_events_accepted_total');
      const bare = [];
      const ingest = [];
      // Alternate so that both see the same machine conditions (the 2 cores are shared).
      for (let i = 0; i < opts.rounds; i++) {
        bare.push(loadgen(addr, '/bench/bare', batch, opts));
        const round = loadgen(addr, '/v1/events', batch, opts);
        round.drain_s = await drain(addr);
        ingest.push(round);
      }
      const rate = TARGETS.eventsPerSec / batch;
      const paced = loadgen(addr, '/v1/events', batch, opts, rate);
      paced.drain_s = await drain(addr);
      rows.push({ batch, storedBefore, bare: combine(bare), ingest: combine(ingest), paced: combine([paced]) });
    }
    const acceptedTotal = await metricValue(addr, 'chattag_events_accepted_total');
    const measuredIngest = rows.reduce((s, r) => s + r.ingest.events + r.paced.events, 0);
    // Warmup events are accepted too, so the server count must be at least the measured acks.
    if (!(acceptedTotal >= measuredIngest)) {
      throw new Error(`server accepted ${acceptedTotal} events but the load generator counted ${measuredIngest} acknowledged`);
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
  const loadAfter = loadavg();

  const lines = [];
  lines.push('| batch | load | handler | events/s acknowledged | events/s applied | requests/s | p50 ms | p99 ms | failed | vs bare | target check |');
  lines.push('|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|');
  let allPass = true;
  for (const { batch, bare, ingest, paced } of rows) {
    const sustained = Math.min(ingest.eventsPerSec, ingest.appliedPerSec);
    const ratio = sustained / bare.eventsPerSec;
    const pacedOk = paced.eventsPerSec >= 0.98 * TARGETS.eventsPerSec && paced.failures === 0;
    const checks = [
      `${fmt(sustained)} ≥ 20,000 ev/s ${mark(sustained >= TARGETS.eventsPerSec)}`,
      `≥ 0.5× bare ${mark(ratio >= TARGETS.ratioToBare)}`,
    ];
    allPass &&= sustained >= TARGETS.eventsPerSec && ratio >= TARGETS.ratioToBare && ingest.failures === 0
      && paced.p99 <= TARGETS.p99Ms && pacedOk;
    lines.push(`| ${batch} | closed loop | bare (same stack, no parse/store) | ${fmt(bare.eventsPerSec)} | – | ${fmt(bare.requestsPerSec)} | ${bare.p50.toFixed(2)} | ${bare.p99.toFixed(2)} | ${bare.failures} | 1.00× | |`);
    lines.push(`| ${batch} | closed loop | **ingest** | **${fmt(ingest.eventsPerSec)}** | **${fmt(ingest.appliedPerSec)}** | ${fmt(ingest.requestsPerSec)} | ${ingest.p50.toFixed(2)} | ${ingest.p99.toFixed(2)} | ${ingest.failures} | ${ratio.toFixed(2)}× | ${checks.join('; ')} |`);
    lines.push(`| ${batch} | open loop, ${fmt(TARGETS.eventsPerSec)} ev/s | **ingest** | ${fmt(paced.eventsPerSec)} | ${fmt(paced.appliedPerSec)} | ${fmt(paced.requestsPerSec)} | ${paced.p50.toFixed(2)} | **${paced.p99.toFixed(2)}** | ${paced.failures} | | p99 ≤ 25 ms at 20,000 ev/s ${mark(paced.p99 <= TARGETS.p99Ms && pacedOk)} |`);
  }
  const table = lines.join('\n');
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  const context = [
    `- run: ${new Date().toISOString()}, commit ${commit || 'unknown'}, ${cpus().length} × ${cpu}`,
    `- load average before / after: ${loadBefore.map((x) => x.toFixed(2)).join(' ')} / ${loadAfter.map((x) => x.toFixed(2)).join(' ')} (the machine is shared; a load above ${cpus().length} means other work competed for the CPUs)`,
    `- ${opts.connections} keep-alive connections; closed loop: ${opts.rounds} rounds × ${opts.duration} s per handler after ${opts.warmup} s warmup, bare and ingest rounds alternating, events/s summed over rounds, p50/p99 = worst round; open loop: one ${opts.duration} s run at 20,000 events/s (requests scheduled evenly, latency from the scheduled time)`,
    `- ingest = text/plain JSON batches shaped like the snippet's (issue with ClientID, yclid, UTM; click on a Telegram bot link), every event new, validated, deduplicated; answered after the group's fsync to the inbox (append-only log); "applied" = the same events in the SQLite mapping tables (WAL, synchronous=FULL), including the time to drain the backlog after the load stopped (${rows.map((r) => `batch ${r.batch}: ${r.ingest.drainSecs.toFixed(2)} s`).join(', ')})`,
    `- sustained = min(acknowledged, applied); "vs bare" uses it`,
    `- one database for the whole run, in the order above; events already stored when each batch size started: ${rows.map((r) => `batch ${r.batch}: ${fmt(r.storedBefore || 0)}`).join(', ')}`,
    `- events/s per round (ingest, acknowledged): ${rows.map((r) => `batch ${r.batch}: ${r.ingest.perRound.join(', ')}`).join('; ')}`,
  ].join('\n');
  return { table, context, allPass, rows };
}

async function main() {
  const argv = process.argv.slice(2);
  const opts = parseArgs(argv);
  let out = '';
  if (opts.ingest) {
    const { table, context, allPass } = await runCollectorBench(argv);
    out += `## Collector ingest\n\n${table}\n\n${context}\n\nOverall: ${allPass ? 'PASS' : 'MISS'}\n`;
  } else if (opts.build) build();
  if (opts.webhooks) {
    out += `${out ? '\n' : ''}${await runWebhookBench(opts)}`;
  }
  console.log(out);
  if (!argv.includes('--no-write')) {
    const file = join(ROOT, 'docs', 'benchmarks-collector.md');
    mkdirSync(dirname(file), { recursive: true });
    // Hand-written notes below the marker survive re-runs; the generated part is replaced.
    const MARKER = '<!-- notes: kept across runs -->';
    let notes = '';
    let written = out;
    try {
      const prev = readFileSync(file, 'utf8');
      const idx = prev.indexOf(MARKER);
      if (idx >= 0) notes = `\n${prev.slice(idx)}`;
      // A run of one part keeps the other part's last recorded section.
      const section = (name) => {
        const m = new RegExp(`^## ${name}[\\s\\S]*?(?=^## |^${MARKER}|(?![\\s\\S]))`, 'm').exec(idx >= 0 ? prev.slice(0, idx) : prev);
        return m ? m[0].trimEnd() + '\n' : '';
      };
      if (!opts.ingest) written = `${section('Collector ingest')}\n${out}`;
      else if (!opts.webhooks) written = `${out}\n${section('Webhook path')}`;
    } catch {
      /* first run */
    }
    writeFileSync(
      file,
      `# Collector benchmark\n\nProduced by \`node scripts/bench_collector.mjs\` (also part of \`npm run bench\` once wired). Targets on the 2-core machines: ≥ 20,000 events/s, p99 ≤ 25 ms, ≥ 0.5× the bare handler.\n\n${written}${notes}`,
    );
    console.log(`written: docs/benchmarks-collector.md`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e) => {
    console.error(`bench_collector: ${e.stack}\n${e.cause ? e.cause.stack || e.cause : ""}`);
    process.exit(1);
  });
}
