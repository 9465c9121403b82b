//! `rafka_producer_t`: creating a producer, producing, serving delivery reports, closing.
//!
//! Threads: every function here may be called from any application thread, concurrently, on the
//! same producer (the engine's `Producer` is `Send + Sync`), except `rafka_producer_free()`, which
//! must be the last call on a handle. Delivery callbacks run on the thread that calls
//! `rafka_poll()`/`rafka_flush()`/`rafka_producer_close()` (the default "poll" mode, serialised
//! across threads), or on the producer's own delivery thread ("delivery.report.mode=thread").

use std::cell::RefCell;
use std::ffi::{c_char, c_void, CString};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rafka_core::{Delivery, Producer, ProducerRecord};

use crate::conf::rafka_conf_t;
use crate::error::*;
use crate::log_sink;
use crate::ptr::{as_bytes, as_ref, as_str, guard, write_errstr};

/// A producer. Created by `rafka_producer_new()`, freed by `rafka_producer_free()`.
pub struct rafka_producer_t {
    producer: Producer,
    shared: Arc<Shared>,
}

/// What the delivery handler needs to call back into C.
struct Shared {
    handle: AtomicPtr<rafka_producer_t>,
    dr_cb: rafka_dr_cb_t,
    opaque: usize,
}

/// One delivery report, valid only during the delivery callback: every pointer in it is owned by
/// the library and must not be kept or freed (copy what you need).
#[repr(C)]
pub struct rafka_delivery_report_t {
    /// 0 when the record was stored; else why it failed.
    pub err: rafka_resp_err_t,
    /// A message saying what went wrong (NUL-terminated), or NULL on success.
    pub errstr: *const c_char,
    /// The topic (NUL-terminated).
    pub topic: *const c_char,
    /// The partition the record went to (-1 if it failed before one was chosen).
    pub partition: i32,
    /// The record's offset (-1 when unknown, e.g. with acks=0 or on failure).
    pub offset: i64,
    /// The record's timestamp in ms since the epoch (the broker's with LogAppendTime).
    pub timestamp: i64,
    /// The key as sent (NULL when the record had none).
    pub key: *const c_void,
    pub key_len: usize,
    /// The value as sent (NULL for a tombstone).
    pub value: *const c_void,
    pub value_len: usize,
    /// The per-message opaque given to `rafka_produce()`.
    pub msg_opaque: *mut c_void,
    /// For a failed record: 1 when it may nevertheless have been stored by the broker, else 0.
    pub possibly_persisted: i32,
    /// Microseconds from `rafka_produce()` to this report.
    pub latency_us: i64,
}

/// The delivery-report callback: `report` and everything it points to are valid only during the
/// call; `opaque` is the configuration's global opaque. It may call `rafka_produce()`,
/// `rafka_flush()`, `rafka_purge()` and `rafka_producer_close()` on `producer` (close then fails
/// what is pending at once, as it cannot wait from here), but never `rafka_producer_free()`.
pub type rafka_dr_cb_t = Option<
    unsafe extern "C" fn(
        producer: *mut rafka_producer_t,
        report: *const rafka_delivery_report_t,
        opaque: *mut c_void,
    ),
>;

/// The log callback: `level` is a syslog level (3 error, 4 warning, 6 info, 7 debug); `facility`
/// and `message` are NUL-terminated, valid during the call. It may run on any thread.
pub type rafka_log_cb_t = Option<
    unsafe extern "C" fn(
        level: i32,
        facility: *const c_char,
        message: *const c_char,
        opaque: *mut c_void,
    ),
>;

/// One record header. `name` is a NUL-terminated UTF-8 string; `value` may be NULL (a null header).
#[repr(C)]
pub struct rafka_header_t {
    pub name: *const c_char,
    pub value: *const c_void,
    pub value_len: usize,
}

/// One piece of a gathered value (the layout of POSIX `struct iovec`).
#[repr(C)]
pub struct rafka_iovec_t {
    pub base: *const c_void,
    pub len: usize,
}

/// Let the partitioner choose the partition.
pub const RAFKA_PARTITION_UA: i32 = -1;
/// Take ownership of `value`: the library calls `free()` on it once copied, when `rafka_produce()`
/// returns 0. On an error the caller still owns it.
pub const RAFKA_MSG_F_FREE: i32 = 0x1;
/// Copy the key and value (the default: the caller's buffers are free again when the call returns).
pub const RAFKA_MSG_F_COPY: i32 = 0x2;
/// Block up to `max.block.ms` when the buffer is full, instead of failing with `_QUEUE_FULL` at once.
pub const RAFKA_MSG_F_BLOCK: i32 = 0x4;

thread_local! {
    /// The message of the last error a call on this thread returned (see `rafka_last_error_message`).
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
    /// The scratch buffer `rafka_produce_iov()` gathers into.
    static GATHER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

pub(crate) fn set_last_error(code: rafka_resp_err_t, msg: &str) -> rafka_resp_err_t {
    let c = CString::new(msg.replace('\0', "")).unwrap_or_default();
    LAST_ERROR.with(|l| *l.borrow_mut() = c);
    code
}

fn err(e: &rafka_core::Error) -> rafka_resp_err_t {
    set_last_error(code_of(e), &e.to_string())
}

fn invalid(msg: &str) -> rafka_resp_err_t {
    set_last_error(RAFKA_RESP_ERR__INVALID_ARG, msg)
}

fn timeout(ms: i32) -> Duration {
    if ms < 0 {
        Duration::from_secs(10 * 365 * 86_400)
    } else {
        Duration::from_millis(ms as u64)
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

impl Shared {
    fn report(&self, d: &Delivery<'_>, msg_opaque: usize) {
        let Some(cb) = self.dr_cb else { return };
        let errstr = d
            .error
            .map(|e| CString::new(e.to_string().replace('\0', "")).unwrap_or_default());
        let (key, value) = d.key_value();
        let report = rafka_delivery_report_t {
            err: d.error.map_or(0, code_of),
            errstr: errstr.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            topic: d.topic_c.as_ptr(),
            partition: d.partition,
            offset: d.offset,
            timestamp: d.timestamp,
            key: key.map_or(std::ptr::null(), |k| k.as_ptr().cast()),
            key_len: key.map_or(0, |k| k.len()),
            value: value.map_or(std::ptr::null(), |v| v.as_ptr().cast()),
            value_len: value.map_or(0, |v| v.len()),
            msg_opaque: msg_opaque as *mut c_void,
            possibly_persisted: d.error.is_some_and(|e| e.possibly_persisted()) as i32,
            latency_us: d.latency_us.min(i64::MAX as u64) as i64,
        };
        // SAFETY: the callback was given by the application for exactly this signature; the report
        // and its strings live until it returns.
        unsafe {
            cb(
                self.handle.load(Ordering::Acquire),
                &report,
                self.opaque as *mut c_void,
            )
        };
    }
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
        let Some(c) = as_ref(conf) else {
            write_errstr(errstr, errstr_size, "conf is NULL");
            return std::ptr::null_mut();
        };
        let shared = Arc::new(Shared {
            handle: AtomicPtr::new(std::ptr::null_mut()),
            dr_cb: c.dr_cb,
            opaque: c.opaque,
        });
        let s = shared.clone();
        let mut builder = Producer::builder(c.config.clone())
            .delivery_mode(c.mode)
            .delivery_handler(move |d, o| s.report(d, o));
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
            shared: shared.clone(),
        }));
        shared.handle.store(handle, Ordering::Release);
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
    guard(RAFKA_RESP_ERR__INTERNAL, || {
        let v = if value.is_null() {
            None
        } else {
            as_bytes(value, value_len)
        };
        let rc = produce_parts(
            producer, topic, partition, flags, key, key_len, v, headers, header_cnt, timestamp,
            msg_opaque,
        );
        if rc == 0 && flags & RAFKA_MSG_F_FREE != 0 && !value.is_null() {
            libc::free(value as *mut c_void);
        }
        rc
    })
}

/// Like `rafka_produce()`, with the value given as `iovcnt` pieces that the library gathers into
/// the record itself, so the caller need not join them first. `iov` may be NULL when `iovcnt` is 0
/// (an empty value). RAFKA_MSG_F_FREE is not accepted here (the pieces stay the caller's).
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
    guard(RAFKA_RESP_ERR__INTERNAL, || {
        if flags & RAFKA_MSG_F_FREE != 0 {
            return invalid("RAFKA_MSG_F_FREE cannot be used with rafka_produce_iov()");
        }
        if iov.is_null() && iovcnt > 0 {
            return invalid("iov is NULL");
        }
        let pieces: &[rafka_iovec_t] = if iovcnt == 0 {
            &[]
        } else {
            std::slice::from_raw_parts(iov, iovcnt)
        };
        let mut buf = GATHER.with(|g| std::mem::take(&mut *g.borrow_mut()));
        buf.clear();
        for p in pieces {
            match as_bytes(p.base, p.len) {
                Some(b) => buf.extend_from_slice(b),
                None if p.len == 0 => {}
                None => return invalid("an iovec entry has a NULL base"),
            }
        }
        let rc = produce_parts(
            producer,
            topic,
            partition,
            flags,
            key,
            key_len,
            Some(&buf),
            headers,
            header_cnt,
            timestamp,
            msg_opaque,
        );
        if buf.capacity() <= 1 << 20 {
            GATHER.with(|g| *g.borrow_mut() = buf);
        }
        rc
    })
}

#[allow(clippy::too_many_arguments)]
unsafe fn produce_parts(
    producer: *mut rafka_producer_t,
    topic: *const c_char,
    partition: i32,
    flags: i32,
    key: *const c_void,
    key_len: usize,
    value: Option<&[u8]>,
    headers: *const rafka_header_t,
    header_cnt: usize,
    timestamp: i64,
    msg_opaque: *mut c_void,
) -> rafka_resp_err_t {
    let Some(p) = as_ref(producer) else {
        return invalid("producer is NULL");
    };
    let topic = match as_str(topic) {
        Ok(t) => t,
        Err(true) => return invalid("topic is NULL"),
        Err(false) => return invalid("topic is not valid UTF-8"),
    };
    if flags & !(RAFKA_MSG_F_FREE | RAFKA_MSG_F_COPY | RAFKA_MSG_F_BLOCK) != 0 {
        return invalid("unknown bits in flags");
    }
    if flags & RAFKA_MSG_F_FREE != 0 && flags & RAFKA_MSG_F_COPY != 0 {
        return invalid("RAFKA_MSG_F_FREE and RAFKA_MSG_F_COPY exclude each other");
    }
    if partition < RAFKA_PARTITION_UA {
        return invalid("partition must be >= 0 or RAFKA_PARTITION_UA");
    }
    if timestamp < 0 {
        return invalid("timestamp must be >= 0 (0: now)");
    }
    if headers.is_null() && header_cnt > 0 {
        return invalid("headers is NULL");
    }
    let mut hs = Vec::with_capacity(header_cnt);
    if header_cnt > 0 {
        for h in std::slice::from_raw_parts(headers, header_cnt) {
            let name = match as_str(h.name) {
                Ok(n) => n,
                Err(_) => return invalid("a header name is NULL or not valid UTF-8"),
            };
            hs.push((name, as_bytes(h.value, h.value_len)));
        }
    }
    let record = ProducerRecord {
        topic,
        partition: (partition >= 0).then_some(partition),
        key: as_bytes(key, key_len),
        value,
        headers: hs,
        timestamp: (timestamp > 0).then_some(timestamp),
    };
    match p
        .producer
        .send_with_opaque(&record, msg_opaque as usize, flags & RAFKA_MSG_F_BLOCK != 0)
    {
        Ok(()) => 0,
        Err(e) => err(&e),
    }
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
    guard(RAFKA_RESP_ERR__INTERNAL, || match as_ref(producer) {
        Some(p) => p.producer.poll(timeout(timeout_ms)).min(i32::MAX as usize) as i32,
        None => invalid("producer is NULL"),
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
    guard(RAFKA_RESP_ERR__INTERNAL, || match as_ref(producer) {
        Some(p) => p
            .producer
            .flush(timeout(timeout_ms))
            .map_or_else(|e| err(&e), |_| 0),
        None => invalid("producer is NULL"),
    })
}

/// Fails every record still waiting in a queue (not those already sent) with
/// RAFKA_RESP_ERR__PURGE_QUEUE; their reports follow as usual.
///
/// # Safety
/// `producer` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn rafka_purge(producer: *mut rafka_producer_t) -> rafka_resp_err_t {
    guard(RAFKA_RESP_ERR__INTERNAL, || match as_ref(producer) {
        Some(p) => {
            p.producer.purge();
            0
        }
        None => invalid("producer is NULL"),
    })
}

/// The number of records produced whose delivery report has not been served yet.
/// Returns -1 when `producer` is NULL.
///
/// # Safety
/// `producer` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn rafka_outq_len(producer: *const rafka_producer_t) -> i64 {
    guard(-1, || {
        as_ref(producer).map_or(-1, |p| {
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
    guard(RAFKA_RESP_ERR__INTERNAL, || match as_ref(producer) {
        Some(p) => p
            .producer
            .close(timeout(timeout_ms))
            .map_or_else(|e| err(&e), |_| 0),
        None => invalid("producer is NULL"),
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
        p.shared
            .handle
            .store(std::ptr::null_mut(), Ordering::Release);
        log_sink::remove(producer as usize);
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
    guard(RAFKA_RESP_ERR__INTERNAL, || match as_ref(producer) {
        Some(p) => match p.producer.fatal_error() {
            Some(e) => {
                write_errstr(errstr, errstr_size, &e.to_string());
                code_of(&e)
            }
            None => 0,
        },
        None => RAFKA_RESP_ERR__INVALID_ARG,
    })
}
