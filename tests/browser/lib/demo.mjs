// `npm start`'s serving half (scripts/start.mjs) started the way a newcomer starts it, on free
// ports with a temporary database, for tests that drive the demo shop end to end.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT, sleep } from './harness.mjs';
import { collectorBinary, freePort } from './collector.mjs';

/**
 * Starts scripts/start.mjs with the real collector binary and waits for the two URLs it prints.
 * `env` is added to the process environment (start.mjs passes it on to the collector: that is
 * how a deployment injects webhook secrets). Returns `{ proc, demoUrl, collectorBase, bin,
 * output() }`; `output()` is everything start.mjs has printed so far.
 */
export async function startDemo({ dbPath, env = {} }) {
  const bin = collectorBinary();
  let out = '';
  const proc = spawn(process.execPath, [path.join(ROOT, 'scripts', 'start.mjs')], {
    env: {
      ...process.env,
      PORT: String(await freePort()),
      CHATTAG_COLLECTOR_PORT: String(await freePort()),
      CHATTAG_DEMO_DB: dbPath,
      CHATTAG_COLLECTOR_BIN: bin,
      // No free-space floor (start.mjs passes it on): the test must not fail on a short disk.
      CHATTAG_MIN_FREE_MB: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout.on('data', (b) => { out += b; });
  proc.stderr.on('data', (b) => { out += b; });
  const deadline = Date.now() + 30000;
  while (!/Demo shop:\s+(\S+)/.test(out) || !/Collector:\s+(\S+)/.test(out)) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`start.mjs did not come up:\n${out}`);
    }
    await sleep(100);
  }
  return {
    proc,
    bin,
    demoUrl: /Demo shop:\s+(\S+)/.exec(out)[1],
    collectorBase: /Collector:\s+(\S+)/.exec(out)[1],
    output: () => out,
  };
}

/**
 * Keeps `context` on this machine: requests to 127.0.0.1 go through, anything else is answered
 * locally and recorded. Returns the list of outside URLs the page tried (expected empty).
 */
export async function keepLocal(context) {
  const outside = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('http://127.0.0.1:')) return route.continue();
    outside.push(url);
    return route.fulfill({ status: 200, contentType: 'text/html', body: 'outside' });
  });
  return outside;
}
