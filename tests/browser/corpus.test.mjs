// Real chat-button code (tests/browser/corpus/, where each piece comes from: SOURCES.md) on a
// page with the real snippet: every button the corpus has opens its messenger with the visitor's
// chat ID in the right parameter, share buttons and other links open / stay exactly as built,
// and nothing reaches the page as an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pageHtml, setup } from './lib/harness.mjs';
import contactStrips from './corpus/contact-strips.mjs';
import chaty, { mobile as chatyMobile, popup as chatyPopup, popupMobile as chatyPopupMobile } from './corpus/chaty.mjs';
import clickToChat from './corpus/click-to-chat.mjs';
import joinchat from './corpus/joinchat.mjs';
import reactFloating from './corpus/react-floating-whatsapp.mjs';
import sharer from './corpus/sharer.mjs';
import theme from './corpus/theme-onclick.mjs';
import tilda from './corpus/tilda-t898.mjs';
import { androidForm as waButtonAndroid, androidLink as intentLink, desktop as waButton, iphone as waButtonIphone } from './corpus/wa-button-intent.mjs';
import whatschat, { mobile as whatschatMobile } from './corpus/whatschat.mjs';
import { classic as quadlayers7, classicTouch as quadlayers7Touch, react as quadlayers8 } from './corpus/wp-whatsapp-chat.mjs';

const h = setup();
const CORPUS = [clickToChat, joinchat, reactFloating, sharer, theme, chaty, chatyMobile, chatyPopup, chatyPopupMobile, quadlayers7, quadlayers7Touch, quadlayers8, tilda, contactStrips, whatschat, whatschatMobile, waButton, waButtonIphone, waButtonAndroid, intentLink];

/** Where the chat ID must be for each parameter kind. */
function carries(url, param, id) {
  const u = new URL(url);
  const v = u.searchParams.get(param) ?? '';
  return param === 'start' ? v === id || v.endsWith(`_${id}`) : v.includes(id);
}

/** Clicks `click` on a fresh load of `url` and returns the messenger URL it opened. */
async function open(s, url, step) {
  await s.page.goto(url);
  const id = await s.ready();
  const before = s.navigations.length;
  // The widget's own script has run (some rewrite their links a while after load).
  if (step.waitFor) await s.page.waitForFunction(step.waitFor, null, { timeout: 5000 });
  if (step.fill) await s.page.fill(...step.fill);
  await s.page.click(step.click);
  const deadline = Date.now() + 5000;
  while (s.navigations.length === before && s.stray.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const opened = s.navigations[before] ?? s.stray.at(-1);
  assert.ok(opened, `${step.click} opened nothing`);
  // A navigation of this page is seen when it is requested: let it land, or it interrupts the
  // next step's page.goto when it commits.
  if (s.navigationFrames[before] === s.page.mainFrame()) await s.page.waitForURL(opened);
  return { id, opened };
}

for (const piece of CORPUS) {
  test(`corpus: ${piece.name}`, async () => {
    await h.run(async (s) => {
      const url = h.server.page(pageHtml({ body: piece.body }));
      for (const step of piece.opens ?? []) {
        const { id, opened } = await open(s, url, step);
        const u = new URL(opened);
        assert.equal(u.hostname, step.host, `${step.click} opened ${opened}`);
        assert.ok(carries(opened, step.param, id), `${step.click} opened ${opened}: ${id} not in ${step.param}`);
        if (step.keeps) assert.ok(u.searchParams.get(step.param).includes(step.keeps), `${step.click}: the site's own text kept in ${opened}`);
      }
      for (const step of piece.exact ?? []) {
        const { opened } = await open(s, url, step);
        assert.equal(opened, step.url, `${step.click} opened exactly what it built`);
      }
      if (piece.same?.length) {
        await s.page.goto(url);
        await s.ready();
        await s.page.waitForTimeout(300);
        const seen = await s.page.evaluate((sel) => sel.map((q) => document.querySelector(q).getAttribute('href')), piece.same);
        const written = await s.page.evaluate(async ({ html, sel }) => {
          const doc = new DOMParser().parseFromString(html, 'text/html');
          return sel.map((q) => doc.querySelector(q).getAttribute('href'));
        }, { html: piece.body, sel: piece.same });
        assert.deepEqual(seen, written, 'share links and other links stay byte-identical');
      }
      // Navigations to app schemes (whatsapp:, intent:) the widget makes from a script: seen by
      // the page's own navigate recorder (`__navs`); the last one must carry the ID.
      for (const step of piece.navigates ?? []) {
        await s.page.goto(url);
        const id = await s.ready();
        if (step.fill) await s.page.fill(...step.fill);
        await s.page.click(step.click);
        const last = () => s.page.evaluate((scheme) => window.__navs.filter((u) => u.startsWith(scheme)).at(-1) ?? null, step.scheme);
        const deadline = Date.now() + 5000;
        let nav = await last();
        while (!(nav && carries(nav, step.param, id)) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
          nav = await last();
        }
        assert.ok(nav && carries(nav, step.param, id), `${step.click} navigated to ${nav}: ${id} not in ${step.param}`);
        if (step.keeps) assert.ok(new URL(nav).searchParams.get(step.param).includes(step.keeps), `${step.click}: the site's own value kept in ${nav}`);
      }
      // Links the widget renders itself: those the rules cover carry the ID (checked on the live
      // href: app schemes cannot be followed here), the others stay exactly as the widget built them.
      if (piece.tagged?.length || piece.rendered) {
        await s.page.goto(url);
        const id = await s.ready();
        for (const { sel, param, keeps, params } of piece.tagged ?? []) {
          const href = () => s.page.evaluate((q) => document.querySelector(q)?.getAttribute('href') ?? null, sel);
          const deadline = Date.now() + 5000;
          let h = await href();
          while (!(h && carries(h, param, id)) && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 50));
            h = await href();
          }
          assert.ok(h && carries(h, param, id), `${sel} is ${h}: ${id} not in ${param}`);
          if (keeps) assert.ok(new URL(h).searchParams.get(param).includes(keeps), `${sel}: the site's own value kept in ${h}`);
          for (const [k, v] of Object.entries(params ?? {})) assert.equal(new URL(h).searchParams.get(k), v, `${sel}: ${k} kept in ${h}`);
        }
        await s.page.waitForTimeout(300);
        for (const [sel, href] of Object.entries(piece.rendered ?? {})) {
          assert.equal(await s.page.evaluate((q) => document.querySelector(q)?.getAttribute('href'), sel), href, `${sel} exactly as the widget built it`);
        }
      }
    }, { contextOptions: piece.context });
  });
}

// What the form handling (Chaty's popup above) must leave alone: a submission the page cancelled,
// a form marked off, a share form, a button with its own form* attributes, forms to the site
// itself; and a form without a target is tagged in this tab.
const FORMS = `
<form id="f-same" action="https://wa.me/79991234567"><input name="text" value="Hi there"><button>same tab</button></form>
<form id="f-cancel" action="https://wa.me/79991234567" target="_blank" onsubmit="event.preventDefault(); window.__cancelled = (window.__cancelled || 0) + 1"><input name="text" value="Hi"><button>cancelled</button></form>
<form id="f-off" action="https://wa.me/79991234567" target="_blank" data-chattag="off"><input name="text" value="Hi there"><button>off</button></form>
<form id="f-share" action="https://api.whatsapp.com/send" target="_blank"><input name="text" value="Look at this"><button>share</button></form>
<form id="f-formtarget" action="https://wa.me/79991234567"><input name="text" value="Hi"><button formtarget="_blank">formtarget</button></form>
<form id="f-post" action="https://wa.me/79991234567" method="post" target="_blank"><input name="text" value="Hi"><button>post</button></form>`;

test('GET forms to a messenger: tagged in the form target; cancelled, opted-out, share, form*-button and POST submissions exactly as the browser makes them', async () => {
  await h.run(async (s) => {
    const url = h.server.page(pageHtml({ body: FORMS }));
    const { id, opened } = await open(s, url, { click: '#f-same button' });
    assert.equal(s.navigationFrames.at(-1), s.page.mainFrame(), 'a form without a target opens in this tab');
    const u = new URL(opened);
    assert.equal(u.hostname, 'wa.me');
    assert.ok(u.searchParams.get('text').startsWith('Hi there') && u.searchParams.get('text').includes(id), `${opened}: the text kept and ${id} added`);
    await s.waitForEvent((e) => e.type === 'click' && e.chat_id === id, { what: 'the submission reported as a click' });
    for (const [click, exact] of [
      ['#f-off button', 'https://wa.me/79991234567?text=Hi+there'],
      ['#f-share button', 'https://api.whatsapp.com/send?text=Look+at+this'],
      ['#f-formtarget button', 'https://wa.me/79991234567?text=Hi'],
      ['#f-post button', 'https://wa.me/79991234567'],
    ]) {
      assert.equal((await open(s, url, { click })).opened, exact, `${click} opened exactly what the browser builds`);
    }
    await s.page.goto(url);
    await s.ready();
    const before = s.navigations.length;
    await s.page.click('#f-cancel button');
    await s.page.waitForFunction(() => window.__cancelled === 1);
    await s.page.waitForTimeout(500);
    assert.equal(s.navigations.length, before, 'a submission the page cancelled opens nothing');
    assert.deepEqual(s.stray, []);
  });
});

// A page whose window.open throws (a popup blocker of its own, a hardened in-app browser): the
// form cannot be re-submitted tagged in a new tab, so the browser's own submission must go on
// untagged rather than be cancelled with nothing opened.
test('GET form to a messenger on a page whose window.open throws: the visitor still reaches the messenger', async () => {
  await h.run(async (s) => {
    const head = `<script>window.open = function () { throw new Error('popups are off on this page'); };</script>`;
    const body = `<form id="f" action="https://wa.me/79991234567" target="_blank"><input name="text" value="Hi there"><button>send</button></form>`;
    const url = h.server.page(pageHtml({ head, body }));
    const { opened } = await open(s, url, { click: '#f button' });
    assert.equal(opened, 'https://wa.me/79991234567?text=Hi+there');
  });
});
