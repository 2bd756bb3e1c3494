// Where the bytes of a page download go, per block: the wasm split by the code that produced it
// (from the function names of the un-optimised module), and the JS split into the loader and the
// glue. Used by scripts/build.mjs (which writes target/chattag-sizes.json) and
// scripts/bench.mjs (which prints it beside the timings).
//
// The optimised wasm has no names (wasm-opt -Oz strips them and inlines across blocks), so each
// wasm block's gzip is its share of the named module's code bytes applied to the shipped wasm's
// gzip: an estimate that adds up to the real total, not a separate build of each block.
import zlib from 'node:zlib';

export const gzipSize = (buf) => zlib.gzipSync(buf, { level: 9 }).length;
export const brotliSize = (buf) => zlib.brotliCompressSync(buf, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;

function leb(buf, pos) {
  let n = 0;
  let shift = 0;
  for (;;) {
    const b = buf[pos++];
    n += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (!(b & 0x80)) return [n, pos];
  }
}

/** Sections of a wasm module: [{ id, name (custom), start, end }]. */
function sections(buf) {
  const out = [];
  let pos = 8;
  while (pos < buf.length) {
    const id = buf[pos++];
    let size;
    [size, pos] = leb(buf, pos);
    const end = pos + size;
    let name = '';
    if (id === 0) {
      let len;
      let p;
      [len, p] = leb(buf, pos);
      name = buf.subarray(p, p + len).toString('utf8');
    }
    out.push({ id, name, start: pos, end });
    pos = end;
  }
  return out;
}

/**
 * Which block a function name belongs to: the first project crate path in it, so a std generic
 * instantiated for one of ours counts as ours. An export counts as the page view: the `PageView`
 * methods it calls are inlined into it.
 */
// Names as rustc mangles them (v0 `_R…7chattag5logic…` or legacy `_ZN7chattag5logic…`: the
// crate, then the module path, each as <length><name>) or demangled (`chattag[hash]::logic`).
const OWNERS = [
  [/chattag_core\[|12chattag_core/, 'rules: core'],
  [/chattag\[[0-9a-f]+\]::logic|7chattag5logic/, 'rules: snippet logic'],
  [/chattag\[[0-9a-f]+\]::(browser|exports)|7chattag(7browser|7exports)/, 'page view: decisions as effects, exports (src/browser, lib.rs)'],
];
export function blockOf(name) {
  // The exports (src/lib.rs, src/browser/abi.rs) keep their one-letter export names.
  if (/^[a-z]$/.test(name)) return OWNERS[2][1];
  let best = 'runtime: std, alloc, core';
  let at = Infinity;
  for (const [re, block] of OWNERS) {
    const m = re.exec(name);
    if (m && m.index < at) [best, at] = [block, m.index];
  }
  return best;
}

/** Code bytes per block of a named (un-optimised) wasm module, plus its data segments. */
export function wasmBlocks(named) {
  const secs = sections(named);
  const imports = secs.find((s) => s.id === 2);
  let importedFns = 0;
  if (imports) {
    let [count, p] = leb(named, imports.start);
    for (let i = 0; i < count; i++) {
      let len;
      [len, p] = leb(named, p);
      p += len;
      [len, p] = leb(named, p);
      p += len;
      const kind = named[p++];
      if (kind === 0) {
        importedFns++;
        [, p] = leb(named, p);
      } else if (kind === 1) {
        p += 1;
        const flags = named[p++];
        [, p] = leb(named, p);
        if (flags & 1) [, p] = leb(named, p);
      } else if (kind === 2) {
        const flags = named[p++];
        [, p] = leb(named, p);
        if (flags & 1) [, p] = leb(named, p);
      } else if (kind === 3) p += 2;
    }
  }
  const names = new Map();
  const nameSec = secs.find((s) => s.id === 0 && s.name === 'name');
  if (nameSec) {
    let [len, p] = leb(named, nameSec.start);
    p += len;
    while (p < nameSec.end) {
      const sub = named[p++];
      let size;
      [size, p] = leb(named, p);
      const end = p + size;
      if (sub === 1) {
        let count;
        [count, p] = leb(named, p);
        for (let i = 0; i < count; i++) {
          let idx;
          let l;
          [idx, p] = leb(named, p);
          [l, p] = leb(named, p);
          names.set(idx, named.subarray(p, p + l).toString('utf8'));
          p += l;
        }
      }
      p = end;
    }
  }
  const blocks = {};
  const code = secs.find((s) => s.id === 10);
  if (code) {
    let [count, p] = leb(named, code.start);
    for (let i = 0; i < count; i++) {
      let size;
      [size, p] = leb(named, p);
      const block = blockOf(names.get(importedFns + i) || '');
      blocks[block] = (blocks[block] || 0) + size;
      p += size;
    }
  }
  const data = secs.find((s) => s.id === 11);
  if (data) blocks['data: strings, tables'] = data.end - data.start;
  return blocks;
}

/**
 * The size table: the shipped wasm split by `wasmBlocks(named)` shares, the loader and the glue
 * each minified and compressed on its own, and the real totals of what a page downloads.
 */
export function sizeTable({ named, wasm, loaderJs, glueJs, shipped }) {
  const blocks = wasmBlocks(named);
  const codeTotal = Object.values(blocks).reduce((a, b) => a + b, 0);
  const wasmGz = gzipSize(wasm);
  const wasmBr = brotliSize(wasm);
  const rows = Object.entries(blocks)
    .sort((a, b) => b[1] - a[1])
    .map(([name, bytes]) => ({
      name: `wasm ${name} (est.)`,
      raw: Math.round((wasm.length * bytes) / codeTotal),
      gzip: Math.round((wasmGz * bytes) / codeTotal),
      brotli: Math.round((wasmBr * bytes) / codeTotal),
    }));
  for (const [name, buf] of [['JS shell + loader (www/loader)', loaderJs], ['JS glue (www/loader/glue.js, text.js)', glueJs]]) {
    if (buf) rows.push({ name, raw: buf.length, gzip: gzipSize(buf), brotli: brotliSize(buf) });
  }
  const total = { name: 'total a page downloads (each file compressed whole)', raw: 0, gzip: 0, brotli: 0 };
  for (const buf of shipped) {
    total.raw += buf.length;
    total.gzip += gzipSize(buf);
    total.brotli += brotliSize(buf);
  }
  rows.push(total);
  return rows;
}

export function printTable(rows, log = console.log) {
  const fmt = (n) => n.toLocaleString('en-US');
  const head = ['block', 'raw B', 'gzip B', 'brotli B'];
  const body = rows.map((r) => [r.name, fmt(r.raw), fmt(r.gzip), fmt(r.brotli)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  log(line(head));
  for (const b of body) log(line(b));
}
