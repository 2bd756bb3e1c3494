// Checks on tagged links, stated from messenger-links.md: the ID goes into one parameter
// (text / start / context), the site's own value is kept, and every other byte of the link
// (base, other parameters in order, fragment) stays as the site wrote it.
import assert from 'node:assert/strict';

/** Splits an href into base, raw `k=v` pairs, and fragment — without normalising anything. */
export function splitHref(href) {
  let rest = href;
  let fragment = '';
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    fragment = rest.slice(hash);
    rest = rest.slice(0, hash);
  }
  const q = rest.indexOf('?');
  const base = q >= 0 ? rest.slice(0, q) : rest;
  const query = q >= 0 ? rest.slice(q + 1) : '';
  const pairs = query === '' ? [] : query.split('&');
  return { base, pairs, fragment };
}

const nameOf = (pair) => pair.split('=')[0];
const valueOf = (pair) => {
  const i = pair.indexOf('=');
  return i < 0 ? '' : pair.slice(i + 1);
};

/** The decoded value of query parameter `name`, or undefined. */
export function param(href, name) {
  const pair = splitHref(href).pairs.find((p) => nameOf(p) === name);
  return pair === undefined ? undefined : decodeURIComponent(valueOf(pair).replace(/\+/g, ' '));
}

const count = (hay, needle) => hay.split(needle).length - 1;

/**
 * Asserts `now` is `orig` tagged with `id` through parameter `name`:
 * - base and fragment byte-identical; every other parameter byte-identical and in order;
 * - the new value keeps the site's original value and carries the ID exactly once;
 * - `start` values obey Telegram's rule (1–64 of A-Za-z0-9_-), MAX's 128 limit.
 */
export function assertTagged(orig, now, id, name, { maxLen, startRule = false } = {}) {
  const o = splitHref(orig);
  const n = splitHref(now);
  const where = `\n  orig: ${orig}\n  now:  ${now}`;
  assert.equal(n.base, o.base, `base must be unchanged${where}`);
  assert.equal(n.fragment, o.fragment, `fragment must be unchanged${where}`);
  assert.deepEqual(n.pairs.filter((p) => nameOf(p) !== name), o.pairs.filter((p) => nameOf(p) !== name),
    `parameters other than ${name} must be byte-identical and in order${where}`);
  assert.equal(n.pairs.filter((p) => nameOf(p) === name).length, 1, `exactly one ${name} parameter${where}`);
  const value = param(now, name);
  assert.equal(count(value, id), 1, `${name} must carry the ID exactly once${where}`);
  const before = param(orig, name);
  if (before) assert.ok(value.includes(before), `${name} must keep the site's value ${JSON.stringify(before)}${where}`);
  if (startRule) assert.match(value, /^[A-Za-z0-9_-]{1,64}$/, `Telegram start rule${where}`);
  if (maxLen) assert.ok(value.length <= maxLen, `${name} ≤ ${maxLen}${where}`);
  return value;
}
