// The outbox and delivery rules, pure (no browser API; tests/browser/loader-rules.test.mjs runs
// them in Chromium). The outbox holds encoded events waiting for a confirmed delivery, one event
// JSON per line (JSON strings escape newlines, so a line is one whole event), newest last.
//
// An event leaves it only when the collector answered 2xx for a request that carried it, or a
// 4xx that resending cannot fix. Beacons do not count as confirmation: the collector dedupes by
// `event_id`, so an event may arrive more than once but is never lost.

// Every event the wasm encodes starts with this, then its 26-character id (src/logic/wire.rs).
const HEAD = '{"event_id":"';
const ID_END = HEAD.length + 26;
// Oldest events are dropped beyond this (a collector down for days must not fill storage).
export const CAP = 200;
// At most this many events per request (the collector's limit, chattag_core::event::MAX_BATCH).
export const MAX_BATCH = 100;
// Request bodies stay below this: keepalive fetches and beacons share a 64 KB in-flight quota,
// so a batch leaves room for a beacon sent while it is in flight.
export const MAX_BATCH_BYTES = 48 * 1024;

// The event id of an encoded event line, or undefined.
export const idOf = (line) => (line.startsWith(HEAD) && line.length > ID_END ? line.slice(HEAD.length, ID_END) : undefined);

// The stored text's event lines (anything else is skipped).
export const parse = (stored) => (stored || '').split('\n').filter(idOf);

// `lines` with `line` appended unless an event with its id is there already; the newest CAP.
export const push = (lines, line) => {
  const id = idOf(line);
  return id && !lines.some((l) => idOf(l) == id) ? [...lines, line].slice(-CAP) : lines;
};

// `lines` without the events whose ids are in `ids`.
export const without = (lines, ids) => lines.filter((l) => !ids.includes(idOf(l)));

// The oldest events that fit one request: [JSON array body, their ids, ids of events too big to
// ever fit (the caller drops them)]. `bytes(s)`: a string's UTF-8 length.
export const batch = (lines, bytes) => {
  let body = '[';
  let size = 1;
  const ids = [];
  const oversized = [];
  for (const line of lines) {
    const id = idOf(line);
    const n = bytes(line) + 1;
    if (n + 1 > MAX_BATCH_BYTES) oversized.push(id);
    else if (ids.length == MAX_BATCH || size + n > MAX_BATCH_BYTES) break;
    else {
      body += (ids.length ? ',' : '') + line;
      size += n;
      ids.push(id);
    }
  }
  return [body + ']', ids, oversized];
};

// What an answer means for the events a request carried: 1 delivered (2xx), 2 refused (a 4xx
// other than 408/429: the request itself is wrong, resending cannot fix it), 3 retry (network
// failure = status 0, 408, 429, 5xx, anything else).
export const outcome = (status) =>
  status > 199 && status < 300 ? 1 : status > 399 && status < 500 && status != 408 && status != 429 ? 2 : 3;

// Exponential backoff for the `attempt`-th retry in a row (1-based): 1 s, 2 s, 4 s … capped at
// 60 s, each scaled by 0.5–1.5 from `jitter` (a random byte) so that many visitors' pages do not
// retry in lockstep after a collector outage.
export const backoff = (attempt, jitter) =>
  Math.floor((Math.min(60000, 1000 * 2 ** Math.min(16, attempt - 1)) * (128 + jitter)) / 256);
