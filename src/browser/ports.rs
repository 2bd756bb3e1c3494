//! The loader's side of the wasm boundary: the imperative shell (www/loader/shell.js) that does
//! every piece of browser I/O — storage, cookies, page facts, the network, timers, the console.
//! Only strings and numbers cross: no JS object lives in the wasm, so neither web-sys nor
//! wasm-bindgen's object heap ships to the page.
//!
//! Calls that must come back into wasm later — timers, fetch results, `ym` callbacks, the
//! `chattag:ready` dispatch — are made by the shell asynchronously and inside try/catch. That
//! keeps two promises: no callback can re-enter the snippet while it is busy, and nothing the
//! snippet does can throw into the page. None of these functions throws.

use wasm_bindgen::prelude::*;

/// `page(what)`: the page's URL.
pub const PAGE_HREF: u32 = 0;
/// `location.search`.
pub const PAGE_SEARCH: u32 = 1;
/// `document.title`.
pub const PAGE_TITLE: u32 = 2;
/// `document.referrer`.
pub const PAGE_REFERRER: u32 = 3;
/// `<html lang>` ("" when absent).
pub const PAGE_LANG: u32 = 4;
/// `location.protocol`.
pub const PAGE_PROTOCOL: u32 = 5;

#[wasm_bindgen(raw_module = "chattag:shell")]
extern "C" {
    /// `fetch(url, {method: 'POST', body, keepalive: true, credentials: 'omit'})`; the status
    /// (0 for a network error) comes back through `on_settled(token, status)`.
    pub fn post(url: &str, body: &str, token: u32);

    /// `navigator.sendBeacon(url, body)`: whether the browser queued it (false if it threw).
    pub fn beacon(url: &str, body: &str) -> bool;

    /// `setTimeout` → `on_timer(what)`.
    pub fn later(ms: u32, what: u32);

    /// Starts a tagging pass over the document (and its open shadow roots) in tasks of its own:
    /// the shell hands the links' hrefs to `tag_hrefs` a slice at a time, and the links with a
    /// `data-chattag` hint to `tag_link`. A pass already under way starts over.
    pub fn pass();

    /// Dispatches `chattag:ready` (detail `{id}`) on `document`, asynchronously.
    pub fn ready(id: &str);

    /// `ym(counter, 'getClientID', cb)` if Metrica's `ym` exists; `cb` → `on_client_id(v)`.
    pub fn ym(counter: &str);

    /// The raw value of a setting: the script tag's `attr`, else `String(chattagConfig[key])`.
    pub fn setting(attr: &str, key: &str) -> Option<String>;

    /// A fact about the page (`PAGE_*`); "" when the browser does not say.
    pub fn page(what: u32) -> String;

    /// `Date.now()`.
    pub fn now() -> f64;

    /// 32 bits from `crypto.getRandomValues`, or -1 when this browser has no CSPRNG.
    pub fn rnd() -> f64;

    /// localStorage when it works (so tabs see each other's writes), else this page's memory.
    pub fn get(key: &str) -> Option<String>;
    /// Writes both (memory takes over for the rest of the view if localStorage throws).
    pub fn set(key: &str, value: &str);
    pub fn remove(key: &str);
    /// This page's memory only (the fallback when neither storage nor the cookie kept a value).
    pub fn kept(key: &str) -> Option<String>;
    /// Forgets this page's memory.
    pub fn forget();
    /// A key of another script's in localStorage (Metrica's `_ym_uid` copy); read only.
    pub fn foreign(key: &str) -> Option<String>;
    /// `document.cookie` ("" when blocked).
    pub fn cookies() -> String;
    /// `document.cookie = c` (ignored when blocked).
    pub fn set_cookie(c: &str);

    /// `console.warn`, only ever called with `debug` on.
    pub fn warn(message: &str, detail: &str);

    /// `console.warn` whatever `debug` says: only for a bad setting, which the site owner must
    /// see to fix (the snippet then runs with the safe default).
    pub fn misconfigured(message: &str);
}
