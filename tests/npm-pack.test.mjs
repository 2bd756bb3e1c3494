// The npm package: `scripts/build_npm.mjs --pack` → the tarball holds exactly the files the
// package needs → installed into a scratch project it imports (also outside a browser, as in
// server-side rendering) → bundled by esbuild into a page, it tags messenger links in headless
// Chromium with the same wasm as the script tag, and its lazy chunks resolve through the bundle.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { ENDPOINT, Session, launchBrowser } from './browser/lib/harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUILT = fs.existsSync(path.join(ROOT, 'dist', 'chattag.inline.js'));
const skip = BUILT ? false : 'dist/chattag.inline.js missing: run `npm run build` first';
const EXPORTS = ['consent', 'id', 'identifiers', 'ready', 'rewrite', 'setPurchaseId', 'setUserId', 'start'];
const SHOP = 'https://shop.test';

let tarball;
let scratch;
let browser;

before(async () => {
  if (!BUILT) return;
  const out = execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build_npm.mjs'), '--pack'], { cwd: ROOT, encoding: 'utf8' });
  tarball = out.trim().split('\n').pop();
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'chattag-npm-'));
  fs.writeFileSync(path.join(scratch, 'package.json'), JSON.stringify({ name: 'scratch-shop', private: true, type: 'module' }));
  const r = spawnSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: scratch, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm install of the tarball failed: ${r.stderr}`);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

test('the tarball holds exactly what the package needs', { skip }, () => {
  const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).trim().split('\n').sort();
  assert.deepEqual(files, [
    'package/README.md', 'package/chattag.mjs', 'package/debug.js', 'package/fallback.js',
    'package/index.d.ts', 'package/index.js', 'package/inspect.js', 'package/package.json',
    'package/qr.js',
  ]);
  const pkg = JSON.parse(execFileSync('tar', ['xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }));
  assert.equal(pkg.name, 'chattag');
  assert.equal(pkg.type, 'module');
  assert.deepEqual(pkg.exports['.'], { types: './index.d.ts', import: './index.js', default: './index.js' });
  // The wrapped snippet is the build, byte for byte.
  const wrapped = execFileSync('tar', ['xzOf', tarball, 'package/chattag.mjs'], { encoding: 'utf8' });
  assert.ok(wrapped.includes(fs.readFileSync(path.join(ROOT, 'dist', 'chattag.inline.js'), 'utf8')));
});

test('installed, it imports with the documented API, and does nothing outside a browser', { skip }, () => {
  const script = `
    import * as c from 'chattag';
    const shape = Object.fromEntries(Object.entries(c).map(([k, v]) => [k, typeof v]));
    c.start({ endpoint: 'https://collector.example/v1/events' });
    c.setUserId('42');
    console.log(JSON.stringify({ shape, id: c.id() ?? null, rewrite: c.rewrite('https://wa.me/1'), ids: c.identifiers() }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: scratch, encoding: 'utf8' });
  const r = JSON.parse(out);
  assert.deepEqual(Object.keys(r.shape).sort(), EXPORTS);
  assert.ok(Object.values(r.shape).every((t) => t === 'function'));
  assert.deepEqual([r.id, r.rewrite, r.ids], [null, 'https://wa.me/1', {}]);
});

test('index.d.ts declares exactly the exports of index.js', { skip }, () => {
  const dir = path.join(scratch, 'node_modules', 'chattag');
  const dts = fs.readFileSync(path.join(dir, 'index.d.ts'), 'utf8');
  const declared = [...dts.matchAll(/^export function (\w+)/gm)].map((m) => m[1]).sort();
  assert.deepEqual(declared, EXPORTS);
});

test('bundled with esbuild into a page, it tags messenger links and reports', { skip }, async () => {
  fs.mkdirSync(path.join(scratch, 'src'), { recursive: true });
  fs.writeFileSync(path.join(scratch, 'src', 'main.js'), `
    import { start, ready, rewrite, setUserId, identifiers } from 'chattag';
    setUserId('u-42');
    start({ endpoint: ${JSON.stringify(ENDPOINT)}, prefix: 'NP' });
    ready().then((id) => {
      window.__result = { id, rewritten: rewrite('https://t.me/shop_bot'), ids: identifiers() };
    });
  `);
  const outdir = path.join(scratch, 'out');
  await esbuild.build({
    absWorkingDir: scratch, entryPoints: ['src/main.js'], bundle: true, splitting: true, format: 'esm',
    outdir, minify: true, target: ['es2020'], logLevel: 'silent',
  });
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
    <script type="module" src="/out/main.js"></script></head><body>
    <a id="wa" href="https://wa.me/79990001122?text=Hello">WhatsApp</a>
    <a id="tg" href="https://t.me/flowers_bot">Telegram</a></body></html>`;

  const s = await Session.open(browser);
  try {
    await s.page.route(`${SHOP}/**`, (route) => {
      const p = new URL(route.request().url()).pathname;
      if (p === '/') return route.fulfill({ status: 200, contentType: 'text/html', body: html });
      const file = path.join(outdir, p.replace(/^\/out\//, ''));
      if (!file.startsWith(outdir) || !fs.existsSync(file)) return route.fulfill({ status: 404, body: 'no' });
      return route.fulfill({ status: 200, contentType: 'text/javascript', body: fs.readFileSync(file) });
    });
    await s.page.goto(`${SHOP}/`);
    await s.page.waitForFunction(() => window.__result, null, { timeout: 10000 });
    const r = await s.page.evaluate(() => window.__result);
    assert.match(r.id, /^NP[0-9A-HJKMNP-TV-Z]{8}$/);
    assert.ok(r.rewritten.includes(r.id), `rewrite() tags through the package: ${r.rewritten}`);
    assert.equal(r.ids.user_id, 'u-42', 'a call made before start() was replayed');
    const hrefs = await s.page.evaluate(() => [...document.querySelectorAll('a')].map((a) => a.getAttribute('href')));
    assert.ok(hrefs.every((h) => h.includes(r.id)), `links tagged: ${hrefs}`);
    const issue = await s.waitForEvent((e) => e.type === 'issue' && e.chat_id === r.id, { what: 'issue event' });
    assert.equal(issue.user_id, 'u-42');
    // The lazy chunks resolve through the bundle (code-split files next to main.js).
    const chunks = await s.page.evaluate(async () => {
      const load = window.chattagConfig.importChunk;
      return [typeof (await load('qr')).showQr, typeof (await load('debug')).showDebug];
    });
    assert.deepEqual(chunks, ['function', 'function']);
    s.assertNoPageErrors();
  } finally {
    await s.close();
  }
});

const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const noTsc = !BUILT ? skip : fs.existsSync(TSC) ? false : 'typescript not installed (devDependency requested from the lead)';

test('the types compile for a strict TypeScript consumer (nodenext resolution through exports)', { skip: noTsc }, () => {
  fs.writeFileSync(path.join(scratch, 'consumer.ts'), `
    import { start, ready, id, rewrite, identifiers, setUserId, consent, type ChattagConfig } from 'chattag';
    const cfg: ChattagConfig = { endpoint: 'https://c.example/v1/events', prefix: 'FL', lifetimeDays: 30, counter: 123, consent: 'required', qr: true };
    start(cfg);
    ready().then((x: string) => x.toUpperCase());
    const i: string | undefined = id();
    const r: string = rewrite(new URL('https://wa.me/1'));
    const s: string | undefined = identifiers().utm?.source;
    setUserId(null);
    consent(true);
    // @ts-expect-error consent is 'granted' | 'required'
    start({ consent: 'yes' });
    // @ts-expect-error unknown setting
    start({ endpont: 'x' });
    export { i, r, s };
  `);
  fs.writeFileSync(path.join(scratch, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2020', lib: ['es2020', 'dom'] },
    files: ['consumer.ts'],
  }));
  const r = spawnSync(process.execPath, [TSC, '-p', scratch], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
