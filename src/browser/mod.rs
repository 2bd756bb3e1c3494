//! The imperative shell on the page (wasm32 only): state, storage, the DOM and the loader's
//! ports. Thin by design: it moves data between the browser and `crate::logic` / the core.

pub mod alloc;
pub mod app;
pub mod dom;
pub mod ports;
pub mod storage;
