//! confluent-kafka's module-level functions: `version()`, `libversion()`, and the partitioners
//! `murmur2()`, `consistent()` and `fnv1a()` for a program that picks partitions itself. The
//! hashes are the engine's (`rafka_core::partitioner`), so a partition computed here is the one
//! the matching `partitioner` setting would pick.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rafka_core::partitioner;

/// rafka's version, e.g. "0.1.0" (confluent-kafka: its own version).
#[pyfunction]
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// `(version, number)` of the engine: the number is `0xMMmmpp` (major, minor, patch), as the C
/// API's `rafka_version()` (confluent-kafka: librdkafka's version and its `rd_kafka_version()`).
#[pyfunction]
pub fn libversion() -> (&'static str, u32) {
    let v = |s: &str| s.parse::<u32>().unwrap_or(0);
    let n = (v(env!("CARGO_PKG_VERSION_MAJOR")) << 16) | (v(env!("CARGO_PKG_VERSION_MINOR")) << 8) | v(env!("CARGO_PKG_VERSION_PATCH"));
    (env!("CARGO_PKG_VERSION"), n)
}

fn count(partition_count: i32) -> PyResult<u32> {
    if partition_count <= 0 {
        return Err(PyValueError::new_err(format!("partition_count must be > 0, got {partition_count}")));
    }
    Ok(partition_count as u32)
}

/// The partition of `key` (bytes) among `partition_count` by the Java client's murmur2 hash
/// (librdkafka's `murmur2` partitioner).
#[pyfunction]
pub fn murmur2(key: &[u8], partition_count: i32) -> PyResult<u32> {
    Ok(partitioner::java_key_partition(key, count(partition_count)?))
}

/// The partition of `key` (bytes) among `partition_count` by CRC-32 (librdkafka's `consistent`).
#[pyfunction]
pub fn consistent(key: &[u8], partition_count: i32) -> PyResult<u32> {
    Ok(partitioner::consistent_partition(key, count(partition_count)?))
}

/// The partition of `key` (bytes) among `partition_count` by FNV-1a (librdkafka's `fnv1a`).
#[pyfunction]
pub fn fnv1a(key: &[u8], partition_count: i32) -> PyResult<u32> {
    Ok(partitioner::fnv1a_partition(key, count(partition_count)?))
}
