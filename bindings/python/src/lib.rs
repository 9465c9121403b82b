//! Python binding of the rafka producer engine, with confluent-kafka's `Producer` API. One
//! module per piece: `producer.rs` (`Producer` and its methods), `aio.rs` (the engine side of
//! `rafka.aio.AIOProducer`), `record.rs` (arguments to
//! records), `delivery.rs` (reports from the engine to Python callbacks), `message.rs`
//! (`Message`), `gil_cell.rs` (`GilCell`), `errors.rs` (`KafkaError`, `KafkaException`),
//! `transaction.rs` (`TopicPartition`, `ConsumerGroupMetadata` and the arguments of the
//! transactional methods), `functions.rs` (the module-level functions), `buffers.rs`, `logbridge.rs` and `oauth.rs`.
// pyo3 0.22's #[pymethods] expansion converts PyErr into PyErr.
#![allow(clippy::useless_conversion)]

/// mimalloc unless `RAFKA_ALLOCATOR=system`: see rafka-core's `alloc.rs`.
#[global_allocator]
static ALLOCATOR: rafka_core::alloc::RafkaAlloc = rafka_core::alloc::RafkaAlloc;

mod aio;
mod buffers;
mod delivery;
mod errors;
mod functions;
mod gil_cell;
mod logbridge;
mod message;
mod oauth;
mod producer;
mod rdkafka_codes;
mod record;
mod transaction;

use pyo3::prelude::*;

use errors::{KafkaError, KafkaException};
use message::Message;
use producer::{Producer, ThrottleEvent};
use transaction::{ConsumerGroupMetadata, TopicPartition};

#[pymodule(gil_used = true)]
fn _rafka(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // `Message` and `GilCell` rely on the GIL; a free-threaded CPython started with PYTHON_GIL=0
    // runs without it even for modules that declare they need it.
    let sys = m.py().import("sys")?;
    if sys.hasattr("_is_gil_enabled")? && !sys.call_method0("_is_gil_enabled")?.extract::<bool>()? {
        return Err(pyo3::exceptions::PyImportError::new_err("rafka needs the GIL: run this free-threaded Python with PYTHON_GIL=1"));
    }
    m.add_class::<Producer>()?;
    m.add_class::<aio::AioProducer>()?;
    m.add_function(wrap_pyfunction!(aio::_aio_exiting, m)?)?;
    m.add_class::<KafkaError>()?;
    m.add_class::<Message>()?;
    m.add_class::<ThrottleEvent>()?;
    m.add_class::<TopicPartition>()?;
    m.add_class::<ConsumerGroupMetadata>()?;
    m.add("KafkaException", m.py().get_type::<KafkaException>())?;
    m.add_function(wrap_pyfunction!(functions::version, m)?)?;
    m.add_function(wrap_pyfunction!(functions::libversion, m)?)?;
    m.add_function(wrap_pyfunction!(functions::murmur2, m)?)?;
    m.add_function(wrap_pyfunction!(functions::consistent, m)?)?;
    m.add_function(wrap_pyfunction!(functions::fnv1a, m)?)?;
    errors::add_constants(&m.py().get_type::<KafkaError>())?;
    Ok(())
}
