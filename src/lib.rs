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
//! `logic::wire`), and only strings and numbers cross the boundary: no web-sys, js-sys or
//! getrandom, and no JS object kept in wasm (wasm-bindgen's object heap and closures stay out of
//! the glue).

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

mod logic;

#[cfg(target_arch = "wasm32")]
mod browser;

#[cfg(target_arch = "wasm32")]
mod exports {
    use std::cell::RefCell;

    use wasm_bindgen::prelude::*;

    use crate::browser::app::App;
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
    #[wasm_bindgen]
    pub fn boot() -> bool {
        let Ok(mut slot) = APP.0.try_borrow_mut() else {
            return false;
        };
        slot.get_or_insert_with(App::boot).debug()
    }

    /// After the page's queued calls were replayed: activate (unless consent is pending).
    #[wasm_bindgen]
    pub fn start() {
        with(|a| a.start());
    }

    #[wasm_bindgen]
    pub fn id() -> Option<String> {
        with(|a| a.id()).flatten()
    }

    /// `chattag.rewrite(url)` (`open` = false) and the page's `window.open(url)` or script
    /// navigation to `url` (`open`: reported as a click): the URL to use instead.
    #[wasm_bindgen]
    pub fn rewrite(url: String, open: bool) -> String {
        match APP.0.try_borrow_mut() {
            Ok(mut guard) => match guard.as_mut() {
                Some(a) if open => a.open(url),
                Some(a) => a.rewrite(url),
                None => url,
            },
            Err(_) => url,
        }
    }

    /// JSON text; the loader parses it into the object `chattag.identifiers()` returns.
    #[wasm_bindgen]
    pub fn identifiers() -> String {
        with(|a| a.identifiers_json()).unwrap_or_else(|| "{}".into())
    }

    /// `setUserId` (`purchase` = false) / `setPurchaseId`.
    #[wasm_bindgen]
    pub fn set_id(v: Option<String>, purchase: bool) {
        with(|a| a.set_user_id(v, purchase));
    }

    #[wasm_bindgen]
    pub fn consent(granted: bool) {
        with(|a| a.consent(granted));
    }

    /// A slice of the shell's tagging pass: hrefs joined by "\n"; the new ones (or `None`).
    #[wasm_bindgen]
    pub fn tag_hrefs(hrefs: String) -> Option<String> {
        match APP.0.try_borrow() {
            Ok(guard) => guard.as_ref()?.tag_hrefs(&hrefs),
            Err(_) => None,
        }
    }

    /// One link's raw `href` and `data-chattag` (see `App::link`): the href to write, if any.
    #[wasm_bindgen]
    pub fn link(href: Option<String>, hint: Option<String>, what: u32) -> Option<String> {
        with(|a| a.link(href, hint, what)).flatten()
    }

    /// Timers, page hide and bfcache restore (`app::TIMER_*`).
    #[wasm_bindgen]
    pub fn on_timer(what: u32) {
        with(|a| a.timer(what));
    }

    /// What became of the batch (for the debug overlay): 0 a stale answer, 1 delivered,
    /// 2 refused and dropped, 3 kept for a retry.
    #[wasm_bindgen]
    pub fn on_settled(token: u32, status: u16) -> u32 {
        match with(|a| a.settled(token, status)).flatten() {
            None => 0,
            Some(Outcome::Delivered) => 1,
            Some(Outcome::Refused) => 2,
            Some(Outcome::Retry) => 3,
        }
    }

    /// Debug overlay and QR dialog (see `App::inspect_link` / `App::inspect_state`): for a link
    /// (`link`: its raw `href` and hint), what the core makes of it now; otherwise the consent
    /// state and endpoint.
    #[wasm_bindgen]
    pub fn inspect(link: bool, href: Option<String>, hint: Option<String>) -> String {
        let inspect = || {
            let guard = APP.0.try_borrow().ok()?;
            let app = guard.as_ref()?;
            Some(if link {
                app.inspect_link(&href?, hint.as_deref())
            } else {
                app.inspect_state()
            })
        };
        inspect().unwrap_or_default()
    }

    #[wasm_bindgen]
    pub fn on_client_id(v: String) {
        with(|a| a.client_id(&v));
    }
}
