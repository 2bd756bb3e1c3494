// The debug overlay chunk: loaded with `import()` only under `?chattag_debug=1` or data-debug, so
// it costs nothing otherwise. It shows what the snippet saw and did: each messenger link found
// (tagged, or why not), the current chat ID and identifiers, and every event with its delivery
// status. It only renders the model the snippet hands it (shape: docs/loader-and-build.md);
// it decides nothing. Page-controlled strings (hrefs, identifiers) only ever go in as text.
import { styleRoot } from './style-root.js';

// Rows beyond this are counted, not drawn: a page with 10,000 links must stay responsive.
const MAX_ROWS = 200;

const CSS = `
:host{all:initial}
.panel{position:fixed;right:12px;bottom:12px;z-index:2147483646;box-sizing:border-box;width:min(420px,calc(100vw - 24px));
 max-height:min(70vh,640px);display:flex;flex-direction:column;border-radius:10px;background:#111827;color:#e5e7eb;
 font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;box-shadow:0 8px 30px rgba(0,0,0,.35)}
header{display:flex;align-items:center;gap:8px;padding:8px 10px;border-bottom:1px solid #374151}
header b{font:600 13px system-ui,sans-serif;flex:1}
button{border:0;border-radius:6px;background:#374151;color:#e5e7eb;font:inherit;padding:2px 8px;cursor:pointer}
button:focus-visible{outline:2px solid #93c5fd}
.body{overflow:auto;padding:6px 10px 10px}
.collapsed .body{display:none}
h3{margin:10px 0 4px;font:600 11px system-ui,sans-serif;text-transform:uppercase;letter-spacing:.05em;color:#9ca3af}
table{width:100%;border-collapse:collapse}
td{padding:2px 4px;vertical-align:top;border-top:1px solid #1f2937;word-break:break-all}
td:first-child{white-space:nowrap;word-break:normal;color:#9ca3af}
.ok{color:#34d399}.no{color:#fbbf24}.bad{color:#f87171}
.why{color:#fbbf24}
.muted{color:#6b7280}
.id{font-size:14px;color:#fff}
.box{position:fixed;z-index:2147483645;pointer-events:none;border:2px solid #f59e0b;border-radius:3px;background:rgba(245,158,11,.12)}
`;

const STATUS_CLASS = { sent: 'ok', confirmed: 'ok', queued: 'no', sending: 'no', beaconed: 'no', retrying: 'no', failed: 'bad', dropped: 'bad' };

let current = null;

/**
 * Shows the overlay (or refreshes the one already shown) and returns `{ update, close }`.
 * Renders on the next animation frame, so the snippet may call `update` as often as it likes.
 */
export function showDebug(model) {
  if (current) {
    current.update(model);
    return current;
  }
  const doc = document;
  const host = doc.createElement('div');
  host.setAttribute('data-chattag', 'off');
  const root = host.attachShadow({ mode: 'open' });
  const h = (tag, attrs, ...kids) => {
    const n = doc.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
    for (const k of kids) if (k != null) n.append(k);
    return n;
  };
  const title = h('b', {}, 'chattag debug');
  const toggle = h('button', { type: 'button', 'aria-expanded': 'true' }, 'hide');
  const close = h('button', { type: 'button', 'aria-label': 'Close chattag debug' }, '×');
  const body = h('div', { class: 'body' });
  const panel = h('section', { class: 'panel', role: 'region', 'aria-label': 'chattag debug' }, h('header', {}, title, toggle, close), body);
  const box = h('div', { class: 'box', hidden: '' });
  styleRoot(root, CSS);
  root.append(panel, box);

  let latest = model;
  let frame = 0;
  const render = () => {
    frame = 0;
    body.replaceChildren(...sections(latest || {}, h, box));
  };
  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(render);
  };
  toggle.addEventListener('click', () => {
    const collapsed = panel.classList.toggle('collapsed');
    toggle.textContent = collapsed ? 'show' : 'hide';
    toggle.setAttribute('aria-expanded', String(!collapsed));
  });
  const handle = {
    update(next) {
      if (current !== handle) return;
      latest = next;
      schedule();
    },
    close() {
      if (current !== handle) return;
      current = null;
      if (frame) cancelAnimationFrame(frame);
      host.remove();
    },
  };
  close.addEventListener('click', handle.close);
  current = handle;
  (doc.body || doc.documentElement).append(host);
  render();
  return handle;
}

/** Refreshes the overlay if it is shown; does nothing after it was closed. */
export function update(model) {
  if (current) current.update(model);
}

function sections(m, h, box) {
  const out = [];
  const text = (v) => (v == null || v === '' ? '—' : String(v));
  const state = m.consent === 'required' ? ['waiting for consent', 'no'] : m.consent === 'denied' ? ['consent withdrawn', 'bad'] : ['running', 'ok'];
  out.push(
    h('h3', {}, 'Visitor'),
    h('table', {},
      h('tr', {}, h('td', {}, 'chat ID'), h('td', { class: 'id' }, text(m.id))),
      h('tr', {}, h('td', {}, 'state'), h('td', { class: state[1] }, state[0])),
      h('tr', {}, h('td', {}, 'endpoint'), h('td', {}, m.endpoint ? String(m.endpoint) : 'none — tagging only, nothing sent'))),
  );

  const ids = m.identifiers || {};
  const idRows = [];
  for (const [k, v] of Object.entries(ids)) {
    if (v == null || v === '') continue;
    if (k === 'utm' && typeof v === 'object') {
      for (const [uk, uv] of Object.entries(v)) if (uv) idRows.push(h('tr', {}, h('td', {}, `utm_${uk}`), h('td', {}, String(uv))));
    } else idRows.push(h('tr', {}, h('td', {}, k), h('td', {}, String(v))));
  }
  out.push(h('h3', {}, 'Identifiers'), idRows.length ? h('table', {}, ...idRows) : h('div', { class: 'muted' }, 'none yet'));

  const links = Array.isArray(m.links) ? m.links : [];
  const tagged = links.filter((l) => l && l.tagged).length;
  out.push(h('h3', {}, `Messenger links: ${links.length} found, ${tagged} tagged`));
  const rows = links.slice(0, MAX_ROWS).map((l) => {
    const mark = l.tagged ? h('span', { class: 'ok', 'aria-label': 'tagged' }, '✓') : h('span', { class: 'no', 'aria-label': 'not tagged' }, '–');
    const what = l.tagged ? text(l.kind || l.messenger) : h('span', { class: 'why' }, text(l.reason || l.skip));
    const row = h('tr', {}, h('td', {}, mark, ' ', what), h('td', { title: text(l.href) }, text(l.href)));
    // Pointing at a row outlines its link on the page, without touching the page's DOM.
    if (l.element && typeof l.element.getBoundingClientRect === 'function') {
      row.addEventListener('mouseenter', () => {
        const r = l.element.getBoundingClientRect();
        Object.assign(box.style, { left: `${r.left - 2}px`, top: `${r.top - 2}px`, width: `${r.width}px`, height: `${r.height}px` });
        box.hidden = false;
      });
      row.addEventListener('mouseleave', () => (box.hidden = true));
    }
    return row;
  });
  out.push(rows.length ? h('table', {}, ...rows) : h('div', { class: 'muted' }, 'none on this page'));
  if (links.length > MAX_ROWS) out.push(h('div', { class: 'muted' }, `… and ${links.length - MAX_ROWS} more`));

  const events = Array.isArray(m.events) ? m.events : [];
  out.push(h('h3', {}, `Events: ${events.length}`));
  const evRows = events.slice(-MAX_ROWS).reverse().map((e) => {
    const when = Number.isFinite(e.ts) ? new Date(e.ts).toLocaleTimeString() : '';
    return h('tr', {},
      h('td', {}, `${text(e.type)} `, h('span', { class: STATUS_CLASS[e.status] || 'muted' }, text(e.status))),
      h('td', {}, `${when} ${text(e.event_id)}${e.detail ? ` — ${e.detail}` : ''}`));
  });
  out.push(evRows.length ? h('table', {}, ...evRows) : h('div', { class: 'muted' }, 'nothing sent yet'));
  return out;
}
