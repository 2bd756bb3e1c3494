// The QR dialog chunk (www/loader/qr.js).
//   Encoder: every version 1–40 at levels M and L decodes back to the exact text with zbarimg
//   (zbar-tools), and symbols are module-for-module identical to libqrencode's (qrencode) for the
//   same mask. Dialog, in headless Chromium: loaded cross-origin with import() (as the loader
//   will), accessible (role, label, focus in/out, Tab kept inside, Escape, close button, click
//   outside), the page does not move, no globals, and a screenshot of it scans to the URL.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import * as esbuild from 'esbuild';
import { ROOT, launchBrowser, startStaticServer, withSession } from './lib/harness.mjs';
import { encode } from '../../www/loader/qr.js';

const SRC = path.join(ROOT, 'www', 'loader', 'qr.js');
const has = (exe) => spawnSync('sh', ['-c', `command -v ${exe}`]).status === 0;
const ZBAR = has('zbarimg');
const QRENCODE = has('qrencode');
const NO_ZBAR = ZBAR ? false : 'zbarimg not installed (apt-get install zbar-tools)';
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'chattag-qr-'));

/** Binary PGM of a symbol: `scale` px per module, 4 modules of quiet zone. */
function pgm({ size, dark }, scale = 3) {
  const n = (size + 8) * scale;
  const px = Buffer.alloc(n * n, 255);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (!dark[y * size + x]) continue;
      for (let dy = 0; dy < scale; dy++) px.fill(0, ((y + 4) * scale + dy) * n + (x + 4) * scale, ((y + 4) * scale + dy) * n + (x + 5) * scale);
    }
  }
  return Buffer.concat([Buffer.from(`P5\n${n} ${n}\n255\n`), px]);
}

/** Decodes every QR code in an image file; binary-safe (UTF-8 text comes back as sent). */
function zbar(file) {
  const r = spawnSync('zbarimg', ['-q', '--raw', '-Sbinary', file], { encoding: 'buffer' });
  return r.status === 0 ? r.stdout.toString('utf8').replace(/\n$/, '') : null;
}

/** Longest ASCII text that still fits `version` at `ecl` (byte mode). */
function longestFor(version, ecl) {
  let lo = 1;
  let hi = 3000;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    let v = 99;
    try {
      v = encode('x'.repeat(mid), { ecl }).version;
    } catch {}
    if (v <= version) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

test('every version 1–40 at M and L decodes back to the exact text', { skip: NO_ZBAR }, () => {
  const failures = [];
  for (const ecl of ['M', 'L']) {
    for (let version = 1; version <= 40; version++) {
      const n = longestFor(version, ecl);
      // Varied bytes, so a misplaced codeword cannot go unnoticed behind a uniform payload.
      const text = `https://t.me/a?start=${Array.from({ length: n }, (_, i) => String.fromCharCode(33 + ((i * 7 + version) % 90))).join('')}`.slice(0, n);
      const sym = encode(text, { ecl });
      assert.equal(sym.version, version, `${ecl} v${version}: ${n} bytes chose v${sym.version}`);
      const file = path.join(TMP, `v${version}${ecl}.pgm`);
      fs.writeFileSync(file, pgm(sym, version > 25 ? 2 : 3));
      if (zbar(file) !== text) failures.push(`${ecl} v${version} (${n} B, mask ${sym.mask})`);
    }
  }
  assert.deepEqual(failures, []);
});

test('every mask decodes (v7 and v14, both levels)', { skip: NO_ZBAR }, () => {
  const text = 'https://wa.me/79990001122?text=Hello%0ARequest%20number%3A%20CT8F2A9KQ3';
  const failures = [];
  for (const version of [7, 14]) {
    for (const ecl of ['M', 'L']) {
      for (let mask = 0; mask < 8; mask++) {
        const padded = text + '#'.repeat(Math.max(0, longestFor(version, ecl) - text.length));
        const sym = encode(padded, { ecl, mask });
        const file = path.join(TMP, 'mask.pgm');
        fs.writeFileSync(file, pgm(sym));
        if (sym.mask !== mask || zbar(file) !== padded) failures.push(`v${version} ${ecl} mask ${mask}`);
      }
    }
  }
  assert.deepEqual(failures, []);
});

test('UTF-8 text (Cyrillic message, emoji) round-trips', { skip: NO_ZBAR }, () => {
  for (const text of ['Привет, мир ✓', 'https://wa.me/5511999990000?text=Olá 👋 pedido CT8F2A9KQ3']) {
    const file = path.join(TMP, 'utf8.pgm');
    fs.writeFileSync(file, pgm(encode(text)));
    assert.equal(zbar(file), text);
  }
});

test('symbols are identical to libqrencode for the same mask', { skip: QRENCODE ? false : 'qrencode not installed' }, () => {
  const inputs = [
    'https://t.me/flowers_bot?start=CT8F2A9KQ3',
    `https://wa.me/79990001122?text=${encodeURIComponent('Здравствуйте! Хочу букет. Номер заявки: CT8F2A9KQ3')}`,
    'x'.repeat(400),
  ];
  for (const text of inputs) {
    const rows = execFileSync('qrencode', ['-8', '-l', 'M', '-m', '0', '-t', 'ASCII', '-o', '-', text]).toString().split('\n').filter(Boolean);
    const size = rows.length;
    const theirs = rows.map((r) => Array.from({ length: size }, (_, x) => (r[x * 2] === '#' ? 1 : 0)).join('')).join('\n');
    const ours = [];
    for (let mask = 0; mask < 8; mask++) {
      const s = encode(text, { ecl: 'M', mask });
      assert.equal(s.size, size, 'same version');
      ours.push(Array.from({ length: size }, (_, y) => Array.from(s.dark.subarray(y * size, (y + 1) * size)).join('')).join('\n'));
    }
    assert.ok(ours.includes(theirs), `no mask reproduces qrencode's symbol for ${text.slice(0, 40)}…`);
  }
});

test('too long for any QR code: a RangeError, not a broken symbol', () => {
  assert.throws(() => encode('x'.repeat(2954)), RangeError);
  assert.equal(encode('x'.repeat(2953)).version, 40);
});

// ---- the dialog in Chromium --------------------------------------------------------------------

const CDN = 'https://cdn.chattag.test';
const CHUNK_URL = `${CDN}/chattag-qr.js`;
const TAGGED = 'https://wa.me/79990001122?text=Hello%0ARequest%20number%3A%20CT8F2A9KQ3';
let server;
let browser;
let chunk;

before(async () => {
  // The chunk as the build would ship it: one minified ES module.
  const out = await esbuild.build({ entryPoints: [SRC], bundle: true, format: 'esm', minify: true, write: false, target: ['es2020'], legalComments: 'none' });
  chunk = Buffer.from(out.outputFiles[0].contents);
  server = await startStaticServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.close();
  fs.rmSync(TMP, { recursive: true, force: true });
});

test('chunk size (minified ES module)', () => {
  const gz = zlib.gzipSync(chunk, { level: 9 }).length;
  console.log(`# qr chunk: ${chunk.length} B raw, ${gz} B gzip`);
  assert.ok(gz <= 5 * 1024, `qr chunk is ${gz} B gzip; budget 5 KB`);
});

const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<style>body{margin:0;font:16px sans-serif} main{padding:20px;height:1500px} #after{margin-top:40px}</style></head>
<body><main><h1 id="h">Roses</h1><p>Text above.</p>
<button id="chat">Chat on WhatsApp</button><a id="after" href="#x">after</a></main></body></html>`;

async function openPage(s, html = PAGE) {
  await s.page.route(`${CDN}/**`, (route) =>
    route.fulfill({ status: 200, body: chunk, headers: { 'content-type': 'text/javascript', 'access-control-allow-origin': '*' } }),
  );
  await s.page.goto(server.page(html));
  await s.page.evaluate((url) => {
    // What the loader will do on a click: import the chunk cross-origin, then show the dialog.
    document.getElementById('chat').addEventListener('click', async () => {
      const m = await import(url);
      window.__qr = m.showQr(document.getElementById('chat').dataset.url, {});
    });
  }, CHUNK_URL);
  await s.page.evaluate((u) => (document.getElementById('chat').dataset.url = u), TAGGED);
}

const dialog = (page) => page.locator('[role="dialog"]');
const active = (page) =>
  page.evaluate(() => {
    let a = document.activeElement;
    while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
    return a ? `${a.tagName.toLowerCase()}${a.id ? '#' + a.id : ''}${a.className ? '.' + a.className : ''}` : null;
  });

test('dialog: labelled modal, focus in, Tab stays inside, Escape closes and gives focus back', async () => {
  await withSession(browser, async (s) => {
    await openPage(s);
    const globalsBefore = await s.page.evaluate(() => Object.keys(window).filter((k) => k !== '__qr').sort());
    await s.page.focus('#chat');
    await s.page.keyboard.press('Enter');
    await dialog(s.page).waitFor();
    const d = dialog(s.page);
    assert.equal(await d.getAttribute('aria-modal'), 'true');
    // Playwright resolves aria-labelledby inside the shadow root: the accessible name is the title.
    assert.equal(await s.page.getByRole('dialog', { name: 'Continue on your phone' }).count(), 1);
    assert.match(await d.getAttribute('aria-describedby'), /\S/);
    assert.equal(await s.page.getByRole('img', { name: 'QR code of the chat link' }).count(), 1);
    assert.equal(await active(s.page), 'button.close', 'focus moves into the dialog');

    await s.page.keyboard.press('Tab');
    assert.equal(await active(s.page), 'a');
    assert.equal(await s.page.getByRole('link', { name: 'Open on this computer' }).getAttribute('href'), TAGGED);
    await s.page.keyboard.press('Tab');
    assert.equal(await active(s.page), 'button.close', 'Tab wraps inside the dialog');
    await s.page.keyboard.press('Shift+Tab');
    assert.equal(await active(s.page), 'a', 'Shift+Tab wraps backwards');

    await s.page.keyboard.press('Escape');
    assert.equal(await d.count(), 0, 'Escape closes');
    assert.equal(await active(s.page), 'button#chat', 'focus returns to what opened it');
    const globalsAfter = await s.page.evaluate(() => Object.keys(window).filter((k) => k !== '__qr').sort());
    assert.deepEqual(globalsAfter, globalsBefore, 'the chunk adds no globals');
  });
});

test('dialog: close button and a click outside close it; a click inside does not', async () => {
  await withSession(browser, async (s) => {
    await openPage(s);
    await s.page.click('#chat');
    await dialog(s.page).waitFor();
    await s.page.getByRole('button', { name: 'Close' }).click();
    assert.equal(await dialog(s.page).count(), 0);

    await s.page.click('#chat');
    await dialog(s.page).waitFor();
    await s.page.getByRole('heading', { name: 'Continue on your phone' }).click();
    assert.equal(await dialog(s.page).count(), 1, 'a click inside keeps it open');
    await s.page.mouse.click(5, 5);
    assert.equal(await dialog(s.page).count(), 0, 'a click outside closes');

    // A second call replaces the first: never two dialogs.
    await s.page.click('#chat');
    await dialog(s.page).waitFor();
    await s.page.evaluate(async (url) => (await import(url)).showQr('https://t.me/x_bot?start=CT8F2A9KQ3'), CHUNK_URL);
    assert.equal(await dialog(s.page).count(), 1);
  });
});

test('dialog: the page does not move, and the screenshot scans to the tagged URL', async () => {
  await withSession(browser, async (s) => {
    await openPage(s);
    const layout = () =>
      s.page.evaluate(() => ({
        h: JSON.stringify(document.getElementById('h').getBoundingClientRect()),
        after: JSON.stringify(document.getElementById('after').getBoundingClientRect()),
        scroll: [document.documentElement.scrollWidth, document.documentElement.scrollHeight, window.scrollY],
        body: getComputedStyle(document.body).overflow,
      }));
    const before = await layout();
    await s.page.click('#chat');
    await dialog(s.page).waitFor();
    assert.deepEqual(await layout(), before, 'no layout shift, no scroll lock side effects');

    const shot = path.join(TMP, 'qr-dialog.png');
    await s.page.screenshot({ path: shot });
    fs.mkdirSync(path.join(ROOT, 'tests', 'artifacts'), { recursive: true });
    fs.copyFileSync(shot, path.join(ROOT, 'tests', 'artifacts', 'qr-dialog.png'));
    if (ZBAR) assert.equal(zbar(shot), TAGGED, 'the QR in the rendered dialog scans to the tagged link');
  }, { contextOptions: { viewport: { width: 1280, height: 800 } } });
});

test('dialog speaks the page language (ru)', async () => {
  await withSession(browser, async (s) => {
    await openPage(s, PAGE.replace('lang="en"', 'lang="ru"'));
    await s.page.click('#chat');
    await dialog(s.page).waitFor();
    assert.equal(await s.page.getByRole('dialog', { name: 'Продолжите на телефоне' }).count(), 1);
    assert.equal(await s.page.getByRole('button', { name: 'Закрыть' }).count(), 1);
  });
});

test('dialog under a strict CSP (no inline styles, scripts only from the CDN): styled, no violations', async () => {
  await withSession(browser, async (s) => {
    const csp = `default-src 'none'; script-src ${CDN}; style-src 'self'; img-src 'self'`;
    await s.page.route(`${CDN}/**`, (route) =>
      route.fulfill({ status: 200, body: chunk, headers: { 'content-type': 'text/javascript', 'access-control-allow-origin': '*' } }),
    );
    await s.page.goto(server.page('<!doctype html><html lang="en"><body><button id="b">b</button></body></html>', { headers: { 'content-security-policy': csp } }));
    const r = await s.page.evaluate(async (url) => {
      const violations = [];
      document.addEventListener('securitypolicyviolation', (e) => violations.push(`${e.violatedDirective} ${e.blockedURI}`));
      (await import(url)).showQr('https://t.me/flowers_bot?start=CT8F2A9KQ3');
      await new Promise((res) => setTimeout(res, 50));
      const host = [...document.body.children].find((e) => e.shadowRoot);
      const backdrop = host.shadowRoot.querySelector('.backdrop');
      return { violations, position: getComputedStyle(backdrop).position };
    }, CHUNK_URL);
    assert.deepEqual(r, { violations: [], position: 'fixed' });
  });
});

test('nonce + strict-dynamic CSP: a nonced script may import() the chunk, as docs/hosting.md says', async () => {
  await withSession(browser, async (s) => {
    const csp = `script-src 'nonce-n0nce' 'strict-dynamic'; style-src 'self'`;
    await s.page.route(`${CDN}/**`, (route) =>
      route.fulfill({ status: 200, body: chunk, headers: { 'content-type': 'text/javascript', 'access-control-allow-origin': '*' } }),
    );
    const html = `<!doctype html><html lang="en"><body><button id="b">chat</button>
<script nonce="n0nce">
document.getElementById('b').addEventListener('click', function () {
  import(${JSON.stringify(CHUNK_URL)}).then(function (m) { m.showQr('https://t.me/flowers_bot?start=CT8F2A9KQ3'); });
});
</script></body></html>`;
    await s.page.goto(server.page(html, { headers: { 'content-security-policy': csp } }));
    await s.page.click('#b');
    await dialog(s.page).waitFor({ timeout: 5000 });
  });
});

test('a link too long for a QR code: showQr throws before touching the page', async () => {
  await withSession(browser, async (s) => {
    await openPage(s);
    await s.page.focus('#chat');
    const r = await s.page.evaluate(async (url) => {
      const m = await import(url);
      try {
        m.showQr(`https://wa.me/1?text=${'x'.repeat(3000)}`);
        return 'shown';
      } catch (e) {
        return `${e.name}; hosts=${[...document.body.children].filter((c) => c.shadowRoot).length}; focus=${document.activeElement.id}`;
      }
    }, CHUNK_URL);
    assert.equal(r, 'RangeError; hosts=0; focus=chat');
  });
});
