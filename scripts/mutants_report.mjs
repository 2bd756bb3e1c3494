// Writes the results of `npm run mutants` into docs/quality.md: a summary line, a table per file
// and every missed mutant, each with the reason it is equivalent (from the hand-kept list in the
// same file) or flagged as needing a test.
//
//   node scripts/mutants_report.mjs <output dir of one scripts/mutants.sh group>...
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';

const DOC = 'docs/quality.md';
const BEGIN = '<!-- mutants results: written by scripts/mutants_report.mjs -->';
const END = '<!-- end of mutants results -->';
const EQUIV_HEADING = '## Equivalent mutants';

const dirs = process.argv.slice(2).map((d) => d.replace(/\/$/, ''));

/** `core/src/url.rs:12:5: replace x with y` → `core/src/url.rs: replace x with y` (lines move). */
const key = (name) => name.replace(/^([^:]+):\d+:\d+: /, '$1: ');

/** Reasons by key, from lines "- `<key>` — <reason>" under the equivalent-mutants heading. */
function equivalents(doc) {
  const at = doc.indexOf(EQUIV_HEADING);
  const reasons = new Map();
  if (at < 0) return reasons;
  for (const line of doc.slice(at).split('\n')) {
    const m = /^- `([^`]+)` — (.+)$/.exec(line.trim());
    if (m) reasons.set(m[1], m[2]);
  }
  return reasons;
}

const SUMMARY = {
  CaughtMutant: 'caught',
  MissedMutant: 'missed',
  Unviable: 'unviable',
  Timeout: 'timeout',
};

const runs = [];
for (const dir of dirs) {
  const path = `${dir}/mutants.out/outcomes.json`;
  if (!existsSync(path)) continue;
  const data = JSON.parse(readFileSync(path, 'utf8'));
  const listed = `${dir}/mutants.out/mutants.json`;
  const total = existsSync(listed) ? JSON.parse(readFileSync(listed, 'utf8')).length : 0;
  const outcomes = [];
  for (const o of data.outcomes) {
    const m = o.scenario?.Mutant;
    if (m) outcomes.push({ name: m.name, file: m.file, kind: SUMMARY[o.summary] ?? 'missed' });
  }
  const secs = ((data.end_time ? Date.parse(data.end_time) : Date.now()) - Date.parse(data.start_time)) / 1000;
  const [commit = '?', dirty = ''] = existsSync(`${dir}/commit`)
    ? readFileSync(`${dir}/commit`, 'utf8').trim().split('\n')
    : [];
  // The test targets, from the baseline's `cargo test` command line.
  const argv = data.outcomes.find((o) => o.scenario === 'Baseline')?.phase_results?.at(-1)?.argv ?? [];
  const tests = argv.flatMap((a) => (a === '--lib' ? ['lib'] : a.startsWith('--test=') ? [a.slice(7)] : []));
  runs.push({
    dir, outcomes, secs, version: data.cargo_mutants_version, startTime: data.start_time,
    total, done: Boolean(data.end_time) && outcomes.length >= total,
    start: data.start_time.slice(0, 16) + 'Z', commit: commit + (dirty ? ' + local changes' : ''), tests,
  });
}
// A mutant tested by several runs (a file re-run after a test was added) counts once, with the
// latest run's outcome.
runs.sort((a, b) => Date.parse(a.startTime) - Date.parse(b.startTime));
const latest = new Map();
for (const r of runs) for (const o of r.outcomes) latest.set(o.name, o);
const files = new Map();
const missedNames = [];
for (const o of latest.values()) {
  const row = files.get(o.file) ?? { mutants: 0, caught: 0, missed: 0, unviable: 0, timeout: 0 };
  row.mutants++;
  row[o.kind]++;
  files.set(o.file, row);
  if (o.kind === 'missed') missedNames.push(o.name);
}
missedNames.sort();
if (runs.length === 0) {
  console.error('no cargo-mutants results found in', dirs.join(' '));
  process.exit(1);
}

const doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '';
const reasons = equivalents(doc);
const cpu = (os.cpus()[0]?.model ?? 'unknown CPU').replace(/\s+/g, ' ').trim();
const total = (k) => [...files.values()].reduce((n, f) => n + f[k], 0);
const allMissed = missedNames;
const unexplained = allMissed.filter((n) => !reasons.has(key(n)));
const minutes = Math.round(runs.reduce((s, r) => s + r.secs, 0) / 60);

const out = [BEGIN, ''];
out.push(
  `cargo-mutants ${runs[0].version}, ${os.cpus().length} cores (${cpu}), ${minutes} min in all: ` +
    `**${total('mutants')} mutants, ${total('caught')} caught, ${total('timeout')} timeouts, ` +
    `${total('unviable')} unviable, ${allMissed.length} missed ` +
    `(${allMissed.length - unexplained.length} equivalent, listed below; ${unexplained.length} without a reason)**.`,
);
out.push('');
out.push('Runs (each group of files against the test targets that exercise it):');
out.push('');
for (const r of runs) {
  out.push(
    `- ${[...new Set(r.outcomes.map((o) => o.file))].sort().join(', ')} (${r.outcomes.length} mutants` +
      `${r.done ? '' : ` tested of ${r.total}: **the run was stopped before the end**`}` +
      `${r.dir.includes('-') ? ', a partial re-run' : ''}): ${r.start}, commit ${r.commit}, ` +
      `${Math.round(r.secs / 60)} min, tests: ${r.tests.join(' ') || 'all'}`,
  );
}
out.push('');
out.push('| file | mutants | caught | missed | unviable | timeouts |');
out.push('|---|---:|---:|---:|---:|---:|');
for (const [file, f] of [...files.entries()].sort()) {
  out.push(`| ${file} | ${f.mutants} | ${f.caught} | ${f.missed} | ${f.unviable} | ${f.timeout} |`);
}
out.push(
  `| **all** | **${total('mutants')}** | **${total('caught')}** | **${total('missed')}** | ` +
    `**${total('unviable')}** | **${total('timeout')}** |`,
);
out.push('');
out.push('Missed mutants of this run:');
out.push('');
if (allMissed.length === 0) out.push('- none');
for (const name of allMissed) {
  const why = reasons.get(key(name));
  out.push(`- \`${name}\` — ${why ? 'equivalent: ' + why : '**NO REASON RECORDED: a test is missing, or add the reason below**'}`);
}
out.push('', END);

const block = out.join('\n');
let next;
if (doc.includes(BEGIN) && doc.includes(END)) {
  next = doc.slice(0, doc.indexOf(BEGIN)) + block + doc.slice(doc.indexOf(END) + END.length);
} else {
  next = `# Quality\n\n${block}\n\n${EQUIV_HEADING}\n\n`;
}
writeFileSync(DOC, next);
console.log(out[2]);
if (unexplained.length) {
  console.log(`${unexplained.length} missed mutant(s) without a recorded reason:`);
  for (const n of unexplained) console.log('  ' + n);
  process.exitCode = 1;
}
