// The collector behind the site's own domain: `data-endpoint="/chattag/v1/events"`, resolved
// against the page. The page, chattag.js and the collector are all served by one origin — a small
// reverse proxy here, in front of the real collector binary, as docs/hosting.md's nginx and Caddy
// recipes do — so the requests are same-origin, need no CORS, and carry the site's Origin.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { anchors, pageHtml, setup } from './lib/harness.mjs';
import { Collector, freePort } from './lib/collector.mjs';

let site;
let collector;
const seen = [];
const h = setup();

before(async () => {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  collector = await new Collector({ origin }).start();
  const upstream = new URL(collector.base);
  // `/chattag/…` → the collector (prefix stripped, like `proxy_pass http://collector/;` under
  // `location /chattag/`); everything else → the test's static server (the page and dist/).
  site = http.createServer((req, res) => {
    const toCollector = req.url.startsWith('/chattag/');
    const target = toCollector ? upstream : new URL(h.server.origin);
    const path = toCollector ? req.url.slice('/chattag'.length) : req.url;
    if (toCollector) seen.push(`${req.method} ${path} origin=${req.headers.origin}`);
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path, headers: { ...req.headers, host: target.host, 'x-forwarded-for': req.socket.remoteAddress } }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise((r) => site.listen(port, '127.0.0.1', r));
  site.origin = origin;
});
after(async () => {
  await new Promise((r) => (site ? site.close(r) : r()));
  await collector?.dispose();
});

test('data-endpoint="/chattag/v1/events" on the site\'s own domain: events reach the collector through the proxy', async () => {
  await h.run(async (s) => {
    const url = new URL(h.server.page(pageHtml({ snippet: { endpoint: '/chattag/v1/events' }, body: anchors([['tg', 'https://t.me/flower_shop_bot']]) })));
    await s.page.goto(site.origin + url.pathname + '?utm_source=proxy');
    const id = await s.ready();
    await s.page.click('#tg');
    const stored = await collector.waitForChat(id, (r) => (r.clicks || []).length >= 1, { what: 'issue and click stored via the proxy' });
    assert.equal(stored.identifiers?.utm?.source, 'proxy');
    assert.ok(seen.length > 0 && seen.every((l) => l.startsWith('POST /v1/events origin=' + site.origin)), seen.join('\n'));
    assert.deepEqual(s.requests, [], 'nothing went to a cross-origin endpoint');
  });
});
