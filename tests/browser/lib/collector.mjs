// Runs the real chattag-collector binary for end-to-end tests: loopback port, temporary SQLite
// database, the test server's origin allowed, a random read token passed via the environment.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { ROOT, sleep } from './harness.mjs';

/** The collector binary: $CHATTAG_COLLECTOR_BIN, else a cargo build output (built when missing). */
export function collectorBinary() {
  if (process.env.CHATTAG_COLLECTOR_BIN) return process.env.CHATTAG_COLLECTOR_BIN;
  const candidates = ['debug', 'release'].map((p) => path.join(ROOT, 'target', p, 'chattag-collector'));
  const found = candidates.filter((c) => fs.existsSync(c)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
  if (found) return found;
  const r = spawnSync('cargo', ['build', '-p', 'chattag-collector'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0 || !fs.existsSync(candidates[0])) throw new Error('could not build chattag-collector (cargo build -p chattag-collector)');
  return candidates[0];
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export class Collector {
  /** A collector for `origin`; call start(). Port and database stay the same across restarts. */
  constructor({ origin }) {
    this.origin = origin;
    this.bin = collectorBinary();
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chattag-e2e-'));
    this.db = path.join(this.dir, 'collector.db');
    this.token = crypto.randomBytes(18).toString('base64url');
    this.log = [];
  }

  async start() {
    this.port ??= await freePort();
    this.base = `http://127.0.0.1:${this.port}`;
    this.endpoint = `${this.base}/v1/events`;
    const env = {
      ...process.env,
      CHATTAG_LISTEN: `127.0.0.1:${this.port}`,
      CHATTAG_DB: this.db,
      CHATTAG_ALLOWED_ORIGINS: this.origin,
      CHATTAG_READ_TOKEN: this.token,
      CHATTAG_RATE_LIMIT: '0',
      // No free-space floor: the database holds kilobytes, and a test must not fail because the
      // machine running it is short of disk.
      CHATTAG_MIN_FREE_MB: '0',
    };
    this.child = spawn(this.bin, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (b) => { this.log.push(b.toString()); if (this.log.length > 200) this.log.shift(); };
    this.child.stdout.on('data', keep);
    this.child.stderr.on('data', keep);
    const deadline = Date.now() + 20000;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`collector exited (${this.child.exitCode}):\n${this.log.join('')}`);
      try {
        if ((await fetch(`${this.base}/healthz`)).ok) return this;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`collector not healthy in 20 s:\n${this.log.join('')}`);
      await sleep(100);
    }
  }

  async stop(signal = 'SIGTERM') {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await Promise.race([exited, sleep(5000).then(() => child.kill('SIGKILL'))]);
    await exited;
  }

  async dispose() {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** GET /v1/chats/{id} with the bearer token: { status, body }. */
  async chat(id, { token = this.token } = {}) {
    const res = await fetch(`${this.base}/v1/chats/${encodeURIComponent(id)}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    const text = await res.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { status: res.status, body };
  }

  /** Polls the read API until `pred(record)` holds; returns the record. */
  async waitForChat(id, pred, { timeout = 15000, what = 'the chat record' } = {}) {
    const deadline = Date.now() + timeout;
    let last;
    for (;;) {
      last = await this.chat(id);
      if (last.status === 200 && pred(last.body)) return last.body;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last answer ${last.status}: ${JSON.stringify(last.body).slice(0, 2000)}`);
      await sleep(200);
    }
  }
}
