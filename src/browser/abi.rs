//! Strings across the wasm boundary, by hand (no wasm-bindgen: its glue and conversion shims
//! were ~2 KB gzip for one import and one export that pass strings). UTF-8 in linear memory as
//! (pointer, length) pairs; see `crate::exports` for the protocol and www/loader/glue.js for the
//! other side.

use std::cell::Cell;
use std::mem::ManuallyDrop;

use crate::browser::ports;

/// The length of the block `alloc` handed out last: the glue answers an `io` call with the
/// pointer only (an import returns one value), the length comes from here.
struct Last(Cell<usize>);
// SAFETY: this target has no threads (no `atomics`).
unsafe impl Sync for Last {}
static LAST: Last = Last(Cell::new(0));

/// A block of exactly `len` bytes for the glue to write a string into; the wasm takes it over
/// with `take` (a `Vec::with_capacity(len)` has capacity exactly `len`).
#[export_name = "a"]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    LAST.0.set(len);
    ManuallyDrop::new(Vec::<u8>::with_capacity(len)).as_mut_ptr()
}

/// The string the glue wrote at `ptr` (from `alloc(len)`), owned from here on; 0 = none.
///
/// # Safety
/// `ptr` is 0 or came from `alloc(len)`, and its `len` bytes are UTF-8 (the glue's TextEncoder
/// writes nothing else).
pub unsafe fn take(ptr: *mut u8, len: usize) -> Option<String> {
    // SAFETY: the contract above: an allocation of capacity `len`, `len` bytes of UTF-8.
    (!ptr.is_null()).then(|| unsafe { String::from_raw_parts(ptr, len, len) })
}

/// The answer of an `io` call: the glue wrote it into a block from `alloc`, whose length is
/// `LAST`.
pub fn taken(ptr: *mut u8) -> Option<String> {
    // SAFETY: `ptr` is what the glue's `io` returned: 0, or the block of the `alloc` call it
    // just made (nothing else allocates through the export in between).
    unsafe { take(ptr, LAST.0.get()) }
}

/// The current call's answer to the glue, which decodes it at once.
pub fn answer(s: &str) {
    // SAFETY: the glue only reads the bytes during the call.
    unsafe { ports::r(s.as_ptr(), s.len()) }
}
