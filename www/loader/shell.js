// The imperative shell: browser I/O — what the wasm reads (`io`, handed to it by the glue,
// www/loader/glue.js; src/browser/ports.rs declares each read), storage, the network, timers and
// the tagging passes over the DOM. These functions only move data: which links are tagged and
// how, IDs and events are the wasm's decisions; www/loader/page.js acts on them.
//
// None of them may throw: a throw would unwind through the wasm mid-call. Calls back into the
// wasm (timers, fetch answers, `ym` callbacks) are asynchronous and go through `guard`.
import * as w from 'chattag:glue';
import { TAG_HREFS, LINK as LINK_OP } from 'chattag:glue';
import { on } from './settings.js';

export const W = window;
export const D = document;
// Only valid while this script runs synchronously.
export const script = D.currentScript;

export { on };
// Only a plain object counts: markup such as two <a id="chattagConfig" name="endpoint"> (which
// comment sanitizers allow) clobbers window.chattagConfig with elements. Own keys only, so a
// polluted Object.prototype configures nothing either.
const raw = W.chattagConfig;
export const config = raw && {}.toString.call(raw) == '[object Object]' ? raw : {};
export const own = (key) => ({}.hasOwnProperty.call(config, key) ? config[key] : undefined);
// `?chattag_debug=1` switches debug mode on like data-debug (settings.js reads it through `setting`).
const urlDebug = /[?&]chattag_debug=1(&|$)/.test(location.search);
// `ui.debug`: debug mode; `ui.after`: run after every entry into the wasm (the overlay refresh).
export const ui = { debug: urlDebug || on(script && script.getAttribute('data-debug')) || on(own('debug')) };
export const warn = (...args) => {
  try {
    if (ui.debug) console.warn('chattag:', ...args);
  } catch (e) {}
};
export const guard = (f) =>
  function () {
    try {
      return f.apply(this, arguments);
    } catch (e) {
      warn(e);
    } finally {
      if (ui.after) ui.after();
    }
  };
// A value for the wasm: a string, or undefined for none (never an object it cannot take).
const text = (v) => (v == null ? undefined : '' + v);
export const safe = (f, fallback) => {
  try {
    return f();
  } catch (e) {
    return fallback;
  }
};

// ---- network, timers ---------------------------------------------------------------------------

// `sent`: [body, status, detail] per POST and per answer, for the debug overlay (debug only).
export const sent = [];
const track = (...entry) => ui.debug && sent.push(entry);

// `fetch(url, {method: 'POST', body, keepalive})`; `done(status)` (0 for a network error) answers
// what became of the batch: 0 a stale answer, 1 delivered, 2 refused and dropped, 3 kept for a retry.
export const post = (url, body, done) => {
  let sending;
  try {
    sending = fetch(url, { method: 'POST', body, keepalive: true, credentials: 'omit' });
    track(body, 'sending');
  } catch (e) {
    sending = Promise.reject(e);
  }
  sending.then((r) => r.status, () => 0).then(guard((status) => {
    const r = done(status);
    if (r) track(body, ['', 'sent', 'dropped', 'retrying'][r], r > 1 ? (status ? `HTTP ${status}` : 'network error') : '');
  }));
};

// `navigator.sendBeacon`: whether the browser queued it.
export const beacon = (url, body) => safe(() => navigator.sendBeacon(url, body), false);

// A zero delay is a yield between slices of a long pass: postTask has no 4 ms clamp. A missing or
// throwing one (a page's polyfill) falls back to setTimeout.
const schedule = (run, ms) => {
  let queued;
  try {
    if (!ms) (queued = W.scheduler.postTask(run)).catch(() => {});
  } catch (e) {}
  if (!queued) setTimeout(run, ms);
};
export const later = (ms, f) => schedule(guard(f), ms);

// `ym(counter, 'getClientID', cb)` when Metrica's tag is on the page; `cb` runs in a task of its own.
export const ym = (counter, cb) => {
  if (counter && typeof W.ym === 'function') void W.ym(+counter, 'getClientID', (v) => setTimeout(guard(() => cb(v))));
};

// ---- settings and page facts ------------------------------------------------------------------

// The raw value of a setting: the script tag's `attr`, else `String(chattagConfig[key])`; a value
// that throws (a hostile `toString`) is no value.
export const setting = (attr, key) =>
  safe(() => {
    if (urlDebug && key == 'debug') return '1';
    let v = script && script.getAttribute(attr);
    if (v == null) v = own(key);
    if (v == null) return;
    v = String(v);
    // A path on the site's own domain (`/chattag/v1/events`, the collector behind the site's
    // proxy) or a scheme-relative URL: resolved against the page (one that cannot be resolved
    // stays as it is, and settings.js says it is not an http(s) URL).
    return key == 'endpoint' && /^\s*\//.test(v) ? safe(() => new URL(v.trim(), D.baseURI).href, v) : v;
  });

export const now = () => Date.now();
export const rnd = () => safe(() => crypto.getRandomValues(new Uint32Array(1))[0], -1);
// A random byte (the retry jitter); 128 (no jitter) without a CSPRNG.
export const rnd8 = () => safe(() => crypto.getRandomValues(new Uint8Array(1))[0], 128);

// ---- storage: localStorage, which may be blocked or throw ------------------------------------------
// Every value written this page view stays in `mem`, read when localStorage is gone. localStorage
// is looked up on first use, so nothing is touched before consent.
const mem = new Map();
let local;
const store = () => {
  if (local === undefined) local = safe(() => W.localStorage || null, null);
  return local;
};
// localStorage when it works (so tabs see each other's writes), else this page's memory.
export const get = (key) => {
  if (store()) {
    try {
      return local.getItem(key);
    } catch (e) {
      local = null;
    }
  }
  return mem.get(key);
};
export const set = (key, value) => {
  mem.set(key, value);
  // Quota exceeded or blocked mid-page: memory takes over for the rest of the view.
  if (store()) {
    try {
      local.setItem(key, value);
    } catch (e) {
      local = null;
    }
  }
};
export const remove = (key) => {
  mem.delete(key);
  if (store()) safe(() => local.removeItem(key));
};
// This page's memory only (the fallback when neither storage nor the cookie kept a value).
export const kept = (key) => mem.get(key);
export const forget = () => mem.clear();

// `document.cookie`: a round trip to the browser's network process unless its cache is fresh.
export const cookies = () => D.cookie;
// `io(op, a, b)` (ports.rs): what the wasm reads, in the order of its constants; the answer is a
// string or undefined, and a throw (storage blocked, a page's broken polyfill) is no answer.
const IO = [
  // Another script's localStorage key (Metrica's `_ym_uid`), read only.
  (key) => store() && local.getItem(key),
  cookies,
  // PAGE_*: page facts.
  () => location.href,
  () => location.search,
  () => D.title,
  () => D.referrer,
  () => D.documentElement.getAttribute('lang'),
];
export const io = (op, a, b) => safe(() => text(IO[op](a, b)));

// ---- links: the tagging passes ------------------------------------------------------------------

export const LINK = 'a[href],area[href]';
// Links the bulk pass looks at: every link without a `data-chattag` hint (those go one at a time,
// reading the hint). Plain selector lists, not `:is()`: engines before Chromium 88 / Safari 14
// throw on `:is()`, which would leave every link untagged there. A CSS substring prefilter was
// tried: with the `i` flag it made this query 2–3× slower on a 10,000-link page, and without it
// it missed hosts written in mixed case (`http://www.WA.me/…`).
const CANDIDATES = 'a[href]:not([data-chattag]),area[href]:not([data-chattag])';
const HINTED = 'a[href][data-chattag],area[href][data-chattag]';
// A pass works in slices of SLICE links (one crossing into the wasm each) and yields to the page
// once a task has run BUDGET ms, so that a 10,000-link page never sees a task anywhere near 50 ms
// from us, while a small page is done in the task that queried it.
const SLICE = 500;
const BUDGET = 20;
// The bulk pass's prefilter: an href without any of these cannot be a messenger link, so the wasm
// never sees it (the core classifies every href that passes).
export const MAYBE = /wa\.me|whatsapp|t\.me|telegram|tg:|viber|max\.ru/i;
// href values the bulk pass wrote, so the observer can skip its own writes cheaply.
export const ours = new WeakMap();

// `list[from..to]`: hrefs read and joined by "\n" ("" for one the prefilter rules out, and for one
// that itself contains a newline: such a link is left to interaction time), tagged by the wasm in
// one call, changed ones written back. One crossing per slice instead of one per link: the bulk
// pass is DOM-bound, and per-call glue dominated it.
function tagSlice(list, from, to) {
  const out = [];
  try {
    for (let i = from; i < to; i++) {
      const h = list[i].getAttribute('href') || '';
      out.push(MAYBE.test(h) && !h.includes('\n') ? h : '');
    }
  } catch (e) {}
  const tagged = w.call(TAG_HREFS, out.join('\n'));
  if (!tagged) return;
  try {
    const v = tagged.split('\n');
    for (let i = 0; i < v.length && from + i < to; i++) {
      if (!v[i]) continue;
      list[from + i].setAttribute('href', v[i]);
      ours.set(list[from + i], v[i]);
    }
  } catch (e) {}
}

// A pass's LINK call: its one possible effect is `h<href>` (src/browser/page.rs).
const passLink = (...args) => {
  const h = w.call(...args);
  return h ? h.slice(1, -1) : undefined;
};
// One link with its `data-chattag` hint; `what` as in src/browser/page.rs (0 pass, 1 pointer,
// 2 used). `link` answers with the href to write, if it changes: page.js's `run` for an
// interaction, the bare call during a pass (which must not wait for the rest of the start).
export const tagLink = (el, what, link = passLink) => {
  const href = link(LINK_OP, text(el.getAttribute('href')), text(el.getAttribute('data-chattag')), what);
  if (href != null) el.setAttribute('href', href);
};

// Links the page added or changed (the loader's MutationObserver, shadow roots), tagged at once.
export const tagLinks = (list) => {
  const plain = [];
  for (const el of list) {
    if (el.hasAttribute('data-chattag')) guard(tagLink)(el, 0);
    else plain.push(el);
  }
  for (let i = 0; i < plain.length; i += SLICE) tagSlice(plain, i, Math.min(plain.length, i + SLICE));
};

// ---- links in open shadow roots -----------------------------------------------------------------
// Tagged like the document's and watched by the same observer. Looked for at and under `node` when
// it is added, and over the whole document on every pass.
const roots = new WeakSet();
export const watching = {};
export const watch = (root) =>
  watching.observer && watching.observer.observe(root, { subtree: true, childList: true, attributes: true, attributeFilter: ['href'] });
// getElementsByTagName: 4-5× faster than querySelectorAll('*') over a 30,000-element page
// (~6 ms, measured); a shadow root has only the latter.
export function shadows(node, found = []) {
  try {
    const all = node.getElementsByTagName ? node.getElementsByTagName('*') : node.querySelectorAll('*');
    for (let i = -1; i < all.length; i++) {
      const root = (i < 0 ? node : all[i]).shadowRoot;
      if (!root) continue;
      if (!roots.has(root)) roots.add(root), watch(root);
      found.push(...root.querySelectorAll(LINK));
      shadows(root, found);
    }
  } catch (e) {}
  return found;
}

// A document pass, in slices of a few ms each starting in the next task, so that a page with
// thousands of links stays responsive. The wasm asks for one whenever its ID may have changed; a
// pass under way then starts over on its next slice.
let list, from, passing;
function step() {
  // Run already (`passNow`): a stale scheduled step has nothing to do.
  if (!passing) return;
  const start = Date.now();
  try {
    if (!list) {
      from = 0;
      for (const el of D.querySelectorAll(HINTED)) guard(tagLink)(el, 0);
      list = D.querySelectorAll(CANDIDATES);
      // Open shadow roots, which querySelectorAll does not reach: in a task of their own.
      setTimeout(guard(() => tagLinks(shadows(D))));
    }
    while (from < list.length && Date.now() - start < BUDGET) {
      const to = Math.min(list.length, from + SLICE);
      tagSlice(list, from, to);
      from = to;
    }
  } catch (e) {
    warn(e);
  } finally {
    if (ui.after) ui.after();
  }
  if (list && from < list.length) schedule(step, 0);
  else passing = list = undefined;
}
export const pass = () => {
  list = undefined;
  if (!passing) (passing = 1), schedule(step, 0);
};
// The pass the wasm asked for at start, run now rather than in a later task: tagging is what a
// visitor's first click needs, and the rest of the start waits for it (www/loader/page.js).
export const passNow = () => step();
