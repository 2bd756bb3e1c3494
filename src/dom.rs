//! Moving links between the DOM and `links::tag`: which elements to look at, how to read and
//! write their `href`, and the per-link `data-chattag` hint. Every decision is the core's.

use chattag_core::links::{tag, Hint, Skip, TagInput, Tagged};
use chattag_core::template::Template;
use chattag_core::{ChatId, Prefix};
use wasm_bindgen::JsCast;
use web_sys::{Element, MutationRecord, Node, NodeList};

/// Links that can be messenger links, prefiltered natively by the browser (case-insensitive
/// substring of the raw `href`): the core still classifies every hit. Links with a
/// `data-chattag` hint are left to [`HINTED`], so the bulk pass never reads another attribute.
pub const CANDIDATES: &str = concat!(
    ":is(a,area)[href]:not([data-chattag]):is(",
    "[href*=\"wa.me\" i],[href*=\"whatsapp\" i],[href*=\"t.me\" i],[href*=\"telegram\" i],",
    "[href*=\"tg:\" i],[href*=\"viber\" i],[href*=\"max.ru\" i])"
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
        let href = el.get_attribute("href")?;
        let hint = hint.unwrap_or_else(|| el.get_attribute("data-chattag").map_or(Hint::Auto, |h| Hint::parse(&h)));
        let tagged = self.url(&href, hint).ok()?;
        if tagged.changed {
            let _ = el.set_attribute("href", &tagged.href);
        }
        Some(tagged)
    }

    fn list(&self, list: NodeList, hint: Option<Hint>) -> u32 {
        let mut n = 0;
        for i in 0..list.length() {
            if let Some(node) = list.item(i) {
                n += self.element(node.unchecked_ref(), hint).is_some_and(|t| t.changed) as u32;
            }
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
        plain.map_or(0, |l| self.list(l, Some(Hint::Auto))) + hinted.map_or(0, |l| self.list(l, None))
    }

    /// Links added to the page or whose `href` changed. Our own writes come back here too and
    /// are no-ops: tagging a tagged link changes nothing, so nothing is written again.
    pub fn mutations(&self, records: &js_sys::Array) {
        for r in records.iter() {
            let r: MutationRecord = r.unchecked_into();
            if r.type_() == "attributes" {
                if let Some(t) = r.target() {
                    self.element(t.unchecked_ref(), None);
                }
                continue;
            }
            let added = r.added_nodes();
            for i in 0..added.length() {
                let Some(node) = added.item(i) else { continue };
                if node.node_type() != Node::ELEMENT_NODE {
                    continue;
                }
                let el: &Element = node.unchecked_ref();
                if el.matches(LINK).unwrap_or(false) {
                    self.element(el, None);
                }
                if el.first_element_child().is_some() {
                    self.subtree(&node);
                }
            }
        }
    }
}
