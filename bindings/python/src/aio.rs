//! `_rafka._AioProducer`: the engine side of `rafka.aio.AIOProducer` (python/rafka/aio.py),
//! which resolves asyncio futures instead of calling callbacks from `poll()`.
//!
//! Threads and the GIL:
//! - `produce` runs on the event loop's thread, GIL held. The record's opaque is its future
//!   (a boxed `PyObject`); the send never waits (`try_send_with_opaque`).
//! - The engine runs with its own delivery thread (`DeliveryMode::Thread`). Its delivery
//!   handler (`queue_report`) only queues each report in `AioShared::ready`, without the GIL.
//!   After a run of reports (`on_reports_served`, memory already released) `wake` takes the GIL
//!   on the delivery thread once and calls the loop's `call_soon_threadsafe` with a `Wake`: one
//!   call per batch of reports, none while a `Wake` is already scheduled. The GIL is never
//!   taken on the engine's I/O thread (see `logbridge.rs` for why that matters).
//! - `Wake` runs on the loop: it runs `spool_recovered_cb` for each queued report of a record an
//!   earlier producer left in `spool.dir` (such records have no future), resolves every queued
//!   report's future (or, for a future that was cancelled, hands the report to `on_delivery` or
//!   logs a failure), runs `error_cb`, and wakes the coroutines waiting for buffer room.
//! - Nothing that holds the GIL waits for the delivery thread: `flush` and `close` release it
//!   (the Python side runs them in the loop's executor), so the delivery thread's `with_gil`
//!   always gets it.
//! - With the loop closed (or never bound), `wake` serves the reports itself on the delivery
//!   thread: `spool_recovered_cb` and `on_delivery` if given, and a warning through the logger that
//!   counts the reports no future took. So does
//!   a `Wake` that a closing loop drops uncalled, on the thread that closes the loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::{PyBufferError, PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::intern;
use pyo3::types::{PyDict, PyList, PyTuple};
use rafka_core::{DeliveryMode, LocalCode, TrySend};

use crate::buffers;
use crate::delivery::lock;
use crate::errors::{kafka_error, to_py_err};
use crate::gil_cell::GilCell;
use crate::logbridge;
use crate::message::{Message, MessageData};
use crate::producer::{parse_conf, Conf};
use crate::record::{int_arg, parse_headers, parse_item, topic_str, Parsed};

/// Set by `rafka.aio`'s `atexit` hook: from then on the delivery thread no longer takes the GIL
/// (an interpreter that is finalizing may never give it back).
static EXITING: AtomicBool = AtomicBool::new(false);

/// One report waiting for the loop: the record's future (None with
/// `delivery.report.only.error`, whose successes carry no report) and its message.
struct Report {
    future: PyObject,
    msg: Option<MessageData>,
}

/// The loop a producer resolves futures on: its bound methods, called with the GIL held.
struct LoopRef {
    call_soon_threadsafe: PyObject,
    create_future: PyObject,
}

/// State shared between `_AioProducer`, the engine's handlers (delivery thread) and `Wake`
/// (the loop's thread).
struct AioShared {
    /// Reports not yet handed to their futures, in delivery order. Pushed by the delivery
    /// handler (no GIL), taken by `Wake`.
    ready: Mutex<Vec<Report>>,
    /// Client-wide errors for `error_cb`, taken by `Wake`.
    errors: Mutex<Vec<rafka_core::Error>>,
    /// Reports of records an earlier producer left in `spool.dir`, for `spool_recovered_cb`, in
    /// delivery order. Pushed by the engine's recovered handler (delivery thread, no GIL), taken
    /// by `Wake`.
    recovered: Mutex<Vec<MessageData>>,
    /// A `Wake` is scheduled on the loop and has not started: `wake` schedules no other. `Wake`
    /// clears it before taking `ready`, so a report pushed after that schedules the next one.
    scheduled: AtomicBool,
    /// A send found the buffer full: `wake` schedules a `Wake` after the next reports even when
    /// none of them is for a future (successes withheld by `delivery.report.only.error`).
    /// Set by `produce` before its second try, read by `wake` after the memory is released, so
    /// either the second try sees the room or `wake` sees the flag.
    room_wanted: AtomicBool,
    /// The loop and the Python objects the reports go to; read and written with the GIL held.
    py: GilCell<PyState>,
    /// The engine's id, for its log lines (`logbridge`).
    id: u64,
}

#[derive(Default)]
struct PyState {
    /// None until `bind`, and again after `unbind`.
    lp: Option<LoopRef>,
    /// A future the coroutines waiting for buffer room await (shielded); resolved by `Wake`.
    room: Option<PyObject>,
    on_delivery: Option<PyObject>,
    error_cb: Option<PyObject>,
    spool_recovered_cb: Option<PyObject>,
    logger: Option<Py<PyAny>>,
}

/// The delivery handler: queues the report for `Wake`. Delivery thread (or a thread in
/// `close`), never the I/O thread; takes no GIL.
fn queue_report(shared: &AioShared, d: MessageData, opaque: usize) {
    if opaque == 0 {
        return;
    }
    // SAFETY: made by Box::into_raw in `send`; the engine reports each accepted record once.
    let future = *unsafe { Box::from_raw(opaque as *mut PyObject) };
    lock(&shared.ready).push(Report { future, msg: Some(d) });
}

/// `delivery.report.only.error`: a success without a report resolves its future with None.
fn queue_withheld(shared: &AioShared, opaque: usize) {
    if opaque != 0 {
        // SAFETY: as in `queue_report`; a withheld record is never reported.
        let future = *unsafe { Box::from_raw(opaque as *mut PyObject) };
        lock(&shared.ready).push(Report { future, msg: None });
    }
}

/// The engine's `on_reports_served` hook (delivery thread, or a thread in `close`): schedules
/// one `Wake` on the loop if there is anything for it and none is scheduled.
fn wake(shared: &Arc<AioShared>) {
    let wanted = !lock(&shared.ready).is_empty() || !lock(&shared.recovered).is_empty() || !lock(&shared.errors).is_empty() || shared.room_wanted.load(Ordering::SeqCst);
    if !wanted || EXITING.load(Ordering::SeqCst) || shared.scheduled.swap(true, Ordering::SeqCst) {
        return;
    }
    Python::with_gil(|py| {
        // Cloned: calling it runs Python code, which may end in the collector clearing `py`.
        let call = shared.py.get(py).lp.as_ref().map(|lp| lp.call_soon_threadsafe.clone_ref(py));
        let scheduled = match call {
            Some(call) => match Py::new(py, Wake::new(shared.clone())) {
                Ok(w) => call.call1(py, (w,)).is_ok(),
                Err(_) => false,
            },
            None => false,
        };
        if !scheduled {
            // The loop is closed (call_soon_threadsafe raised) or gone: serve the reports here.
            shared.scheduled.store(false, Ordering::SeqCst);
            serve_orphans(py, shared);
        }
    });
}

/// Reports that no loop will take: given to `spool_recovered_cb` and `on_delivery` on this
/// thread, those of records with a future counted in a warning.
fn serve_orphans(py: Python<'_>, shared: &AioShared) {
    serve_recovered(py, shared);
    let batch = std::mem::take(&mut *lock(&shared.ready));
    if batch.is_empty() {
        return;
    }
    let on_delivery = shared.py.get(py).on_delivery.as_ref().map(|c| c.clone_ref(py));
    let (mut ok, mut failed, mut first) = (0usize, 0usize, None);
    for r in batch {
        let Some(msg) = r.msg else {
            ok += 1;
            continue;
        };
        match &msg.error {
            None => ok += 1,
            Some(e) => {
                failed += 1;
                first.get_or_insert_with(|| e.to_string());
            }
        }
        if let Some(cb) = &on_delivery {
            if let Err(e) = call_on_delivery(py, cb, msg) {
                e.write_unraisable(py, None);
            }
        }
    }
    let first = first.map(|f| format!("; first failure: {f}")).unwrap_or_default();
    let to = if on_delivery.is_some() { "on_delivery got them" } else { "no on_delivery is configured" };
    let text = format!("{} delivery report(s) reached no future: the event loop was closed before it took them ({ok} delivered, {failed} failed{first}); {to}", ok + failed);
    if let Some(logger) = shared.py.get(py).logger.as_ref().map(|l| l.clone_ref(py)) {
        let _ = logger.call_method1(py, "log", (30, "%s", text));
    }
}

fn call_on_delivery(py: Python<'_>, cb: &PyObject, msg: MessageData) -> PyResult<()> {
    let err: PyObject = match &msg.error {
        Some(e) => Py::new(py, kafka_error(e))?.into_any(),
        None => py.None(),
    };
    let m = Py::new(py, Message { data: std::cell::UnsafeCell::new(msg) })?;
    cb.call1(py, (err, m))?;
    Ok(())
}

/// What `wake` schedules on the loop: resolves the queued reports' futures. A loop closed with
/// it still in its queue drops it uncalled: then it serves the reports as orphans (and lets
/// `wake` schedule again), so they are neither lost silently nor left behind a `scheduled` flag
/// that nothing clears.
#[pyclass(module = "rafka._rafka", name = "_AioWake", frozen)]
struct Wake {
    shared: Arc<AioShared>,
    called: AtomicBool,
}

impl Wake {
    fn new(shared: Arc<AioShared>) -> Self {
        Wake { shared, called: AtomicBool::new(false) }
    }
}

#[pymethods]
impl Wake {
    fn __call__(&self, py: Python<'_>) -> PyResult<()> {
        self.called.store(true, Ordering::SeqCst);
        self.shared.scheduled.store(false, Ordering::SeqCst);
        serve(py, &self.shared)
    }
}

impl Drop for Wake {
    fn drop(&mut self) {
        if !*self.called.get_mut() {
            // Dropped by Python (the loop's queue cleared), so the GIL is held.
            Python::with_gil(|py| {
                self.shared.scheduled.store(false, Ordering::SeqCst);
                serve_orphans(py, &self.shared);
            });
        }
    }
}

/// Hands the queued reports of recovered records to `spool_recovered_cb`; what it raises is
/// reported as unraisable (there is no caller to raise it to), and the next report still goes.
fn serve_recovered(py: Python<'_>, shared: &AioShared) {
    let recovered = std::mem::take(&mut *lock(&shared.recovered));
    if recovered.is_empty() {
        return;
    }
    // Cloned: the callback may end in the collector clearing `py`.
    let Some(cb) = shared.py.get(py).spool_recovered_cb.as_ref().map(|c| c.clone_ref(py)) else { return };
    for msg in recovered {
        if let Err(e) = call_on_delivery(py, &cb, msg) {
            e.write_unraisable(py, None);
        }
    }
}

/// Runs `spool_recovered_cb` for queued recovered records, resolves the futures of every queued
/// report, runs `error_cb` for queued errors and wakes the coroutines waiting for room. The
/// loop's thread, GIL held.
fn serve(py: Python<'_>, shared: &AioShared) -> PyResult<()> {
    serve_recovered(py, shared);
    let batch = std::mem::take(&mut *lock(&shared.ready));
    let (on_delivery, error_cb, logger) = {
        let st = shared.py.get(py);
        let c = |o: &Option<PyObject>| o.as_ref().map(|c| c.clone_ref(py));
        (c(&st.on_delivery), c(&st.error_cb), st.logger.as_ref().map(|l| l.clone_ref(py)))
    };
    let mut lost = Vec::new();
    for r in batch {
        if let Err(e) = resolve(py, r, on_delivery.as_ref(), &mut lost) {
            e.write_unraisable(py, None);
        }
    }
    if let Some(logger) = &logger {
        for e in lost {
            let text = format!("a record whose produce() was cancelled after it was queued failed, and no on_delivery is configured to get its report: {e}");
            let _ = logger.call_method1(py, "log", (30, "%s", text));
        }
        logbridge::drain(py, logger, shared.id);
    }
    let errors = std::mem::take(&mut *lock(&shared.errors));
    if let Some(cb) = &error_cb {
        for e in errors {
            if let Err(e) = cb.call1(py, (Py::new(py, kafka_error(&e))?,)) {
                e.write_unraisable(py, None);
            }
        }
    }
    if shared.room_wanted.swap(false, Ordering::SeqCst) {
        if let Some(room) = shared.py.update(py, |st| st.room.take()) {
            let room = room.bind(py);
            if !room.call_method0(intern!(py, "done"))?.is_truthy()? {
                room.call_method1(intern!(py, "set_result"), (py.None(),))?;
            }
        }
    }
    Ok(())
}

/// Hands one report to its future; a future that is done already (cancelled) gets nothing and
/// its report goes to `on_delivery`, or into `lost` if it failed and there is none.
fn resolve(py: Python<'_>, r: Report, on_delivery: Option<&PyObject>, lost: &mut Vec<String>) -> PyResult<()> {
    let fut = r.future.bind(py);
    let Some(msg) = r.msg else {
        if !fut.call_method0(intern!(py, "done"))?.is_truthy()? {
            fut.call_method1(intern!(py, "set_result"), (py.None(),))?;
        }
        return Ok(());
    };
    let failure = msg.error.as_ref().map(|e| e.to_string());
    let err = msg.error.as_ref().map(|e| Py::new(py, kafka_error(e))).transpose()?;
    let m = Bound::new(py, Message { data: std::cell::UnsafeCell::new(msg) })?;
    if let Some(cb) = on_delivery {
        let e: PyObject = err.as_ref().map_or_else(|| py.None(), |e| e.clone_ref(py).into_any());
        if let Err(e) = cb.call1(py, (e, &m)) {
            e.write_unraisable(py, None);
        }
    }
    if fut.call_method0(intern!(py, "done"))?.is_truthy()? {
        if let (None, Some(f)) = (on_delivery, failure) {
            lost.push(f);
        }
        return Ok(());
    }
    match err {
        None => fut.call_method1(intern!(py, "set_result"), (m,))?,
        Some(e) => fut.call_method1(intern!(py, "set_exception"), (crate::errors::KafkaException::new_err((e,)).into_value(py),))?,
    };
    Ok(())
}

/// `rafka.aio.AIOProducer`'s engine: see the module comment. Its methods run on the event
/// loop's thread; `flush_blocking` and `close_blocking` on an executor thread.
#[pyclass(module = "rafka._rafka", name = "_AioProducer", frozen)]
pub(crate) struct AioProducer {
    /// None once closed.
    engine: GilCell<Option<Arc<rafka_core::Producer>>>,
    shared: Arc<AioShared>,
}

fn closed_error() -> PyErr {
    PyRuntimeError::new_err("AIOProducer has been closed")
}

impl AioProducer {
    fn engine(&self, py: Python<'_>) -> PyResult<Arc<rafka_core::Producer>> {
        self.engine.get(py).clone().ok_or_else(closed_error)
    }

    /// A new future of the bound loop.
    fn new_future(&self, py: Python<'_>) -> PyResult<PyObject> {
        // Cloned: the call runs Python code (see `GilCell::get`).
        match self.shared.py.get(py).lp.as_ref().map(|lp| lp.create_future.clone_ref(py)) {
            Some(create) => create.call0(py),
            None => Err(PyRuntimeError::new_err("AIOProducer is not bound to an event loop")),
        }
    }

    /// Queues one record whose report resolves `future`. Never waits: a full buffer is
    /// `_QUEUE_FULL` after a second try that follows setting `room_wanted` (see there).
    fn send(&self, py: Python<'_>, topic: &str, p: &Parsed<'_>, future: &PyObject) -> rafka_core::Result<()> {
        let Some(engine) = self.engine.get(py) else {
            return Err(rafka_core::Error::local(LocalCode::State, "the producer is closed"));
        };
        let rec = p.record(topic);
        let opaque = Box::into_raw(Box::new(future.clone_ref(py))) as usize;
        let mut r = engine.try_send_with_opaque(&rec, opaque);
        if matches!(&r, Err(e) if e.is_local(LocalCode::QueueFull)) {
            self.shared.room_wanted.store(true, Ordering::SeqCst);
            r = engine.try_send_with_opaque(&rec, opaque);
        }
        let r = match r {
            Ok(TrySend::Queued) => Ok(()),
            Ok(TrySend::WouldWait) => Err(rafka_core::Error::local(LocalCode::Internal, "the engine asked to wait for metadata, which a queueing producer never does")),
            Err(e) => Err(e),
        };
        if r.is_err() {
            // SAFETY: not accepted, so never reported: the box is still ours.
            drop(unsafe { Box::from_raw(opaque as *mut PyObject) });
        }
        r
    }

    fn drain_logs(&self, py: Python<'_>) {
        if logbridge::pending() {
            if let Some(l) = self.shared.py.get(py).logger.as_ref().map(|l| l.clone_ref(py)) {
                logbridge::drain(py, &l, self.shared.id);
            }
        }
    }
}

fn buffer_full(e: &rafka_core::Error) -> PyErr {
    PyBufferError::new_err(format!("Local: Queue full: {}", e.message()))
}

#[pymethods]
impl AioProducer {
    #[new]
    #[pyo3(signature = (conf=None, **kwargs))]
    fn new(py: Python<'_>, conf: Option<&Bound<'_, PyDict>>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let Conf { config, logger, default_cb, stats_cb, throttle_cb, error_cb, spool_recovered_cb, oauth_cb, oauth_config, partitioner } = parse_conf(py, conf, kwargs)?;
        // A partitioner callable may have to wait for metadata before it can run (rafka.Producer
        // waits in produce()); an awaitable produce() that waits for metadata off the loop is not built yet.
        let given = [("stats_cb", stats_cb.is_some()), ("throttle_cb", throttle_cb.is_some()), ("oauth_cb", oauth_cb.is_some() || !oauth_config.is_empty()), ("a partitioner callable", partitioner.is_some())];
        for (name, given) in given {
            if given {
                return Err(PyTypeError::new_err(format!("AIOProducer does not take {name} (yet); rafka.Producer does")));
            }
        }
        let logger = match logger {
            Some(l) => l,
            None => py.import("logging")?.call_method1("getLogger", ("rafka",))?.unbind(),
        };
        let mut builder = rafka_core::Producer::builder(config).delivery_mode(DeliveryMode::Thread).queue_until_metadata(true);
        let id = builder.id();
        let shared = Arc::new(AioShared {
            ready: Mutex::new(Vec::new()),
            errors: Mutex::new(Vec::new()),
            recovered: Mutex::new(Vec::new()),
            scheduled: AtomicBool::new(false),
            room_wanted: AtomicBool::new(false),
            py: GilCell::new(PyState { lp: None, room: None, on_delivery: default_cb, error_cb: None, spool_recovered_cb: None, logger: Some(logger.clone_ref(py)) }),
            id,
        });
        let (s1, s2, s3) = (shared.clone(), shared.clone(), shared.clone());
        builder = builder
            .owned_delivery_handler(move |d, opaque| queue_report(&s1, d, opaque))
            .on_report_suppressed(move |opaque| queue_withheld(&s2, opaque))
            .on_reports_served(move || wake(&s3));
        if let Some(cb) = error_cb {
            let s4 = shared.clone();
            builder = builder.error_handler(move |e| lock(&s4.errors).push(e.clone()));
            shared.py.update(py, |st| st.error_cb = Some(cb));
        }
        if let Some(cb) = spool_recovered_cb {
            let s5 = shared.clone();
            builder = builder.spool_recovered_handler(move |d| lock(&s5.recovered).push(d.to_owned_delivery()));
            shared.py.update(py, |st| st.spool_recovered_cb = Some(cb));
        }
        logbridge::register(logger.bind(py), id)?;
        let engine = builder.build().map_err(|e| {
            logbridge::unregister(id);
            to_py_err(&e)
        })?;
        Ok(AioProducer { engine: GilCell::new(Some(Arc::new(engine))), shared })
    }

    /// Resolves futures on `loop` from now on (the loop `rafka.aio` found running).
    fn bind(&self, py: Python<'_>, lp: &Bound<'_, PyAny>) -> PyResult<()> {
        let r = LoopRef { call_soon_threadsafe: lp.getattr("call_soon_threadsafe")?.unbind(), create_future: lp.getattr("create_future")?.unbind() };
        // A room future of the previous loop is dropped with it.
        self.shared.py.update(py, |st| {
            st.lp = Some(r);
            st.room = None;
        });
        Ok(())
    }

    /// `max.block.ms` in seconds: how long `produce` waits for buffer room.
    #[getter]
    fn max_block(&self, py: Python<'_>) -> PyResult<f64> {
        Ok(self.engine(py)?.config().max_block.as_secs_f64())
    }

    /// Queues one record; returns the future its report resolves. Raises BufferError when the
    /// buffer is full (the Python side then awaits `room()`), KafkaException when the record is
    /// refused.
    #[pyo3(signature = (topic, value=None, key=None, partition=None, timestamp=None, headers=None))]
    #[allow(clippy::too_many_arguments)]
    fn produce<'py>(
        &self,
        py: Python<'py>,
        topic: &Bound<'py, PyAny>,
        value: Option<&Bound<'py, PyAny>>,
        key: Option<&Bound<'py, PyAny>>,
        partition: Option<&Bound<'py, PyAny>>,
        timestamp: Option<&Bound<'py, PyAny>>,
        headers: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<PyObject> {
        if self.engine.get(py).is_none() {
            return Err(closed_error());
        }
        let topic = topic_str(topic)?;
        let mut keep = Vec::new();
        let parsed = Parsed {
            partition: int_arg(partition, -1, &|| "partition".into())?,
            timestamp: int_arg(timestamp, 0, &|| "timestamp".into())?,
            value: buffers::extract(value, &|| "value".into())?,
            key: buffers::extract(key, &|| "key".into())?,
            headers: parse_headers(headers, &mut keep, &|| "headers".into())?,
            callback: None,
            deadline: None,
        };
        let fut = self.new_future(py)?;
        let r = self.send(py, topic, &parsed, &fut);
        self.drain_logs(py);
        match r {
            Ok(()) => Ok(fut),
            Err(e) if self.engine.get(py).is_none() => Err(if e.is_local(LocalCode::State) { closed_error() } else { to_py_err(&e) }),
            Err(e) if e.is_local(LocalCode::QueueFull) => Err(buffer_full(&e)),
            Err(e) => Err(to_py_err(&e)),
        }
    }

    /// Queues `messages[start:]` (items as `Producer.produce_batch` takes them, `callback`
    /// ignored) in order, appending one future per item to `futures`; stops at the first item
    /// the full buffer refuses and returns its index (`len(messages)` when all went); raises
    /// BufferError when that is the first. An item refused for another reason gets a future
    /// failed with its KafkaException.
    #[pyo3(signature = (topic, messages, futures, start=0, partition=-1))]
    fn produce_batch<'py>(&self, py: Python<'py>, topic: &Bound<'py, PyAny>, messages: &Bound<'py, PyAny>, futures: &Bound<'py, PyList>, start: usize, partition: i32) -> PyResult<usize> {
        if self.engine.get(py).is_none() {
            return Err(closed_error());
        }
        let topic = topic_str(topic)?;
        let items: Vec<Bound<'py, PyAny>> = if let Ok(l) = messages.downcast::<PyList>() {
            l.iter().collect()
        } else if let Ok(t) = messages.downcast::<PyTuple>() {
            t.iter().collect()
        } else {
            return Err(PyTypeError::new_err("messages must be a list"));
        };
        let mut keep: Vec<Bound<'py, PyAny>> = Vec::new();
        let parsed = items.iter().enumerate().skip(start).map(|(i, it)| parse_item(py, it, i, partition, None, &mut keep)).collect::<PyResult<Vec<_>>>()?;
        let mut next = start;
        for p in &parsed {
            let fut = self.new_future(py)?;
            match self.send(py, topic, p, &fut) {
                Ok(()) => {}
                Err(e) if e.is_local(LocalCode::QueueFull) && next == start => return Err(buffer_full(&e)),
                Err(e) if e.is_local(LocalCode::QueueFull) => break,
                Err(e) => {
                    fut.call_method1(py, intern!(py, "set_exception"), (to_py_err(&e).into_value(py),))?;
                }
            }
            futures.append(fut)?;
            next += 1;
        }
        self.drain_logs(py);
        Ok(next)
    }

    /// The future that coroutines waiting for buffer room await (shielded): resolved by the
    /// first `Wake` after the engine released memory.
    fn room(&self, py: Python<'_>) -> PyResult<PyObject> {
        if let Some(r) = &self.shared.py.get(py).room {
            return Ok(r.clone_ref(py));
        }
        let fut = self.new_future(py)?;
        let keep = fut.clone_ref(py);
        self.shared.py.update(py, |st| st.room = Some(keep));
        // Memory may have been released since the failing send set `room_wanted` and before
        // this future existed: that `Wake` is scheduled already and resolves this future too.
        self.shared.room_wanted.store(true, Ordering::SeqCst);
        Ok(fut)
    }

    /// Records queued and not yet reported.
    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.engine(py)?.in_flight_count() as usize)
    }

    /// Sends everything now and waits (GIL released) up to `timeout` s (None: for ever) until
    /// every record is reported; returns how many are still unreported. Blocks: for an executor.
    #[pyo3(signature = (timeout=None))]
    fn flush_blocking(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<u64> {
        let engine = self.engine(py)?;
        let t = crate::producer::timeout_of(timeout);
        let _ = py.allow_threads(|| engine.flush(t));
        Ok(engine.in_flight_count())
    }

    /// The cluster's metadata as `Producer.list_topics` returns it; waits (GIL released) up to
    /// `timeout` s. Blocks: for an executor.
    #[pyo3(signature = (topic=None, timeout=-1.0))]
    fn list_topics_blocking(&self, py: Python<'_>, topic: Option<String>, timeout: f64) -> PyResult<PyObject> {
        let engine = self.engine(py)?;
        let t = crate::producer::timeout_of(Some(timeout));
        let names: Option<Vec<&str>> = topic.as_deref().map(|t| vec![t]);
        let md = py.allow_threads(|| engine.metadata(names.as_deref(), t)).map_err(|e| to_py_err(&e))?;
        crate::producer::cluster_metadata(py, &md)
    }

    /// Fails every record still waiting in a queue (not those sent) with `_PURGE_QUEUE`; waits
    /// (GIL released) until the engine took them off its queues. Blocks: for an executor.
    fn purge_blocking(&self, py: Python<'_>) -> PyResult<()> {
        let engine = self.engine(py)?;
        py.allow_threads(|| engine.purge());
        Ok(())
    }

    /// Flushes up to `timeout` s and closes the engine (GIL released); records still unsent
    /// then fail with `_DESTROY`. Every report is queued (for the loop, or served as orphans)
    /// before it returns. Blocks: for an executor.
    #[pyo3(signature = (timeout=None))]
    fn close_blocking(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let Some(engine) = self.engine.take(py) else { return Ok(()) };
        let t = crate::producer::timeout_of(timeout);
        let r = py.allow_threads(|| engine.close(t));
        py.allow_threads(move || drop(engine));
        self.drain_logs(py);
        logbridge::unregister(self.shared.id);
        r.map_err(|e| to_py_err(&e))
    }

    /// Resolves the futures of the reports queued so far, now (`flush` and `close` call it
    /// once the engine has queued every report they waited for).
    fn serve_ready(&self, py: Python<'_>) -> PyResult<()> {
        serve(py, &self.shared)
    }

    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        self.engine.get(py).is_none()
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        // SAFETY: the collector calls this with the GIL held.
        let st = unsafe { self.shared.py.get_unchecked() };
        for o in [&st.on_delivery, &st.error_cb, &st.spool_recovered_cb, &st.room].into_iter().flatten() {
            visit.call(o)?;
        }
        if let Some(l) = &st.logger {
            visit.call(l)?;
        }
        if let Some(lp) = &st.lp {
            visit.call(&lp.call_soon_threadsafe)?;
            visit.call(&lp.create_future)?;
        }
        Ok(())
    }

    /// A producer in a reference cycle (an `on_delivery` bound to the object that holds it) that
    /// became garbage: its engine is closed on a thread of its own (records in flight still go,
    /// within `delivery.timeout.ms`); their reports have no one left to go to.
    fn __clear__(&self) {
        Python::with_gil(|py| {
            let st = self.shared.py.update(py, std::mem::take);
            drop(st);
            if let Some(engine) = self.engine.take(py) {
                crate::producer::close_collected(engine, self.shared.id);
            }
        });
    }
}

impl Drop for AioProducer {
    fn drop(&mut self) {
        if let Some(engine) = self.engine.0.get_mut().take() {
            // The engine's drop closes it, waiting for its reports (served as orphans once the
            // loop is gone): let other threads, the delivery thread among them, run.
            Python::with_gil(|py| py.allow_threads(move || drop(engine)));
            logbridge::unregister(self.shared.id);
        }
    }
}

/// Called by `rafka.aio`'s `atexit` hook, after it closed the producers still open.
#[pyfunction]
pub(crate) fn _aio_exiting() {
    EXITING.store(true, Ordering::SeqCst);
}
