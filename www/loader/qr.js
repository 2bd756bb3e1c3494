// The QR dialog chunk: loaded with `import()` only when a desktop visitor clicks a messenger link
// on a page with data-qr, so none of it costs the pages that don't use it. The QR code is made
// here, in the browser: the tagged link (with the visitor's chat ID) never goes to a third party.
//
// Encoder: byte mode, error correction M (L when M cannot hold the text), versions 1–40, mask
// chosen by the standard penalty score (ISO/IEC 18004 §7.8.3). Dialog: a shadow root over the
// page (position: fixed, so the page does not move), role=dialog + aria-modal, focus moved in
// and given back, Tab kept inside, Escape / close button / a click outside close it.
import { styleRoot } from './style-root.js';

// ---- Reed–Solomon over GF(256), polynomial x^8+x^4+x^3+x^2+1 -----------------------------------

const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
for (let i = 0, x = 1; i < 255; i++) {
  EXP[i] = EXP[i + 255] = x;
  LOG[x] = i;
  x = (x << 1) ^ (x & 0x80 ? 0x11d : 0);
}
const mul = (a, b) => (a && b ? EXP[LOG[a] + LOG[b]] : 0);

/** Generator polynomial of the given degree (leading 1 implied), highest power first. */
function generator(degree) {
  const g = new Uint8Array(degree);
  g[degree - 1] = 1;
  for (let i = 0, root = 1; i < degree; i++) {
    for (let j = 0; j < degree; j++) g[j] = mul(g[j], root) ^ (j + 1 < degree ? g[j + 1] : 0);
    root = mul(root, 2);
  }
  return g;
}

function remainder(data, gen) {
  const r = new Uint8Array(gen.length);
  for (const b of data) {
    const f = b ^ r[0];
    r.copyWithin(0, 1);
    r[r.length - 1] = 0;
    for (let i = 0; i < r.length; i++) r[i] ^= mul(gen[i], f);
  }
  return r;
}

// ---- Capacity tables (per version 1–40, levels L and M) ------------------------------------------

// Error-correction codewords per block, and number of blocks. Index 0 unused.
const ECC_PER_BLOCK = {
  L: [0, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28, 28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
  M: [0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28],
};
const BLOCKS = {
  L: [0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25],
  M: [0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49],
};
// Format-information bits for the level (M = 00, L = 01).
const ECL_BITS = { M: 0, L: 1 };

/** Row/column centres of the alignment patterns. */
function alignment(version) {
  if (version === 1) return [];
  const n = Math.floor(version / 7) + 2;
  const step = version === 32 ? 26 : Math.ceil((version * 4 + 4) / (n * 2 - 2)) * 2;
  const out = [6];
  for (let pos = version * 4 + 10; out.length < n; pos -= step) out.splice(1, 0, pos);
  return out;
}

/** Modules available for data and error correction (everything but the function patterns). */
function rawModules(version) {
  let n = (16 * version + 128) * version + 64;
  if (version >= 2) {
    const a = Math.floor(version / 7) + 2;
    n -= (25 * a - 10) * a - 55;
    if (version >= 7) n -= 36;
  }
  return n;
}

const dataCodewords = (version, ecl) => (rawModules(version) >> 3) - ECC_PER_BLOCK[ecl][version] * BLOCKS[ecl][version];

// ---- Encoding ------------------------------------------------------------------------------------

/** Byte-mode bit stream, padded to the version's data capacity. */
function dataBits(bytes, version, ecl) {
  const capacity = dataCodewords(version, ecl) * 8;
  const bits = [];
  const push = (value, len) => {
    for (let i = len - 1; i >= 0; i--) bits.push((value >>> i) & 1);
  };
  push(4, 4); // byte mode
  push(bytes.length, version < 10 ? 8 : 16);
  for (const b of bytes) push(b, 8);
  push(0, Math.min(4, capacity - bits.length));
  push(0, (8 - (bits.length % 8)) % 8);
  for (let pad = 0xec; bits.length < capacity; pad ^= 0xec ^ 0x11) push(pad, 8);
  const out = new Uint8Array(capacity / 8);
  bits.forEach((b, i) => (out[i >> 3] |= b << (7 - (i & 7))));
  return out;
}

/** Splits into blocks, adds error correction, interleaves. */
function codewords(data, version, ecl) {
  const blocks = BLOCKS[ecl][version];
  const eccLen = ECC_PER_BLOCK[ecl][version];
  const raw = rawModules(version) >> 3;
  const shortBlocks = blocks - (raw % blocks);
  const shortLen = Math.floor(raw / blocks);
  const gen = generator(eccLen);
  const parts = [];
  for (let i = 0, k = 0; i < blocks; i++) {
    const len = shortLen - eccLen + (i < shortBlocks ? 0 : 1);
    const d = data.subarray(k, k + len);
    k += len;
    parts.push([d, remainder(d, gen)]);
  }
  const out = [];
  for (let i = 0; i <= shortLen - eccLen; i++) for (const [d] of parts) if (i < d.length) out.push(d[i]);
  for (let i = 0; i < eccLen; i++) for (const [, e] of parts) out.push(e[i]);
  return out;
}

function bchFormat(ecl, mask) {
  const data = (ECL_BITS[ecl] << 3) | mask;
  let rem = data;
  for (let i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
  return ((data << 10) | rem) ^ 0x5412;
}

function bchVersion(version) {
  let rem = version;
  for (let i = 0; i < 12; i++) rem = (rem << 1) ^ ((rem >>> 11) * 0x1f25);
  return (version << 12) | rem;
}

const MASKS = [
  (x, y) => (x + y) % 2 === 0,
  (x, y) => y % 2 === 0,
  (x) => x % 3 === 0,
  (x, y) => (x + y) % 3 === 0,
  (x, y) => (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0,
  (x, y) => ((x * y) % 2) + ((x * y) % 3) === 0,
  (x, y) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0,
  (x, y) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
];

/** A symbol under construction: dark modules and which of them are function patterns. */
function grid(version) {
  const size = version * 4 + 17;
  const dark = new Uint8Array(size * size);
  const fixed = new Uint8Array(size * size);
  const set = (x, y, on) => {
    dark[y * size + x] = on ? 1 : 0;
    fixed[y * size + x] = 1;
  };
  return { size, dark, fixed, set };
}

function drawFunctionPatterns(g, version) {
  const { size, set } = g;
  for (let i = 0; i < size; i++) {
    set(6, i, i % 2 === 0);
    set(i, 6, i % 2 === 0);
  }
  const finder = (cx, cy) => {
    for (let dy = -4; dy <= 4; dy++) {
      for (let dx = -4; dx <= 4; dx++) {
        const x = cx + dx;
        const y = cy + dy;
        const d = Math.max(Math.abs(dx), Math.abs(dy));
        if (x >= 0 && x < size && y >= 0 && y < size) set(x, y, d !== 2 && d !== 4);
      }
    }
  };
  finder(3, 3);
  finder(size - 4, 3);
  finder(3, size - 4);
  const centres = alignment(version);
  const last = centres.length - 1;
  centres.forEach((cy, i) =>
    centres.forEach((cx, j) => {
      // Not where a finder pattern sits.
      if ((i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0)) return;
      for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) set(cx + dx, cy + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
    }),
  );
  drawFormat(g, 'M', 0); // reserves the area; the real bits come after masking
  if (version >= 7) {
    const bits = bchVersion(version);
    for (let i = 0; i < 18; i++) {
      const on = (bits >>> i) & 1;
      const a = size - 11 + (i % 3);
      const b = Math.floor(i / 3);
      set(a, b, on);
      set(b, a, on);
    }
  }
}

function drawFormat(g, ecl, mask) {
  const { size, set } = g;
  const bits = bchFormat(ecl, mask);
  const bit = (i) => (bits >>> i) & 1;
  for (let i = 0; i <= 5; i++) set(8, i, bit(i));
  set(8, 7, bit(6));
  set(8, 8, bit(7));
  set(7, 8, bit(8));
  for (let i = 9; i < 15; i++) set(14 - i, 8, bit(i));
  for (let i = 0; i < 8; i++) set(size - 1 - i, 8, bit(i));
  for (let i = 8; i < 15; i++) set(8, size - 15 + i, bit(i));
  set(8, size - 8, 1); // the dark module
}

function placeData(g, words) {
  const { size, dark, fixed } = g;
  let i = 0;
  const total = words.length * 8;
  for (let right = size - 1; right >= 1; right -= 2) {
    if (right === 6) right = 5; // the vertical timing pattern
    const upward = ((right + 1) & 2) === 0;
    for (let v = 0; v < size; v++) {
      const y = upward ? size - 1 - v : v;
      for (let j = 0; j < 2; j++) {
        const at = y * size + right - j;
        if (fixed[at] || i >= total) continue;
        dark[at] = (words[i >> 3] >>> (7 - (i & 7))) & 1;
        i++;
      }
    }
  }
}

function applyMask(g, mask) {
  const { size, dark, fixed } = g;
  const f = MASKS[mask];
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) if (!fixed[y * size + x] && f(x, y)) dark[y * size + x] ^= 1;
}

/** Penalty score N1–N4 (lower is easier to scan). */
function penalty({ size, dark }) {
  let score = 0;
  const at = (x, y) => dark[y * size + x];
  const finderLike = (line) => {
    // 1:1:3:1:1 dark pattern with 4 light modules on one side (outside the symbol is light).
    let n = 0;
    const get = (i) => (i < 0 || i >= line.length ? 0 : line[i]);
    for (let i = -4; i < line.length; i++) {
      const core = get(i) && !get(i + 1) && get(i + 2) && get(i + 3) && get(i + 4) && !get(i + 5) && get(i + 6);
      if (!core) continue;
      const before = !get(i - 1) && !get(i - 2) && !get(i - 3) && !get(i - 4);
      const after = !get(i + 7) && !get(i + 8) && !get(i + 9) && !get(i + 10);
      if (before || after) n++;
    }
    return n;
  };
  for (let pass = 0; pass < 2; pass++) {
    for (let a = 0; a < size; a++) {
      const line = [];
      for (let b = 0; b < size; b++) line.push(pass ? at(a, b) : at(b, a));
      let run = 1;
      for (let b = 1; b <= size; b++) {
        if (b < size && line[b] === line[b - 1]) run++;
        else {
          if (run >= 5) score += run - 2;
          run = 1;
        }
      }
      score += 40 * finderLike(line);
    }
  }
  let darkCount = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      darkCount += at(x, y);
      if (x + 1 < size && y + 1 < size) {
        const c = at(x, y);
        if (c === at(x + 1, y) && c === at(x, y + 1) && c === at(x + 1, y + 1)) score += 3;
      }
    }
  }
  const total = size * size;
  score += 10 * (Math.ceil(Math.abs(darkCount * 20 - total * 10) / total) - 1);
  return score;
}

/**
 * The QR symbol for `text` (UTF-8, byte mode): `{ size, version, ecl, mask, dark }`, where
 * `dark[y * size + x]` is 1 for a dark module. Throws a RangeError past version 40 at level L.
 * `opts.mask` forces a mask (tests); `opts.ecl` forces a level.
 */
export function encode(text, opts = {}) {
  const bytes = new TextEncoder().encode(text);
  for (const ecl of opts.ecl ? [opts.ecl] : ['M', 'L']) {
    for (let version = 1; version <= 40; version++) {
      const header = 4 + (version < 10 ? 8 : 16);
      if (header + bytes.length * 8 > dataCodewords(version, ecl) * 8) continue;
      const words = codewords(dataBits(bytes, version, ecl), version, ecl);
      let best = null;
      for (let mask = 0; mask < 8; mask++) {
        if (opts.mask !== undefined && mask !== opts.mask) continue;
        const g = grid(version);
        drawFunctionPatterns(g, version);
        placeData(g, words);
        applyMask(g, mask);
        drawFormat(g, ecl, mask);
        const score = penalty(g);
        if (!best || score < best.score) best = { size: g.size, version, ecl, mask, dark: g.dark, score };
      }
      return best;
    }
  }
  throw new RangeError(`too long for a QR code: ${bytes.length} bytes`);
}

// ---- Dialog --------------------------------------------------------------------------------------

const TEXT = {
  en: ['Continue on your phone', "Scan the code with your phone's camera to open this chat there.", 'Close', 'Open on this computer', 'QR code of the chat link'],
  ru: ['Продолжите на телефоне', 'Наведите камеру телефона на код, чтобы открыть этот чат на телефоне.', 'Закрыть', 'Открыть на этом компьютере', 'QR-код ссылки на чат'],
  pt: ['Continue no celular', 'Aponte a câmera do celular para o código para abrir este chat nele.', 'Fechar', 'Abrir neste computador', 'Código QR do link do chat'],
  es: ['Continúa en tu teléfono', 'Escanea el código con la cámara del teléfono para abrir este chat allí.', 'Cerrar', 'Abrir en este ordenador', 'Código QR del enlace del chat'],
};

const CSS = `
:host{all:initial}
.backdrop{position:fixed;inset:0;z-index:2147483647;display:flex;align-items:center;justify-content:center;
 background:rgba(0,0,0,.45);font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.dialog{position:relative;box-sizing:border-box;width:min(340px,calc(100vw - 32px));padding:24px;border-radius:12px;
 background:#fff;color:#1a1a1a;box-shadow:0 10px 40px rgba(0,0,0,.3);text-align:center}
h2{margin:0 32px 6px;font-size:18px}
p{margin:0 0 14px;color:#444}
svg{display:block;width:100%;max-width:260px;height:auto;margin:0 auto 14px}
.close{position:absolute;top:8px;right:8px;width:36px;height:36px;border:0;border-radius:8px;background:transparent;
 font-size:24px;line-height:1;color:#555;cursor:pointer}
.close:hover{background:#eee}
a{color:#0b57d0}
:focus-visible{outline:3px solid #0b57d0;outline-offset:2px}
`;

let current = null;

/**
 * Shows the QR dialog for `url` (the tagged messenger link). `lang` picks the texts (ru, en, pt,
 * es; default: the page's <html lang>, else English). Returns `{ close }`. One dialog at a time:
 * a second call replaces the first.
 */
export function showQr(url, { lang } = {}) {
  if (current) current.close();
  const doc = document;
  const code = String(lang || doc.documentElement.lang || 'en').toLowerCase().slice(0, 2);
  const [title, hint, closeText, openText, imgText] = TEXT[code] || TEXT.en;
  const symbol = encode(String(url));

  const host = doc.createElement('div');
  host.setAttribute('data-chattag', 'off'); // never looked at by the tagger
  const root = host.attachShadow({ mode: 'open' });
  const el = (tag, attrs = {}, text) => {
    const n = doc.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text) n.textContent = text;
    return n;
  };
  const backdrop = el('div', { class: 'backdrop' });
  const dialog = el('div', { class: 'dialog', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 't', 'aria-describedby': 'd' });
  const close = el('button', { class: 'close', type: 'button', 'aria-label': closeText }, '×');
  const open = el('a', { href: String(url), target: '_blank', rel: 'noopener' }, openText);
  dialog.append(close, el('h2', { id: 't' }, title), el('p', { id: 'd' }, hint), svg(symbol, imgText), open);
  backdrop.append(dialog);
  styleRoot(root, CSS);
  root.append(backdrop);

  const previous = doc.activeElement;
  const focusables = [close, open];
  const onKey = (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      finish();
    } else if (e.key === 'Tab') {
      // Keep focus inside the modal dialog.
      const i = focusables.indexOf(root.activeElement);
      const next = focusables[(i + (e.shiftKey ? focusables.length - 1 : 1)) % focusables.length] || close;
      e.preventDefault();
      next.focus();
    }
  };
  const finish = () => {
    if (current !== handle) return;
    current = null;
    doc.removeEventListener('keydown', onKey, true);
    host.remove();
    if (previous && previous.isConnected && typeof previous.focus === 'function') previous.focus();
  };
  const handle = { close: finish };
  backdrop.addEventListener('click', (e) => {
    if (e.target === backdrop) finish();
  });
  close.addEventListener('click', finish);
  // Opening the chat here is the visitor's choice; the dialog has done its job.
  open.addEventListener('click', () => setTimeout(finish));
  doc.addEventListener('keydown', onKey, true);
  (doc.body || doc.documentElement).append(host);
  current = handle;
  close.focus();
  return handle;
}

/** The symbol as SVG: one path of 1×1 squares, 4 modules of quiet zone. */
function svg({ size, dark }, label) {
  const NS = 'http://www.w3.org/2000/svg';
  const full = size + 8;
  const s = document.createElementNS(NS, 'svg');
  s.setAttribute('viewBox', `0 0 ${full} ${full}`);
  s.setAttribute('role', 'img');
  s.setAttribute('aria-label', label);
  s.setAttribute('shape-rendering', 'crispEdges');
  let d = '';
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) if (dark[y * size + x]) d += `M${x + 4} ${y + 4}h1v1h-1z`;
  const bg = document.createElementNS(NS, 'rect');
  bg.setAttribute('width', full);
  bg.setAttribute('height', full);
  bg.setAttribute('fill', '#fff');
  const path = document.createElementNS(NS, 'path');
  path.setAttribute('d', d);
  path.setAttribute('fill', '#000');
  s.append(bg, path);
  return s;
}
