//! The throttle callback `rafka_throttle_cb_t` (librdkafka's `throttle_cb`): told of each
//! Produce response a broker throttled.

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;

use crate::handle::rafka_producer_t;

/// The throttle callback, called from `rafka_poll()` / `rafka_flush()` (or the delivery thread
/// in "thread" mode) for each Produce response whose throttle time is above 0: the broker's name
/// ("host:port/id", NUL-terminated, valid during the call only), its id and the throttle time in
/// ms. `opaque` is the configuration's global opaque.
pub type rafka_throttle_cb_t = Option<
    unsafe extern "C" fn(producer: *mut rafka_producer_t, broker_name: *const c_char, broker_id: i32, throttle_time_ms: c_int, opaque: *mut c_void),
>;

/// The engine's throttle handler calling the application's callback.
pub(crate) fn handler(
    cb: unsafe extern "C" fn(*mut rafka_producer_t, *const c_char, i32, c_int, *mut c_void),
    handle: Arc<AtomicPtr<rafka_producer_t>>,
    opaque: usize,
) -> impl Fn(&str, i32, i32) + Send + Sync + 'static {
    move |name: &str, id: i32, ms: i32| {
        let name = CString::new(name.replace('\0', "")).unwrap_or_default();
        // SAFETY: the application's callback, with a NUL-terminated name alive during the call.
        unsafe { cb(handle.load(Ordering::Acquire), name.as_ptr(), id, ms, opaque as *mut c_void) }
    }
}
