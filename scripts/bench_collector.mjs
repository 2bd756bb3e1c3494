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
// Then PostgreSQL (runPostgresBench): the same ingest load on SQLite, on PostgreSQL with one
// collector, and on PostgreSQL with two collectors on one database (two load generators, half
// the connections each), with the CPU each side used and PostgreSQL's commit and WAL counts.
// The cluster is a throwaway one from scripts/postgres.sh (or CHATTAG_BENCH_POSTGRES, a base
// URL of your own); without PostgreSQL the section says it was skipped.
//
//   node scripts/bench_collector.mjs [--rounds 2] [--duration 5] [--connections 128] [--batches 10,1] [--no-build] [--no-write] [--no-webhooks] [--no-postgres | --only-postgres]
//
// Bounded: rounds × scenarios × (warmup + duration) seconds of load, then the server is stopped.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TARGETS = { eventsPerSec: 20_000, p99Ms: 25, ratioToBare: 0.5 };
const ORIGIN = 'https://bench.example';

function parseArgs(argv) {
  const opts = { rounds: 2, duration: 5, warmup: 1, connections: 128, build: true, write: true, batches: [10, 1], webhooks: true, ingest: true, postgres: true };
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
    else if (a === '--only-webhooks') { opts.ingest = false; opts.postgres = false; }
    else if (a === '--no-postgres') opts.postgres = false;
    else if (a === '--only-postgres') { opts.ingest = false; opts.webhooks = false; }
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
function startCollector(dbPath, extraEnv = {}, extraArgs = []) {
  const bin = join(targetDir(), 'release', 'chattag-collector');
  const child = spawn(
    bin,
    // One loopback client sends millions of events: the per-client rate limit and the daily
    // event quotas would refuse most of them. Timeouts, the connection cap and the disk floor
    // stay at their defaults.
    ['--listen', '127.0.0.1:0', '--db', dbPath, '--allowed-origin', ORIGIN, '--rate-limit', '0',
      '--site-daily-events', '0', '--daily-events', '0', '--bench-bare', '--log', 'warn', ...extraArgs],
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

/** Loadgen without blocking the event loop: two of them run at once for two instances. */
function loadgenAsync(addr, path, batch, opts, connections) {
  const bin = join(targetDir(), 'release', 'chattag-loadgen');
  const args = ['--url', `http://${addr}${path}`, '--origin', ORIGIN, '--connections', String(connections),
    '--batch', String(batch), '--duration', String(opts.duration), '--warmup', String(opts.warmup)];
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim())) : reject(new Error(`loadgen failed: ${err}`))));
  });
}

/** CPU seconds (user + system) a process has used, from /proc (0 once it is gone). */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}

/** The postmaster and its backends (every process whose parent is the postmaster). */
function postgresPids(dataDir) {
  const master = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const pids = [master];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === master) pids.push(Number(entry));
    } catch { /* gone */ }
  }
  return pids;
}

/** Busy and total CPU time of the whole machine (every helper's work included), in ticks. */
function machineTicks() {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = cpu[3] + cpu[4];
  const total = cpu.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

function psql(url, sql) {
  const r = spawnSync('psql', ['-X', '-A', '-t', '-q', '-d', url, '-c', sql], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** A throwaway cluster (scripts/postgres.sh) or the one CHATTAG_BENCH_POSTGRES names. */
function startCluster() {
  if (process.env.CHATTAG_BENCH_POSTGRES) return { base: process.env.CHATTAG_BENCH_POSTGRES, dir: process.env.CHATTAG_PG_DIR ?? null, own: false };
  const r = spawnSync('bash', [join(ROOT, 'scripts', 'postgres.sh'), 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) return null;
  const vars = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split('=')).map(([k, ...v]) => [k, v.join('=')]));
  return { base: vars.CHATTAG_TEST_POSTGRES, dir: vars.CHATTAG_PG_DIR, own: true };
}

/**
 * One row: `instances` collectors on a fresh database (a SQLite file, or a PostgreSQL database
 * on `cluster`), the load split over them, closed loop, rounds × duration.
 */
async function engineRow(engine, instances, batch, opts, cluster) {
  const dir = mkdtempSync(join(tmpdir(), 'chattag-bench-pg-'));
  let db = join(dir, 'bench.db');
  let dbName = null;
  if (engine === 'postgresql') {
    dbName = `chattag_bench_${process.pid}_${Date.now()}`;
    psql(cluster.base, `CREATE DATABASE ${dbName}`);
    db = cluster.base.replace(/\/[^/?]*(\?.*)?$/, `/${dbName}$1`);
  }
  const servers = [];
  try {
    for (let i = 0; i < instances; i++) servers.push(await startCollector(db));
    const pgData = engine === 'postgresql' && cluster.dir ? join(cluster.dir, 'data') : null;
    const pgCpu = () => (pgData ? postgresPids(pgData).map(cpuSeconds).reduce((a, b) => a + b, 0) : 0);
    const rounds = [];
    let collectorCpu = 0;
    let postgresCpu = 0;
    let machineBusy = 0;
    let machineTotal = 0;
    const stats = () => (engine === 'postgresql'
      ? psql(db, `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database(); SELECT wal_records || ' ' || wal_bytes || ' ' || wal_sync FROM pg_stat_wal`).split('\n').map((l) => l.split(' ').map(Number))
      : null);
    const before = stats();
    for (let r = 0; r < opts.rounds; r++) {
      const cpu0 = servers.map((s) => cpuSeconds(s.child.pid));
      const pg0 = pgCpu();
      const m0 = machineTicks();
      const results = await Promise.all(servers.map((s) => loadgenAsync(s.addr, '/v1/events', batch, opts, Math.max(1, Math.round(opts.connections / instances)))));
      const m1 = machineTicks();
      collectorCpu += servers.reduce((sum, s, i) => sum + cpuSeconds(s.child.pid) - cpu0[i], 0);
      // Backends of connections closed during the round took their CPU with them: a lower bound.
      postgresCpu += pgCpu() - pg0;
      machineBusy += m1.busy - m0.busy;
      machineTotal += m1.total - m0.total;
      // One round of n instances: events summed, latency the worst of them.
      const round = {
        duration_s: Math.max(...results.map((x) => x.duration_s)),
        events: results.reduce((a, x) => a + x.events, 0),
        requests_ok: results.reduce((a, x) => a + x.requests_ok, 0),
        p50_ms: Math.max(...results.map((x) => x.p50_ms)),
        p99_ms: Math.max(...results.map((x) => x.p99_ms)),
        non_2xx: results.reduce((a, x) => a + x.non_2xx, 0),
        errors: results.reduce((a, x) => a + x.errors, 0),
      };
      round.events_per_s = round.events / round.duration_s;
      round.drain_s = engine === 'sqlite' ? await drain(servers[0].addr) : 0;
      rounds.push(round);
    }
    const after = stats();
    const c = combine(rounds);
    // Warmup load counts in the CPU and database totals but not in `events`: per-event costs
    // use every event the servers accepted.
    let accepted = 0;
    for (const s of servers) accepted += await metricValue(s.addr, 'chattag_events_accepted_total');
    const pg = before && after
      ? { commits: after[0][0] - before[0][0], walRecords: after[1][0] - before[1][0], walBytes: after[1][1] - before[1][1], walSyncs: after[1][2] - before[1][2] }
      : null;
    return { engine, instances, batch, c, accepted, collectorCpu, postgresCpu: pgData ? postgresCpu : NaN, machineBusy, machineTotal, pg };
  } finally {
    for (const s of servers) {
      s.child.kill('SIGTERM');
      await new Promise((r) => s.child.once('exit', r));
    }
    if (dbName) {
      try { psql(cluster.base, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`); } catch { /* the cluster goes anyway */ }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * SQLite and PostgreSQL, one and two instances, the same load: a markdown section.
 */
export async function runPostgresBench(opts) {
  const cluster = startCluster();
  if (!cluster) return '## PostgreSQL\n\nSkipped: no PostgreSQL cluster could be started (scripts/postgres.sh start failed).\n';
  const loadBefore = loadavg();
  const rows = [];
  let version = '?';
  try {
    version = psql(cluster.base, 'SHOW server_version');
    for (const batch of opts.batches) {
      for (const [engine, instances] of [['sqlite', 1], ['postgresql', 1], ['postgresql', 2]]) {
        rows.push(await engineRow(engine, instances, batch, opts, cluster));
      }
    }
  } finally {
    if (cluster.own) spawnSync('bash', [join(ROOT, 'scripts', 'postgres.sh'), 'stop', cluster.dir], { stdio: 'inherit' });
  }
  const loadAfter = loadavg();
  const us = (cpu, n) => (n > 0 && Number.isFinite(cpu) ? `${Math.round((cpu * 1e6) / n)}` : '–');
  const lines = [
    '| batch | engine | instances | events/s acknowledged | events/s applied | p50 ms | p99 ms | failed | collector CPU µs/event | PostgreSQL CPU µs/event | machine busy | commits/s | WAL bytes/event | target check |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    const one = rows.find((x) => x.batch === r.batch && x.engine === 'postgresql' && x.instances === 1);
    let check = '';
    const sustained = Math.min(r.c.eventsPerSec, r.c.appliedPerSec);
    if (r.engine === 'postgresql' && r.instances === 1) check = `${fmt(sustained)} ≥ 10,000 ev/s ${mark(sustained >= 10_000)}`;
    if (r.engine === 'postgresql' && r.instances === 2) check = `≥ one instance (${fmt(Math.min(one.c.eventsPerSec, one.c.appliedPerSec))}) ${mark(sustained >= 0.95 * Math.min(one.c.eventsPerSec, one.c.appliedPerSec))}`;
    const secs = r.c.events / r.c.eventsPerSec;
    lines.push(`| ${r.batch} | ${r.engine === 'sqlite' ? 'SQLite' : 'PostgreSQL'} | ${r.instances} | **${fmt(r.c.eventsPerSec)}** | **${fmt(r.c.appliedPerSec)}** | ${r.c.p50.toFixed(2)} | ${r.c.p99.toFixed(2)} | ${r.c.failures} | ${us(r.collectorCpu, r.accepted)} | ${r.engine === 'sqlite' ? '–' : us(r.postgresCpu, r.accepted)} | ${Math.round((100 * r.machineBusy) / Math.max(1, r.machineTotal))}% | ${r.pg ? fmt(r.pg.commits / (secs + opts.rounds * opts.warmup)) : '–'} | ${r.pg ? fmt(r.pg.walBytes / Math.max(1, r.accepted)) : '–'} | ${check} |`);
  }
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  const context = [
    `- run: ${new Date().toISOString()}, commit ${commit || 'unknown'}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, PostgreSQL ${version} (scripts/postgres.sh: fsync on, synchronous_commit on, shared_buffers 64MB) on the same machine; load average before / after: ${loadBefore.map((x) => x.toFixed(2)).join(' ')} / ${loadAfter.map((x) => x.toFixed(2)).join(' ')}`,
    `- the same load as the ingest table above (every event new), closed loop, ${opts.connections} keep-alive connections in all (two instances: two load generators with ${Math.round(opts.connections / 2)} each, started together), ${opts.rounds} rounds × ${opts.duration} s after ${opts.warmup} s warmup, a fresh database per row; events/s summed over instances and rounds, p50/p99 = worst instance and round`,
    `- acknowledged = answered 200; applied = in the tables: on PostgreSQL the answer comes after COMMIT, so both are the same; on SQLite the answer comes after the inbox fsync and the drain time after the load counts in`,
    `- CPU per event = CPU seconds of the collector process(es) / of the PostgreSQL server processes (postmaster and backends, from /proc) during the rounds, over every event accepted (warmup included); machine busy = share of both cores busy during the rounds, every process on the machine included (the load generator, and other work: the machine is shared)`,
    `- commits/s and WAL bytes/event from pg_stat_database and pg_stat_wal over the whole row`,
  ].join('\n');
  return `## PostgreSQL\n\n${lines.join('\n')}\n\n${context}\n`;
}

async function main() {
  const argv = process.argv.slice(2);
  const opts = parseArgs(argv);
  // Each part is run, or (not asked for) kept from the file as last recorded.
  const fresh = {};
  if (opts.ingest) {
    const { table, context, allPass } = await runCollectorBench(argv);
    fresh['Collector ingest'] = `## Collector ingest\n\n${table}\n\n${context}\n\nOverall: ${allPass ? 'PASS' : 'MISS'}\n`;
  } else if (opts.build) build();
  if (opts.webhooks) fresh['Webhook path'] = await runWebhookBench(opts);
  if (opts.postgres) fresh.PostgreSQL = await runPostgresBench(opts);
  const out = Object.values(fresh).join('\n');
  console.log(out);
  if (!argv.includes('--no-write')) {
    const file = join(ROOT, 'docs', 'benchmarks-collector.md');
    mkdirSync(dirname(file), { recursive: true });
    // Hand-written notes below the marker survive re-runs; the generated part is replaced.
    const MARKER = '<!-- notes: kept across runs -->';
    let notes = '';
    let prev = '';
    try {
      prev = readFileSync(file, 'utf8');
    } catch {
      /* first run */
    }
    const idx = prev.indexOf(MARKER);
    if (idx >= 0) notes = `\n${prev.slice(idx)}`;
    // The generated part as last written, without the title paragraph: each part run now
    // replaces its own section there, a new one is added at the end, and everything else
    // (other parts, hand-written sections above the marker) stays.
    let generated = (idx >= 0 ? prev.slice(0, idx) : prev).replace(/^# Collector benchmark\n\n[^\n]*\n\n/, '');
    for (const [name, text] of Object.entries(fresh)) {
      const re = new RegExp(`^## ${name}[\\s\\S]*?(?=^## |(?![\\s\\S]))`, 'm');
      generated = re.test(generated) ? generated.replace(re, `${text.trimEnd()}\n\n`) : `${generated.trimEnd()}\n\n${text}`;
    }
    const written = `${generated.trim()}\n`;
    writeFileSync(
      file,
      `# Collector benchmark\n\nProduced by \`node scripts/bench_collector.mjs\` (also part of \`npm run bench\` once wired). Targets on the 2-core machines: ≥ 20,000 events/s, p99 ≤ 25 ms, ≥ 0.5× the bare handler; on PostgreSQL ≥ 10,000 events/s with one instance and no loss with two.\n\n${written}${notes}`,
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
