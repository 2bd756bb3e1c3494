// The strict-CSP fallback: under a Content-Security-Policy without 'wasm-unsafe-eval'
// the browser refuses to compile wasm, and the loader runs the same Rust core turned into
// JavaScript by wasm2js (dist/chattag-fallback.<hash>.js). The same tagging and delivery checks
// run under both policies; with 'wasm-unsafe-eval' the fallback chunk is never requested; when
// the chunk itself cannot load, the page is unharmed and its links untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { DIST, ENDPOINT, anchors, hrefs, pageHtml, setup } from './lib/harness.mjs';

const h = setup();

const FALLBACK = /\/chattag-fallback\.[0-9a-f]{10}\.js$/;
// connect-src 'self': a --wasm=file build fetches chattag.<hash>.wasm (docs/hosting.md).
const POLICY = {
  wasm: `default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' ${new URL(ENDPOINT).origin}`,
  strict: `default-src 'self'; script-src 'self'; connect-src 'self' ${new URL(ENDPOINT).origin}`,
};
const LINKS = [
  ['wa', 'https://wa.me/79991234567?text=Hi'],
  ['tg', 'https://t.me/flower_shop_bot'],
  ['tgp', 'https://t.me/anna_florist'],
  ['vb', 'viber://pa?chatURI=flowershop'],
  ['share', 'https://t.me/share/url?url=https%3A%2F%2Fshop.example'],
  ['plain', 'https://example.com/contacts'],
];

/** Opens a fixture page under `csp`, recording which script URLs the page requested. */
async function open(s, csp, { query = '', body = anchors(LINKS) } = {}) {
  const scripts = [];
  s.page.on('request', (r) => {
    if (/\/dist\//.test(r.url())) scripts.push(r.url());
  });
  const url = h.server.page(pageHtml({ body }), { headers: { 'content-security-policy': csp } });
  await s.page.goto(url + query);
  return scripts;
}

test('the build emitted the fallback chunk beside chattag.js', () => {
  const files = fs.readdirSync(DIST).filter((f) => FALLBACK.test(`/${f}`));
  assert.equal(files.length, 1, `one dist/chattag-fallback.<hash>.js, found ${JSON.stringify(files)}`);
});

for (const [mode, csp] of Object.entries(POLICY)) {
  test(`${mode === 'wasm' ? "with 'wasm-unsafe-eval'" : "without 'wasm-unsafe-eval' (fallback)"}: links tagged, events delivered, API works`, async () => {
    await h.run(async (s) => {
      const scripts = await open(s, csp, { query: '?yclid=5123456789012345678&utm_source=yandex' });
      const pageUrl = s.page.url().replace(/\?.*$/, '');
      const id = await s.ready();
      const fallbackRequests = scripts.filter((u) => FALLBACK.test(u));
      assert.equal(fallbackRequests.length, mode === 'wasm' ? 0 : 1, `fallback chunk requests: ${JSON.stringify(scripts)}`);

      await s.page.waitForFunction((id) => document.getElementById('vb').getAttribute('href').includes(id), id, { timeout: 5000 });
      const now = await hrefs(s.page, LINKS.map((l) => l[0]));
      const waText = new URL(now.wa).searchParams.get('text');
      assert.ok(waText.startsWith('Hi') && waText.endsWith(id), `WhatsApp: the site's text kept, the tag appended: ${now.wa}`);
      assert.equal(now.tg, `https://t.me/flower_shop_bot?start=${id}`);
      assert.ok(now.tgp.includes(id), `Telegram personal carries the ID: ${now.tgp}`);
      assert.ok(now.vb.includes(id), `Viber carries the ID: ${now.vb}`);
      assert.equal(now.share, LINKS[4][1], 'share link left as is');
      assert.equal(now.plain, LINKS[5][1], 'non-messenger link left as is');

      const issue = await s.waitForEvent((e) => e.type === 'issue', { delivered: true, what: 'the issue event' });
      assert.equal(issue.chat_id, id);
      assert.equal(issue.yclid, '5123456789012345678');
      assert.deepEqual(issue.utm, { source: 'yandex' });

      // The public API goes through the same core.
      const api = await s.page.evaluate(() => ({
        rewrite: window.chattag.rewrite('https://t.me/other_bot'),
        ids: window.chattag.identifiers(),
      }));
      assert.equal(api.rewrite, `https://t.me/other_bot?start=${id}`);
      assert.equal(api.ids.yclid, '5123456789012345678');

      // Links added later are tagged (observer → bulk call), a click is reported.
      await s.page.evaluate(() => {
        const a = document.createElement('a');
        a.id = 'late';
        a.href = 'https://wa.me/79990000000';
        a.textContent = 'late';
        document.body.append(a);
      });
      await s.page.waitForFunction((id) => document.getElementById('late').getAttribute('href').includes(id), id, { timeout: 5000 });
      await s.page.click('#tg');
      const click = await s.waitForEvent((e) => e.type === 'click', { delivered: true, what: 'the click event' });
      assert.equal(click.link_kind, 'telegram_bot');
      assert.equal(click.target, `https://t.me/flower_shop_bot?start=${id}`);

      // setUserId sends an update.
      await s.page.goto(pageUrl);
      assert.equal(await s.ready(), id, 'the ID survives a reload');
      await s.page.evaluate(() => window.chattag.setUserId('42'));
      const update = await s.waitForEvent((e) => e.type === 'update' && e.user_id === '42', { delivered: true, what: 'the update event' });
      assert.equal(update.chat_id, id);
      s.assertEventsValid();
    });
  });

  test(`${mode}: a collector outage is retried until delivered`, async () => {
    await h.run(async (s) => {
      await open(s, csp);
      const first = await s.waitForEvent((e) => e.type === 'issue', { what: 'the first try' });
      assert.equal(first._answer, 503);
      s.endpointMode = 'ok';
      const again = await s.waitForEvent((e) => e.type === 'issue' && e._answer === 200, { timeout: 10000, what: 'the retried issue event' });
      assert.equal(again.event_id, first.event_id, 'a resend reuses the event id');
    }, { endpoint: 503 });
  });
}

// Measured with an instrumented chunk: this page grows the fallback's memory 4 times.
test('without wasm-unsafe-eval, a page with 6,000 long links is tagged completely (memory grows)', async () => {
  await h.run(async (s) => {
    const text = encodeURIComponent('Hello, I would like to order '.repeat(12));
    const many = Array.from({ length: 6000 }, (_, i) => [`l${i}`, `https://wa.me/7999${String(i).padStart(7, '0')}?text=${text}`]);
    await open(s, POLICY.strict, { body: anchors(many) });
    const id = await s.ready();
    await s.page.waitForFunction(
      (id) => [...document.querySelectorAll('a')].every((a) => a.getAttribute('href').includes(id)),
      id,
      { timeout: 30000 },
    );
    // Tagging read every href through wasm memory: a stale view after growth would garble them.
    const bad = await s.page.evaluate((id) => [...document.querySelectorAll('a')].filter((a, i) => !a.getAttribute('href').startsWith(`https://wa.me/7999${String(i).padStart(7, '0')}?text=Hello`)).length, id);
    assert.equal(bad, 0);
  });
});

test('the fallback chunk blocked (404): page unharmed, links untouched, no uncaught error', async () => {
  await h.run(async (s) => {
    await s.context.route(FALLBACK, (route) => route.fulfill({ status: 404, body: 'gone' }));
    const body = `${anchors(LINKS)}
      <button id="btn" onclick="document.getElementById('out').textContent = 'clicked'">Buy</button><p id="out"></p>`;
    // 'unsafe-inline' for the page's own onclick; still no 'wasm-unsafe-eval'.
    await open(s, POLICY.strict.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'"), { body });
    await s.page.waitForTimeout(1500);
    assert.deepEqual(Object.values(await hrefs(s.page, LINKS.map((l) => l[0]))), LINKS.map((l) => l[1]));
    await s.page.click('#btn');
    assert.equal(await s.page.textContent('#out'), 'clicked');
    const call = await s.page.evaluate(() => { try { window.chattag('setUserId', '1'); return [window.chattag.id(), window.chattag.rewrite('https://t.me/x_bot')]; } catch (e) { return String(e); } });
    assert.deepEqual(call, [undefined, 'https://t.me/x_bot'], 'the API answers harmlessly');
    assert.equal(s.events.length, 0);
  });
});

test('the fallback chunk not allowed by script-src: page unharmed, links untouched', async () => {
  await h.run(async (s) => {
    // Only the main script's exact URL is allowed: the chunk beside it is refused by the CSP.
    const csp = `default-src 'self'; script-src ${h.server.origin}/dist/chattag.js; connect-src ${new URL(ENDPOINT).origin}`;
    const scripts = await open(s, csp);
    await s.page.waitForTimeout(1500);
    assert.ok(scripts.some((u) => u.endsWith('/dist/chattag.js')), 'the main script loaded');
    assert.deepEqual(Object.values(await hrefs(s.page, LINKS.map((l) => l[0]))), LINKS.map((l) => l[1]));
    assert.equal(s.events.length, 0);
  });
});
