// The page view's lifecycle: settings, consent, the visitor record in storage, the outbox, sending
// and retries, and the timers — the imperative half of what the wasm decides. Every decision
// (which ID, which event and when, what a link becomes) is the wasm's: each call answers with
// effects (src/browser/page.rs), which `act` carries out. The outbox and delivery rules are
// www/loader/outbox.js, the settings www/loader/settings.js.
import * as w from 'chattag:glue';
import { CONFIGURE, START, SETTLE, SET_ID, CLIENT_ID, NEWS, SHOW, FORGET } from 'chattag:glue';
import { D, warn, guard, setting, get, set, remove, kept, forget, later, post, beacon, rnd8, ym, pass, cookies, safe } from './shell.js';
import { read, BAD } from './settings.js';
import * as outbox from './outbox.js';

// The visitor record (localStorage and a cookie) and the outbox (localStorage only: it can be tens
// of KB and must not ride on every request).
const RECORD = '_chattag';
const OUTBOX = '_chattag_q';
// When to look for a late ClientID again, each in ms after the one before (0.5, 1, 2, 4, 8, 15 and
// 30 s after start): Metrica's tag often sets `_ym_uid` after we ran. Interactions look too
// (src/browser/page.rs `link`).
const CLIENT_ID_CHECKS = [500, 500, 1000, 2000, 4000, 7000, 15000];

// `s`: the settings. `consent`: reading, storing, tagging and sending are allowed; `denied`:
// `consent(false)` was called; `started`: the page's queued calls were replayed; `live`: the chat
// ID while running; `pending`: the start's events and storage write are still to come (`settle`).
let s, endpoint, consent, denied, started, live, pending;
// Sending: the token of the request in flight (0: none), failed attempts in a row, a retry waiting.
let inFlight = 0;
let token = 0;
let attempt = 0;
let retrying;
let ymAnswered;
// The settings' warnings, until the wasm has checked its two; the visitor record read at script
// start (`prepare`), used by the first activation.
let bad, early;

/**
 * At script start, while the wasm downloads: the settings, and — when consent is not required —
 * the stored visitor record. Storage and cookies are synchronous IPC in browsers: read here, they
 * are off the path between the wasm's arrival and the first tagging pass. The record's cookie is
 * the wasm's to read (`PageView::start`), but reading the jar now fills the browser's cookie
 * cache, so that read costs nothing unless a cookie changed meanwhile.
 */
export const prepare = () => {
  [s, bad] = read(setting);
  endpoint = s.endpoint;
  consent = !s.consentRequired;
  if (consent) (early = record()), safe(cookies);
};

/** The wasm is here: its settings checked, every bad one said; returns whether debug mode is on. */
export const boot = () => {
  for (const c of w.call(CONFIGURE, s.prefix, s.template) || '') bad.push(BAD[c]);
  // A bad setting is the one thing said without debug: the site owner has to see it.
  for (const m of bad) console.warn('chattag: bad setting:', m);
  return s.debug;
};

/** For the debug overlay. */
export const state = () => ({ consent: consent ? 'granted' : denied ? 'denied' : 'required', endpoint });

// ---- storage ----------------------------------------------------------------------------------

const setCookie = (value, maxAge) => {
  try {
    D.cookie = `${RECORD}=${value}; path=/; max-age=${maxAge}; samesite=lax${location.protocol == 'https:' ? '; secure' : ''}`;
  } catch (e) {}
};
// The visitor record as storage holds it: [localStorage's, this page's memory]. The wasm takes the
// cookie's (`_chattag`, read with the core's cookie rule) between the two (src/browser/page.rs).
const record = () => [get(RECORD), kept(RECORD)];
const lines = () => outbox.parse(get(OUTBOX));
const saveOutbox = (v) => (v.length ? set(OUTBOX, v.join('\n')) : remove(OUTBOX));

// ---- effects ----------------------------------------------------------------------------------

// Carries out a call's effects (one per line, see src/browser/page.rs); returns the `h` one (the
// tagged URL or href), if any.
const act = (answer) => {
  let href, news;
  for (const line of (answer || '').split('\n')) {
    const v = line.slice(1);
    const k = line[0];
    if (k == 's') {
      const at = v.indexOf(' ');
      const text = v.slice(at + 1);
      set(RECORD, text);
      setCookie(text, v.slice(0, at));
    } else if (k == 'e') news = enqueue(v);
    else if (k == 'c' && enqueue(v)) {
      // The page may be navigating away: a beacon gets the click out now; the event stays in the
      // outbox until an ordinary send, 1.5 s later if the page is still here, is confirmed.
      send(1);
      later(1500, send);
    } else if (k == 'h') href = v;
    else if (k == 'i') live = v;
    else if (k == 'x') warn('setUserId / setPurchaseId: invalid value ignored (1-128 printable characters, none of <>"\'`\\)');
  }
  if (news) send();
  return href;
};

/** A call into the wasm that comes after the rest of the start (`settle`); carries out its effects. */
export const run = (op, a, b, n) => (settle(), act(w.call(op, a, b, n)));
/** The same for a call answering plain text (an ID, JSON). */
export const ask = (op, a, b, n) => (settle(), w.call(op, a, b, n));

// ---- lifecycle --------------------------------------------------------------------------------

const activate = () => {
  if (live || !consent) return;
  act(w.call(START, ...(early || record()), s.lifetime));
  early = 0;
  // No ID only when the browser has no CSPRNG.
  if (!live) return warn('no CSPRNG in this browser: not running');
  // Tagging first: the pass runs as soon as the loader's start returns (`passNow`), and the rest
  // (events, storage writes, the first send: most of the time, storage and cookies being
  // synchronous IPC in browsers) in a task after it, or before any other call that needs it.
  pending = 1;
  pass();
  later(0, settle);
};

function settle() {
  if (!pending) return;
  pending = 0;
  act(w.call(SETTLE));
  const id = live;
  clientIdCheck(0);
  askYm();
  send();
  setTimeout(guard(() => D.dispatchEvent(new CustomEvent('chattag:ready', { detail: { id } }))));
}

/** After the page's queued calls were replayed: activate (unless consent is pending). */
export const start = () => {
  started = 1;
  activate();
};

export const consentTo = (granted) => {
  denied = !granted;
  consent = granted;
  if (granted) {
    if (started) activate();
  } else {
    // Withdrawn: the request in flight is forgotten (its answer becomes stale), and everything
    // chattag keeps is cleared.
    live = pending = inFlight = retrying = early = 0;
    w.call(FORGET);
    remove(RECORD);
    remove(OUTBOX);
    setCookie('', 0);
    forget();
  }
};

const askYm = () => {
  ym(s.counter, (v) => {
    ymAnswered = ymAnswered || !!v;
    run(CLIENT_ID, String(v));
  });
};

const clientIdCheck = (i) =>
  later(CLIENT_ID_CHECKS[i], () => {
    if (!live) return;
    run(NEWS);
    if (!ymAnswered) askYm();
    if (CLIENT_ID_CHECKS[++i]) clientIdCheck(i);
  });

/** Page hidden (pagehide / visibilitychange): everything pending as a beacon. */
export const hide = () => {
  settle();
  send(1);
};

/** bfcache restore: the visitor's record as it is now (another tab may have renewed the ID), then re-tag. */
export const show = () => {
  if (!live) return;
  run(SHOW, ...record());
  pass();
  send();
};

/**
 * `setUserId(v)` / `setPurchaseId(v)` (`purchase` 1); then whatever is pending goes out. Strings as
 * they are, finite numbers in their JS spelling, null/undefined = clear; anything else becomes ""
 * so the wasm rejects it (with a warning under debug).
 */
export const setId = (v, purchase) => {
  run(SET_ID, v == null ? undefined : typeof v == 'string' || Number.isFinite(v) ? String(v) : '', undefined, purchase);
  send();
};

// ---- the outbox and delivery ------------------------------------------------------------------

// Puts an event in the outbox (persisted); nothing is kept without an endpoint.
const enqueue = (line) => {
  if (!endpoint) return;
  saveOutbox(outbox.push(lines(), line));
  return 1;
};

// `send(1)`: everything pending as a beacon, fire-and-forget (a click, the page going away).
// `send()`: the next batch as an ordinary request, one at a time; the answer decides what leaves
// the outbox and when to try again.
function send(asBeacon) {
  if (!consent || !endpoint || (!asBeacon && (inFlight || retrying))) return;
  const v = lines();
  const [body, ids, oversized] = outbox.batch(v, w.bytes);
  if (asBeacon) {
    if (ids.length && !beacon(endpoint, body)) warn('sendBeacon refused; the batch stays in the outbox');
    return;
  }
  if (oversized.length) saveOutbox(outbox.without(v, oversized));
  if (!ids.length) return;
  const t = (inFlight = ++token);
  post(endpoint, body, (status) => {
    // A stale answer (consent was withdrawn meanwhile): nothing to do.
    if (t != inFlight) return 0;
    inFlight = 0;
    const r = outbox.outcome(status);
    if (r == 3) {
      retrying = 1;
      later(outbox.backoff(++attempt, rnd8()), () => {
        retrying = 0;
        send();
      });
    } else {
      attempt = 0;
      if (r == 2) warn('collector refused a batch (4xx); dropped', endpoint);
      saveOutbox(outbox.without(lines(), ids));
      send();
    }
    return r;
  });
}
