// The "inspect" chunk: what the debug overlay and the QR dialog need from the running snippet,
// kept out of chattag.js (every byte of the main script counts) and loaded with them only. Every
// verdict is the wasm's: `inspect(element)` answers "t|u <messenger> <kind>" (tagged / not yet),
// "s <skip>" (left alone: `chattag_core::links::Skip::as_str`) or "" (not a messenger link).
//
// `s` is the loader's state: { call, page, api, sent, maybe, ui } — `call` is the glue's call into
// the wasm, `page()` the consent state and endpoint (www/loader/page.js), `sent` holds
// [body, status, detail] for each POST and answer, `maybe` is the loader's messenger-link
// prefilter, `ui.after` runs after every entry into the wasm.

const LINK = 'a[href],area[href]';

// The English for each skip the core names (`Skip::as_str`), for the overlay and the console. Here,
// in a chunk loaded only in debug mode or with the QR dialog, rather than in the wasm every page
// downloads.
export const REASONS = {
  share: 'share link — left as is',
  catalogue: 'WhatsApp catalogue — no message to tag',
  fixed_text: 'fixed-text link — cannot carry an ID',
  not_a_chat: 'invite, post or channel, not a 1:1 chat — left as is',
  mini_app: 'mini app link — left as is',
  no_recipient: 'no recipient in the link — left as is',
  disabled: 'data-chattag="off" — left as is',
  malformed: 'malformed messenger link — left as is',
  too_long: 'link too long to tag — left as is',
};

// INSPECT (src/lib.rs; the loader's op table is www/loader/glue.js, which this chunk does not load): a link's verdict.
const inspect = (s, el) => s.call(9, el.getAttribute('href'), el.getAttribute('data-chattag')) || '';

// Each skipped link goes to the console once, with its reason (debug mode).
const told = new Set();

/** Shows the debug overlay (`m`: the debug chunk), rebuilt at most every 100 ms after each entry into the wasm. */
export function debug(m, s) {
  const overlay = m.showDebug(model(s));
  let refreshing;
  s.ui.after = () => {
    if (refreshing) return;
    refreshing = setTimeout(() => {
      refreshing = 0;
      try {
        overlay.update(model(s));
      } catch (e) {}
    }, 100);
  };
}

/** The debug overlay's model (shape: docs/loader-and-build.md). */
export function model(s) {
  const { consent, endpoint } = s.page();
  const links = [];
  for (const element of document.querySelectorAll(LINK)) {
    const href = element.getAttribute('href');
    if (!s.maybe.test(href)) continue;
    const [st, a, b] = inspect(s, element).split(' ');
    if (st == 's') {
      const reason = REASONS[a] || a;
      links.push({ href, tagged: false, skip: a, reason, element });
      if (!told.has(href + a)) told.add(href + a), s.ui.debug && console.warn('chattag:', reason, href);
    }
    else if (st) links.push({ href, tagged: st == 't', messenger: a, kind: b, reason: st == 't' ? undefined : 'not tagged yet', element });
  }
  // Latest status per event, in the order the events were first sent.
  const events = new Map();
  for (const [body, status, detail] of s.sent) {
    try {
      for (const e of JSON.parse(body)) events.set(e.event_id, { event_id: e.event_id, type: e.type, ts: e.ts, status, detail });
    } catch (e) {}
  }
  return { id: s.api.id() || null, consent, endpoint: endpoint || null, identifiers: s.api.identifiers(), links, events: [...events.values()] };
}

/**
 * A plain primary click on a WhatsApp / Telegram / Viber link the snippet tagged: shows the QR
 * dialog and only then cancels the navigation (docs/loader-and-build.md, section 4). A link too
 * long for a QR code makes `showQr` throw, and the click navigates as usual.
 */
export const qrClick = (qr, s) => (e) => {
  try {
    qrShow(e, qr, s);
  } catch (err) {
    // e.g. a RangeError: too long for a QR code; the click navigates
    if (s.ui.debug) console.warn('chattag: qr:', err);
  }
};

function qrShow(e, qr, s) {
  if (e.button || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey || e.defaultPrevented) return;
  const path = e.composedPath();
  // Not inside data-chattag="off" — which includes the dialog's own "Open on this computer".
  if (path.some((n) => n.getAttribute && n.getAttribute('data-chattag') == 'off')) return;
  const a = path[0].closest && path[0].closest(LINK);
  const [st, messenger] = a ? inspect(s, a).split(' ') : [];
  // MAX is left out: the issue asks for WhatsApp, Telegram and Viber.
  if (st != 't' || messenger == 'max') return;
  qr.showQr(a.href, { lang: document.documentElement.lang });
  e.preventDefault();
}
