//! Moving links between the page and `links::tag`: the shell (www/loader/shell.js) reads the
//! links' `href` and `data-chattag` hint and writes back what comes out of here. Every decision
//! is the core's.

use chattag_core::links::{tag, Hint, Skip, TagInput, Tagged};
use chattag_core::template::Template;
use chattag_core::url::cut;
use chattag_core::{ChatId, Prefix};

/// What tagging a page needs, gathered once per call (not once per link).
pub struct Pass<'a> {
    pub chat_id: &'a ChatId,
    pub prefixes: &'a [Prefix],
    pub template: &'a Template,
    pub page_url: String,
    pub page_title: String,
}

impl Pass<'_> {
    /// Tags `href` (a link's raw attribute or a URL handed to the API).
    pub fn url(&self, href: &str, hint: Hint) -> Result<Tagged, Skip> {
        let trimmed = href.trim_ascii();
        let absolute;
        // Protocol-relative (`//wa.me/…`): every messenger host is HTTPS-only, so never http,
        // whatever the page's own scheme.
        let href = if trimmed.starts_with("//") {
            let mut s = String::from("https:");
            s.push_str(trimmed);
            absolute = s;
            absolute.as_str()
        } else {
            trimmed
        };
        let input = TagInput {
            chat_id: self.chat_id,
            prefixes: self.prefixes,
            template: self.template,
            page_url: &self.page_url,
            page_title: &self.page_title,
            hint,
        };
        tag(href, &input)
    }

    /// One link: its raw `href` and `data-chattag` hint (`None`: no hint attribute).
    pub fn link(&self, href: &str, hint: Option<&str>) -> Result<Tagged, Skip> {
        self.url(href, hint.map_or(Hint::Auto, Hint::parse))
    }

    /// A slice of links without a hint: their hrefs joined by "\n" ("" for one the shell's
    /// prefilter ruled out). Returns the new hrefs joined the same way ("" = leave as is), or
    /// `None` when none changes.
    pub fn hrefs(&self, hrefs: &str) -> Option<String> {
        let mut out = String::with_capacity(hrefs.len() + hrefs.len() / 2);
        let mut changed = false;
        let mut rest = Some(hrefs);
        while let Some(s) = rest {
            let (href, next) = cut(s, b'\n');
            if !href.is_empty() {
                if let Ok(t) = self.url(href, Hint::Auto) {
                    if t.changed {
                        out.push_str(&t.href);
                        changed = true;
                    }
                }
            }
            rest = next;
            if rest.is_some() {
                out.push('\n');
            }
        }
        changed.then_some(out)
    }
}
