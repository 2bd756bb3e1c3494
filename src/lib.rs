//! chattag snippet: the browser shell around `chattag-core`. It reads IDs from the page, tags
//! messenger links and delivers events; every rule it applies lives in the core.
//!
//! The exports below are called only by the loader (www/loader/index.js), which wraps each call
//! in try/catch and makes callbacks asynchronous. State lives in one `RefCell`; a call that
//! arrives while it is borrowed (a page handler re-entering synchronously) is ignored rather
//! than allowed to panic.
//!
//! Layers: `logic` (pure, native tests) and `browser` (web-sys, wasm32 only).
//!
//! Size: every byte ships to every page, so no `format!`/`core::fmt`, no serde_json (see
//! `logic::wire`), and the web-sys feature list in Cargo.toml is kept minimal.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

mod logic;

#[cfg(target_arch = "wasm32")]
mod browser;

#[cfg(target_arch = "wasm32")]
mod exports {
    use std::cell::RefCell;

    use wasm_bindgen::prelude::*;

    use crate::browser::app::App;
    use crate::browser::ports::Ports;
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
    pub fn boot(window: JsValue, document: JsValue, ports: Ports) -> bool {
        let Some(app) = App::boot(window, document, ports) else {
            return false;
        };
        let debug = app.debug();
        if let Ok(mut slot) = APP.0.try_borrow_mut() {
            if slot.is_none() {
                *slot = Some(app);
            }
        }
        debug
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

    #[wasm_bindgen]
    pub fn rewrite(url: String) -> String {
        match APP.0.try_borrow() {
            Ok(guard) => match guard.as_ref() {
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

    #[wasm_bindgen]
    pub fn set_user_id(v: Option<String>) {
        with(|a| a.set_user_id(v, false));
    }

    #[wasm_bindgen]
    pub fn set_purchase_id(v: Option<String>) {
        with(|a| a.set_user_id(v, true));
    }

    #[wasm_bindgen]
    pub fn consent(granted: bool) {
        with(|a| a.consent(granted));
    }

    /// Capture-phase pointerdown / contextmenu (`used` = false) and click / auxclick (`used`):
    /// `target` is the link on the event's composed path (also inside an open shadow root), or
    /// undefined.
    #[wasm_bindgen]
    pub fn on_interaction(target: JsValue, used: bool) {
        with(|a| a.interaction(target, used));
    }

    /// Links the page added or changed (the loader's MutationObserver), split by whether
    /// they carry a `data-chattag` hint.
    #[wasm_bindgen]
    pub fn on_links(plain: JsValue, hinted: JsValue) {
        with(|a| a.links(plain, hinted));
    }

    /// `window.open` wrapper: returns the URL to open.
    #[wasm_bindgen]
    pub fn on_open(url: String) -> String {
        match APP.0.try_borrow_mut() {
            Ok(mut guard) => match guard.as_mut() {
                Some(a) => a.open(url),
                None => url,
            },
            Err(_) => url,
        }
    }

    #[wasm_bindgen]
    pub fn on_hide() {
        with(|a| a.beacon());
    }

    #[wasm_bindgen]
    pub fn on_show() {
        with(|a| a.show());
    }

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
    /// element, what the core makes of it now; for anything else, the consent state and endpoint.
    #[wasm_bindgen]
    pub fn inspect(el: JsValue) -> String {
        let inspect = || {
            let guard = APP.0.try_borrow().ok()?;
            let app = guard.as_ref()?;
            Some(if el.is_object() {
                app.inspect_link(&el)
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
