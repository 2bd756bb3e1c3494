//! The snippet's own decisions, pure and tested natively: no web-sys, no JS. Everything here
//! takes plain values (stored text, the clock, a collector's status) and returns plain values;
//! `crate::browser` does the I/O. Rules shared with the collector live in `chattag-core`.

pub mod delivery;
pub mod outbox;
pub mod reported;
pub mod settings;
pub mod visitor;
pub mod wire;
