//! The few helpers every entry point uses: the panic boundary, NULL-checked pointer conversion,
//! and writing a message into a caller's error buffer. No other module casts raw pointers by hand.
//!
//! A parameter that must not be NULL goes through [`try_ref`], [`try_mut`] or [`try_str`], which
//! name the parameter in their [`ArgError`]; `?` in a function returning an error code turns it
//! into `RAFKA_RESP_ERR__INVALID_ARG` with "<name> is NULL" as the thread's last error message
//! (see `last_error.rs`).

use std::ffi::{c_char, CStr};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f` inside a panic boundary: a panic becomes `on_panic` instead of unwinding into C.
pub(crate) fn guard<T>(on_panic: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(on_panic)
}

/// [`guard`] whose panic value is built only on a panic (an allocated error object, say).
pub(crate) fn guard_with<T>(on_panic: impl FnOnce() -> T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| on_panic())
}

/// [`guard`] for a body that returns its error code early with `?`: `Ok(v)` and `Err(code)` both
/// come out as they are.
pub(crate) fn guard_result<T>(on_panic: T, f: impl FnOnce() -> Result<T, T>) -> T {
    guard(on_panic, || f().unwrap_or_else(|e| e))
}

/// A pointer parameter the function cannot use, by the parameter's name.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ArgError {
    Null(&'static str),
    NotUtf8(&'static str),
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::Null(name) => write!(f, "{name} is NULL"),
            ArgError::NotUtf8(name) => write!(f, "{name} is not valid UTF-8"),
        }
    }
}

/// A shared reference from a handle pointer, or `ArgError::Null(name)`.
///
/// # Safety
/// `p` must be NULL or point to a live `T` created by this library.
#[inline]
pub(crate) unsafe fn try_ref<'a, T>(p: *const T, name: &'static str) -> Result<&'a T, ArgError> {
    p.as_ref().ok_or(ArgError::Null(name))
}

/// A mutable reference from a handle pointer, or `ArgError::Null(name)`.
///
/// # Safety
/// `p` must be NULL or point to a live `T` created by this library, not aliased during the call.
#[inline]
pub(crate) unsafe fn try_mut<'a, T>(p: *mut T, name: &'static str) -> Result<&'a mut T, ArgError> {
    p.as_mut().ok_or(ArgError::Null(name))
}

/// A NUL-terminated C string as `&str`, or why not (NULL, not UTF-8) naming the parameter.
///
/// An ASCII string (`is_ascii` checks a word at a time) is UTF-8 as it is; only other strings go
/// through `str::from_utf8`, which walks a short string byte by byte. On the produce path, where the
/// topic name is converted for every record, this halves the conversion's instructions.
///
/// # Safety
/// `s` must be NULL or a valid NUL-terminated string that outlives the returned reference.
#[inline]
pub(crate) unsafe fn try_str<'a>(s: *const c_char, name: &'static str) -> Result<&'a str, ArgError> {
    if s.is_null() {
        return Err(ArgError::Null(name));
    }
    let bytes = CStr::from_ptr(s).to_bytes();
    if bytes.is_ascii() {
        // SAFETY: ASCII bytes are UTF-8.
        Ok(std::str::from_utf8_unchecked(bytes))
    } else {
        std::str::from_utf8(bytes).map_err(|_| ArgError::NotUtf8(name))
    }
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

/// `len` items at `p` as a slice: empty when `len` is 0 (then `p` may be NULL), else
/// `ArgError::Null(name)` for NULL.
///
/// # Safety
/// `p` must be NULL or point to `len` initialised `T` that outlive the returned slice.
pub(crate) unsafe fn try_slice<'a, T>(p: *const T, len: usize, name: &'static str) -> Result<&'a [T], ArgError> {
    if len == 0 {
        Ok(&[])
    } else if p.is_null() {
        Err(ArgError::Null(name))
    } else {
        Ok(std::slice::from_raw_parts(p, len))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn try_str_takes_ascii_and_utf8_and_names_the_parameter_when_null_or_not_utf8() {
        let s = |b: &[u8]| unsafe { try_str(b.as_ptr().cast(), "topic").map(str::to_owned).map_err(|e| e.to_string()) };
        assert_eq!(s(b"orders-eu\0"), Ok("orders-eu".to_owned()));
        assert_eq!(s(b"\0"), Ok(String::new()));
        assert_eq!(s("b\u{e4}ckerei-\u{1f35e}\0".as_bytes()), Ok("b\u{e4}ckerei-\u{1f35e}".to_owned()));
        assert_eq!(s(b"bad\xff\xfename\0"), Err("topic is not valid UTF-8".to_owned()));
        assert_eq!(s(b"cut\xe4\0"), Err("topic is not valid UTF-8".to_owned()));
        let null = unsafe { try_str(std::ptr::null(), "topic") }.unwrap_err().to_string();
        assert_eq!(null, "topic is NULL");
    }
}
