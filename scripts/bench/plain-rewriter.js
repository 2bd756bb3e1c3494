// The benchmark's yardstick: a minimal, honest plain-JS messenger-link rewriter.
//
// It does what a hand-written tracker script does for the same links: one native
// querySelectorAll prefilter, a host/path check per candidate, the ID appended to `text` /
// `start` / `context` with encodeURIComponent, setAttribute, and a MutationObserver for links
// added later (ignoring its own writes). No storage, no events, no wasm — so it is the floor
// the snippet is compared against, not a competitor. Loaded as a classic script with the same
// data-prefix attribute the bench gives the snippet.
(function () {
  'use strict';
  var SELECTOR = [
    'a[href*="wa.me" i]', 'a[href*="whatsapp" i]', 'a[href*="t.me/" i]', 'a[href*="telegram." i]',
    'a[href^="tg:" i]', 'a[href^="viber:" i]', 'a[href*="max.ru/" i]',
  ].join(',');
  var script = document.currentScript;
  var prefix = (script && script.getAttribute('data-prefix')) || 'CT';
  var ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

  function makeId() {
    var bytes = new Uint8Array(7);
    crypto.getRandomValues(bytes);
    var body = '';
    for (var i = 0; i < 7; i++) body += ALPHABET[bytes[i] & 31];
    var factor = 2;
    var sum = 0;
    for (var j = 6; j >= 0; j--) {
      var addend = factor * ALPHABET.indexOf(body[j]);
      sum += Math.floor(addend / 32) + (addend % 32);
      factor = factor === 2 ? 1 : 2;
    }
    return prefix + body + ALPHABET[(32 - (sum % 32)) % 32];
  }

  var id = makeId();
  var label = '\n\nRequest number: ' + id;

  // Which parameter carries the ID for this href, or null to leave it alone.
  function paramFor(href) {
    var m = /^(?:https?:\/\/)?(?:www\.)?([^\/?#]+)(\/[^?#]*)?/i.exec(href);
    if (/^whatsapp:\/\/send\?/i.test(href)) return 'text';
    if (/^viber:\/\/pa\?/i.test(href)) return 'context';
    if (/^viber:\/\/chat\?/i.test(href)) return 'text';
    if (/^tg:\/\/resolve\?/i.test(href)) return /domain=[^&]*bot(&|$)/i.test(href) ? 'start' : 'text';
    if (!m) return null;
    var host = m[1].toLowerCase();
    var path = m[2] || '/';
    if (host === 'wa.me') return /^\/\d+$/.test(path) ? 'text' : null;
    if (host === 'api.whatsapp.com' || host === 'web.whatsapp.com') return /phone=\d/.test(href) ? 'text' : null;
    if (host === 't.me' || host === 'telegram.me' || host === 'telegram.dog') {
      var name = /^\/([A-Za-z0-9_]+)$/.exec(path);
      if (!name || /startapp=/.test(href)) return null;
      return /bot$/i.test(name[1]) ? 'start' : 'text';
    }
    if (host === 'max.ru') return /^\/[A-Za-z0-9_]+bot$/i.test(path) && !/startapp=/.test(href) ? 'start' : null;
    return null;
  }

  function withParam(href, name) {
    var hash = href.indexOf('#');
    var frag = hash < 0 ? '' : href.slice(hash);
    var rest = hash < 0 ? href : href.slice(0, hash);
    var q = rest.indexOf('?');
    var base = q < 0 ? rest : rest.slice(0, q);
    var pairs = q < 0 ? [] : rest.slice(q + 1).split('&');
    var found = false;
    for (var i = 0; i < pairs.length; i++) {
      var eq = pairs[i].indexOf('=');
      var key = eq < 0 ? pairs[i] : pairs[i].slice(0, eq);
      if (key !== name) continue;
      var value = eq < 0 ? '' : pairs[i].slice(eq + 1);
      if (value.indexOf(id) >= 0) return href;
      found = true;
      pairs[i] = name + '=' + (name === 'text' ? value + encodeURIComponent(value ? label : label.slice(2)) : (value ? value + '_' : '') + id);
    }
    if (!found) pairs.push(name + '=' + (name === 'text' ? encodeURIComponent(label.slice(2)) : id));
    return base + '?' + pairs.join('&') + frag;
  }

  function tag(a) {
    var href = a.getAttribute('href');
    if (!href || a.getAttribute('data-chattag') === 'off') return;
    var name = paramFor(href);
    if (!name) return;
    var next = withParam(href, name);
    if (next !== href) a.setAttribute('href', next);
  }

  function tagAll(root) {
    var list = root.querySelectorAll(SELECTOR);
    for (var i = 0; i < list.length; i++) tag(list[i]);
  }

  tagAll(document);
  new MutationObserver(function (records) {
    for (var i = 0; i < records.length; i++) {
      var r = records[i];
      if (r.type === 'attributes') {
        tag(r.target); // an already tagged href is left as is, so our own writes end here
      } else {
        for (var j = 0; j < r.addedNodes.length; j++) {
          var n = r.addedNodes[j];
          if (n.nodeType !== 1) continue;
          if (n.matches(SELECTOR)) tag(n);
          tagAll(n);
        }
      }
    }
  }).observe(document.documentElement, { subtree: true, childList: true, attributes: true, attributeFilter: ['href'] });
})();
