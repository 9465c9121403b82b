//! How one record's outcome reaches the application: the [`Completion`] every queued record
//! carries (in `accumulator.rs`), resolved by the delivery thread (`delivery.rs`), and the
//! [`DeliveryFuture`] that `send()` returns.
//!
//! Below both the accumulator and delivery in the data path, so neither imports the other for it.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::clock;
use crate::error::{Error, LocalCode};
use crate::record::{Delivery, DeliveryResult};

/// How one record's outcome reaches the application.
pub(crate) enum Completion {
    Callback(Box<dyn FnOnce(&Delivery<'_>) + Send>),
    Future(Arc<FutureSlot>),
    /// To the producer-wide handler with this opaque value.
    Opaque(usize),
    /// A record in the spool: its own completion is kept there under this id until its report
    /// (see `spool/mod.rs`). Only an id, so that dropping a `Completion` stays as cheap as
    /// before the spool (it is dropped once per record).
    Spooled(u64),
}

/// The shared state behind a [`DeliveryFuture`].
pub(crate) struct FutureSlot {
    result: Mutex<Option<DeliveryResult>>,
    ready: Condvar,
}

impl FutureSlot {
    pub fn new() -> Arc<FutureSlot> {
        Arc::new(FutureSlot { result: Mutex::new(None), ready: Condvar::new() })
    }

    pub(crate) fn complete(&self, r: DeliveryResult) {
        *self.result.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        self.ready.notify_all();
    }
}

/// The outcome of one `send()`, to wait on or check.
pub struct DeliveryFuture {
    pub(crate) slot: Arc<FutureSlot>,
}

impl DeliveryFuture {
    /// Waits for the record's report.
    pub fn wait(self) -> DeliveryResult {
        let mut g = self.slot.result.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(r) = g.take() {
                return r;
            }
            g = self.slot.ready.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Waits up to `timeout` (any `Duration`: see `LONGEST_WAIT`); `Err(_TIMED_OUT)` if the report has not come by then (the record is
    /// still on its way and the future can be waited on again).
    pub fn wait_timeout(&self, timeout: Duration) -> DeliveryResult {
        let deadline = clock::deadline_after(timeout);
        let mut g = self.slot.result.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(r) = g.as_ref() {
                return r.clone();
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::local(LocalCode::TimedOut, format!("no delivery report within {timeout:?}")));
            }
            g = self.slot.ready.wait_timeout(g, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// The report, if it has come.
    pub fn try_result(&self) -> Option<DeliveryResult> {
        self.slot.result.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn is_done(&self) -> bool {
        self.slot.result.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }
}
