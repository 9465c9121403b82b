//! `rafka_error_t`: an error object, as librdkafka's `rd_kafka_error_t`, returned by the calls
//! that need to say more than a code: the transactional calls (`transaction.rs`). It carries
//! the engine's error as it is: its code, its message and the three facts a transactional
//! caller acts on (retriable, requires abort, fatal). NULL means success.

use std::ffi::{c_char, CString};

use crate::error::{rafka_err_name, rafka_resp_err_t, RAFKA_RESP_ERR_NO_ERROR, RAFKA_RESP_ERR__INTERNAL, RAFKA_RESP_ERR__INVALID_ARG};
use crate::ptr::{guard, guard_with, ArgError};

/// An error. Returned by the library (never NULL when there is an error), owned by the caller,
/// who frees it with `rafka_error_destroy()`. Immutable: may be read from any thread.
pub struct rafka_error_t {
    code: rafka_resp_err_t,
    message: CString,
    retriable: bool,
    fatal: bool,
    txn_requires_abort: bool,
}

impl rafka_error_t {
    fn boxed(code: rafka_resp_err_t, message: &str, retriable: bool, fatal: bool, txn_requires_abort: bool) -> *mut rafka_error_t {
        let message = CString::new(message.replace('\0', "")).unwrap_or_default();
        Box::into_raw(Box::new(rafka_error_t { code, message, retriable, fatal, txn_requires_abort }))
    }

    /// The engine's error as an object the caller owns.
    pub(crate) fn from_engine(e: &rafka_core::Error) -> *mut rafka_error_t {
        rafka_error_t::boxed(e.code().as_i32(), e.message(), e.is_retriable(), e.is_fatal(), e.txn_requires_abort())
    }

    /// A NULL or non-UTF-8 argument, as `RAFKA_RESP_ERR__INVALID_ARG` ("topic is NULL", ...).
    pub(crate) fn from_arg(e: ArgError) -> *mut rafka_error_t {
        rafka_error_t::boxed(RAFKA_RESP_ERR__INVALID_ARG, &e.to_string(), false, false, false)
    }
}

/// Runs the body of a function that returns `rafka_error_t *`: NULL on success, the error
/// object on failure, an `_INTERNAL` error if the body panicked.
pub(crate) fn guard_error(f: impl FnOnce() -> Result<(), *mut rafka_error_t>) -> *mut rafka_error_t {
    guard_with(
        || rafka_error_t::boxed(RAFKA_RESP_ERR__INTERNAL, "a bug in rafka: a panic was caught at the C boundary", false, false, false),
        || f().err().unwrap_or(std::ptr::null_mut()),
    )
}

/// The error's code (RAFKA_RESP_ERR_NO_ERROR for NULL).
///
/// # Safety
/// `error` NULL or a live error object.
#[no_mangle]
pub unsafe extern "C" fn rafka_error_code(error: *const rafka_error_t) -> rafka_resp_err_t {
    guard(RAFKA_RESP_ERR__INTERNAL, || error.as_ref().map_or(RAFKA_RESP_ERR_NO_ERROR, |e| e.code))
}

/// The name of the error's code, e.g. "PRODUCER_FENCED" or "_STATE" ("NO_ERROR" for NULL).
/// Static storage: the caller must not free it. Never NULL.
///
/// # Safety
/// `error` NULL or a live error object.
#[no_mangle]
pub unsafe extern "C" fn rafka_error_name(error: *const rafka_error_t) -> *const c_char {
    rafka_err_name(rafka_error_code(error))
}

/// What happened, in words (the code's name is not repeated; "Success" for NULL). Owned by the
/// error object: valid until `rafka_error_destroy()`. Never NULL.
///
/// # Safety
/// `error` NULL or a live error object.
#[no_mangle]
pub unsafe extern "C" fn rafka_error_string(error: *const rafka_error_t) -> *const c_char {
    guard(b"internal error in rafka\0".as_ptr().cast(), || {
        error.as_ref().map_or(b"Success\0".as_ptr().cast(), |e| e.message.as_ptr())
    })
}

/// 1 when calling the same function again may succeed (e.g. a timeout: the request goes on and
/// the next call waits for it), else 0 (also for NULL).
///
/// # Safety
/// `error` NULL or a live error object.
#[no_mangle]
pub unsafe extern "C" fn rafka_error_is_retriable(error: *const rafka_error_t) -> i32 {
    guard(0, || error.as_ref().is_some_and(|e| e.retriable) as i32)
}

/// 1 when the producer cannot go on (e.g. fenced by a newer producer with the same
/// transactional.id): every later call fails; destroy the producer. Else 0 (also for NULL).
///
/// # Safety
/// `error` NULL or a live error object.
#[no_mangle]
pub unsafe extern "C" fn rafka_error_is_fatal(error: *const rafka_error_t) -> i32 {
    guard(0, || error.as_ref().is_some_and(|e| e.fatal) as i32)
}

/// 1 when the current transaction cannot commit: call `rafka_abort_transaction()`, after which
/// a new transaction may begin. Else 0 (also for NULL).
///
/// # Safety
/// `error` NULL or a live error object.
#[no_mangle]
pub unsafe extern "C" fn rafka_error_txn_requires_abort(error: *const rafka_error_t) -> i32 {
    guard(0, || error.as_ref().is_some_and(|e| e.txn_requires_abort) as i32)
}

/// Frees an error object. NULL is a no-op.
///
/// # Safety
/// `error` NULL or a live error object, not used again afterwards.
#[no_mangle]
pub unsafe extern "C" fn rafka_error_destroy(error: *mut rafka_error_t) {
    guard((), || {
        if !error.is_null() {
            drop(Box::from_raw(error));
        }
    })
}
