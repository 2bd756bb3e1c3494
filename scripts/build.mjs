#!/usr/bin/env node
// `npm run build`: the snippet crate (repository root) → wasm → dist/chattag.js, the one classic
// script a site pastes (GTM's injectScript cannot load ES modules, so it is an IIFE).
//
//   1. wasm toolchain, whichever this machine has (printed):
//        build-std  Debian rustc-web (/usr/bin) + std sources: std rebuilt for wasm32 with
//                   panic=immediate-abort — the smallest output (see docs/reference/toolchain.md)
//        rustup     rustup's toolchain with the wasm32-unknown-unknown target and the rust-src
//                   component: std rebuilt the same way (RUSTC_BOOTSTRAP=1 on stable, no
//                   nightly; measured with 1.95: 118 B more wasm, 36 B more gzip than Debian's
//                   1.96). Without rust-src the build stops and says to install it.
//      Force one with CHATTAG_WASM_TOOLCHAIN=build-std|rustup.
//   2. cargo build with the size-first `[profile.wasm]` of Cargo.toml. No wasm-bindgen: the
//      exports and imports are plain numbers (src/lib.rs, src/browser/ports.rs) and the glue is
//      www/loader/glue.js, by hand.
//   3. wasm-opt -Oz (binaryen from node_modules).
//   4. esbuild (then terser): loader + glue → dist/chattag.js, with the wasm beside it as
//      dist/chattag.<hash>.wasm (default, --wasm=file: fetched and compiled once downloaded,
//      nothing inflated) or inlined as a string (--wasm=inline: one file, no MIME/CORS needs on the
//      host). The one-file build is always written as dist/chattag.inline.js too (the npm
//      package wraps it). Both variants are measured on every build and printed.
//
// Flags: --wasm=file|inline   --skip-cargo (reuse the last cargo output; loader-only work)
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { minify } from 'terser';
import { printTable, sizeTable } from './size_blocks.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// CHATTAG_DIST: another output directory (the tests and the bench read the same variable).
const DIST = path.resolve(process.env.CHATTAG_DIST || path.join(ROOT, 'dist'));
const BIN = path.join(ROOT, 'node_modules', '.bin');
const HOME = os.homedir();
const CARGO_HOME_BIN = path.join(process.env.CARGO_HOME || path.join(HOME, '.cargo'), 'bin');

// What a page downloads should stay within (a benchmark target, stretch 10 KB; not enforced).
const BUDGET_GZIP = 15 * 1024;

const args = process.argv.slice(2);
const flag = (name) => {
  const hit = args.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (!hit) return undefined;
  return hit.includes('=') ? hit.slice(hit.indexOf('=') + 1) : true;
};
const WASM_MODE = flag('wasm') || process.env.CHATTAG_WASM_MODE || 'file';
if (!['inline', 'file'].includes(WASM_MODE)) fail(`--wasm must be inline or file, not ${WASM_MODE}`);

function fail(msg) {
  console.error(`[build] error: ${msg}`);
  process.exit(1);
}
const say = (msg) => console.log(`[build] ${msg}`);

function run(cmd, argv, env) {
  say(`$ ${[cmd, ...argv].join(' ')}`);
  const r = spawnSync(cmd, argv, { cwd: ROOT, env, stdio: 'inherit' });
  if (r.error) fail(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} exited with ${r.status}`);
}

function capture(cmd, argv, env) {
  const r = spawnSync(cmd, argv, { cwd: ROOT, env, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

// The strict-CSP fallback is this same wasm turned into JavaScript by wasm2js, driven by the same
// glue. wasm2js handles neither reference types nor multi-value returns: the module is built
// without both (std included, rebuilt with these flags).
const MVP_ABI = '-Ctarget-feature=-reference-types,-multivalue';

// ---- 1. toolchain ----------------------------------------------------------------------------

function detectToolchain() {
  const forced = process.env.CHATTAG_WASM_TOOLCHAIN;
  const basePath = [CARGO_HOME_BIN, BIN, process.env.PATH].join(path.delimiter);
  const buildStd = () => {
    const src = '/usr/lib/rustlib/src/rust/library';
    if (!fs.existsSync('/usr/bin/rustc') || !fs.existsSync(src)) return null;
    const version = capture('/usr/bin/rustc', ['--version']);
    return {
      name: 'build-std',
      describe: `Debian ${version} at /usr/bin, std rebuilt from ${src} (panic=immediate-abort)`,
      targetDir: path.join(ROOT, 'target', 'wasm'),
      cargoArgs: ['-Zbuild-std=std,panic_abort'],
      env: {
        // /usr/bin first: cargo, rustc and rustdoc must all be Debian's 1.96.
        PATH: ['/usr/bin', basePath].join(path.delimiter),
        RUSTC_BOOTSTRAP: '1',
        RUSTFLAGS: `-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none ${MVP_ABI}`,
      },
    };
  };
  const rustup = () => {
    const rustc = path.join(CARGO_HOME_BIN, 'rustc');
    const installed = capture(path.join(CARGO_HOME_BIN, 'rustup'), ['target', 'list', '--installed']) ?? '';
    if (!installed.split('\n').includes('wasm32-unknown-unknown')) return null;
    const version = capture(rustc, ['--version']);
    const dir = path.join(ROOT, 'target', 'wasm-rustup');
    const env = { PATH: basePath, RUSTFLAGS: `${MVP_ABI}` };
    // With the rust-src component, std is rebuilt like the Debian path: the same small build on a
    // stable toolchain (RUSTC_BOOTSTRAP unlocks -Zbuild-std and immediate-abort; no nightly).
    const src = path.join(capture(rustc, ['--print', 'sysroot']) ?? '', 'lib', 'rustlib', 'src', 'rust', 'library');
    if (fs.existsSync(src)) {
      return {
        name: 'rustup',
        describe: `rustup ${version} with the wasm32-unknown-unknown target, std rebuilt from rust-src (panic=immediate-abort)`,
        // A separate dir: the two compilers' artifacts must never mix.
        targetDir: dir,
        cargoArgs: ['-Zbuild-std=std,panic_abort'],
        env: { ...env, RUSTC_BOOTSTRAP: '1', RUSTFLAGS: `${env.RUSTFLAGS} -Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none` },
      };
    }
    // Without rust-src there is only the prebuilt std, compiled with reference types on (which
    // the wasm2js fallback cannot translate) and without immediate-abort (its panic machinery is
    // kilobytes). Say what to install instead of shipping a bigger, different build.
    fail(`rustup ${version} has the wasm32 target but not the rust-src component, which the snippet's build needs `
      + '(std rebuilt with panic=immediate-abort and without reference types): `rustup component add rust-src`');
  };

  const order = forced === 'rustup' ? [rustup] : forced === 'build-std' ? [buildStd] : [buildStd, rustup];
  for (const probe of order) {
    const tc = probe();
    if (tc) return tc;
  }
  fail(
    forced
      ? `the requested toolchain "${forced}" is not available`
      : 'no wasm toolchain: install Debian rustc-web (see scripts/setup.sh) or `rustup target add wasm32-unknown-unknown`',
  );
}

// ---- 2. cargo ---------------------------------------------------------------------------------

function buildWasm(tc) {
  const env = {
    ...process.env,
    ...tc.env,
    CARGO_TARGET_DIR: tc.targetDir,
    // Function names stay in the module cargo writes (the size table reads them); wasm-opt
    // --strip-debug drops names and debug sections from the shipped one.
    CARGO_PROFILE_WASM_STRIP: 'false',
  };
  run('cargo', ['build', '--lib', '--profile', 'wasm', '--target', 'wasm32-unknown-unknown', ...tc.cargoArgs], env);
  return path.join(tc.targetDir, 'wasm32-unknown-unknown', 'wasm', 'chattag.wasm');
}

// ---- 3. wasm-opt -----------------------------------------------------------------------------

// The features rustc leaves on for wasm32-unknown-unknown once MVP_ABI turned off reference types
// and multi-value; wasm-opt must not reintroduce either (wasm2js could not translate them).
const WASM_FEATURES = ['--enable-bulk-memory', '--enable-nontrapping-float-to-int', '--enable-sign-ext', '--enable-mutable-globals'];

function optimize(input) {
  const output = path.join(path.dirname(input), 'chattag.opt.wasm');
  const wasmOpt = path.join(BIN, 'wasm-opt');
  if (!fs.existsSync(wasmOpt)) fail('node_modules/.bin/wasm-opt missing: run `npm ci`');
  run(wasmOpt, [
    // Functions with one caller are inlined only when tiny (10 instructions): inlining them all
    // (the -Oz default) gives fewer, larger functions that compress worse — measured on this
    // module: +0.3 KB gzip, +0.1 KB brotli, though 0.6 KB less raw.
    '--one-caller-inline-max-function-size=10',
    // -Oz, then the control flow rebuilt from scratch (flatten + rereloop) and -Oz twice, the
    // whole list repeated until the size stops changing: 129 B gzip smaller than -Oz alone on
    // this module, the second closing -Oz 59 B more (measured; a second flatten/rereloop round
    // gained 21 B, --low-memory-unused 13 B, --gufa / --monomorphize nothing: not kept).
    '-Oz', '--flatten', '--rereloop', '-Oz', '-Oz', '--converge',
    ...WASM_FEATURES,
    '--strip-debug', '--strip-producers', '--strip-target-features',
    input, '-o', output,
  ]);
  fs.writeFileSync(output, dropExports(fs.readFileSync(output), ['__data_end', '__heap_base']));
  return { before: fs.statSync(input).size, path: output };
}

// The linker exports two globals of its own (`__data_end`, `__heap_base`) that nothing reads; their
// names would ship in every download. Rewrites the export section without them.
function dropExports(wasm, names) {
  const leb = (pos) => {
    let n = 0;
    for (let shift = 0; ; shift += 7) {
      const b = wasm[pos++];
      n += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return [n, pos];
    }
  };
  const uleb = (n) => {
    const out = [];
    do {
      let b = n & 0x7f;
      n = Math.floor(n / 128);
      if (n) b |= 0x80;
      out.push(b);
    } while (n);
    return Buffer.from(out);
  };
  for (let pos = 8; pos < wasm.length;) {
    const start = pos;
    const id = wasm[pos++];
    const [size, body] = leb(pos);
    const end = body + size;
    if (id === 7) {
      let [count, p] = leb(body);
      const kept = [];
      while (count--) {
        const from = p;
        const [len, q] = leb(p);
        const name = wasm.subarray(q, q + len).toString('utf8');
        [, p] = leb(q + len + 1); // kind byte, then the index
        if (!names.includes(name)) kept.push(wasm.subarray(from, p));
      }
      const content = Buffer.concat([uleb(kept.length), ...kept]);
      return Buffer.concat([wasm.subarray(0, start), Buffer.from([7]), uleb(content.length), content, wasm.subarray(end)]);
    }
    pos = end;
  }
  return wasm;
}

// ---- 3b. the strict-CSP fallback ------------------------------------------------------------
//
// The optimised wasm → JavaScript with Binaryen's wasm2js: the same machine code, so no rule
// exists twice. wasm2js wants an MVP module, so two lowerings run first (saturating float→int
// and sign-extension ops become MVP sequences). Its output is an ES module that imports the
// glue by name and instantiates itself; the build turns it into `export default asmFunc`
// (imports object → exports object), which the loader feeds with the glue's own import object.

function fallbackJs(optPath) {
  const lowered = optPath.replace(/\.wasm$/, '.mvp.wasm');
  const out = optPath.replace(/\.wasm$/, '.wasm2js.mjs');
  run(path.join(BIN, 'wasm-opt'), [...WASM_FEATURES, '--llvm-nontrapping-fptoint-lowering', '--signext-lowering', optPath, '-o', lowered]);
  run(path.join(BIN, 'wasm2js'), ['--enable-bulk-memory', '--enable-mutable-globals', '-Oz', lowered, '-o', out]);
  let js = fs.readFileSync(out, 'utf8');
  const patch = (re, to, what) => {
    if (!re.test(js)) fail(`wasm2js output changed shape (${what}); update fallbackJs in scripts/build.mjs`);
    js = js.replace(re, to);
  };
  patch(/^import \* as \S+ from '[^']+';\n/gm, '', 'import lines');
  patch(/\nvar retasmFunc = asmFunc\([\s\S]*$/, '\nexport default asmFunc;\n', 'self-instantiation tail');
  // A grown wasm memory detaches its old ArrayBuffer, and the glue relies on that (an empty view
  // means "re-read memory.buffer"). wasm2js copies into a new buffer instead: detach the old one.
  patch(
    /newHEAP8\.set\(HEAP8\);/,
    'newHEAP8.set(HEAP8); try { buffer.transfer ? buffer.transfer() : structuredClone(buffer, { transfer: [buffer] }); } catch (e) {}',
    'memory grow',
  );
  return js;
}

async function buildFallback(optPath) {
  const r = await esbuild.build({
    stdin: { contents: fallbackJs(optPath), loader: 'js', sourcefile: 'chattag-fallback.js' },
    bundle: true, format: 'esm', minify: true, target: ['es2020'], legalComments: 'none', write: false, logLevel: 'silent',
  });
  return chunk('fallback', await polish(r.outputFiles[0].contents, true));
}

// ---- 4. bundle -------------------------------------------------------------------------------

// esbuild bundles and minifies; terser then minifies its output once more. Its names and
// compression gzip smaller than esbuild's alone: dist/chattag.js 5,675 → 5,329 B gzip (−6 %),
// the lazy chunks 10–60 B each (measured). ASCII only: a page in another charset (windows-1251)
// reads the script in its own encoding. `module`: an ES module (the chunks), whose top level
// terser may rename too.
async function polish(js, module = false) {
  const r = await minify(Buffer.from(js).toString('utf8'), { module, compress: { passes: 2 }, format: { ascii_only: true } });
  return Buffer.from(r.code);
}

const gzipSize = (buf) => zlib.gzipSync(buf, { level: 9 }).length;
const brotliSize = (buf) => zlib.brotliCompressSync(buf, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;

// Lazy chunks (issue 5): ES modules the loader import()s only when a page uses them, so they are
// not part of the page-download budget — the QR dialog, the debug overlay, and "inspect" (the
// overlay's model and the QR click, which both need; kept out of the main script).
const CHUNKS = { qr: 'qr.js', debug: 'debug.js', inspect: 'wasm-inspect.js' };

// A chunk's file is `chattag-<name>.<hash>.js`; the loader is handed only the hashes and spells
// the rest itself (www/loader/index.js `loadChunk`: 7 B gzip less than whole names).
const chunk = (name, js) => {
  const hash = crypto.createHash('sha256').update(js).digest('hex').slice(0, 10);
  return { name, hash, file: `chattag-${name}.${hash}.js`, js };
};

async function buildChunks() {
  const out = [];
  for (const [name, source] of Object.entries(CHUNKS)) {
    const entry = path.join(ROOT, 'www', 'loader', source);
    if (!fs.existsSync(entry)) continue;
    const r = await esbuild.build({
      entryPoints: [entry], bundle: true, format: 'esm', minify: true, target: ['es2020'],
      legalComments: 'none', write: false, logLevel: 'silent',
    });
    out.push(chunk(name, await polish(r.outputFiles[0].contents, true)));
  }
  return out;
}

const INTERNAL_PROPS = /^(lifetime|consentRequired)$/;

// `shift`: the one-file build's (`bestShift`), computed once per build by the caller.
async function bundle(wasmBytes, mode, chunks, { glueExternal = false, shift = 0 } = {}) {
  const hash = crypto.createHash('sha256').update(wasmBytes).digest('hex').slice(0, 10);
  const wasmName = `chattag.${hash}.wasm`;
  const wasmPlugin = {
    name: 'chattag-wasm',
    setup(build) {
      // The loader imports 'chattag:wasm'; which implementation it gets decides the mode.
      build.onResolve({ filter: /^chattag:wasm$/ }, () => ({
        path: path.join(ROOT, 'www', 'loader', mode === 'inline' ? 'wasm-inline.js' : 'wasm-file.js'),
      }));
      build.onResolve({ filter: /^chattag:(wasm-bytes|wasm-name)$/ }, (a) => ({ path: a.path, namespace: 'chattag' }));
      // The bytes go in after esbuild (`inlineBytes`), which would print some of them raw.
      build.onLoad({ filter: /.*/, namespace: 'chattag' }, (a) => ({
        contents: a.path === 'chattag:wasm-bytes' ? `export default ${WASM_BYTES}; export const shift = ${shift};` : `export default ${JSON.stringify(wasmName)};`,
        loader: 'js',
      }));
      build.onResolve({ filter: /^chattag:glue$/ }, () => (glueExternal ? { path: 'chattag:glue', external: true } : { path: path.join(ROOT, 'www', 'loader', 'glue.js') }));
      build.onResolve({ filter: /^chattag:text$/ }, () => ({ path: path.join(ROOT, 'www', 'loader', 'text.js') }));
      // The I/O the glue hands the wasm (src/browser/ports.rs): the loader's shell.
      build.onResolve({ filter: /^chattag:shell$/ }, () => ({ path: path.join(ROOT, 'www', 'loader', 'shell.js') }));
      build.onResolve({ filter: /^chattag:chunks$/ }, () => ({ path: 'chunks', namespace: 'chattag-chunks' }));
      build.onLoad({ filter: /.*/, namespace: 'chattag-chunks' }, () => ({
        contents: `export default ${JSON.stringify(Object.fromEntries(chunks.map((c) => [c.name, c.hash])))};`,
        loader: 'js',
      }));
    },
  };
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [path.join(ROOT, 'www', 'loader', 'index.js')],
    bundle: true,
    format: glueExternal ? 'esm' : 'iife',
    minify: true,
    target: ['es2020'],
    platform: 'browser',
    legalComments: 'none',
    // Property names only the loader's own modules use, renamed like variables (13 B gzip):
    // the settings object's (www/loader/settings.js → page.js), never a chattagConfig key, a
    // public API member, an event field or anything a lazy chunk (built separately) reads.
    mangleProps: INTERNAL_PROPS,
    write: false,
    logLevel: 'silent',
    plugins: [wasmPlugin],
  });
  for (const w of result.warnings) say(`esbuild warning: ${w.text}`);
  // terser before the wasm goes in: it would re-print the bytes' string, and spend seconds on it.
  let js = await polish(result.outputFiles[0].contents, glueExternal);
  if (mode === 'inline') js = inlineBytes(js, wasmBytes, shift);
  return { js, wasmName: mode === 'file' ? wasmName : null };
}

// The one-file build's wasm: a JS string of one character per byte, each byte shifted by `shift`
// (mod 256; www/loader/wasm-inline.js subtracts it back). The string is printable ASCII with
// \xNN escapes for the rest, so the file reads the same whatever charset a page decodes it with
// (windows-1251 sites are common here) and is safe inside an inline <script> (`<` is escaped).
// Unlike base64, every byte stays one unit, so gzip still sees the module's repeats; the shift
// that makes the most frequent bytes printable is chosen per build. On this module the one-file
// build is 3.3 KB gzip smaller than with base64 (measured; 1.35 KB without the shift).
const WASM_BYTES = '__chattag_wasm_bytes__';
function wasmLiteral(bytes, shift) {
  let lit = '"';
  for (const b0 of bytes) {
    const b = (b0 + shift) & 255;
    if (b === 0x22 || b === 0x5c) lit += `\\${String.fromCharCode(b)}`;
    else if (b < 0x20 || b === 0x3c || b >= 0x7f) lit += `\\x${b.toString(16).padStart(2, '0')}`;
    else lit += String.fromCharCode(b);
  }
  return `${lit}"`;
}
function bestShift(bytes) {
  let best = 0;
  let least = Infinity;
  for (let shift = 0; shift < 256; shift++) {
    const n = gzipSize(Buffer.from(wasmLiteral(bytes, shift)));
    if (n < least) [best, least] = [shift, n];
  }
  return best;
}
function inlineBytes(js, bytes, shift) {
  const lit = wasmLiteral(bytes, shift);
  const text = js.toString('latin1');
  const at = text.indexOf(WASM_BYTES);
  if (at < 0 || text.indexOf(WASM_BYTES, at + 1) >= 0) fail('the one-file build: the wasm placeholder is not in the bundle exactly once');
  return Buffer.from(text.slice(0, at) + lit + text.slice(at + WASM_BYTES.length), 'latin1');
}

function fmt(n) {
  return n.toLocaleString('en-US');
}

function table(rows) {
  const head = ['file', 'raw B', 'gzip B', 'brotli B'];
  const body = rows.map((r) => [r.name, fmt(r.raw), fmt(r.gzip), fmt(r.brotli)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(head));
  for (const b of body) console.log(line(b));
}

function sizes(name, buf) {
  return { name, raw: buf.length, gzip: gzipSize(buf), brotli: brotliSize(buf) };
}

async function main() {
  const tc = detectToolchain();
  say(`wasm toolchain: ${tc.name} — ${tc.describe}`);
  const raw = flag('skip-cargo') ? path.join(tc.targetDir, 'wasm32-unknown-unknown', 'wasm', 'chattag.wasm') : buildWasm(tc);
  if (!fs.existsSync(raw)) fail(`no wasm at ${raw}`);
  const opt = optimize(raw);
  const wasm = fs.readFileSync(opt.path);
  say(`wasm-opt -Oz: ${fmt(opt.before)} B → ${fmt(wasm.length)} B`);

  const chunks = [...(await buildChunks()), await buildFallback(opt.path)];
  const variants = {};
  // 256 trial compressions: once, for both bundles that may inline the wasm.
  const shift = bestShift(wasm);
  for (const mode of ['inline', 'file']) variants[mode] = await bundle(wasm, mode, chunks, { shift });

  fs.rmSync(DIST, { recursive: true, force: true });
  fs.mkdirSync(DIST, { recursive: true });
  const chosen = variants[WASM_MODE];
  fs.writeFileSync(path.join(DIST, 'chattag.js'), chosen.js);
  if (chosen.wasmName) fs.writeFileSync(path.join(DIST, chosen.wasmName), wasm);
  fs.writeFileSync(path.join(DIST, 'chattag.inline.js'), variants.inline.js);
  for (const c of chunks) fs.writeFileSync(path.join(DIST, c.file), c.js);

  console.log('');
  console.log(`dist/ (wasm ${WASM_MODE === 'inline' ? 'inlined as a string' : 'beside the script'}):`);
  const emitted = [sizes('dist/chattag.js', chosen.js)];
  if (chosen.wasmName) emitted.push(sizes(`dist/${chosen.wasmName}`, wasm));
  table(emitted);
  const total = emitted.reduce((n, r) => n + r.gzip, 0);

  console.log('');
  console.log('both variants, everything a page downloads:');
  const inl = sizes('inline: chattag.js', variants.inline.js);
  const fileJs = sizes('file:   chattag.js', variants.file.js);
  const fileWasm = sizes('file:   chattag.<hash>.wasm', wasm);
  table([inl, fileJs, fileWasm, { name: 'file:   total', raw: fileJs.raw + fileWasm.raw, gzip: fileJs.gzip + fileWasm.gzip, brotli: fileJs.brotli + fileWasm.brotli }]);

  // Per block (the table): which code the bytes come from.
  const glue = await esbuild.build({
    entryPoints: [path.join(ROOT, 'www', 'loader', 'glue.js')],
    bundle: true, format: 'esm', minify: true, target: ['es2020'], legalComments: 'none', write: false, logLevel: 'silent',
    plugins: [{ name: 'text', setup: (b) => {
      b.onResolve({ filter: /^chattag:text$/ }, () => ({ path: path.join(ROOT, 'www', 'loader', 'text.js') }));
      b.onResolve({ filter: /^chattag:shell$/ }, () => ({ path: 'chattag:shell', external: true }));
    } }],
  });
  const loaderOnly = await bundle(wasm, WASM_MODE, chunks, { glueExternal: true, shift });
  const blocks = sizeTable({
    named: fs.readFileSync(raw),
    wasm,
    loaderJs: loaderOnly.js,
    glueJs: await polish(glue.outputFiles[0].contents, true),
    shipped: [chosen.js, ...(chosen.wasmName ? [wasm] : [])],
  });
  fs.writeFileSync(path.join(ROOT, 'target', 'chattag-sizes.json'), JSON.stringify({ mode: WASM_MODE, blocks }, null, 1));
  console.log('');
  console.log('per block (wasm blocks: share of the named module\'s code bytes; JS blocks minified on their own):');
  printTable(blocks);

  if (chunks.length) {
    console.log('');
    console.log('lazy chunks (loaded only on pages that use them; not in the budget; fallback = strict CSP only):');
    table(chunks.map((c) => sizes(`dist/${c.file}`, c.js)));
  }

  console.log('');
  // Subresource Integrity for a versioned URL (docs/hosting.md).
  say(`SRI dist/chattag.js: sha384-${crypto.createHash('sha384').update(chosen.js).digest('base64')}`);
  const verdict = total <= BUDGET_GZIP ? 'within' : 'OVER';
  say(`page download: ${fmt(total)} B gzip — ${verdict} the ${fmt(BUDGET_GZIP)} B budget`);
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
