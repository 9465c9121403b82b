//! confluent-kafka's `KafkaError` (with its code constants) and `KafkaException` carrying one.
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyType;
use rafka_core::protocol::error_codes::KafkaCode;
use rafka_core::{Code, LocalCode};

use crate::rdkafka_codes::LIBRDKAFKA_CODES;

// An error with its KafkaError in args[0], as confluent-kafka raises it.
create_exception!(_rafka, KafkaException, PyException);

/// confluent-kafka's `KafkaError` shape.
#[pyclass(module = "rafka._rafka", frozen)]
#[derive(Clone)]
pub struct KafkaError {
    code: i32,
    name: String,
    message: String,
    retriable: bool,
    fatal: bool,
    txn_requires_abort: bool,
}

#[pymethods]
impl KafkaError {
    #[new]
    #[pyo3(signature = (error, reason=None, fatal=false, retriable=false, txn_requires_abort=false))]
    fn new(error: i32, reason: Option<String>, fatal: bool, retriable: bool, txn_requires_abort: bool) -> Self {
        // A code the engine does not know (`_ALL_BROKERS_DOWN`, which rafka never reports, ...) is
        // named and described as librdkafka does.
        let code = Code::from_i32(error).filter(|c| match c {
            Code::Kafka(k) => error == -1 || k.name() != "UNKNOWN",
            Code::Local(_) => true,
        });
        KafkaError {
            code: error,
            name: librdkafka_name(error).or_else(|| code.map(|c| c.name())).unwrap_or("UNKNOWN").to_string(),
            message: reason.unwrap_or_else(|| match code {
                Some(Code::Local(l)) => l.description().to_string(),
                Some(Code::Kafka(k)) => k.description().to_string(),
                None => librdkafka_name(error).map_or_else(|| "unknown error".to_string(), |n| format!("librdkafka error {n}")),
            }),
            retriable,
            fatal,
            txn_requires_abort,
        }
    }
    fn code(&self) -> i32 {
        self.code
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn str(&self) -> &str {
        &self.message
    }
    fn retriable(&self) -> bool {
        self.retriable
    }
    fn fatal(&self) -> bool {
        self.fatal
    }
    /// The transaction cannot commit: call `abort_transaction()`, then a new one may begin.
    fn txn_requires_abort(&self) -> bool {
        self.txn_requires_abort
    }
    fn __str__(&self) -> String {
        format!("KafkaError{{code={},val={},str=\"{}\"}}", self.name, self.code, self.message)
    }
    fn __repr__(&self) -> String {
        self.__str__()
    }
    /// Equal to another KafkaError with the same code, or to the code itself (as confluent-kafka).
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        if let Ok(e) = other.downcast::<KafkaError>() {
            return e.get().code == self.code;
        }
        other.extract::<i32>().is_ok_and(|c| c == self.code)
    }
    fn __hash__(&self) -> isize {
        self.code as isize
    }
}

pub fn kafka_error(e: &rafka_core::Error) -> KafkaError {
    KafkaError {
        code: e.code().as_i32(),
        // librdkafka's name, as confluent-kafka's name() gives it (UNKNOWN_TOPIC_OR_PART, not
        // Kafka's UNKNOWN_TOPIC_OR_PARTITION); the engine's for codes librdkafka lacks.
        name: librdkafka_name(e.code().as_i32()).unwrap_or(e.name()).to_string(),
        message: e.message().to_string(),
        retriable: e.is_retriable(),
        fatal: e.is_fatal() || e.is_local(LocalCode::Fatal),
        txn_requires_abort: e.txn_requires_abort(),
    }
}

/// `KafkaException(KafkaError)`.
pub fn to_py_err(e: &rafka_core::Error) -> PyErr {
    let err = kafka_error(e);
    Python::with_gil(|py| match Py::new(py, err) {
        Ok(obj) => KafkaException::new_err((obj,)),
        Err(e) => e,
    })
}

/// librdkafka's name for a code rafka itself never reports (`_ALL_BROKERS_DOWN`, ...).
fn librdkafka_name(code: i32) -> Option<&'static str> {
    LIBRDKAFKA_CODES.iter().find(|(_, c)| *c == code).map(|(n, _)| *n)
}

/// The code constants: every Kafka code by Kafka's name, every librdkafka code by librdkafka's
/// name and number (all of confluent-kafka's constants), and rafka's local codes (`_MSG_TIMED_OUT`,
/// ...) with the numbers rafka reports (librdkafka's where librdkafka has the code).
pub fn add_constants(ty: &Bound<'_, PyType>) -> PyResult<()> {
    for k in KafkaCode::all() {
        ty.setattr(k.name(), k.0 as i32)?;
    }
    for (name, code) in LIBRDKAFKA_CODES {
        ty.setattr(*name, *code)?;
    }
    for l in LocalCode::ALL {
        ty.setattr(l.name(), l as i32)?;
    }
    Ok(())
}
