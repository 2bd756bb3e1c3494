// Visitor identifiers: a ClientID that arrives late, Metrica's ym() API, the ID lifecycle across
// visits and ad clicks, and hostile values that must never reach a link or a report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anchors, pageHtml, setup } from './lib/harness.mjs';
import { assertEventIdsConsistent } from './lib/events.mjs';

const h = setup();

test('_ym_uid set 2 s after load → an update event carrying the ClientID', async () => {
  await h.run(async (s) => {
    const head = `<script>setTimeout(() => { document.cookie = '_ym_uid=1732000000123456789; path=/'; }, 2000);</script>`;
    await s.page.goto(h.server.page(pageHtml({ head, body: anchors([['wa', 'https://wa.me/79991234567']]) })));
    const id = await s.ready();
    const issue = await s.waitForEvent((e) => e.type === 'issue', { what: 'the issue event' });
    assert.equal(issue.chat_id, id);
    assert.equal(issue.client_id, undefined, 'no ClientID is known at first');
    const update = await s.waitForEvent((e) => e.type === 'update' && e.client_id === '1732000000123456789', { timeout: 15000, what: 'an update with the late ClientID' });
    assert.equal(update.chat_id, id);
    assert.ok(update.ts >= issue.ts);
    s.assertEventsValid();
    assertEventIdsConsistent(s.events);
  });
});

test('with data-counter, the ClientID comes from ym(counter, "getClientID")', async () => {
  await h.run(async (s) => {
    const head = `<script>
      window.ym = function (counter, method, cb) {
        (window.ym.calls = window.ym.calls || []).push([counter, method]);
        if (method === 'getClientID' && typeof cb === 'function') setTimeout(() => cb('1732000000987654321'), 300);
      };
    </script>`;
    await s.page.goto(h.server.page(pageHtml({ head, snippet: { counter: '98765432' }, body: anchors([['wa', 'https://wa.me/79991234567']]) })));
    const id = await s.ready();
    const ev = await s.waitForEvent((e) => e.client_id === '1732000000987654321', { timeout: 15000, what: 'an event with the ClientID from ym()' });
    assert.equal(ev.chat_id, id);
    const calls = await s.page.evaluate(() => window.ym.calls);
    assert.ok(calls.some(([c, m]) => String(c) === '98765432' && m === 'getClientID'), `ym called with the counter: ${JSON.stringify(calls)}`);
    assert.equal(await s.page.evaluate(() => document.cookie.includes('_ym_uid')), false, 'the ClientID came from ym(), not a cookie');
  });
});

test('the ID survives a reload; a new yclid on a later visit issues a new ID with prev_chat_id', async () => {
  await h.run(async (s) => {
    const url = h.server.page(pageHtml({ body: anchors([['wa', 'https://wa.me/79991234567']]) }));
    await s.page.goto(`${url}?yclid=111122223333`);
    const first = await s.ready();
    const issue1 = await s.waitForEvent((e) => e.type === 'issue' && e.chat_id === first, { what: 'the first issue' });
    assert.equal(issue1.yclid, '111122223333');
    assert.equal(issue1.prev_chat_id, undefined);

    await s.page.reload();
    assert.equal(await s.ready(), first, 'same ID after a reload with the same yclid');
    await s.page.goto(url);
    assert.equal(await s.ready(), first, 'same ID on a later visit without an ad click');

    await s.page.goto(`${url}?yclid=444455556666`);
    const second = await s.ready();
    assert.notEqual(second, first, 'a new ad click renews the ID');
    const issue2 = await s.waitForEvent((e) => e.type === 'issue' && e.chat_id === second, { what: 'the renewed issue' });
    assert.equal(issue2.prev_chat_id, first);
    assert.equal(issue2.yclid, '444455556666');
    await s.page.waitForFunction((id) => document.getElementById('wa').getAttribute('href').includes(id), second, { timeout: 5000 });
    s.assertEventsValid();
    assert.equal(s.events.filter((e) => e.type === 'issue' && e.chat_id === first).map((e) => e.event_id).filter((v, i, a) => a.indexOf(v) === i).length, 1,
      'reloads must not issue the same ID again as a new event');
  });
});

test('hostile page values never reach a link or a report', async () => {
  await h.run(async (s) => {
    const big = 'x'.repeat(10 * 1024);
    const hostileYclid = '"><script>alert(1)</script>';
    const head = `<script>
      document.cookie = '_ym_uid=' + encodeURIComponent('"><img src=x onerror=alert(1)>') + '; path=/';
      window.chattag = window.chattag || function () { (chattag.q = chattag.q || []).push(arguments); };
      chattag('setUserId', '"><svg onload=alert(1)>');
      chattag('setPurchaseId', 'A\\u0000B\\u202E');
    </script>`;
    const url = h.server.page(pageHtml({ head, body: anchors([['wa', 'https://wa.me/79991234567?text=Hi'], ['tg', 'https://t.me/flower_shop_bot']]) }));
    const query = `?yclid=${encodeURIComponent(hostileYclid)}&utm_source=${big}&utm_medium=cpc&gclid=%3Cb%3E&fbclid=${encodeURIComponent('a b<c>')}`;
    await s.page.goto(url + query);
    const id = await s.ready();
    await s.page.waitForFunction((id) => ['wa', 'tg'].every((x) => document.getElementById(x).getAttribute('href').includes(id)), id, { timeout: 5000 });
    const issue = await s.waitForEvent((e) => e.type === 'issue', { what: 'the issue event' });
    const links = await s.page.evaluate(() => [...document.links].map((a) => a.getAttribute('href')));
    await s.page.click('#tg');
    await s.waitForEvent((e) => e.type === 'click', { what: 'the click' });
    for (const field of ['yclid', 'gclid', 'fbclid', 'client_id', 'user_id', 'purchase_id']) {
      assert.equal(issue[field], undefined, `hostile ${field} must be dropped: ${JSON.stringify(issue[field])}`);
    }
    assert.equal(issue.utm?.source, undefined, 'a 10 KB utm_source is dropped, not truncated');
    assert.equal(issue.utm?.medium, 'cpc', 'a clean utm_medium on the same URL is kept');
    // `page` is the visited URL itself (percent-encoded, capped at 2048 by the validator); every
    // other value in every event, and every link, is checked decoded.
    const values = [];
    const collect = (v, key) => {
      if (key === 'page' || key === 'referrer') return;
      if (typeof v === 'string') values.push(v);
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) collect(x, k);
    };
    for (const ev of s.events) collect(ev);
    for (const href of links) values.push(safeDecode(href));
    const everything = values.join('\n').toLowerCase();
    for (const bad of ['<script', '<svg', '<img', '<b>', 'onerror', 'onload', 'x'.repeat(200), '\u0000', '\u202e']) {
      assert.ok(!everything.includes(bad), `${JSON.stringify(bad.slice(0, 20))} leaked into a report or link`);
    }
    for (const r of s.requests) assert.ok(r.body.length < 64 * 1024, 'bodies stay under 64 KB');
    s.assertEventsValid();
  });
});

function safeDecode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
