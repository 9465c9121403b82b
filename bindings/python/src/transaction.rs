//! What the transactional methods of `Producer` (in `producer.rs`) take as arguments, in
//! confluent-kafka's shape: `TopicPartition` (the offsets of `send_offsets_to_transaction`) and
//! `ConsumerGroupMetadata`, and the conversion of the objects a caller may pass for them
//! (confluent-kafka's own included) into the engine's types. The engine checks the values.

use std::collections::HashMap;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rafka_core::OffsetAndMetadata;

/// confluent-kafka's `TopicPartition(topic, partition=-1, offset=-1001, metadata=None,
/// leader_epoch=None)`: for `send_offsets_to_transaction`, `offset` is the next offset to
/// consume (the last processed one plus one).
#[pyclass(module = "rafka._rafka", eq, hash, frozen)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct TopicPartition {
    #[pyo3(get)]
    topic: String,
    #[pyo3(get)]
    partition: i32,
    #[pyo3(get)]
    offset: i64,
    #[pyo3(get)]
    metadata: Option<String>,
    #[pyo3(get)]
    leader_epoch: Option<i32>,
}

#[pymethods]
impl TopicPartition {
    #[new]
    #[pyo3(signature = (topic, partition=-1, offset=-1001, metadata=None, leader_epoch=None))]
    fn new(topic: String, partition: i32, offset: i64, metadata: Option<String>, leader_epoch: Option<i32>) -> Self {
        TopicPartition { topic, partition, offset, metadata, leader_epoch }
    }

    /// Always None: rafka reports errors by raising, not per partition.
    #[getter]
    fn error(&self) -> Option<PyObject> {
        None
    }

    fn __repr__(&self) -> String {
        let epoch = self.leader_epoch.map_or("None".to_string(), |e| e.to_string());
        format!("TopicPartition{{topic={},partition={},offset={},leader_epoch={},error=None}}", self.topic, self.partition, self.offset, epoch)
    }
}

/// A consumer group's metadata for `send_offsets_to_transaction`: made by hand, with what the
/// consumer knows of its group (the generation and member id let the group coordinator refuse
/// offsets from a consumer that lost its partitions in a rebalance, KIP-447).
#[pyclass(module = "rafka._rafka", eq, frozen)]
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ConsumerGroupMetadata {
    #[pyo3(get)]
    group_id: String,
    #[pyo3(get)]
    generation_id: i32,
    #[pyo3(get)]
    member_id: String,
    #[pyo3(get)]
    group_instance_id: Option<String>,
}

#[pymethods]
impl ConsumerGroupMetadata {
    #[new]
    #[pyo3(signature = (group_id, generation_id=-1, member_id=String::new(), group_instance_id=None))]
    fn new(group_id: String, generation_id: i32, member_id: String, group_instance_id: Option<String>) -> Self {
        ConsumerGroupMetadata { group_id, generation_id, member_id, group_instance_id }
    }

    fn __repr__(&self) -> String {
        format!(
            "ConsumerGroupMetadata(group_id={:?}, generation_id={}, member_id={:?}, group_instance_id={:?})",
            self.group_id, self.generation_id, self.member_id, self.group_instance_id
        )
    }
}

impl ConsumerGroupMetadata {
    fn engine(&self) -> rafka_core::ConsumerGroupMetadata {
        rafka_core::ConsumerGroupMetadata {
            group_id: self.group_id.clone(),
            generation_id: self.generation_id,
            member_id: self.member_id.clone(),
            group_instance_id: self.group_instance_id.clone(),
        }
    }
}

/// `positions`: a list (any iterable) of objects with `topic`, `partition` and `offset`, and
/// optionally `metadata` and `leader_epoch` (rafka's or confluent-kafka's `TopicPartition`).
/// Entries with a negative offset (a position the consumer does not know yet, -1001) are
/// skipped, as confluent-kafka (librdkafka) does, so `consumer.position(consumer.assignment())`
/// can be passed as it is.
pub(crate) fn offsets_of(positions: &Bound<'_, PyAny>) -> PyResult<HashMap<(String, i32), OffsetAndMetadata>> {
    let mut out = HashMap::new();
    let items = positions.try_iter().map_err(|_| PyTypeError::new_err("positions must be a list of TopicPartition"))?;
    for (i, item) in items.enumerate() {
        let item = item?;
        let field = |name: &str| {
            item.getattr(name).map_err(|_| PyTypeError::new_err(format!("positions[{i}] has no '{name}': expected a TopicPartition, got {}", type_name(&item))))
        };
        let wrong = |name: &str, what: &str| PyTypeError::new_err(format!("positions[{i}].{name} must be {what}"));
        let topic: String = field("topic")?.extract().map_err(|_| wrong("topic", "a str"))?;
        let partition: i32 = field("partition")?.extract().map_err(|_| wrong("partition", "an int"))?;
        let offset: i64 = field("offset")?.extract().map_err(|_| wrong("offset", "an int"))?;
        let optional = |name: &str| item.getattr(name).ok().filter(|v| !v.is_none());
        let metadata = optional("metadata").map(|m| m.extract::<String>()).transpose().map_err(|_| wrong("metadata", "a str or None"))?;
        let leader_epoch = optional("leader_epoch").map(|e| e.extract::<i32>()).transpose().map_err(|_| wrong("leader_epoch", "an int or None"))?;
        if offset >= 0 {
            out.insert((topic, partition), OffsetAndMetadata { offset, leader_epoch, metadata });
        }
    }
    Ok(out)
}

/// `group_metadata`: a `rafka.ConsumerGroupMetadata`; what confluent-kafka's
/// `Consumer.consumer_group_metadata()` returns (librdkafka's serialized form, bytes starting
/// with `CGMDv2:`); or any object with a `group_id` attribute (and optionally
/// `generation_id`, `member_id`, `group_instance_id`).
pub(crate) fn group_of(obj: &Bound<'_, PyAny>) -> PyResult<rafka_core::ConsumerGroupMetadata> {
    if let Ok(m) = obj.downcast::<ConsumerGroupMetadata>() {
        return Ok(m.get().engine());
    }
    if let Ok(b) = obj.downcast::<PyBytes>() {
        return parse_librdkafka(b.as_bytes());
    }
    if obj.hasattr("group_id")? {
        let opt = |name: &str| obj.getattr(name).ok().filter(|v| !v.is_none());
        let bad = |name: &str| PyTypeError::new_err(format!("group_metadata.{name} has the wrong type"));
        return Ok(rafka_core::ConsumerGroupMetadata {
            group_id: obj.getattr("group_id")?.extract().map_err(|_| bad("group_id"))?,
            generation_id: opt("generation_id").map(|v| v.extract()).transpose().map_err(|_| bad("generation_id"))?.unwrap_or(-1),
            member_id: opt("member_id").map(|v| v.extract()).transpose().map_err(|_| bad("member_id"))?.unwrap_or_default(),
            group_instance_id: opt("group_instance_id").map(|v| v.extract()).transpose().map_err(|_| bad("group_instance_id"))?,
        });
    }
    Err(PyTypeError::new_err(format!(
        "group_metadata must be a ConsumerGroupMetadata or what confluent_kafka's Consumer.consumer_group_metadata() returns, got {}",
        type_name(obj)
    )))
}

/// librdkafka's serialized group metadata (`rd_kafka_consumer_group_metadata_write`), which
/// confluent-kafka hands out as bytes: `CGMDv2:`, the generation id (4 bytes, the writing
/// host's byte order, so the same machine's), the group id and the member id each
/// NUL-terminated, then one byte: 1 when there is no group instance id, 0 when a NUL-terminated
/// one follows.
fn parse_librdkafka(b: &[u8]) -> PyResult<rafka_core::ConsumerGroupMetadata> {
    let bad = |why: &str| PyValueError::new_err(format!("group_metadata: not a consumer group metadata written by librdkafka ({why})"));
    let rest = b.strip_prefix(b"CGMDv2:").ok_or_else(|| bad("it does not start with CGMDv2:"))?;
    if rest.len() < 4 {
        return Err(bad("too short"));
    }
    let generation_id = i32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]);
    let mut rest = &rest[4..];
    let group_id = take_cstr(&mut rest).ok_or_else(|| bad("no group id"))?;
    let member_id = take_cstr(&mut rest).ok_or_else(|| bad("no member id"))?;
    let group_instance_id = match rest.split_first() {
        Some((1, [])) => None,
        Some((0, tail)) => {
            rest = tail;
            let id = take_cstr(&mut rest).ok_or_else(|| bad("no group instance id"))?;
            if !rest.is_empty() {
                return Err(bad("bytes after the group instance id"));
            }
            Some(id)
        }
        _ => return Err(bad("no group instance id marker")),
    };
    Ok(rafka_core::ConsumerGroupMetadata { group_id, generation_id, member_id, group_instance_id })
}

/// The NUL-terminated UTF-8 string at the start of `rest`, which moves past it.
fn take_cstr(rest: &mut &[u8]) -> Option<String> {
    let end = rest.iter().position(|&c| c == 0)?;
    let s = std::str::from_utf8(&rest[..end]).ok()?.to_string();
    *rest = &rest[end + 1..];
    Some(s)
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map_or_else(|_| "an object".to_string(), |n| n.to_string())
}
