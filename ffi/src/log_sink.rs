//! `rafka_log_cb_t`: forwards the engine's `log` records to the C log callback. `log` has one
//! logger per process, so the callback of the most recently created producer that set one
//! receives every line.

use std::ffi::{c_char, c_void, CString};
use std::sync::{Mutex, Once};

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

struct Sink {
    owner: usize,
    cb: rafka_log_cb_t,
    opaque: usize,
}

static SINK: Mutex<Option<Sink>> = Mutex::new(None);

struct Forwarder;

impl log::Log for Forwarder {
    /// Info and above, or what the producer writing the record was configured with (`debug`,
    /// `log_level`: see `rafka_core::logging`).
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        match rafka_core::current_producer_id().and_then(rafka_core::logging::level_of) {
            Some(level) => m.level() <= level,
            None => m.level() <= log::Level::Info,
        }
    }

    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let (cb, opaque) = match &*SINK.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(Sink {
                cb: Some(cb),
                opaque,
                ..
            }) => (*cb, *opaque),
            _ => return,
        };
        let level = match r.level() {
            log::Level::Error => 3,
            log::Level::Warn => 4,
            log::Level::Info => 6,
            _ => 7,
        };
        let c = |s: String| CString::new(s.replace('\0', "")).unwrap_or_default();
        let (fac, msg) = (c(r.target().to_string()), c(r.args().to_string()));
        // SAFETY: the application gave this callback for this signature; strings live for the call.
        unsafe { cb(level, fac.as_ptr(), msg.as_ptr(), opaque as *mut c_void) };
    }

    fn flush(&self) {}
}

pub(crate) fn install(owner: usize, cb: rafka_log_cb_t, opaque: usize) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if log::set_logger(&Forwarder).is_ok() {
            log::set_max_level(log::LevelFilter::Info);
        }
    });
    *SINK.lock().unwrap_or_else(|e| e.into_inner()) = Some(Sink { owner, cb, opaque });
}

pub(crate) fn remove(owner: usize) {
    let mut s = SINK.lock().unwrap_or_else(|e| e.into_inner());
    if s.as_ref().is_some_and(|s| s.owner == owner) {
        *s = None;
    }
}
