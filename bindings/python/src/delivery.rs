//! Delivery plumbing: the engine's delivery handler queues each report (`deliver`, any thread,
//! never touching Python) and `Shared::serve` runs the Python callbacks on the thread that
//! polls, the GIL held, reusing one `Message` object while no callback keeps it.

use std::sync::Mutex;

use pyo3::prelude::*;
use rafka_core::Delivery;

use crate::errors::kafka_error;
use crate::message::{Message, MessageData};

/// A delivery report waiting for a Python thread: its callback and the message for it.
struct Report {
    callback: Callback,
    msg: MessageData,
}

/// Whose callback a report goes to.
enum Callback {
    /// The producer's `on_delivery`; no reference of its own per record.
    Default,
    /// One given to `produce` for this record.
    Own(Box<PyObject>),
    /// The producer's `spool_recovered_cb`: a record an earlier producer left in `spool.dir`.
    Recovered,
}

/// The opaque of a record whose report goes to the producer's `on_delivery` (a boxed callback's
/// address is never 1).
pub(crate) const DEFAULT_CB: usize = 1;

/// State shared between the Python object and the engine's delivery handler.
#[derive(Default)]
pub(crate) struct Shared {
    /// Reports whose callbacks have yet to run, in delivery order.
    ready: Mutex<Reports>,
    /// Emptied chunks kept with their room for `ready` (at most `SPARE_CHUNKS`): allocating
    /// fresh ones for every poll cost page faults on the produce thread.
    spare: Mutex<Vec<Vec<Report>>>,
    /// The Message object `serve` last handed to a callback (see `Message`).
    reuse: Mutex<Option<Py<Message>>>,
    /// Statistics documents for `stats_cb`, in order: queued by the engine's stats handler
    /// (the thread in the engine's poll, GIL released), taken by `Producer::serve` (GIL held).
    pub(crate) stats: Mutex<std::collections::VecDeque<String>>,
    /// Throttle reports for `throttle_cb` (broker name, id, ms), queued and taken likewise.
    pub(crate) throttles: Mutex<std::collections::VecDeque<(String, i32, i32)>>,
    /// Client-wide errors for `error_cb`, queued and taken likewise.
    pub(crate) errors: Mutex<std::collections::VecDeque<rafka_core::Error>>,
}

/// Queued reports in chunks of at most `CHUNK`: a backlog (a flush of many records) is pushed
/// without moving the reports already queued, as growing one vector would, every doubling.
#[derive(Default)]
struct Reports {
    /// Chunks before `last`, oldest first.
    full: std::collections::VecDeque<Vec<Report>>,
    /// The chunk reports are pushed to.
    last: Vec<Report>,
}

impl Reports {
    fn is_empty(&self) -> bool {
        self.full.is_empty() && self.last.is_empty()
    }
}

/// Reports per chunk (about 130 bytes each).
const CHUNK: usize = 4096;

/// Emptied chunks kept for reuse.
const SPARE_CHUNKS: usize = 4;

impl Shared {
    /// Queues a report after those already queued. Any thread.
    fn push(&self, r: Report) {
        let mut ready = lock(&self.ready);
        if ready.last.len() >= CHUNK {
            let next = lock(&self.spare).pop().unwrap_or_else(|| Vec::with_capacity(CHUNK));
            let full = std::mem::replace(&mut ready.last, next);
            ready.full.push_back(full);
        }
        ready.last.push(r);
    }

    /// Keeps an emptied chunk of full size for reuse, up to `SPARE_CHUNKS` of them (a smaller
    /// one, the rest put back after an exception, would grow and move its reports again).
    fn recycle(&self, chunk: Vec<Report>) {
        debug_assert!(chunk.is_empty());
        let mut spare = lock(&self.spare);
        if spare.len() < SPARE_CHUNKS && chunk.capacity() == CHUNK {
            spare.push(chunk);
        }
    }

    /// Runs the callbacks of queued reports on this thread, the GIL held; `callbacks` gives the
    /// producer's `on_delivery` and `spool_recovered_cb` (asked again for each batch, as a
    /// callback may end in the garbage collector clearing them). The first exception a callback raises stops it and is
    /// returned (as confluent-kafka raises it from poll/flush); the reports after it stay queued
    /// for the next call.
    pub(crate) fn serve(&self, py: Python<'_>, callbacks: impl Fn() -> (Option<PyObject>, Option<PyObject>)) -> PyResult<()> {
        loop {
            let fresh = lock(&self.spare).pop().unwrap_or_default();
            let batch = {
                let mut ready = lock(&self.ready);
                if ready.is_empty() {
                    drop(ready);
                    self.recycle(fresh);
                    return Ok(());
                }
                std::mem::replace(&mut *ready, Reports { full: Default::default(), last: fresh })
            };
            let mut reuse = lock(&self.reuse).take().map(|m| m.into_bound(py));
            // Our own reference: a callback may end in the collector clearing `refs`.
            let (default, recovered) = callbacks();
            let mut chunks = batch.full.into_iter().chain(std::iter::once(batch.last));
            while let Some(mut chunk) = chunks.next() {
                let mut it = chunk.drain(..);
                while let Some(r) = it.next() {
                    if let Err(e) = run_callback(py, r, default.as_ref(), recovered.as_ref(), &mut reuse) {
                        // The rest go back in front of what was queued meanwhile, in order.
                        let mut back: Vec<Vec<Report>> = vec![it.collect()];
                        back.extend(chunks);
                        let mut ready = lock(&self.ready);
                        for c in back.into_iter().rev().filter(|c| !c.is_empty()) {
                            ready.full.push_front(c);
                        }
                        return Err(e);
                    }
                }
                drop(it);
                self.recycle(chunk);
            }
            *lock(&self.reuse) = reuse.map(Bound::unbind);
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The engine's delivery handler. It never touches Python: it runs wherever the engine reports
/// (inside `poll`/`flush`/`close` with the GIL released, or on a thread that raced `close`), so it
/// only queues the report; `Shared::serve` runs the callbacks on the Python thread, GIL held,
/// without a GIL hand-off per record. The report comes owned (the engine's record itself, not a
/// copy). `opaque` is the callback, boxed by `enqueue` (0: none, `DEFAULT_CB`: the producer's).
pub(crate) fn deliver(shared: &Shared, d: MessageData, opaque: usize) {
    let callback = match opaque {
        0 => return,
        DEFAULT_CB => Callback::Default,
        // SAFETY: made by Box::into_raw in `enqueue`; the engine reports each accepted record once.
        _ => Callback::Own(unsafe { Box::from_raw(opaque as *mut PyObject) }),
    };
    shared.push(Report { callback, msg: d });
}

/// The engine's handler for records an earlier producer left in `spool.dir` (given only with a
/// `spool_recovered_cb`): queued like a delivery report, in the same order, for `Shared::serve`.
pub(crate) fn deliver_recovered(shared: &Shared, d: &Delivery<'_>) {
    shared.push(Report { callback: Callback::Recovered, msg: d.to_owned_delivery() });
}

/// With `delivery.report.only.error`: a successful record's report is withheld by the engine;
/// its callback (owned by the opaque) is released here. Any thread: without the GIL, pyo3 defers
/// the reference drop to the next time a thread holds it.
pub(crate) fn release_withheld(opaque: usize) {
    if opaque > DEFAULT_CB {
        // SAFETY: made by Box::into_raw in `enqueue`; a withheld record is never reported.
        drop(unsafe { Box::from_raw(opaque as *mut PyObject) });
    }
}

/// `reuse`: the Message object of the previous report, taken for this one if nothing else holds
/// it; left holding this report's.
fn run_callback<'py>(py: Python<'py>, r: Report, default: Option<&PyObject>, recovered: Option<&PyObject>, reuse: &mut Option<Bound<'py, Message>>) -> PyResult<()> {
    let callback = match &r.callback {
        Callback::Own(cb) => &**cb,
        // DEFAULT_CB is only given while the producer has one (and recovered reports are only
        // queued with a spool_recovered_cb); it is gone only once the garbage collector cleared
        // the producer, whose reports then have no one to go to.
        Callback::Default => match default {
            Some(cb) => cb,
            None => return Ok(()),
        },
        Callback::Recovered => match recovered {
            Some(cb) => cb,
            None => return Ok(()),
        },
    };
    // Bound references: dropped with a plain decref (the GIL is held), not pyo3's deferred one.
    let err: Bound<'_, PyAny> = match &r.msg.error {
        Some(e) => Bound::new(py, kafka_error(e))?.into_any(),
        None => py.None().into_bound(py),
    };
    let msg: Bound<'_, Message> = match reuse.take() {
        // SAFETY: reading the count of a live object with the GIL held; 1 is our own reference.
        Some(m) if unsafe { pyo3::ffi::Py_REFCNT(m.as_ptr()) } == 1 => {
            // SAFETY: the only reference is ours, so no method of it runs now (see `Message`).
            unsafe { *m.get().data.get() = r.msg };
            m
        }
        _ => Bound::new(py, Message { data: std::cell::UnsafeCell::new(r.msg) })?,
    };
    // PyObject_CallFunctionObjArgs passes the arguments on the C stack (vectorcall inside
    // CPython): no argument tuple per report, as `call1` would build. Stable ABI since 3.2.
    // SAFETY: every pointer is a live object held above; the list ends with NULL; the result is
    // a new reference or NULL with an exception set, which `from_owned_ptr_or_err` takes over.
    let ret = unsafe { pyo3::ffi::PyObject_CallFunctionObjArgs(callback.as_ptr(), err.as_ptr(), msg.as_ptr(), std::ptr::null_mut::<pyo3::ffi::PyObject>()) };
    *reuse = Some(msg);
    unsafe { Bound::from_owned_ptr_or_err(py, ret) }?;
    Ok(())
}
