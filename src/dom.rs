//! Moving links between the DOM and `links::tag`: which elements to look at, how to read and
//! write their `href`, and the per-link `data-chattag` hint. Every decision is the core's.

use chattag_core::links::{tag, Hint, Skip, TagInput, Tagged};
use chattag_core::template::Template;
use chattag_core::{ChatId, Prefix};
use wasm_bindgen::prelude::*;
use web_sys::{Element, MutationRecord, Node, NodeList};

use crate::ports::Ports;

// The per-link DOM calls, taking their constant argument as a JS string made once: web-sys's
// `&str` versions decode "href" from wasm memory on every call, a measurable share of a
// 10,000-link pass. None of these throw for the constant, valid names and selectors used here.
#[wasm_bindgen]
extern "C" {
    /// An element, seen through the three calls below.
    type El;
    #[wasm_bindgen(method, js_name = getAttribute)]
    fn attr(this: &El, name: &JsValue) -> Option<String>;
    #[wasm_bindgen(method, js_name = setAttribute)]
    fn set_attr(this: &El, name: &JsValue, value: &str);
    #[wasm_bindgen(method, js_name = matches)]
    fn is(this: &El, selector: &JsValue) -> bool;
}

/// JS strings for the names and selectors used per link, made once per page view.
pub struct Names {
    href: JsValue,
    hint: JsValue,
    link: JsValue,
}

impl Names {
    pub fn new() -> Names {
        Names { href: JsValue::from_str("href"), hint: JsValue::from_str("data-chattag"), link: JsValue::from_str(LINK) }
    }
}

/// Links that can be messenger links, prefiltered natively by the browser (substring of the raw
/// `href`): the core still classifies every hit. Links with a `data-chattag` hint are left to
/// [`HINTED`], so the bulk pass never reads another attribute.
///
/// Lower- and upper-case spellings, not the `i` flag: case-insensitive attribute matching made
/// this query ~2–3× slower on a 10,000-link page (Chromium). A mixed-case host (`Wa.me`) is
/// still tagged at interaction time (pointerdown/click), where every link is looked at.
pub const CANDIDATES: &str = concat!(
    ":is(a,area)[href]:not([data-chattag]):is(",
    "[href*=\"wa.me\"],[href*=\"whatsapp\"],[href*=\"t.me\"],[href*=\"telegram\"],",
    "[href*=\"tg:\"],[href*=\"viber\"],[href*=\"max.ru\"],",
    "[href*=\"WA.ME\"],[href*=\"WHATSAPP\"],[href*=\"T.ME\"],[href*=\"TELEGRAM\"],",
    "[href*=\"TG:\"],[href*=\"VIBER\"],[href*=\"MAX.RU\"])"
);
pub const HINTED: &str = ":is(a,area)[href][data-chattag]";
pub const LINK: &str = ":is(a,area)[href]";

/// What tagging a page needs, gathered once per pass (not once per link).
pub struct Pass<'a> {
    pub chat_id: &'a ChatId,
    pub prefixes: &'a [Prefix],
    pub template: &'a Template,
    pub page_url: String,
    pub page_title: String,
    /// `https:` / `http:`, for protocol-relative links (`//wa.me/…`).
    pub protocol: String,
    /// Called for messenger links that were left alone, with the reason (debug only).
    pub on_skip: Option<&'a dyn Fn(Skip, &str)>,
    pub names: &'a Names,
    pub ports: &'a Ports,
}

impl Pass<'_> {
    /// Tags `href` (a link's raw attribute or a URL handed to the API).
    pub fn url(&self, href: &str, hint: Hint) -> Result<Tagged, Skip> {
        let trimmed = href.trim_matches(|c: char| c.is_ascii_whitespace());
        let absolute;
        let href = if trimmed.starts_with("//") {
            absolute = [self.protocol.as_str(), trimmed].concat();
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
        let el: &El = el.unchecked_ref();
        let href = el.attr(&self.names.href)?;
        let hint = hint.unwrap_or_else(|| el.attr(&self.names.hint).map_or(Hint::Auto, |h| Hint::parse(&h)));
        let tagged = self.url(&href, hint).ok()?;
        if tagged.changed {
            el.set_attr(&self.names.href, &tagged.href);
        }
        Some(tagged)
    }

    /// Links with a `data-chattag` hint (rare): one at a time, reading the hint.
    fn hinted(&self, list: NodeList) -> u32 {
        let mut n = 0;
        for i in 0..list.length() {
            if let Some(node) = list.item(i) {
                n += self.element(node.unchecked_ref(), None).is_some_and(|t| t.changed) as u32;
            }
        }
        n
    }

    /// The bulk of a pass: all hrefs read in one call, tagged here, changed ones written back
    /// in one call.
    fn plain(&self, list: NodeList) -> u32 {
        if list.length() == 0 {
            return 0;
        }
        let hrefs = self.ports.hrefs(&list);
        let mut out = String::with_capacity(hrefs.len() + hrefs.len() / 2);
        let mut n = 0;
        for (i, href) in hrefs.split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
            }
            if href.is_empty() {
                continue;
            }
            if let Ok(t) = self.url(href, Hint::Auto) {
                if t.changed {
                    out.push_str(&t.href);
                    n += 1;
                }
            }
        }
        if n > 0 {
            self.ports.set_hrefs(&list, &out);
        }
        n
    }

    /// Tags every candidate link under `root` (a document or an element). Returns how many
    /// links changed.
    pub fn subtree(&self, root: &Node) -> u32 {
        let (plain, hinted) = if root.node_type() == Node::DOCUMENT_NODE {
            let d: &web_sys::Document = root.unchecked_ref();
            (d.query_selector_all(CANDIDATES), d.query_selector_all(HINTED))
        } else {
            let e: &Element = root.unchecked_ref();
            (e.query_selector_all(CANDIDATES), e.query_selector_all(HINTED))
        };
        plain.map_or(0, |l| self.plain(l)) + hinted.map_or(0, |l| self.hinted(l))
    }

    /// Links added to the page or whose `href` changed. Our own writes come back here too and
    /// are no-ops: tagging a tagged link changes nothing, so nothing is written again.
    pub fn mutations(&self, records: &js_sys::Array) {
        for r in records.iter() {
            let r: MutationRecord = r.unchecked_into();
            let added = r.added_nodes();
            if added.length() == 0 {
                // An `href` change (the observer filters attributes to it) — or a removal, whose
                // target is the parent: re-tagging that is a no-op.
                if let Some(t) = r.target() {
                    if t.node_type() == Node::ELEMENT_NODE {
                        self.element(t.unchecked_ref(), None);
                    }
                }
                continue;
            }
            for i in 0..added.length() {
                let Some(node) = added.item(i) else { continue };
                if node.node_type() != Node::ELEMENT_NODE {
                    continue;
                }
                let el: &Element = node.unchecked_ref();
                if el.unchecked_ref::<El>().is(&self.names.link) {
                    self.element(el, None);
                }
                if el.first_element_child().is_some() {
                    self.subtree(&node);
                }
            }
        }
    }
}
