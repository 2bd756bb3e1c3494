// The wasm's glue, by hand: the import object it is instantiated with and the exports the loader
// and the shell call. Replaces wasm-bindgen's generated glue (~1.9 KB gzip) for an ABI of plain
// numbers (src/lib.rs `exports`, src/browser/ports.rs, src/browser/abi.rs):
//   - one export, `c(op, a, b, n)`, takes every call (op numbers in src/lib.rs);
//   - strings cross as (pointer, length) of UTF-8 in the wasm's memory;
//   - JS → wasm: `put` asks the wasm for a block (`a(len)`) and writes the bytes; pointer 0 is
//     "no string"; the wasm owns the block from then on;
//   - wasm → JS: `str` decodes (pointer, length) at once; an export's answer comes through the
//     `r` import into `out`.
// The same glue drives the wasm2js fallback: its exports have the same names and a `memory`
// whose `buffer` is re-read on every access (it is replaced when memory grows).
import { TextDecoder, TextEncoder } from 'chattag:text';
import { io, now, rnd } from 'chattag:shell';

const enc = new TextEncoder();
const dec = new TextDecoder();
let x, out;
const mem = () => new Uint8Array(x.memory.buffer);
const str = (p, n) => dec.decode(mem().subarray(p, p + n));
// [pointer, length] of a copy of `s` in the wasm, [0, 0] for none.
const put = (s) => {
  if (s == null) return [0, 0];
  const b = enc.encode(s);
  const p = x.a(b.length);
  mem().set(b, p);
  return [p, b.length];
};

// Import module `c` (ports.rs): the names are one letter each because each ships twice.
export const imports = () => ({
  c: {
    // io(op, a, b) → a block the wasm takes over (its length is the wasm's to remember), or 0.
    i: (op, a, al, b, bl) => {
      const s = io(op, str(a, al), str(b, bl));
      return s == null ? 0 : put(s)[0];
    },
    r: (p, n) => {
      out = str(p, n);
    },
    n: now,
    x: rnd,
  },
});

// The instance (or the wasm2js fallback's exports, as `{ exports }`).
export const adopt = (instance) => {
  x = instance.exports;
};

// The op numbers of src/lib.rs `exports`, the first argument of `call`.
export const CONFIGURE = 0;
export const START = 1;
export const SETTLE = 2;
export const ID = 3;
export const REWRITE = 4;
export const IDENTIFIERS = 5;
export const SET_ID = 6;
export const TAG_HREFS = 7;
export const LINK = 8;
export const CLIENT_ID = 10;
export const NEWS = 11;
export const SHOW = 12;
export const FORGET = 13;

// `call(op, a, b, n)`: a string answer or undefined.
export const call = (op, a, b, n) => {
  out = undefined;
  x.c(op, ...put(a), ...put(b), n);
  return out;
};
// UTF-8 length of a string (the outbox's byte budget).
export const bytes = (s) => enc.encode(s).length;
