//! The loader's side of the wasm boundary. Calls that must come back into wasm later — timers,
//! fetch results, `ym` callbacks, the `chattag:ready` dispatch — go through these small JS
//! functions (www/loader/index.js), which invoke the exports asynchronously and inside
//! try/catch. That keeps two promises: no callback can re-enter the snippet while it is busy, and
//! nothing the snippet does can throw into the page.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    pub type Ports;

    /// `fetch(url, {method: 'POST', body, keepalive: true, credentials: 'omit'})`; the status
    /// (0 for a network error) comes back through `on_settled(token, status)`.
    #[wasm_bindgen(method)]
    pub fn post(this: &Ports, url: &str, body: &str, token: u32);

    /// `setTimeout` → `on_timer(what)`; `ms == 0` yields to the browser without the timer
    /// clamp (`scheduler.postTask` where available).
    #[wasm_bindgen(method)]
    pub fn later(this: &Ports, ms: u32, what: u32);

    /// Dispatches `chattag:ready` (detail `{id}`) on `document`, asynchronously.
    #[wasm_bindgen(method)]
    pub fn ready(this: &Ports, id: &str);

    /// `ym(counter, 'getClientID', cb)` if Metrica's `ym` exists; `cb` → `on_client_id(v)`.
    #[wasm_bindgen(method)]
    pub fn ym(this: &Ports, counter: &str);

    /// The raw value of a setting: the script tag's `attr`, else `String(chattagConfig[key])`.
    #[wasm_bindgen(method)]
    pub fn setting(this: &Ports, attr: &str, key: &str) -> Option<String>;

    /// The raw `href` of `list[from..to]`, joined by "\n" ("" for an href that cannot be a
    /// messenger link, and for one that itself contains a newline: such a link is left to
    /// interaction time). One crossing per slice instead of
    /// one per link: the bulk pass is DOM-bound, and per-call glue dominated it.
    #[wasm_bindgen(method)]
    pub fn hrefs(this: &Ports, list: &JsValue, from: u32, to: u32) -> String;

    /// Sets the `href` of `list[from..]` to the matching "\n"-separated entries of `hrefs`;
    /// empty entries are left alone.
    #[wasm_bindgen(method, js_name = setHrefs)]
    pub fn set_hrefs(this: &Ports, list: &JsValue, from: u32, hrefs: &str);

    /// A document pass started: the loader collects the links in open shadow roots (which
    /// `querySelectorAll` does not reach), starts watching those roots, and hands the links to
    /// `on_links` in a task of its own.
    #[wasm_bindgen(method)]
    pub fn shadows(this: &Ports);

    /// `console.warn`, only ever called with `debug` on.
    #[wasm_bindgen(method)]
    pub fn warn(this: &Ports, message: &str, detail: &str);

    /// `console.warn` whatever `debug` says: only for a bad setting, which the site owner must
    /// see to fix (the snippet then runs with the safe default).
    #[wasm_bindgen(method)]
    pub fn misconfigured(this: &Ports, message: &str);
}
