// `wa_button` (jempe/whatsapp_button; see SOURCES.md): a floating button and a popup whose form's
// onsubmit builds `phone=<n>&text=<encodeURIComponent(input)>` and navigates `window.location` to
// `https://web.whatsapp.com/send?…` on desktops, `whatsapp://send?…` on iPhones, and on Android to
// the Chrome intent URL `intent://send?…#Intent;package=com.whatsapp;scheme=whatsapp;end&…` (the
// query repeated after `end`, as written). The same intent form, with `scheme=whatsapp;package=…`
// in either order, is common in site code that wants the app rather than the browser (SOURCES.md).
// A page recorder (`__navs`, the Navigation API's navigate event) sees where each navigation goes,
// app schemes included: they cannot be followed in a test browser.
const body = `
<script>window.__navs = []; navigation.addEventListener('navigate', (e) => __navs.push(e.destination.url));</script>
<script>
  var wa_button = {
    phone_number: '',
    init: function (phone, message, title) {
      this.phone_number = phone;
      document.body.insertAdjacentHTML('beforeEnd', '<a id="wa_button" href="javascript:wa_button.show();">WhatsApp</a>');
      document.body.insertAdjacentHTML('beforeEnd', '<div id="wa_button_popup"><a class="wa_close" href="javascript:wa_button.close()">×</a><span class="wa_title"></span><form onsubmit="return wa_button.submit()" id="wa_form"></form></div>');
      document.querySelector('#wa_button_popup .wa_title').innerText = title;
      document.getElementById('wa_form').insertAdjacentHTML('beforeEnd', '<label for="wa_message"></label><span></span>');
      document.querySelector('#wa_form > span').insertAdjacentHTML('beforeEnd', '<input id="wa_message" required >');
      document.querySelector('#wa_form > span').insertAdjacentHTML('beforeEnd', '<button type="submit">Send</button>');
      document.querySelector("label[for='wa_message']").innerText = message;
    },
    show: function () { document.body.classList.add('wa_show_popup'); },
    close: function () { document.body.classList.remove('wa_show_popup'); },
    submit: function () {
      var wa_query_vars = 'phone=' + this.phone_number + '&text=' + encodeURIComponent(document.getElementById('wa_message').value);
      var wa_url = 'https://web.whatsapp.com/send?' + wa_query_vars;
      if (/(iPhone|iPod)/.test(navigator.userAgent)) {
        wa_url = 'whatsapp://send?' + wa_query_vars;
      } else if (/android\\s/i.test(navigator.userAgent)) {
        wa_url = 'intent://send?' + wa_query_vars + '#Intent;package=com.whatsapp;scheme=whatsapp;end&' + wa_query_vars;
      }
      window.location = wa_url;
      return false;
    },
  };
  document.addEventListener('DOMContentLoaded', function () { wa_button.init('79991234567', 'Write us on WhatsApp', 'Flower shop'); });
</script>
<button id="intent-scheme-first" onclick="location.href = 'intent://send?phone=79990001122&text=' + encodeURIComponent('Order #15') + '#Intent;scheme=whatsapp;package=com.whatsapp;end'">Android app</button>`;

const send = { fill: ['#wa_message', 'Roses for Friday'], click: '#wa_form button' };

export const desktop = {
  name: 'wa_button: form onsubmit → window.location = web.whatsapp.com',
  body,
  opens: [{ ...send, host: 'web.whatsapp.com', param: 'text', keeps: 'Roses for Friday' }],
};

export const iphone = {
  name: 'wa_button on an iPhone: window.location = whatsapp://send',
  context: { userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1', isMobile: true, hasTouch: true, viewport: { width: 390, height: 844 } },
  body,
  navigates: [{ ...send, scheme: 'whatsapp:', param: 'text', keeps: 'Roses for Friday' }],
};

// One intent navigation per test: after a tab has navigated to one external-protocol URL,
// headless Chromium fires no navigate event for the next one in that tab, even after a reload
// (seen here with no snippet on the page), so each Android case gets a browser context of its own.
const android = { userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36', isMobile: true, hasTouch: true, viewport: { width: 412, height: 915 } };

export const androidForm = {
  name: 'wa_button on Android: the form sets window.location = intent://send?…#Intent;package=com.whatsapp;scheme=whatsapp;end&…',
  context: android,
  body,
  navigates: [{ ...send, scheme: 'intent:', param: 'text', keeps: 'Roses for Friday' }],
};

export const androidLink = {
  name: 'an Android intent link, scheme before package: location.href = intent://send?…#Intent;scheme=whatsapp;package=com.whatsapp;end',
  context: android,
  body,
  navigates: [{ click: '#intent-scheme-first', scheme: 'intent:', param: 'text', keeps: 'Order #15' }],
};
