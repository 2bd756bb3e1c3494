// Buttons that open a chat without a link: script navigations (`location.href = url`,
// `location.assign` / `replace`, from a custom element's shadow root), caught through the
// Navigation API's `navigate` event; and links inside open shadow roots, reached by the bulk
// pass, the observer and clicks (composedPath). Same-origin and non-messenger navigations are
// never touched. Browsers without the Navigation API have no such hook: there the page tags the
// URL itself, `location.href = chattag.rewrite(url)` (README: "Buttons without a link").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pageHtml, setup, sleep } from './lib/harness.mjs';

const h = setup();

/** Waits for the next messenger navigation after `before` of them. */
async function nextNavigation(s, before, timeout = 5000) {
  const deadline = Date.now() + timeout;
  while (s.navigations.length === before && Date.now() < deadline) await sleep(50);
  assert.ok(s.navigations.length > before, 'the button opened a messenger');
  return s.navigations[before];
}

const BUTTONS = `
<button id="href" onclick="location.href='https://t.me/flower_shop_bot'">Telegram</button>
<button id="assign" onclick="location.assign('https://wa.me/79991234567?text=Hi')">WhatsApp</button>
<button id="replace" onclick="location.replace('https://wa.me/79991234567')">WhatsApp (replace)</button>
<button id="win" onclick="window.location.href='https://t.me/flower_shop_bot?start=promo'">Telegram promo</button>
<chat-bubble id="bubble"></chat-bubble>
<script>
  customElements.define('chat-bubble', class extends HTMLElement {
    connectedCallback() {
      const root = this.attachShadow({ mode: 'open' });
      root.innerHTML = '<div id="inner" style="cursor:pointer">Chat with us</div>';
      root.getElementById('inner').addEventListener('click', () => { window.location.href = 'https://wa.me/79990001122?text=From%20the%20bubble'; });
    }
  });
</script>`;

for (const [button, param, kept] of [
  ['#href', 'start', null],
  ['#assign', 'text', 'Hi'],
  ['#replace', 'text', null],
  ['#win', 'start', 'promo_'],
  ['#bubble', 'text', 'From the bubble'],
]) {
  test(`script navigation (${button}) to a messenger carries the ID and is reported as a click`, async () => {
    await h.run(async (s) => {
      await s.page.goto(h.server.page(pageHtml({ body: BUTTONS })));
      const id = await s.ready();
      await s.page.click(button);
      const url = new URL(await nextNavigation(s, 0));
      const v = url.searchParams.get(param) ?? '';
      assert.ok(v.includes(id), `${button} → ${url.href}: ${id} in ${param}`);
      if (kept) assert.ok(v.includes(kept), `the site's value kept: ${v}`);
      assert.equal(s.navigations.length, 1, 'one navigation (the cancelled one never left)');
      await s.waitForEvent((e) => e.type === 'click' && e.chat_id === id, { what: 'the click event' });
    });
  });
}

test('same-origin and non-messenger script navigations are never touched', async () => {
  await h.run(async (s) => {
    const other = h.server.page(pageHtml({ body: '<p id="there">there</p>' }));
    const path = new URL(other).pathname + '?to=wa.me%2F79991234567&x=t.me';
    const body = `<button id="local" onclick="location.href='${path}'">local</button>
      <button id="away" onclick="location.href='https://example.test/wa.me/79991234567'">away</button>`;
    const page = h.server.page(pageHtml({ body }));
    await s.page.goto(page);
    await s.ready();
    await Promise.all([s.page.waitForURL(/to=wa\.me/), s.page.click('#local')]);
    assert.equal(s.page.url(), h.server.origin + path, 'same-origin navigation exactly as the page asked');
    await s.page.goto(page);
    await s.ready();
    await s.page.click('#away');
    const deadline = Date.now() + 3000;
    while (!s.stray.length && Date.now() < deadline) await sleep(50);
    assert.deepEqual(s.stray, ['https://example.test/wa.me/79991234567'], 'another host exactly as the page asked');
  });
});

test('share navigations to app schemes (sharer.js 0.3.5: whatsapp://send?text=, tg://msg_url) are not touched', async () => {
  await h.run(async (s) => {
    const body = `<script>window.__navs = []; navigation.addEventListener('navigate', (e) => __navs.push(e.destination.url));</script>
      <button id="wa" onclick="location.href='whatsapp://send?text=' + encodeURIComponent('Roses https://shop.example/')">Share</button>
      <button id="tg" onclick="location.href='tg://msg_url?url=https%3A%2F%2Fshop.example%2F'">Share</button>`;
    await s.page.goto(h.server.page(pageHtml({ body })));
    await s.ready();
    await s.page.click('#wa');
    await s.page.click('#tg');
    // Both seen (a loaded machine may take a while), then time for a re-issued one to show up.
    await s.page.waitForFunction(() => window.__navs.length >= 2, null, { timeout: 10000 }).catch(() => {});
    await sleep(500);
    assert.deepEqual(await s.page.evaluate(() => window.__navs), ['whatsapp://send?text=Roses%20https%3A%2F%2Fshop.example%2F', 'tg://msg_url?url=https%3A%2F%2Fshop.example%2F']);
  });
});

test('custom schemes (viber://, tg://) from a script: Chromium fires navigate for them too, and they are re-issued tagged', async () => {
  await h.run(async (s) => {
    // The page's own navigate listener (registered before chattag) sees every navigation the
    // browser starts: the script's, cancelled, then chattag's tagged one.
    const body = `<script>window.__navs = []; navigation.addEventListener('navigate', (e) => __navs.push(e.destination.url));</script>
      <button id="viber" onclick="location.href='viber://pa?chatURI=flowershop'">Viber</button>
      <button id="tg" onclick="location.assign('tg://resolve?domain=flower_shop_bot')">Telegram app</button>`;
    await s.page.goto(h.server.page(pageHtml({ body })));
    const id = await s.ready();
    await s.page.click('#viber');
    await s.page.waitForFunction(() => window.__navs.length >= 2, null, { timeout: 10000 });
    await s.page.click('#tg');
    await s.page.waitForFunction(() => window.__navs.length >= 4, null, { timeout: 10000 });
    assert.deepEqual(await s.page.evaluate(() => window.__navs), [
      'viber://pa?chatURI=flowershop',
      `viber://pa?chatURI=flowershop&context=${id}`,
      'tg://resolve?domain=flower_shop_bot',
      `tg://resolve?domain=flower_shop_bot&start=${id}`,
    ]);
    // Where a browser has no navigate event, the page tags the URL itself (README).
    assert.equal(await s.page.evaluate(() => window.chattag.rewrite('viber://pa?chatURI=flowershop')), `viber://pa?chatURI=flowershop&context=${id}`);
  });
});

// Open shadow roots: a widget that renders its link inside one.
const WIDGET = `<script>
  customElements.define('wa-button', class extends HTMLElement {
    connectedCallback() {
      const root = this.attachShadow({ mode: 'open' });
      root.innerHTML = '<a id="link" href="' + this.getAttribute('href') + '"><slot></slot></a>';
    }
  });
</script>`;
const shadowHref = (page, host) => page.evaluate((host) => document.querySelector(host).shadowRoot.getElementById('link').getAttribute('href'), host);

test('a link in an open shadow root is tagged by the document pass', async () => {
  await h.run(async (s) => {
    await s.page.goto(h.server.page(pageHtml({ body: `${WIDGET}<wa-button id="w" href="https://wa.me/79991234567?text=Hi">Chat</wa-button>` })));
    const id = await s.ready();
    await s.page.waitForFunction((id) => document.querySelector('#w').shadowRoot.getElementById('link').getAttribute('href').includes(id), id, { timeout: 5000 });
  });
});

test('a widget added later, and a shadow link changed later, are tagged by the observer', async () => {
  await h.run(async (s) => {
    await s.page.goto(h.server.page(pageHtml({ body: WIDGET })));
    const id = await s.ready();
    await s.page.evaluate(() => {
      const w = document.createElement('wa-button');
      w.id = 'late';
      w.setAttribute('href', 'https://t.me/flower_shop_bot');
      document.body.append(w);
    });
    await s.page.waitForFunction((id) => document.querySelector('#late').shadowRoot.getElementById('link').getAttribute('href').includes(`start=${id}`), id, { timeout: 5000 });
    await s.page.evaluate(() => document.querySelector('#late').shadowRoot.getElementById('link').setAttribute('href', 'https://wa.me/79990001122'));
    await s.page.waitForFunction((id) => document.querySelector('#late').shadowRoot.getElementById('link').getAttribute('href').includes(id), id, { timeout: 5000 });
  });
});

test('a shadow link no pass or observer saw is tagged when clicked (composedPath), through its slot too', async () => {
  await h.run(async (s) => {
    // The shadow root is attached after the host is in the document and nothing mutates the
    // light DOM: only the click can find this link.
    const body = `<div id="host"><b id="label">Chat with us</b></div>
      <script>setTimeout(() => {
        const root = document.getElementById('host').attachShadow({ mode: 'open' });
        root.innerHTML = '<a id="link" href="https://t.me/flower_shop_bot"><slot></slot></a>';
      }, 1500);</script>`;
    await s.page.goto(h.server.page(pageHtml({ body })));
    const id = await s.ready();
    await s.page.waitForFunction(() => !!document.getElementById('host').shadowRoot, null, { timeout: 5000 });
    await sleep(200);
    assert.equal(await shadowHref(s.page, '#host'), 'https://t.me/flower_shop_bot', 'not seen before the click');
    await s.page.click('#label');
    const url = new URL(await nextNavigation(s, 0));
    assert.equal(url.searchParams.get('start'), id);
  });
});
