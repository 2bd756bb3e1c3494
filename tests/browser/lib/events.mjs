// The wire contract (ARCHITECTURE.md "Event wire format" and "Chat ID"), re-stated independently
// of the Rust code so the browser tests check the snippet from the outside.
import assert from 'node:assert/strict';

export const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Luhn mod 32 check value over body values (the rightmost body value gets factor 2). */
function luhnCheck(values) {
  let factor = 2;
  let sum = 0;
  for (let i = values.length - 1; i >= 0; i--) {
    const addend = factor * values[i];
    sum += Math.floor(addend / 32) + (addend % 32);
    factor = factor === 2 ? 1 : 2;
  }
  return (32 - (sum % 32)) % 32;
}

/**
 * A well-formed chat ID: prefix, 7 Crockford body characters, a valid Luhn mod 32 check.
 * `prefixes` null accepts any prefix of 1–4 of A–Z (the site may configure its own).
 */
export function isChatId(s, prefixes = ['CT']) {
  if (typeof s !== 'string') return false;
  const prefix = prefixes === null
    ? (/^[A-Z]{1,4}(?=[0-9A-HJKMNP-TV-Z]{8}$)/.exec(s) || [])[0]
    : prefixes.find((p) => s.startsWith(p) && s.length === p.length + 8);
  if (!prefix) return false;
  const values = [...s.slice(prefix.length)].map((c) => CROCKFORD.indexOf(c));
  if (values.some((v) => v < 0)) return false;
  return luhnCheck(values.slice(0, 7)) === values[7];
}

/** Builds a valid chat ID from 7 body characters (for "tagged with an older ID" fixtures). */
export function makeChatId(prefix, body7) {
  const values = [...body7].map((c) => CROCKFORD.indexOf(c));
  assert.ok(values.length === 7 && values.every((v) => v >= 0), `bad body ${body7}`);
  return prefix + body7 + CROCKFORD[luhnCheck(values)];
}

const TYPES = new Set(['issue', 'update', 'click']);
const STRING_FIELDS = ['client_id', 'yclid', 'user_id', 'purchase_id', 'gclid', 'fbclid', 'ga_client_id', 'prev_chat_id', 'messenger', 'link_kind', 'target'];
const KNOWN = new Set(['event_id', 'type', 'chat_id', 'ts', 'page', 'referrer', 'utm', ...STRING_FIELDS]);

export function assertValidEvent(ev, prefixes = null) {
  const show = JSON.stringify(ev);
  assert.match(ev.event_id ?? '', /^[0-9A-HJKMNP-TV-Z]{26}$/, `event_id must be 26 Crockford chars: ${show}`);
  assert.ok(TYPES.has(ev.type), `unknown type: ${show}`);
  assert.ok(isChatId(ev.chat_id, prefixes), `chat_id must be a valid chat ID: ${show}`);
  assert.ok(Number.isInteger(ev.ts) && Math.abs(ev.ts - Date.now()) < 10 * 60_000, `ts must be ms since epoch, now-ish: ${show}`);
  for (const k of ['page', 'referrer']) {
    if (ev[k] === undefined) continue;
    assert.equal(typeof ev[k], 'string', `${k} must be a string: ${show}`);
    assert.ok(ev[k].length <= 2048, `${k} ≤ 2048 chars`);
    assert.ok(!ev[k].includes('#'), `${k} must carry no fragment: ${show}`);
  }
  for (const k of STRING_FIELDS) {
    if (ev[k] === undefined) continue;
    assert.equal(typeof ev[k], 'string', `${k} must be a string when present: ${show}`);
    assert.notEqual(ev[k], '', `${k} must be absent rather than empty: ${show}`);
  }
  if (ev.utm !== undefined) {
    assert.equal(typeof ev.utm, 'object', `utm must be an object: ${show}`);
    for (const [k, v] of Object.entries(ev.utm)) {
      assert.ok(['source', 'medium', 'campaign', 'term', 'content'].includes(k), `unknown utm key ${k}`);
      assert.equal(typeof v, 'string');
    }
  }
  if (ev.type === 'click') {
    for (const k of ['messenger', 'link_kind', 'target']) assert.ok(ev[k], `click needs ${k}: ${show}`);
  } else {
    for (const k of ['messenger', 'link_kind', 'target']) assert.equal(ev[k], undefined, `${ev.type} must not carry ${k}: ${show}`);
  }
  if (ev.prev_chat_id !== undefined) {
    assert.equal(ev.type, 'issue', `prev_chat_id only on issue: ${show}`);
    assert.ok(isChatId(ev.prev_chat_id, prefixes), `prev_chat_id must be a chat ID: ${show}`);
  }
  for (const k of Object.keys(ev)) assert.ok(KNOWN.has(k), `unknown field ${k}: ${show}`);
}

/**
 * Dedupe must be possible: one event_id always names the same event (resends are identical),
 * and two different events never share an event_id.
 */
export function assertEventIdsConsistent(events) {
  const byId = new Map();
  for (const ev of events) {
    const { _answer, _resourceType, ...e } = ev;
    const key = JSON.stringify(e);
    const seen = byId.get(e.event_id);
    if (seen === undefined) byId.set(e.event_id, key);
    else assert.equal(key, seen, `event_id ${e.event_id} was reused for a different event`);
  }
  return byId.size;
}
