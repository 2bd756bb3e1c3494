//! First-party storage: the visitor record in localStorage and a cookie, the outbox in
//! localStorage. The shell's `get`/`set` guard every access (storage may be blocked, throw in
//! privacy modes or sandboxed iframes, or silently drop writes) and keep values in memory for
//! this page view, so the snippet works the same — it just forgets the visitor when the page goes.

use chattag_core::identifiers::cookie_value;

use crate::browser::ports;
use crate::logic::wire::push_u64;

/// The visitor record (cookie + localStorage).
pub const RECORD: &str = "_chattag";
/// The outbox (localStorage only: it can be tens of KB and must not ride on every request).
pub const OUTBOX: &str = "_chattag_q";

pub struct Store {
    secure: bool,
}

impl Store {
    pub fn new(secure: bool) -> Store {
        Store { secure }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        cookie_value(&ports::cookies(), name).map(String::from)
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
        ports::set_cookie(&c);
    }

    /// The visitor record: localStorage's, else the cookie's, else this page's memory.
    pub fn record(&self) -> Option<String> {
        ports::get(RECORD)
            .or_else(|| self.cookie(RECORD))
            .or_else(|| ports::kept(RECORD))
    }

    pub fn set_record(&self, value: &str, max_age_s: u64) {
        ports::set(RECORD, value);
        self.set_cookie(RECORD, value, max_age_s);
    }

    /// Everything chattag keeps (consent withdrawn).
    pub fn clear(&self) {
        ports::remove(RECORD);
        ports::remove(OUTBOX);
        self.set_cookie(RECORD, "", 0);
        ports::forget();
    }
}
