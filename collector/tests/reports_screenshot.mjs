// Renders the report page with realistic data and screenshots it in headless Chromium.
//
//   cargo build -p chattag-collector && node collector/tests/reports_screenshot.mjs [out-dir]
//
// Starts the collector on a loopback port with a temporary database, plays two weeks of a shop's
// traffic through the real interfaces (snippet events, signed messenger webhooks, the CRM
// intake), uploads to a tiny local Metrica stand-in, then signs in through the report's form
// and saves report.png and login.png. Bounded: ~150 visits, one browser page, loopback only.

import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const root = resolve(import.meta.dirname, '../..');
const bin = join(root, 'target/debug/chattag-collector');
const outDir = resolve(process.argv[2] ?? '/tmp');
const dir = mkdtempSync(join(tmpdir(), 'chattag-report-'));
const db = join(dir, 'chattag.db');
const ORIGIN = 'https://shop.example';
const secrets = {
  CHATTAG_READ_TOKEN: 'demo-read-token-0123456789',
  CHATTAG_TELEGRAM_SECRET: 'tg-secret-0123456789',
  CHATTAG_WHATSAPP_APP_SECRET: 'wa-app-secret-0123456789',
  CHATTAG_VIBER_AUTH_TOKEN: 'viber-token-0123456789',
  CHATTAG_MAX_SECRET: 'max-secret-0123456789',
  CHATTAG_INTAKE_TOKEN: 'intake-token-0123456789',
};

// Deterministic pseudo-random numbers so the picture is the same on every run.
let seed = 42;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const pick = (weighted) => {
  let r = rnd() * weighted.reduce((a, [, w]) => a + w, 0);
  for (const [v, w] of weighted) if ((r -= w) < 0) return v;
  return weighted[0][0];
};

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
function chatId() {
  const body = Array.from({ length: 7 }, () => Math.floor(rnd() * 32));
  let factor = 2, sum = 0;
  for (const v of [...body].reverse()) {
    const a = factor * v;
    sum += Math.floor(a / 32) + (a % 32);
    factor = factor === 2 ? 1 : 2;
  }
  return 'CT' + body.map((v) => ALPHABET[v]).join('') + ALPHABET[(32 - (sum % 32)) % 32];
}
const eventId = () => Array.from(randomBytes(26), (b) => ALPHABET[b & 31]).join('');

const server = spawn(bin, ['--listen', '127.0.0.1:0', '--db', db, '--allowed-origin', ORIGIN, '--rate-limit', '0'], {
  env: { ...process.env, ...secrets, CHATTAG_LOG: 'warn' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const addr = await new Promise((ok, fail) => {
  server.stdout.once('data', (d) => {
    const m = /listening on http:\/\/(\S+)/.exec(String(d));
    m ? ok(m[1]) : fail(new Error(`unexpected: ${d}`));
  });
  server.once('exit', (c) => fail(new Error(`collector exited ${c}`)));
});
const base = `http://${addr}`;
console.error(`collector at ${base}`);

async function post(path, body, headers = {}) {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: raw, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}
const events = (list) => post('/v1/events', JSON.stringify(list), { origin: ORIGIN, 'content-type': 'text/plain' });
const hmac = (key, body) => createHmac('sha256', key).update(body).digest('hex');
const telegram = (update) => post('/v1/webhooks/telegram', update, { 'x-telegram-bot-api-secret-token': secrets.CHATTAG_TELEGRAM_SECRET });
const whatsapp = (value) => {
  const body = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: '1', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '74951234567', phone_number_id: '1' }, ...value } }] }] });
  return post('/v1/webhooks/whatsapp', body, { 'x-hub-signature-256': 'sha256=' + hmac(secrets.CHATTAG_WHATSAPP_APP_SECRET, body) });
};
const viber = (cb) => {
  const body = JSON.stringify(cb);
  return post('/v1/webhooks/viber', body, { 'x-viber-content-signature': hmac(secrets.CHATTAG_VIBER_AUTH_TOKEN, body) });
};
const max = (u) => post('/v1/webhooks/max', u, { 'x-max-bot-api-secret': secrets.CHATTAG_MAX_SECRET });
const intake = (c) => post('/v1/chats', c, { authorization: `Bearer ${secrets.CHATTAG_INTAKE_TOKEN}` });

const names = ['Анна', 'Иван', 'Мария', 'Олег', 'Екатерина', 'Дмитрий', 'Светлана', 'Павел', 'Ольга', 'Сергей', 'Nina', 'Alex'];
const now = Date.now();
const DAY = 86_400_000;
let uid = 1000;
for (let i = 0; i < 150; i++) {
  if (process.env.DEBUG) console.error("visit", i);
  const dayAgo = Math.floor(rnd() * 14);
  const ts = now - dayAgo * DAY - Math.floor(rnd() * 10 * 3600_000) - 3600_000;
  const id = chatId();
  const clientId = String(1700000000000000000n + BigInt(Math.floor(rnd() * 1e12)));
  const source = pick([['direct_ad', 45], ['vk', 18], ['google', 12], ['direct', 15], ['email', 10]]);
  const issue = { event_id: eventId(), type: 'issue', chat_id: id, ts, client_id: clientId, page: 'https://shop.example/catalog/sofa-42' };
  if (source === 'direct_ad') Object.assign(issue, { yclid: String(5123456789012345678n + BigInt(i)), utm: { source: 'yandex', medium: 'cpc', campaign: pick([['sofas_spring', 3], ['brand', 2], ['retargeting', 1]]) } });
  if (source === 'vk') issue.utm = { source: 'vk', medium: 'social', campaign: 'vk_leadform' };
  if (source === 'email') issue.utm = { source: 'newsletter', medium: 'email', campaign: 'november' };
  if (source === 'google') issue.referrer = 'https://www.google.com/';
  const messenger = pick([['telegram', 42], ['whatsapp', 36], ['viber', 10], ['max', 8]]);
  const target = { telegram: `https://t.me/sofa_shop_bot?start=${id}`, whatsapp: `https://wa.me/74951234567?text=${id}`, viber: `viber://pa?chatURI=sofashop&context=${id}`, max: `https://max.ru/sofa_shop_bot?start=${id}` }[messenger];
  const kind = { telegram: 'telegram_bot', whatsapp: 'whatsapp', viber: 'viber_bot', max: 'max_bot' }[messenger];
  // Some people find the messenger on their own (a business card, a saved contact): no click.
  const clicked = rnd() > 0.12;
  const click = { event_id: eventId(), type: 'click', chat_id: id, ts: ts + 40_000, page: issue.page, client_id: clientId, messenger, link_kind: kind, target };
  await events(clicked ? [issue, click] : [issue]);
  if (rnd() < 0.25) continue; // clicked, never wrote
  const at = ts + 90_000 + Math.floor(rnd() * 30_000);
  const user = uid++;
  const name = names[user % names.length];
  const answered = rnd() < 0.78;
  const way = clicked ? pick([['exact', 75], ['none', 17], ['damaged', 8]]) : 'none';
  const damaged = id.slice(0, -1) + (id.endsWith('7') ? '8' : '7');
  if (messenger === 'telegram') {
    const text = way === 'exact' ? `/start ${id}` : way === 'damaged' ? `Здравствуйте, код ${damaged}` : 'Здравствуйте! Диван ещё в наличии?';
    await telegram({ update_id: user, message: { message_id: 1, from: { id: user, is_bot: false, first_name: name, username: `user${user}` }, chat: { id: user, type: 'private' }, date: Math.floor(at / 1000), text } });
  } else if (messenger === 'whatsapp') {
    const phone = `7916${String(user).padStart(7, '0')}`;
    const text = way === 'exact' ? `Здравствуйте! Номер обращения: ${id.toLowerCase()}` : way === 'damaged' ? `Номер обращения: ${damaged}` : 'Добрый день, сколько стоит доставка?';
    await whatsapp({ contacts: [{ profile: { name }, wa_id: phone }], messages: [{ from: phone, id: `wamid.${user}`, timestamp: String(Math.floor(at / 1000)), type: 'text', text: { body: text } }] });
    if (answered) await whatsapp({ statuses: [{ id: `wamid.r${user}`, status: 'delivered', timestamp: String(Math.floor(at / 1000) + 300), recipient_id: phone }] });
  } else if (messenger === 'viber') {
    await viber({ event: 'conversation_started', timestamp: at, message_token: user, type: 'open', context: way === 'exact' ? id : '', user: { id: `vb${user}=`, name }, subscribed: false });
    if (answered) await viber({ event: 'delivered', timestamp: at + 200_000, message_token: user + 1, user_id: `vb${user}=` });
  } else {
    await max({ update_type: 'bot_started', timestamp: at, chat_id: user, user: { user_id: user, name, is_bot: false }, payload: way === 'exact' ? id : '' });
  }
  // The CRM reports replies (Telegram / MAX bots cannot see them) and the deal amount.
  const deal = rnd() < 0.22 ? (Math.round(rnd() * 60 + 15) * 1000).toFixed(2) : undefined;
  if ((answered && (messenger === 'telegram' || messenger === 'max')) || deal) {
    const who = messenger === 'whatsapp' ? { phone: `7916${String(user).padStart(7, '0')}` } : messenger === 'viber' ? { chat_user_id: `vb${user}=` } : { chat_user_id: String(user) };
    await intake({ platform: messenger, started_at: at, ...who, answered: answered || undefined, ...(deal ? { revenue: deal, currency: 'RUB', tag: 'sale' } : {}) });
  }
}
// Chats from a channel the snippet does not tag, reported by the CRM.
for (let i = 0; i < 6; i++) {
  await intake({ platform: 'vk', started_at: now - i * 2 * DAY - 7200_000, username: `vk_client_${i}`, external_id: `vk-${i}`, answered: i % 2 === 0 });
}

// A minimal Metrica stand-in for the upload step (the Rust tests use the full one).
const metrica = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ uploading: { id: 7001, create_time: new Date().toISOString(), source_quantity: 1, line_quantity: 1, type: 'CHATS', status: 'PROCESSED' } }));
  });
}).listen(0, '127.0.0.1');
await new Promise((ok) => metrica.once('listening', ok));
// Asynchronous on purpose: the stand-in answers from this same event loop.
const up = spawn(bin, ['upload', 'metrica', '--db', db, '--counter', '24598711', '--metrica-api', `http://127.0.0.1:${metrica.address().port}`, '--wait', '0s'], {
  env: { ...process.env, CHATTAG_METRICA_TOKEN: 'y0_demo_token_for_the_stand_in' },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const code = await new Promise((ok) => up.once('exit', ok));
if (code !== 0) throw new Error(`upload metrica exited ${code}`);
metrica.close();

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const scripts = [];
  page.on('request', (r) => { if (r.resourceType() === 'script' || !r.url().startsWith(base)) scripts.push(r.url()); });
  await page.goto(`${base}/reports`);
  await page.screenshot({ path: join(outDir, 'login.png') });
  await page.fill('input[name=token]', secrets.CHATTAG_READ_TOKEN);
  await Promise.all([page.waitForURL(`${base}/reports`), page.click('button[type=submit]')]);
  await page.screenshot({ path: join(outDir, 'report.png'), fullPage: true });
  await page.screenshot({ path: join(outDir, 'report-first-screen.png') });
  // The page's CSP forbids fetch() from the page itself; the context's request API shares its cookie.
  const csv = await (await page.context().request.get(`${base}/reports/messengers.csv?days=30`)).text();
  console.log(csv.trim());
  if (scripts.length) throw new Error(`the report loaded scripts or external resources: ${scripts.join(', ')}`);
  console.log(`screenshots: ${join(outDir, 'login.png')}, ${join(outDir, 'report.png')}`);
} finally {
  await browser.close();
  server.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
