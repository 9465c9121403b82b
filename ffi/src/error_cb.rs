//! The error callback `rafka_error_cb_t` (librdkafka's `error_cb`): told of client-wide errors
//! that no call returns.

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;

use crate::handle::rafka_producer_t;

/// The error callback, called from `rafka_poll()` / `rafka_flush()` (or the delivery thread in
/// "thread" mode) with `RAFKA_RESP_ERR__ALL_BROKERS_DOWN` once when every broker connection is
/// down (again only after one came back and all were lost again), and with the producer's fatal
/// error. `reason` is NUL-terminated and valid during the call only; `opaque` is the
/// configuration's global opaque.
pub type rafka_error_cb_t =
    Option<unsafe extern "C" fn(producer: *mut rafka_producer_t, err: c_int, reason: *const c_char, opaque: *mut c_void)>;

/// The engine's error handler calling the application's callback.
pub(crate) fn handler(
    cb: unsafe extern "C" fn(*mut rafka_producer_t, c_int, *const c_char, *mut c_void),
    handle: Arc<AtomicPtr<rafka_producer_t>>,
    opaque: usize,
) -> impl Fn(&rafka_core::Error) + Send + Sync + 'static {
    move |e: &rafka_core::Error| {
        let reason = CString::new(e.to_string().replace('\0', "")).unwrap_or_default();
        // SAFETY: the application's callback, with a NUL-terminated reason alive during the call.
        unsafe { cb(handle.load(Ordering::Acquire), e.code().as_i32(), reason.as_ptr(), opaque as *mut c_void) }
    }
}
