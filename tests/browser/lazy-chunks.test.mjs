// The lazy chunks wired into the real snippet (dist/chattag.js): the debug overlay loads under
// `?chattag_debug=1` or data-debug and shows what the wasm decided; the QR dialog opens on a
// desktop click with data-qr; without those settings neither chunk is ever requested.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anchors, pageHtml, setup } from './lib/harness.mjs';

const h = setup();

const CHUNK = /\/dist\/chattag-(debug|qr|fallback)\.[0-9a-f]{10}\.js$/;
const LINKS = [
  ['wa', 'https://wa.me/79991234567?text=Hi'],
  ['tg', 'https://t.me/flower_shop_bot'],
  ['share', 'https://t.me/share/url?url=https%3A%2F%2Fshop.example'],
  ['off', 'https://wa.me/79990000001', 'data-chattag="off"'],
  ['plain', 'https://example.com/'],
];

async function open(s, { snippet = {}, query = '', body = anchors(LINKS) } = {}) {
  const chunks = [];
  s.page.on('request', (r) => {
    const m = CHUNK.exec(r.url());
    if (m) chunks.push(m[1]);
  });
  await s.page.goto(h.server.page(pageHtml({ snippet, body })) + query);
  const id = await s.ready();
  await s.page.waitForFunction((id) => document.getElementById('wa').getAttribute('href').includes(id), id, { timeout: 5000 });
  return { id, chunks };
}

/** The overlay's text (it lives in an open shadow root on a data-chattag="off" host). */
const overlayText = (page) =>
  page.evaluate(() => {
    for (const el of document.querySelectorAll('body > div[data-chattag="off"]')) {
      if (el.shadowRoot && el.shadowRoot.textContent.includes('chattag debug')) return el.shadowRoot.textContent;
    }
    return null;
  });

test('no debug, no data-qr: no chunk is requested and nothing is added to the page', async () => {
  await h.run(async (s) => {
    const { chunks } = await open(s, { query: '?chattag_debug=0' });
    await s.page.click('#wa');
    await s.waitForEvent((e) => e.type === 'click', { what: 'the click event' });
    await s.page.waitForTimeout(500);
    assert.deepEqual(chunks, []);
    assert.equal(await s.page.locator('div[data-chattag="off"]').count(), 0);
    assert.equal(s.navigations.length, 1, 'the click navigated to the messenger');
  });
});

test('?chattag_debug=1: overlay lists links (tagged or why not), the ID, identifiers and sent events', async () => {
  await h.run(async (s) => {
    const { id, chunks } = await open(s, { query: '?chattag_debug=1&yclid=5123456789012345678' });
    assert.deepEqual(chunks, ['debug']);
    await s.page.waitForFunction(() => {
      const host = [...document.querySelectorAll('body > div[data-chattag="off"]')].find((e) => e.shadowRoot);
      return host && /Events: 1/.test(host.shadowRoot.textContent) && /sent/.test(host.shadowRoot.textContent);
    }, null, { timeout: 5000 });
    const text = await overlayText(s.page);
    assert.ok(text.includes(id), 'the current chat ID');
    assert.ok(text.includes('5123456789012345678'), 'the yclid among the identifiers');
    assert.ok(text.includes('https://collector.test/v1/events'), 'the endpoint');
    assert.match(text, /Messenger links: 4 found, 2 tagged/, 'messenger links only; share and off are not tagged');
    assert.ok(text.includes('share link — left as is'), 'why the share link was left');
    assert.ok(text.includes('data-chattag="off" — left as is'), 'why the off link was left');
    assert.ok(text.includes('telegram_bot'), 'the kind of a tagged link');
    // The URL flag also turns on the wasm's console diagnostics, like data-debug.
    assert.ok(s.console.some((m) => m.type === 'warning' && m.text.includes('share link — left as is')), 'console diagnostics on');
  });
});

test('data-debug: the overlay follows links added later and new events', async () => {
  await h.run(async (s) => {
    const { id } = await open(s, { snippet: { debug: '' } });
    await s.page.waitForFunction(() => {
      const host = [...document.querySelectorAll('body > div[data-chattag="off"]')].find((e) => e.shadowRoot);
      return host && /Messenger links: 4 found/.test(host.shadowRoot.textContent);
    }, null, { timeout: 5000 });
    await s.page.evaluate(() => {
      const a = document.createElement('a');
      a.href = 'https://t.me/another_bot';
      a.textContent = 'late';
      document.body.append(a);
    });
    await s.page.waitForFunction(() => {
      const host = [...document.querySelectorAll('body > div[data-chattag="off"]')].find((e) => e.shadowRoot);
      return /Messenger links: 5 found, 3 tagged/.test(host.shadowRoot.textContent);
    }, null, { timeout: 5000 });
    await s.page.evaluate(() => window.chattag.setUserId('42'));
    await s.page.waitForFunction(() => {
      const host = [...document.querySelectorAll('body > div[data-chattag="off"]')].find((e) => e.shadowRoot);
      return /Events: 2/.test(host.shadowRoot.textContent) && /user_id42/.test(host.shadowRoot.textContent);
    }, null, { timeout: 5000 });
    assert.ok((await overlayText(s.page)).includes(id));
  });
});

test('data-debug with a collector outage: the event shows as retrying with the HTTP status', async () => {
  await h.run(async (s) => {
    await open(s, { snippet: { debug: '' } });
    await s.page.waitForFunction(() => {
      const host = [...document.querySelectorAll('body > div[data-chattag="off"]')].find((e) => e.shadowRoot);
      return host && /retrying/.test(host.shadowRoot.textContent) && /HTTP 503/.test(host.shadowRoot.textContent);
    }, null, { timeout: 5000 });
  }, { endpoint: 503 });
});

test('data-qr on a desktop: a click on a tagged link shows the QR dialog instead of navigating, and is reported', async () => {
  await h.run(async (s) => {
    const { id, chunks } = await open(s, { snippet: { qr: '' } });
    await s.page.waitForTimeout(300); // the chunk is prefetched at start
    assert.deepEqual(chunks, ['qr']);
    await s.page.click('#tg');
    await s.page.getByRole('dialog').waitFor({ timeout: 3000 });
    const here = s.page.getByRole('link', { name: 'Open on this computer' });
    assert.equal(await here.getAttribute('href'), `https://t.me/flower_shop_bot?start=${id}`);
    const click = await s.waitForEvent((e) => e.type === 'click', { what: 'the click event' });
    assert.equal(click.target, `https://t.me/flower_shop_bot?start=${id}`);
    assert.deepEqual(s.navigations, [], 'no navigation while the dialog is shown');
    // The dialog's own link (in a data-chattag="off" host) opens the chat, no second dialog.
    await here.click();
    for (let i = 0; i < 40 && !s.navigations.length; i++) await s.page.waitForTimeout(50);
    assert.deepEqual(s.navigations, [`https://t.me/flower_shop_bot?start=${id}`]);
    await s.page.keyboard.press('Escape');
    assert.equal(await s.page.getByRole('dialog').count(), 0);

    // Not for links left alone, nor for a modified click.
    await s.page.click('#share');
    await s.page.waitForTimeout(200);
    assert.equal(await s.page.getByRole('dialog').count(), 0, 'no dialog for a share link');
  });
});

test('data-qr: a link too long for a QR code navigates as usual', async () => {
  await h.run(async (s) => {
    const long = `https://wa.me/79991234567?text=${'x'.repeat(3500)}`;
    const { id } = await open(s, { snippet: { qr: '' }, body: anchors([...LINKS, ['long', long]]) });
    await s.page.waitForFunction((id) => document.getElementById('long').getAttribute('href').includes(id), id, { timeout: 5000 });
    await s.page.waitForTimeout(300);
    await s.page.click('#long');
    for (let i = 0; i < 40 && !s.navigations.length; i++) await s.page.waitForTimeout(50);
    assert.equal(s.navigations.length, 1, 'navigated');
    assert.ok(s.navigations[0].includes(id));
  });
});

test('data-qr on a phone (coarse pointer): no chunk, the link navigates', async () => {
  await h.run(async (s) => {
    const { chunks } = await open(s, { snippet: { qr: '' } });
    await s.page.waitForTimeout(300);
    assert.deepEqual(chunks, []);
    await s.page.tap('#wa');
    for (let i = 0; i < 40 && !s.navigations.length; i++) await s.page.waitForTimeout(50);
    assert.equal(s.navigations.length, 1, 'navigated');
  }, { contextOptions: { hasTouch: true, isMobile: true, viewport: { width: 390, height: 800 } } });
});
