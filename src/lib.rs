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
    use crate::browser::app::{App, LINK_PASS};
    use crate::logic::delivery::Outcome;

    /// The page's one `App`. A plain static, not `thread_local!`: wasm32-unknown-unknown without
    /// the atomics feature has one thread, and each export inlining a `LocalKey::with` cost
    /// ~0.5 KB gzip (measured).
    struct Slot(RefCell<Option<App>>);
    // SAFETY: this target has no threads (no `atomics`), so the RefCell is never shared across one.
    unsafe impl Sync for Slot {}
    static APP: Slot = Slot(RefCell::new(None));

    fn with<R>(f: impl FnOnce(&mut App) -> R) -> Option<R> {
        let mut guard = APP.0.try_borrow_mut().ok()?;
        guard.as_mut().map(f)
    }

    /// Reads the settings; returns whether `debug` is on. Nothing else happens until `start`.
    #[export_name = "b"]
    pub extern "C" fn boot() -> bool {
        let Ok(mut slot) = APP.0.try_borrow_mut() else {
            return false;
        };
        slot.get_or_insert_with(App::boot).debug()
    }

    /// After the page's queued calls were replayed: activate (unless consent is pending).
    #[export_name = "s"]
    pub extern "C" fn start() {
        with(|a| a.start());
    }

    #[export_name = "g"]
    pub extern "C" fn consent(granted: bool) {
        with(|a| a.consent(granted));
    }

    /// `chattag.id()`.
    pub const ID: u32 = 0;
    /// `chattag.rewrite(a)` (`n` = 0), or the page's `window.open(a)` / script navigation to
    /// `a` (`n` = 1: reported as a click): the URL to use instead.
    pub const REWRITE: u32 = 1;
    /// `chattag.identifiers()`: JSON text the loader parses.
    pub const IDENTIFIERS: u32 = 2;
    /// `setUserId(a)` (`n` = 0) / `setPurchaseId(a)` (`n` = 1); `a` = `None` clears.
    pub const SET_ID: u32 = 3;
    /// A slice of the shell's tagging pass: hrefs joined by "\n" → the new ones (`App::tag_hrefs`).
    pub const TAG_HREFS: u32 = 4;
    /// One link's raw `href` (`a`) and `data-chattag` (`b`), `n` as in `App::link`: the href to
    /// write, if any.
    pub const LINK: u32 = 5;
    /// Debug overlay and QR dialog: for a link (`n` = 1, `a`/`b` as for `LINK`) what the core
    /// makes of it now (`App::inspect_link`); otherwise the consent state and endpoint.
    pub const INSPECT: u32 = 6;
    /// The ClientID from `ym(counter, 'getClientID', cb)`.
    pub const CLIENT_ID: u32 = 7;

    /// Every call that passes strings, in one export; the answer (if any) goes out through
    /// `answer`. `a`/`b`: (pointer, length) from the glue's `alloc`, pointer 0 for none.
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
        // SAFETY: the glue's contract above.
        let (a, b) = unsafe { (take(a_ptr, a_len), take(b_ptr, b_len)) };
        if let Some(s) = run(op, a, b, n) {
            answer(&s);
        }
    }

    fn run(op: u32, a: Option<String>, b: Option<String>, n: u32) -> Option<String> {
        let mut guard = APP.0.try_borrow_mut().ok();
        let Some(app) = guard.as_mut().and_then(|g| g.as_mut()) else {
            // Not running (or busy): a URL comes back as it is.
            return if op == REWRITE { a } else { None };
        };
        // Tagging does not wait for the rest of an activation; everything else comes after it.
        if !(op == TAG_HREFS || op == LINK && n == LINK_PASS) {
            app.settle();
        }
        match op {
            ID => app.id(),
            REWRITE => a.map(|url| {
                if n == 1 {
                    app.open(url)
                } else {
                    app.rewrite(url)
                }
            }),
            IDENTIFIERS => Some(app.identifiers_json()),
            SET_ID => {
                app.set_user_id(a, n == 1);
                None
            }
            TAG_HREFS => app.tag_hrefs(&a?),
            LINK => app.link(a, b, n),
            INSPECT if n == 1 => Some(app.inspect_link(&a?, b.as_deref())),
            INSPECT => Some(app.inspect_state()),
            CLIENT_ID => {
                app.client_id(&a?);
                None
            }
            _ => None,
        }
    }

    /// Timers, page hide and bfcache restore (`app::TIMER_*`).
    #[export_name = "t"]
    pub extern "C" fn on_timer(what: u32) {
        with(|a| {
            a.settle();
            a.timer(what)
        });
    }

    /// What became of the batch (for the debug overlay): 0 a stale answer, 1 delivered,
    /// 2 refused and dropped, 3 kept for a retry.
    #[export_name = "d"]
    pub extern "C" fn on_settled(token: u32, status: u32) -> u32 {
        match with(|a| a.settled(token, status as u16)).flatten() {
            None => 0,
            Some(Outcome::Delivered) => 1,
            Some(Outcome::Refused) => 2,
            Some(Outcome::Retry) => 3,
        }
    }
}
