//! chattag snippet: the browser shell around `chattag-core`. It reads IDs from the page, tags
//! messenger links and delivers events; every rule it applies lives in the core.
//!
//! The exports below are called only by the loader (www/loader/index.js), which wraps each call
//! in try/catch and makes callbacks asynchronous. State lives in one `RefCell`; a call that
//! arrives while it is borrowed (a page handler re-entering synchronously) is ignored rather
//! than allowed to panic.
//!
//! Layers: `logic` (pure, native tests) and `browser` (wasm32 only: the state of one page view
//! and the calls into the loader's shell, www/loader/shell.js, which does all browser I/O).
//!
//! Size: every byte ships to every page, so no `format!`/`core::fmt`, no serde_json (see
//! `logic::wire`), and only strings and numbers cross the boundary: no wasm-bindgen, web-sys,
//! js-sys or getrandom, and no JS object kept in wasm.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

mod logic;

#[cfg(target_arch = "wasm32")]
mod browser;

/// The wasm boundary without wasm-bindgen: plain `extern "C"` exports with one-letter names
/// (each name ships twice, in the wasm and in the loader's glue, www/loader/glue.js, which
/// lists them). Strings cross as (pointer, length) pairs of UTF-8 in linear memory:
/// - JS → wasm: the glue asks `alloc(len)` for a block, writes the bytes and hands the pair over;
///   the wasm takes ownership (`abi::take`). Pointer 0 is "no string" (`None`).
/// - wasm → JS: an answer goes out through the `r(ptr, len)` import, which decodes it at once.
///
/// Only the glue's TextEncoder writes these bytes, and it writes UTF-8 whatever the JS string
/// holds (lone surrogates become U+FFFD), so no UTF-8 validation (and its tables) ships here.
#[cfg(target_arch = "wasm32")]
mod exports {
    use std::cell::RefCell;

    use crate::browser::abi::{answer, take};
    use crate::browser::page::PageView;

    /// The page's one `PageView`. A plain static, not `thread_local!`: wasm32-unknown-unknown
    /// without the atomics feature has one thread, and each export inlining a `LocalKey::with`
    /// cost ~0.5 KB gzip (measured).
    struct Slot(RefCell<Option<PageView>>);
    // SAFETY: this target has no threads (no `atomics`), so the RefCell is never shared across one.
    unsafe impl Sync for Slot {}
    static VIEW: Slot = Slot(RefCell::new(None));

    /// The settings the wasm applies: `a` the prefix, `b` the template (raw, `None` = not set).
    /// Answers the letters of the rejected ones (`page::BAD_*`). First.
    pub const CONFIGURE: u32 = 0;
    /// Activation: `a` = the visitor record in localStorage, `b` = in this page's memory (see
    /// `PageView::start`), `n` = the ID lifetime in days. Effects.
    pub const START: u32 = 1;
    /// The rest of an activation, after the first tagging pass (`PageView::settle`). Effects.
    pub const SETTLE: u32 = 2;
    /// `chattag.id()`: the chat ID, if running.
    pub const ID: u32 = 3;
    /// `chattag.rewrite(a)` (`n` = 0), or the page's `window.open(a)` / script navigation to
    /// `a` (`n` = 1: reported as a click). Effects (`h`: the URL to use instead).
    pub const REWRITE: u32 = 4;
    /// `chattag.identifiers()`: JSON text the loader parses.
    pub const IDENTIFIERS: u32 = 5;
    /// `setUserId(a)` (`n` = 0) / `setPurchaseId(a)` (`n` = 1); `a` = `None` clears. Effects.
    pub const SET_ID: u32 = 6;
    /// A slice of the shell's tagging pass: hrefs joined by "\n" → the new ones (`Pass::hrefs`).
    pub const TAG_HREFS: u32 = 7;
    /// One link's raw `href` (`a`) and `data-chattag` (`b`), `n` as in `PageView::link`. Effects.
    pub const LINK: u32 = 8;
    /// Debug overlay and QR dialog: what the core makes of a link now (`PageView::inspect_link`).
    pub const INSPECT: u32 = 9;
    /// `a` = the ClientID from `ym(counter, 'getClientID', cb)`. Effects.
    pub const CLIENT_ID: u32 = 10;
    /// Anything new to tell the collector (a late `_ym_uid`)? Effects.
    pub const NEWS: u32 = 11;
    /// bfcache restore: `a` / `b` = the visitor record as storage holds it now (as for `START`).
    /// Effects.
    pub const SHOW: u32 = 12;
    /// Consent withdrawn: forget the visitor.
    pub const FORGET: u32 = 13;

    /// Every call, in one export; the answer (if any) goes out through `answer`. `a`/`b`:
    /// (pointer, length) from the glue's `alloc`, pointer 0 for none. A call that arrives while
    /// the view is borrowed (cannot happen: the loader calls in asynchronously) is ignored.
    ///
    /// # Safety
    /// Called only by the glue, with pointers from `alloc` (or 0) holding UTF-8 of that length.
    #[export_name = "c"]
    pub unsafe extern "C" fn call(
        op: u32,
        a_ptr: *mut u8,
        a_len: usize,
        b_ptr: *mut u8,
        b_len: usize,
        n: u32,
    ) {
        let Ok(mut slot) = VIEW.0.try_borrow_mut() else {
            return;
        };
        // SAFETY: the glue's contract above. Taken after the borrow: a call that cannot run
        // leaves its two blocks unfreed rather than carrying a drop path of its own (size).
        let (a, b) = unsafe { (take(a_ptr, a_len), take(b_ptr, b_len)) };
        if op == CONFIGURE {
            let (view, bad) = PageView::new(a.as_deref(), b.as_deref());
            *slot = Some(view);
            return answer(&bad);
        }
        let Some(v) = slot.as_mut() else {
            return;
        };
        // `a` as text ("" for none), for the calls that take it borrowed.
        let (a, b) = (a.as_deref(), b.as_deref());
        let text = a.unwrap_or("");
        let plain = match op {
            START => {
                v.start((a, b), n);
                None
            }
            SETTLE => {
                v.settle();
                None
            }
            ID => v.id(),
            REWRITE => {
                v.rewrite(text, n == 1);
                None
            }
            IDENTIFIERS => {
                v.identifiers_json();
                None
            }
            SET_ID => {
                v.set_user_id(a, n == 1);
                None
            }
            TAG_HREFS => v.tag_hrefs(text),
            LINK => {
                v.link(a, b, n);
                None
            }
            INSPECT => {
                v.inspect_link(text, b);
                None
            }
            CLIENT_ID => {
                v.client_id(text);
                None
            }
            NEWS => {
                v.report_news();
                None
            }
            SHOW => {
                v.show((a, b));
                None
            }
            FORGET => {
                v.forget();
                None
            }
            _ => None,
        };
        answer(&plain.unwrap_or_else(|| v.effects()));
    }
}
