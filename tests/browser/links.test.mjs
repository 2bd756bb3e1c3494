// Links tagged on load: every taggable form in messenger-links.md gets the visitor's chat ID,
// every form listed there as untouched (and everything unknown) stays byte-identical.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anchors, hrefs, pageHtml, setup } from './lib/harness.mjs';
import { isChatId, makeChatId } from './lib/events.mjs';
import { assertTagged, param } from './lib/links.mjs';

const h = setup();

// [element id, href, extra attributes, tagged parameter, options]
const TAGGED = [
  ['wa_me', 'https://wa.me/79991234567?text=Hi', '', 'text'],
  ['wa_me_bare', 'https://wa.me/79991234567', '', 'text'],
  ['wa_me_www_http', 'http://www.WA.me/79991234567?text=Hello%20there#top', '', 'text'],
  ['wa_api', 'https://api.whatsapp.com/send?phone=79991234567&text=Hi&type=phone_number&app_absent=0', '', 'text'],
  ['wa_api_slash', 'https://api.whatsapp.com/send/?phone=79991234567&type=phone_number', '', 'text'],
  ['wa_scheme', 'whatsapp://send?phone=79991234567', '', 'text'],
  ['wa_web', 'https://web.whatsapp.com/send?phone=79991234567&text=%D0%97%D0%B4%D1%80%D0%B0%D0%B2%D1%81%D1%82%D0%B2%D1%83%D0%B9%D1%82%D0%B5', '', 'text'],
  ['tg_bot', 'https://t.me/flower_shop_bot', '', 'start', { startRule: true }],
  ['tg_bot_me', 'https://telegram.me/FlowerShopBot?start=promo_spring', '', 'start', { startRule: true }],
  ['tg_bot_dog', 'https://telegram.dog/flower_shop_bot', '', 'start', { startRule: true }],
  ['tg_resolve_bot', 'tg://resolve?domain=flower_shop_bot', '', 'start', { startRule: true }],
  ['tg_user', 'https://t.me/flower_manager?text=Hi', '', 'text'],
  ['tg_user_bare', 'https://t.me/flower_manager', '', 'text'],
  ['tg_phone', 'https://t.me/+79991234567', '', 'text'],
  ['tg_resolve_user', 'tg://resolve?domain=flower_manager&text=Hi', '', 'text'],
  ['tg_hint_bot', 'https://t.me/flower_support', 'data-chattag="bot"', 'start', { startRule: true }],
  ['tg_hint_personal', 'https://t.me/anna_bot', 'data-chattag="personal"', 'text'],
  ['viber_bot', 'viber://pa?chatURI=flowershop', '', 'context'],
  ['viber_bot_ctx', 'viber://pa?chatURI=flowershop&context=landing&text=Hi', '', 'context'],
  ['viber_personal', 'viber://chat?number=%2B79991234567', '', 'text'],
  ['max_bot', 'https://max.ru/flower_shop_bot', '', 'start', { maxLen: 128 }],
  ['max_bot_start', 'https://max.ru/flower_shop_bot?start=promo', '', 'start', { maxLen: 128 }],
];

const UNTOUCHED = [
  ['wa_share', 'https://wa.me/?text=Look%20at%20these%20roses'],
  ['wa_message', 'https://wa.me/message/ABCDEFGHIJK1L1'],
  ['wa_catalogue', 'https://wa.me/c/79991234567'],
  ['tg_share_url', 'https://t.me/share/url?url=https%3A%2F%2Fshop.example%2F&text=Roses'],
  ['tg_share', 'https://t.me/share?url=https%3A%2F%2Fshop.example%2F'],
  ['tg_msg_url', 'tg://msg_url?url=https%3A%2F%2Fshop.example%2F'],
  ['tg_invite', 'https://t.me/+AbCdEfGhIjKlMnOp'],
  ['tg_joinchat', 'https://t.me/joinchat/AbCdEfGhIjK'],
  ['tg_post', 'https://t.me/flower_news/123'],
  ['tg_stickers', 'https://t.me/addstickers/FlowerPack'],
  ['tg_m', 'https://t.me/m/AbCdEfGh'],
  ['tg_startapp', 'https://t.me/flower_shop_bot?startapp=catalog'],
  ['tg_webapp', 'https://t.me/flower_shop_bot/shop'],
  ['viber_forward', 'viber://forward?text=Roses'],
  ['max_startapp', 'https://max.ru/flower_shop_bot?startapp=catalog'],
  ['max_share', 'https://max.ru/:share?text=Roses'],
  ['lookalike_sub', 'https://wa.me.example.com/79991234567'],
  ['lookalike_param', 'https://example.com/?u=https://wa.me/79991234567'],
  ['lookalike_host', 'https://notwa.me/79991234567'],
  ['lookalike_tme', 'https://t.me.example.org/flower_shop_bot'],
  ['js', 'javascript:void(0)'],
  ['data', 'data:text/html,wa.me'],
  ['mailto', 'mailto:shop@example.com?subject=wa.me%2F79991234567'],
  ['tel', 'tel:+79991234567'],
  ['relative', '/contact?via=wa.me/79991234567'],
  ['fragment', '#whatsapp'],
  ['off_wa', 'https://wa.me/79991234567?text=Hi', 'data-chattag="off"'],
  ['off_tg', 'https://t.me/flower_shop_bot', 'data-chattag="off"'],
];

test('every taggable messenger link gets the chat ID on load; the site\'s text and parameters are kept', async () => {
  await h.run(async (s) => {
    const url = h.server.page(pageHtml({ body: anchors([...TAGGED, ...UNTOUCHED]) }));
    await s.page.goto(url);
    const id = await s.ready();
    assert.ok(isChatId(id), `chattag.id() must be a valid chat ID, got ${id}`);
    const ids = TAGGED.map((t) => t[0]);
    await s.page.waitForFunction(({ ids, id }) => ids.every((x) => document.getElementById(x).getAttribute('href').includes(id)), { ids, id }, { timeout: 5000 })
      .catch(async () => assert.fail(`not all links tagged: ${JSON.stringify(await hrefs(s.page, ids), null, 1)}`));
    const now = await hrefs(s.page, ids);
    for (const [elId, orig, , name, opts] of TAGGED) {
      const value = assertTagged(orig, now[elId], id, name, opts);
      if (name === 'text') {
        const before = param(orig, 'text');
        if (before) assert.ok(value.startsWith(before), `${elId}: the tag goes after the site's text, got ${JSON.stringify(value)}`);
      }
    }
    // The link text is the site's, never rewritten.
    const texts = await s.page.evaluate((ids) => ids.map((x) => document.getElementById(x).textContent), ids);
    assert.deepEqual(texts, ids);
  });
});

test('untouched forms, look-alikes, non-http schemes, relative links and data-chattag="off" stay byte-identical', async () => {
  await h.run(async (s) => {
    const url = h.server.page(pageHtml({ body: anchors([...UNTOUCHED, ['canary', 'https://wa.me/79991234567']]) }));
    await s.page.goto(url);
    const id = await s.ready();
    // Wait for a link we know is tagged, so the untouched ones had their chance to be touched.
    await s.page.waitForFunction((id) => document.getElementById('canary').getAttribute('href').includes(id), id, { timeout: 5000 });
    await s.page.waitForTimeout(300);
    const now = await hrefs(s.page, UNTOUCHED.map((u) => u[0]));
    for (const [elId, orig] of UNTOUCHED) assert.equal(now[elId], orig, `${elId} must be left exactly as written`);
  });
});

test('an existing Telegram start is kept and the ID fits Telegram\'s 64-character rule even when the site\'s start is long', async () => {
  await h.run(async (s) => {
    const long = 'spring_sale_2026_roses_tulips_peonies_delivery_moscow_region_60c';
    assert.equal(long.length, 64);
    const url = h.server.page(pageHtml({ body: anchors([['kept', 'https://t.me/flower_shop_bot?start=promo-42'], ['long', `https://t.me/flower_shop_bot?start=${long}`]]) }));
    await s.page.goto(url);
    const id = await s.ready();
    await s.page.waitForFunction((id) => ['kept', 'long'].every((x) => document.getElementById(x).getAttribute('href').includes(id)), id, { timeout: 5000 });
    const now = await hrefs(s.page, ['kept', 'long']);
    assertTagged('https://t.me/flower_shop_bot?start=promo-42', now.kept, id, 'start', { startRule: true });
    const start = param(now.long, 'start');
    assert.match(start, /^[A-Za-z0-9_-]{1,64}$/, `start must stay valid for Telegram: ${start}`);
    assert.ok(start.includes(id), `the ID must be in the start: ${start}`);
  });
});

test('a link already tagged with an older ID carries exactly one tag, with the current ID', async () => {
  await h.run(async (s) => {
    const old = makeChatId('CT', '8F2A9KQ');
    const url = h.server.page(pageHtml({ body: anchors([['bot', `https://t.me/flower_shop_bot?start=${old}`], ['max', `https://max.ru/flower_shop_bot?start=${old}`]]) }));
    await s.page.goto(url);
    const id = await s.ready();
    assert.notEqual(id, old);
    await s.page.waitForFunction((id) => ['bot', 'max'].every((x) => document.getElementById(x).getAttribute('href').includes(id)), id, { timeout: 5000 });
    const now = await hrefs(s.page, ['bot', 'max']);
    for (const href of Object.values(now)) {
      assert.ok(!href.includes(old), `the older ID must be replaced, not kept beside the new one: ${href}`);
      assert.equal(param(href, 'start').split(id).length - 1, 1, href);
    }
  });
});

test('the visible tag for personal chats follows <html lang> and a site template', async () => {
  const textOf = async (s, html) => {
    await s.page.goto(h.server.page(html));
    const id = await s.ready();
    await s.page.waitForFunction((id) => document.getElementById('wa').getAttribute('href').includes(id), id, { timeout: 5000 });
    return { id, text: param(await s.page.$eval('#wa', (a) => a.getAttribute('href')), 'text') };
  };
  const body = anchors([['wa', 'https://wa.me/79991234567?text=Hi']]);
  const texts = {};
  for (const lang of ['en', 'ru', 'pt', 'pt-BR', 'es', 'xx']) {
    await h.run(async (s) => {
      const { id, text } = await textOf(s, pageHtml({ lang, body }));
      assert.ok(text.startsWith('Hi'), text);
      texts[lang] = text.replace(id, '<ID>');
    });
  }
  assert.match(texts.ru, /[А-Яа-я]/, `ru template must be Russian: ${texts.ru}`);
  assert.notEqual(texts.pt, texts.en, 'pt must differ from en');
  assert.notEqual(texts['pt-BR'], texts.en, 'pt-BR must be localised');
  assert.notEqual(texts.es, texts.en, 'es must be localised');
  assert.equal(texts.xx, texts.en, 'an unknown language falls back to English');

  await h.run(async (s) => {
    const html = pageHtml({ title: 'Roses', body, snippet: { template: 'Order {id} from {title}' } });
    const { id, text } = await textOf(s, html);
    assert.ok(text.includes(`Order ${id} from Roses`), `custom template rendered: ${JSON.stringify(text)}`);
    assert.ok(text.includes('Hi'), `the site's text is kept with a template without {text}: ${JSON.stringify(text)}`);
  });
});
