//! The message of the last error a call returned on each thread (`rafka_last_error_message()`),
//! and the two ways an entry point fails with one: an engine error or an invalid argument.

use std::cell::RefCell;
use std::ffi::{c_char, CString};

use crate::error::{code_of, rafka_resp_err_t, RAFKA_RESP_ERR__INVALID_ARG};
use crate::ptr::{guard, ArgError};

thread_local! {
    /// The message of the last error a call on this thread returned (see `rafka_last_error_message`).
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `msg` as this thread's last error message and returns `code`.
pub(crate) fn set_last_error(code: rafka_resp_err_t, msg: &str) -> rafka_resp_err_t {
    let c = CString::new(msg.replace('\0', "")).unwrap_or_default();
    LAST_ERROR.with(|l| *l.borrow_mut() = c);
    code
}

/// An engine error as a code, its text kept as the last error message.
pub(crate) fn err(e: &rafka_core::Error) -> rafka_resp_err_t {
    set_last_error(code_of(e), &e.to_string())
}

/// `RAFKA_RESP_ERR__INVALID_ARG`, with `msg` kept as the last error message.
pub(crate) fn invalid(msg: &str) -> rafka_resp_err_t {
    set_last_error(RAFKA_RESP_ERR__INVALID_ARG, msg)
}

/// A NULL or non-UTF-8 argument fails the call with `RAFKA_RESP_ERR__INVALID_ARG` ("topic is
/// NULL", ...), so `?` works on the `ptr` helpers in functions that return a code.
impl From<ArgError> for rafka_resp_err_t {
    #[cold]
    fn from(e: ArgError) -> rafka_resp_err_t {
        invalid(&e.to_string())
    }
}

/// The message of the last error returned by a call on the calling thread (empty if none), e.g.
/// why `rafka_produce()` refused a record. Owned by the library, valid until the next call on the
/// same thread; never NULL.
#[no_mangle]
pub extern "C" fn rafka_last_error_message() -> *const c_char {
    guard(b"\0".as_ptr().cast(), || {
        LAST_ERROR.with(|l| l.borrow().as_ptr())
    })
}
