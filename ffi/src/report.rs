//! `rafka_delivery_report_t` and the delivery callback `rafka_dr_cb_t`: what the application
//! hears about each record, and the engine's delivery handler (`Reporter`) that tells it.

use std::ffi::{c_char, c_void, CString};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;

use rafka_core::Delivery;

use crate::error::{code_of, rafka_resp_err_t};
use crate::handle::rafka_producer_t;

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

/// The engine's delivery handler for one producer: fills a report and calls the application's
/// callback. Runs on whichever thread serves reports (see `producer.rs`).
pub(crate) struct Reporter {
    /// The handle passed to the callback (`rafka_producer_t::this`).
    pub(crate) handle: Arc<AtomicPtr<rafka_producer_t>>,
    pub(crate) dr_cb: rafka_dr_cb_t,
    pub(crate) opaque: usize,
}

impl Reporter {
    pub(crate) fn report(&self, d: &Delivery<'_>, msg_opaque: usize) {
        let Some(cb) = self.dr_cb else { return };
        with_report(d, msg_opaque, |report| {
            // SAFETY: the callback was given by the application for exactly this signature; the
            // report and its strings live until it returns.
            unsafe { cb(self.handle.load(Ordering::Acquire), report, self.opaque as *mut c_void) };
        });
    }
}

/// Calls `f` with the C report of `d` (valid during the call).
pub(crate) fn with_report(d: &Delivery<'_>, msg_opaque: usize, f: impl FnOnce(&rafka_delivery_report_t)) {
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
    f(&report);
}

/// The spool's recovered-records callback (`spool.dir`, docs/outages.md): called once for each
/// record an earlier producer left unacknowledged in `spool.dir` (after a crash, or a close that
/// could not send everything), once this producer has sent it or given it up. `report` is as for
/// the delivery callback: `topic`, `partition`, `offset` (what the broker assigned; -1 on failure),
/// `timestamp`, `key` and `value` as the earlier producer gave them, `err`/`errstr`;
/// `msg_opaque` is NULL (the earlier process's opaques died with it) and `latency_us` counts from
/// the moment this producer queued the record. Served like delivery reports: from `rafka_poll()`,
/// `rafka_flush()` and `rafka_producer_close()`, or on the delivery thread with
/// "delivery.report.mode=thread", whatever `delivery.report.only.error` says. A record this producer closes on before sending it is
/// reported with RAFKA_RESP_ERR__DESTROY and stays in `spool.dir` for the next producer, which
/// reports it again. `opaque` is the configuration's global opaque. It may call the same
/// functions as the delivery callback.
pub type rafka_spool_recovered_cb_t = rafka_dr_cb_t;

/// The engine's recovered-records handler for one producer (see `rafka_spool_recovered_cb_t`).
pub(crate) fn recovered_handler(
    cb: unsafe extern "C" fn(*mut rafka_producer_t, *const rafka_delivery_report_t, *mut c_void),
    handle: Arc<AtomicPtr<rafka_producer_t>>,
    opaque: usize,
) -> impl Fn(&Delivery<'_>) + Send + Sync + 'static {
    move |d: &Delivery<'_>| {
        with_report(d, 0, |report| {
            // SAFETY: the application's callback for this signature; the report lives until it returns.
            unsafe { cb(handle.load(Ordering::Acquire), report, opaque as *mut c_void) };
        });
    }
}
