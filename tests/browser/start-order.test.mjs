// The order of the snippet's start: the links are tagged first, and the rest of the start — the
// visitor record and the outbox written to storage, the first send — comes after (storage and
// cookies are synchronous IPC in browsers, and tagging needs none of those writes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anchors, pageHtml, setup } from './lib/harness.mjs';

const h = setup();

// Runs before the snippet: logs the first tagging of #wa and every storage write and send of
// chattag's, in the order they happen.
const ORDER = `<script>
  window.__order = [];
  const setItem = Storage.prototype.setItem;
  Storage.prototype.setItem = function (k, v) {
    if (String(k).startsWith('_chattag')) __order.push('store ' + k);
    return setItem.call(this, k, v);
  };
  const send = window.fetch;
  window.fetch = function (url, init) {
    if (init && init.method === 'POST') __order.push('send');
    return send.apply(this, arguments);
  };
  new MutationObserver(() => {
    if (!__order.includes('tagged') && document.getElementById('wa').getAttribute('href') !== 'https://wa.me/79991234567') __order.push('tagged');
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ['href'] });
</script>`;

test('on start the links are tagged before the visitor record and the outbox are stored and before the first send', async () => {
  await h.run(async (s) => {
    await s.page.goto(h.server.page(pageHtml({ head: ORDER, body: anchors([['wa', 'https://wa.me/79991234567']]) })));
    const id = await s.ready();
    await s.waitForEvent((e) => e.type === 'issue' && e.chat_id === id, { what: 'the issue event' });
    const order = await s.page.evaluate(() => window.__order);
    assert.ok(order.includes('store _chattag') && order.includes('store _chattag_q') && order.includes('send'), `the start stored and sent: ${order.join(', ')}`);
    assert.equal(order[0], 'tagged', `tagged first: ${order.join(', ')}`);
    assert.ok((await s.page.evaluate(() => document.getElementById('wa').getAttribute('href'))).includes(id));
  });
});
