//! The few helpers every entry point uses: the panic boundary, NULL-checked pointer conversion,
//! and writing a message into a caller's error buffer. No other module casts raw pointers by hand.

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f` inside a panic boundary: a panic becomes `on_panic` instead of unwinding into C.
pub(crate) fn guard<T>(on_panic: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(on_panic)
}

/// A shared reference from a handle pointer, or `None` for NULL.
///
/// # Safety
/// `p` must be NULL or point to a live `T` created by this library.
pub(crate) unsafe fn as_ref<'a, T>(p: *const T) -> Option<&'a T> {
    p.as_ref()
}

/// A mutable reference from a handle pointer, or `None` for NULL.
///
/// # Safety
/// `p` must be NULL or point to a live `T` created by this library, not aliased during the call.
pub(crate) unsafe fn as_mut<'a, T>(p: *mut T) -> Option<&'a mut T> {
    p.as_mut()
}

/// A NUL-terminated C string as `&str`: `Err(true)` for NULL, `Err(false)` for invalid UTF-8.
///
/// # Safety
/// `s` must be NULL or a valid NUL-terminated string that outlives the returned reference.
pub(crate) unsafe fn as_str<'a>(s: *const c_char) -> Result<&'a str, bool> {
    if s.is_null() {
        return Err(true);
    }
    CStr::from_ptr(s).to_str().map_err(|_| false)
}

/// `len` bytes at `p` as a slice; `None` for a NULL pointer (an empty slice when `len` is 0).
///
/// # Safety
/// `p` must be NULL or point to `len` readable bytes that outlive the returned slice.
pub(crate) unsafe fn as_bytes<'a>(p: *const std::ffi::c_void, len: usize) -> Option<&'a [u8]> {
    if p.is_null() {
        None
    } else if len == 0 {
        Some(&[])
    } else {
        Some(std::slice::from_raw_parts(p.cast::<u8>(), len))
    }
}

/// Copies `msg` into the caller's buffer, truncated and always NUL-terminated. NULL or a zero size
/// means the caller wants no message.
///
/// # Safety
/// `buf` must be NULL or point to `size` writable bytes.
pub(crate) unsafe fn write_errstr(buf: *mut c_char, size: usize, msg: &str) {
    if buf.is_null() || size == 0 {
        return;
    }
    let n = msg.len().min(size - 1);
    std::ptr::copy_nonoverlapping(msg.as_ptr(), buf.cast::<u8>(), n);
    *buf.add(n) = 0;
}
