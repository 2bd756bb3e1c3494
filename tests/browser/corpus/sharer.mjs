// sharer.js (npm "sharer.js", ellisonleao/sharer.js; see SOURCES.md): share buttons whose click
// builds `shareUrl?key=encodeURIComponent(value)&…` for every non-empty value and opens it in a
// popup. WhatsApp shares go to wa.me/?text=, Telegram shares to t.me/share?text=&url=. Share
// links carry someone else's conversation: they must open exactly as built.
export default {
  name: 'sharer.js',
  body: `
<button class="sharer" id="share-wa" data-sharer="whatsapp" data-title="Spring roses" data-url="https://shop.example/roses">Share on WhatsApp</button>
<button class="sharer" id="share-wa-web" data-sharer="whatsapp" data-web="true" data-title="Spring roses" data-url="https://shop.example/roses">Share on WhatsApp Web</button>
<button class="sharer" id="share-tg" data-sharer="telegram" data-title="Spring roses" data-url="https://shop.example/roses">Share on Telegram</button>
<script>
  (function () {
    function get(el, k) { var v = el.getAttribute('data-' + k); return v === null ? '' : v; }
    function share(el) {
      var sharers = {
        whatsapp: { shareUrl: get(el, 'web') === 'true' ? 'https://web.whatsapp.com/send' : 'https://wa.me/', params: { phone: get(el, 'to'), text: get(el, 'title') + ' ' + get(el, 'url') } },
        telegram: { shareUrl: 'https://t.me/share', params: { text: get(el, 'title'), url: get(el, 'url') } },
      };
      var s = sharers[get(el, 'sharer')], p = s.params, keys = Object.keys(p), str = '';
      for (var i = 0; i < keys.length; i++) {
        if (p[keys[i]]) str += (str ? '&' : '?') + keys[i] + '=' + encodeURIComponent(p[keys[i]]);
      }
      window.open(s.shareUrl + str, '', 'scrollbars=0,resizable=1,menubar=0,left=100,top=100,width=600,height=480,toolbar=0,status=0');
    }
    document.querySelectorAll('.sharer').forEach(function (el) { el.addEventListener('click', function () { share(el); }); });
  })();
</script>`,
  exact: [
    { click: '#share-wa', url: 'https://wa.me/?text=Spring%20roses%20https%3A%2F%2Fshop.example%2Froses' },
    { click: '#share-wa-web', url: 'https://web.whatsapp.com/send?text=Spring%20roses%20https%3A%2F%2Fshop.example%2Froses' },
    { click: '#share-tg', url: 'https://t.me/share?text=Spring%20roses&url=https%3A%2F%2Fshop.example%2Froses' },
  ],
};
