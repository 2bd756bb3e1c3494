//! The snippet's heap: power-of-two size classes with a free list each, carved from
//! `memory.grow`. Rust's default wasm allocator (dlmalloc) is ~7 KB of code — most of a page's
//! budget; this is a few hundred bytes and suits a page view's allocations (many short strings
//! that are freed and reused). The price is up to 2× slack per block, and memory is never
//! returned to the system (wasm memory cannot shrink anyway).
//!
//! Single-threaded: wasm32-unknown-unknown without atomics has one thread.

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32::{memory_grow, memory_size};
use core::cell::UnsafeCell;

const PAGE: usize = 65_536;
/// Smallest block: room for the free-list link and typical tiny strings.
const MIN_CLASS: u32 = 4;
const CLASSES: usize = usize::BITS as usize;

struct Heap {
    /// Head of each size class's free list (0 = empty); a free block's first word links on.
    free: [usize; CLASSES],
    next: usize,
    end: usize,
}

struct Classes(UnsafeCell<Heap>);

// SAFETY: wasm32-unknown-unknown (no atomics) runs on a single thread.
unsafe impl Sync for Classes {}

#[global_allocator]
static HEAP: Classes = Classes(UnsafeCell::new(Heap {
    free: [0; CLASSES],
    next: 0,
    end: 0,
}));

/// The class of a layout: blocks are `1 << class` bytes and aligned to their size, which
/// satisfies any alignment up to the size.
fn class_of(layout: &Layout) -> u32 {
    let size = layout.size().max(layout.align()).max(1 << MIN_CLASS);
    size.next_power_of_two().trailing_zeros()
}

unsafe impl GlobalAlloc for Classes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: single-threaded, and no allocation happens while this borrow is live.
        let heap = unsafe { &mut *self.0.get() };
        let class = class_of(&layout);
        if class as usize >= CLASSES - 1 {
            return core::ptr::null_mut();
        }
        let head = heap.free[class as usize];
        if head != 0 {
            // SAFETY: `head` is a block this allocator handed out and got back; its first word
            // holds the next free block of the class.
            heap.free[class as usize] = unsafe { *(head as *const usize) };
            return head as *mut u8;
        }
        let size = 1usize << class;
        if heap.end == 0 {
            heap.next = memory_size(0) * PAGE;
            heap.end = heap.next;
        }
        let start = (heap.next + size - 1) & !(size - 1);
        let Some(stop) = start.checked_add(size) else {
            return core::ptr::null_mut();
        };
        if stop > heap.end {
            let pages = (stop - heap.end).div_ceil(PAGE);
            if memory_grow(0, pages) == usize::MAX {
                return core::ptr::null_mut();
            }
            heap.end += pages * PAGE;
        }
        heap.next = stop;
        start as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as in `alloc`; `ptr` came from `alloc` with this layout, so it is at least
        // 16 bytes, word-aligned, and no longer used by the caller.
        let heap = unsafe { &mut *self.0.get() };
        let class = class_of(&layout) as usize;
        unsafe { *(ptr as *mut usize) = heap.free[class] };
        heap.free[class] = ptr as usize;
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc` (valid ptr/layout, non-zero size).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if class_of(&new_layout) == class_of(&layout) {
            return ptr; // the block already has room
        }
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            unsafe {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}
