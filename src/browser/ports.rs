//! The loader's side of the wasm boundary: what the wasm reads from the page through the
//! loader's shell (www/loader/shell.js) — page facts, cookies, Metrica's stored ClientID, the
//! clock and the CSPRNG. Reads only: every write (storage, the
//! outbox, the network, timers) is the loader's, acting on the effects a call returns
//! (`crate::browser::page`). Only strings and numbers cross: no JS object lives in the wasm.
//!
//! The reads that pass strings go through one import, `io(op, a, b)`, and typed wrappers here:
//! each import taking or returning strings costs its own conversion shim in the glue, one shared
//! shim costs that once. None of these functions throws.

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

pub fn now() -> f64 {
    // SAFETY: no arguments.
    unsafe { now_raw() }
}

pub fn rnd() -> f64 {
    // SAFETY: no arguments.
    unsafe { rnd_raw() }
}

const FOREIGN: u32 = 0;
const COOKIES: u32 = 1;
/// `page(what)`: the page's URL.
pub const PAGE_HREF: u32 = 2;
/// `location.search`.
pub const PAGE_SEARCH: u32 = 3;
/// `document.title`.
pub const PAGE_TITLE: u32 = 4;
/// `document.referrer`.
pub const PAGE_REFERRER: u32 = 5;
/// `<html lang>` ("" when absent).
pub const PAGE_LANG: u32 = 6;

/// A key of another script's in localStorage (Metrica's `_ym_uid` copy); read only.
pub fn foreign(key: &str) -> Option<String> {
    io(FOREIGN, key, "")
}

/// `document.cookie` ("" when blocked): read like a page fact (one wrapper for both).
pub fn cookies() -> String {
    page(COOKIES)
}

/// A fact about the page (`PAGE_*`); "" when the browser does not say.
pub fn page(what: u32) -> String {
    io(what, "", "").unwrap_or_default()
}
