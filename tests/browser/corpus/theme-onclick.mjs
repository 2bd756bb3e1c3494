// Hand-written theme buttons (see SOURCES.md for the public examples): an onclick that assigns
// location.href, a location.assign, a custom element whose shadow-root button assigns
// window.location.href, and plain links of every kind that must stay as written.
export default {
  name: 'theme buttons and links',
  body: `
<button id="th-tg" onclick="location.href='https://t.me/flower_shop_bot'">Telegram bot</button>
<span id="th-wa" role="button" onclick="window.location.assign('https://wa.me/79991234567?text=' + encodeURIComponent('Hello!'))">WhatsApp</span>
<chat-widget id="th-widget"></chat-widget>
<script>
  customElements.define('chat-widget', class extends HTMLElement {
    connectedCallback() {
      const root = this.attachShadow({ mode: 'open' });
      root.innerHTML = '<div class="bubble" id="bubble" style="cursor:pointer">Chat</div>';
      root.getElementById('bubble').addEventListener('click', () => { window.location.href = 'https://t.me/flower_shop_bot?start=widget'; });
    }
  });
</script>
<nav>
  <a id="same-share-tg" href="https://t.me/share/url?url=https%3A%2F%2Fshop.example%2F&amp;text=Roses">Share on Telegram</a>
  <a id="same-share-wa" href="https://api.whatsapp.com/send?text=Look%20https%3A%2F%2Fshop.example">Share on WhatsApp</a>
  <a id="same-wa-message" href="https://wa.me/message/ABCDEFGHIJKL1">WhatsApp short link</a>
  <a id="same-wa-catalog" href="https://wa.me/c/79991234567">Catalogue</a>
  <a id="same-invite" href="https://chat.whatsapp.com/F4kEgr0uPInv1te">Group</a>
  <a id="same-joinchat" href="https://t.me/joinchat/AAAAAEkk2WdoDrB4-Q8-gg">Telegram group</a>
  <a id="same-channel-post" href="https://t.me/flower_news/42">A channel post</a>
  <a id="same-off" data-chattag="off" href="https://t.me/flower_news">Our channel (opted out)</a>
  <a id="same-mail" href="mailto:shop@example.com?subject=WhatsApp">Mail</a>
  <a id="same-page" href="/delivery?via=wa.me">Delivery</a>
  <a id="same-other" href="https://example.com/t.me/whatsapp">Elsewhere</a>
</nav>`,
  opens: [
    { click: '#th-tg', host: 't.me', param: 'start' },
    { click: '#th-wa', host: 'wa.me', param: 'text', keeps: 'Hello!' },
    { click: '#th-widget', host: 't.me', param: 'start', keeps: 'widget_' },
  ],
  same: ['#same-share-tg', '#same-share-wa', '#same-wa-message', '#same-wa-catalog', '#same-invite', '#same-joinchat', '#same-channel-post', '#same-off', '#same-mail', '#same-page', '#same-other'],
};
