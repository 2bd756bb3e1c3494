//! The snippet's own decisions, pure and tested natively: no JS. Everything here takes plain
//! values (stored text, the clock, random bytes) and returns plain values; `crate::browser`
//! moves them across the wasm boundary. Rules shared with the collector live in `chattag-core`.

pub mod reported;
pub mod visitor;
pub mod wire;
