//! Moving links between the DOM and `links::tag`: which elements to look at, how to read and
//! write their `href`, and the per-link `data-chattag` hint. Every decision is the core's.

use chattag_core::links::{tag, Hint, Skip, TagInput, Tagged};
use chattag_core::template::Template;
use chattag_core::url::split_byte;
use chattag_core::{ChatId, Prefix};
use wasm_bindgen::prelude::*;
use web_sys::Element;

use crate::browser::ports::Ports;

// The per-link DOM calls, taking their constant argument as a JS string made once: web-sys's
// `&str` versions decode "href" from wasm memory on every call, a measurable share of a
// 10,000-link pass. None of these throw for the constant, valid names and selectors used here.
#[wasm_bindgen]
extern "C" {
    /// A `NodeList` or an array of elements.
    pub type Seq;
    #[wasm_bindgen(method, getter)]
    fn length(this: &Seq) -> u32;
    #[wasm_bindgen(method, indexing_getter)]
    fn at(this: &Seq, i: u32) -> Option<Element>;

    /// An element, seen through the two calls below.
    type El;
    #[wasm_bindgen(method, js_name = getAttribute)]
    fn attr(this: &El, name: &JsValue) -> Option<String>;
    #[wasm_bindgen(method, js_name = setAttribute)]
    fn set_attr(this: &El, name: &JsValue, value: &str);
}

/// JS strings for the names and selectors used per link, made once per page view.
pub struct Names {
    href: JsValue,
    hint: JsValue,
}

impl Names {
    pub fn new() -> Names {
        Names {
            href: JsValue::from_str("href"),
            hint: JsValue::from_str("data-chattag"),
        }
    }
}

/// Links the bulk pass looks at: every link without a `data-chattag` hint (those go through
/// [`HINTED`]). The loader's `hrefs` port skips hrefs that cannot be messenger links with one
/// case-insensitive regex test (the core still classifies every one it passes). A CSS substring
/// prefilter was tried: with the `i` flag it made this query 2–3× slower on a 10,000-link page,
/// and without it it missed hosts written in mixed case (`http://www.WA.me/…`).
/// Plain selector lists, not `:is()`: engines before Chromium 88 / Safari 14 throw on `:is()`,
/// which would leave every link untagged there.
pub const CANDIDATES: &str = "a[href]:not([data-chattag]),area[href]:not([data-chattag])";
pub const HINTED: &str = "a[href][data-chattag],area[href][data-chattag]";
/// Links per slice of a long pass: ~20 ms of work on a 2-core machine, so that a 10,000-link
/// page never sees a task anywhere near 50 ms from us.
pub const SLICE: u32 = 2000;
/// A link, for `closest` at interaction time (the loader's observer uses the same selector).
pub const LINK: &str = "a[href],area[href]";

/// Receives a messenger link that was left alone, and why (debug only).
pub type SkipLog<'a> = &'a dyn Fn(Skip, &str);

/// What tagging a page needs, gathered once per pass (not once per link).
pub struct Pass<'a> {
    pub chat_id: &'a ChatId,
    pub prefixes: &'a [Prefix],
    pub template: &'a Template,
    pub page_url: String,
    pub page_title: String,
    /// Called for messenger links that were left alone, with the reason (debug only).
    pub on_skip: Option<SkipLog<'a>>,
    pub names: &'a Names,
    pub ports: &'a Ports,
}

impl Pass<'_> {
    /// Tags `href` (a link's raw attribute or a URL handed to the API).
    pub fn url(&self, href: &str, hint: Hint) -> Result<Tagged, Skip> {
        let trimmed = href.trim_ascii();
        let absolute;
        // Protocol-relative (`//wa.me/…`): every messenger host is HTTPS-only, so never http,
        // whatever the page's own scheme.
        let href = if trimmed.starts_with("//") {
            absolute = ["https:", trimmed].concat();
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
        let r = tag(href, &input);
        if let (Err(skip), Some(log)) = (&r, self.on_skip) {
            if *skip != Skip::NotMessenger {
                log(*skip, href);
            }
        }
        r
    }

    /// Tags one element in place. `hint: None` reads its `data-chattag`.
    pub fn element(&self, el: &Element, hint: Option<Hint>) -> Option<Tagged> {
        let tagged = self.peek(el, hint)?.ok()?;
        if tagged.changed {
            el.unchecked_ref::<El>()
                .set_attr(&self.names.href, &tagged.href);
        }
        Some(tagged)
    }

    /// What tagging makes of one element's `href` now, writing nothing (`None`: no href).
    pub fn peek(&self, el: &Element, hint: Option<Hint>) -> Option<Result<Tagged, Skip>> {
        let el: &El = el.unchecked_ref();
        let href = el.attr(&self.names.href)?;
        let hint = hint.unwrap_or_else(|| {
            el.attr(&self.names.hint)
                .map_or(Hint::Auto, |h| Hint::parse(&h))
        });
        Some(self.url(&href, hint))
    }

    /// Links with a `data-chattag` hint (rare): one at a time, reading the hint.
    fn hinted(&self, list: &Seq) {
        for i in 0..list.length() {
            if let Some(el) = list.at(i) {
                self.element(&el, None);
            }
        }
    }

    /// Tags `list[from..from + SLICE]`: hrefs read in one call, tagged here, changed ones
    /// written back in one call. Returns where the next slice starts, `None` when done.
    pub fn slice(&self, list: &Seq, from: u32) -> Option<u32> {
        let len = list.length();
        let to = len.min(from.saturating_add(SLICE));
        if from >= to {
            return None;
        }
        let hrefs = self.ports.hrefs(list, from, to);
        let mut out = String::with_capacity(hrefs.len() + hrefs.len() / 2);
        let mut changed = false;
        for (i, href) in split_byte(&hrefs, b'\n').enumerate() {
            if i > 0 {
                out.push('\n');
            }
            if href.is_empty() {
                continue;
            }
            if let Ok(t) = self.url(href, Hint::Auto) {
                if t.changed {
                    out.push_str(&t.href);
                    changed = true;
                }
            }
        }
        if changed {
            self.ports.set_hrefs(list, from, &out);
        }
        (to < len).then_some(to)
    }

    /// Starts a pass over the document: tags the hinted links (rare) at once and returns the
    /// candidate list for [`Pass::slice`].
    pub fn begin(&self, doc: &web_sys::Document) -> Option<Seq> {
        if let Ok(h) = doc.query_selector_all(HINTED) {
            self.hinted(h.unchecked_ref());
        }
        doc.query_selector_all(CANDIDATES)
            .ok()
            .map(JsCast::unchecked_into)
    }

    /// Links the page added or whose `href` it changed, collected by the loader's
    /// MutationObserver (`hinted`: those with a `data-chattag`). Our own writes are mostly
    /// filtered out there; any that come back are no-ops (tagging a tagged link changes nothing).
    pub fn links(&self, plain: &Seq, hinted: &Seq) {
        let mut from = Some(0);
        while let Some(i) = from {
            from = self.slice(plain, i);
        }
        self.hinted(hinted);
    }
}
