#!/usr/bin/env node
// Assembles the npm package (`import { start } from 'chattag'`) from the snippet build:
//
//   npm/package.json, index.js, index.d.ts, README.md   the package's own sources
//   dist/chattag.inline.js  →  chattag.mjs              the built snippet (loader + glue + wasm
//                                                        inlined), wrapped in `export default
//                                                        function run(){…}` so it starts on
//                                                        start(), not on import
//   dist/chattag-<name>.<hash>.js  →  <name>.js          the lazy chunks exactly as the script
//                                                        tag ships them (qr, debug, inspect, and
//                                                        the strict-CSP wasm2js fallback)
//
// into dist/npm/, checks that what is staged is exactly package.json's `files`, prints sizes,
// and with --pack runs `npm pack` there (tarball in dist/). Run `npm run build` first: the
// package reuses that build, so no rule or binary differs from the script-tag snippet.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SRC = path.join(ROOT, 'npm');
const DIST = path.join(ROOT, 'dist');
const OUT = path.join(DIST, 'npm');
const SNIPPET = path.join(DIST, 'chattag.inline.js');

class BuildError extends Error {}
const say = (m) => console.log(`[build:npm] ${m}`);

function snippetSource() {
  if (!fs.existsSync(SNIPPET)) throw new BuildError('dist/chattag.inline.js is missing: run `npm run build` first');
  const js = fs.readFileSync(SNIPPET, 'utf8');
  // A separate-file build resolves the wasm against the script's own URL, which a bundled module
  // does not have: the package needs the inlined variant (which every build also writes).
  if (/chattag\.[0-9a-f]{6,}\.wasm/.test(js)) {
    throw new BuildError('dist/chattag.inline.js loads a separate .wasm: rebuild with `node scripts/build.mjs`');
  }
  if (js.includes('import.meta') || /^\s*(import|export)\s/m.test(js)) {
    throw new BuildError('dist/chattag.inline.js is not a classic script; expected the IIFE build');
  }
  return js;
}

// The chunk names the loader asks `importChunk` for (www/loader/index.js, scripts/build.mjs).
const CHUNK_NAMES = ['qr', 'debug', 'inspect', 'fallback'];

/** The built chunk `dist/chattag-<name>.<hash>.js`: the package ships the same bytes. */
function chunk(name) {
  const re = new RegExp(`^chattag-${name}\\.[0-9a-f]+\\.js$`);
  const found = fs.readdirSync(DIST).filter((f) => re.test(f));
  if (found.length !== 1) {
    throw new BuildError(`expected one dist/chattag-${name}.<hash>.js, found ${found.length}: run \`npm run build\` (a clean dist/) first`);
  }
  return fs.readFileSync(path.join(DIST, found[0]));
}

/** Every file under `dir`, relative, sorted. */
function listFiles(dir, base = dir) {
  return fs.readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(path.join(dir, e.name), base) : [path.relative(base, path.join(dir, e.name))]))
    .sort();
}

function sizes(rows) {
  const w = Math.max(...rows.map(([n]) => n.length));
  console.log(`${'file'.padEnd(w)}  ${'raw B'.padStart(8)}  ${'gzip B'.padStart(8)}`);
  for (const [name, buf] of rows) {
    console.log(`${name.padEnd(w)}  ${String(buf.length).padStart(8)}  ${String(zlib.gzipSync(buf, { level: 9 }).length).padStart(8)}`);
  }
}

async function main() {
  const pack = process.argv.includes('--pack');
  const pkg = JSON.parse(fs.readFileSync(path.join(SRC, 'package.json'), 'utf8'));
  fs.rmSync(OUT, { recursive: true, force: true });
  fs.mkdirSync(OUT, { recursive: true });

  for (const f of ['package.json', 'index.js', 'index.d.ts', 'README.md']) fs.copyFileSync(path.join(SRC, f), path.join(OUT, f));
  const wrapped = Buffer.from(
    '// The chattag snippet (dist/chattag.inline.js, built from the Rust core), run on demand by index.js.\n' +
    `export default function run() {\n${snippetSource()}\n}\n`,
  );
  fs.writeFileSync(path.join(OUT, 'chattag.mjs'), wrapped);
  for (const name of CHUNK_NAMES) fs.writeFileSync(path.join(OUT, `${name}.js`), chunk(name));

  // npm always adds package.json and README; everything else must be listed, and nothing extra.
  const expected = [...pkg.files, 'package.json', 'README.md'].sort();
  const staged = listFiles(OUT);
  if (JSON.stringify(staged) !== JSON.stringify(expected)) {
    throw new BuildError(`staged files ${JSON.stringify(staged)} differ from package.json files ${JSON.stringify(expected)}`);
  }
  sizes(staged.map((f) => [f, fs.readFileSync(path.join(OUT, f))]));
  say(`staged ${pkg.name}@${pkg.version} in ${path.relative(ROOT, OUT)}/`);

  if (pack) {
    const r = spawnSync('npm', ['pack', '--json', '--pack-destination', DIST], { cwd: OUT, encoding: 'utf8' });
    if (r.status !== 0) throw new BuildError(`npm pack failed: ${r.stderr}`);
    const [info] = JSON.parse(r.stdout);
    say(`packed ${path.join('dist', info.filename)} (${info.size} B, ${info.entryCount} files)`);
    // The last line is the tarball path, for scripts.
    console.log(path.join(DIST, info.filename));
  }
}

main().catch((e) => {
  console.error(`[build:npm] error: ${e instanceof BuildError ? e.message : e.stack || e}`);
  process.exit(1);
});
