//! `rafka_conf_t`: string key/value configuration and the callbacks a producer is built with.

use std::ffi::{c_char, c_void};

use rafka_core::{Config, ConfigError, DeliveryMode};

use crate::error::{rafka_resp_err_t, RAFKA_RESP_ERR__INTERNAL};
use crate::interceptor::{rafka_interceptor_cb_t, Interceptors};
use crate::log_sink::rafka_log_cb_t;
use crate::oauthbearer::rafka_oauthbearer_token_cb_t;
use crate::partitioner::rafka_partitioner_cb_t;
use crate::ptr::{guard, guard_result, try_mut, try_ref, try_str, write_errstr};
use crate::report::{rafka_dr_cb_t, rafka_spool_recovered_cb_t};
use crate::stats::rafka_stats_cb_t;
use crate::error_cb::rafka_error_cb_t;
use crate::throttle::rafka_throttle_cb_t;

/// Configuration of a producer. Created by `rafka_conf_new()`, freed by `rafka_conf_free()` or
/// taken over by a successful `rafka_producer_new()`. Not thread-safe: one thread at a time.
pub struct rafka_conf_t {
    pub(crate) config: Config,
    pub(crate) mode: DeliveryMode,
    pub(crate) dr_cb: rafka_dr_cb_t,
    pub(crate) log_cb: rafka_log_cb_t,
    pub(crate) token_cb: rafka_oauthbearer_token_cb_t,
    pub(crate) partitioner_cb: rafka_partitioner_cb_t,
    pub(crate) interceptors: Interceptors,
    pub(crate) error_cb: rafka_error_cb_t,
    pub(crate) stats_cb: rafka_stats_cb_t,
    pub(crate) throttle_cb: rafka_throttle_cb_t,
    pub(crate) spool_recovered_cb: rafka_spool_recovered_cb_t,
    pub(crate) opaque: usize,
}

/// The result of `rafka_conf_set()`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum rafka_conf_res_t {
    /// No such configuration key (the error buffer suggests the closest one).
    RAFKA_CONF_UNKNOWN = -2,
    /// The value does not fit the key, or contradicts another setting; or an argument was NULL.
    RAFKA_CONF_INVALID = -1,
    /// The setting was stored.
    RAFKA_CONF_OK = 0,
}
use rafka_conf_res_t::*;

/// The key, handled here rather than by the engine, that chooses who runs delivery reports:
/// "poll" (the default: the application's `rafka_poll()` / `rafka_flush()` calls) or "thread"
/// (a background thread owned by the producer).
pub(crate) const DELIVERY_MODE_KEY: &str = "delivery.report.mode";

/// A new configuration with every default. The caller owns the result: free it with
/// `rafka_conf_free()` or hand it to `rafka_producer_new()`. NULL only if a panic was caught.
#[no_mangle]
pub extern "C" fn rafka_conf_new() -> *mut rafka_conf_t {
    guard(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(rafka_conf_t {
            config: Config::new(),
            mode: DeliveryMode::Poll,
            dr_cb: None,
            log_cb: None,
            token_cb: None,
            partitioner_cb: None,
            interceptors: Interceptors::default(),
            error_cb: None,
            stats_cb: None,
            throttle_cb: None,
            spool_recovered_cb: None,
            opaque: 0,
        }))
    })
}

/// Sets `name` to `value` (Java client names and the common librdkafka aliases, plus
/// "delivery.report.mode" = "poll" | "thread"). On failure a NUL-terminated message is written to
/// `errstr` (may be NULL; at most `errstr_size` bytes, truncated). The library keeps no pointer to
/// `name`, `value` or `errstr`; the caller keeps owning them and `conf`.
///
/// # Safety
/// `conf` must be NULL or a live configuration; `name`/`value` NULL or NUL-terminated strings;
/// `errstr` NULL or `errstr_size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn rafka_conf_set(
    conf: *mut rafka_conf_t,
    name: *const c_char,
    value: *const c_char,
    errstr: *mut c_char,
    errstr_size: usize,
) -> rafka_conf_res_t {
    guard(RAFKA_CONF_INVALID, || {
        let args = try_mut(conf, "conf")
            .and_then(|c| Ok((c, try_str(name, "name")?, try_str(value, "value")?)));
        let (conf, name, value) = match args {
            Ok(a) => a,
            Err(e) => {
                write_errstr(errstr, errstr_size, &e.to_string());
                return RAFKA_CONF_INVALID;
            }
        };
        if name == DELIVERY_MODE_KEY {
            conf.mode = match value {
                "poll" => DeliveryMode::Poll,
                "thread" => DeliveryMode::Thread,
                _ => {
                    write_errstr(errstr, errstr_size, &format!("invalid value '{value}' for {DELIVERY_MODE_KEY}: expected poll or thread"));
                    return RAFKA_CONF_INVALID;
                }
            };
            return RAFKA_CONF_OK;
        }
        match conf.config.set(name, value) {
            Ok(_) => RAFKA_CONF_OK,
            Err(e) => {
                write_errstr(errstr, errstr_size, &e.to_string());
                match e {
                    ConfigError::Unknown { .. } => RAFKA_CONF_UNKNOWN,
                    _ => RAFKA_CONF_INVALID,
                }
            }
        }
    })
}

/// Reads a setting back into `dest` (NUL-terminated, truncated to `dest_size`), like
/// `rd_kafka_conf_get`. Returns RAFKA_CONF_UNKNOWN when the key is not set or not known.
/// `*dest_size`, when `dest_size` is not NULL, receives the size needed including the NUL.
///
/// # Safety
/// `conf` NULL or live; `name` NULL or NUL-terminated; `dest` NULL or `*dest_size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn rafka_conf_get(
    conf: *const rafka_conf_t,
    name: *const c_char,
    dest: *mut c_char,
    dest_size: *mut usize,
) -> rafka_conf_res_t {
    guard(RAFKA_CONF_INVALID, || {
        let (Ok(conf), Ok(name)) = (try_ref(conf, "conf"), try_str(name, "name")) else {
            return RAFKA_CONF_INVALID;
        };
        let value = if name == DELIVERY_MODE_KEY {
            Some(if conf.mode == DeliveryMode::Poll {
                "poll".to_string()
            } else {
                "thread".to_string()
            })
        } else {
            conf.config.get(name)
        };
        let Some(value) = value else {
            return RAFKA_CONF_UNKNOWN;
        };
        if let Ok(size) = try_mut(dest_size, "dest_size") {
            write_errstr(dest, *size, &value);
            *size = value.len() + 1;
        }
        RAFKA_CONF_OK
    })
}

/// Sets the delivery-report callback, called once per produced record (see `rafka_dr_cb_t`).
/// NULL removes it. Returns RAFKA_RESP_ERR__INVALID_ARG when `conf` is NULL.
///
/// # Safety
/// `conf` must be NULL or a live configuration.
#[no_mangle]
pub unsafe extern "C" fn rafka_conf_set_dr_cb(
    conf: *mut rafka_conf_t,
    dr_cb: rafka_dr_cb_t,
) -> rafka_resp_err_t {
    guard_result(RAFKA_RESP_ERR__INTERNAL, || {
        try_mut(conf, "conf")?.dr_cb = dr_cb;
        Ok(0)
    })
}

/// Sets the statistics callback (see `rafka_stats_cb_t`), called every `statistics.interval.ms`
/// (which must be set above 0 too); NULL removes it. Returns RAFKA_RESP_ERR__INVALID_ARG when
/// `conf` is NULL.
///
/// # Safety
/// `conf` must be NULL or a live configuration.
#[no_mangle]
pub unsafe extern "C" fn rafka_conf_set_stats_cb(
    conf: *mut rafka_conf_t,
    stats_cb: rafka_stats_cb_t,
) -> rafka_resp_err_t {
    guard_result(RAFKA_RESP_ERR__INTERNAL, || {
        try_mut(conf, "conf")?.stats_cb = stats_cb;
        Ok(0)
    })
}

/// Sets the error callback (see `rafka_error_cb_t`); NULL removes it. Returns
/// RAFKA_RESP_ERR__INVALID_ARG when `conf` is NULL.
///
/// # Safety
/// `conf` must be NULL or a live configuration.
#[no_mangle]
pub unsafe extern "C" fn rafka_conf_set_error_cb(conf: *mut rafka_conf_t, error_cb: rafka_error_cb_t) -> rafka_resp_err_t {
    guard_result(RAFKA_RESP_ERR__INTERNAL, || {
        try_mut(conf, "conf")?.error_cb = error_cb;
        Ok(0)
    })
}

/// Sets the throttle callback (see `rafka_throttle_cb_t`); NULL removes it. Returns
/// RAFKA_RESP_ERR__INVALID_ARG when `conf` is NULL.
///
/// # Safety
/// `conf` must be NULL or a live configuration.
#[no_mangle]
pub unsafe extern "C" fn rafka_conf_set_throttle_cb(
    conf: *mut rafka_conf_t,
    throttle_cb: rafka_throttle_cb_t,
) -> rafka_resp_err_t {
    guard_result(RAFKA_RESP_ERR__INTERNAL, || {
        try_mut(conf, "conf")?.throttle_cb = throttle_cb;
        Ok(0)
    })
}

/// Sets the spool's recovered-records callback (see `rafka_spool_recovered_cb_t`), which gets
/// the report of each record an earlier producer left in `spool.dir`; NULL removes it (such
/// reports are then only logged). Without `spool.dir` it is never called. Returns
/// RAFKA_RESP_ERR__INVALID_ARG when `conf` is NULL.
///
/// # Safety
/// `conf` must be NULL or a live configuration.
#[no_mangle]
pub unsafe extern "C" fn rafka_conf_set_spool_recovered_cb(
    conf: *mut rafka_conf_t,
    spool_recovered_cb: rafka_spool_recovered_cb_t,
) -> rafka_resp_err_t {
    guard_result(RAFKA_RESP_ERR__INTERNAL, || {
        try_mut(conf, "conf")?.spool_recovered_cb = spool_recovered_cb;
        Ok(0)
    })
}

/// Sets the log callback (see `rafka_log_cb_t`); NULL removes it. Log lines of every producer in
/// the process go to the callback of the most recently created producer that has one.
///
/// # Safety
/// `conf` must be NULL or a live configuration.
#[no_mangle]
pub unsafe extern "C" fn rafka_conf_set_log_cb(
    conf: *mut rafka_conf_t,
    log_cb: rafka_log_cb_t,
) -> rafka_resp_err_t {
    guard_result(RAFKA_RESP_ERR__INTERNAL, || {
        try_mut(conf, "conf")?.log_cb = log_cb;
        Ok(0)
    })
}

/// Sets the OAUTHBEARER token callback (see `rafka_oauthbearer_token_cb_t`), used with
/// `sasl.mechanism=OAUTHBEARER` instead of a static `sasl.oauthbearer.token`; NULL removes it.
/// Returns RAFKA_RESP_ERR__INVALID_ARG when `conf` is NULL.
///
/// # Safety
/// `conf` must be NULL or a live configuration.
#[no_mangle]
pub unsafe extern "C" fn rafka_conf_set_oauthbearer_token_cb(
    conf: *mut rafka_conf_t,
    token_cb: rafka_oauthbearer_token_cb_t,
) -> rafka_resp_err_t {
    guard_result(RAFKA_RESP_ERR__INTERNAL, || {
        try_mut(conf, "conf")?.token_cb = token_cb;
        Ok(0)
    })
}

/// Sets the partitioner (see `rafka_partitioner_cb_t`) for records produced with
/// RAFKA_PARTITION_UA, instead of the `partitioner` setting; NULL removes it. It gets the
/// configuration's global opaque. `rafka_msg_partitioner_murmur2()` and its siblings are
/// librdkafka's built-in partitioners in this shape. Returns RAFKA_RESP_ERR__INVALID_ARG when
/// `conf` is NULL.
///
/// # Safety
/// `conf` must be NULL or a live configuration.
#[no_mangle]
pub unsafe extern "C" fn rafka_conf_set_partitioner_cb(
    conf: *mut rafka_conf_t,
    partitioner_cb: rafka_partitioner_cb_t,
) -> rafka_resp_err_t {
    guard_result(RAFKA_RESP_ERR__INTERNAL, || {
        try_mut(conf, "conf")?.partitioner_cb = partitioner_cb;
        Ok(0)
    })
}

/// Adds an on_send interceptor named `ic_name` (NUL-terminated; copied): `on_send` runs in
/// `rafka_produce()` / `rafka_produce_iov()` on the calling thread, once the arguments were checked
/// and before the record is queued, with the record as given: `err` 0, `errstr` NULL, `partition`
/// as passed (RAFKA_PARTITION_UA when the partitioner will choose), `offset` -1, `timestamp` as
/// passed (0: now), `latency_us` 0. It cannot change or drop the record. Hooks run in the order
/// added; several may be added under different names. `ic_opaque` is passed to `on_send` and is
/// never dereferenced or freed by the library. Returns RAFKA_RESP_ERR__INVALID_ARG for a NULL
/// argument or a name already used by another on_send interceptor of `conf`.
///
/// # Safety
/// `conf` NULL or live; `ic_name` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rafka_conf_interceptor_add_on_send(
    conf: *mut rafka_conf_t,
    ic_name: *const c_char,
    on_send: rafka_interceptor_cb_t,
    ic_opaque: *mut c_void,
) -> rafka_resp_err_t {
    guard_result(RAFKA_RESP_ERR__INTERNAL, || {
        try_mut(conf, "conf")?.interceptors.add(true, ic_name, on_send, ic_opaque)
    })
}

/// Adds an on_acknowledgement interceptor named `ic_name` (NUL-terminated; copied):
/// `on_acknowledgement` runs once for every record's outcome, just before its delivery report
/// callback and on the same thread (whoever serves reports: `rafka_poll()` / `rafka_flush()`, or
/// the delivery thread), with the report's fields; it also runs for records whose delivery
/// report is withheld (`delivery.report.only.error=true`) and, on the calling thread, for a
/// record that `rafka_produce()` refused after the on_send hooks saw it (then `err` is the code
/// returned, `errstr` its message, `offset` -1). So every on_send call is matched by exactly one
/// on_acknowledgement call. Order, `ic_opaque` and the result as for
/// `rafka_conf_interceptor_add_on_send()`.
///
/// # Safety
/// `conf` NULL or live; `ic_name` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rafka_conf_interceptor_add_on_acknowledgement(
    conf: *mut rafka_conf_t,
    ic_name: *const c_char,
    on_acknowledgement: rafka_interceptor_cb_t,
    ic_opaque: *mut c_void,
) -> rafka_resp_err_t {
    guard_result(RAFKA_RESP_ERR__INTERNAL, || {
        try_mut(conf, "conf")?.interceptors.add(false, ic_name, on_acknowledgement, ic_opaque)
    })
}

/// Sets the application's global opaque, passed to every callback. The library never
/// dereferences or frees it: the caller owns what it points to and keeps it alive while the
/// producer lives.
///
/// # Safety
/// `conf` must be NULL or a live configuration.
#[no_mangle]
pub unsafe extern "C" fn rafka_conf_set_opaque(
    conf: *mut rafka_conf_t,
    opaque: *mut c_void,
) -> rafka_resp_err_t {
    guard_result(RAFKA_RESP_ERR__INTERNAL, || {
        try_mut(conf, "conf")?.opaque = opaque as usize;
        Ok(0)
    })
}

/// Frees a configuration the caller still owns (not one a successful `rafka_producer_new()`
/// took). NULL is a no-op.
///
/// # Safety
/// `conf` must be NULL or a live configuration, not used again afterwards.
#[no_mangle]
pub unsafe extern "C" fn rafka_conf_free(conf: *mut rafka_conf_t) {
    guard((), || {
        if !conf.is_null() {
            drop(Box::from_raw(conf));
        }
    })
}
