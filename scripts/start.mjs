#!/usr/bin/env node
// `npm start`: the whole loop on one machine.
//
// 1. Starts the collector (target/release/chattag-collector; built with cargo when missing) on
//    127.0.0.1 with an embedded SQLite file (data/demo.db), the demo's origin as the only allowed
//    site, and a random read token passed through the environment (never argv).
// 2. Serves www/demo/ and dist/ on another 127.0.0.1 port — a real cross-origin set-up, exactly
//    like a shop and its collector — with a generated /config.js pointing the snippet at it.
// 3. The demo's "what the collector knows" panel reads /collector/v1/chats/{id} from the demo
//    server, which forwards to the collector's read API adding the bearer token: the token
//    stays in this process and never reaches the browser.
// 4. The visitor can also play the customer: POST /demo/write makes this server send what the
//    messenger would — a WhatsApp Cloud API notification signed with the app secret, or a
//    Telegram update with the webhook secret header — to the collector's real webhook routes.
//    GET /demo/metrica-row shows the row `export metrica` would give Metrica for that chat, and
//    /reports is the collector's report page, proxied with the token like the read API.
// Ctrl-C stops both. When the collector cannot be built, the demo is served alone (links are
// tagged, nothing is sent) and the reason is printed.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEMO_DIR = path.join(ROOT, 'www', 'demo');
const DIST_DIR = path.resolve(process.env.CHATTAG_DIST || path.join(ROOT, 'dist'));
const COLLECTOR_BIN = process.env.CHATTAG_COLLECTOR_BIN || path.join(ROOT, 'target', 'release', 'chattag-collector');
const DB_PATH = process.env.CHATTAG_DEMO_DB || path.join(ROOT, 'data', 'demo.db');
const HOST = '127.0.0.1';
// The demo's Metrica counter: only used to build the row `export metrica` would upload.
const DEMO_COUNTER = '12345678';
const SHOP_PHONE = '79991234567';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.map': 'application/json',
};

const log = (msg) => console.log(`[start] ${msg}`);

/** A free port: the preferred one when it is free, else any the OS gives. */
async function freePort(preferred) {
  const tryListen = (port) => new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(null));
    srv.listen(port, HOST, () => {
      const got = srv.address().port;
      srv.close(() => resolve(got));
    });
  });
  return (preferred && (await tryListen(preferred))) || tryListen(0);
}

/** Builds the collector in release mode when the binary is missing; returns why not, or null. */
function ensureCollectorBinary() {
  if (process.env.CHATTAG_NO_COLLECTOR) return 'CHATTAG_NO_COLLECTOR is set';
  if (fs.existsSync(COLLECTOR_BIN)) return null;
  // A binary named explicitly is never built here: say it is missing instead.
  if (process.env.CHATTAG_COLLECTOR_BIN) return `${COLLECTOR_BIN} does not exist`;
  if (!fs.existsSync(path.join(ROOT, 'collector', 'Cargo.toml'))) return 'collector/ does not exist yet';
  log('building the collector (cargo build --release -p chattag-collector; first time takes a few minutes)…');
  const r = spawnSync('cargo', ['build', '--release', '-p', 'chattag-collector'], { cwd: ROOT, stdio: 'inherit' });
  if (r.error) return `cargo could not run: ${r.error.message}`;
  if (r.status !== 0) return `cargo build failed (exit ${r.status})`;
  return fs.existsSync(COLLECTOR_BIN) ? null : `the build produced no ${path.relative(ROOT, COLLECTOR_BIN)}`;
}

async function waitHealthy(base, child, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the collector exited with code ${child.exitCode}`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`the collector did not answer ${base}/healthz within ${timeoutMs / 1000} s`);
}

async function startCollector({ port, origins, token, secrets }) {
  const why = ensureCollectorBinary();
  if (why) return { why };
  await fsp.mkdir(path.dirname(DB_PATH), { recursive: true });
  const env = {
    ...process.env,
    CHATTAG_LISTEN: `${HOST}:${port}`,
    CHATTAG_DB: DB_PATH,
    CHATTAG_ALLOWED_ORIGINS: origins.join(','),
    CHATTAG_READ_TOKEN: token,
    CHATTAG_TELEGRAM_SECRET: secrets.telegram,
    CHATTAG_WHATSAPP_APP_SECRET: secrets.whatsapp,
    CHATTAG_WHATSAPP_VERIFY_TOKEN: secrets.whatsappVerify,
    // The demo's database stays under a few MB: a 16 MB floor, not the 256 MB a long-running
    // collector keeps, so that the demo works on a nearly full laptop (set it to change that).
    CHATTAG_MIN_FREE_MB: process.env.CHATTAG_MIN_FREE_MB ?? '16',
  };
  const child = spawn(COLLECTOR_BIN, [], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
  const base = `http://${HOST}:${port}`;
  try {
    await waitHealthy(base, child);
  } catch (err) {
    child.kill('SIGTERM');
    return { why: err.message };
  }
  return { child, base };
}

function configJs({ endpoint, collectorApi, snippetMissing, chats }) {
  // chattagConfig is the documented GTM-style way to configure the snippet without data-*.
  const cfg = endpoint ? { endpoint, debug: false } : {};
  return `// Generated by scripts/start.mjs\nwindow.chattagConfig = ${JSON.stringify(cfg)};\n` +
    `window.chattagDemo = ${JSON.stringify({ collectorApi, snippetMissing, chats })};\n`;
}

async function serveFile(res, root, rel) {
  const file = path.normalize(path.join(root, rel));
  if (file !== root && !file.startsWith(root + path.sep)) {
    res.writeHead(403).end('forbidden');
    return;
  }
  try {
    const stat = await fsp.stat(file);
    const target = stat.isDirectory() ? path.join(file, 'index.html') : file;
    const body = await fsp.readFile(target);
    res.writeHead(200, { 'content-type': MIME[path.extname(target)] || 'application/octet-stream', 'cache-control': 'no-cache' });
    res.end(body);
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  }
}

/** Forwards a read-API GET to the collector with the bearer token added here. */
async function proxyRead(res, collectorBase, token, apiPath) {
  if (!/^\/v1\/(chats\/[A-Za-z0-9-]{1,32}|mappings)(\?[A-Za-z0-9=&_-]*)?$/.test(apiPath)) {
    res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"code":"bad_path","message":"only /v1/chats/{id} and /v1/mappings"}}');
    return;
  }
  try {
    const upstream = await fetch(collectorBase + apiPath, { headers: { authorization: `Bearer ${token}` } });
    const body = Buffer.from(await upstream.arrayBuffer());
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') || 'application/json', 'cache-control': 'no-store' });
    res.end(body);
  } catch (err) {
    res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'collector_unreachable', message: err.message } }));
  }
}

/** Forwards a GET of the report page (or one of its CSVs) with the bearer token added here. */
async function proxyReport(res, collectorBase, token, reqPath) {
  if (!/^\/reports(\/[a-z_-]{1,32}\.csv)?(\?days=\d{1,3})?$/.test(reqPath)) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('only /reports and its CSV files');
    return;
  }
  try {
    const upstream = await fetch(collectorBase + reqPath, { headers: { authorization: `Bearer ${token}` } });
    const headers = { 'cache-control': 'no-store' };
    for (const h of ['content-type', 'content-disposition', 'content-security-policy']) {
      const v = upstream.headers.get(h);
      if (v) headers[h] = v;
    }
    res.writeHead(upstream.status, headers).end(Buffer.from(await upstream.arrayBuffer()));
  } catch (err) {
    res.writeHead(502, { 'content-type': 'text/plain' }).end(`collector unreachable: ${err.message}`);
  }
}

const CHAT_ID_RE = /^[A-Za-z0-9]{4,32}$/;
/** The demo customers this server has played, per chat ID: how to find their Metrica row. */
const customers = new Map();

const digits = (n) => Array.from(crypto.randomBytes(n), (b) => String(b % 10)).join('');

async function readJson(req, limit = 4096) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > limit) throw new Error('body too large');
  }
  return JSON.parse(body || '{}');
}

/**
 * Sends the collector what the messenger would when a customer writes with the code: the
 * payload shapes of Meta's WhatsApp Cloud API and Telegram's Bot API, authenticated the way each
 * does it (X-Hub-Signature-256 over the raw body; X-Telegram-Bot-Api-Secret-Token).
 */
async function customerWrites(collectorBase, secrets, messenger, chatId) {
  const nowS = Math.floor(Date.now() / 1000);
  let route;
  let body;
  let headers = { 'content-type': 'application/json' };
  let partner;
  if (messenger === 'whatsapp') {
    const phone = `7916${digits(7)}`;
    partner = phone;
    route = '/v1/webhooks/whatsapp';
    body = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [{ id: '102290129340398', changes: [{ field: 'messages', value: {
        messaging_product: 'whatsapp',
        metadata: { display_phone_number: SHOP_PHONE, phone_number_id: '106540352242922' },
        contacts: [{ profile: { name: 'Demo customer' }, wa_id: phone }],
        messages: [{ from: phone, id: `wamid.demo${digits(12)}`, timestamp: String(nowS), type: 'text',
          text: { body: `Hello! I would like to order a bouquet. My code: ${chatId}` } }],
      } }] }],
    });
    const sig = crypto.createHmac('sha256', secrets.whatsapp).update(body).digest('hex');
    headers['x-hub-signature-256'] = `sha256=${sig}`;
  } else {
    const user = Number(`5${digits(8)}`);
    partner = String(user);
    route = '/v1/webhooks/telegram';
    const from = { id: user, is_bot: false, first_name: 'Demo', username: `demo_customer_${digits(4)}` };
    const chat = { id: user, type: 'private', first_name: 'Demo' };
    const updateId = Number(digits(9));
    headers['x-telegram-bot-api-secret-token'] = secrets.telegram;
    // Pressing START sends `/start <code>`: that opens the bot (a click on the visit, not a chat
    // yet); the chat starts with the person's first message, which inherits the code.
    const opening = JSON.stringify({ update_id: updateId, message: { message_id: 1, date: nowS, text: `/start ${chatId}`, from, chat } });
    await fetch(collectorBase + route, { method: 'POST', headers, body: opening });
    body = JSON.stringify({
      update_id: updateId + 1,
      message: { message_id: 2, date: nowS, text: 'Hello! I would like to order a bouquet.', from, chat },
    });
  }
  const res = await fetch(collectorBase + route, { method: 'POST', headers, body });
  const answer = await res.text();
  const list = customers.get(chatId) || [];
  list.push({ messenger, partner });
  customers.set(chatId, list.slice(-10));
  return { status: res.status, messenger, partner, answer: answer.slice(0, 500) };
}

/** The rows `export metrica` would give Metrica for this chat ID's demo customers. */
async function metricaRows(collectorBase, token, chatId) {
  // A row is this chat's when it names the visit's identifiers (ClientID, yclid: what Metrica
  // joins on) or the customer. The customer alone is not enough: phones are kept as a keyed
  // hash by default, so a WhatsApp row names the hash, not the number the demo sent.
  const partners = (customers.get(chatId) || []).map((c) => c.partner);
  let visit = [];
  try {
    const r = await fetch(`${collectorBase}/v1/chats/${encodeURIComponent(chatId)}`, { headers: { authorization: `Bearer ${token}` } });
    if (r.ok) visit = ((await r.json()).identifier_history || []).map((v) => v.value).filter((v) => typeof v === 'string' && v.length >= 6);
  } catch { /* the collector is down: fall back to the customer */ }
  const keys = [...partners, ...visit];
  const from = new Date(Date.now() - 21 * 86_400_000).toISOString().slice(0, 10);
  const r = spawnSync(COLLECTOR_BIN, ['export', 'metrica', '--counter', DEMO_COUNTER, '--from', from, '--db', DB_PATH], {
    cwd: ROOT, encoding: 'utf8', timeout: 10_000, env: { ...process.env, CHATTAG_READ_TOKEN: '' },
  });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || 'export failed').slice(0, 500) };
  const lines = r.stdout.split(/\r?\n/).filter(Boolean);
  const notes = (r.stderr || '').split('\n').filter((l) => /unconfirmed|not confirmed|probable|settled/.test(l));
  return {
    counter: DEMO_COUNTER,
    header: lines[0] || '',
    rows: lines.slice(1).filter((l) => keys.some((k) => l.includes(`,${k},`) || l.endsWith(`,${k}`))),
    notes,
  };
}

function startDemoServer({ port, collector, token, endpoint, secrets }) {
  const snippetMissing = !fs.existsSync(path.join(DIST_DIR, 'chattag.js'));
  const config = configJs({ endpoint, collectorApi: collector ? '/collector' : null, snippetMissing, chats: !!collector });
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, `http://${HOST}`);
    const p = decodeURIComponent(url.pathname);
    if (p === '/config.js') {
      res.writeHead(200, { 'content-type': MIME['.js'], 'cache-control': 'no-store' }).end(config);
    } else if (p === '/demo/write' && collector) {
      if (req.method !== 'POST') {
        res.writeHead(405).end();
        return;
      }
      readJson(req)
        .then(async (b) => {
          if (!['whatsapp', 'telegram'].includes(b.messenger) || !CHAT_ID_RE.test(b.chat_id || '')) {
            res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"messenger and chat_id required"}');
            return;
          }
          const out = await customerWrites(collector, secrets, b.messenger, b.chat_id);
          res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(out));
        })
        .catch((err) => res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: err.message })));
    } else if (p === '/demo/metrica-row' && collector) {
      const id = url.searchParams.get('chat_id') || '';
      if (!CHAT_ID_RE.test(id)) res.writeHead(400).end();
      else metricaRows(collector, token, id).then((rows) => res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(rows)));
    } else if ((p === '/reports' || p.startsWith('/reports/')) && collector) {
      if (req.method !== 'GET') res.writeHead(405).end();
      else proxyReport(res, collector, token, p + url.search);
    } else if (p.startsWith('/collector/') && collector) {
      if (req.method !== 'GET') res.writeHead(405).end();
      else proxyRead(res, collector, token, p.slice('/collector'.length) + url.search);
    } else if (p.startsWith('/dist/')) {
      serveFile(res, DIST_DIR, p.slice('/dist/'.length));
    } else {
      serveFile(res, DEMO_DIR, p.slice(1));
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => resolve({ server, snippetMissing }));
  });
}

async function main() {
  const demoPort = await freePort(Number(process.env.PORT) || 8080);
  const collectorPort = await freePort(Number(process.env.CHATTAG_COLLECTOR_PORT) || 8787);
  const demoOrigin = `http://${HOST}:${demoPort}`;
  const token = crypto.randomBytes(24).toString('base64url');
  // Webhook secrets shared by the collector and the demo's stand-in messengers (this process).
  // Secrets the owner set in the environment win (the demo then signs with them too).
  const secrets = {
    telegram: process.env.CHATTAG_TELEGRAM_SECRET || crypto.randomBytes(24).toString('base64url'),
    whatsapp: process.env.CHATTAG_WHATSAPP_APP_SECRET || crypto.randomBytes(24).toString('hex'),
    whatsappVerify: process.env.CHATTAG_WHATSAPP_VERIFY_TOKEN || crypto.randomBytes(12).toString('hex'),
  };

  const col = await startCollector({ port: collectorPort, origins: [demoOrigin, `http://localhost:${demoPort}`], token, secrets });
  if (col.why) log(`collector not available (${col.why}): serving the demo alone — links are tagged, nothing is sent.`);
  const endpoint = col.base ? `${col.base}/v1/events` : null;
  const { server, snippetMissing } = await startDemoServer({ port: demoPort, collector: col.base, token, endpoint, secrets });
  if (snippetMissing) log('dist/chattag.js is missing — run `npm run build`; the demo page works but nothing is tagged.');

  console.log('');
  console.log(`  Demo shop:   ${demoOrigin}/`);
  if (col.base) {
    console.log(`  Collector:   ${col.base}  (events: ${endpoint}, database: ${path.relative(ROOT, DB_PATH)})`);
    console.log('  Read API:    the demo proxies /collector/v1/chats/{id}; the token is in this process only.');
    console.log(`  Report page: ${demoOrigin}/reports  (proxied with the token; the collector's own /reports asks for it)`);
    console.log('  Chats:       "Write to the shop" in the demo panel sends signed WhatsApp / Telegram webhooks to the collector.');
  }
  console.log('  Ctrl-C stops everything.');
  console.log('');

  let stopping = false;
  const stop = (code) => {
    if (stopping) return;
    stopping = true;
    log('stopping…');
    server.close();
    if (col.child && col.child.exitCode === null) {
      col.child.once('exit', () => process.exit(code));
      col.child.kill('SIGTERM');
      setTimeout(() => { col.child.kill('SIGKILL'); process.exit(code); }, 5000).unref();
    } else {
      process.exit(code);
    }
  };
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  col.child?.on('exit', (code, signal) => {
    if (stopping) return;
    log(`the collector exited (${signal || `code ${code}`}); stopping the demo too.`);
    stop(1);
  });
}

main().catch((err) => {
  console.error(`[start] ${err.stack || err.message}`);
  process.exit(1);
});
