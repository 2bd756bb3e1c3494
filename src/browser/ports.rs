//! The loader's side of the wasm boundary: the imperative shell (www/loader/shell.js) that does
//! every piece of browser I/O — storage, cookies, page facts, the network, timers, the console.
//! Only strings and numbers cross: no JS object lives in the wasm, so neither web-sys nor
//! wasm-bindgen ships to the page (the glue is www/loader/glue.js, by hand).
//!
//! The calls that pass strings go through one import, `io(op, a, b)`, and typed wrappers here:
//! each import taking or returning strings costs its own conversion shim in the glue (~0.3 KB
//! each, measured), one shared shim costs that once.
//!
//! Calls that must come back into wasm later — timers, fetch results, `ym` callbacks, the
//! `chattag:ready` dispatch — are made by the shell asynchronously and inside try/catch. That
//! keeps two promises: no callback can re-enter the snippet while it is busy, and nothing the
//! snippet does can throw into the page. None of these functions throws.

use crate::browser::abi::taken;

// The glue's functions (www/loader/glue.js, import module `c`), by one-letter names: strings
// as (pointer, length) of UTF-8 in linear memory, valid during the call.
#[link(wasm_import_module = "c")]
extern "C" {
    /// Operation `op` (the `IO` table in shell.js, in the order of the constants below) with two
    /// strings; its answer, if it has one: a block from `abi::alloc` (0 = none).
    #[link_name = "i"]
    fn io_raw(op: u32, a: *const u8, a_len: usize, b: *const u8, b_len: usize) -> *mut u8;

    /// The current export call's answer (`abi::answer`).
    pub fn r(ptr: *const u8, len: usize);

    /// `fetch(url, {method: 'POST', body, keepalive: true, credentials: 'omit'})`; the status
    /// (0 for a network error) comes back through `on_settled(token, status)`.
    #[link_name = "p"]
    fn post_raw(url: *const u8, url_len: usize, body: *const u8, body_len: usize, token: u32);

    /// `setTimeout` → `on_timer(what)`.
    #[link_name = "l"]
    fn later_raw(ms: u32, what: u32);

    /// Starts a tagging pass over the document (and its open shadow roots) in tasks of its own:
    /// the shell hands the links' hrefs to `tag_hrefs` a slice at a time, and the links with a
    /// `data-chattag` hint to `link`. A pass already under way starts over.
    #[link_name = "s"]
    fn pass_raw();

    /// `Date.now()`.
    #[link_name = "n"]
    fn now_raw() -> f64;

    /// 32 bits from `crypto.getRandomValues`, or -1 when this browser has no CSPRNG.
    #[link_name = "x"]
    fn rnd_raw() -> f64;
}

fn io(op: u32, a: &str, b: &str) -> Option<String> {
    // SAFETY: both strings outlive the call; the glue returns 0 or a block from `alloc`.
    taken(unsafe { io_raw(op, a.as_ptr(), a.len(), b.as_ptr(), b.len()) })
}

pub fn post(url: &str, body: &str, token: u32) {
    // SAFETY: both strings outlive the call.
    unsafe { post_raw(url.as_ptr(), url.len(), body.as_ptr(), body.len(), token) }
}

pub fn later(ms: u32, what: u32) {
    // SAFETY: numbers only.
    unsafe { later_raw(ms, what) }
}

pub fn pass() {
    // SAFETY: no arguments.
    unsafe { pass_raw() }
}

pub fn now() -> f64 {
    // SAFETY: no arguments.
    unsafe { now_raw() }
}

pub fn rnd() -> f64 {
    // SAFETY: no arguments.
    unsafe { rnd_raw() }
}

const GET: u32 = 0;
const SET: u32 = 1;
const REMOVE: u32 = 2;
const KEPT: u32 = 3;
const FORGET: u32 = 4;
const FOREIGN: u32 = 5;
const COOKIES: u32 = 6;
const SET_COOKIE: u32 = 7;
const SETTING: u32 = 8;
const BEACON: u32 = 9;
const READY: u32 = 10;
const YM: u32 = 11;
const WARN: u32 = 12;
const MISCONFIGURED: u32 = 13;
/// `page(what)`: the page's URL.
pub const PAGE_HREF: u32 = 14;
/// `location.search`.
pub const PAGE_SEARCH: u32 = 15;
/// `document.title`.
pub const PAGE_TITLE: u32 = 16;
/// `document.referrer`.
pub const PAGE_REFERRER: u32 = 17;
/// `<html lang>` ("" when absent).
pub const PAGE_LANG: u32 = 18;
/// `location.protocol`.
pub const PAGE_PROTOCOL: u32 = 19;

/// localStorage when it works (so tabs see each other's writes), else this page's memory.
pub fn get(key: &str) -> Option<String> {
    io(GET, key, "")
}

/// Writes both (memory takes over for the rest of the view if localStorage throws).
pub fn set(key: &str, value: &str) {
    io(SET, key, value);
}

pub fn remove(key: &str) {
    io(REMOVE, key, "");
}

/// This page's memory only (the fallback when neither storage nor the cookie kept a value).
pub fn kept(key: &str) -> Option<String> {
    io(KEPT, key, "")
}

/// Forgets this page's memory.
pub fn forget() {
    io(FORGET, "", "");
}

/// A key of another script's in localStorage (Metrica's `_ym_uid` copy); read only.
pub fn foreign(key: &str) -> Option<String> {
    io(FOREIGN, key, "")
}

/// `document.cookie` ("" when blocked).
pub fn cookies() -> String {
    io(COOKIES, "", "").unwrap_or_default()
}

/// `document.cookie = c` (ignored when blocked).
pub fn set_cookie(c: &str) {
    io(SET_COOKIE, c, "");
}

/// The raw value of a setting: the script tag's `attr`, else `String(chattagConfig[key])`.
pub fn setting(attr: &str, key: &str) -> Option<String> {
    io(SETTING, attr, key)
}

/// `navigator.sendBeacon(url, body)`: whether the browser queued it (false if it threw).
pub fn beacon(url: &str, body: &str) -> bool {
    io(BEACON, url, body).is_some()
}

/// Dispatches `chattag:ready` (detail `{id}`) on `document`, asynchronously.
pub fn ready(id: &str) {
    io(READY, id, "");
}

/// `ym(counter, 'getClientID', cb)` if Metrica's `ym` exists; `cb` → `on_client_id(v)`.
pub fn ym(counter: &str) {
    io(YM, counter, "");
}

/// `console.warn`, only ever called with `debug` on.
pub fn warn(message: &str, detail: &str) {
    io(WARN, message, detail);
}

/// `console.warn` whatever `debug` says: only for a bad setting, which the site owner must see
/// to fix (the snippet then runs with the safe default).
pub fn misconfigured(message: &str) {
    io(MISCONFIGURED, message, "");
}

/// A fact about the page (`PAGE_*`); "" when the browser does not say.
pub fn page(what: u32) -> String {
    io(what, "", "").unwrap_or_default()
}
