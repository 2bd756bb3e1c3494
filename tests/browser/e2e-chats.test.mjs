// Issue 4 end to end, from the demo shop to Metrica's chat-import CSV: `npm start`'s serving half
// (scripts/start.mjs: the real collector binary on a temp database + the demo page) with the
// Telegram and WhatsApp webhook secrets in the collector's environment; a visitor lands from an
// ad (?yclid=…) with Metrica's `_ym_uid` cookie; the snippet reports; the tagged Telegram bot
// link's `start` and the WhatsApp link's prefilled text are read from the page; a real-format
// Telegram update `/start <param>` and a signed WhatsApp Cloud API notification carrying that
// text reach the webhooks; `chattag-collector export metrica` then writes one row per chat with
// the visitor's ClientID and yclid.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DIST, launchBrowser, sleep } from './lib/harness.mjs';
import { keepLocal, startDemo } from './lib/demo.mjs';
import { isChatId } from './lib/events.mjs';

const CLIENT_ID = '1732000000135792468';
const YCLID = '7777888899990000';
const COUNTER = '12345';
const TG_SECRET = crypto.randomBytes(18).toString('base64url');
const WA_SECRET = crypto.randomBytes(18).toString('hex');
// The chat partners, as the messengers identify them.
const TG_USER = { id: 381920477, is_bot: false, first_name: 'Anna', username: 'anna_k' };
const WA_PHONE = '16505551234';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'chattag-e2e-chats-'));
const dbPath = path.join(tmp, 'demo.db');
let bin;
let browser;
let proc;
let out = () => '';
let demoUrl;
let collectorBase;

before(async () => {
  if (!fs.existsSync(path.join(DIST, 'chattag.js'))) throw new Error('dist/chattag.js is missing: run `node scripts/build.mjs` first');
  ({ proc, bin, demoUrl, collectorBase, output: out } = await startDemo({
    dbPath,
    // start.mjs passes its environment on to the collector: this is how a deployment injects
    // webhook secrets (never on the command line).
    env: { CHATTAG_TELEGRAM_SECRET: TG_SECRET, CHATTAG_WHATSAPP_APP_SECRET: WA_SECRET },
  }));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (proc && proc.exitCode === null) {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGINT');
    await Promise.race([exited, sleep(8000).then(() => proc.kill('SIGKILL'))]);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** What the collector stored for a chat ID, through the demo server's read proxy. */
async function stored(id) {
  const res = await fetch(new URL(`/collector/v1/chats/${id}`, demoUrl));
  return res.status === 200 ? res.json() : null;
}

async function waitFor(what, fn, timeout = 15000) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${out().slice(-3000)}`);
    await sleep(200);
  }
}

async function post(route, body, headers) {
  const res = await fetch(`${collectorBase}${route}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, body: await res.json().catch(() => null) };
}

/** RFC 4180: quoted fields may hold commas, quotes ("") and line breaks. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; } else if (c === '\n') { row.push(field.replace(/\r$/, '')); rows.push(row); row = []; field = ''; } else field += c;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  const [header, ...data] = rows;
  return data.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
}

function exportMetrica() {
  const r = spawnSync(bin, ['export', 'metrica', '--db', dbPath, '--counter', COUNTER], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, CHATTAG_LOG: 'warn' },
    timeout: 30000,
  });
  assert.equal(r.status, 0, `export metrica failed:\n${r.stderr}`);
  return { rows: parseCsv(r.stdout), csv: r.stdout, stderr: r.stderr };
}

test('demo page → Telegram /start + WhatsApp first message → two Metrica CSV rows with the ClientID and yclid', async () => {
  const context = await browser.newContext();
  const errors = [];
  // Nothing may leave the machine: the demo loads everything from 127.0.0.1.
  const outside = await keepLocal(context);
  try {
    // Metrica's tag has run on an earlier visit: its ClientID cookie is there before the snippet.
    await context.addCookies([{ name: '_ym_uid', value: CLIENT_ID, url: demoUrl }]);
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.stack || e.message));
    await page.goto(`${demoUrl}?yclid=${YCLID}&utm_source=yandex&utm_medium=cpc`);
    await page.waitForFunction(() => typeof window.chattag?.id === 'function' && window.chattag.id(), null, { timeout: 10000 });
    const id = await page.evaluate(() => window.chattag.id());
    assert.ok(isChatId(id), `a valid chat ID: ${id}`);

    // The links a visitor would tap, as the snippet tagged them.
    await page.waitForFunction((id) => ['c-tgbot', 'hero-wa'].every((b) => document.getElementById(b).getAttribute('href').includes(id)), id, { timeout: 5000 });
    const tgHref = await page.getAttribute('#c-tgbot', 'href');
    const waHref = await page.getAttribute('#hero-wa', 'href');
    const start = new URL(tgHref).searchParams.get('start');
    // The site's own start value stays in front of the ID (messenger-links.md).
    assert.equal(start, `contacts_${id}`, `Telegram start parameter: ${tgHref}`);
    const waText = new URL(waHref).searchParams.get('text');
    assert.ok(waText.startsWith("Hello! I'd like to order a bouquet"), `the site's text is kept: ${waText}`);
    assert.ok(waText.includes(id), `the prefilled text carries the ID: ${waText}`);

    // The snippet's report reached the collector with both visitor IDs.
    const mapping = await waitFor(`chat ${id} stored with ClientID and yclid`, async () => {
      const r = await stored(id);
      return r?.identifiers?.client_id === CLIENT_ID && r?.identifiers?.yclid === YCLID ? r : null;
    });
    assert.equal(mapping.chat_id, id);

    const now = Math.floor(Date.now() / 1000);
    // Telegram: the bot receives `/start <param>` when the person presses Start.
    const update = JSON.stringify({
      update_id: 730000001,
      message: {
        message_id: 17, from: TG_USER, chat: { id: TG_USER.id, first_name: 'Anna', username: 'anna_k', type: 'private' },
        date: now, text: `/start ${start}`, entities: [{ offset: 0, length: 6, type: 'bot_command' }],
      },
    });
    // A forged delivery (wrong secret token) is refused and stores nothing.
    const forgedTg = await post('/v1/webhooks/telegram', update, { 'x-telegram-bot-api-secret-token': 'not-the-secret' });
    assert.equal(forgedTg.status, 401);
    const opening = await post('/v1/webhooks/telegram', update, { 'x-telegram-bot-api-secret-token': TG_SECRET });
    assert.equal(opening.status, 200, JSON.stringify(opening.body));
    // Opening the bot is not a chat yet (docs/chats-setup.md): the chat starts with the person's
    // first message, which carries the opening's code as link evidence.
    assert.equal(opening.body.bot_opens, 1, JSON.stringify(opening.body));
    const hello = JSON.stringify({
      update_id: 730000002,
      message: {
        message_id: 18, from: TG_USER, chat: { id: TG_USER.id, first_name: 'Anna', username: 'anna_k', type: 'private' },
        date: now, text: 'Hello! Do you deliver today?',
      },
    });
    const tg = await post('/v1/webhooks/telegram', hello, { 'x-telegram-bot-api-secret-token': TG_SECRET });
    assert.equal(tg.status, 200, JSON.stringify(tg.body));
    assert.equal(tg.body.opened, 1, JSON.stringify(tg.body));

    // WhatsApp Cloud API: the person sends the prefilled draft; Meta signs the raw body.
    const notification = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [{
        id: '102290129340398',
        changes: [{
          field: 'messages',
          value: {
            messaging_product: 'whatsapp',
            metadata: { display_phone_number: '79991234567', phone_number_id: '106540352242922' },
            contacts: [{ profile: { name: 'Sheena Nelson' }, wa_id: WA_PHONE }],
            messages: [{ from: WA_PHONE, id: 'wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUJDRDEyMzQ1Njc4OTBBQkNERUYA', timestamp: String(now), type: 'text', text: { body: waText } }],
          },
        }],
      }],
    });
    const signature = `sha256=${crypto.createHmac('sha256', WA_SECRET).update(notification).digest('hex')}`;
    const forgedWa = await post('/v1/webhooks/whatsapp', notification, { 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` });
    assert.equal(forgedWa.status, 401);
    const wa = await post('/v1/webhooks/whatsapp', notification, { 'x-hub-signature-256': signature });
    assert.equal(wa.status, 200, JSON.stringify(wa.body));
    assert.equal(wa.body.opened, 1, JSON.stringify(wa.body));

    const { rows, csv, stderr } = exportMetrica();
    assert.equal(rows.length, 2, `two rows expected:\n${csv}\n${stderr}`);
    const tgRow = rows.find((r) => r.ChatPlatform === 'telegram');
    const waRow = rows.find((r) => r.ChatPlatform === 'whatsapp');
    assert.ok(tgRow && waRow, `one telegram and one whatsapp row:\n${csv}`);
    for (const row of [tgRow, waRow]) {
      assert.equal(row.ClientID, CLIENT_ID, `ClientID of the ${row.ChatPlatform} row`);
      assert.equal(row.Yclid, YCLID, `Yclid of the ${row.ChatPlatform} row`);
      const t = Number(row.DateTime);
      assert.ok(Number.isInteger(t) && t <= now && t > now - 120, `DateTime in the past, near the chat's start: ${row.DateTime}`);
    }
    assert.equal(tgRow.ChatUserID, String(TG_USER.id));
    assert.equal(tgRow.ChatUsername, TG_USER.username);
    // Phones are kept only as a keyed hash by default: no PhoneNumber, and the hash stands in as
    // the WhatsApp partner's ID; the number itself is nowhere in the file.
    assert.equal(waRow.PhoneNumber ?? '', '', 'no PhoneNumber unless the owner opts in');
    assert.match(waRow.ChatUserID, /^ph:[0-9a-f]{32}$/);
    assert.ok(!csv.includes(WA_PHONE), `the phone in clear is not in the file:\n${csv}`);
    // Same visitor, two chats: Metrica would merge two conversions in one second.
    assert.notEqual(tgRow.DateTime, waRow.DateTime, 'DateTime distinct per visitor');
    assert.ok(tgRow.PageURL?.startsWith(demoUrl), `PageURL is the landing page: ${tgRow.PageURL}`);

    assert.deepEqual(outside, [], 'the demo loads nothing from outside 127.0.0.1');
    assert.deepEqual(errors, [], 'no pageerror');
  } finally {
    await context.close();
  }
});
