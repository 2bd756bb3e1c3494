// Delivery without loss: events wait in the outbox until a 2xx, survive a reload, keep their
// event_id across resends, and go out as simple text/plain JSON arrays under 64 KB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anchors, pageHtml, setup } from './lib/harness.mjs';
import { assertEventIdsConsistent } from './lib/events.mjs';

const h = setup();

function assertWireShape(s) {
  assert.equal(s.requests.filter((r) => r.preflight).length, 0, 'a simple POST never needs a CORS preflight');
  for (const r of s.requests) {
    assert.equal(r.method, 'POST');
    assert.match(r.contentType || '', /^text\/plain\b/i, `content type must be text/plain, got ${r.contentType}`);
    assert.ok(Buffer.byteLength(r.body) < 64 * 1024, `body under 64 KB (${r.body.length})`);
    const parsed = JSON.parse(r.body);
    assert.ok(Array.isArray(parsed) && parsed.length >= 1 && parsed.length <= 100, `body is a JSON array of 1..100 events: ${r.body.slice(0, 200)}`);
  }
}

test('endpoint answering 500, then aborting: after a reload the same event_id is delivered', async () => {
  await h.run(async (s) => {
    const url = h.server.page(pageHtml({ body: anchors([['wa', 'https://wa.me/79991234567']]) }));
    await s.page.goto(url);
    const id = await s.ready();
    const failed = await s.waitForEvent((e) => e.type === 'issue' && e._answer === 500, { what: 'the issue event answered 500' });
    assert.equal(failed.chat_id, id);

    s.endpointMode = 'abort';
    await s.page.reload();
    assert.equal(await s.ready(), id);
    await s.waitForEvent((e) => e.event_id === failed.event_id && e._answer === 'abort', { what: 'a resend that is aborted' });

    s.endpointMode = 'ok';
    await s.page.reload();
    assert.equal(await s.ready(), id);
    const delivered = await s.waitForEvent((e) => e.event_id === failed.event_id, { delivered: true, timeout: 15000, what: 'the same event_id delivered' });
    assert.equal(delivered.chat_id, id);
    assert.equal(delivered.type, 'issue');
    assert.equal(s.delivered().filter((e) => e.type === 'issue' && e.chat_id === id).map((e) => e.event_id).filter((v, i, a) => a.indexOf(v) === i).length, 1,
      'the outage must not mint a second issue event for the same ID');

    // Once confirmed, the outbox is empty: another reload sends nothing for that event.
    const before = s.requests.length;
    await s.page.reload();
    await s.ready();
    await s.page.waitForTimeout(1500);
    const after = s.requests.slice(before).flatMap((r) => JSON.parse(r.body)).filter((e) => e.event_id === failed.event_id);
    assert.equal(after.length, 0, 'a confirmed event is not sent again');
    assertWireShape(s);
    s.assertEventsValid();
    assertEventIdsConsistent(s.events);
  }, { endpoint: 500 });
});

test('the endpoint failing while the page stays open: retries deliver the event without a reload', async () => {
  await h.run(async (s) => {
    await s.page.goto(h.server.page(pageHtml({ body: anchors([['wa', 'https://wa.me/79991234567']]) })));
    const id = await s.ready();
    const failed = await s.waitForEvent((e) => e.type === 'issue' && e._answer === 503, { what: 'the issue answered 503' });
    s.endpointMode = 'ok';
    const ok = await s.waitForEvent((e) => e.event_id === failed.event_id, { delivered: true, timeout: 20000, what: 'a retry with backoff' });
    assert.equal(ok.chat_id, id);
    assertWireShape(s);
  }, { endpoint: 503 });
});

test('a 4xx other than 408/429 drops the event instead of resending it forever', async () => {
  await h.run(async (s) => {
    const url = h.server.page(pageHtml({ body: anchors([['wa', 'https://wa.me/79991234567']]) }));
    await s.page.goto(url);
    await s.ready();
    const refused = await s.waitForEvent((e) => e.type === 'issue' && e._answer === 400, { what: 'the issue answered 400' });
    s.endpointMode = 'ok';
    await s.page.reload();
    await s.ready();
    await s.page.waitForTimeout(2000);
    assert.equal(s.delivered().filter((e) => e.event_id === refused.event_id).length, 0, 'a refused event is not resent');
  }, { endpoint: 400 });
});

test('a large backlog is delivered in bodies of at most 100 events and under 64 KB, none lost', async () => {
  await h.run(async (s) => {
    // The page's own handler keeps the page here (single-page-app style); the snippet still sees each click.
    const body = `${anchors([['tg', 'https://t.me/flower_shop_bot?start=spring_collection_2026_landing_page_variant_b']])}
      <script>document.addEventListener('click', (e) => e.preventDefault());</script>`;
    await s.page.goto(h.server.page(pageHtml({ body })));
    const id = await s.ready();
    await s.waitForEvent((e) => e.type === 'issue' && e._answer === 503, { what: 'the issue refused with 503' });
    const CLICKS = 120;
    await s.page.evaluate((n) => {
      const a = document.getElementById('tg');
      for (let i = 0; i < n; i++) a.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true }));
    }, CLICKS);
    await s.page.waitForTimeout(500);
    s.endpointMode = 'ok';
    await s.page.reload();
    assert.equal(await s.ready(), id);
    const deadline = Date.now() + 20000;
    const clickIds = () => new Set(s.delivered().filter((e) => e.type === 'click').map((e) => e.event_id));
    while (clickIds().size < CLICKS && Date.now() < deadline) await s.page.waitForTimeout(200);
    assert.equal(clickIds().size, CLICKS, `all ${CLICKS} clicks delivered once the endpoint is back`);
    assert.ok(s.delivered().some((e) => e.type === 'issue' && e.chat_id === id), 'the issue event too');
    assertWireShape(s);
    assertEventIdsConsistent(s.events);
  }, { endpoint: 503 });
});

test('click events go out at the click (beacon or keepalive) and every event has its own event_id', async () => {
  await h.run(async (s) => {
    const body = anchors([['a', 'https://wa.me/79991234567'], ['b', 'https://t.me/flower_shop_bot']]).replace(/<a /g, '<a target="_blank" ');
    await s.page.goto(h.server.page(pageHtml({ body })));
    const id = await s.ready();
    await s.page.waitForFunction((id) => document.getElementById('b').getAttribute('href').includes(id), id, { timeout: 5000 });
    await s.page.click('#a');
    await s.page.click('#b');
    await s.page.click('#b');
    await s.waitForEvent((e) => e.type === 'click' && e.messenger === 'whatsapp', { delivered: true, what: 'the WhatsApp click' });
    const deadline = Date.now() + 8000;
    while (new Set(s.delivered().filter((e) => e.type === 'click').map((e) => e.event_id)).size < 3 && Date.now() < deadline) await s.page.waitForTimeout(100);
    const clicks = new Set(s.delivered().filter((e) => e.type === 'click').map((e) => e.event_id));
    assert.equal(clicks.size, 3, 'three clicks are three events with distinct event_ids');
    assertEventIdsConsistent(s.events);
    assertWireShape(s);
    s.assertEventsValid();
  });
});
