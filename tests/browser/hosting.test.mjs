// docs/hosting.md, checked in headless Chromium against the real dist/chattag.js served from a
// CDN origin: the documented wasm-mode CSP is enough (and connect-src is needed), SRI with
// crossorigin works and refuses altered bytes, and the CORS header the doc calls required for
// cross-origin chunks and SRI really is. The CDN is a real HTTP server on another port (another
// origin): Playwright's route.fulfill would not show the browser's CORS checks.
import { after, before, test } from 'node:test';
import http from 'node:http';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DIST, ENDPOINT, ROOT, setup, sleep } from './lib/harness.mjs';
import * as esbuild from 'esbuild';

const h = setup();
const COLLECTOR = new URL(ENDPOINT).origin;
const LINK = '<a id="wa" href="https://wa.me/79990001122?text=Hello">WhatsApp</a>';
let CDN;
let cdnServer;
// Per test: whether the CDN sends Access-Control-Allow-Origin, and files to serve instead of dist/.
const cdnState = { cors: true, extra: {}, wasmType: 'application/wasm', jsType: 'text/javascript; charset=utf-8', seen: [] };

before(async () => {
  cdnServer = http.createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url, 'http://x').pathname.slice(1));
    cdnState.seen.push(name);
    const file = path.join(DIST, name);
    const body = cdnState.extra[name] ?? (file.startsWith(DIST + path.sep) && fs.existsSync(file) ? fs.readFileSync(file) : null);
    if (!body) {
      res.writeHead(404).end('no');
      return;
    }
    const type = name.endsWith('.wasm') ? cdnState.wasmType : cdnState.jsType;
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store', ...(cdnState.cors ? { 'access-control-allow-origin': '*' } : {}) });
    res.end(body);
  });
  await new Promise((r) => cdnServer.listen(0, '127.0.0.1', r));
  CDN = `http://127.0.0.1:${cdnServer.address().port}`;
});
after(() => new Promise((r) => (cdnServer ? cdnServer.close(r) : r())));

/** Sets how the CDN answers for the next page load. */
function cdn(_s, { cors = true, extra = {}, wasmType = 'application/wasm', jsType = 'text/javascript; charset=utf-8' } = {}) {
  Object.assign(cdnState, { cors, extra, wasmType, jsType, seen: [] });
  return cdnState.seen;
}

// Records CSP violations from the first moment of the page (before any page script).
const WATCH = `window.__violations = []; document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.effectiveDirective + ' ' + e.blockedURI));`;

const page = (attrs = '', script = 'chattag.js') =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script async src="${CDN}/${script}" data-endpoint="${ENDPOINT}" ${attrs}></script></head><body>${LINK}</body></html>`;

const WASM = fs.readdirSync(DIST).filter((f) => /^chattag\.[0-9a-f]+\.wasm$/.test(f));

test('the default build fetches its wasm from beside chattag.js; a wrong MIME type still runs (no fallback chunk)', async () => {
  assert.equal(WASM.length, 1, 'dist/ holds the wasm beside chattag.js');
  for (const wasmType of ['application/wasm', 'application/octet-stream']) {
    await h.run(async (s) => {
      const seen = cdn(s, { wasmType });
      await s.page.goto(h.server.page(page()));
      const id = await s.ready();
      assert.ok((await s.page.getAttribute('#wa', 'href')).includes(id), wasmType);
      assert.deepEqual(seen, ['chattag.js', WASM[0]], `${wasmType}: the script and its wasm, nothing else`);
    });
  }
});

test('the wasm without CORS on another origin: not running, page unharmed, nothing uncaught', async () => {
  await h.run(async (s) => {
    cdn(s, { cors: false });
    await s.page.goto(h.server.page(page()));
    await sleep(1500);
    assert.equal(await s.page.getAttribute('#wa', 'href'), 'https://wa.me/79990001122?text=Hello');
    assert.deepEqual(await s.page.evaluate(() => window.__errors), []);
  }, { initScript: `window.__errors = []; addEventListener('error', (e) => __errors.push(e.message)); addEventListener('unhandledrejection', (e) => __errors.push(String(e.reason)));` });
});

test('the one-file build (dist/chattag.inline.js): runs with no second request', async () => {
  await h.run(async (s) => {
    const seen = cdn(s);
    await s.page.goto(h.server.page(page('', 'chattag.inline.js')));
    const id = await s.ready();
    assert.ok((await s.page.getAttribute('#wa', 'href')).includes(id));
    await s.waitForEvent((e) => e.type === 'issue' && e.chat_id === id, { delivered: true, what: 'delivered issue' });
    assert.deepEqual(seen, ['chattag.inline.js']);
  });
});

// The one-file build carries the wasm as a string (scripts/build.mjs `wasmLiteral`). Served with
// no charset, a script is decoded with the page's: on a windows-1251 page (common on Russian
// sites) any non-ASCII byte in it would decode to another character and corrupt the wasm.
test('the one-file build on a windows-1251 page, served without a charset: the same wasm, tagging', async () => {
  const js = fs.readFileSync(path.join(DIST, 'chattag.inline.js'));
  assert.ok(js.every((b) => b === 10 || (b >= 0x20 && b < 0x7f)), 'chattag.inline.js is printable ASCII');
  await h.run(async (s) => {
    const seen = cdn(s, { jsType: 'text/javascript' });
    const html = page('', 'chattag.inline.js').replace('<meta charset="utf-8">', '<meta charset="windows-1251">')
      .replace('</body>', '<p id="ru">\u00cf\u00f0\u00e8\u00e2\u00e5\u00f2</p></body>');
    await s.page.goto(h.server.page(Buffer.from(html, 'latin1'), { headers: { 'content-type': 'text/html' } }));
    assert.equal(await s.page.evaluate(() => document.characterSet), 'windows-1251');
    assert.equal(await s.page.textContent('#ru'), 'Привет', 'the page really is decoded as windows-1251');
    const id = await s.ready();
    assert.ok((await s.page.getAttribute('#wa', 'href')).includes(id));
    // A corrupted wasm would still tag, through the wasm2js fallback chunk: it must not be needed.
    assert.deepEqual(seen, ['chattag.inline.js']);
  });
});

test('the documented wasm-mode CSP lets the snippet tag and report, with no violation', async () => {
  await h.run(async (s) => {
    cdn(s);
    // A --wasm=file build fetches the wasm from the CDN: hosting.md adds the CDN to connect-src then.
    const wasmFile = fs.readdirSync(DIST).some((f) => f.endsWith('.wasm'));
    const csp = `default-src 'none'; script-src ${CDN} 'wasm-unsafe-eval'; connect-src ${COLLECTOR}${wasmFile ? ` ${CDN}` : ''}`;
    await s.page.goto(h.server.page(page(), { headers: { 'content-security-policy': csp } }));
    const id = await s.ready();
    assert.ok((await s.page.getAttribute('#wa', 'href')).includes(id));
    await s.waitForEvent((e) => e.type === 'issue' && e.chat_id === id, { delivered: true, what: 'delivered issue' });
    assert.deepEqual(await s.page.evaluate(() => window.__violations), []);
  }, { initScript: WATCH });
});

test('without the collector in connect-src the report is blocked (the directive is needed)', async () => {
  await h.run(async (s) => {
    cdn(s);
    const wasmFile = fs.readdirSync(DIST).some((f) => f.endsWith('.wasm'));
    const csp = `default-src 'none'; script-src ${CDN} 'wasm-unsafe-eval'${wasmFile ? `; connect-src ${CDN}` : ''}`;
    await s.page.goto(h.server.page(page(), { headers: { 'content-security-policy': csp } }));
    await s.ready();
    await sleep(1500);
    assert.equal(s.requests.length, 0, 'nothing reached the collector');
    const v = await s.page.evaluate(() => window.__violations);
    assert.ok(v.some((x) => x.startsWith('connect-src') && x.includes('collector.test')), JSON.stringify(v));
  }, { initScript: WATCH });
});

test('SRI: the build hash with crossorigin runs; altered bytes are refused; crossorigin needs the CORS header', async () => {
  const js = fs.readFileSync(path.join(DIST, 'chattag.js'));
  const sri = `sha384-${crypto.createHash('sha384').update(js).digest('base64')}`;
  await h.run(async (s) => {
    cdn(s);
    await s.page.goto(h.server.page(page(`integrity="${sri}" crossorigin="anonymous"`)));
    await s.ready();
  });
  await h.run(async (s) => {
    cdn(s, { extra: { 'chattag.js': Buffer.concat([js, Buffer.from('\n;')]) } });
    await s.page.goto(h.server.page(page(`integrity="${sri}" crossorigin="anonymous"`)));
    await sleep(800);
    assert.equal(await s.page.evaluate(() => typeof window.chattag), 'undefined', 'altered script must not run');
    assert.equal(await s.page.getAttribute('#wa', 'href'), 'https://wa.me/79990001122?text=Hello');
  });
  await h.run(async (s) => {
    cdn(s, { cors: false });
    await s.page.goto(h.server.page(page(`integrity="${sri}" crossorigin="anonymous"`)));
    await sleep(800);
    assert.equal(await s.page.evaluate(() => typeof window.chattag), 'undefined', 'crossorigin without Access-Control-Allow-Origin is blocked');
  });
});

test('cross-origin chunks need Access-Control-Allow-Origin (module scripts are CORS)', async () => {
  const out = await esbuild.build({ entryPoints: [path.join(ROOT, 'www', 'loader', 'qr.js')], bundle: true, format: 'esm', minify: true, write: false });
  const chunk = Buffer.from(out.outputFiles[0].contents);
  for (const cors of [true, false]) {
    await h.run(async (s) => {
      cdn(s, { cors, extra: { 'chattag-qr.0123456789.js': chunk } });
      await s.page.goto(h.server.page(`<!doctype html><html><body>${LINK}</body></html>`));
      const loaded = await s.page.evaluate(async (url) => {
        try {
          return typeof (await import(url)).showQr;
        } catch (e) {
          return `failed: ${e.name}`;
        }
      }, `${CDN}/chattag-qr.0123456789.js`);
      assert.equal(loaded, cors ? 'function' : 'failed: TypeError');
    });
  }
});
