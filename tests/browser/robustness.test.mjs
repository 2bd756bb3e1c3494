// Hostile environments: storage that throws, and a CSP that forbids compiling wasm. The host
// page must never notice the snippet failing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anchors, pageHtml, setup } from './lib/harness.mjs';

const h = setup();

// What privacy modes and sandboxed iframes do: every access throws a SecurityError.
const BLOCK_STORAGE = () => {
  const deny = () => { throw new DOMException('The operation is insecure.', 'SecurityError'); };
  Object.defineProperty(Document.prototype, 'cookie', { get: deny, set: deny, configurable: true });
  for (const name of ['localStorage', 'sessionStorage', 'indexedDB']) {
    Object.defineProperty(window, name, { get: deny, configurable: true });
  }
};

test('cookies and storage that throw: links are still tagged, events still sent, no pageerror', async () => {
  await h.run(async (s) => {
    const url = h.server.page(pageHtml({ body: anchors([['wa', 'https://wa.me/79991234567?text=Hi'], ['tg', 'https://t.me/flower_shop_bot']]) }));
    await s.page.goto(url);
    const id = await s.ready();
    await s.page.waitForFunction((id) => ['wa', 'tg'].every((x) => document.getElementById(x).getAttribute('href').includes(id)), id, { timeout: 5000 });
    const issue = await s.waitForEvent((e) => e.type === 'issue', { what: 'the issue event' });
    assert.equal(issue.chat_id, id);
    assert.equal(await s.page.evaluate(() => { try { document.cookie; return 'readable'; } catch { return 'throws'; } }), 'throws', 'the block is in effect');
    s.assertEventsValid();
  }, { initScript: BLOCK_STORAGE });
});

test('cookies disabled by the browser: links are still tagged', async () => {
  await h.run(async (s) => {
    // Chromium-level block, not a thrown exception: writes are silently ignored.
    await s.context.addInitScript(() => {
      Object.defineProperty(Document.prototype, 'cookie', { get: () => '', set: () => {}, configurable: true });
    });
    await s.page.goto(h.server.page(pageHtml({ body: anchors([['wa', 'https://wa.me/79991234567']]) })));
    const id = await s.ready();
    await s.page.waitForFunction((id) => document.getElementById('wa').getAttribute('href').includes(id), id, { timeout: 5000 });
    // localStorage still works here, so the ID survives a reload through it alone.
    await s.page.reload();
    assert.equal(await s.ready(), id, 'the ID survives a reload through localStorage alone');
  });
});

test('localStorage full (every write throws) and cookies ignored: the page view keeps its ID and delivers its events from memory', async () => {
  await h.run(async (s) => {
    // Reads work, writes fail (QuotaExceededError), cookies are silently dropped: the record and
    // the outbox then live only in the snippet's memory for this page view.
    await s.context.addInitScript(() => {
      Storage.prototype.setItem = function () { throw new DOMException('The quota has been exceeded.', 'QuotaExceededError'); };
      Object.defineProperty(Document.prototype, 'cookie', { get: () => '', set: () => {}, configurable: true });
    });
    await s.page.goto(h.server.page(pageHtml({ body: anchors([['wa', 'https://wa.me/79991234567']]) })));
    const id = await s.ready();
    const issue = await s.waitForEvent((e) => e.type === 'issue', { what: 'the issue event, sent from the outbox kept in memory' });
    assert.equal(issue.chat_id, id);
    await s.page.evaluate(() => window.chattag.setUserId('7'));
    const update = await s.waitForEvent((e) => e.type === 'update' && e.user_id === '7', { what: 'the update event' });
    assert.equal(update.chat_id, id, 'the same ID for the whole page view');
    assert.equal(await s.page.evaluate(() => window.chattag.id()), id);
    assert.equal(await s.page.evaluate(() => localStorage.length), 0, 'nothing reached localStorage');
    s.assertEventsValid();
  });
});

// A shop page under a CSP without 'wasm-unsafe-eval': two messenger links, the stub queue, a
// button with an inline handler, and a timer — the page's own code that must keep working.
const CSP_LINKS = [['wa', 'https://wa.me/79991234567?text=Hi'], ['tg', 'https://t.me/flower_shop_bot']];
function cspPage() {
  const head = `<script>
      window.chattag = window.chattag || function () { (chattag.q = chattag.q || []).push(arguments); };
      chattag('setUserId', '42');
    </script>`;
  const body = `${anchors(CSP_LINKS)}
      <button id="btn" onclick="document.getElementById('out').textContent = 'clicked'">Buy</button><p id="out"></p>
      <script>setTimeout(() => { document.body.dataset.later = 'ran'; }, 1500);</script>`;
  const csp = "default-src 'self'; script-src 'self' 'unsafe-inline'; connect-src 'self' https://collector.test";
  return h.server.page(pageHtml({ head, body }), { headers: { 'content-security-policy': csp } });
}

test('a CSP without wasm-unsafe-eval: page unharmed, no uncaught error, links tagged by the JavaScript fallback, page scripts still run', async () => {
  await h.run(async (s) => {
    const links = CSP_LINKS;
    await s.page.goto(cspPage());
    await s.page.waitForFunction(() => document.body.dataset.later === 'ran', null, { timeout: 5000 });
    await s.page.waitForTimeout(500);
    // wasm cannot compile here; the wasm2js fallback chunk runs the same core.
    const id = await s.ready();
    const now = await s.page.evaluate((ids) => ids.map((x) => document.getElementById(x).getAttribute('href')), links.map((l) => l[0]));
    assert.ok(now.every((href) => href.includes(id)), `links tagged by the fallback: ${JSON.stringify(now)}`);
    await s.page.click('#btn');
    assert.equal(await s.page.textContent('#out'), 'clicked');
    // The documented call form must keep working for the page's own code.
    const call = await s.page.evaluate(() => { try { window.chattag('setPurchaseId', 'X1'); return 'ok'; } catch (e) { return String(e); } });
    assert.equal(call, 'ok');
    assert.deepEqual(s.console.filter((m) => m.type === 'error' && !/Content Security Policy|wasm/i.test(m.text)), [], 'no console errors other than the browser\'s own CSP report');
  });
});

test('a CSP without wasm-unsafe-eval and the fallback unavailable: page unharmed, links untouched, page scripts still run', async () => {
  await h.run(async (s) => {
    // The JavaScript fallback fails to load (a CDN that lost the file, a blocked path): the
    // snippet must give up quietly and leave the page exactly as the site wrote it.
    await s.context.route('**/dist/chattag-fallback*', (route) => route.fulfill({ status: 404, body: 'gone' }));
    const links = CSP_LINKS;
    await s.page.goto(cspPage());
    await s.page.waitForFunction(() => document.body.dataset.later === 'ran', null, { timeout: 5000 });
    await s.page.waitForTimeout(800);
    const now = await s.page.evaluate((ids) => ids.map((x) => document.getElementById(x).getAttribute('href')), links.map((l) => l[0]));
    assert.deepEqual(now, links.map((l) => l[1]), 'links stay exactly as written when the snippet cannot run');
    assert.equal(s.requests.length, 0, 'nothing is reported without a working core');
    await s.page.click('#btn');
    assert.equal(await s.page.textContent('#out'), 'clicked');
    const call = await s.page.evaluate(() => { try { window.chattag('setPurchaseId', 'X1'); return 'ok'; } catch (e) { return String(e); } });
    assert.equal(call, 'ok', 'the documented call form keeps working for the page\'s own code');
  });
});

test('the same page and policy with wasm-unsafe-eval is tagged by the wasm itself', async () => {
  await h.run(async (s) => {
    const fallback = [];
    s.page.on('request', (r) => { if (/chattag-fallback/.test(r.url())) fallback.push(r.url()); });
    const csp = "default-src 'self'; script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; connect-src 'self' https://collector.test";
    const url = h.server.page(pageHtml({ body: anchors([['wa', 'https://wa.me/79991234567?text=Hi']]) }), { headers: { 'content-security-policy': csp } });
    await s.page.goto(url);
    const id = await s.ready();
    await s.page.waitForFunction((id) => document.getElementById('wa').getAttribute('href').includes(id), id, { timeout: 5000 });
    assert.deepEqual(fallback, [], 'the fallback loads only when wasm fails');
  });
});
