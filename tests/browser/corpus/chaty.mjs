// "Chaty" by Premio (WordPress plugin `chaty`, 3.3.1; see SOURCES.md). PHP puts each channel's
// settings into `chaty_settings.chaty_widgets[].social[]` (the Telegram URL `https://telegram.me/`
// + the name without `@`; a Viber value that is not a number gets `viber_url: 'viber://pa?chatURI='`);
// js/cht-front-script.js renders the widget after the document is ready and builds each channel's
// <a> in getChannelURL():
// - WhatsApp: `decodeURI(pre_set_message)`, `{title}` / `{url}` replaced, `encodeURIComponent`,
//   then `https://wa.me/<n>?text=<msg>` (mobile, and desktop without "WhatsApp Web") or
//   `https://web.whatsapp.com/send?phone=<n>&text=<msg>` (desktop with it), `text=` present even
//   when empty;
// - WhatsApp with the "chat popup": the link is `javascript:;` and the popup holds a GET form,
//   `<form action="https://wa.me/<n>" target="_blank">` with one `<input name="text">` prefilled
//   with the preset (desktop with WhatsApp Web: action `https://web.whatsapp.com/send` and a hidden
//   `phone` input after it); submitting it opens `…?text=<typed, form-encoded>`;
// - Viber: `viber://pa?chatURI=<value>` when `viber_url` is set, else
//   `viber://chat?number=<digits>` (`+` trimmed, put back only on iOS);
// - VK: `https://vk.me/<value>`.
// Mobile is decided by a user-agent regex (reduced here to /Android|iPhone|iPad|iPod|Mobile/).
// The markup is built by string concatenation with single-quoted attributes, as in the original.
const MOBILE = /Android|iPhone|iPad|iPod|Mobile/i;

export const script = `(function () {
  var isChatyInMobile = ${MOBILE}.test(navigator.userAgent) ? 1 : 0;
  function isTrue(v) { return v == 1 || v == 'yes' || v === true || v == 'true'; }
  function trimChar(s, c) { s = s.trim(); while (s.charAt(0) == c) s = s.substring(1); while (s.charAt(s.length - 1) == c) s = s.substring(0, s.length - 1); return s; }
  function preset(m) {
    m = decodeURI(m);
    m = m.replace(/{title}/g, document.title || '');
    return m.replace(/{url}/g, window.location);
  }
  function popup(channel, widgetId) {
    var action = 'https://wa.me/' + channel.value, target = '';
    if (!isChatyInMobile) {
      action = isTrue(channel.is_use_web_version) ? 'https://web.whatsapp.com/send' : 'https://wa.me/' + channel.value;
      target = '_blank';
    }
    var html = "<div class='chaty-outer-forms chaty-popup-whatsapp-form' id='chaty-form-" + widgetId + "-" + channel.channel_type + "'>";
    html += "<form action='" + action + "' target='" + target + "' class='whatsapp-chaty-form' data-widget='" + widgetId + "' data-channel='" + channel.channel_type + "' autocomplete='off'>";
    html += "<input name='text' type='text' id='chaty_whatsapp_input' class='chaty-whatsapp-input' />";
    html += "<button type='submit' class='chaty-whatsapp-button-button'>Send</button>";
    if (!isChatyInMobile && isTrue(channel.is_use_web_version)) html += "<input type='hidden' name='phone' value='" + channel.value + "' />";
    html += '</form></div>';
    document.body.insertAdjacentHTML('beforeend', html);
    if (channel.pre_set_message) document.querySelector('#chaty-form-' + widgetId + '-' + channel.channel_type + ' .chaty-whatsapp-input').value = preset(channel.pre_set_message);
  }
  function getChannelURL(channel, widgetId) {
    if (channel.channel_type == 'Whatsapp') {
      if (isTrue(channel.has_welcome_message)) {
        channel.url = 'javascript:;';
        channel.target = '';
        popup(channel, widgetId);
      } else {
        var msg = channel.pre_set_message ? encodeURIComponent(preset(channel.pre_set_message)) : '';
        if (isChatyInMobile) {
          channel.target = '';
          channel.url = 'https://wa.me/' + channel.value + '?text=' + msg;
        } else {
          channel.target = '_blank';
          channel.url = isTrue(channel.is_use_web_version)
            ? 'https://web.whatsapp.com/send?phone=' + channel.value + '&text=' + msg
            : 'https://wa.me/' + channel.value + '?text=' + msg;
        }
      }
    } else if (channel.channel_type == 'Viber') {
      if (channel.viber_url != '') {
        channel.url = 'viber://pa?chatURI=' + channel.value;
      } else {
        channel.value = trimChar(channel.value, '+');
        if (isChatyInMobile && !isNaN(channel.value) && navigator.userAgent.match(/(iPod|iPhone|iPad)/)) channel.value = '+' + channel.value;
        channel.url = 'viber://chat?number=' + channel.value;
      }
      channel.target = '';
    } else if (channel.channel_type == 'Vkontakte') {
      channel.url = 'https://vk.me/' + channel.value.trim();
    }
    return "<a href='" + channel.url + "' target='" + channel.target + "' rel='nofollow noopener' aria-label='" + channel.channel + "' class='chaty-tooltip chaty-" + channel.channel_type.toLowerCase() + "-channel' id='chaty-" + widgetId + "-" + channel.channel.toLowerCase() + "'>" + channel.hover_text + '</a>';
  }
  document.addEventListener('DOMContentLoaded', function () {
    chaty_settings.chaty_widgets.forEach(function (widget) {
      var html = "<div class='chaty' id='chaty-widget-" + widget.id + "'><div class='chaty-widget'><div class='chaty-channel-list'>";
      widget.social.forEach(function (channel) { html += "<div class='chaty-channel " + channel.channel + "-channel'>" + getChannelURL(channel, widget.id) + '</div>'; });
      document.body.insertAdjacentHTML('beforeend', html + '</div></div></div>');
    });
  });
})();`;

// What the PHP side hands over (class-frontend.php, get_social_icon_list): two widgets, as Chaty
// Pro allows; the second uses WhatsApp Web on desktop and a Viber public account.
const SETTINGS = {
  chaty_widgets: [
    {
      id: 0,
      social: [
        { channel: 'Whatsapp', channel_type: 'Whatsapp', value: '79991234567', hover_text: 'WhatsApp', pre_set_message: 'Hello! A question about {title}', is_use_web_version: '0', has_welcome_message: '0', url: 'https://wa.me/79991234567', target: '_blank', viber_url: '' },
        { channel: 'Telegram', channel_type: 'Telegram', value: 'flower_shop_bot', hover_text: 'Telegram', url: 'https://telegram.me/flower_shop_bot', target: '_blank', viber_url: '' },
        { channel: 'Viber', channel_type: 'Viber', value: '+79991234567', hover_text: 'Viber', url: '+79991234567', target: '', viber_url: '' },
        { channel: 'Vkontakte', channel_type: 'Vkontakte', value: 'flowershop', hover_text: 'VK', url: 'https://vk.me/flowershop', target: '_blank', viber_url: '' },
      ],
    },
    {
      id: 1,
      social: [
        { channel: 'Whatsapp', channel_type: 'Whatsapp', value: '79990001122', hover_text: 'WhatsApp Web', pre_set_message: 'Order from {url}', is_use_web_version: '1', has_welcome_message: '0', url: 'https://web.whatsapp.com/send?phone=79990001122', target: '_blank', viber_url: '' },
        { channel: 'Telegram', channel_type: 'Telegram', value: 'anna_florist', hover_text: 'Florist', url: 'https://telegram.me/anna_florist', target: '_blank', viber_url: '' },
        { channel: 'Viber', channel_type: 'Viber', value: 'flowershop', hover_text: 'Viber shop', url: 'flowershop', target: '', viber_url: 'viber://pa?chatURI=' },
      ],
    },
  ],
};

// The WhatsApp chat popup (welcome message + input), on its own page: one WhatsApp channel per widget.
const POPUP = {
  chaty_widgets: [
    { id: 0, social: [{ channel: 'Whatsapp', channel_type: 'Whatsapp', value: '79991234567', hover_text: 'WhatsApp', pre_set_message: 'Hi, about {title}', is_use_web_version: '0', has_welcome_message: '1', url: 'javascript:;', target: '', viber_url: '' }] },
    { id: 1, social: [{ channel: 'Whatsapp', channel_type: 'Whatsapp', value: '79990001122', hover_text: 'WhatsApp Web', pre_set_message: '', is_use_web_version: '1', has_welcome_message: '1', url: 'javascript:;', target: '', viber_url: '' }] },
  ],
};

const page = (settings) => `<script>var chaty_settings = ${JSON.stringify(settings)};</script><script>${script}</script>
<p><a id="chaty-off" href="https://t.me/flower_news" data-chattag="off">Channel</a></p>`;

export default {
  name: 'Chaty (Premio)',
  body: page(SETTINGS),
  // Rendered after the document is ready: the app-scheme links cannot be followed in a test
  // browser, so their live href is checked.
  tagged: [
    { sel: '#chaty-0-viber', param: 'text', keeps: null },
    { sel: '#chaty-1-viber', param: 'context' },
  ],
  opens: [
    { click: '#chaty-0-whatsapp', host: 'wa.me', param: 'text', keeps: 'Hello! A question about Flower shop' },
    { click: '#chaty-0-telegram', host: 'telegram.me', param: 'start' },
    { click: '#chaty-1-whatsapp', host: 'web.whatsapp.com', param: 'text', keeps: 'Order from http' },
    { click: '#chaty-1-telegram', host: 'telegram.me', param: 'text' },
  ],
  same: ['#chaty-off'],
  rendered: { '#chaty-0-vkontakte': 'https://vk.me/flowershop' },
};

export const popup = {
  name: 'Chaty (Premio): WhatsApp chat popup (a GET form)',
  body: page(POPUP),
  opens: [
    { fill: ['#chaty-form-0-Whatsapp .chaty-whatsapp-input', 'Hello, I would like roses'], click: '#chaty-form-0-Whatsapp button[type=submit]', host: 'wa.me', param: 'text', keeps: 'Hello, I would like roses' },
    { fill: ['#chaty-form-1-Whatsapp .chaty-whatsapp-input', 'Roses please'], click: '#chaty-form-1-Whatsapp button[type=submit]', host: 'web.whatsapp.com', param: 'text', keeps: 'Roses please' },
  ],
};

const IPHONE = {
  userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  viewport: { width: 390, height: 844 },
  isMobile: true,
  hasTouch: true,
};

// The same widget on a phone (iOS): WhatsApp opens wa.me in the same tab (`target=''`), the Viber
// number keeps its `+` unencoded (`viber://chat?number=+7…`, which a form decoder reads as a space).
export const mobile = {
  name: 'Chaty (Premio) on an iPhone',
  context: IPHONE,
  body: page(SETTINGS),
  tagged: [
    { sel: '#chaty-0-viber', param: 'text' },
    { sel: '#chaty-1-viber', param: 'context' },
  ],
  opens: [
    { click: '#chaty-0-whatsapp', host: 'wa.me', param: 'text', keeps: 'Hello! A question about Flower shop' },
    // "WhatsApp Web" is for desktops: on a phone the widget builds wa.me even when it is chosen.
    { click: '#chaty-1-whatsapp', host: 'wa.me', param: 'text', keeps: 'Order from http' },
  ],
  rendered: { '#chaty-0-vkontakte': 'https://vk.me/flowershop' },
};

// The popup on a phone: both forms post to `https://wa.me/<n>` with no target, so the submission
// navigates this tab.
export const popupMobile = {
  name: 'Chaty (Premio): WhatsApp chat popup on an iPhone (same tab)',
  context: IPHONE,
  body: page(POPUP),
  opens: [
    { fill: ['#chaty-form-0-Whatsapp .chaty-whatsapp-input', 'Hello, I would like roses'], click: '#chaty-form-0-Whatsapp button[type=submit]', host: 'wa.me', param: 'text', keeps: 'Hello, I would like roses' },
    { fill: ['#chaty-form-1-Whatsapp .chaty-whatsapp-input', 'Roses please'], click: '#chaty-form-1-Whatsapp button[type=submit]', host: 'wa.me', param: 'text', keeps: 'Roses please' },
  ],
};
