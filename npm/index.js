// chattag for sites that bundle their own code: `import { start } from 'chattag'`.
//
// This is the same snippet as the script tag, not a second implementation: `chattag.mjs` is the
// built dist/chattag.inline.js (loader + glue + the wasm, inlined) wrapped so that it runs
// when `start()` is called instead of when it is loaded (scripts/build_npm.mjs). Every rule
// stays in the Rust core; this file only hands over the settings and forwards calls to
// `window.chattag`, the snippet's API.
import run from './chattag.mjs';

// Optional chunks, resolved by the bundler and fetched only when the snippet asks for them: the
// QR dialog (data-qr), the debug overlay and its inspector (debug), and the wasm2js fallback
// (only where a Content-Security-Policy forbids compiling wasm).
const CHUNKS = {
  qr: () => import('./qr.js'),
  debug: () => import('./debug.js'),
  inspect: () => import('./inspect.js'),
  fallback: () => import('./fallback.js'),
};

const browser = () => typeof window !== 'undefined' && typeof document !== 'undefined';

/** The page's `chattag`: the running snippet, else the call-queue stub (created on demand). */
function page() {
  if (!browser()) return null;
  if (typeof window.chattag !== 'function') {
    // The documented stub: calls made before start() are queued and replayed by the snippet.
    const stub = function () {
      (stub.q = stub.q || []).push(arguments);
    };
    window.chattag = stub;
  }
  return window.chattag;
}

/** The snippet's API once it runs (the stub has no version). */
function live() {
  const c = browser() ? window.chattag : null;
  return c && c.version ? c : null;
}

/**
 * Starts chattag on this page with the given settings (the keys of `window.chattagConfig`; see
 * index.d.ts). Safe to call more than once (later calls do nothing) and on the server (does
 * nothing there).
 */
export function start(config = {}) {
  if (!browser() || live()) return;
  page();
  const own = window.chattagConfig && typeof window.chattagConfig === 'object' ? window.chattagConfig : {};
  window.chattagConfig = { ...own, ...config, importChunk: (name) => (CHUNKS[name] ? CHUNKS[name]() : Promise.reject(new Error(`no chunk ${name}`))) };
  run();
}

/** Resolves with the chat ID once the snippet is running (`chattag:ready`). */
export function ready() {
  if (!browser()) return new Promise(() => {});
  const c = live();
  const now = c && c.id();
  if (now) return Promise.resolve(now);
  return new Promise((resolve) => {
    document.addEventListener('chattag:ready', (e) => resolve(e.detail && e.detail.id), { once: true });
  });
}

/** The visitor's chat ID, or undefined before the snippet runs (or before consent). */
export function id() {
  const c = live();
  return c ? c.id() : undefined;
}

/** `url` with the chat ID added when it is a messenger link; unchanged otherwise or before start. */
export function rewrite(url) {
  const c = live();
  return c ? c.rewrite(url) : String(url);
}

/** The identifiers the snippet knows (ClientID, yclid, UTM, …); `{}` before it runs. */
export function identifiers() {
  const c = live();
  return c ? c.identifiers() : {};
}

const forward = (name) => (value) => {
  const c = page();
  if (c) c(name, value);
};

/** Ties the chat to your own user ID (queued until the snippet runs). */
export const setUserId = forward('setUserId');
/** Ties the chat to an order / purchase ID (queued until the snippet runs). */
export const setPurchaseId = forward('setPurchaseId');
/** With `consent: 'required'`: true starts the snippet, false stops it and clears its storage. */
export const consent = forward('consent');
