// Wazzup's "ChangeLinkWA", interval variant (see SOURCES.md): from DOMContentLoaded it polls
// every 200 ms for the analytics cookie, then rewrites the WhatsApp links once.
export const script = `(function () {
  function ChangeLinkWA() {
    this.text = 'Hello! My request number: {wz_metric}';
    this.cookieSource = '_ym_uid';
  }
  ChangeLinkWA.prototype.editLink = function (url, id) {
    if (decodeURIComponent(url.split('text=')[1]) === this.text.replace(/{wz_metric}/gi, id)) return;
    var phone = (url.match(/\\d+/) || [])[0];
    if (!phone) return;
    var host = url.split(phone)[0];
    return host === 'https://wa.me/'
      ? host + phone + '?text=' + this.text.replace(/{wz_metric}/gi, id)
      : host + phone + '&text=' + this.text.replace(/{wz_metric}/gi, id);
  };
  ChangeLinkWA.prototype.getCookie = function (name) {
    var m = document.cookie.match(new RegExp('(?:^|; )' + name + '=([^;]*)'));
    return m ? decodeURIComponent(m[1]) : undefined;
  };
  ChangeLinkWA.prototype.censusLinks = function () {
    var links = document.querySelectorAll('[href*="//wa.me"], [href*="//api.whatsapp.com/send"], [href*="//web.whatsapp.com/send"], [href^="whatsapp://send"]');
    var id = this.getCookie(this.cookieSource), that = this;
    links.forEach(function (link) {
      var newLink = that.editLink(link.href, id);
      if (newLink) link.href = newLink;
    });
  };
  window.addEventListener('DOMContentLoaded', function () {
    var self = new ChangeLinkWA();
    var interval = setInterval(function () {
      if (self.getCookie(self.cookieSource)) {
        clearInterval(interval);
        self.censusLinks();
      }
    }, 200);
  });
})();`;
