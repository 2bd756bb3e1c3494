// chattag loader: the only hand-written JS that runs on a customer's page. It installs
// `window.chattag` at once (so calls made before the wasm is ready are queued, and a second copy
// of the script sees it and stops), instantiates the wasm, and connects browser events to the
// Rust exports. The browser I/O the wasm asks for is www/loader/shell.js. Every entry into the
// wasm goes through `guard`: nothing here may throw into the page, whatever the wasm or the
// browser does (a CSP that forbids wasm, a patched fetch, …).
//
// Callbacks reach the wasm asynchronously (timers, promises) so a page handler can never call
// back into the snippet while it is running.
//
// Lazy chunks, each loaded only when used: the debug
// overlay (debug mode), the QR dialog (data-qr on a desktop), and the strict-CSP fallback — the
// same wasm turned into JavaScript by wasm2js, driven by the same glue — when wasm cannot compile.
import * as w from 'chattag:glue';
import loadWasm from 'chattag:wasm';
import CHUNKS from 'chattag:chunks';
import { W, D, script, on, config, own, setting, ui, warn, guard, sent, MAYBE, LINK, ours, tagLink, tagLinks, shadows, watch, watching, passNow } from './shell.js';
import * as page from './page.js';
import { ID, REWRITE, IDENTIFIERS, LINK as LINK_OP } from 'chattag:glue';

(() => {
  const previous = W.chattag;
  // Double-load guard: the real API carries a version; the page's stub does not.
  if (previous && previous.version) return;
  const METHODS = ['id', 'rewrite', 'identifiers', 'setUserId', 'setPurchaseId', 'consent'];
  // Calls that change state wait here until the wasm runs; the stub's queue goes first.
  const queue = Array.from((previous && previous.q) || [], (args) => Array.from(args));
  let live = false;

  // A file beside chattag.js (the wasm, a chunk): resolved against the script's own URL.
  const beside = (file) => new URL(file, (script && script.src) || D.baseURI);
  // npm's bundle supplies its own importer; a script tag loads chunks from beside chattag.js
  // (`chattag-<name>.<hash>.js`, the hashes from scripts/build.mjs).
  // A promise always: a blocked or missing chunk is a rejection, never a throw.
  const loadChunk = (name) =>
    Promise.resolve(name).then((n) => (typeof own('importChunk') === 'function' ? config.importChunk(n) : import(beside(`chattag-${n}.${CHUNKS[n]}.js`).href)));

  const api = (name, ...args) => {
    if (METHODS.includes(name)) return api[name](...args);
  };
  api.version = '0.1.0';
  // `page.run` / `page.ask(op, a, b, n)`: calls into the wasm (ops: glue.js, src/lib.rs).
  api.id = () => (live && guard(page.ask)(ID)) || undefined;
  // A URL to use instead of `url` (`open`: the page is opening it: reported as a click).
  const rewrite = (url, open) => (live && (typeof url === 'string' || url instanceof URL) && guard(page.run)(REWRITE, String(url), undefined, open)) || url;
  api.rewrite = (url) => rewrite(url, 0);
  // A navigation's URL tagged and reported as a click, or false when tagging changes nothing (no
  // messenger link, or tagged already): what a script navigation or a form is made again with.
  const retag = (url) => MAYBE.test(url) && rewrite(url, 0) != url && rewrite(url, 1);
  api.identifiers = () => {
    try {
      if (live) return JSON.parse(page.ask(IDENTIFIERS));
    } catch (e) {}
    return {};
  };
  // `api[name]`: a call that changes state, queued until the wasm runs.
  const setter = (name, f) =>
    (api[name] = (v) => {
      if (live) guard(f)(v);
      else queue.push([name, v]);
    });
  setter('setUserId', (v) => page.setId(v, 0));
  setter('setPurchaseId', (v) => page.setId(v, 1));
  setter('consent', (granted) => page.consentTo(!!granted));
  W.chattag = api;

  // ---- debug overlay and QR dialog: idle unless debug mode / data-qr is on -------------------
  // Both live in the lazily loaded "inspect" chunk (www/loader/wasm-inspect.js), handed what it
  // needs of the loader here.
  const state = { call: w.call, page: page.state, api, sent, maybe: MAYBE, ui };
  let qrClick;

  const listen = () => {
    const opts = { capture: true, passive: true };
    // The link itself, found along the composed path: it may sit in an open shadow root, or
    // wrap a <slot> whose light-DOM content was clicked. Re-tagged (a framework may have set its
    // href late) and, when used, reported; with no link, the wasm still looks for a late ClientID.
    const pointer = guard((e) => {
      const link = (e.composedPath ? e.composedPath() : [e.target]).find((n) => n.matches && n.matches(LINK));
      const what = e.type == 'click' || (e.type == 'auxclick' && e.button == 1) ? 2 : 1;
      if (link) tagLink(link, what, page.run);
      else page.run(LINK_OP, undefined, undefined, what);
    });
    for (const type of ['pointerdown', 'contextmenu', 'click', 'auxclick']) W.addEventListener(type, pointer, opts);
    // After `pointer` (same phase, registered later), so the link is tagged and the click reported.
    // A desktop: the primary pointer is fine (the media feature has one value, so not coarse too).
    if (on(setting('data-qr', 'qr')) && W.matchMedia && matchMedia('(pointer: fine)').matches) {
      // Both fetched now, so that a click never waits on the network.
      Promise.all([loadChunk('qr'), loadChunk('inspect')]).then(([q, i]) => (qrClick = i.qrClick(q, state)), (e) => warn('qr:', e));
      W.addEventListener('click', (e) => qrClick && qrClick(e), true);
    }

    let hiddenAt = 0;
    const hide = guard(() => {
      // pagehide and visibilitychange usually come together: one beacon is enough.
      if (Date.now() - hiddenAt < 1000) return;
      hiddenAt = Date.now();
      page.hide();
    });
    W.addEventListener('pagehide', hide, opts);
    D.addEventListener('visibilitychange', () => D.visibilityState == 'hidden' && hide(), opts);
    W.addEventListener('pageshow', guard((e) => e.persisted && page.show()), opts);

    // Links added or re-pointed by the page, gathered here and tagged in bulk. Attribute records
    // of our own bulk writes are dropped; the rest are re-tagged, which is a no-op for tagged
    // links. Another script that rewrites a link whenever it changes (an old chat-tracking
    // script, a page putting its href back) would make that a loop that freezes the page: a link
    // is re-tagged at most 3 times a second, and its further changes in that second are left
    // alone. A script that answers every change then has the last word, and nothing loops.
    const fights = new WeakMap();
    try {
      watching.observer = new MutationObserver(guard((records) => {
        const found = [];
        const now = Date.now();
        for (const r of records) {
          const t = r.target;
          if (r.type == 'attributes') {
            if (ours.get(t) === t.getAttribute('href')) continue;
            const f = fights.get(t);
            if (!f || now - f[0] > 1000) fights.set(t, [now, 1]);
            else if (++f[1] > 3) {
              if (f[1] == 4) warn('another script keeps rewriting this link; left to it', t);
              continue;
            }
            found.push(t);
            continue;
          }
          for (const n of r.addedNodes) {
            if (n.nodeType != 1) continue;
            if (n.matches(LINK)) found.push(n);
            if (n.firstElementChild) for (const el of n.querySelectorAll(LINK)) found.push(el);
            shadows(n, found);
          }
        }
        tagLinks(found);
      }));
      watch(D.documentElement);
    } catch (e) {
      // No usable MutationObserver (removed or broken by the page): links are still tagged by
      // the passes and when they are pointed at or clicked.
      warn(e);
    }

    // Script navigations (`location.href = url`, `location.assign/replace`), where the browser
    // has the Navigation API: a navigation to an untagged messenger URL is cancelled and made
    // again with the tagged URL (reported as a click; tagging a tagged URL changes nothing, so
    // the second navigation goes through). Link clicks are left to `pointer`, which tagged the
    // link already; other navigations are never touched.
    try {
      W.navigation.addEventListener('navigate', guard((e) => {
        const tagged = !e.userInitiated && !e.sourceElement && e.cancelable && e.navigationType != 'traverse' && retag(e.destination.url);
        if (!tagged) return;
        e.preventDefault();
        setTimeout(() => location[e.navigationType == 'replace' ? 'replace' : 'assign'](tagged));
      }));
    } catch (e) {}

    const open = W.open;
    if (typeof open === 'function') {
      W.open = (url, ...rest) => open.call(W, rewrite(url, 1), ...rest);
    }

    // A GET form whose action is a messenger (a widget's "type your message" popup, e.g. Chaty's
    // <form action="https://wa.me/<n>" target="_blank"><input name="text">): the browser builds
    // the URL from the fields, so there is no link to tag, and a new tab is no navigation of this
    // page. The submission is made again with the tagged URL, in the form's target, like a script
    // navigation. Bubble phase on window, after the page's own handlers: a submission the page
    // cancelled stays cancelled. Left alone: a form marked data-chattag="off", a submit button
    // with its own form* attributes (the URL would not be the form's).
    W.addEventListener('submit', guard((e) => {
      const f = e.target;
      const s = e.submitter;
      if (e.defaultPrevented || f.method != 'get' || !MAYBE.test(f.action) || f.matches('[data-chattag=off i]') || (s && s.matches('[formaction],[formmethod],[formtarget]'))) return;
      // The URL the browser would open: the action with the fields as its query.
      const u = new URL(f.action);
      u.search = new URLSearchParams(new FormData(f, s));
      const tagged = retag(u.href);
      if (!tagged) return;
      const t = f.getAttribute('target');
      // Cancelled only once the tagged one is under way: if opening throws, the browser's own
      // submission goes on (untagged, but the visitor gets there).
      if (t && t != '_self') open.call(W, tagged, t, t == '_blank' ? 'noopener' : '');
      else location.assign(tagged);
      e.preventDefault();
    }));
  };

  // Compiles and instantiates the wasm's bytes, synchronously, and hands the instance to the glue.
  const instantiate = (bytes) => w.adopt(new WebAssembly.Instance(new WebAssembly.Module(bytes), w.imports()));

  (async () => {
    // The separate file (the default build, www/loader/wasm-file.js) is fetched and compiled once
    // it has arrived. The one-file build inlines it: synchronous compile + instantiate of a small
    // module (a few ms of main thread, measured) beats the async path's task hops, and the bytes
    // come back as they are, not a promise (awaiting an object goes through a page's
    // Object.prototype.then). Under a CSP without 'wasm-unsafe-eval' either throws a
    // CompileError: caught below.
    try {
      const loaded = loadWasm(beside, instantiate);
      // While it downloads (the default build): the settings and the visitor record.
      page.prepare();
      if (loaded instanceof Promise) await loaded;
      else instantiate(loaded);
    } catch (e) {
      // No wasm here (a CSP without 'wasm-unsafe-eval' throws a CompileError): the same code as
      // JavaScript, fed the same glue's imports and adopted as if it were the wasm instance.
      warn('wasm unavailable, using the JavaScript build:', e);
      w.adopt({ exports: (await loadChunk('fallback')).default(w.imports()) });
    }
    ui.debug = page.boot() || ui.debug;
    live = true;
    // `api` calls only the methods it has; a throw stays here.
    for (const args of queue.splice(0)) guard(api)(...args);
    guard(page.start)();
    passNow();
    // After the first pass: its writes reach no observer, and the pass waits for nothing (a
    // click cannot come in between: this is one task).
    listen();
    if (ui.debug) {
      Promise.all([loadChunk('debug'), loadChunk('inspect')])
        .then(([m, i]) => i.debug(m, state))
        .catch((e) => warn('debug overlay:', e));
    }
  })().catch((e) => warn('not running:', e));
})();
