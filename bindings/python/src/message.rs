//! `Message`: confluent-kafka's shape of one delivery report, as callbacks receive it.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use crate::errors::{kafka_error, KafkaError};

/// confluent-kafka's `Message` shape: one delivery report, holding its record. Python objects for its
/// parts are made when asked for (most callbacks look at the error only).
///
/// `serve` reuses one `Message` object for report after report while no one but `serve` holds
/// it (a callback that keeps its message gets it for good): allocating and freeing a Python
/// object per report was a tenth of the produce thread's time.
#[pyclass(module = "rafka._rafka", frozen)]
pub(crate) struct Message {
    pub(crate) data: std::cell::UnsafeCell<MessageData>,
}

// SAFETY: `data` is read only by Message's methods, which run with the GIL held, and written
// only by `serve` (GIL held) when the object's reference count shows it is the only holder, so
// no method call can be running on it at that time. rafka is built for the GIL-enabled CPython
// ABI (abi3), where the GIL serialises all of this.
unsafe impl Sync for Message {}

/// A report as the engine hands it over: the record's own memory, kept while the message is.
pub(crate) type MessageData = rafka_core::OwnedDelivery;

impl Message {
    fn d(&self) -> &MessageData {
        // SAFETY: see the `Sync` impl: writes happen only while no method can run.
        unsafe { &*self.data.get() }
    }
}

/// confluent-kafka's (librdkafka's) timestamp types, the first item of `timestamp()`.
const TIMESTAMP_CREATE_TIME: i32 = 1;
const TIMESTAMP_LOG_APPEND_TIME: i32 = 2;

fn bytes_of(py: Python<'_>, b: Option<&[u8]>) -> PyObject {
    match b {
        Some(b) => PyBytes::new(py, b).into_any().unbind(),
        None => py.None(),
    }
}

#[pymethods]
impl Message {
    fn topic(&self) -> &str {
        &self.d().topic
    }
    fn partition(&self) -> i32 {
        self.d().partition
    }
    fn offset(&self) -> i64 {
        self.d().offset
    }
    /// `(TIMESTAMP_CREATE_TIME, ms)`, or `(TIMESTAMP_LOG_APPEND_TIME, ms)` when the broker set it,
    /// as confluent-kafka returns it.
    fn timestamp(&self) -> (i32, i64) {
        let d = self.d();
        (if d.log_append_time { TIMESTAMP_LOG_APPEND_TIME } else { TIMESTAMP_CREATE_TIME }, d.timestamp)
    }
    fn key(&self, py: Python<'_>) -> Option<PyObject> {
        self.d().record.key().map(|k| bytes_of(py, Some(k)))
    }
    fn value(&self, py: Python<'_>) -> Option<PyObject> {
        self.d().record.value().map(|v| bytes_of(py, Some(v)))
    }
    /// None when the record has no headers, as confluent-kafka returns.
    fn headers(&self, py: Python<'_>) -> PyResult<Option<Py<PyList>>> {
        let headers = self.d().record.headers();
        if headers.is_empty() {
            return Ok(None);
        }
        let items = headers
            .into_iter()
            .map(|(k, v)| PyTuple::new(py, [PyString::new(py, k).into_any().unbind(), bytes_of(py, v)]))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(Some(PyList::new(py, items)?.unbind()))
    }
    fn error(&self, py: Python<'_>) -> PyResult<Option<Py<KafkaError>>> {
        self.d().error.as_ref().map(|e| Py::new(py, kafka_error(e))).transpose()
    }
    /// Seconds from produce() to the report.
    fn latency(&self) -> f64 {
        self.d().latency_us as f64 / 1e6
    }
    fn __len__(&self) -> usize {
        self.d().record.value().map_or(0, |v| v.len())
    }
}
