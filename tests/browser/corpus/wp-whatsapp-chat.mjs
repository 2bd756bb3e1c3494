// "Social Chat" / WhatsApp Chat by QuadLayers (WordPress plugin `wp-whatsapp-chat`; see SOURCES.md),
// two generations of its front end, reduced to what decides the URL and how it is opened.
//
// 7.x (build/frontend/js/index.js, no framework): the button and every contact are
// `<a data-action="open" data-phone data-message target="_blank">` with NO href. One click
// listener on the #qlwapp container runs `open()`, which sets the href attribute *during the
// click* — `https://api.whatsapp.com/send` on a touch screen (`matchMedia('(pointer:coarse)')`),
// else `https://web.whatsapp.com/send`, + `?phone=<data-phone>&text=` + encodeURIComponent(message)
// — or the group link itself for `data-type="group"`; the browser then follows that href. The
// reply box copies the textarea into the send link's `data-message` on keyup.
export const classic = {
  name: 'WhatsApp Chat (QuadLayers) 7.x: href set during the click',
  body: `
<div id="qlwapp" class="qlwapp qlwapp-free qlwapp-bubble qlwapp-bottom-right qlwapp-all qlwapp-rounded">
  <div class="qlwapp-container">
    <a id="ql-toggle" class="qlwapp-toggle" data-action="open" data-phone="79991234567" data-message="Hello! I'd like to order flowers" role="button" tabindex="0" target="_blank">
      <i class="qlwapp-icon qlwapp-whatsapp-icon"></i><span class="qlwapp-text">How can I help you?</span>
    </a>
    <div class="qlwapp-box">
      <a id="ql-account" class="qlwapp-account" data-action="open" data-phone="79990001122" data-message="Order #15: a question" role="button" tabindex="0" target="_blank"><span class="qlwapp-name">Anna</span></a>
      <a id="ql-group" class="qlwapp-account" data-action="open" data-type="group" data-group="https://chat.whatsapp.com/F4kEgr0uPInv1te" role="button" tabindex="0" target="_blank"><span class="qlwapp-name">Our group</span></a>
      <div class="qlwapp-footer" data-action="response"><pre></pre><textarea id="ql-textarea" maxlength="300"></textarea>
        <a id="ql-reply" class="qlwapp-reply" data-action="open" data-phone="79995556677" data-message="" role="button" tabindex="0" target="_blank">Send</a>
      </div>
    </div>
  </div>
</div>
<script>
  (function () {
    var qlwapp = document.getElementById('qlwapp');
    var mobiledevice = (function () { var m = window.matchMedia('(pointer:coarse)'); return m && m.matches; })();
    function open(e, a) {
      var url = 'https://api.whatsapp.com/send';
      if (!mobiledevice) url = 'https://web.whatsapp.com/send';
      var message = a.dataset.message || '', phone = a.dataset.phone || '', type = a.dataset.type || 'phone', group = a.dataset.group || '';
      if (type == 'group') a.setAttribute('href', group);
      else a.setAttribute('href', url + '?phone=' + phone + '&text=' + encodeURIComponent(message));
      qlwapp.dispatchEvent(new CustomEvent('qlwapp.click', { bubbles: true, cancelable: true }));
    }
    qlwapp.addEventListener('click', function (e) {
      var t = e.target.closest('[data-action]');
      if (!t || !qlwapp.contains(t)) return;
      if (t.dataset.action == 'open') open(e, t);
    });
    qlwapp.querySelector('[data-action=response]').addEventListener('keyup', function (e) {
      if (e.target.matches('textarea')) qlwapp.querySelector('.qlwapp-reply').dataset.message = e.target.value;
    });
  })();
</script>`,
  opens: [
    { click: '#ql-toggle', host: 'web.whatsapp.com', param: 'text', keeps: "Hello! I'd like to order flowers" },
    { click: '#ql-account', host: 'web.whatsapp.com', param: 'text', keeps: 'Order #15: a question' },
    { fill: ['#ql-textarea', 'Roses for Friday'], click: '#ql-reply', host: 'web.whatsapp.com', param: 'text' },
  ],
  exact: [{ click: '#ql-group', url: 'https://chat.whatsapp.com/F4kEgr0uPInv1te' }],
};

// The 7.x widget on a touch screen: `api.whatsapp.com/send` instead of WhatsApp Web.
export const classicTouch = {
  ...classic,
  name: 'WhatsApp Chat (QuadLayers) 7.x on a touch screen',
  context: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
  opens: [
    { click: '#ql-toggle', host: 'api.whatsapp.com', param: 'text', keeps: "Hello! I'd like to order flowers" },
    { fill: ['#ql-textarea', 'Roses for Friday'], click: '#ql-reply', host: 'api.whatsapp.com', param: 'text' },
  ],
};

// 8.x (React; build/frontend/js/index.js): contacts are `<a role="button" target="_blank">`
// without href whose onClick calls preventDefault and then
// `window.open(url, '_blank', 'noreferrer')`, the URL built by one function: on a touch screen /
// mobile user agent `https://api.whatsapp.com/send`, else by the `whatsapp_link_type` setting
// (`web` → `https://web.whatsapp.com/send`, `api` → api.whatsapp.com), then
// `?phone=<digits, leading zeros dropped>&text=<encodeURIComponent(HTML-entity-decoded message)>`;
// a group contact opens `https://chat.whatsapp.com/<code>` (api) or
// `https://web.whatsapp.com/accept?code=<code>` (web). The reply box sends the typed text.
export const react = {
  name: 'WhatsApp Chat (QuadLayers) 8.x: window.open with noreferrer',
  body: `
<div id="qlwapp" class="qlwapp">
  <div class="qlwapp__contact-list">
    <a id="ql8-web" class="qlwapp__contact" role="button" tabindex="0" target="_blank" data-id="0">Anna (web)</a>
    <a id="ql8-api" class="qlwapp__contact" role="button" tabindex="0" target="_blank" data-id="1">Oleg (api)</a>
    <a id="ql8-group" class="qlwapp__contact" role="button" tabindex="0" target="_blank" data-id="2">Our group (web)</a>
    <a id="ql8-group-api" class="qlwapp__contact" role="button" tabindex="0" target="_blank" data-id="3">Our group (api)</a>
  </div>
  <div class="qlwapp__response"><textarea id="ql8-text" class="qlwapp__response__input" name="message" maxlength="300"></textarea>
    <a id="ql8-reply" class="qlwapp__reply" role="button" tabindex="0" target="blank">Send</a></div>
</div>
<script>
  (function () {
    var contacts = [
      { type: 'phone', phone: '+7 (999) 123-45-67', message: 'Hello &amp; welcome! About {order}', whatsapp_link_type: 'web' },
      { type: 'phone', phone: '0079990001122', message: 'Hi', whatsapp_link_type: 'api' },
      { type: 'group', group: 'https://chat.whatsapp.com/F4kEgr0uPInv1te', whatsapp_link_type: 'web' },
      { type: 'group', group: 'https://chat.whatsapp.com/F4kEgr0uPInv1te', whatsapp_link_type: 'api' },
    ];
    function isMobile() { var m = window.matchMedia('(pointer:coarse)'); return (m && m.matches) || /Android|webOS|iPhone|iPad|iPod|BlackBerry|IEMobile|Opera Mini/i.test(navigator.userAgent); }
    function decode(s) { var t = document.createElement('textarea'); t.innerHTML = s; return t.value; }
    function link(c) {
      var type = isMobile() ? 'api' : c.whatsapp_link_type || 'web';
      var base = type == 'api' ? 'https://api.whatsapp.com/send' : 'https://web.whatsapp.com/send';
      if (c.type == 'group') {
        var code = new URL(c.group).pathname.replace('/', '');
        return type == 'api' ? 'https://chat.whatsapp.com/' + code : 'https://web.whatsapp.com/accept?code=' + code;
      }
      var phone = c.phone.toString().replace(/[^0-9]/g, '').replace(/^0+/, '');
      return base + '?phone=' + phone + '&text=' + encodeURIComponent(decode(c.message));
    }
    function send(c) {
      window.dispatchEvent(new CustomEvent('qlwapp.click', { bubbles: true, cancelable: true }));
      window.open(link(c), '_blank', 'noreferrer');
    }
    document.querySelectorAll('.qlwapp__contact').forEach(function (a) {
      a.addEventListener('click', function (e) { e.preventDefault(); send(contacts[+a.dataset.id]); });
    });
    document.getElementById('ql8-reply').addEventListener('click', function (e) {
      e.preventDefault();
      var text = document.getElementById('ql8-text').value;
      if (text.trim()) send({ type: 'phone', phone: '79995556677', message: text, whatsapp_link_type: 'web' });
    });
  })();
</script>`,
  opens: [
    { click: '#ql8-web', host: 'web.whatsapp.com', param: 'text', keeps: 'Hello & welcome! About {order}' },
    { click: '#ql8-api', host: 'api.whatsapp.com', param: 'text', keeps: 'Hi' },
    { fill: ['#ql8-text', 'Roses & tulips, 50%'], click: '#ql8-reply', host: 'web.whatsapp.com', param: 'text', keeps: 'Roses & tulips, 50%' },
  ],
  // Group invites, on the web and in the app: not a chat with the site, opened exactly as built.
  exact: [
    { click: '#ql8-group', url: 'https://web.whatsapp.com/accept?code=F4kEgr0uPInv1te' },
    { click: '#ql8-group-api', url: 'https://chat.whatsapp.com/F4kEgr0uPInv1te' },
  ],
};
