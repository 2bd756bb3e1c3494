// End to end against the real collector binary: page → tag → click → the mapping is stored and
// readable through the read API; the collector down during the click → delivered once it is
// back and the page is reloaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anchors, pageHtml, setup } from './lib/harness.mjs';
import { Collector } from './lib/collector.mjs';

let collector;
const h = setup({
  beforeAll: async (h) => {
    collector = new Collector({ origin: h.server.origin });
    await collector.start();
  },
  afterAll: async () => collector?.dispose(),
});

const page = (body, query = '') => h.server.page(pageHtml({ snippet: { endpoint: collector.endpoint }, body })) + query;

test('page → tag → click: the collector stores the mapping with identifiers, landing page and click', async () => {
  await h.run(async (s) => {
    await s.context.addCookies([{ name: '_ym_uid', value: '1732000000246813579', url: h.server.origin }]);
    const url = page(anchors([['tg', 'https://t.me/flower_shop_bot?start=promo'], ['wa', 'https://wa.me/79991234567?text=Hi']]), '?yclid=7777888899990000&utm_source=yandex&utm_medium=cpc');
    await s.page.goto(url);
    const id = await s.ready();
    await s.page.waitForFunction((id) => document.getElementById('tg').getAttribute('href').includes(id), id, { timeout: 5000 });
    const issued = await collector.waitForChat(id, () => true, { what: `chat ${id} stored after load` });
    assert.equal(issued.chat_id, id);
    assert.equal(issued.identifiers?.client_id, '1732000000246813579');
    assert.equal(issued.identifiers?.yclid, '7777888899990000');
    assert.equal(issued.identifiers?.utm?.source, 'yandex');
    assert.ok(String(issued.landing_page).includes('yclid=7777888899990000'), `landing page stored: ${issued.landing_page}`);

    await s.page.click('#tg');
    const withClick = await collector.waitForChat(id, (r) => (r.clicks || []).length >= 1, { what: 'the click stored' });
    const click = withClick.clicks[0];
    assert.equal(click.messenger, 'telegram');
    assert.equal(click.link_kind, 'telegram_bot');
    assert.ok(click.target.includes('flower_shop_bot'), `click target: ${click.target}`);
    assert.equal(s.navigations.length, 1, 'the click navigated to the messenger');
    assert.ok(s.navigations[0].includes(id), `the messenger URL carries the ID: ${s.navigations[0]}`);

    // The read API refuses a request without the token, and a wrong token.
    assert.equal((await collector.chat(id, { token: null })).status, 401);
    assert.equal((await collector.chat(id, { token: 'wrong' })).status, 401);
  });
});

test('collector down during the click: after it is back and the page is reloaded, the click is delivered', async () => {
  await h.run(async (s) => {
    const url = page(anchors([['wa', 'https://wa.me/79991234567?text=Hi']]));
    await s.page.goto(url);
    const id = await s.ready();
    await collector.waitForChat(id, () => true, { what: 'the issue stored before the outage' });

    await collector.stop('SIGKILL');
    await s.page.waitForFunction((id) => document.getElementById('wa').getAttribute('href').includes(id), id, { timeout: 5000 });
    await s.page.click('#wa');
    await s.page.waitForTimeout(1000);
    await collector.start();
    assert.equal((await collector.chat(id)).body.clicks?.length ?? 0, 0, 'nothing could arrive while the collector was down');

    await s.page.goto(url);
    assert.equal(await s.ready(), id, 'same ID after coming back');
    const rec = await collector.waitForChat(id, (r) => (r.clicks || []).length >= 1, { timeout: 20000, what: 'the click delivered after the outage' });
    assert.equal(rec.clicks.length, 1, 'delivered once, deduplicated by event_id');
    assert.equal(rec.clicks[0].messenger, 'whatsapp');
  });
});
