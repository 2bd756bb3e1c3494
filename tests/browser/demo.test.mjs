// `npm start`'s serving half, as a newcomer meets it: scripts/start.mjs with the real collector,
// the demo shop tagged, nothing loaded from outside, the collector panel showing this visitor's
// stored mapping, and Ctrl-C stopping both processes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DIST, launchBrowser, sleep } from './lib/harness.mjs';
import { keepLocal, startDemo } from './lib/demo.mjs';

let browser;
let proc;
let out = () => '';
let demoUrl;
let collectorBase;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'chattag-demo-'));

before(async () => {
  if (!fs.existsSync(path.join(DIST, 'chattag.js'))) throw new Error('dist/chattag.js is missing: run `npm run build` first');
  ({ proc, demoUrl, collectorBase, output: out } = await startDemo({ dbPath: path.join(tmp, 'demo.db') }));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (proc && proc.exitCode === null) proc.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('the demo shop is tagged, loads nothing from outside, and shows what the collector stored', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const outside = await keepLocal(context);
  const errors = [];
  try {
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(demoUrl);
    await page.waitForFunction(() => typeof window.chattag?.id === 'function' && window.chattag.id(), null, { timeout: 10000 });
    const id = await page.evaluate(() => window.chattag.id());
    const buttons = ['hero-wa', 'hero-tg', 'c-wa', 'c-tgbot', 'c-tguser', 'c-viber', 'c-max'];
    await page.waitForFunction(({ buttons, id }) => buttons.every((b) => document.getElementById(b).getAttribute('href').includes(id)), { buttons, id }, { timeout: 5000 });
    assert.equal(await page.$eval('footer a', (a) => a.getAttribute('href')), 'https://t.me/share/url?url=https%3A%2F%2Fpetalstem.example%2F&text=Lovely%20flowers', 'the share link stays as written');

    // The product popup adds its order link later; it is tagged too.
    await page.click('.card >> nth=0');
    await page.waitForFunction((id) => (document.getElementById('dialog-wa')?.getAttribute('href') || '').includes(id), id, { timeout: 5000 });
    await page.keyboard.press('Escape');

    // The panel shows the mapping the collector stored for this visitor.
    await page.waitForFunction((id) => document.getElementById('collector-view').innerText.includes('Events stored') && document.getElementById('collector-view').innerText.includes(id), id, { timeout: 10000 });
    assert.equal(await page.textContent('#demo-id'), id);

    // Simulated Metrica: the ClientID reaches the collector and the panel.
    await page.click('#sim-metrica');
    await page.waitForFunction(() => /ClientID\s+\d{10,}/.test(document.getElementById('collector-view').innerText), null, { timeout: 15000 });

    assert.deepEqual(outside, [], 'the demo loads nothing from outside 127.0.0.1');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('playing the customer: a signed webhook from the demo server, the chat matched to the visit, the Metrica row, the report page', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const outside = await keepLocal(context);
  const errors = [];
  try {
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(demoUrl);
    await page.waitForFunction(() => typeof window.chattag?.id === 'function' && window.chattag.id(), null, { timeout: 10000 });
    const id = await page.evaluate(() => window.chattag.id());
    await page.click('#sim-metrica');
    await page.waitForFunction(() => /ClientID\s+\d{10,}/.test(document.getElementById('collector-view').innerText), null, { timeout: 15000 });
    const clientId = await page.evaluate(() => document.cookie.match(/_ym_uid=(\d+)/)[1]);

    await page.click('#write-wa');
    await page.waitForFunction(() => /whatsapp · exact-text \(the code\)/.test(document.getElementById('chat-list')?.innerText || ''), null, { timeout: 10000 });
    assert.match(await page.textContent('#write-status'), /WhatsApp webhook from customer 7916\d{7} → collector answered 200/);
    await page.waitForFunction((cid) => {
      const pre = document.querySelector('#metrica-row pre');
      return pre && /^DateTime,ChatPlatform,ChatUserID,ClientID/.test(pre.textContent) && pre.textContent.includes(`,whatsapp,`) && pre.textContent.includes(cid);
    }, clientId, { timeout: 10000 });

    await page.click('#write-tg');
    await page.waitForFunction(() => /telegram · exact-link \(the code\)/.test(document.getElementById('chat-list')?.innerText || ''), null, { timeout: 10000 });
    await page.waitForFunction(() => (document.querySelector('#metrica-row pre')?.textContent || '').includes(',telegram,'), null, { timeout: 10000 });
    if (process.env.CHATTAG_DEMO_SCREENSHOT) await page.screenshot({ path: process.env.CHATTAG_DEMO_SCREENSHOT, fullPage: false });

    // The report page, through the demo server: the token never reaches the browser.
    assert.equal(await page.getAttribute('#report-link', 'href'), '/reports');
    const report = await context.request.get(`${demoUrl.replace(/\/$/, '')}/reports`);
    assert.equal(report.status(), 200);
    const html = await report.text();
    assert.match(html, /Latest chats/);
    assert.ok(html.includes('Demo customer') || html.includes('demo_customer'), 'the demo customer is on the report page');
    const direct = await fetch(`${collectorBase}/reports`);
    assert.match(await direct.text(), /action="\/reports\/login"/, 'the collector itself still asks for the token');
    assert.ok(!(await page.content()).includes('Bearer'), 'no token in the page');

    assert.deepEqual(outside, [], 'the demo loads nothing from outside 127.0.0.1');
    assert.deepEqual(errors, []);
    assert.equal(await page.textContent('#demo-id'), id);
  } finally {
    await context.close();
  }
});

test('Ctrl-C stops the demo server and the collector', async () => {
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGINT');
  await Promise.race([exited, sleep(8000).then(() => assert.fail(`start.mjs did not exit on SIGINT:\n${out()}`))]);
  for (const url of [demoUrl, `${collectorBase}/healthz`]) {
    const reachable = await fetch(url).then(() => true, () => false);
    assert.equal(reachable, false, `${url} still answers after Ctrl-C`);
  }
});
