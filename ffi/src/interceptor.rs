//! Interceptors (librdkafka's `on_send` / `on_acknowledgement`, simplified): hooks a
//! configuration carries, each under a name, that see every record as it is produced and every
//! record's outcome. They observe; they cannot change or drop a record.

use std::ffi::{c_char, c_void, CStr};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;

use rafka_core::Delivery;

use crate::error::rafka_resp_err_t;
use crate::handle::rafka_producer_t;
use crate::last_error::invalid;
use crate::report::{with_report, rafka_delivery_report_t};

/// An interceptor hook. `record` describes the record (the delivery report's type; see
/// `rafka_conf_interceptor_add_on_send()` and `..._on_acknowledgement()` for what each field holds
/// when); it and everything it points to are valid only during the call. `ic_opaque` is the
/// pointer given when the hook was added. The return value is ignored (as librdkafka does); a
/// hook must not call back into the producer.
pub type rafka_interceptor_cb_t = Option<
    unsafe extern "C" fn(
        producer: *mut rafka_producer_t,
        record: *const rafka_delivery_report_t,
        ic_opaque: *mut c_void,
    ) -> rafka_resp_err_t,
>;

type Hook = unsafe extern "C" fn(*mut rafka_producer_t, *const rafka_delivery_report_t, *mut c_void) -> rafka_resp_err_t;

/// One added hook.
#[derive(Clone)]
struct Added {
    name: String,
    cb: Hook,
    ic_opaque: usize,
}

/// The hooks of a configuration, then of the producer built from it, in the order added.
#[derive(Clone, Default)]
pub(crate) struct Interceptors {
    on_send: Vec<Added>,
    on_ack: Vec<Added>,
}

impl Interceptors {
    /// Adds a hook; a second one of the same kind under the same name is refused (librdkafka's
    /// rule, so that a plugin added twice is noticed).
    pub(crate) unsafe fn add(&mut self, on_send: bool, name: *const c_char, cb: rafka_interceptor_cb_t, ic_opaque: *mut c_void) -> Result<rafka_resp_err_t, rafka_resp_err_t> {
        let name = crate::ptr::try_str(name, "ic_name")?;
        let Some(cb) = cb else { return Err(invalid("the interceptor callback is NULL")) };
        let list = if on_send { &mut self.on_send } else { &mut self.on_ack };
        if list.iter().any(|a| a.name == name) {
            let kind = if on_send { "on_send" } else { "on_acknowledgement" };
            return Err(invalid(&format!("an {kind} interceptor named '{name}' was already added")));
        }
        list.push(Added { name: name.to_string(), cb, ic_opaque: ic_opaque as usize });
        Ok(0)
    }

    pub(crate) fn has_on_send(&self) -> bool {
        !self.on_send.is_empty()
    }

    pub(crate) fn has_on_ack(&self) -> bool {
        !self.on_ack.is_empty()
    }

    /// Runs the on_send hooks with `record` (the calling thread, in `rafka_produce()`).
    pub(crate) fn on_send(&self, producer: *mut rafka_producer_t, record: &rafka_delivery_report_t) {
        call(&self.on_send, producer, record);
    }

    /// Runs the on_acknowledgement hooks with `record`.
    pub(crate) fn on_ack(&self, producer: *mut rafka_producer_t, record: &rafka_delivery_report_t) {
        call(&self.on_ack, producer, record);
    }

    /// The engine's `on_acknowledgement` hook for a producer whose handle is in `handle`.
    pub(crate) fn engine_hook(self: Arc<Self>, handle: Arc<AtomicPtr<rafka_producer_t>>) -> impl Fn(&Delivery<'_>, usize) + Send + Sync + 'static {
        move |d, msg_opaque| with_report(d, msg_opaque, |r| self.on_ack(handle.load(Ordering::Acquire), r))
    }
}

fn call(hooks: &[Added], producer: *mut rafka_producer_t, record: &rafka_delivery_report_t) {
    for h in hooks {
        // SAFETY: the application gave `cb` for this signature; `record` lives during the call.
        // The return value is ignored, as documented.
        let _ = unsafe { (h.cb)(producer, record, h.ic_opaque as *mut c_void) };
    }
}

/// The record `rafka_produce()` is about to queue, as on_send hooks (and on_acknowledgement
/// hooks, when the call then fails) see it.
pub(crate) struct Sending<'a> {
    pub(crate) topic: &'a CStr,
    pub(crate) partition: i32,
    pub(crate) key: Option<&'a [u8]>,
    pub(crate) value: Option<&'a [u8]>,
    pub(crate) timestamp: i64,
    pub(crate) msg_opaque: *mut c_void,
}

impl Sending<'_> {
    /// The record as a report with `err` (0 before it is queued) and `errstr` (NULL then).
    pub(crate) fn report(&self, err: rafka_resp_err_t, errstr: *const c_char) -> rafka_delivery_report_t {
        rafka_delivery_report_t {
            err,
            errstr,
            topic: self.topic.as_ptr(),
            partition: self.partition,
            offset: -1,
            timestamp: self.timestamp,
            key: self.key.map_or(std::ptr::null(), |k| k.as_ptr().cast()),
            key_len: self.key.map_or(0, <[u8]>::len),
            value: self.value.map_or(std::ptr::null(), |v| v.as_ptr().cast()),
            value_len: self.value.map_or(0, <[u8]>::len),
            msg_opaque: self.msg_opaque,
            possibly_persisted: 0,
            latency_us: 0,
        }
    }
}
