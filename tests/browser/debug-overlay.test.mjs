// The debug overlay chunk (www/loader/debug.js) in headless Chromium, loaded cross-origin with
// import() as the loader will: it renders the model (links tagged or why not, ID, identifiers,
// events with status), refreshes on update(), keeps hostile page strings as text, stays usable
// with 10,000 links, moves nothing on the page and adds no globals.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import * as esbuild from 'esbuild';
import { ROOT, launchBrowser, startStaticServer, withSession } from './lib/harness.mjs';

const CDN = 'https://cdn.chattag.test';
const CHUNK_URL = `${CDN}/chattag-debug.js`;
let server;
let browser;
let chunk;

before(async () => {
  const out = await esbuild.build({
    entryPoints: [path.join(ROOT, 'www', 'loader', 'debug.js')],
    bundle: true, format: 'esm', minify: true, write: false, target: ['es2020'], legalComments: 'none',
  });
  chunk = Buffer.from(out.outputFiles[0].contents);
  server = await startStaticServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

const HOSTILE = 'https://wa.me/1?text="><img src=x onerror="window.__pwned=1">';
const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<style>body{margin:0;font:16px sans-serif} main{padding:20px;height:1400px}</style></head><body><main>
<h1 id="h">Roses</h1>
<p><a id="wa" href="https://wa.me/79990001122?text=Hi%0ARequest%20number%3A%20CT8F2A9KQ3">WhatsApp</a></p>
<p><a id="tg" href="https://t.me/flowers_bot?start=CT8F2A9KQ3">Telegram bot</a></p>
<p><a id="share" href="https://t.me/share/url?url=https%3A%2F%2Fshop.example">Share</a></p>
</main></body></html>`;

/** The model shape of docs/loader-and-build.md, as the snippet would build it. */
function model(extra = {}) {
  return {
    id: 'CT8F2A9KQ3',
    consent: 'granted',
    endpoint: 'https://collector.example/v1/events',
    identifiers: { client_id: '1700000000123456789', yclid: '5551234567890', utm: { source: 'yandex', campaign: 'spring' } },
    links: [
      { href: document.getElementById('wa').href, tagged: true, messenger: 'whatsapp', kind: 'whatsapp', element: document.getElementById('wa') },
      { href: document.getElementById('tg').href, tagged: true, messenger: 'telegram', kind: 'telegram_bot', element: document.getElementById('tg') },
      { href: document.getElementById('share').href, tagged: false, skip: 'share', reason: 'share link — left as is', element: document.getElementById('share') },
    ],
    events: [
      { event_id: '01J9ZQ3T7V8X2K4M6N8P0R2S4T', type: 'issue', ts: Date.now() - 5000, status: 'sent' },
      { event_id: '01J9ZQ3T7V8X2K4M6N8P0R2S4V', type: 'update', ts: Date.now() - 1000, status: 'retrying', detail: 'HTTP 503, next try in 4 s' },
    ],
    ...extra,
  };
}

async function open(s) {
  await s.page.route(`${CDN}/**`, (route) =>
    route.fulfill({ status: 200, body: chunk, headers: { 'content-type': 'text/javascript', 'access-control-allow-origin': '*' } }),
  );
  await s.page.goto(server.page(PAGE));
}

/** Runs `model()` in the page (it needs the page's elements) and shows it. */
async function show(s, extra = {}) {
  await s.page.evaluate(
    async ([url, src, extra]) => {
      const model = new Function('extra', `return (${src})(extra)`)(extra);
      const m = await import(url);
      m.showDebug(model);
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    },
    [CHUNK_URL, model.toString(), extra],
  );
}

const panelText = (page) => page.getByRole('region', { name: 'chattag debug' }).innerText();

test('chunk size (minified ES module)', () => {
  const gz = zlib.gzipSync(chunk, { level: 9 }).length;
  console.log(`# debug chunk: ${chunk.length} B raw, ${gz} B gzip`);
  assert.ok(gz <= 3 * 1024, `debug chunk is ${gz} B gzip; budget 3 KB`);
});

test('renders ID, state, identifiers, each link (tagged or why not) and events with status', async () => {
  await withSession(browser, async (s) => {
    await open(s);
    const globalsBefore = await s.page.evaluate(() => Object.keys(window).sort());
    const layoutBefore = await s.page.evaluate(() => JSON.stringify(document.getElementById('h').getBoundingClientRect()));
    await show(s);
    const t = await panelText(s.page);
    assert.match(t, /CT8F2A9KQ3/);
    assert.match(t, /running/);
    assert.match(t, /client_id\s+1700000000123456789/);
    assert.match(t, /utm_source\s+yandex/);
    assert.match(t, /Messenger links: 3 found, 2 tagged/i);
    assert.match(t, /telegram_bot/);
    assert.match(t, /share link — left as is/);
    assert.match(t, /Events: 2/i);
    assert.match(t, /update retrying/);
    assert.match(t, /HTTP 503, next try in 4 s/);
    assert.match(t, /issue sent/);
    // Newest event first.
    assert.ok(t.indexOf('update retrying') < t.indexOf('issue sent'));

    const shot = path.join(ROOT, 'tests', 'artifacts', 'debug-overlay.png');
    fs.mkdirSync(path.dirname(shot), { recursive: true });
    await s.page.screenshot({ path: shot });

    assert.deepEqual(await s.page.evaluate(() => Object.keys(window).sort()), globalsBefore, 'no globals');
    assert.equal(await s.page.evaluate(() => JSON.stringify(document.getElementById('h').getBoundingClientRect())), layoutBefore, 'page did not move');
  }, { contextOptions: { viewport: { width: 1280, height: 800 } } });
});

test('pointing at a link row outlines that link on the page', async () => {
  await withSession(browser, async (s) => {
    await open(s);
    await show(s);
    const row = s.page.getByRole('region', { name: 'chattag debug' }).locator('tr', { hasText: 'share link' });
    await row.hover();
    const [boxRect, linkRect] = await s.page.evaluate(() => {
      const host = [...document.body.children].find((e) => e.shadowRoot);
      const b = host.shadowRoot.querySelector('.box');
      return [b.hidden ? null : b.getBoundingClientRect().toJSON(), document.getElementById('share').getBoundingClientRect().toJSON()];
    });
    assert.ok(boxRect, 'outline shown');
    assert.ok(Math.abs(boxRect.left + 2 - linkRect.left) <= 1 && Math.abs(boxRect.top + 2 - linkRect.top) <= 1, JSON.stringify({ boxRect, linkRect }));
  });
});

test('update() refreshes; hide collapses; close removes it and later updates do nothing', async () => {
  await withSession(browser, async (s) => {
    await open(s);
    await show(s);
    await s.page.evaluate(async (url) => {
      const m = await import(url);
      m.update({ id: 'CTZZZZZZZ4', consent: 'required', links: [], events: [{ event_id: 'E1', type: 'click', ts: Date.now(), status: 'beaconed' }] });
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    }, CHUNK_URL);
    const t = await panelText(s.page);
    assert.match(t, /CTZZZZZZZ4/);
    assert.match(t, /waiting for consent/);
    assert.match(t, /Messenger links: 0 found, 0 tagged/i);
    assert.match(t, /click beaconed/);
    assert.doesNotMatch(t, /CT8F2A9KQ3/);

    const toggle = s.page.getByRole('button', { name: 'hide' });
    await toggle.click();
    assert.equal(await s.page.getByRole('button', { name: 'show' }).getAttribute('aria-expanded'), 'false');
    assert.equal(await s.page.getByText('Identifiers').isVisible(), false);
    await s.page.getByRole('button', { name: 'show' }).click();
    assert.equal(await s.page.getByText('Identifiers').isVisible(), true);

    await s.page.getByRole('button', { name: 'Close chattag debug' }).click();
    assert.equal(await s.page.getByRole('region', { name: 'chattag debug' }).count(), 0);
    await s.page.evaluate(async (url) => {
      (await import(url)).update({ id: 'CTAAAAAAA1' });
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    }, CHUNK_URL);
    assert.equal(await s.page.getByRole('region', { name: 'chattag debug' }).count(), 0, 'closed stays closed');
  });
});

test('hostile page strings stay text', async () => {
  await withSession(browser, async (s) => {
    await open(s);
    await show(s, {
      identifiers: { user_id: '<script>window.__pwned=2</script>' },
      links: [{ href: HOSTILE, tagged: false, reason: 'malformed messenger link — left as is' }],
      events: [{ event_id: '<b>x</b>', type: 'issue', ts: 'not a time', status: '<i>y</i>' }],
    });
    await s.page.waitForTimeout(100);
    const t = await panelText(s.page);
    assert.ok(t.includes(HOSTILE), 'the href is shown as written');
    assert.ok(t.includes('<script>window.__pwned=2</script>'));
    const counts = await s.page.evaluate(() => {
      const host = [...document.body.children].find((e) => e.shadowRoot);
      return { img: host.shadowRoot.querySelectorAll('img, script, td b, td i').length, pwned: window.__pwned ?? null };
    });
    assert.deepEqual(counts, { img: 0, pwned: null });
  });
});

// The cap is what keeps the first render within a frame on such a page (a speed target: not
// timed here, where a loaded machine would fail it).
test('10,000 links: the rows are capped at 200, the counts cover all', async () => {
  await withSession(browser, async (s) => {
    await open(s);
    await s.page.evaluate(async (url) => {
      const links = Array.from({ length: 10000 }, (_, i) => ({ href: `https://wa.me/7999000${i}`, tagged: i % 3 !== 0, kind: 'whatsapp', reason: 'share link — left as is' }));
      const m = await import(url);
      m.showDebug({ id: 'CT8F2A9KQ3', links, events: [] });
    }, CHUNK_URL);
    const t = await panelText(s.page);
    assert.match(t, /Messenger links: 10000 found, 6666 tagged/i);
    assert.match(t, /… and 9800 more/i);
    assert.equal((t.match(/wa\.me\/7999000/g) || []).length, 200, 'one row per shown link, 200 shown');
  });
});

test('overlay under a strict CSP (no inline styles): styled, no violations', async () => {
  await withSession(browser, async (s) => {
    const csp = `default-src 'none'; script-src ${CDN}; style-src 'self'`;
    await s.page.route(`${CDN}/**`, (route) =>
      route.fulfill({ status: 200, body: chunk, headers: { 'content-type': 'text/javascript', 'access-control-allow-origin': '*' } }),
    );
    await s.page.goto(server.page('<!doctype html><html><body><p>page</p></body></html>', { headers: { 'content-security-policy': csp } }));
    const r = await s.page.evaluate(async (url) => {
      const violations = [];
      document.addEventListener('securitypolicyviolation', (e) => violations.push(`${e.violatedDirective} ${e.blockedURI}`));
      (await import(url)).showDebug({ id: 'CT8F2A9KQ3', links: [], events: [] });
      await new Promise((res) => setTimeout(res, 50));
      const host = [...document.body.children].find((e) => e.shadowRoot);
      return { violations, position: getComputedStyle(host.shadowRoot.querySelector('.panel')).position };
    }, CHUNK_URL);
    assert.deepEqual(r, { violations: [], position: 'fixed' });
  });
});
