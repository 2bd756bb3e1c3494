// "Joinchat" (WordPress, creame/joinchat; see SOURCES.md): a floating button and any
// a[href="#whatsapp"] with data-phone / data-message; both call open_whatsapp(), which builds
// wa.me/<phone>?text= (or web.whatsapp.com/send?phone=&text= on desktop with "WhatsApp Web"),
// checks it against its own "secure link" pattern and calls window.open(link, 'joinchat',
// 'noopener'). Reduced from the jQuery original to the same calls without jQuery.
export default {
  name: 'Joinchat',
  body: `
<div class="joinchat" data-settings='{"telephone":"79991234567","message_send":"Hi! I would like to order flowers","whatsapp_web":false}'>
  <div class="joinchat__button" id="jc-button" style="cursor:pointer">Open chat</div>
</div>
<p><a id="jc-link" href="#whatsapp" data-phone="79990001122" data-message="Order #15: roses">Ask about order #15</a></p>
<script>
  (function () {
    var settings = JSON.parse(document.querySelector('.joinchat').getAttribute('data-settings'));
    function whatsapp_link(phone, message, wa_web) {
      message = message !== undefined ? message : settings.message_send || '';
      wa_web = wa_web !== undefined ? wa_web : settings.whatsapp_web;
      var link = (wa_web ? 'https://web.whatsapp.com/send?phone=' : 'https://wa.me/') + encodeURIComponent(phone || settings.telephone);
      return link + (message ? (wa_web ? '&text=' : '?text=') + encodeURIComponent(message) : '');
    }
    function open_whatsapp(phone, message) {
      var link = whatsapp_link(phone || settings.telephone, message);
      var secure_link = new RegExp('^https?:\\/\\/(wa\\.me|(api|web|chat)\\.whatsapp\\.com|' + location.hostname.replace('.', '\\.') + ')\\/.*', 'i');
      if (secure_link.test(link)) window.open(link, 'joinchat', 'noopener');
    }
    document.getElementById('jc-button').addEventListener('click', function () { open_whatsapp(); });
    document.addEventListener('click', function (e) {
      var a = e.target.closest('a[href="#whatsapp"]');
      if (!a) return;
      e.preventDefault();
      open_whatsapp(a.getAttribute('data-phone'), a.getAttribute('data-message'));
    });
  })();
</script>`,
  opens: [
    { click: '#jc-button', host: 'wa.me', param: 'text' },
    { click: '#jc-link', host: 'wa.me', param: 'text' },
  ],
};
