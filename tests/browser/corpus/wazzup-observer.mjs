// Wazzup's "ChangeLinkWA", MutationObserver variant (see SOURCES.md): on any mutation of <body>
// it rewrites every WhatsApp link whose `text=` is not exactly its own message (with the visitor's
// analytics cookie in it). Modelled line by line on the published script; a site owner trying
// chattag while this is still installed must not lose the page.
export const script = `(function () {
  function ChangeLinkWA() {
    this.text = 'I have a question. Request number: {wz_metric}';
    this.cookieSource = 'roistat_visit';
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
  var self = new ChangeLinkWA();
  new MutationObserver(function () { self.censusLinks(); }).observe(document.body, {
    attributeFilter: ['href'], attributes: true, childList: true, attributeOldValue: true,
    characterDataOldValue: true, characterData: true, subtree: true,
  });
})();`;
