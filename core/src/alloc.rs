//! The memory allocator rafka's libraries and programs install (`#[global_allocator]` in librafka,
//! the Python extension, the JNI library and the `rafka` command; a Rust application using
//! rafka-core chooses its own).
//!
//! Rust allocations (record bodies, batches, reports) come from mimalloc by default:
//! the engine allocates each record's encoded body on the sending thread and frees it after its
//! delivery report, in bursts of a whole batch and often on another thread, which glibc's malloc
//! serves slowly (consolidating and unlinking chunks: about a tenth of the C API's CPU per record,
//! measured with `perf`). Memory the application hands over with RAFKA_MSG_F_FREE is still released
//! with the C library's `free()`, and nothing allocated here is freed by the application.
//!
//! `RAFKA_ALLOCATOR=system` in the environment, read at the first allocation, selects the C
//! library's malloc instead, so that valgrind and LeakSanitizer see (and check) every allocation;
//! the sanitizer and valgrind tests run that way.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU8, Ordering};

/// Forwards to mimalloc, or to the C library with `RAFKA_ALLOCATOR=system`.
pub struct RafkaAlloc;

const UNDECIDED: u8 = 0;
const MIMALLOC: u8 = 1;
const SYSTEM: u8 = 2;

static CHOICE: AtomicU8 = AtomicU8::new(UNDECIDED);

#[inline]
fn choice() -> u8 {
    match CHOICE.load(Ordering::Relaxed) {
        UNDECIDED => decide(),
        c => c,
    }
}

#[cold]
fn decide() -> u8 {
    // getenv does not allocate; every thread that races here decides the same.
    // SAFETY: a NUL-terminated name; the result is read before any other call could change it.
    #[allow(clippy::manual_c_str_literals)] // c"" literals need Rust 1.77; the workspace supports 1.75
    let v = unsafe { libc::getenv(b"RAFKA_ALLOCATOR\0".as_ptr().cast()) };
    let system = !v.is_null() && unsafe { std::ffi::CStr::from_ptr(v) }.to_bytes() == b"system";
    let c = if system { SYSTEM } else { MIMALLOC };
    CHOICE.store(c, Ordering::Relaxed);
    c
}

/// What mimalloc's plain `mi_malloc` guarantees: every block of 16 bytes or more is 16-aligned,
/// smaller ones are aligned to their size class (8). The same rule as std's `System` allocator.
const MI_MIN_ALIGN: usize = 16;

#[inline]
fn plain(align: usize, size: usize) -> bool {
    align <= MI_MIN_ALIGN && align <= size
}

// SAFETY: every call is forwarded to one allocator, chosen once for the life of the process, so
// memory is always freed by the allocator that gave it out. mimalloc frees aligned and plain
// blocks alike with `mi_free`; plain entry points are used only where their alignment suffices.
unsafe impl GlobalAlloc for RafkaAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if choice() == SYSTEM {
            System.alloc(layout)
        } else if plain(layout.align(), layout.size()) {
            // The `mimalloc` crate always calls mi_malloc_aligned, whose slow path (a page with no
            // free block left, the common case under cross-thread frees) over-allocates sizes
            // that are not a power of two by `align - 1` bytes.
            libmimalloc_sys::mi_malloc(layout.size()) as *mut u8
        } else {
            mimalloc::MiMalloc.alloc(layout)
        }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if choice() == SYSTEM {
            System.alloc_zeroed(layout)
        } else if plain(layout.align(), layout.size()) {
            libmimalloc_sys::mi_zalloc(layout.size()) as *mut u8
        } else {
            mimalloc::MiMalloc.alloc_zeroed(layout)
        }
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if choice() == SYSTEM {
            System.dealloc(ptr, layout)
        } else {
            mimalloc::MiMalloc.dealloc(ptr, layout)
        }
    }
    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if choice() == SYSTEM {
            System.realloc(ptr, layout, new_size)
        } else if plain(layout.align(), new_size) {
            libmimalloc_sys::mi_realloc(ptr.cast(), new_size) as *mut u8
        } else {
            mimalloc::MiMalloc.realloc(ptr, layout, new_size)
        }
    }
}
