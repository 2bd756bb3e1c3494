#!/usr/bin/env node
// The bench's web server, in its own process: served from the bench's own Node process, the
// snippet's wasm request waited for the browser driver's event loop (tens of ms under a
// trace), which is the harness's cost, not a CDN's. Files are read once and kept in memory;
// pages are HTML files the bench writes into PAGES before it opens them. It also stands in for
// the collector (`/v1/events`).
//
//   node scripts/bench/static-server.mjs <dist dir> <plain-rewriter.js> <pages dir>
// Prints the origin on its first line of stdout.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const [dist, plain, pages] = process.argv.slice(2);
const cache = new Map();
const load = (file) => {
  if (!cache.has(file)) cache.set(file, fs.readFileSync(file));
  return cache.get(file);
};

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  const name = path.basename(url.pathname);
  try {
    if (url.pathname === '/v1/events') {
      // The snippet's collector, answered here like a real one would (the page's own origin:
      // no preflight). Intercepting it in the browser driver instead (Playwright's route) sends
      // every request of the page through the driver, the wasm's included.
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"accepted":0,"duplicates":0}'));
      return;
    }
    if (url.pathname === `/${name}` && name.endsWith('.html')) {
      // Pages change between runs: read each time.
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        .end(fs.readFileSync(path.join(pages, name)));
    } else if (url.pathname === '/bench/plain-rewriter.js') {
      res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'no-store' }).end(load(plain));
    } else if (url.pathname === `/dist/${name}`) {
      const type = name.endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(load(path.join(dist, name)));
    } else {
      res.writeHead(404).end();
    }
  } catch {
    res.writeHead(404).end();
  }
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`http://127.0.0.1:${server.address().port}\n`);
});
// Ends with the bench.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
