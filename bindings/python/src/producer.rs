//! `rafka.Producer`: confluent-kafka's Producer on the engine. Arguments are parsed in
//! `record.rs`, reports come back through `delivery.rs`.
//!
//! Threads: delivery reports run on whichever Python thread calls `poll`/`flush`
//! (`DeliveryMode::Poll`). That thread releases the GIL around the engine's blocking wait and
//! runs the queued callbacks once it holds the GIL again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyBufferError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyDict, PyList, PyTuple};
use rafka_core::{Config, DeliveryMode, LocalCode, PurgeFlags, PurgeTarget, TrySend};

use crate::buffers;
use crate::delivery::{deliver, deliver_recovered, lock, release_withheld, Shared, DEFAULT_CB};
use crate::errors::{kafka_error, to_py_err};
use crate::gil_cell::GilCell;
use crate::record::{check_callback, int_arg, parse_headers, parse_item, topic_str, Parsed};
use crate::{logbridge, oauth, transaction};

/// Python classes of `rafka.admin`, imported once.
static ADMIN: GILOnceCell<Py<PyModule>> = GILOnceCell::new();

/// `rafka.Producer(conf)`: confluent-kafka's Producer.
///
/// Frozen (no borrow flag to check on every call): the engine sits in a `GilCell`, which `close`
/// empties.
#[pyclass(module = "rafka._rafka", subclass, frozen)]
pub(crate) struct Producer {
    /// `None` once closed. Calls that release the GIL or run Python code hold an `Arc` of it, so
    /// a `close` meanwhile only drops the last reference when they are done.
    engine: GilCell<Option<Arc<rafka_core::Producer>>>,
    /// The engine's id, for its log lines (see `logbridge`).
    id: u64,
    /// Cleared by the garbage collector (`__clear__`): its remaining reports are not served.
    collected: AtomicBool,
    shared: Arc<Shared>,
    /// The Python objects it holds, which the garbage collector sees (`__traverse__`) and can
    /// drop (`__clear__`): a producer whose `on_delivery` is a bound method of the object that
    /// holds the producer is a reference cycle, collected like confluent-kafka's.
    refs: GilCell<PyRefs>,
    /// When the logger's level was last read (ms since `created`), see `refresh_log_level`.
    level_read_ms: AtomicU64,
    created: Instant,
    /// `oauth_cb` from the configuration, refreshed from poll()/flush().
    oauth: Option<oauth::OAuthCallback>,
}

/// confluent-kafka's `ThrottleEvent`: what `throttle_cb` gets.
#[pyclass(module = "rafka._rafka", frozen, get_all)]
pub(crate) struct ThrottleEvent {
    /// The broker's name, `host:port/id`.
    broker_name: String,
    broker_id: i32,
    /// Seconds (confluent-kafka's unit), from the broker's throttle time in ms.
    throttle_time: f64,
}

#[pymethods]
impl ThrottleEvent {
    fn __repr__(&self) -> String {
        format!("{}/{} throttled for {} ms", self.broker_name, self.broker_id, (self.throttle_time * 1000.0).round())
    }
}

#[derive(Default)]
struct PyRefs {
    /// `on_delivery` from the configuration: for records produced without a callback.
    default_cb: Option<PyObject>,
    /// Where the engine's log lines go (see `logbridge`).
    logger: Option<Py<PyAny>>,
    /// confluent-kafka's `stats_cb(json_str)`, called from poll()/flush().
    stats_cb: Option<PyObject>,
    /// confluent-kafka's `throttle_cb(ThrottleEvent)`, called from poll()/flush().
    throttle_cb: Option<PyObject>,
    /// confluent-kafka's `error_cb(KafkaError)`, called from poll()/flush().
    error_cb: Option<PyObject>,
    /// rafka's `spool_recovered_cb(err, msg)`: records an earlier producer left in `spool.dir`,
    /// served from poll()/flush() with the delivery reports.
    spool_recovered_cb: Option<PyObject>,
    /// rafka's `partitioner` callable `(topic, key, partition_count) -> int`, called by
    /// produce() on the calling thread (see `place`).
    partitioner: Option<PyObject>,
}

fn closed_error() -> PyErr {
    PyRuntimeError::new_err("Producer has been closed")
}

/// `close()` ran while produce() parsed its arguments (`produce` turns it into `closed_error`).
fn closed_engine_error() -> rafka_core::Error {
    rafka_core::Error::local(LocalCode::State, "the producer is closed; produce() is no longer possible")
}

impl Producer {
    /// The engine, for a call that may release the GIL or run Python code.
    fn engine(&self, py: Python<'_>) -> PyResult<Arc<rafka_core::Producer>> {
        self.engine.get(py).clone().ok_or_else(closed_error)
    }

    /// Runs the callbacks of queued reports on this thread (see `Shared::serve`).
    fn serve(&self, py: Python<'_>) -> PyResult<()> {
        self.shared.serve(py, || {
            let refs = self.refs.get(py);
            (refs.default_cb.as_ref().map(|c| c.clone_ref(py)), refs.spool_recovered_cb.as_ref().map(|c| c.clone_ref(py)))
        })?;
        self.serve_stats(py)
    }

    /// Hands queued client-wide errors to `error_cb`, throttle reports to `throttle_cb` and
    /// statistics documents to `stats_cb`; the first exception one raises stops it and is
    /// returned, what is after it stays queued.
    fn serve_stats(&self, py: Python<'_>) -> PyResult<()> {
        loop {
            let Some(e) = lock(&self.shared.errors).pop_front() else { break };
            let Some(cb) = self.refs.get(py).error_cb.as_ref().map(|c| c.clone_ref(py)) else { break };
            let err = Py::new(py, kafka_error(&e))?;
            cb.call1(py, (err,))?;
        }
        loop {
            let Some((name, id, ms)) = lock(&self.shared.throttles).pop_front() else { break };
            let Some(cb) = self.refs.get(py).throttle_cb.as_ref().map(|c| c.clone_ref(py)) else { break };
            let event = Py::new(py, ThrottleEvent { broker_name: name, broker_id: id, throttle_time: ms as f64 / 1000.0 })?;
            cb.call1(py, (event,))?;
        }
        loop {
            let Some(json) = lock(&self.shared.stats).pop_front() else { return Ok(()) };
            // Our own reference: the callback may end in the collector clearing `refs`.
            let Some(cb) = self.refs.get(py).stats_cb.as_ref().map(|c| c.clone_ref(py)) else { return Ok(()) };
            cb.call1(py, (json,))?;
        }
    }

    /// Serves every queued report; returns the first exception.
    fn serve_all(&self, py: Python<'_>) -> PyResult<()> {
        let mut first = None;
        while let Err(e) = self.serve(py) {
            first.get_or_insert(e);
        }
        first.map_or(Ok(()), Err)
    }

    fn drain_logs(&self, py: Python<'_>) {
        if !logbridge::pending() {
            return;
        }
        if let Some(logger) = self.logger(py) {
            logbridge::drain(py, &logger, self.id);
        }
    }

    fn logger(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.refs.get(py).logger.as_ref().map(|l| l.clone_ref(py))
    }

    /// Follows changes of the logger's level, at most once a second; not once closed (`close`
    /// unregistered the engine).
    fn refresh_log_level(&self, py: Python<'_>) {
        let now = self.created.elapsed().as_millis() as u64;
        if now.saturating_sub(self.level_read_ms.load(Ordering::Relaxed)) >= 1000 && self.engine.get(py).is_some() {
            self.level_read_ms.store(now, Ordering::Relaxed);
            if let Some(logger) = self.logger(py) {
                let _ = logbridge::register(logger.bind(py), self.id);
                // Reading the level ran Python code: a close() on another thread may have
                // unregistered this producer meanwhile.
                if self.engine.get(py).is_none() {
                    logbridge::unregister(self.id);
                }
            }
        }
    }

    /// Hands one record to the engine without blocking, with the GIL held and every buffer
    /// borrowed: the engine neither waits for memory (`BufferError`) nor for the topic's metadata
    /// (the record is queued until it arrives, as librdkafka does).
    fn enqueue(&self, py: Python<'_>, topic: &str, parsed: &mut Parsed<'_>) -> rafka_core::Result<()> {
        // The callback travels with the record as its opaque; `deliver` takes it back.
        let opaque = match parsed.callback.take() {
            Some(cb) => Box::into_raw(Box::new(cb)) as usize,
            None if self.refs.get(py).default_cb.is_some() => DEFAULT_CB,
            None => 0,
        };
        // Borrowed, not cloned: nothing below releases the GIL or runs Python code before the
        // send returns, so `close` cannot run meanwhile.
        let tried = match self.engine.get(py) {
            Some(engine) => engine.try_send_with_opaque(&parsed.record(topic), opaque),
            None => Err(closed_engine_error()),
        };
        let r = match tried {
            Ok(TrySend::Queued) => Ok(()),
            // Built with `queue_until_metadata`: a topic not known yet queues the record.
            Ok(TrySend::WouldWait) => Err(rafka_core::Error::local(LocalCode::Internal, "the engine asked to wait for metadata, which a queueing producer never does")),
            Err(e) => Err(e),
        };
        if r.is_err() && opaque > DEFAULT_CB {
            // SAFETY: not accepted, so the engine will not report it: the box is still ours.
            drop(unsafe { Box::from_raw(opaque as *mut PyObject) });
        }
        r
    }

    /// With a `partitioner` callable, sets the partition of a record produced without one: the
    /// callable runs here, on the producing thread, never on the engine's I/O thread (which does
    /// not wait for the GIL). So produce() needs the topic's partition count first: when its
    /// metadata has not arrived, it waits for it (GIL released, up to `max.block.ms`), as the
    /// Java producer's send() does, where without a callable it would queue the record at once.
    fn place(&self, py: Python<'_>, topic: &str, parsed: &mut Parsed<'_>) -> PyResult<()> {
        let Some(partitioner) = self.refs.get(py).partitioner.as_ref().map(|p| p.clone_ref(py)) else {
            return Ok(());
        };
        let engine = self.engine(py)?;
        let count = match engine.known_partition_count(topic) {
            Some(n) => n,
            None => py.allow_threads(|| engine.partition_count(topic)).map_err(|e| send_error(&e))?,
        };
        let key = parsed.key.slice().map(|k| pyo3::types::PyBytes::new(py, k));
        let chosen = partitioner.call1(py, (topic, key, count))?;
        let p: i64 = chosen.extract(py).map_err(|_| {
            let type_name = chosen.bind(py).get_type().name().map(|n| n.to_string()).unwrap_or_default();
            PyTypeError::new_err(format!("the partitioner must return a partition number (int), not {type_name}"))
        })?;
        if !(0..i64::from(count)).contains(&p) {
            let msg = format!("the partitioner chose partition {p} of topic {topic}, which has partitions 0 to {} (per the last metadata)", count.saturating_sub(1));
            return Err(to_py_err(&rafka_core::Error::local(LocalCode::UnknownPartition, msg)));
        }
        parsed.partition = p as i32;
        Ok(())
    }
}

/// `rafka.admin.ClusterMetadata` (confluent-kafka's shape) of the engine's metadata answer.
pub(crate) fn cluster_metadata(py: Python<'_>, md: &rafka_core::ClusterMetadata) -> PyResult<PyObject> {
    let admin = ADMIN.get_or_try_init(py, || py.import("rafka.admin").map(Bound::unbind))?.bind(py);
    let err_obj = |e: &Option<rafka_core::Error>| -> PyResult<PyObject> {
        Ok(match e {
            Some(e) => Py::new(py, kafka_error(e))?.into_any(),
            None => py.None(),
        })
    };
    let brokers = PyDict::new(py);
    for b in &md.brokers {
        brokers.set_item(b.id, admin.getattr("BrokerMetadata")?.call1((b.id, &b.host, b.port))?)?;
    }
    let topics = PyDict::new(py);
    for t in &md.topics {
        let parts = PyDict::new(py);
        for p in &t.partitions {
            let pm = admin.getattr("PartitionMetadata")?.call1((p.id, p.leader, p.replicas.clone(), p.isrs.clone(), err_obj(&p.error)?))?;
            parts.set_item(p.id, pm)?;
        }
        topics.set_item(&t.name, admin.getattr("TopicMetadata")?.call1((&t.name, parts, err_obj(&t.error)?))?)?;
    }
    let cm = admin
        .getattr("ClusterMetadata")?
        .call1((md.cluster_id.clone(), md.controller_id, brokers, topics, md.orig_broker_id, md.orig_broker_name.clone()))?;
    Ok(cm.unbind())
}

/// Closes the engine of a producer the garbage collector found unreachable, on a thread of its
/// own: it may wait up to delivery.timeout.ms for records in flight, which the collector (run by
/// whichever thread allocated) must not.
pub(crate) fn close_collected(engine: Arc<rafka_core::Producer>, id: u64) {
    let dropped = std::thread::Builder::new().name("rafka-collected".into()).spawn(move || {
        drop(engine);
        logbridge::unregister(id);
    });
    if let Err(e) = dropped {
        log::error!("cannot start a thread to close a collected producer ({e}); it stays open");
    }
}

/// The longest `poll()` and `flush()` wait without the GIL before running the program's signal
/// handlers (confluent-kafka's "wakeable" waits take 200 ms).
const SIGNAL_SLICE: Duration = Duration::from_millis(100);

/// A Python timeout in seconds. None, a negative number or NaN waits for ever, which the engine
/// takes as `Duration::MAX` (so does a number too large for a `Duration`).
pub(crate) fn timeout_of(t: Option<f64>) -> Duration {
    match t {
        Some(t) if t >= 0.0 => Duration::try_from_secs_f64(t).unwrap_or(Duration::MAX),
        _ => Duration::MAX,
    }
}

fn send_error(e: &rafka_core::Error) -> PyErr {
    if e.is_local(LocalCode::QueueFull) {
        PyBufferError::new_err(format!("Local: Queue full: {}", e.message()))
    } else {
        to_py_err(e)
    }
}

/// A Python configuration: the engine's string settings and the Python objects beside them.
pub(crate) struct Conf {
    pub(crate) config: Config,
    pub(crate) logger: Option<Py<PyAny>>,
    pub(crate) default_cb: Option<PyObject>,
    pub(crate) stats_cb: Option<PyObject>,
    pub(crate) throttle_cb: Option<PyObject>,
    pub(crate) error_cb: Option<PyObject>,
    pub(crate) spool_recovered_cb: Option<PyObject>,
    pub(crate) oauth_cb: Option<PyObject>,
    pub(crate) oauth_config: String,
    pub(crate) partitioner: Option<PyObject>,
}

/// Reads confluent-kafka's configuration dict (and keyword arguments): callables and the logger
/// are kept aside, every other key goes to the engine's `Config`.
pub(crate) fn parse_conf(py: Python<'_>, conf: Option<&Bound<'_, PyDict>>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Conf> {
    let mut config = Config::new();
    let mut logger: Option<Py<PyAny>> = None;
    let mut default_cb: Option<PyObject> = None;
    let mut stats_cb: Option<PyObject> = None;
    let mut throttle_cb: Option<PyObject> = None;
    let mut error_cb: Option<PyObject> = None;
    let mut spool_recovered_cb: Option<PyObject> = None;
    let (mut oauth_cb, mut oauth_config): (Option<PyObject>, String) = (None, String::new());
    let mut partitioner: Option<PyObject> = None;
    for d in [conf, kwargs].into_iter().flatten() {
        for (k, v) in d.iter() {
            let k: String = k.extract().map_err(|_| PyTypeError::new_err("conf keys must be str"))?;
            match k.as_str() {
                "logger" => {
                    logger = Some(v.unbind());
                    continue;
                }
                "on_delivery" | "delivery.report.cb" => {
                    default_cb = Some(v.unbind());
                    check_callback(&default_cb, py, "on_delivery")?;
                    continue;
                }
                "stats_cb" => {
                    stats_cb = Some(v.unbind());
                    check_callback(&stats_cb, py, "stats_cb")?;
                    continue;
                }
                "error_cb" => {
                    error_cb = Some(v.unbind());
                    check_callback(&error_cb, py, "error_cb")?;
                    continue;
                }
                "spool_recovered_cb" => {
                    spool_recovered_cb = Some(v.unbind());
                    check_callback(&spool_recovered_cb, py, "spool_recovered_cb")?;
                    continue;
                }
                "throttle_cb" => {
                    throttle_cb = Some(v.unbind());
                    check_callback(&throttle_cb, py, "throttle_cb")?;
                    continue;
                }
                "oauth_cb" => {
                    oauth_cb = Some(v.unbind());
                    check_callback(&oauth_cb, py, "oauth_cb")?;
                    continue;
                }
                "partitioner" if v.is_callable() => {
                    partitioner = Some(v.unbind());
                    continue;
                }
                "sasl.oauthbearer.config" => {
                    // The callback's argument (librdkafka passes it to its token callback too).
                    oauth_config = v.str()?.to_string();
                    continue;
                }
                _ => {}
            }
            let v = if let Ok(b) = v.extract::<bool>() { b.to_string() } else { v.str()?.to_string() };
            config.set(&k, &v).map_err(|e| to_py_err(&e.into()))?;
        }
    }
    Ok(Conf { config, logger, default_cb, stats_cb, throttle_cb, error_cb, spool_recovered_cb, oauth_cb, oauth_config, partitioner })
}

#[pymethods]
impl Producer {
    #[new]
    #[pyo3(signature = (conf=None, **kwargs))]
    fn new(py: Python<'_>, conf: Option<&Bound<'_, PyDict>>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let Conf { config, logger, default_cb, stats_cb, throttle_cb, error_cb, spool_recovered_cb, oauth_cb, oauth_config, partitioner } = parse_conf(py, conf, kwargs)?;
        let logger = match logger {
            Some(l) => l,
            None => py.import("logging")?.call_method1("getLogger", ("rafka",))?.unbind(),
        };
        let shared = Arc::new(Shared::default());
        let s2 = shared.clone();
        if oauth_cb.is_none() && !oauth_config.is_empty() {
            return Err(to_py_err(&rafka_core::Error::local(LocalCode::InvalidConfig, "sasl.oauthbearer.config is the argument of oauth_cb; without oauth_cb it has no use (librdkafka's unsecured-JWT builder is not supported)")));
        }
        let oauth = oauth_cb.map(|cb| oauth::OAuthCallback::new(py, cb, oauth_config));
        // confluent-kafka's semantics: produce() to a topic not known yet queues the record.
        let mut builder = rafka_core::Producer::builder(config)
            .delivery_mode(DeliveryMode::Poll)
            .queue_until_metadata(true)
            .owned_delivery_handler(move |d, opaque| deliver(&s2, d, opaque))
            .on_report_suppressed(release_withheld);
        if let Some(o) = &oauth {
            builder = builder.oauthbearer_token_provider(o.provider());
        }
        if spool_recovered_cb.is_some() {
            let s6 = shared.clone();
            builder = builder.spool_recovered_handler(move |d| deliver_recovered(&s6, d));
        }
        if error_cb.is_some() {
            let s5 = shared.clone();
            builder = builder.error_handler(move |e| lock(&s5.errors).push_back(e.clone()));
        }
        if throttle_cb.is_some() {
            let s4 = shared.clone();
            builder = builder.throttle_handler(move |name, id, ms| lock(&s4.throttles).push_back((name.to_string(), id, ms)));
        }
        if stats_cb.is_some() {
            let s3 = shared.clone();
            builder = builder.stats_handler(move |json| lock(&s3.stats).push_back(json.to_string()));
        }
        // Registered before the engine's threads start: the first connection failure is logged
        // at once, and a record of an unregistered producer is dropped.
        let id = builder.id();
        logbridge::register(logger.bind(py), id)?;
        let inner = builder.build().map_err(|e| {
            logbridge::unregister(id);
            to_py_err(&e)
        })?;
        Ok(Producer {
            id: inner.id(),
            engine: GilCell::new(Some(Arc::new(inner))),
            collected: AtomicBool::new(false),
            shared,
            refs: GilCell::new(PyRefs { default_cb, logger: Some(logger), stats_cb, throttle_cb, error_cb, spool_recovered_cb, partitioner }),
            level_read_ms: AtomicU64::new(0),
            created: Instant::now(),
            oauth,
        })
    }

    /// Queue one record; raises BufferError when the buffer is full, as confluent-kafka does.
    /// `timeout` (seconds, rafka's own): the record's delivery deadline, for a record worth
    /// sending only until then; still unsent then, it is reported with `_MSG_TIMED_OUT`.
    #[pyo3(signature = (topic, value=None, key=None, partition=None, on_delivery=None, callback=None, timestamp=None, headers=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn produce<'py>(
        &self,
        py: Python<'py>,
        topic: &Bound<'py, PyAny>,
        value: Option<&Bound<'py, PyAny>>,
        key: Option<&Bound<'py, PyAny>>,
        partition: Option<&Bound<'py, PyAny>>,
        on_delivery: Option<PyObject>,
        callback: Option<PyObject>,
        timestamp: Option<&Bound<'py, PyAny>>,
        headers: Option<&Bound<'py, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        if self.engine.get(py).is_none() {
            return Err(closed_error());
        }
        let deadline = match timeout {
            None => None,
            Some(t) if t.is_finite() && t >= 0.0 => Some(Instant::now() + Duration::from_secs_f64(t.min(LONGEST_DEADLINE_S))),
            Some(t) => return Err(PyValueError::new_err(format!("timeout must be a number of seconds >= 0, not {t}"))),
        };
        let topic = topic_str(topic)?;
        let callback = on_delivery.or(callback);
        check_callback(&callback, py, "on_delivery")?;
        let mut keep = Vec::new();
        let mut parsed = Parsed {
            partition: int_arg(partition, -1, &|| "partition".into())?,
            timestamp: int_arg(timestamp, 0, &|| "timestamp".into())?,
            value: buffers::extract(value, &|| "value".into())?,
            key: buffers::extract(key, &|| "key".into())?,
            headers: parse_headers(headers, &mut keep, &|| "headers".into())?,
            callback,
            deadline,
        };
        if parsed.partition < 0 {
            self.place(py, topic, &mut parsed)?;
        }
        let r = self.enqueue(py, topic, &mut parsed);
        self.drain_logs(py);
        r.map_err(|e| if self.engine.get(py).is_none() { closed_error() } else { send_error(&e) })
    }

    /// Queue many records in one call: `messages` is a list whose items are dicts as
    /// confluent-kafka's `produce_batch` takes (`value`, `key`, `partition`, `timestamp`,
    /// `headers`, `callback`), `(key, value)` tuples, or bare values. Records are queued in order
    /// up to the first that cannot be (buffer full, ...): returns how many were, so
    /// `messages[:n]` are queued. Dicts not queued get the error under `'_error'`.
    #[pyo3(signature = (topic, messages, partition=-1, callback=None, on_delivery=None))]
    fn produce_batch<'py>(
        &self,
        py: Python<'py>,
        topic: &Bound<'py, PyAny>,
        messages: &Bound<'py, PyAny>,
        partition: i32,
        callback: Option<PyObject>,
        on_delivery: Option<PyObject>,
    ) -> PyResult<usize> {
        if self.engine.get(py).is_none() {
            return Err(closed_error());
        }
        let topic = topic_str(topic)?;
        let default = callback.or(on_delivery);
        check_callback(&default, py, "on_delivery")?;
        let items: Vec<Bound<'py, PyAny>> = if let Ok(l) = messages.downcast::<PyList>() {
            l.iter().collect()
        } else if let Ok(t) = messages.downcast::<PyTuple>() {
            t.iter().collect()
        } else {
            return Err(PyTypeError::new_err("messages must be a list"));
        };
        // Every item is checked before any is queued, as confluent-kafka does.
        let mut keep: Vec<Bound<'py, PyAny>> = Vec::new();
        let mut parsed: Vec<Parsed<'py>> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let mut p = parse_item(py, item, i, partition, default.as_ref(), &mut keep)?;
            if p.partition < 0 {
                self.place(py, topic, &mut p)?;
            }
            parsed.push(p);
        }
        let mut queued = 0;
        let mut failure = None;
        for p in parsed.iter_mut() {
            match self.enqueue(py, topic, p) {
                Ok(()) => queued += 1,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failure {
            let err = Py::new(py, kafka_error(&e))?;
            for item in &items[queued..] {
                if let Ok(d) = item.downcast::<PyDict>() {
                    d.set_item("_error", err.clone_ref(py))?;
                }
            }
        }
        self.drain_logs(py);
        Ok(queued)
    }

    /// Serve delivery reports, waiting up to `timeout` seconds; returns how many were served. An
    /// exception from a signal handler (KeyboardInterrupt on Ctrl+C) ends a longer wait.
    #[pyo3(signature = (timeout=None))]
    fn poll(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<usize> {
        let engine = self.engine(py)?;
        let t = timeout_of(timeout);
        if let Some(o) = &self.oauth {
            o.maybe_refresh(py);
        }
        if t <= SIGNAL_SLICE {
            let n = py.allow_threads(|| engine.poll(t));
            self.refresh_log_level(py);
            self.drain_logs(py);
            self.serve(py)?;
            return Ok(n);
        }
        // A long wait in slices, as confluent-kafka's: between them the program's signal handlers
        // run, so Ctrl+C (KeyboardInterrupt) ends it.
        let deadline = Instant::now().checked_add(t);
        loop {
            let step = deadline.map_or(SIGNAL_SLICE, |d| d.saturating_duration_since(Instant::now()).min(SIGNAL_SLICE));
            let n = py.allow_threads(|| engine.poll(step));
            // First, before other Python code (a logger's) could run the handler and lose its
            // exception; reports served meanwhile stay queued for the next call.
            py.check_signals()?;
            self.refresh_log_level(py);
            self.drain_logs(py);
            self.serve(py)?;
            if n > 0 || deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(n);
            }
            if let Some(o) = &self.oauth {
                o.maybe_refresh(py);
            }
        }
    }

    /// Wait for every queued record to be reported; returns how many are still queued.
    #[pyo3(signature = (timeout=None))]
    fn flush(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<u64> {
        let engine = self.engine(py)?;
        let deadline = Instant::now().checked_add(timeout_of(timeout));
        loop {
            // In slices, serving callbacks in between: reports do not pile up during a long flush,
            // and the program's signal handlers run (Ctrl+C ends it, as in confluent-kafka).
            let step = deadline.map_or(SIGNAL_SLICE, |d| d.saturating_duration_since(Instant::now()).min(SIGNAL_SLICE));
            if let Some(o) = &self.oauth {
                o.maybe_refresh(py);
            }
            let done = py.allow_threads(|| engine.flush(step)).is_ok();
            py.check_signals()?; // first, as in poll()
            self.drain_logs(py);
            self.serve(py)?;
            if done || deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
        }
        self.refresh_log_level(py);
        Ok(engine.in_flight_count())
    }

    /// confluent-kafka's `purge()`: `in_queue` fails the records not yet sent with
    /// `_PURGE_QUEUE`, `in_flight` those sent and not yet answered with `_PURGE_INFLIGHT`
    /// (possibly written); `blocking=False` returns without waiting for the I/O thread. rafka's
    /// own `topic` (and `partition`) limit it to one topic (or partition). The reports come
    /// through poll()/flush() as usual.
    #[pyo3(signature = (in_queue=true, in_flight=true, blocking=true, *, topic=None, partition=None))]
    fn purge(&self, py: Python<'_>, in_queue: bool, in_flight: bool, blocking: bool, topic: Option<String>, partition: Option<i32>) -> PyResult<()> {
        let engine = self.engine(py)?;
        let mut flags = PurgeFlags::empty();
        if in_queue {
            flags = flags | PurgeFlags::QUEUE;
        }
        if in_flight {
            flags = flags | PurgeFlags::INFLIGHT;
        }
        if !blocking {
            flags = flags | PurgeFlags::NON_BLOCKING;
        }
        let target = match (&topic, partition) {
            (None, None) => PurgeTarget::All,
            (Some(t), None) => PurgeTarget::Topic(t),
            (Some(t), Some(p)) if p >= 0 => PurgeTarget::Partition(t, p),
            (Some(_), Some(p)) => return Err(PyValueError::new_err(format!("partition must be >= 0, not {p}"))),
            (None, Some(_)) => return Err(PyValueError::new_err("partition needs topic")),
        };
        py.allow_threads(|| engine.purge_with(flags, target));
        Ok(())
    }

    /// confluent-kafka's `set_sasl_credentials(username, password)`: the SASL PLAIN or SCRAM
    /// credentials for every connection opened from now on (open ones keep theirs);
    /// `KafkaException` (`_INVALID_ARG`) when the producer does not use SASL PLAIN or SCRAM.
    fn set_sasl_credentials(&self, py: Python<'_>, username: &str, password: &str) -> PyResult<()> {
        self.engine(py)?.set_sasl_credentials(username, password).map_err(|e| to_py_err(&e))
    }

    /// Registers `transactional.id` with its coordinator (fencing older producers with the
    /// same id); once, before the first transaction. Waits up to `timeout` seconds (None: for
    /// ever); a timeout is retriable: call again to keep waiting.
    #[pyo3(signature = (timeout=None))]
    fn init_transactions(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let engine = self.engine(py)?;
        let t = timeout_of(timeout);
        let r = py.allow_threads(|| engine.init_transactions(t));
        self.drain_logs(py);
        r.map_err(|e| to_py_err(&e))
    }

    /// Starts a transaction (local, sends nothing).
    fn begin_transaction(&self, py: Python<'_>) -> PyResult<()> {
        self.engine(py)?.begin_transaction().map_err(|e| to_py_err(&e))
    }

    /// Adds a consumer group's offsets to the transaction: committed with it, only if it
    /// commits. `positions`: TopicPartitions with the next offset to consume; `group_metadata`:
    /// a `ConsumerGroupMetadata` or what confluent-kafka's `consumer_group_metadata()` returns.
    #[pyo3(signature = (positions, group_metadata, timeout=None))]
    fn send_offsets_to_transaction(&self, py: Python<'_>, positions: &Bound<'_, PyAny>, group_metadata: &Bound<'_, PyAny>, timeout: Option<f64>) -> PyResult<()> {
        let offsets = transaction::offsets_of(positions)?;
        let group = transaction::group_of(group_metadata)?;
        let engine = self.engine(py)?;
        let t = timeout_of(timeout);
        let r = py.allow_threads(|| engine.send_offsets_to_transaction(&offsets, &group, t));
        self.drain_logs(py);
        r.map_err(|e| to_py_err(&e))
    }

    /// Sends the transaction's records, then commits it; serves delivery reports as
    /// `flush()` does. A failed transaction raises with `txn_requires_abort()` True.
    #[pyo3(signature = (timeout=None))]
    fn commit_transaction(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let engine = self.engine(py)?;
        let t = timeout_of(timeout);
        let r = py.allow_threads(|| {
            let r = engine.commit_transaction(t);
            engine.poll(Duration::ZERO); // the reports of the transaction's records, to serve below
            r
        });
        self.drain_logs(py);
        self.serve_all(py)?;
        r.map_err(|e| to_py_err(&e))
    }

    /// Aborts the transaction: unsent records fail (`_PURGE_QUEUE`), read_committed
    /// consumers never see what was written. Serves delivery reports as `flush()` does.
    #[pyo3(signature = (timeout=None))]
    fn abort_transaction(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let engine = self.engine(py)?;
        let t = timeout_of(timeout);
        let r = py.allow_threads(|| {
            let r = engine.abort_transaction(t);
            engine.poll(Duration::ZERO); // the reports of the transaction's records, to serve below
            r
        });
        self.drain_logs(py);
        self.serve_all(py)?;
        r.map_err(|e| to_py_err(&e))
    }

    /// confluent-kafka's `list_topics`: the cluster's metadata (one topic's, or every topic's),
    /// as `rafka.admin.ClusterMetadata`. Raises KafkaException (`_TIMED_OUT`) after `timeout` s.
    #[pyo3(signature = (topic=None, timeout=-1.0))]
    fn list_topics(&self, py: Python<'_>, topic: Option<String>, timeout: f64) -> PyResult<PyObject> {
        let engine = self.engine(py)?;
        let t = timeout_of(Some(timeout));
        let names: Option<Vec<&str>> = topic.as_deref().map(|t| vec![t]);
        let r = py.allow_threads(|| engine.metadata(names.as_deref(), t));
        self.drain_logs(py);
        let md = r.map_err(|e| to_py_err(&e))?;
        cluster_metadata(py, &md)
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.engine.get(py).as_ref().ok_or_else(closed_error)?.in_flight_count() as usize)
    }

    /// Flush (up to `timeout` seconds) and close the engine; later calls raise RuntimeError.
    #[pyo3(signature = (timeout=None))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let Some(engine) = self.engine.take(py) else { return Ok(()) };
        let t = timeout_of(timeout);
        let r = py.allow_threads(|| engine.close(t));
        self.drain_logs(py);
        logbridge::unregister(self.id);
        let served = self.serve_all(py);
        // The last reference unless a call on another thread still holds one: its threads and
        // sockets go now, not when the Python object is garbage.
        py.allow_threads(move || drop(engine));
        served?;
        r.map_err(|e| to_py_err(&e))
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        // SAFETY: the collector calls this with the GIL held.
        let refs = unsafe { self.refs.get_unchecked() };
        if let Some(cb) = &refs.default_cb {
            visit.call(cb)?;
        }
        if let Some(l) = &refs.logger {
            visit.call(l)?;
        }
        if let Some(cb) = &refs.stats_cb {
            visit.call(cb)?;
        }
        if let Some(cb) = &refs.partitioner {
            visit.call(cb)?;
        }
        if let Some(cb) = &refs.throttle_cb {
            visit.call(cb)?;
        }
        if let Some(cb) = &refs.error_cb {
            visit.call(cb)?;
        }
        if let Some(cb) = &refs.spool_recovered_cb {
            visit.call(cb)?;
        }
        if let Some(o) = &self.oauth {
            o.traverse(&visit)?;
        }
        Ok(())
    }

    fn __clear__(&self) {
        Python::with_gil(|py| {
            self.collected.store(true, Ordering::SeqCst);
            let refs = self.refs.take(py);
            if let Some(o) = &self.oauth {
                o.clear(py);
            }
            drop(refs);
            // Unreachable, so no one will poll it: its engine is closed on a thread of its own,
            // which may wait up to delivery.timeout.ms for records in flight; the collector
            // (run by whichever thread allocated) does not wait for that.
            if let Some(engine) = self.engine.take(py) {
                close_collected(engine, self.id);
            }
        });
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.close(py, None)?;
        Ok(false)
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        let engine = self.engine.0.get_mut().take();
        let open = engine.is_some();
        Python::with_gil(|py| {
            // The engine's own drop closes it (if `close` did not), waiting for reports: let
            // other threads run.
            if let Some(engine) = engine {
                py.allow_threads(move || drop(engine));
            }
            // Also after close(): reports queued after its own serve_all (a callback raised, or
            // a send raced it) still get their callbacks. Not for a collected producer: its
            // callbacks belong to the garbage being freed.
            if !self.collected.load(Ordering::SeqCst) {
                if let Err(e) = self.serve_all(py) {
                    e.write_unraisable(py, None);
                }
            }
        });
        if open {
            logbridge::unregister(self.id);
        }
    }
}

/// The longest `produce(timeout=)` taken as such (a century); longer is capped.
const LONGEST_DEADLINE_S: f64 = 100.0 * 365.0 * 86400.0;
