// Hand-written contact strips of small-business sites (see SOURCES.md for the public files): the
// link forms site owners copy from their phones and from WhatsApp's own redirect, written as they
// are in real templates — WhatsApp's `api.whatsapp.com/send/?phone=…&text&type=phone_number&app_absent=0`
// (a bare `text` with no `=`, sometimes `phone=%2B…`), `wa.me/<n>?web=1&app_absent=1` (with a
// trailing `&` too), and MAX: a bot `max.ru/<name>_bot`, a person's profile `max.ru/u/<hash>`, a
// channel invite `max.ru/join/<hash>`, next to a Telegram invite `t.me/+<hash>`.
export default {
  name: 'contact strips: WhatsApp redirect copies and MAX links',
  body: `
<ul class="nav">
  <li><a id="wa-redirect" href="https://api.whatsapp.com/send/?phone=79991234567&text&type=phone_number&app_absent=0" target="_blank">WhatsApp</a></li>
  <li><a id="wa-redirect-plus" href="https://api.whatsapp.com/send/?phone=%2B79990001122&text&type=phone_number&app_absent=0" target="blank">WhatsApp</a></li>
  <li><a id="wa-web" class="nav-link ico-button" href="https://wa.me/79856445775?web=1&amp;app_absent=1" target="_blank">WhatsApp</a></li>
  <li><a id="wa-web-amp" class="nav-link ico-button" href="https://wa.me/79307878068?web=1&amp;app_absent=1&amp;" target="_blank">WhatsApp</a></li>
  <li><a id="max-bot" href="https://max.ru/id141002165689_bot" target="_blank" rel="noopener noreferrer">MAX</a></li>
  <li><a id="max-profile" href="https://max.ru/u/f9LHodD0cOLehfNZxc-dfvXrRQQ-ApKrfczCjbhEa_va3lGdtndd7SgNP8U" target="_blank">MAX</a></li>
  <li><a id="max-join" href="https://max.ru/join/71zj5_0T4kYH_ovGMZvgR3yuSPQB4-ipx6Zbmxxv2SY" target="_blank">Мы в Max</a></li>
  <li><a id="max-home" href="https://max.ru/" target="_blank">MAX</a></li>
  <li><a id="tg-invite" href="https://t.me/+5n82n8_XYm5iNDIy" target="_blank">Мы в Telegram</a></li>
</ul>`,
  tagged: [
    { sel: '#wa-redirect', param: 'text', params: { phone: '79991234567', type: 'phone_number', app_absent: '0' } },
    { sel: '#wa-redirect-plus', param: 'text', params: { phone: '+79990001122', type: 'phone_number', app_absent: '0' } },
    { sel: '#wa-web', param: 'text', params: { web: '1', app_absent: '1' } },
    { sel: '#wa-web-amp', param: 'text', params: { web: '1', app_absent: '1' } },
    { sel: '#max-bot', param: 'start' },
  ],
  opens: [
    { click: '#wa-redirect', host: 'api.whatsapp.com', param: 'text' },
    { click: '#max-bot', host: 'max.ru', param: 'start' },
  ],
  exact: [
    { click: '#max-profile', url: 'https://max.ru/u/f9LHodD0cOLehfNZxc-dfvXrRQQ-ApKrfczCjbhEa_va3lGdtndd7SgNP8U' },
    { click: '#max-join', url: 'https://max.ru/join/71zj5_0T4kYH_ovGMZvgR3yuSPQB4-ipx6Zbmxxv2SY' },
  ],
  same: ['#max-profile', '#max-join', '#max-home', '#tg-invite'],
};
