// Pages whose own markup or scripts misbehave: injected anchors that clobber
// window.chattagConfig, a broken TextDecoder polyfill, Object.prototype.then pollution, a
// throwing or missing MutationObserver, a throwing scheduler.postTask. No error or rejection may
// reach the page from chattag, window.chattag exists, and tagging goes on wherever the page still
// has what it needs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anchors, pageHtml, setup, sleep } from './lib/harness.mjs';

const h = setup();

// Before any page script: every unhandled rejection and uncaught error, as the page sees them.
const CATCH = `window.__errors = [];
  addEventListener('error', (e) => __errors.push('error: ' + e.message));
  addEventListener('unhandledrejection', (e) => __errors.push('rejection: ' + (e.reason && e.reason.stack || e.reason)));`;

const LINKS = [['wa', 'https://wa.me/79991234567?text=Hi'], ['tg', 'https://t.me/flower_shop_bot']];

async function tagged(s, ids) {
  const id = await s.ready();
  await s.page.waitForFunction(({ id, ids }) => ids.every((x) => document.getElementById(x).getAttribute('href').includes(id)), { id, ids }, { timeout: 5000 });
  return id;
}

// Tampering that would also break the test's own page.evaluate (Playwright runs it in the page's
// world): in force while the snippet starts, undone by the page after UNDO_MS.
const UNDO_MS = 2500;
const during = (tamper, undo) => `${CATCH} ${tamper}; setTimeout(() => { ${undo} }, ${UNDO_MS});`;

async function noErrors(s) {
  await sleep(300);
  assert.deepEqual(await s.page.evaluate(() => window.__errors), [], 'nothing uncaught on the page');
}

test('injected <a id="chattagConfig"> markup changes nothing: no endpoint, template or debug from the page body', async () => {
  await h.run(async (s) => {
    // What a sanitizer lets through in a review: named anchors. Two of them make
    // window.chattagConfig an HTMLCollection whose .endpoint / .template / .debug are anchors.
    const injected = `<div class="review">
      <a id="chattagConfig" name="endpoint" href="https://evil.test/v1/events">a</a>
      <a id="chattagConfig" name="template" href="https://evil.test/?{id}">b</a>
      <a id="chattagConfig" name="debug" href="https://evil.test/1">c</a></div>`;
    await s.page.goto(h.server.page(pageHtml({ snippet: { endpoint: undefined }, body: injected + anchors(LINKS) })));
    assert.equal(await s.page.evaluate(() => String(window.chattagConfig)), '[object HTMLCollection]', 'the clobbering is in effect');
    const id = await tagged(s, ['wa']);
    const text = new URL(await s.page.getAttribute('#wa', 'href')).searchParams.get('text');
    assert.equal(text, `Hi\n\nRequest number: ${id}`, 'the built-in template, not the page body');
    await s.page.click('#wa');
    await sleep(500);
    assert.deepEqual(s.stray, [], 'nothing sent anywhere (no endpoint was configured)');
    assert.deepEqual(s.requests, []);
    assert.equal(await s.page.evaluate(() => document.querySelectorAll('[id^="chattag"]:not(a)').length), 0, 'no debug overlay');
  });
});

test('a plain-object chattagConfig still configures the snippet', async () => {
  await h.run(async (s) => {
    const head = `<script>window.chattagConfig = { template: 'Order {id}' };</script>`;
    await s.page.goto(h.server.page(pageHtml({ head, body: anchors(LINKS) })));
    const id = await tagged(s, ['wa']);
    assert.equal(new URL(await s.page.getAttribute('#wa', 'href')).searchParams.get('text'), `Hi\n\nOrder ${id}`);
  });
});

test('chattagConfig values that throw when read as text are no values: links tagged, no error', async () => {
  await h.run(async (s) => {
    const head = `<script>
      const boom = { toString() { throw new Error('hostile toString'); } };
      window.chattagConfig = { endpoint: boom, prefix: boom, template: boom, lifetimeDays: boom, consent: boom, debug: boom };
    </script>`;
    await s.page.goto(h.server.page(pageHtml({ head, snippet: { endpoint: undefined }, body: anchors(LINKS) })));
    const id = await tagged(s, ['wa', 'tg']);
    assert.match(id, /^CT/, 'the default prefix');
    assert.deepEqual(s.requests, [], 'no endpoint');
    await noErrors(s);
  }, { initScript: CATCH });
});

test('an endpoint path that cannot be resolved against the page is a bad setting, not a failure', async () => {
  await h.run(async (s) => {
    const head = `<script>window.chattagConfig = { endpoint: '//collector.example:99999/v1/events' };</script>`;
    await s.page.goto(h.server.page(pageHtml({ head, snippet: { endpoint: undefined }, body: anchors(LINKS) })));
    await tagged(s, ['wa']);
    assert.ok(s.console.some((m) => m.type === 'warning' && /endpoint: not an http\(s\) URL/.test(m.text)), JSON.stringify(s.console));
    await noErrors(s);
  }, { initScript: CATCH });
});

for (const [what, polyfill] of [
  ['that throws', `window.TextDecoder = function () { throw new Error('polyfill: unsupported encoding'); };`],
  ['that decodes wrongly', `window.TextDecoder = class { decode() { return ''; } }; window.TextEncoder = class { encode() { return new Uint8Array(0); } };`],
]) {
  test(`a broken TextDecoder polyfill ${what}: no error at load, window.chattag exists, links tagged`, async () => {
    await h.run(async (s) => {
      await s.page.goto(h.server.page(pageHtml({ body: anchors(LINKS) })));
      assert.equal(await s.page.evaluate(() => typeof window.chattag?.version), 'string', 'window.chattag installed');
      await tagged(s, ['wa', 'tg']);
      await noErrors(s);
    }, { initScript: CATCH + polyfill });
  });
}

for (const [what, then] of [
  ['throws', 'function () { throw new Error("polluted"); }'],
  ['never settles', 'function () {}'],
  ['resolves with junk', 'function (resolve) { resolve(42); }'],
]) {
  test(`Object.prototype.then that ${what}: no uncaught error or rejection, links tagged`, async () => {
    await h.run(async (s) => {
      await s.page.goto(h.server.page(pageHtml({ body: anchors(LINKS) })));
      await sleep(UNDO_MS + 200);
      await tagged(s, ['wa', 'tg']);
      await noErrors(s);
    }, { initScript: during(`Object.defineProperty(Object.prototype, 'then', { value: ${then}, configurable: true, writable: true })`, 'delete Object.prototype.then') });
  });
}

for (const [what, mo] of [
  ['throws', 'window.MutationObserver = function () { throw new Error("no observers here"); }'],
  ['is missing', 'delete window.MutationObserver'],
]) {
  test(`a MutationObserver that ${what}: links tagged by the pass, a link added later tagged when clicked`, async () => {
    await h.run(async (s) => {
      await s.page.goto(h.server.page(pageHtml({ body: anchors(LINKS) })));
      await sleep(UNDO_MS + 200);
      const id = await tagged(s, ['wa', 'tg']);
      await s.page.evaluate(() => {
        const a = document.createElement('a');
        a.id = 'late';
        a.href = 'https://t.me/flower_shop_bot?start=late';
        a.textContent = 'late';
        document.body.append(a);
      });
      await s.page.click('#late');
      const deadline = Date.now() + 5000;
      while (!s.navigations.length && Date.now() < deadline) await sleep(50);
      assert.equal(new URL(s.navigations[0]).searchParams.get('start'), `late_${id}`);
      await noErrors(s);
    }, { initScript: `const __MO = window.MutationObserver; ${during(mo, 'window.MutationObserver = __MO')}` });
  });
}

test('a scheduler.postTask that throws: links tagged all the same', async () => {
  await h.run(async (s) => {
    await s.page.goto(h.server.page(pageHtml({ body: anchors(LINKS) })));
    await tagged(s, ['wa', 'tg']);
    await noErrors(s);
  }, { initScript: CATCH + `window.scheduler = { postTask() { throw new Error('postTask polyfill'); } };` });
});

test('a protocol-relative link keeps a secure scheme: never http', async () => {
  await h.run(async (s) => {
    await s.page.goto(h.server.page(pageHtml({ body: anchors([['wa', '//wa.me/79991234567']]) })));
    const id = await tagged(s, ['wa']);
    assert.ok((await s.page.evaluate(() => window.chattag.rewrite('//wa.me/1'))).startsWith('https://wa.me/1?text='));
    assert.ok((await s.page.getAttribute('#wa', 'href')).startsWith('https://wa.me/79991234567?text='), id);
  });
});
