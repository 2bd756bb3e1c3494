// Shared harness for the Playwright browser tests.
//
// One static server (127.0.0.1, random port) and one headless Chromium per test file. Each test
// runs in a fresh browser context (its own cookies and storage), so tests cannot leak a visitor
// ID into each other. Every request to the collector endpoint is captured with Playwright
// routing, and messenger navigations (wa.me, t.me, …) are answered locally so a click never
// leaves the machine. Any `pageerror` in any page of the context fails the test.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { assertValidEvent } from './events.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** Where the built snippet is served from; CHATTAG_DIST points the tests at another build. */
export const DIST = path.resolve(process.env.CHATTAG_DIST || path.join(ROOT, 'dist'));
/** The collector endpoint the fixture pages report to; never resolved, always routed. */
export const ENDPOINT = 'https://collector.test/v1/events';

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    // Playwright disables the back/forward cache by default; the bfcache test needs it.
    ignoreDefaultArgs: ['--disable-back-forward-cache'],
  });
}

const MESSENGER_HOSTS = /^(https?:\/\/)(www\.)?(wa\.me|api\.whatsapp\.com|web\.whatsapp\.com|t\.me|telegram\.me|telegram\.dog|max\.ru)(\/|$)/i;

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.map': 'application/json',
  '.css': 'text/css; charset=utf-8',
};

/**
 * Static server: `/dist/*` from the repository's dist/ (read per request, so a rebuild is seen),
 * plus pages registered by the tests.
 */
export async function startStaticServer() {
  const pages = new Map();
  let seq = 0;
  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://127.0.0.1');
      const page = pages.get(url.pathname);
      if (page) {
        // no-cache, not no-store: Chromium never puts a no-store page in the back/forward cache.
        res.writeHead(200, { 'content-type': MIME['.html'], 'cache-control': 'no-cache', ...page.headers });
        res.end(page.html);
        return;
      }
      if (url.pathname.startsWith('/dist/')) {
        const rel = decodeURIComponent(url.pathname.slice('/dist/'.length));
        const file = path.join(DIST, rel);
        if (!file.startsWith(DIST + path.sep)) throw Object.assign(new Error('outside dist'), { status: 403 });
        const body = await fs.readFile(file);
        res.writeHead(200, { 'content-type': MIME[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
        res.end(body);
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    } catch (err) {
      res.writeHead(err.status || (err.code === 'ENOENT' ? 404 : 500), { 'content-type': 'text/plain' });
      res.end(String(err.message));
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    /** Registers a page and returns its absolute URL. */
    page(html, { headers = {}, name } = {}) {
      const p = `/p/${name || `page${++seq}`}.html`;
      pages.set(p, { html, headers });
      return origin + p;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** The snippet's script tag, as a site owner pastes it. */
export function snippetTag(attrs = {}) {
  const all = { endpoint: ENDPOINT, ...attrs };
  const data = Object.entries(all)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => ` data-${k}="${esc(v)}"`).join('');
  return `<script async src="/dist/chattag.js"${data}></script>`;
}

/** A fixture page; `head` goes before the snippet tag, so stubs and listeners are in place first. */
export function pageHtml({ lang = 'en', title = 'Flower shop', head = '', snippet = {}, body = '', withSnippet = true } = {}) {
  return `<!doctype html><html lang="${esc(lang)}"><head><meta charset="utf-8"><title>${esc(title)}</title>
${head}
${withSnippet ? snippetTag(snippet) : ''}
</head><body>
${body}
</body></html>`;
}

/** Anchor list from `[id, href, extraAttrs]`. */
export function anchors(list) {
  return list.map(([id, href, extra = '']) => `<a id="${id}" href="${esc(href)}" ${extra}>${id}</a>`).join('\n');
}

/**
 * Per-file setup: a static server and a browser, closed after the file's tests; `beforeAll` /
 * `afterAll` run after the server is up / before it closes. Returns `{ server, run }`; `run(fn, opts)` gives `fn` a fresh Session and fails on pageerrors.
 */
export function setup({ beforeAll, afterAll } = {}) {
  const h = { server: null, browser: null };
  // File-level hooks run in one before/after so that extra set-up (a collector) sees the server.
  before(async () => {
    await fs.access(path.join(DIST, 'chattag.js')).catch(() => {
      throw new Error('dist/chattag.js is missing: run `npm run build` first');
    });
    h.server = await startStaticServer();
    h.browser = await launchBrowser();
    if (beforeAll) await beforeAll(h);
  });
  after(async () => {
    if (afterAll) await afterAll(h).catch((err) => console.error(err));
    await h.browser?.close();
    await h.server?.close();
  });
  h.run = (fn, opts = {}) => withSession(h.browser, fn, opts);
  return h;
}

/** Runs `fn` with a fresh Session of `browser`, fails on any pageerror, and always closes it. */
export async function withSession(browser, fn, opts = {}) {
  const s = await Session.open(browser, opts);
  try {
    await fn(s);
    s.assertNoPageErrors();
  } finally {
    await s.close();
  }
}

export class Session {
  static async open(browser, { contextOptions = {}, initScript, endpoint = 'ok' } = {}) {
    const s = new Session();
    s.context = await browser.newContext(contextOptions);
    s.pageErrors = [];
    s.console = [];
    /** Every request that reached the endpoint: { body, contentType, resourceType, answer, origin }. */
    s.requests = [];
    /** Events parsed from request bodies, each with the answer its request got. */
    s.events = [];
    /** Messenger URLs the browser navigated to (link clicks, window.open). */
    s.navigations = [];
    /** The frame each of `navigations` was requested for (a popup's, or this page's main frame). */
    s.navigationFrames = [];
    /** External requests that are neither the endpoint nor a messenger: a test page must make none. */
    s.stray = [];
    /** 'ok' | number (HTTP status) | 'abort' — how the endpoint answers right now. */
    s.endpointMode = endpoint;
    if (initScript) await s.context.addInitScript(initScript);
    s.context.on('page', (p) => s.watch(p));
    await s.context.route('**/*', (route) => s.onRequest(route));
    s.page = await s.context.newPage();
    return s;
  }

  watch(page) {
    page.on('pageerror', (err) => this.pageErrors.push(`${page.url()}: ${err.stack || err.message}`));
    page.on('console', (msg) => this.console.push({ type: msg.type(), text: msg.text(), url: page.url() }));
  }

  async onRequest(route) {
    const req = route.request();
    const url = req.url();
    if (url.startsWith(ENDPOINT)) return this.onEndpoint(route);
    if (MESSENGER_HOSTS.test(url)) {
      this.navigations.push(url);
      // A popup's first request comes before its frame exists (Playwright throws): not this page's.
      let frame = null;
      try {
        frame = req.frame();
      } catch {}
      this.navigationFrames.push(frame);
      return route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>messenger</title>opened' });
    }
    if (url.startsWith('http://127.0.0.1:')) return route.continue();
    this.stray.push(url);
    return route.abort('blockedbyclient');
  }

  async onEndpoint(route) {
    const req = route.request();
    const origin = req.headers()['origin'] || '*';
    const cors = { 'access-control-allow-origin': origin, vary: 'Origin' };
    if (req.method() === 'OPTIONS') {
      // A preflight means the snippet sent something other than a simple text/plain POST.
      this.requests.push({ preflight: true, headers: req.headers() });
      return route.fulfill({ status: 204, headers: { ...cors, 'access-control-allow-methods': 'POST', 'access-control-allow-headers': 'content-type' } });
    }
    const body = req.postData() ?? '';
    const mode = this.endpointMode;
    const answer = mode === 'ok' ? 200 : mode;
    const record = { body, contentType: req.headers()['content-type'], resourceType: req.resourceType(), method: req.method(), answer, origin };
    this.requests.push(record);
    let parsed;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
    const list = Array.isArray(parsed) ? parsed : parsed && typeof parsed === 'object' ? [parsed] : [];
    for (const ev of list) this.events.push({ ...ev, _answer: answer, _resourceType: record.resourceType });
    if (mode === 'abort') return route.abort('connectionreset');
    if (answer !== 200) {
      return route.fulfill({ status: answer, headers: cors, contentType: 'application/json', body: '{"error":{"code":"unavailable","message":"test says no"}}' });
    }
    return route.fulfill({ status: 200, headers: cors, contentType: 'application/json', body: JSON.stringify({ accepted: list.length, duplicates: 0 }) });
  }

  /** Events answered 2xx (what a collector would have stored). */
  delivered() {
    return this.events.filter((e) => e._answer === 200);
  }

  /** Polls captured events until `pred` matches one; returns it. */
  async waitForEvent(pred, { timeout = 8000, delivered = false, what = 'event' } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const list = delivered ? this.delivered() : this.events;
      const hit = list.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) {
        throw new assert.AssertionError({
          message: `timed out after ${timeout} ms waiting for ${what}; events seen: ${JSON.stringify(this.events.map(strip), null, 1).slice(0, 4000)}`,
        });
      }
      await sleep(50);
    }
  }

  /** Waits until the snippet's API is installed and has an ID; returns the ID. */
  async ready(page = this.page, timeout = 8000) {
    await page.waitForFunction(
      () => typeof window.chattag === 'function' && typeof window.chattag.id === 'function' && !!window.chattag.id(),
      null,
      { timeout },
    );
    return page.evaluate(() => window.chattag.id());
  }

  /** Checks every captured event against the wire contract (any configured prefix unless given). */
  assertEventsValid(prefixes = null) {
    for (const ev of this.events) assertValidEvent(strip(ev), prefixes);
  }

  assertNoPageErrors() {
    assert.deepEqual(this.pageErrors, [], 'no pageerror may occur in any test');
  }

  async close() {
    await this.context.close().catch(() => {});
  }
}

/** An event without the harness's bookkeeping fields. */
export function strip(ev) {
  const { _answer, _resourceType, ...rest } = ev;
  return rest;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Raw `href` attributes of the given element ids. */
export function hrefs(page, ids) {
  return page.evaluate((ids) => Object.fromEntries(ids.map((id) => [id, document.getElementById(id)?.getAttribute('href')])), ids);
}
