// chattag loader: the only hand-written JS that runs on a customer's page. It installs
// `window.chattag` at once (so calls made before the wasm is ready are queued, and a second copy
// of the script sees it and stops), instantiates the wasm, and connects browser events to the
// Rust exports. Every entry into the wasm goes through `guard`: nothing here may throw into the
// page, whatever the wasm or the browser does (a CSP that forbids wasm, a patched fetch, …).
//
// Callbacks reach the wasm asynchronously (timers, promises) so a page handler can never call
// back into the snippet while it is running.
//
// Lazy chunks, each loaded only when used: the debug
// overlay (debug mode), the QR dialog (data-qr on a desktop), and the strict-CSP fallback — the
// same wasm turned into JavaScript by wasm2js, driven by the same glue — when wasm cannot compile.
import { initSync, wasmImports, finalize } from 'chattag:glue';
import * as w from 'chattag:glue';
import loadWasm from 'chattag:wasm';
import CHUNKS from 'chattag:chunks';

(() => {
  const W = window;
  const D = document;
  const previous = W.chattag;
  // Double-load guard: the real API carries a version; the page's stub does not.
  if (previous && previous.version) return;
  // Only valid while this script runs synchronously.
  const script = D.currentScript;
  const METHODS = ['id', 'rewrite', 'identifiers', 'setUserId', 'setPurchaseId', 'consent'];
  // Calls that change state wait here until the wasm runs; the stub's queue goes first.
  const queue = previous && previous.q ? Array.from(previous.q, (args) => Array.from(args)) : [];
  let live = false;
  // href values the bulk pass wrote, so the observer can skip its own writes cheaply.
  const ours = new WeakMap();

  // The same "is it on" rule the wasm applies to data-debug (settings.rs), needed here for
  // failures that happen before the wasm can read its settings.
  const on = (v) => v != null && v !== false && !/^\s*(0|false|off|no)\s*$/i.test(String(v));
  // Only a plain object counts: markup such as two <a id="chattagConfig" name="endpoint"> (which
  // comment sanitizers allow) clobbers window.chattagConfig with elements. Own keys only, so a
  // polluted Object.prototype configures nothing either.
  const raw = W.chattagConfig;
  const config = raw && {}.toString.call(raw) == '[object Object]' ? raw : {};
  const own = (key) => ({}.hasOwnProperty.call(config, key) ? config[key] : undefined);
  const setting = (attr, key) => on(script && script.getAttribute(attr)) || on(own(key));
  // `?chattag_debug=1` switches debug mode on like data-debug (the wasm reads it through `setting`).
  const urlDebug = /[?&]chattag_debug=1(&|$)/.test(location.search);
  let debug = urlDebug || setting('data-debug', 'debug');
  const warn = (...args) => {
    try {
      if (debug) console.warn('chattag:', ...args);
    } catch (e) {}
  };
  // The debug overlay, once loaded, and a pending refresh of it.
  let overlay, refreshing;
  const guard = (f) =>
    function () {
      try {
        return f.apply(this, arguments);
      } catch (e) {
        warn(e);
      } finally {
        refresh();
      }
    };
  // npm's bundle supplies its own importer; a script tag loads chunks from beside chattag.js.
  // A promise always: a blocked or missing chunk is a rejection, never a throw.
  const loadChunk = (name) =>
    Promise.resolve(name).then((n) =>
      typeof own('importChunk') === 'function'
        ? config.importChunk(n)
        : import(new URL(CHUNKS[n], (script && script.src) || D.baseURI).href),
    );

  const api = function (name, ...args) {
    if (METHODS.includes(name)) return api[name](...args);
  };
  api.version = '0.1.0';
  api.id = () => (live ? guard(w.id)() : undefined);
  api.rewrite = (url) => {
    const out = live && (typeof url === 'string' || url instanceof URL) ? guard(w.rewrite)(String(url)) : url;
    return typeof out === 'string' ? out : url;
  };
  api.identifiers = () => {
    try {
      return live ? JSON.parse(w.identifiers()) : {};
    } catch (e) {
      return {};
    }
  };
  const setter = (name, f) => (v) => {
    if (live) guard(f)(v);
    else queue.push([name, v]);
  };
  // Strings as they are, finite numbers in their JS spelling, null/undefined = clear; anything
  // else becomes "" so the wasm rejects it (with a warning under debug).
  const text = (v) => (v == null ? undefined : typeof v === 'string' || Number.isFinite(v) ? String(v) : '');
  api.setUserId = setter('setUserId', (v) => w.set_user_id(text(v)));
  api.setPurchaseId = setter('setPurchaseId', (v) => w.set_purchase_id(text(v)));
  api.consent = setter('consent', (granted) => w.consent(!!granted));
  W.chattag = api;

  // The bulk pass's prefilter: an href without any of these cannot be a messenger link, so the
  // wasm never sees it (the core classifies every href that passes).
  const MAYBE = /wa\.me|whatsapp|t\.me|telegram|tg:|viber|max\.ru/i;
  const ports = {
    post: guard((url, body, token) => {
      let sent;
      try {
        sent = fetch(url, { method: 'POST', body, keepalive: true, credentials: 'omit' });
      } catch (e) {
        sent = Promise.reject(e);
      }
      track(body, 'sending');
      sent.then((r) => r.status, () => 0).then(guard((status) => {
        const r = w.on_settled(token, status);
        if (r) track(body, ['', 'sent', 'dropped', 'retrying'][r], r > 1 ? (status ? `HTTP ${status}` : 'network error') : '');
      }));
    }),
    later: guard((ms, what) => {
      const run = guard(() => w.on_timer(what));
      // A zero delay is a yield between slices of a long pass: postTask has no 4 ms clamp. A
      // missing or throwing one (a page's polyfill) falls back to setTimeout.
      let queued;
      try {
        if (!ms) (queued = W.scheduler.postTask(run)).catch(() => {});
      } catch (e) {}
      if (!queued) setTimeout(run, ms);
    }),
    ready: guard((id) => setTimeout(guard(() => D.dispatchEvent(new CustomEvent('chattag:ready', { detail: { id } }))))),
    ym: guard((counter) => {
      if (typeof W.ym === 'function') W.ym(+counter, 'getClientID', (v) => setTimeout(guard(() => w.on_client_id(String(v)))));
    }),
    setting: (attr, key) => {
      let v;
      try {
        if (urlDebug && key == 'debug') return '1';
        v = script && script.getAttribute(attr);
        if (v == null) v = own(key);
        if (v == null) return;
        v = String(v);
        // A path on the site's own domain (`/chattag/v1/events`, the collector behind the
        // site's proxy) or a scheme-relative URL: resolved against the page.
        if (key == 'endpoint' && /^\s*\//.test(v)) v = new URL(v.trim(), D.baseURI).href;
      } catch (e) {}
      return typeof v == 'string' ? v : undefined;
    },
    // A document pass started: open shadow roots are looked for, and their links tagged, in a
    // task of their own.
    shadows: () => setTimeout(guard(() => tagLinks(shadows(D)))),
    warn: guard((message, detail) => warn(message, detail)),
    // A bad setting is the one thing said without debug: the site owner has to see it.
    misconfigured: (message) => {
      try {
        console.warn('chattag: bad setting:', message);
      } catch (e) {}
    },
    // The bulk pass's DOM side (see ports.rs). These return/accept plain strings and must
    // never throw: a throw would unwind through the wasm mid-pass.
    hrefs: (list, from, to) => {
      const out = [];
      try {
        for (let i = from; i < to; i++) {
          const h = list[i].getAttribute('href') || '';
          out.push(MAYBE.test(h) && !h.includes('\n') ? h : '');
        }
      } catch (e) {}
      return out.join('\n');
    },
    setHrefs: (list, from, hrefs) => {
      try {
        const v = hrefs.split('\n');
        for (let i = 0; i < v.length && from + i < list.length; i++) {
          if (!v[i]) continue;
          list[from + i].setAttribute('href', v[i]);
          ours.set(list[from + i], v[i]);
        }
      } catch (e) {}
    },
  };

  // ---- links in open shadow roots -----------------------------------------------------------
  // Tagged like the document's and watched by the same observer. Looked for at and under `node`
  // when it is added, and over the whole document on every pass (`shadows` port, see ports.rs).
  const LINK = 'a[href],area[href]';
  const fights = new WeakMap();
  const roots = new WeakSet();
  let observer;
  const watch = (root) => observer && observer.observe(root, { subtree: true, childList: true, attributes: true, attributeFilter: ['href'] });
  // getElementsByTagName: 4-5× faster than querySelectorAll('*') over a 30,000-element page
  // (~6 ms, measured); a shadow root has only the latter.
  function shadows(node, found = []) {
    try {
      const all = node.getElementsByTagName ? node.getElementsByTagName('*') : node.querySelectorAll('*');
      for (let i = -1; i < all.length; i++) {
        const root = (i < 0 ? node : all[i]).shadowRoot;
        if (!root) continue;
        if (!roots.has(root)) roots.add(root), watch(root);
        found.push(...root.querySelectorAll(LINK));
        shadows(root, found);
      }
    } catch (e) {}
    return found;
  }
  // The wasm tags what it is handed, split by whether a link carries a `data-chattag` hint.
  const tagLinks = (list) => {
    const plain = [];
    const hinted = [];
    for (const el of list) (el.hasAttribute('data-chattag') ? hinted : plain).push(el);
    if (list.length) w.on_links(plain, hinted);
  };

  // ---- debug overlay and QR dialog: idle unless debug mode / data-qr is on -------------------
  // `sent`: [body, status, detail] per POST and per answer (debug only). The overlay's model and
  // the QR click live in the lazily loaded "inspect" chunk (www/loader/wasm-inspect.js).
  const sent = [];
  const track = (...entry) => debug && sent.push(entry);
  const state = { inspect: w.inspect, api, sent, maybe: MAYBE };
  let inspector, qr;
  // Called after every entry into the wasm (see `guard`); the model is rebuilt at most every 100 ms.
  function refresh() {
    if (!overlay || refreshing) return;
    refreshing = setTimeout(() => {
      refreshing = 0;
      try {
        overlay.update(inspector.model(state));
      } catch (e) {}
    }, 100);
  }

  const listen = () => {
    const opts = { capture: true, passive: true };
    // The link itself, found along the composed path: it may sit in an open shadow root, or
    // wrap a <slot> whose light-DOM content was clicked.
    const pointer = guard((e) => {
      const link = (e.composedPath ? e.composedPath() : [e.target]).find((n) => n.matches && n.matches(LINK));
      w.on_interaction(link, e.type === 'click' || (e.type === 'auxclick' && e.button === 1));
    });
    for (const type of ['pointerdown', 'contextmenu', 'click', 'auxclick']) W.addEventListener(type, pointer, opts);
    // After `pointer` (same phase, registered later), so the link is tagged and the click reported.
    if (setting('data-qr', 'qr') && W.matchMedia && matchMedia('(pointer: fine)').matches && !matchMedia('(pointer: coarse)').matches) {
      // Both fetched now, so that a click never waits on the network.
      Promise.all([loadChunk('qr'), loadChunk('inspect')]).then(([q, i]) => ((qr = q), (inspector = i)), (e) => warn('qr:', e));
      W.addEventListener('click', (e) => {
        try {
          if (qr) inspector.qrClick(e, qr, state);
        } catch (err) {
          warn('qr:', err); // e.g. a RangeError: too long for a QR code; the click navigates
        }
      }, true);
    }

    let hiddenAt = 0;
    const hide = guard(() => {
      // pagehide and visibilitychange usually come together: one beacon is enough.
      if (Date.now() - hiddenAt < 1000) return;
      hiddenAt = Date.now();
      w.on_hide();
    });
    W.addEventListener('pagehide', hide, opts);
    D.addEventListener('visibilitychange', () => D.visibilityState === 'hidden' && hide(), opts);
    W.addEventListener('pageshow', guard((e) => e.persisted && w.on_show()), opts);

    // Links added or re-pointed by the page, gathered here (walking records is DOM plumbing
    // that JS does cheaply) and tagged by the wasm in one bulk call. Attribute records of our
    // own bulk writes are dropped; the rest are re-tagged, which is a no-op for tagged links.
    // Another script that rewrites a link whenever it changes (an old chat-tracking script, a
    // page putting its href back) would make that a loop that freezes the page: a link is
    // re-tagged at most 3 times a second, and its further changes in that second are left alone.
    // A script that answers every change then has the last word, and nothing loops.
    try {
      observer = new MutationObserver(guard((records) => {
        const found = [];
        const add = (el) => found.push(el);
        const now = Date.now();
        for (const r of records) {
          const t = r.target;
          if (r.type === 'attributes') {
            if (ours.get(t) === t.getAttribute('href')) continue;
            const f = fights.get(t);
            if (!f || now - f[0] > 1000) fights.set(t, [now, 1]);
            else if (++f[1] > 3) {
              if (f[1] == 4) warn('another script keeps rewriting this link; leaving it to that script', t);
              continue;
            }
            add(t);
            continue;
          }
          for (const n of r.addedNodes) {
            if (n.nodeType !== 1) continue;
            if (n.matches(LINK)) add(n);
            if (n.firstElementChild) for (const el of n.querySelectorAll(LINK)) add(el);
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
        const url = e.destination.url;
        if (e.userInitiated || e.sourceElement || !e.cancelable || e.navigationType == 'traverse' || !MAYBE.test(url) || w.rewrite(url) === url) return;
        const tagged = w.on_open(url);
        e.preventDefault();
        setTimeout(() => location[e.navigationType == 'replace' ? 'replace' : 'assign'](tagged));
      }));
    } catch (e) {}

    const open = W.open;
    if (typeof open === 'function') {
      W.open = function (url) {
        const args = Array.from(arguments);
        if (typeof url === 'string' || url instanceof URL) {
          const tagged = guard(w.on_open)(String(url));
          if (typeof tagged === 'string') args[0] = tagged;
        }
        return open.apply(W, args);
      };
    }
  };

  (async () => {
    // The separate file (the default build, www/loader/wasm-file.js) is instantiated while it
    // streams in. The one-file build inlines it: synchronous compile + instantiate of a small
    // module (a few ms of main thread, measured) beats the async path's task hops, and the bytes
    // come back as they are, not a promise (awaiting an object goes through a page's
    // Object.prototype.then). Under a CSP without 'wasm-unsafe-eval' either throws a
    // CompileError: caught below.
    try {
      const loaded = loadWasm(script, wasmImports, finalize);
      if (loaded instanceof Promise) await loaded;
      else initSync({ module: loaded });
    } catch (e) {
      // No wasm here (a CSP without 'wasm-unsafe-eval' throws a CompileError): the same code as
      // JavaScript, fed the same glue's imports and adopted as if it were the wasm instance.
      warn('wasm unavailable, using the JavaScript build:', e);
      finalize({ exports: (await loadChunk('fallback')).default(wasmImports()) });
    }
    debug = w.boot(W, D, ports) || debug;
    live = true;
    for (const [name, ...args] of queue.splice(0)) {
      if (METHODS.includes(name)) guard(api[name])(...args);
    }
    listen();
    w.start();
    if (debug) {
      Promise.all([loadChunk('debug'), loadChunk('inspect')])
        .then(([m, i]) => {
          inspector = i;
          overlay = m.showDebug(i.model(state));
        })
        .catch((e) => warn('debug overlay:', e));
    }
  })().catch((e) => warn('not running:', e));
})();
