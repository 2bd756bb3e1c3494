// Tilda's messenger widget, block T898 ("виджет мессенджеров"; see SOURCES.md): a floating button
// (a checkbox + label) that reveals plain links, one per service, in the exported markup:
// `<a class="t898__icon t898__icon-<service>_wrapper t898__icon_link" href="…" target="_blank"
// rel="nofollow noopener noreferrer">` — `https://t.me/<name>`, `https://wa.me/<phone>`,
// `viber://chat?number=%2B<phone>`, `https://vk.me/<name>`, `mailto:`, `tel:`. The only script,
// `t898_init(recId)` (run on ready, in older exports 500 ms after jQuery's ready), rewrites the
// WhatsApp href as written in the editor: with `?text=` it strips `( ) + -` from the part before
// it; without, it removes only the FIRST of them (`replace` without `g`), exactly as here. Site
// owners type the message raw (Cyrillic, spaces): the href keeps it unencoded.
export default {
  name: 'Tilda T898 messenger widget',
  body: `
<div id="allrecords" data-tilda-lazy="no">
<div id="rec463609367" class="r t-rec" data-record-type="898">
  <div class="t898">
    <div class="t898__wrapper">
      <input type="checkbox" class="t898__btn_input" id="t898__btn_input_463609367">
      <label for="t898__btn_input_463609367" class="t898__btn_label">Write to us</label>
      <a id="t898-tg" class="t898__icon t898__icon-telegram_wrapper t898__icon_link" href="https://t.me/FlowerShopManager" target="_blank" rel="nofollow noopener noreferrer"><span class="t898__tooltip t-name t-name_xs">Telegram</span></a>
      <a id="t898-wa" class="t898__icon t898__icon-whatsapp_wrapper t898__icon_link" href="https://wa.me/+7(999)123-45-67?text=Здравствуйте, хочу заказать букет" target="_blank" rel="nofollow noopener noreferrer"><span class="t898__tooltip t-name t-name_xs">WhatsApp</span></a>
      <a id="t898-viber" class="t898__icon t898__icon-viber_wrapper t898__icon_link" href="viber://chat?number=%2B79991234567" target="_blank" rel="nofollow noopener noreferrer"><span class="t898__tooltip t-name t-name_xs">Viber</span></a>
      <a id="t898-vk" class="t898__icon t898__icon-vk_wrapper t898__icon_link" href="https://vk.me/flowershop" target="_blank" rel="nofollow noopener noreferrer"><span class="t898__tooltip t-name t-name_xs">VK</span></a>
      <a id="t898-mail" class="t898__icon t898__icon-mail_wrapper t898__icon_link" href="mailto:shop@example.com" target="_blank" rel="nofollow noopener noreferrer"><span class="t898__tooltip t-name t-name_xs">Mail</span></a>
      <a id="t898-phone" class="t898__icon t898__icon-phone_wrapper t898__icon_link" href="tel:+79991234567" target="_blank" rel="nofollow noopener noreferrer"><span class="t898__tooltip t-name t-name_xs">Phone</span></a>
    </div>
  </div>
</div>
<div id="rec463609368" class="r t-rec" data-record-type="898">
  <div class="t898">
    <div class="t898__wrapper">
      <a id="t898-wa-dashes" class="t898__icon t898__icon-whatsapp_wrapper t898__icon_link" href="https://wa.me/+7(999)765-43-21" target="_blank" rel="nofollow noopener noreferrer">WhatsApp</a>
    </div>
  </div>
</div>
<div id="rec463609369" class="r t-rec" data-record-type="898">
  <div class="t898">
    <div class="t898__wrapper">
      <a id="t898-wa-app" class="t898__icon t898__icon-whatsapp_wrapper t898__icon_link" href="whatsapp://send?phone=+79990001122" target="_blank" rel="nofollow noopener noreferrer">WhatsApp app</a>
    </div>
  </div>
</div>
</div>
<script>
  function t898_init(recId) {
    var rec = document.getElementById('rec' + recId);
    if (!rec) return;
    var container = rec.querySelector('.t898');
    if (!container) return;
    rec.setAttribute('data-animationappear', 'off');
    rec.style.opacity = 1;
    var whatsApp = rec.querySelector('.t898__icon-whatsapp_wrapper');
    if (whatsApp) {
      var whatsAppHref = whatsApp.getAttribute('href');
      if (whatsAppHref && (whatsAppHref.indexOf('whatsapp://') > -1 || whatsAppHref.indexOf('wa.me') > -1)) {
        t898_removeExtraSymbolsFromWhatsApp(whatsApp, whatsAppHref);
      }
    }
  }
  function t898_removeExtraSymbolsFromWhatsApp(whatsApp, whatsAppHref) {
    if (whatsAppHref && whatsAppHref.indexOf('?text=') !== -1) {
      var whatsAppHrefArr = whatsAppHref.split('?text=');
      whatsAppHrefArr[0] = whatsAppHrefArr[0].replace(/[\\(\\)+-]/g, '');
      whatsAppHref = whatsAppHrefArr[0] + '?text=' + whatsAppHrefArr[1];
    } else {
      whatsAppHref = whatsAppHref.replace(/[\\(\\)+-]/, '');
    }
    whatsApp.setAttribute('href', whatsAppHref);
  }
  document.addEventListener('DOMContentLoaded', function () {
    setTimeout(function () { t898_init('463609367'); t898_init('463609368'); t898_init('463609369'); }, 500);
  });
</script>`,
  tagged: [
    // Tagged once t898_init has cleaned it (before that `+7(999)…` is not a number WhatsApp takes).
    { sel: '#t898-wa', param: 'text', keeps: 'Здравствуйте, хочу заказать букет' },
    { sel: '#t898-viber', param: 'text' },
    { sel: '#t898-wa-app', param: 'text' },
  ],
  opens: [
    { click: '#t898-tg', host: 't.me', param: 'text' },
    { waitFor: "document.getElementById('rec463609367').style.opacity == '1'", click: '#t898-wa', host: 'wa.me', param: 'text', keeps: 'Здравствуйте, хочу заказать букет' },
  ],
  same: ['#t898-vk', '#t898-mail', '#t898-phone'],
  // Tilda's one-symbol cleanup leaves `7(999)765-43-21`: not a number, so left exactly as Tilda made it.
  rendered: { '#t898-wa-dashes': 'https://wa.me/7(999)765-43-21' },
};
