// The public API and the page contract: stub queue replay, double load, chattag:ready,
// rewrite(), identifiers(), consent mode, a single global, and a quiet console.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anchors, pageHtml, setup, snippetTag } from './lib/harness.mjs';
import { isChatId } from './lib/events.mjs';
import { assertTagged } from './lib/links.mjs';

const h = setup();

const STUB = `<script>
  window.chattag = window.chattag || function () { (chattag.q = chattag.q || []).push(arguments); };
  chattag('setUserId', '42');
  chattag('setPurchaseId', 'ORDER-7');
</script>`;

test('calls queued through the stub before load are replayed: user_id and purchase_id reach the events', async () => {
  await h.run(async (s) => {
    await s.page.goto(h.server.page(pageHtml({ head: STUB, body: anchors([['wa', 'https://wa.me/79991234567']]) })));
    const id = await s.ready();
    const ev = await s.waitForEvent((e) => e.user_id === '42', { what: 'an event with user_id 42' });
    assert.equal(ev.chat_id, id);
    await s.waitForEvent((e) => e.purchase_id === 'ORDER-7', { what: 'an event with purchase_id ORDER-7' });
    const ids = await s.page.evaluate(() => window.chattag.identifiers());
    assert.equal(ids.user_id ?? ids.userId, '42', `identifiers() reports the user id: ${JSON.stringify(ids)}`);
    // After load the stub form still works (it is the real API now).
    await s.page.evaluate(() => window.chattag('setUserId', '43'));
    await s.waitForEvent((e) => e.user_id === '43', { what: 'an update after chattag("setUserId","43")' });
    s.assertEventsValid();
  });
});

test('an invalid setUserId value changes nothing and, in debug mode, the console says why', async () => {
  await h.run(async (s) => {
    await s.page.goto(h.server.page(pageHtml({ snippet: { debug: '1' }, body: anchors([['wa', 'https://wa.me/79991234567']]) })));
    await s.ready();
    await s.page.evaluate(() => window.chattag.setUserId('42'));
    await s.waitForEvent((e) => e.user_id === '42', { what: 'an update with user_id 42' });
    await s.page.evaluate(() => window.chattag.setUserId('<script>alert(1)</script>'));
    await s.page.evaluate(() => window.chattag.setPurchaseId({ toString: () => 'object' }));
    const ids = await s.page.evaluate(() => window.chattag.identifiers());
    assert.equal(ids.user_id, '42', `the rejected value did not replace the valid one: ${JSON.stringify(ids)}`);
    assert.equal(ids.purchase_id, undefined);
    const said = s.console.filter((m) => m.type === 'warning' && /invalid value ignored/.test(m.text));
    assert.equal(said.length, 2, `one warning per rejected value: ${JSON.stringify(s.console)}`);
    assert.ok(!s.events.some((e) => /script|object/.test(JSON.stringify(e))), 'nothing rejected was sent');
  });
});

test('loading the script twice is harmless: one ID, one issue event, links tagged once, one ready event', async () => {
  await h.run(async (s) => {
    const head = `<script>window.readyCount = 0; document.addEventListener('chattag:ready', () => { window.readyCount++; });</script>`;
    const body = `${anchors([['wa', 'https://wa.me/79991234567?text=Hi'], ['tg', 'https://t.me/flower_shop_bot']])}${snippetTag()}`;
    await s.page.goto(h.server.page(pageHtml({ head, body })));
    const id = await s.ready();
    await s.page.waitForFunction((id) => ['wa', 'tg'].every((x) => document.getElementById(x).getAttribute('href').includes(id)), id, { timeout: 5000 });
    await s.waitForEvent((e) => e.type === 'issue', { what: 'the issue event' });
    await s.page.waitForTimeout(1500);
    const hrefs = await s.page.evaluate(() => ['wa', 'tg'].map((x) => document.getElementById(x).getAttribute('href')));
    assertTagged('https://wa.me/79991234567?text=Hi', hrefs[0], id, 'text');
    assertTagged('https://t.me/flower_shop_bot', hrefs[1], id, 'start', { startRule: true });
    const issues = new Set(s.events.filter((e) => e.type === 'issue').map((e) => e.event_id));
    assert.equal(issues.size, 1, 'one issue event');
    assert.equal(new Set(s.events.map((e) => e.chat_id)).size, 1, 'one chat ID');
    assert.equal(await s.page.evaluate(() => window.readyCount), 1, 'chattag:ready fires once');
  });
});

test('chattag:ready is dispatched on document with the ID; rewrite() tags a URL and leaves others alone', async () => {
  await h.run(async (s) => {
    const head = `<script>document.addEventListener('chattag:ready', (e) => { document.documentElement.dataset.readyId = e.detail && e.detail.id; });</script>`;
    await s.page.goto(h.server.page(pageHtml({ head })));
    const id = await s.ready();
    await s.page.waitForFunction(() => document.documentElement.dataset.readyId, null, { timeout: 5000 });
    assert.equal(await s.page.evaluate(() => document.documentElement.dataset.readyId), id);
    const r = await s.page.evaluate(() => ({
      bot: window.chattag.rewrite('https://t.me/flower_shop_bot?start=promo'),
      wa: window.chattag.rewrite('https://api.whatsapp.com/send?phone=79991234567&text=Hi&app_absent=0'),
      other: window.chattag.rewrite('https://example.com/?u=https://wa.me/1'),
      mail: window.chattag.rewrite('mailto:shop@example.com'),
      share: window.chattag.rewrite('https://wa.me/?text=Roses'),
    }));
    assertTagged('https://t.me/flower_shop_bot?start=promo', r.bot, id, 'start', { startRule: true });
    assertTagged('https://api.whatsapp.com/send?phone=79991234567&text=Hi&app_absent=0', r.wa, id, 'text');
    assert.equal(r.other, 'https://example.com/?u=https://wa.me/1');
    assert.equal(r.mail, 'mailto:shop@example.com');
    assert.equal(r.share, 'https://wa.me/?text=Roses');
    // Idempotent: rewriting a rewritten URL changes nothing.
    assert.equal(await s.page.evaluate((u) => window.chattag.rewrite(u), r.wa), r.wa);
    assert.equal(await s.page.evaluate((u) => window.chattag.rewrite(u), r.bot), r.bot);
  });
});

test('no globals other than chattag, and no console output without data-debug', async () => {
  await h.run(async (s) => {
    const body = anchors([['wa', 'https://wa.me/79991234567']]);
    await s.page.goto(h.server.page(pageHtml({ body, withSnippet: false })));
    const baseline = await s.page.evaluate(() => Object.keys(window));
    await s.page.goto(h.server.page(pageHtml({ body })));
    const id = await s.ready();
    await s.page.waitForFunction((id) => document.getElementById('wa').getAttribute('href').includes(id), id, { timeout: 5000 });
    await s.waitForEvent((e) => e.type === 'issue', { delivered: true, what: 'the issue event' });
    const now = await s.page.evaluate(() => Object.keys(window));
    assert.deepEqual(now.filter((k) => !baseline.includes(k)), ['chattag']);
    assert.deepEqual(s.console, [], 'the snippet is silent without data-debug');
  });
});

test('a bad setting falls back to a safe default, and the console says why even without data-debug', async () => {
  const links = anchors([['wa', 'https://wa.me/79991234567']]);
  const bad = { prefix: 'not-a-prefix', lifetime: 'forever' };
  await h.run(async (s) => {
    await s.page.goto(h.server.page(pageHtml({ snippet: bad, body: links })));
    const id = await s.ready();
    assert.ok(isChatId(id, ['CT']), `the default prefix is used: ${id}`);
    await s.page.waitForFunction((id) => document.getElementById('wa').getAttribute('href').includes(id), id, { timeout: 5000 });
    const warnings = s.console.filter((m) => m.type === 'warning').map((m) => m.text);
    assert.equal(warnings.length, 2, `one warning per bad setting, nothing else: ${JSON.stringify(s.console)}`);
    assert.ok(warnings.some((t) => /prefix/i.test(t)) && warnings.some((t) => /lifetime/i.test(t)), JSON.stringify(warnings));
  });
  await h.run(async (s) => {
    await s.page.goto(h.server.page(pageHtml({ snippet: { ...bad, debug: '1' }, body: links })));
    const id = await s.ready();
    assert.ok(isChatId(id, ['CT']), `the default prefix is used: ${id}`);
    await s.page.waitForTimeout(300);
    const warnings = s.console.filter((m) => m.type === 'warning');
    assert.ok(warnings.some((m) => /prefix/i.test(m.text)), `a warning names the bad prefix: ${JSON.stringify(s.console)}`);
  });
});

test('consent required: nothing read, tagged, stored or sent until chattag.consent(true)', async () => {
  await h.run(async (s) => {
    const head = `<script>document.cookie = '_ym_uid=1732000000555555555; path=/';</script>`;
    const links = [['wa', 'https://wa.me/79991234567?text=Hi'], ['tg', 'https://t.me/flower_shop_bot']];
    await s.page.goto(h.server.page(pageHtml({ head, snippet: { consent: 'required' }, body: anchors(links) })));
    await s.page.waitForFunction(() => typeof window.chattag?.consent === 'function', null, { timeout: 8000 });
    await s.page.waitForTimeout(1500);
    const before = await s.page.evaluate(() => ({
      hrefs: ['wa', 'tg'].map((x) => document.getElementById(x).getAttribute('href')),
      cookie: document.cookie,
      storage: Object.keys(localStorage),
      session: Object.keys(sessionStorage),
      rewritten: window.chattag.rewrite('https://t.me/flower_shop_bot'),
    }));
    assert.deepEqual(before.hrefs, links.map((l) => l[1]), 'no link tagged before consent');
    assert.equal(before.cookie, '_ym_uid=1732000000555555555', 'no cookie written before consent');
    assert.deepEqual(before.storage, [], 'nothing in localStorage before consent');
    assert.deepEqual(before.session, [], 'nothing in sessionStorage before consent');
    assert.equal(before.rewritten, 'https://t.me/flower_shop_bot', 'rewrite() is a no-op before consent');
    assert.equal(s.requests.length, 0, 'nothing sent before consent');

    await s.page.evaluate(() => window.chattag.consent(true));
    const id = await s.ready();
    await s.page.waitForFunction((id) => ['wa', 'tg'].every((x) => document.getElementById(x).getAttribute('href').includes(id)), id, { timeout: 5000 });
    const issue = await s.waitForEvent((e) => e.type === 'issue', { what: 'the issue after consent' });
    assert.equal(issue.chat_id, id);
    assert.equal(issue.client_id, '1732000000555555555');
    assert.ok(isChatId(id));
  });
});

test('consent(false) withdraws: chattag\'s cookies and storage are cleared and nothing more is sent', async () => {
  await h.run(async (s) => {
    const head = `<script>document.cookie = 'site_pref=dark; path=/'; localStorage.setItem('site_cart', '3');</script>`;
    await s.page.goto(h.server.page(pageHtml({ head, body: anchors([['wa', 'https://wa.me/79991234567']]) })));
    const id = await s.ready();
    await s.waitForEvent((e) => e.type === 'issue', { delivered: true, what: 'the issue event' });
    const before = await s.page.evaluate(() => ({ cookie: document.cookie, keys: Object.keys(localStorage) }));
    assert.ok(before.cookie.length > 'site_pref=dark'.length || before.keys.length > 1, `chattag stored something: ${JSON.stringify(before)}`);
    await s.page.evaluate(() => window.chattag.consent(false));
    await s.page.waitForTimeout(300);
    const after = await s.page.evaluate(() => ({ cookie: document.cookie, keys: Object.keys(localStorage), session: Object.keys(sessionStorage) }));
    assert.equal(after.cookie, 'site_pref=dark', 'only the site\'s own cookie is left');
    assert.deepEqual(after.keys, ['site_cart'], 'only the site\'s own localStorage is left');
    assert.ok(!JSON.stringify(after).includes(id), 'the ID is gone from storage');
    const sent = s.requests.length;
    await s.page.evaluate(() => { window.chattag.setUserId('99'); });
    await s.page.waitForTimeout(1500);
    assert.equal(s.requests.slice(sent).length, 0, 'nothing is sent on this page after consent was withdrawn');
  });
});

test('consent withdrawn and given again before load: the returning visitor starts over with a new ID', async () => {
  await h.run(async (s) => {
    const links = anchors([['wa', 'https://wa.me/79991234567']]);
    await s.page.goto(h.server.page(pageHtml({ body: links })));
    const first = await s.ready();
    await s.waitForEvent((e) => e.type === 'issue' && e.chat_id === first, { delivered: true, what: 'the first issue event' });
    // The next page queues a withdrawal and a new consent before the snippet has loaded.
    const head = `<script>
      window.chattag = window.chattag || function () { (chattag.q = chattag.q || []).push(arguments); };
      chattag('consent', false);
      chattag('consent', true);
    </script>`;
    await s.page.goto(h.server.page(pageHtml({ head, body: links })));
    const second = await s.ready();
    assert.notEqual(second, first, 'the withdrawn ID is not brought back');
    await s.waitForEvent((e) => e.type === 'issue' && e.chat_id === second, { what: 'an issue event for the new ID' });
  });
});

test('window.chattagConfig configures the snippet when the tag has no data-* (Google Tag Manager)', async () => {
  await h.run(async (s) => {
    const head = `<script>window.chattagConfig = { endpoint: 'https://collector.test/v1/events', prefix: 'FL' };</script>
      <script async src="/dist/chattag.js"></script>`;
    await s.page.goto(h.server.page(pageHtml({ head, withSnippet: false, body: anchors([['tg', 'https://t.me/flower_shop_bot']]) })));
    const id = await s.ready();
    assert.ok(isChatId(id, ['FL']), `prefix from chattagConfig: ${id}`);
    await s.waitForEvent((e) => e.type === 'issue' && e.chat_id === id, { what: 'an issue with the FL prefix' });
  });
});
