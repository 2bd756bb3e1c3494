// "WhatsChat - WhatsApp Chat Widget jQuery Plugin" by Black Theme (sold on CodeCanyon, copied into
// many site templates; see SOURCES.md): `<a class="wc-list" number message>` without href; a click
// calls `window.open(url, '-blank')` (a window *named* "-blank", as written) with the message
// concatenated RAW — spaces, Cyrillic, emoji unencoded — into `https://wa.me/<n>/?text=` (a slash
// after the number) on a mobile user agent, else `https://web.WhatsApp.com/send?phone=<n>&text=`
// (the host in mixed case).
const body = `
<div class="wc-panel"><div class="wc-footer">
  <a id="wc-manager" class="wc-list" number="79991234567" message="Здравствуйте! Вопрос по заказу 👋"><p>Chat</p></a>
  <a id="wc-plain" class="wc-list" number="79990001122" message=""><p>Chat</p></a>
</div></div>
<script>
  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('.wc-list').forEach(function (a) {
      a.addEventListener('click', function () {
        var number = a.getAttribute('number');
        var message = a.getAttribute('message');
        if (/Android|webOS|iPhone|iPad|iPod|BlackBerry|IEMobile|Opera Mini/i.test(navigator.userAgent)) {
          window.open('https://wa.me/' + number + '/?text=' + message, '-blank');
        } else {
          window.open('https://web.WhatsApp.com/send?phone=' + number + '&text=' + message, '-blank');
        }
      });
    });
  });
</script>`;

export default {
  name: 'WhatsChat (Black Theme): raw message into window.open',
  body,
  opens: [
    { click: '#wc-manager', host: 'web.whatsapp.com', param: 'text', keeps: 'Здравствуйте! Вопрос по заказу 👋' },
    { click: '#wc-plain', host: 'web.whatsapp.com', param: 'text' },
  ],
};

export const mobile = {
  name: 'WhatsChat (Black Theme) on a phone: wa.me/<n>/?text=',
  context: { userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36', isMobile: true, hasTouch: true, viewport: { width: 412, height: 915 } },
  body,
  opens: [
    { click: '#wc-manager', host: 'wa.me', param: 'text', keeps: 'Здравствуйте! Вопрос по заказу 👋' },
    { click: '#wc-plain', host: 'wa.me', param: 'text' },
  ],
};
