//! OAUTHBEARER tokens from the application: a callback the I/O thread calls each time a
//! connection authenticates, which hands over a token (or a failure) through
//! `rafka_oauthbearer_token_t`.

use std::ffi::{c_char, c_void};

use crate::error::{rafka_resp_err_t, RAFKA_RESP_ERR__INVALID_ARG};
use crate::last_error::invalid;
use crate::ptr::{guard, guard_result, try_mut, try_str};

/// Where a token callback puts its answer. Owned by the library and valid only during the
/// callback; the callback calls `rafka_oauthbearer_token_set()` or
/// `rafka_oauthbearer_token_set_failure()` on it, once.
pub struct rafka_oauthbearer_token_t {
    answer: Option<Result<String, String>>,
}

/// The token callback. Runs on the producer's I/O thread whenever a connection authenticates
/// with `sasl.mechanism=OAUTHBEARER`, so it must return quickly: keep the current token cached
/// and refresh it elsewhere. `opaque` is the configuration's global opaque. It must not call
/// back into the producer.
pub type rafka_oauthbearer_token_cb_t = Option<unsafe extern "C" fn(token: *mut rafka_oauthbearer_token_t, opaque: *mut c_void)>;

/// Hands `value` (a NUL-terminated bearer token, e.g. a JWT) to the connection that asked. The
/// library copies it; the caller keeps owning `value`. RAFKA_RESP_ERR__INVALID_ARG for a NULL or
/// non-UTF-8 argument or an empty token.
///
/// # Safety
/// `token` must be the pointer the callback received, during the callback; `value` NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rafka_oauthbearer_token_set(token: *mut rafka_oauthbearer_token_t, value: *const c_char) -> rafka_resp_err_t {
    guard_result(RAFKA_RESP_ERR__INVALID_ARG, || {
        let (t, v) = (try_mut(token, "token")?, try_str(value, "value")?);
        if v.is_empty() {
            return Err(invalid("value is an empty token"));
        }
        t.answer = Some(Ok(v.to_string()));
        Ok(0)
    })
}

/// Tells the connection that no token is available: it fails to authenticate with an
/// authentication error carrying `reason` (NUL-terminated; the library copies it). The reason is
/// logged and reported, so it must not contain a secret.
///
/// # Safety
/// As for `rafka_oauthbearer_token_set()`.
#[no_mangle]
pub unsafe extern "C" fn rafka_oauthbearer_token_set_failure(token: *mut rafka_oauthbearer_token_t, reason: *const c_char) -> rafka_resp_err_t {
    guard_result(RAFKA_RESP_ERR__INVALID_ARG, || {
        let (t, r) = (try_mut(token, "token")?, try_str(reason, "reason")?);
        t.answer = Some(Err(format!("the OAUTHBEARER token callback failed: {r}")));
        Ok(0)
    })
}

/// The engine's token provider for `cb`: asks it for a token each time, inside a panic boundary.
pub(crate) fn provider(cb: unsafe extern "C" fn(*mut rafka_oauthbearer_token_t, *mut c_void), opaque: usize) -> impl Fn() -> Result<String, String> + Send + Sync + 'static {
    move || {
        let mut sink = rafka_oauthbearer_token_t { answer: None };
        // SAFETY: `sink` outlives the call; the application promised `cb` takes these arguments.
        let called = guard(false, || {
            unsafe { cb(&mut sink, opaque as *mut c_void) };
            true
        });
        if !called {
            return Err("the OAUTHBEARER token callback panicked".into());
        }
        sink.answer.unwrap_or_else(|| Err("the OAUTHBEARER token callback set neither a token nor a failure".into()))
    }
}
