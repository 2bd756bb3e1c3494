// The loader's own rules, run in Chromium: the outbox and delivery policy (www/loader/outbox.js)
// and the settings (www/loader/settings.js). Pure modules, imported as they are into a page, so
// these tests see exactly what ships (the bundle only renames them). The behaviour around them —
// retries over a real network, consent, a full storage — is in delivery.test.mjs, api.test.mjs
// and robustness.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, setup } from './lib/harness.mjs';

const h = setup();

// Serves a loader module and runs `fn(module, arg)` in a page that imported it.
async function inPage(file, fn, arg) {
  const src = fs.readFileSync(path.join(ROOT, 'www', 'loader', file), 'utf8');
  const url = h.server.page(src, { name: file.replace('.js', ''), headers: { 'content-type': 'text/javascript' } });
  const blank = h.server.page('<!doctype html><title>rules</title>');
  let out;
  await h.run(async (s) => {
    await s.page.goto(blank);
    out = await s.page.evaluate(
      async ([url, fn, arg]) => {
        const m = await import(url);
        // eslint-disable-next-line no-new-func
        return new Function('m', 'arg', `return (${fn})(m, arg)`)(m, arg);
      },
      [url, fn.toString(), arg],
    );
  });
  return out;
}

// An encoded event line with event id `n` (26 digits) and `pad` bytes of payload.
const EV = `(n, pad = 0, ch = 'a') => '{"event_id":"' + String(n).padStart(26, '0') + '","type":"click","x":"' + ch.repeat(pad) + '"}'`;

test('outbox: foreign lines are skipped, an event is kept once, the newest 200 are kept', async () => {
  const r = await inPage(
    'outbox.js',
    `(m, EV) => {
      const ev = eval(EV);
      const text = [ev(1), ev(2, 3)].join('\\n') + '\\ngarbage\\n{"event_id":"short"}';
      let lines = [];
      lines = m.push(lines, ev(1));
      lines = m.push(lines, ev(1, 5));
      const once = lines.length;
      for (let n = 2; n <= m.CAP + 10; n++) lines = m.push(lines, ev(n));
      return {
        parsed: m.parse(text),
        none: m.parse(null),
        id: m.idOf(ev(7)),
        notOurs: [m.idOf('garbage'), m.idOf('{"event_id":"short"}')],
        once,
        capped: lines.length,
        oldest: m.idOf(lines[0]),
        removed: m.without([ev(1), ev(2), ev(3)], [String(2).padStart(26, '0')]),
        expect: { lines: [ev(1), ev(2, 3)], removed: [ev(1), ev(3)] },
      };
    }`,
    EV,
  );
  assert.deepEqual(r.parsed, r.expect.lines);
  assert.deepEqual(r.none, []);
  assert.equal(r.id, '00000000000000000000000007');
  assert.deepEqual(r.notOurs, [undefined, undefined]);
  assert.equal(r.once, 1, 'the same event_id is kept once');
  assert.equal(r.capped, 200);
  assert.equal(r.oldest, '00000000000000000000000011', 'the oldest are dropped');
  assert.deepEqual(r.removed, r.expect.removed);
});

test('outbox: batches respect the count and byte limits, are JSON arrays, and set aside events that never fit', async () => {
  const r = await inPage(
    'outbox.js',
    `(m, EV) => {
      const ev = eval(EV);
      const bytes = (s) => new TextEncoder().encode(s).length;
      const many = m.batch(Array.from({ length: 150 }, (_, n) => ev(n, 10)), bytes);
      const big = m.batch(Array.from({ length: 10 }, (_, n) => ev(n, 10000)), bytes);
      // Two-byte characters: the budget is UTF-8 bytes, not UTF-16 units.
      const wide = m.batch(Array.from({ length: 10 }, (_, n) => ev(n, 6000, 'ж')), bytes);
      const huge = m.batch([ev(1, m.MAX_BATCH_BYTES), ev(2)], bytes);
      return {
        many: [many[1].length, JSON.parse(many[0]).length],
        big: [big[1].length, bytes(big[0]) <= m.MAX_BATCH_BYTES],
        wide: [wide[1].length, bytes(wide[0]) <= m.MAX_BATCH_BYTES, JSON.parse(wide[0]).length],
        huge: [huge[1], huge[2]],
        empty: m.batch([], bytes),
      };
    }`,
    EV,
  );
  assert.deepEqual(r.many, [100, 100]);
  assert.deepEqual(r.big, [4, true]);
  assert.deepEqual(r.wide, [4, true, 4], '12 KB of UTF-8 per event: 4 fit in 48 KB');
  assert.deepEqual(r.huge, [['00000000000000000000000002'], ['00000000000000000000000001']]);
  assert.deepEqual(r.empty, ['[]', [], []]);
});

test('delivery: what each answer means, and a backoff that grows, caps and jitters', async () => {
  const r = await inPage(
    'outbox.js',
    `(m) => ({
      outcomes: [200, 204, 400, 413, 408, 429, 500, 503, 0, 302].map(m.outcome),
      waits: [[1, 128], [2, 128], [3, 128], [50, 128], [1, 0], [1, 255], [7, 255]].map(([a, j]) => m.backoff(a, j)),
    })`,
  );
  // 1 delivered, 2 refused (dropped), 3 retried.
  assert.deepEqual(r.outcomes, [1, 1, 2, 2, 3, 3, 3, 3, 3, 3]);
  const [w1, w2, w3, wMax, wLow, wHigh, w7] = r.waits;
  assert.deepEqual([w1, w2, w3, wMax, wLow], [1000, 2000, 4000, 60000, 500]);
  assert.ok(wHigh < 1500 && wHigh > 1000, `${wHigh}`);
  assert.ok(w7 < 90000 && w7 > 60000, `${w7}`);
});

// `settings.read` with chattagConfig-style pairs (the attribute is never set here).
const READ = `(m, pairs) => {
  const [s, warnings] = m.read((attr, key) => (key in pairs ? pairs[key] : undefined));
  return { s, warnings };
}`;

test('settings: defaults when nothing is set', async () => {
  const { s, warnings } = await inPage('settings.js', READ, {});
  assert.deepEqual(warnings, []);
  assert.deepEqual(s, { lifetime: 21, prefix: undefined, template: undefined, debug: false });
});

test('settings: good values are taken, trimmed of ASCII whitespace', async () => {
  const { s, warnings } = await inPage('settings.js', READ, {
    endpoint: ' https://collector.example/v1/events ',
    prefix: 'FL',
    template: 'Order {id}',
    lifetimeDays: '30',
    counter: '98765432',
    consent: 'Required',
    debug: '',
  });
  assert.deepEqual(warnings, []);
  assert.deepEqual(s, {
    endpoint: 'https://collector.example/v1/events',
    // Checked by the wasm (chat-ID and template rules), passed on raw.
    prefix: 'FL',
    template: 'Order {id}',
    lifetime: 30,
    counter: '98765432',
    consentRequired: true,
    debug: true,
  });
  const granted = await inPage('settings.js', READ, { consent: 'GRANTED', debug: 'yes' });
  assert.equal(granted.s.consentRequired, false);
  assert.equal(granted.s.debug, true);
});

test('settings: bad values warn and fall back safely', async () => {
  const { s, warnings } = await inPage('settings.js', READ, {
    endpoint: 'javascript:alert(1)',
    lifetimeDays: '0',
    counter: '12ab',
    consent: 'yes please',
    debug: 'off',
  });
  assert.equal(warnings.length, 4, JSON.stringify(warnings));
  assert.equal(s.endpoint, undefined);
  assert.equal(s.lifetime, 21);
  assert.equal(s.counter, undefined);
  assert.equal(s.consentRequired, true, "an unreadable consent setting must not mean 'granted'");
  assert.equal(s.debug, false);
  for (const bad of ['+5', '1.5', '-3', '9999999', 'true', '[object Object]', '2100', '0x10', '1e2']) {
    const r = await inPage('settings.js', READ, { lifetimeDays: bad });
    assert.equal(r.s.lifetime, 21, bad);
    assert.equal(r.warnings.length, 1, bad);
  }
  for (const bad of ['https://a b/', 'http://x\u0000y', 'ftp://x/', '//x/', 'https://' + 'a'.repeat(2050)]) {
    const r = await inPage('settings.js', READ, { endpoint: bad });
    assert.equal(r.s.endpoint, undefined, bad);
  }
  for (const unclear of ['not granted', 'granted please', 'granted\u00a0']) {
    const r = await inPage('settings.js', READ, { consent: unclear });
    assert.equal(r.s.consentRequired, true, unclear);
    assert.equal(r.warnings.length, 1, unclear);
  }
  for (const off of ['0', 'false', ' OFF ', 'no']) {
    assert.equal((await inPage('settings.js', READ, { debug: off })).s.debug, false, off);
  }
});

test('debug overlay: every skip the core names (Skip::as_str) has its English in the inspect chunk', async () => {
  const links = fs.readFileSync(path.join(ROOT, 'core', 'src', 'links.rs'), 'utf8');
  const asStr = links.slice(links.indexOf('pub fn as_str(self)', links.indexOf('impl Skip')));
  const names = [...asStr.slice(0, asStr.indexOf('\n    }\n')).matchAll(/Skip::\w+ => "(\w+)"/g)].map((m) => m[1]);
  assert.ok(names.length >= 10, `skip names read from links.rs: ${names}`);
  const { REASONS } = await import(path.join(ROOT, 'www', 'loader', 'wasm-inspect.js'));
  // `not_messenger` never reaches the overlay: such a link is not listed at all.
  assert.deepEqual(Object.keys(REASONS).sort(), names.filter((n) => n != 'not_messenger').sort());
  for (const [name, text] of Object.entries(REASONS)) assert.match(text, / — /, name);
});
