//! The functions of `rafka_producer_t` (declared in `handle.rs`): creating a producer, producing
//! (the arguments are checked in `produce.rs`), serving delivery reports (`report.rs`), closing.
//!
//! Threads: every function here may be called from any application thread, concurrently, on the
//! same producer (the engine's `Producer` is `Send + Sync`), except `rafka_producer_free()`, which
//! must be the last call on a handle. Delivery callbacks run on the thread that calls
//! `rafka_poll()`/`rafka_flush()`/`rafka_producer_close()` (the default "poll" mode, serialised
//! across threads), or on the producer's own delivery thread ("delivery.report.mode=thread").

use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rafka_core::{Producer, PurgeFlags, PurgeTarget};

use crate::conf::rafka_conf_t;
use crate::error::*;
use crate::error_object::{guard_error, rafka_error_t};
use crate::handle::rafka_producer_t;
use crate::last_error::{err, invalid};
use crate::log_sink;
use crate::partitioner::CPartitioner;
use crate::produce::{gathered, produce_parts, rafka_header_t, rafka_iovec_t, RAFKA_MSG_F_FREE, RAFKA_NO_TIMEOUT, RAFKA_PARTITION_UA};
use crate::ptr::{as_bytes, guard, guard_result, try_ref, try_str, write_errstr};
use crate::report::Reporter;

/// A C timeout in ms: -1 (any negative) waits for ever, which the engine takes as `Duration::MAX`.
pub(crate) fn timeout(ms: i32) -> Duration {
    u64::try_from(ms).map_or(Duration::MAX, Duration::from_millis)
}

/// Creates a producer from `conf`. On success the producer owns `conf` (do not use or free it
/// again) and the caller owns the returned producer (free it with `rafka_producer_free()`). On
/// failure it returns NULL, writes why to `errstr` (NULL or `errstr_size` bytes, truncated and
/// NUL-terminated) and the caller still owns `conf`.
///
/// # Safety
/// `conf` NULL or a live configuration; `errstr` NULL or `errstr_size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn rafka_producer_new(
    conf: *mut rafka_conf_t,
    errstr: *mut c_char,
    errstr_size: usize,
) -> *mut rafka_producer_t {
    guard(std::ptr::null_mut(), || {
        let c = match try_ref(conf, "conf") {
            Ok(c) => c,
            Err(e) => {
                write_errstr(errstr, errstr_size, &e.to_string());
                return std::ptr::null_mut();
            }
        };
        let this = Arc::new(AtomicPtr::new(std::ptr::null_mut()));
        let reporter = Reporter {
            handle: this.clone(),
            dr_cb: c.dr_cb,
            opaque: c.opaque,
        };
        let mut builder = Producer::builder(c.config.clone())
            .delivery_mode(c.mode)
            // librdkafka's semantics: rafka_produce() to a topic not known yet queues the record.
            .queue_until_metadata(true)
            .delivery_handler(move |d, o| reporter.report(d, o));
        if let Some(cb) = c.partitioner_cb {
            builder = builder.partitioner(CPartitioner { cb, opaque: c.opaque });
        }
        let interceptors = Arc::new(c.interceptors.clone());
        if interceptors.has_on_ack() {
            builder = builder.on_acknowledgement(interceptors.clone().engine_hook(this.clone()));
        }
        if let Some(cb) = c.error_cb {
            builder = builder.error_handler(crate::error_cb::handler(cb, this.clone(), c.opaque));
        }
        if let Some(cb) = c.stats_cb {
            builder = builder.stats_handler(crate::stats::handler(cb, this.clone(), c.opaque));
        }
        if let Some(cb) = c.throttle_cb {
            builder = builder.throttle_handler(crate::throttle::handler(cb, this.clone(), c.opaque));
        }
        if let Some(cb) = c.spool_recovered_cb {
            builder = builder.spool_recovered_handler(crate::report::recovered_handler(cb, this.clone(), c.opaque));
        }
        if let Some(cb) = c.token_cb {
            builder = builder.oauthbearer_token_provider(crate::oauthbearer::provider(cb, c.opaque));
        }
        let built = builder.build();
        let producer = match built {
            Ok(p) => p,
            Err(e) => {
                write_errstr(errstr, errstr_size, &e.to_string());
                return std::ptr::null_mut();
            }
        };
        let handle = Box::into_raw(Box::new(rafka_producer_t {
            producer,
            this: this.clone(),
            interceptors,
        }));
        this.store(handle, Ordering::Release);
        if c.log_cb.is_some() {
            log_sink::install(handle as usize, c.log_cb, c.opaque);
        }
        drop(Box::from_raw(conf));
        handle
    })
}

/// Produces one record. `topic` is a NUL-terminated UTF-8 string; `partition` a partition or
/// RAFKA_PARTITION_UA; `key`/`value` may be NULL (no key / a tombstone); `headers` may be NULL when
/// `header_cnt` is 0; `timestamp` in ms since the epoch, 0 for now; `msg_opaque` comes back in the
/// record's delivery report. `flags`: RAFKA_MSG_F_COPY (default) or RAFKA_MSG_F_FREE, optionally
/// with RAFKA_MSG_F_BLOCK.
///
/// Ownership: the library keeps no pointer to any argument once it returns (everything is copied),
/// except that with RAFKA_MSG_F_FREE a successful call takes `value` and `free()`s it.
///
/// Returns 0 when the record was accepted: exactly one delivery report will follow. Any other code
/// means it was not, and no report will follow (`rafka_last_error_message()` says why).
///
/// # Safety
/// `producer` NULL or live; the pointers NULL or valid for their lengths during the call.
#[no_mangle]
pub unsafe extern "C" fn rafka_produce(
    producer: *mut rafka_producer_t,
    topic: *const c_char,
    partition: i32,
    flags: i32,
    key: *const c_void,
    key_len: usize,
    value: *const c_void,
    value_len: usize,
    headers: *const rafka_header_t,
    header_cnt: usize,
    timestamp: i64,
    msg_opaque: *mut c_void,
) -> rafka_resp_err_t {
    rafka_produce_timeout(
        producer, topic, partition, flags, key, key_len, value, value_len, headers, header_cnt,
        timestamp, RAFKA_NO_TIMEOUT, msg_opaque,
    )
}

/// `rafka_produce()` with a delivery deadline of the record's own, `timeout_ms` from now
/// (RAFKA_NO_TIMEOUT: none, as `rafka_produce()`), for a record worth sending only until then.
/// A record still unsent at its deadline (queued, behind a full in-flight window, waiting for a
/// leader or for its topic's metadata) gets its report at once with RAFKA_RESP_ERR__MSG_TIMED_OUT
/// (the message says where it waited), and its buffer memory is released. A record already sent
/// is not pulled back: under idempotence its sequence number is taken, and leaving it out would
/// be a gap the broker refuses; its report comes with the broker's answer or at
/// `delivery.timeout.ms`. Such reports can come before those of earlier records of the partition
/// still in flight. Ownership and return codes as `rafka_produce()`.
///
/// # Safety
/// As `rafka_produce()`.
#[no_mangle]
pub unsafe extern "C" fn rafka_produce_timeout(
    producer: *mut rafka_producer_t,
    topic: *const c_char,
    partition: i32,
    flags: i32,
    key: *const c_void,
    key_len: usize,
    value: *const c_void,
    value_len: usize,
    headers: *const rafka_header_t,
    header_cnt: usize,
    timestamp: i64,
    timeout_ms: i32,
    msg_opaque: *mut c_void,
) -> rafka_resp_err_t {
    guard_result(RAFKA_RESP_ERR__INTERNAL, || {
        let v = as_bytes(value, value_len);
        produce_parts(
            producer, topic, partition, flags, key, key_len, v, headers, header_cnt, timestamp,
            timeout_ms, msg_opaque,
        )?;
        if flags & RAFKA_MSG_F_FREE != 0 && !value.is_null() {
            libc::free(value as *mut c_void);
        }
        Ok(0)
    })
}

/// Like `rafka_produce()`, with the value given as `iovcnt` pieces, so the caller need not join
/// them first. The library joins two or more pieces in a per-thread buffer before encoding the
/// record: one copy of the value more than `rafka_produce()` makes (none more for one piece).
/// `iov` may be NULL when `iovcnt` is 0 (an empty value). RAFKA_MSG_F_FREE is not accepted here
/// (the pieces stay the caller's).
///
/// # Safety
/// As `rafka_produce()`; `iov` NULL or `iovcnt` entries each valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rafka_produce_iov(
    producer: *mut rafka_producer_t,
    topic: *const c_char,
    partition: i32,
    flags: i32,
    key: *const c_void,
    key_len: usize,
    iov: *const rafka_iovec_t,
    iovcnt: usize,
    headers: *const rafka_header_t,
    header_cnt: usize,
    timestamp: i64,
    msg_opaque: *mut c_void,
) -> rafka_resp_err_t {
    guard_result(RAFKA_RESP_ERR__INTERNAL, || {
        if flags & RAFKA_MSG_F_FREE != 0 {
            return Err(invalid("RAFKA_MSG_F_FREE cannot be used with rafka_produce_iov()"));
        }
        gathered(iov, iovcnt, |value| {
            produce_parts(
                producer,
                topic,
                partition,
                flags,
                key,
                key_len,
                Some(value),
                headers,
                header_cnt,
                timestamp,
                RAFKA_NO_TIMEOUT,
                msg_opaque,
            )
        })
    })
}

/// Serves delivery reports whose records are done, calling the delivery callback on this thread,
/// waiting up to `timeout_ms` (-1: forever) for the first. Returns the number served, or
/// RAFKA_RESP_ERR__INVALID_ARG (negative) when `producer` is NULL. Safe from several threads at
/// once (they are served one at a time). In "thread" mode reports are served elsewhere and this
/// only waits.
///
/// # Safety
/// `producer` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn rafka_poll(producer: *mut rafka_producer_t, timeout_ms: i32) -> i32 {
    guard_result(RAFKA_RESP_ERR__INTERNAL, || {
        let p = try_ref(producer, "producer")?;
        Ok(p.producer.poll(timeout(timeout_ms)).min(i32::MAX as usize) as i32)
    })
}

/// Waits up to `timeout_ms` (-1: forever) until every record produced so far has had its delivery
/// report (serving reports on this thread in "poll" mode). Returns 0, RAFKA_RESP_ERR__TIMED_OUT, or
/// RAFKA_RESP_ERR__INVALID_ARG for NULL.
///
/// # Safety
/// `producer` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn rafka_flush(
    producer: *mut rafka_producer_t,
    timeout_ms: i32,
) -> rafka_resp_err_t {
    guard_result(RAFKA_RESP_ERR__INTERNAL, || {
        let p = try_ref(producer, "producer")?;
        p.producer.flush(timeout(timeout_ms)).map_err(|e| err(&e))?;
        Ok(0)
    })
}

/// Fails every record not yet sent with RAFKA_RESP_ERR__PURGE_QUEUE; their reports follow as
/// usual. The same as `rafka_purge_flags(producer, RAFKA_PURGE_F_QUEUE)`.
///
/// # Safety
/// `producer` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn rafka_purge(producer: *mut rafka_producer_t) -> rafka_resp_err_t {
    guard_result(RAFKA_RESP_ERR__INTERNAL, || {
        try_ref(producer, "producer")?.producer.purge();
        Ok(0)
    })
}

/// `rafka_purge_flags()`: the records not yet sent (queued, or waiting for their topic's
/// metadata), each reported with RAFKA_RESP_ERR__PURGE_QUEUE.
pub const RAFKA_PURGE_F_QUEUE: i32 = 0x1;
/// `rafka_purge_flags()`: the records sent and not yet answered, and those waiting for a retry,
/// each reported with RAFKA_RESP_ERR__PURGE_INFLIGHT (possibly persisted: the broker's later
/// answer is ignored, so the application cannot know whether they were written). Under
/// idempotence the producer then bumps its epoch before sending the partition's next batch;
/// records produced again may duplicate ones that were written.
pub const RAFKA_PURGE_F_INFLIGHT: i32 = 0x2;
/// `rafka_purge_flags()`: return at once instead of waiting until the I/O thread has taken the
/// records off (their reports follow either way).
pub const RAFKA_PURGE_F_NON_BLOCKING: i32 = 0x4;

/// librdkafka's `rd_kafka_purge()`: purges what `flags` (RAFKA_PURGE_F_*) name in every
/// partition. Every purged record gets exactly one delivery report. Returns 0, or
/// RAFKA_RESP_ERR__INVALID_ARG for NULL or unknown flag bits.
///
/// # Safety
/// `producer` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn rafka_purge_flags(producer: *mut rafka_producer_t, flags: i32) -> rafka_resp_err_t {
    guard_result(RAFKA_RESP_ERR__INTERNAL, || {
        let p = try_ref(producer, "producer")?;
        p.producer.purge_with(purge_flags(flags)?, PurgeTarget::All);
        Ok(0)
    })
}

/// `rafka_purge_flags()` for one topic (`partition` RAFKA_PARTITION_UA) or one partition of it.
/// Records of the topic waiting for its metadata are purged with a partition only when they were
/// produced to that partition. `topic` is a NUL-terminated UTF-8 string, not kept.
///
/// # Safety
/// `producer` NULL or live; `topic` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rafka_purge_partition(
    producer: *mut rafka_producer_t,
    topic: *const c_char,
    partition: i32,
    flags: i32,
) -> rafka_resp_err_t {
    guard_result(RAFKA_RESP_ERR__INTERNAL, || {
        let p = try_ref(producer, "producer")?;
        let topic = try_str(topic, "topic")?;
        let flags = purge_flags(flags)?;
        let target = match partition {
            RAFKA_PARTITION_UA => PurgeTarget::Topic(topic),
            p if p >= 0 => PurgeTarget::Partition(topic, p),
            _ => return Err(invalid("partition must be >= 0 or RAFKA_PARTITION_UA")),
        };
        p.producer.purge_with(flags, target);
        Ok(0)
    })
}

fn purge_flags(flags: i32) -> Result<PurgeFlags, rafka_resp_err_t> {
    u32::try_from(flags).ok().and_then(PurgeFlags::from_bits).ok_or_else(|| invalid("unknown bits in the purge flags"))
}

/// The number of records produced whose delivery report has not been served yet.
/// Returns -1 when `producer` is NULL.
///
/// # Safety
/// `producer` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn rafka_outq_len(producer: *const rafka_producer_t) -> i64 {
    guard(-1, || {
        try_ref(producer, "producer").map_or(-1, |p| {
            p.producer.in_flight_count().min(i64::MAX as u64) as i64
        })
    })
}

/// Stops accepting records, waits up to `timeout_ms` (-1: forever) for every pending record's
/// report (serving them here in "poll" mode), fails what is left with RAFKA_RESP_ERR__DESTROY and
/// stops the producer's threads. Later produce calls fail with RAFKA_RESP_ERR__STATE. Calling it
/// again returns 0. From inside a delivery callback it does not wait: pending records are failed
/// at once and their reports are served by later `rafka_poll()` calls. The handle stays valid
/// until `rafka_producer_free()`.
///
/// # Safety
/// `producer` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn rafka_producer_close(
    producer: *mut rafka_producer_t,
    timeout_ms: i32,
) -> rafka_resp_err_t {
    guard_result(RAFKA_RESP_ERR__INTERNAL, || {
        let p = try_ref(producer, "producer")?;
        p.producer.close(timeout(timeout_ms)).map_err(|e| err(&e))?;
        Ok(0)
    })
}

/// Closes the producer if `rafka_producer_close()` was not called (waiting at most
/// delivery.timeout.ms + request.timeout.ms) and frees it with the configuration it owned. NULL is
/// a no-op. Must be the last call on the handle and never made from a delivery callback.
///
/// # Safety
/// `producer` NULL or live, and not used again afterwards.
#[no_mangle]
pub unsafe extern "C" fn rafka_producer_free(producer: *mut rafka_producer_t) {
    guard((), || {
        if producer.is_null() {
            return;
        }
        let p = Box::from_raw(producer);
        drop(p.producer);
        p.this.store(std::ptr::null_mut(), Ordering::Release);
        log_sink::remove(producer as usize);
    })
}

/// librdkafka's `rd_kafka_sasl_set_credentials`: the SASL PLAIN or SCRAM `username` and
/// `password` for every broker connection opened from now on (a rotated password, say);
/// connections already open keep theirs. The library copies both strings.
///
/// Returns NULL on success, else an error the caller frees with `rafka_error_destroy()`:
/// `RAFKA_RESP_ERR__INVALID_ARG` for a NULL or non-UTF-8 argument, an empty username, or a
/// producer that does not authenticate with SASL PLAIN or SCRAM (the message says which).
///
/// # Safety
/// `producer` NULL or live; `username` and `password` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rafka_sasl_set_credentials(
    producer: *mut rafka_producer_t,
    username: *const c_char,
    password: *const c_char,
) -> *mut rafka_error_t {
    guard_error(|| {
        let p = try_ref(producer, "producer").map_err(rafka_error_t::from_arg)?;
        let username = try_str(username, "username").map_err(rafka_error_t::from_arg)?;
        let password = try_str(password, "password").map_err(rafka_error_t::from_arg)?;
        p.producer.set_sasl_credentials(username, password).map_err(|e| rafka_error_t::from_engine(&e))
    })
}

/// The producer's fatal error, if it hit one (0 otherwise), with its message written to `errstr`
/// (NULL or `errstr_size` bytes). After a fatal error every produce call fails.
///
/// # Safety
/// `producer` NULL or live; `errstr` NULL or `errstr_size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn rafka_fatal_error(
    producer: *const rafka_producer_t,
    errstr: *mut c_char,
    errstr_size: usize,
) -> rafka_resp_err_t {
    guard_result(RAFKA_RESP_ERR__INTERNAL, || {
        let p = try_ref(producer, "producer")?;
        Ok(match p.producer.fatal_error() {
            Some(e) => {
                write_errstr(errstr, errstr_size, &e.to_string());
                code_of(&e)
            }
            None => 0,
        })
    })
}
