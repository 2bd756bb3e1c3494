// "Click to Chat" by HoliThemes (WordPress, click-to-chat-for-whatsapp; see SOURCES.md): the
// floating widget is a <div class="ht-ctc-chat"> with the settings in a data attribute; a click
// builds the URL in JavaScript and opens it with window.open — there is no link to tag.
// Reduced to what decides the URL: `pre_filled` with [url] replaced, encodeURIComponent(decodeURI(…)),
// wa.me on mobile or web.whatsapp.com/send on desktop when chosen, a group invite for groups,
// and the shortcode element (data-ctc-link, encodeURI).
export default {
  name: 'Click to Chat (HoliThemes)',
  body: `
<div class="ht-ctc ht-ctc-chat" id="ctc-chat" style="cursor:pointer">WhatsApp us</div>
<span class="ht_ctc_chat_data" data-settings='{"number":"79991234567","pre_filled":"Hello, about [url]","url_structure_d":"","url_target_d":"_blank"}'></span>
<div id="ctc-web" class="ctc-web" style="cursor:pointer" data-number="79990001122">Desktop: WhatsApp Web</div>
<div id="ctc-group" style="cursor:pointer" data-group_id="F4kEgr0uPInv1te">Join our group</div>
<div id="ctc-sc" onclick="ht_ctc_shortcode_click(this);" data-ctc-link="https://wa.me/79995556677?text=Order from the catalogue" data-ctc-type="chat" class="ht-ctc-sc ht-ctc-inline" style="cursor:pointer">Shortcode button</div>
<script>
  function ht_ctc_shortcode_click(t) {
    var data_link = encodeURI(t.getAttribute('data-ctc-link'));
    window.open(data_link, '_blank', 'noopener');
  }
  (function () {
    var s = JSON.parse(document.querySelector('.ht_ctc_chat_data').getAttribute('data-settings'));
    function link(number, web) {
      var a = s.pre_filled;
      try {
        a = a.replaceAll('%', '%25');
        a = a.replace(/\\[url]/gi, window.location.href);
        a = encodeURIComponent(decodeURI(a));
      } catch (e) {}
      return web ? 'https://web.whatsapp.com/send?phone=' + number + '&text=' + a : 'https://wa.me/' + number + '?text=' + a;
    }
    document.getElementById('ctc-chat').addEventListener('click', function () {
      window.open(link(s.number, false), s.url_target_d || '_blank', 'noopener');
    });
    document.getElementById('ctc-web').addEventListener('click', function () {
      window.open(link(this.getAttribute('data-number'), true), '_blank', 'noopener');
    });
    document.getElementById('ctc-group').addEventListener('click', function () {
      window.open('https://chat.whatsapp.com/' + this.getAttribute('data-group_id'), '_blank', 'noopener');
    });
  })();
</script>`,
  opens: [
    { click: '#ctc-chat', host: 'wa.me', param: 'text' },
    { click: '#ctc-web', host: 'web.whatsapp.com', param: 'text' },
    { click: '#ctc-sc', host: 'wa.me', param: 'text' },
  ],
  // A group invite is not a chat with the site: opened exactly as built.
  exact: [{ click: '#ctc-group', url: 'https://chat.whatsapp.com/F4kEgr0uPInv1te' }],
};
