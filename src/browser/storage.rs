//! First-party storage with a fallback: localStorage and a cookie, each of which may be blocked,
//! throw (privacy modes, sandboxed iframes) or silently drop writes. Whatever fails, values live
//! on in memory for this page view, so the snippet works the same — it just forgets the visitor
//! when the page goes.

use chattag_core::identifiers::cookie_value;
use wasm_bindgen::JsCast;
use web_sys::{Document, HtmlDocument, Storage, Window};

use crate::logic::wire::push_u64;

/// The visitor record (cookie + localStorage).
pub const RECORD: &str = "_chattag";
/// The outbox (localStorage only: it can be tens of KB and must not ride on every request).
pub const OUTBOX: &str = "_chattag_q";

pub struct Store {
    /// `None` once localStorage is unavailable or has thrown.
    local: Option<Storage>,
    doc: HtmlDocument,
    /// Every value written this page view, read when localStorage is gone.
    mem: Vec<(&'static str, String)>,
    secure: bool,
}

impl Store {
    pub fn new(window: &Window, doc: &Document, secure: bool) -> Store {
        Store {
            local: window.local_storage().ok().flatten(),
            doc: doc.clone().unchecked_into(),
            mem: Vec::new(),
            secure,
        }
    }

    fn mem_get(&self, key: &str) -> Option<String> {
        self.mem
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }

    fn mem_set(&mut self, key: &'static str, value: Option<&str>) {
        self.mem.retain(|(k, _)| *k != key);
        if let Some(v) = value {
            self.mem.push((key, v.to_owned()));
        }
    }

    /// localStorage when it works (so tabs see each other's writes), else this page's memory.
    pub fn get(&mut self, key: &'static str) -> Option<String> {
        if let Some(s) = &self.local {
            match s.get_item(key) {
                Ok(v) => return v,
                Err(_) => self.local = None,
            }
        }
        self.mem_get(key)
    }

    pub fn set(&mut self, key: &'static str, value: &str) {
        self.mem_set(key, Some(value));
        if let Some(s) = &self.local {
            // Quota exceeded or blocked mid-page: memory takes over for the rest of the view.
            if s.set_item(key, value).is_err() {
                self.local = None;
            }
        }
    }

    pub fn remove(&mut self, key: &'static str) {
        self.mem_set(key, None);
        if let Some(s) = &self.local {
            let _ = s.remove_item(key);
        }
    }

    /// A foreign key (Metrica's `_ym_uid` copy); read only.
    pub fn foreign(&self, key: &str) -> Option<String> {
        self.local.as_ref()?.get_item(key).ok().flatten()
    }

    pub fn cookies(&self) -> String {
        self.doc.cookie().unwrap_or_default()
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        cookie_value(&self.cookies(), name).map(String::from)
    }

    pub fn set_cookie(&self, name: &str, value: &str, max_age_s: u64) {
        let mut c = String::with_capacity(name.len() + value.len() + 64);
        c.push_str(name);
        c.push('=');
        c.push_str(value);
        c.push_str("; path=/; max-age=");
        push_u64(&mut c, max_age_s);
        c.push_str("; samesite=lax");
        if self.secure {
            c.push_str("; secure");
        }
        let _ = self.doc.set_cookie(&c);
    }

    /// The visitor record: localStorage's, else the cookie's, else this page's memory.
    pub fn record(&mut self) -> Option<String> {
        self.get(RECORD)
            .or_else(|| self.cookie(RECORD))
            .or_else(|| self.mem_get(RECORD))
    }

    pub fn set_record(&mut self, value: &str, max_age_s: u64) {
        self.set(RECORD, value);
        self.set_cookie(RECORD, value, max_age_s);
    }

    /// Everything chattag keeps (consent withdrawn).
    pub fn clear(&mut self) {
        self.remove(RECORD);
        self.remove(OUTBOX);
        self.set_cookie(RECORD, "", 0);
        self.mem.clear();
    }
}
