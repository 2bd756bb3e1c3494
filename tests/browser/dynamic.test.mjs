// Coverage beyond the first pass: links added later, hrefs changed later, hrefs a framework sets
// at interaction time, window.open from buttons, and pages restored from the back/forward cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anchors, pageHtml, setup } from './lib/harness.mjs';
import { assertTagged, param } from './lib/links.mjs';

const h = setup();

const hrefOf = (page, sel) => page.$eval(sel, (a) => a.getAttribute('href'));
const waitTagged = (page, sel, id, timeout = 5000) =>
  page.waitForFunction(({ sel, id }) => (document.querySelector(sel)?.getAttribute('href') || '').includes(id), { sel, id }, { timeout });

test('links added after load are tagged, once', async () => {
  await h.run(async (s) => {
    await s.page.goto(h.server.page(pageHtml({ body: '<div id="list"></div>' })));
    const id = await s.ready();
    await s.page.evaluate(() => {
      const list = document.getElementById('list');
      const a = document.createElement('a');
      a.id = 'added';
      a.href = 'https://wa.me/79991234567?text=Hi';
      list.appendChild(a);
      // A whole subtree inserted at once, as frameworks do.
      const div = document.createElement('div');
      div.innerHTML = '<p><span><a id="nested" href="https://t.me/flower_shop_bot">bot</a></span></p>';
      list.appendChild(div);
    });
    await waitTagged(s.page, '#added', id);
    await waitTagged(s.page, '#nested', id);
    assertTagged('https://wa.me/79991234567?text=Hi', await hrefOf(s.page, '#added'), id, 'text');
    assertTagged('https://t.me/flower_shop_bot', await hrefOf(s.page, '#nested'), id, 'start', { startRule: true });
    // Give a self-triggering observer time to show itself: the tag must still be there once.
    await s.page.waitForTimeout(400);
    assertTagged('https://wa.me/79991234567?text=Hi', await hrefOf(s.page, '#added'), id, 'text');
  });
});

test('an href changed after tagging is tagged again; a link changed to a non-messenger URL is left alone', async () => {
  await h.run(async (s) => {
    await s.page.goto(h.server.page(pageHtml({ body: anchors([['a', 'https://example.com/catalog'], ['b', 'https://wa.me/79991234567']]) })));
    const id = await s.ready();
    await waitTagged(s.page, '#b', id);
    await s.page.evaluate(() => {
      document.getElementById('a').setAttribute('href', 'https://t.me/flower_manager?text=Price%3F');
      document.getElementById('b').href = 'https://example.com/after';
    });
    await waitTagged(s.page, '#a', id);
    assertTagged('https://t.me/flower_manager?text=Price%3F', await hrefOf(s.page, '#a'), id, 'text');
    await s.page.waitForTimeout(300);
    assert.equal(await hrefOf(s.page, '#b'), 'https://example.com/after');
  });
});

test('a framework that sets the href in a capture listener right before the click: the navigation carries the ID', async () => {
  // The page's listener is registered before the snippet loads, so it runs before any of the
  // snippet's own capture listeners on the same target: the worst case for click-time tagging.
  const head = `<script>
    addEventListener('mousedown', (e) => { if (e.target.id === 'late') e.target.href = 'https://wa.me/79991234567?text=Bouquet'; }, true);
    addEventListener('click', (e) => { if (e.target.id === 'later') e.target.href = 'https://t.me/flower_shop_bot'; }, true);
  </script>`;
  await h.run(async (s) => {
    const url = h.server.page(pageHtml({ head, body: '<a id="late" href="#">Order on WhatsApp</a>' }));
    await s.page.goto(url);
    const id = await s.ready();
    const nav = s.page.waitForRequest((r) => r.url().startsWith('https://wa.me/'));
    await s.page.click('#late');
    const req = await nav;
    assertTagged('https://wa.me/79991234567?text=Bouquet', req.url(), id, 'text');
    const click = await s.waitForEvent((e) => e.type === 'click', { what: 'a click event' });
    assert.equal(click.chat_id, id);
    assert.equal(click.messenger, 'whatsapp');
  });
  await h.run(async (s) => {
    const url = h.server.page(pageHtml({ head, body: '<a id="later" href="#">Ask the bot</a>' }));
    await s.page.goto(url);
    const id = await s.ready();
    const nav = s.page.waitForRequest((r) => r.url().startsWith('https://t.me/'));
    await s.page.click('#later');
    const req = await nav;
    assertTagged('https://t.me/flower_shop_bot', req.url(), id, 'start', { startRule: true });
  });
});

test('clicking a tagged link navigates with the ID, records a click event, and never blocks the navigation', async () => {
  await h.run(async (s) => {
    await s.page.goto(h.server.page(pageHtml({ body: anchors([['tg', 'https://t.me/flower_shop_bot']]) })));
    const id = await s.ready();
    await waitTagged(s.page, '#tg', id);
    const tagged = await hrefOf(s.page, '#tg');
    const nav = s.page.waitForRequest((r) => r.url().startsWith('https://t.me/'));
    await s.page.click('#tg');
    // The browser itself navigated to exactly the tagged href: nothing prevented or replaced it.
    assert.equal((await nav).url(), tagged);
    const click = await s.waitForEvent((e) => e.type === 'click', { what: 'a click event' });
    assert.equal(click.chat_id, id);
    assert.equal(click.messenger, 'telegram');
    assert.equal(click.link_kind, 'telegram_bot');
    assert.ok(click.target.includes('flower_shop_bot'), `click target names the bot: ${click.target}`);
    s.assertEventsValid();
  });
});

test('window.open of a messenger URL from an onclick button opens the tagged URL', async () => {
  await h.run(async (s) => {
    const body = `<button id="open" onclick="window.__win = window.open('https://wa.me/79991234567?text=Hi', '_blank'); document.body.dataset.opened = String(!!window.__win)">WhatsApp</button>
      <button id="other" onclick="window.open('https://example.org/page?x=wa.me', '_blank')">Other</button>`;
    await s.page.goto(h.server.page(pageHtml({ body })));
    const id = await s.ready();
    const popup = s.context.waitForEvent('page');
    await s.page.click('#open');
    const win = await popup;
    await win.waitForLoadState('commit');
    assertTagged('https://wa.me/79991234567?text=Hi', win.url(), id, 'text');
    // window.open still returns the window to the page's code.
    assert.equal(await s.page.evaluate(() => document.body.dataset.opened), 'true');
    const nonMessenger = s.context.waitForEvent('request', (r) => r.url().startsWith('https://example.org/'));
    await s.page.click('#other');
    assert.equal((await nonMessenger).url(), 'https://example.org/page?x=wa.me', 'non-messenger window.open is untouched');
  });
});

test('a page restored from the back/forward cache carries the visitor\'s current ID', async () => {
  await h.run(async (s) => {
    const head = `<script>addEventListener('pageshow', (e) => { if (e.persisted) document.documentElement.dataset.restored = '1'; });</script>`;
    const first = h.server.page(pageHtml({ head, body: anchors([['wa', 'https://wa.me/79991234567']]) }));
    await s.page.goto(first);
    const oldId = await s.ready();
    await waitTagged(s.page, '#wa', oldId);
    // A new ad click in a later page of the same site renews the ID while this page sits in the cache.
    const second = h.server.page(pageHtml({ body: '<a href="/">home</a>' }));
    await s.page.goto(`${second}?yclid=4444555566667777`);
    const newId = await s.ready();
    assert.notEqual(newId, oldId, 'a new yclid renews the ID');
    await s.page.goBack({ waitUntil: 'commit' });
    const restored = await s.page.waitForFunction(() => document.documentElement.dataset.restored === '1', null, { timeout: 3000 }).then(() => true, () => false);
    // Without a restore this test would prove nothing, so it fails instead of passing quietly.
    assert.ok(restored, 'the page was not restored from the back/forward cache (is it served no-store, or does it use unload?)');
    await waitTagged(s.page, '#wa', newId, 5000).catch(async () =>
      assert.fail(`after a bfcache restore the link should carry the current ID ${newId}, has ${await hrefOf(s.page, '#wa')}`));
    assert.ok(!(await hrefOf(s.page, '#wa')).includes(oldId));
    assert.equal(param(await hrefOf(s.page, '#wa'), 'text').split(newId).length - 1, 1);
  });
});
