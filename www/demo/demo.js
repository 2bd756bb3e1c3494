// The demo shop's own script: product cards and popup (the popup adds a messenger link later,
// as real shops do), plus the demo panel — simulate Metrica / an ad click, and show live what
// the collector stored for this visitor. The snippet itself is the unmodified dist/chattag.js.
(function () {
  'use strict';

  var demo = window.chattagDemo || {};

  var PRODUCTS = [
    { name: 'Spring tulips', price: 2900, desc: '25 tulips in soft pink and white, wrapped in craft paper.', colors: ['#f28fad', '#fde2ea', '#f9b8cb'] },
    { name: 'Peony cloud', price: 5400, desc: '9 lush peonies with eucalyptus. Our bestseller in June.', colors: ['#e46f8e', '#fbdde5', '#d9557a'] },
    { name: 'Sunny morning', price: 3200, desc: 'Sunflowers, chamomile and craspedia in a linen wrap.', colors: ['#f7c948', '#fdf1c4', '#f2a93b'] },
    { name: 'Lavender field', price: 3600, desc: 'Dried lavender and limonium — lasts for months.', colors: ['#9b87d6', '#e6e0fa', '#7a66c2'] },
    { name: 'Classic red roses', price: 4800, desc: '15 Ecuadorian roses, 60 cm, with ruscus.', colors: ['#c9304c', '#f8d7dd', '#a81f3a'] },
    { name: 'Box of hydrangeas', price: 6200, desc: 'Blue hydrangeas and white spray roses in a hat box.', colors: ['#6fa3dc', '#dceaf9', '#4f86c6'] },
  ];

  var rub = function (n) { return n.toLocaleString('ru-RU') + ' ₽'; };

  function flowerSvg(colors) {
    var c = colors;
    return '<svg viewBox="0 0 120 120" aria-hidden="true">' +
      '<path d="M60 116 L48 64 M60 116 L60 58 M60 116 L72 64" stroke="#4d7c4a" stroke-width="3" fill="none" stroke-linecap="round"/>' +
      '<circle cx="46" cy="56" r="15" fill="' + c[0] + '"/><circle cx="74" cy="52" r="16" fill="' + c[2] + '"/><circle cx="60" cy="36" r="15" fill="' + c[0] + '"/>' +
      '<circle cx="46" cy="56" r="7" fill="' + c[1] + '"/><circle cx="74" cy="52" r="7" fill="' + c[1] + '"/><circle cx="60" cy="36" r="7" fill="' + c[1] + '"/>' +
      '<path d="M44 100 L60 80 L76 100 L70 116 L50 116z" fill="#d9c3a5"/></svg>';
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text != null) e.textContent = text;
    return e;
  }

  // Product grid and popup.
  var grid = document.getElementById('products');
  var dialog = document.getElementById('product-dialog');
  PRODUCTS.forEach(function (p, i) {
    var card = el('button', { class: 'card', type: 'button', 'data-index': String(i) });
    var art = el('div', { class: 'card-art' });
    art.innerHTML = flowerSvg(p.colors);
    art.style.background = p.colors[1];
    card.appendChild(art);
    card.appendChild(el('span', { class: 'card-name' }, p.name));
    card.appendChild(el('span', { class: 'card-price' }, rub(p.price)));
    card.addEventListener('click', function () { openProduct(p); });
    grid.appendChild(card);
  });

  function openProduct(p) {
    document.getElementById('dialog-title').textContent = p.name;
    document.getElementById('dialog-price').textContent = rub(p.price);
    document.getElementById('dialog-desc').textContent = p.desc;
    var art = document.getElementById('dialog-art');
    art.innerHTML = flowerSvg(p.colors);
    art.style.background = p.colors[1];
    // The order link is created only now, the way a shop's popup builds it: chattag's
    // MutationObserver tags it when it appears.
    var order = document.getElementById('dialog-order');
    order.textContent = '';
    var text = 'Hello! I would like to order "' + p.name + '" (' + rub(p.price) + ').';
    var a = el('a', { class: 'btn btn-wa', id: 'dialog-wa', href: 'https://wa.me/79991234567?text=' + encodeURIComponent(text) }, 'Order this bouquet on WhatsApp');
    order.appendChild(a);
    if (typeof dialog.showModal === 'function') dialog.showModal();
    else dialog.setAttribute('open', '');
    // After chattag's observer has had its turn with the new link.
    setTimeout(renderLinks, 50);
  }

  // ---- Demo panel --------------------------------------------------------------------------
  var $ = function (id) { return document.getElementById(id); };

  $('demo-toggle').addEventListener('click', function () {
    var hidden = $('demo-panel').classList.toggle('collapsed');
    this.textContent = hidden ? 'show' : 'hide';
    this.setAttribute('aria-expanded', String(!hidden));
  });

  function cookie(name) {
    var m = document.cookie.match(new RegExp('(?:^|; )' + name + '=([^;]*)'));
    return m ? decodeURIComponent(m[1]) : null;
  }

  function randomDigits(n) {
    var s = String(1 + Math.floor(Math.random() * 9));
    while (s.length < n) s += Math.floor(Math.random() * 10);
    return s;
  }

  // A fresh yclid for every "ad click", like Yandex Direct appends to the landing URL.
  function refreshAdLink() {
    var params = new URLSearchParams(location.search);
    params.set('yclid', randomDigits(19));
    params.set('utm_source', 'yandex');
    params.set('utm_medium', 'cpc');
    params.set('utm_campaign', 'spring_bouquets');
    $('sim-ad').setAttribute('href', '?' + params.toString());
  }
  refreshAdLink();

  $('sim-metrica').addEventListener('click', function () {
    var btn = this;
    btn.disabled = true;
    $('sim-status').textContent = 'Metrica tag "loading"… _ym_uid appears in 2 s.';
    setTimeout(function () {
      // Metrica's _ym_uid: 10 digits of seconds + 9 random digits.
      var uid = String(Math.floor(Date.now() / 1000)) + randomDigits(9);
      document.cookie = '_ym_uid=' + uid + '; path=/; max-age=31536000; SameSite=Lax';
      $('sim-status').textContent = 'Metrica set _ym_uid=' + uid + '. chattag picks it up and reports an update.';
      btn.disabled = false;
      renderIds();
    }, 2000);
  });

  function chatId() {
    var c = window.chattag;
    try {
      return c && typeof c.id === 'function' ? c.id() : null;
    } catch (e) {
      return null;
    }
  }

  function renderIds() {
    var id = chatId();
    $('demo-id').textContent = id || (demo.snippetMissing ? 'snippet not built' : 'waiting for the snippet…');
    $('demo-cid').textContent = cookie('_ym_uid') || 'none yet';
    var yclid = new URLSearchParams(location.search).get('yclid');
    $('demo-yclid').textContent = yclid || 'none (not from an ad)';
  }

  function renderLinks() {
    var list = $('link-list');
    list.textContent = '';
    var links = document.querySelectorAll('a[href]');
    var id = chatId();
    var total = 0;
    var tagged = 0;
    Array.prototype.forEach.call(links, function (a) {
      var href = a.getAttribute('href');
      if (!/^(https?:\/\/(wa\.me|api\.whatsapp|t\.me|max\.ru)|viber:|tg:)/i.test(href)) return;
      var isTagged = !!id && href.indexOf(id) >= 0;
      total++;
      if (isTagged) tagged++;
      var li = el('li', { class: isTagged ? 'tagged' : 'untagged' });
      li.appendChild(el('span', { class: 'link-name' }, (a.querySelector('.mlabel') || a).textContent.trim()));
      li.appendChild(el('code', null, decodeSafe(href)));
      list.appendChild(li);
    });
    $('link-count').textContent = '· ' + tagged + ' of ' + total + ' carry the ID';
  }

  function decodeSafe(s) {
    try {
      return decodeURIComponent(s);
    } catch (e) {
      return s;
    }
  }

  // ---- What the collector knows ------------------------------------------------------------
  var view = $('collector-view');

  function fmtTime(ms) {
    return ms ? new Date(ms).toLocaleTimeString() : '';
  }

  function renderRecord(r) {
    view.textContent = '';
    var dl = el('dl', { class: 'kv' });
    function row(k, v) {
      if (v == null || v === '') return;
      dl.appendChild(el('dt', null, k));
      dl.appendChild(el('dd', null, String(v)));
    }
    var ids = r.identifiers || {};
    row('Chat ID', r.chat_id);
    row('Site', r.site);
    row('ClientID', ids.client_id);
    row('yclid', ids.yclid);
    if (ids.utm) row('UTM', Object.keys(ids.utm).map(function (k) { return k + '=' + ids.utm[k]; }).join(', '));
    row('UserID', ids.user_id);
    row('Replaced ID', r.prev_chat_id);
    row('Landing page', r.landing_page && r.landing_page.replace(/^https?:\/\/[^/]+/, ''));
    row('Events stored', r.events);
    row('Last event', fmtTime(r.last_seen));
    view.appendChild(dl);
    var clicks = r.clicks || [];
    var h = el('p', { class: 'muted' }, clicks.length ? 'Messenger clicks:' : 'No messenger clicks yet.');
    view.appendChild(h);
    if (clicks.length) {
      var ul = el('ul', { class: 'clicks' });
      clicks.slice(-5).forEach(function (c) {
        ul.appendChild(el('li', null, fmtTime(c.ts) + ' · ' + c.link_kind + ' → ' + c.target));
      });
      view.appendChild(ul);
    }
    var convs = r.conversations || [];
    if (convs.length) {
      view.appendChild(el('p', { class: 'muted' }, 'Chats matched to this visit:'));
      var cl = el('ul', { class: 'clicks chats', id: 'chat-list' });
      convs.forEach(function (c) {
        var how = c.probable ? 'PROBABLE (click timing only, not sent to Metrica by default)' : c.method + ' (the code)';
        cl.appendChild(el('li', null, fmtTime(c.started_at) + ' · ' + c.platform + ' · ' + how + (c.answered ? ' · answered' : '')));
      });
      view.appendChild(cl);
      view.appendChild(metricaBox);
    }
    var raw = el('details');
    raw.appendChild(el('summary', null, 'raw JSON'));
    raw.appendChild(el('pre', null, JSON.stringify(r, null, 2)));
    view.appendChild(raw);
  }

  // ---- Play the customer: the demo server sends the messenger's webhook -----------------
  var metricaBox = el('div', { class: 'metrica-row', id: 'metrica-row' });
  var customers = 0;

  function renderMetrica(m) {
    metricaBox.textContent = '';
    metricaBox.appendChild(el('p', { class: 'muted' }, 'Row Metrica would receive (counter ' + (m.counter || '?') + ', chat import CSV):'));
    if (m.error) {
      metricaBox.appendChild(el('p', { class: 'error' }, m.error));
      return;
    }
    var rows = m.rows || [];
    metricaBox.appendChild(el('pre', null, rows.length ? [m.header].concat(rows).join('\n') : 'no row: ' + ((m.notes || []).join(' ') || 'not exportable yet (no Metrica ID for this visit?)')));
  }

  function refreshMetrica() {
    var id = chatId();
    if (!id || !customers) return;
    fetch('/demo/metrica-row?chat_id=' + encodeURIComponent(id), { cache: 'no-store' })
      .then(function (res) { return res.json(); })
      .then(renderMetrica)
      .catch(function (e) { renderMetrica({ error: e.message }); });
  }

  function write(messenger) {
    var id = chatId();
    if (!id) return;
    $('write-status').textContent = 'Sending a signed ' + messenger + ' webhook…';
    fetch('/demo/write', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messenger: messenger, chat_id: id }) })
      .then(function (res) { return res.json(); })
      .then(function (r) {
        if (r.error) throw new Error(r.error);
        customers++;
        $('write-status').textContent = (messenger === 'whatsapp' ? 'WhatsApp' : 'Telegram') + ' webhook from customer ' + r.partner + ' → collector answered ' + r.status + (r.status === 200 ? ' (the chat appears below)' : ' ' + r.answer);
        poll();
        refreshMetrica();
      })
      .catch(function (e) { $('write-status').textContent = 'Failed: ' + e.message; });
  }

  if (demo.chats) {
    $('demo-customer').hidden = false;
    $('write-wa').addEventListener('click', function () { write('whatsapp'); });
    $('write-tg').addEventListener('click', function () { write('telegram'); });
  }

  var openRaw = false;
  function poll() {
    renderIds();
    renderLinks();
    var id = chatId();
    if (!demo.collectorApi) {
      view.innerHTML = '';
      view.appendChild(el('p', { class: 'muted' }, 'No collector is running: links are tagged, nothing is sent. Start everything with `npm start`.'));
      return;
    }
    if (!id) return;
    var details = view.querySelector('details');
    openRaw = details ? details.open : openRaw;
    fetch(demo.collectorApi + '/v1/chats/' + encodeURIComponent(id), { cache: 'no-store' })
      .then(function (res) {
        if (res.status === 404) return { pending: true };
        if (!res.ok) return res.text().then(function (t) { throw new Error(res.status + ' ' + t.slice(0, 200)); });
        return res.json();
      })
      .then(function (r) {
        if (r.pending) {
          view.textContent = '';
          view.appendChild(el('p', { class: 'muted' }, 'Chat ID ' + id + ' not stored yet (the first report is on its way).'));
          return;
        }
        renderRecord(r);
        var d = view.querySelector('details');
        if (d) d.open = openRaw;
      })
      .catch(function (e) {
        view.textContent = '';
        view.appendChild(el('p', { class: 'error' }, 'Collector unreachable: ' + e.message));
      });
  }

  document.addEventListener('chattag:ready', poll);
  poll();
  setInterval(poll, 1500);
})();
