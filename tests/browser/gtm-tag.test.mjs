// The GTM template end to end in headless Chromium: its sandboxed code runs in a real page (over
// the permission-enforcing fake of the GTM APIs, with injectScript as a real <script> element)
// and injects the real dist/chattag.js. The snippet must take its settings from
// window.chattagConfig, and GTM consent must gate it: no script request before
// analytics_storage is granted, tagging after, and a withdrawal stops it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DIST, ENDPOINT, ROOT, setup, sleep } from './lib/harness.mjs';
import { gtmApis, parseTemplate, readPermissions, runSandboxed, urlAllowed } from '../../gtm/sandbox-fake.mjs';

const h = setup();
const S = parseTemplate(fs.readFileSync(path.join(ROOT, 'gtm', 'template.tpl'), 'utf8'));
const CDN = 'https://cdn.chattag.test';
const SCRIPT = `${CDN}/static/chattag.js`;

const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head><body>
<a id="wa" href="https://wa.me/79990001122?text=Hello">WhatsApp</a>
<a id="tg" href="https://t.me/flowers_bot">Telegram</a>
</body></html>`;

/** Opens the page, serves dist/ from the CDN origin, installs the fake GTM and fires the tag. */
async function fireTag(s, data, consent = {}) {
  const cdnRequests = [];
  await s.page.route(`${CDN}/**`, (route) => {
    const p = new URL(route.request().url()).pathname.replace(/^\/static\//, '');
    cdnRequests.push(p);
    const file = path.join(DIST, p);
    if (!file.startsWith(DIST + path.sep) || !fs.existsSync(file)) return route.fulfill({ status: 404, body: 'no' });
    const type = file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
    return route.fulfill({ status: 200, body: fs.readFileSync(file), headers: { 'content-type': type, 'access-control-allow-origin': '*' } });
  });
  await s.page.goto(h.server.page(PAGE));
  await s.page.evaluate(
    ([apisSrc, runSrc, allowedSrc, code, perms, data, consent]) => {
      const gtmApis = new Function(`return (${apisSrc})`)();
      const runSandboxed = new Function(`return (${runSrc})`)();
      const urlAllowed = new Function(`return (${allowedSrc})`)();
      const { apis, setConsent } = gtmApis(window, {
        perms,
        consent,
        allowed: (url) => urlAllowed(url, perms.injectUrls),
        // What GTM's injectScript does: an async <script> element.
        inject: (url, ok, fail) => {
          const el = document.createElement('script');
          el.src = url;
          el.async = true;
          el.onload = ok;
          el.onerror = fail;
          document.head.appendChild(el);
        },
        log: () => {},
      });
      // Test plumbing only (the page under test is otherwise free of our globals).
      Object.defineProperty(window, '__gtmConsent', { value: setConsent });
      runSandboxed(code, { ...data, gtmOnSuccess() {}, gtmOnFailure() {} }, apis);
    },
    [gtmApis.toString(), runSandboxed.toString(), urlAllowed.toString(), S.SANDBOXED_JS_FOR_WEB_TEMPLATE, readPermissions(JSON.parse(S.WEB_PERMISSIONS)), data, consent],
  );
  return cdnRequests;
}

const DATA = { scriptUrl: SCRIPT, endpoint: ENDPOINT, prefix: 'GT', template: '', lifetimeDays: '', counter: '', consentMode: 'none', debug: false, qr: false };
const hrefs = (page) => page.evaluate(() => [...document.querySelectorAll('a')].map((a) => a.getAttribute('href')));

test('GTM tag: injects chattag.js, which runs with the template settings and reports', async () => {
  await h.run(async (s) => {
    await fireTag(s, DATA);
    const id = await s.ready();
    assert.match(id, /^GT[0-9A-Z]{8}$/, 'prefix from chattagConfig');
    for (const href of await hrefs(s.page)) assert.ok(href.includes(id), href);
    await s.waitForEvent((e) => e.type === 'issue' && e.chat_id === id, { what: 'issue event' });
    s.assertEventsValid();
  });
});

test('GTM consent mode: nothing is requested while analytics_storage is denied; grant starts it; withdrawal stops it', async () => {
  await h.run(async (s) => {
    const cdn = await fireTag(s, { ...DATA, consentMode: 'gtm' }, { analytics_storage: false });
    await sleep(600);
    assert.deepEqual(cdn, [], 'no request to the script host before consent');
    assert.deepEqual(await hrefs(s.page), ['https://wa.me/79990001122?text=Hello', 'https://t.me/flowers_bot']);
    assert.equal(s.events.length, 0);

    await s.page.evaluate(() => window.__gtmConsent('analytics_storage', true));
    const id = await s.ready();
    // The script, and the wasm beside it in the default build (none in the one-file build).
    assert.deepEqual(cdn, ['chattag.js', ...fs.readdirSync(DIST).filter((f) => /^chattag\.[0-9a-f]+\.wasm$/.test(f))]);
    for (const href of await hrefs(s.page)) assert.ok(href.includes(id), href);
    await s.waitForEvent((e) => e.type === 'issue' && e.chat_id === id, { what: 'issue event after consent' });

    await s.page.evaluate(() => window.__gtmConsent('analytics_storage', false));
    await sleep(200);
    await s.page.evaluate(() => {
      const a = document.createElement('a');
      a.id = 'late';
      a.href = 'https://wa.me/79990001122?text=Later';
      document.body.append(a);
    });
    await sleep(500);
    assert.equal(await s.page.getAttribute('#late', 'href'), 'https://wa.me/79990001122?text=Later', 'stopped after withdrawal');
  });
});
