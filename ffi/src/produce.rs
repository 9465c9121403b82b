//! What `rafka_produce()` and `rafka_produce_iov()` take: `rafka_header_t`, `rafka_iovec_t`, the
//! `RAFKA_MSG_F_*` flags and `RAFKA_PARTITION_UA`, and turning them into one engine record. The
//! entry points themselves are the producer handle's (`producer.rs`).

use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr};

use rafka_core::ProducerRecord;

use crate::error::rafka_resp_err_t;
use crate::handle::rafka_producer_t;
use crate::interceptor::Sending;
use crate::last_error::{err, invalid, rafka_last_error_message};
use crate::ptr::{as_bytes, try_ref, try_slice, try_str};

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
/// `rafka_produce_timeout()`: no deadline of the record's own, only `delivery.timeout.ms`.
pub const RAFKA_NO_TIMEOUT: i32 = -1;

thread_local! {
    /// The scratch buffer `rafka_produce_iov()` gathers into.
    static GATHER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Calls `send` with the `iovcnt` pieces at `iov` as one value: a single piece as it is, more
/// joined in this thread's scratch buffer (the engine encodes a record from one contiguous value:
/// partitioners, interceptors and the spool see it whole).
///
/// # Safety
/// `iov` NULL or `iovcnt` entries each valid for `len` bytes.
pub(crate) unsafe fn gathered(
    iov: *const rafka_iovec_t,
    iovcnt: usize,
    send: impl FnOnce(&[u8]) -> Result<rafka_resp_err_t, rafka_resp_err_t>,
) -> Result<rafka_resp_err_t, rafka_resp_err_t> {
    let pieces = try_slice(iov, iovcnt, "iov")?;
    if let [one] = pieces {
        return match as_bytes(one.base, one.len) {
            Some(b) => send(b),
            None if one.len == 0 => send(&[]),
            None => Err(invalid("an iovec entry has a NULL base")),
        };
    }
    let mut buf = GATHER.with(|g| std::mem::take(&mut *g.borrow_mut()));
    buf.clear();
    for p in pieces {
        match as_bytes(p.base, p.len) {
            Some(b) => buf.extend_from_slice(b),
            None if p.len == 0 => {}
            None => return Err(invalid("an iovec entry has a NULL base")),
        }
    }
    let rc = send(&buf);
    if buf.capacity() <= 1 << 20 {
        GATHER.with(|g| *g.borrow_mut() = buf);
    }
    rc
}

/// Checks the arguments of one produce call and hands the record to the engine: `Ok(0)` when it
/// was accepted, else the code (with the thread's last error message set).
///
/// # Safety
/// As `rafka_produce()`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn produce_parts(
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
    timeout_ms: i32,
    msg_opaque: *mut c_void,
) -> Result<rafka_resp_err_t, rafka_resp_err_t> {
    let p = try_ref(producer, "producer")?;
    let topic_c = topic;
    let topic = try_str(topic, "topic")?;
    if flags & !(RAFKA_MSG_F_FREE | RAFKA_MSG_F_COPY | RAFKA_MSG_F_BLOCK) != 0 {
        return Err(invalid("unknown bits in flags"));
    }
    if flags & RAFKA_MSG_F_FREE != 0 && flags & RAFKA_MSG_F_COPY != 0 {
        return Err(invalid("RAFKA_MSG_F_FREE and RAFKA_MSG_F_COPY exclude each other"));
    }
    if partition < RAFKA_PARTITION_UA {
        return Err(invalid("partition must be >= 0 or RAFKA_PARTITION_UA"));
    }
    if timestamp < 0 {
        return Err(invalid("timestamp must be >= 0 (0: now)"));
    }
    if timeout_ms < RAFKA_NO_TIMEOUT {
        return Err(invalid("timeout_ms must be >= 0, or RAFKA_NO_TIMEOUT (-1) for none"));
    }
    let headers = try_slice(headers, header_cnt, "headers")?;
    // Vec::new() for none: with_capacity(0) allocates nothing but is an out-of-line call that
    // cost about 30 instructions per record (callgrind), most records carry no headers.
    let mut hs = if header_cnt == 0 { Vec::new() } else { Vec::with_capacity(header_cnt) };
    for h in headers {
        let name = try_str(h.name, "a header name")?;
        hs.push((name, as_bytes(h.value, h.value_len)));
    }
    let record = ProducerRecord {
        topic,
        partition: ProducerRecord::partition_from_i32(partition),
        key: as_bytes(key, key_len),
        value,
        headers: hs,
        timestamp: (timestamp > 0).then_some(timestamp),
        deadline: (timeout_ms >= 0).then(|| std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms as u64)),
    };
    let ic = &p.interceptors;
    let sending = (ic.has_on_send() || ic.has_on_ack()).then(|| Sending {
        topic: CStr::from_ptr(topic_c),
        partition,
        key: record.key,
        value,
        timestamp,
        msg_opaque,
    });
    if let Some(s) = &sending {
        ic.on_send(producer, &s.report(0, std::ptr::null()));
    }
    match p
        .producer
        .send_with_opaque(&record, msg_opaque as usize, flags & RAFKA_MSG_F_BLOCK != 0)
    {
        Ok(()) => Ok(0),
        Err(e) => {
            let code = err(&e);
            if let Some(s) = &sending {
                ic.on_ack(producer, &s.report(code, rafka_last_error_message()));
            }
            Err(code)
        }
    }
}
