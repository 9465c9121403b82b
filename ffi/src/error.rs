//! `rafka_resp_err_t`: one error code type for the whole C API, in librdkafka's spirit: 0 is OK,
//! negative values are local errors raised by rafka itself, positive values are Kafka's broker
//! error codes. The engine owns the codes (`rafka_core::LocalCode`, `KafkaCode`), their names,
//! descriptions and which are retriable; this module only translates. The `RAFKA_RESP_ERR__*`
//! numbers below must be literals for cbindgen to write them into `include/rafka.h`;
//! `ffi/tests/error_codes.rs` checks the header against the engine's table.

use std::collections::HashMap;
use std::ffi::{c_char, CString};
use std::sync::{Mutex, OnceLock};

use rafka_core::Code;

use crate::ptr::guard;

/// An error code: 0 OK, < 0 local (`RAFKA_RESP_ERR__*`), > 0 a Kafka broker error code.
pub type rafka_resp_err_t = i32;

/// Success.
pub const RAFKA_RESP_ERR_NO_ERROR: rafka_resp_err_t = 0;
/// A Kafka error the broker did not explain.
pub const RAFKA_RESP_ERR_UNKNOWN: rafka_resp_err_t = -1;
/// The record was not acknowledged within `delivery.timeout.ms`.
pub const RAFKA_RESP_ERR__MSG_TIMED_OUT: rafka_resp_err_t = -192;
/// The producer was closed before the record was delivered.
pub const RAFKA_RESP_ERR__DESTROY: rafka_resp_err_t = -197;
/// A broker connection failed.
pub const RAFKA_RESP_ERR__TRANSPORT: rafka_resp_err_t = -195;
/// A host name (in `bootstrap.servers`, or advertised by a broker) does not resolve.
pub const RAFKA_RESP_ERR__RESOLVE: rafka_resp_err_t = -193;
/// The partition does not exist in the topic.
pub const RAFKA_RESP_ERR__UNKNOWN_PARTITION: rafka_resp_err_t = -190;
/// The topic is not known to the cluster.
pub const RAFKA_RESP_ERR__UNKNOWN_TOPIC: rafka_resp_err_t = -188;
/// Every broker connection is down (given to the error callback, `rafka_error_cb_t`).
pub const RAFKA_RESP_ERR__ALL_BROKERS_DOWN: rafka_resp_err_t = -187;
/// An argument was invalid: a NULL pointer, a topic that is not UTF-8, an unknown flag, ...
pub const RAFKA_RESP_ERR__INVALID_ARG: rafka_resp_err_t = -186;
/// An operation did not finish within its timeout.
pub const RAFKA_RESP_ERR__TIMED_OUT: rafka_resp_err_t = -185;
/// No room in `buffer.memory` (at once without `RAFKA_MSG_F_BLOCK`, else after `max.block.ms`).
pub const RAFKA_RESP_ERR__QUEUE_FULL: rafka_resp_err_t = -184;
/// A TLS handshake failed: the broker's certificate (untrusted, misnamed, expired) or ours.
pub const RAFKA_RESP_ERR__SSL: rafka_resp_err_t = -181;
/// The producer is closed: nothing more can be produced.
pub const RAFKA_RESP_ERR__STATE: rafka_resp_err_t = -172;
/// The record was purged from the queue by `rafka_purge()`.
pub const RAFKA_RESP_ERR__PURGE_QUEUE: rafka_resp_err_t = -152;
/// The record was sent and not yet answered when `rafka_purge_flags()` with
/// `RAFKA_PURGE_F_INFLIGHT` gave up on it: it may have been written.
pub const RAFKA_RESP_ERR__PURGE_INFLIGHT: rafka_resp_err_t = -151;
/// The producer hit an unrecoverable error; see `rafka_fatal_error()`.
pub const RAFKA_RESP_ERR__FATAL: rafka_resp_err_t = -150;
/// The record is larger than `max.request.size` or `buffer.memory`.
pub const RAFKA_RESP_ERR__MSG_SIZE_TOO_LARGE: rafka_resp_err_t = -130;
/// The configuration was rejected.
pub const RAFKA_RESP_ERR__INVALID_CONFIG: rafka_resp_err_t = -131;
/// A bug in rafka (a panic was caught at the C boundary).
pub const RAFKA_RESP_ERR__INTERNAL: rafka_resp_err_t = -132;
/// A blocking call was interrupted (a binding's interruption check; the C API never reports it).
pub const RAFKA_RESP_ERR__INTR: rafka_resp_err_t = -163;
/// Kafka: the record is larger than the broker or topic accepts.
pub const RAFKA_RESP_ERR_MESSAGE_TOO_LARGE: rafka_resp_err_t = 10;
/// librdkafka's name for the same code (`RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE`).
pub const RAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE: rafka_resp_err_t = 10;
/// Kafka: the topic or partition does not exist.
pub const RAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART: rafka_resp_err_t = 3;

pub(crate) fn code_of(e: &rafka_core::Error) -> rafka_resp_err_t {
    e.code().as_i32()
}

struct Texts {
    name: CString,
    description: CString,
}

/// NUL-terminated name and description of every code asked for, built once and kept for the
/// life of the process so the returned pointers stay valid.
fn texts(code: rafka_resp_err_t) -> &'static Texts {
    static TABLE: OnceLock<Mutex<HashMap<rafka_resp_err_t, &'static Texts>>> = OnceLock::new();
    let mut table = TABLE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    table.entry(code).or_insert_with(|| {
        let (name, description) = match code {
            0 => ("NO_ERROR", "Success"),
            _ => match Code::from_i32(code) {
                Some(Code::Local(l)) => (l.name(), l.description()),
                Some(Code::Kafka(k)) => (k.name(), k.description()),
                None => ("_UNKNOWN_CODE", "unknown error code"),
            },
        };
        let c = |s: &str| CString::new(s.replace('\0', "")).unwrap_or_default();
        Box::leak(Box::new(Texts {
            name: c(name),
            description: c(description),
        }))
    })
}

/// The name of an error code, e.g. "_QUEUE_FULL" or "NOT_LEADER_OR_FOLLOWER".
/// The returned string has static storage: the caller must not free it. Never NULL.
#[no_mangle]
pub extern "C" fn rafka_err_name(err: rafka_resp_err_t) -> *const c_char {
    guard(b"_INTERNAL\0".as_ptr().cast(), || texts(err).name.as_ptr())
}

/// A human-readable description of an error code.
/// The returned string has static storage: the caller must not free it. Never NULL.
#[no_mangle]
pub extern "C" fn rafka_err_description(err: rafka_resp_err_t) -> *const c_char {
    guard(b"internal error in rafka\0".as_ptr().cast(), || {
        texts(err).description.as_ptr()
    })
}

/// 1 when retrying a record that failed with `err` may succeed, else 0.
#[no_mangle]
pub extern "C" fn rafka_err_is_retriable(err: rafka_resp_err_t) -> i32 {
    guard(0, || Code::from_i32(err).is_some_and(Code::is_retriable) as i32)
}
