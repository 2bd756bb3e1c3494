//! The page view's state (wasm32 only) and its calls into the loader's JS shell through the
//! imports. Thin by design: it moves data between the shell and `crate::logic` / the core.

pub mod abi;
pub mod alloc;
pub mod dom;
pub mod page;
pub mod ports;
