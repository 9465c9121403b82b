//! The statistics callback `rafka_stats_cb_t` (librdkafka's `stats_cb`): the engine's stats
//! handler for one producer, which hands each JSON document (`statistics.interval.ms`,
//! docs/observability.md) to the application.

use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;

use crate::handle::rafka_producer_t;

/// The statistics callback, called every `statistics.interval.ms` from `rafka_poll()` /
/// `rafka_flush()` (or the delivery thread in "thread" mode). `json` is a NUL-terminated JSON
/// document of `json_len` bytes (the NUL not counted), allocated with the C library's `malloc`.
/// Return 0 and the library frees it after the call; return non-zero and the application owns
/// it and frees it with `free()` (librdkafka's contract). `opaque` is the configuration's global
/// opaque.
pub type rafka_stats_cb_t = Option<
    unsafe extern "C" fn(producer: *mut rafka_producer_t, json: *mut c_char, json_len: usize, opaque: *mut c_void) -> c_int,
>;

/// Calls the application's statistics callback with a `malloc`ed copy of `json`.
pub(crate) fn handler(
    cb: unsafe extern "C" fn(*mut rafka_producer_t, *mut c_char, usize, *mut c_void) -> c_int,
    handle: Arc<AtomicPtr<rafka_producer_t>>,
    opaque: usize,
) -> impl Fn(&str) + Send + Sync + 'static {
    move |json: &str| {
        // SAFETY: malloc of len+1 bytes, filled with the document and a NUL below.
        unsafe {
            let buf = libc::malloc(json.len() + 1) as *mut u8;
            if buf.is_null() {
                log::error!("no memory for a statistics document of {} bytes; dropped", json.len());
                return;
            }
            std::ptr::copy_nonoverlapping(json.as_ptr(), buf, json.len());
            *buf.add(json.len()) = 0;
            let kept = cb(handle.load(Ordering::Acquire), buf as *mut c_char, json.len(), opaque as *mut c_void);
            if kept == 0 {
                libc::free(buf as *mut c_void);
            }
        }
    }
}
