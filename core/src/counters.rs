//! [`Producer::counters`](crate::Producer::counters): cumulative counters of what the producer
//! did, for bindings that compute their own rates and averages from them (the Java binding feeds
//! kafka-clients' `Metrics` with the differences between two snapshots).
//!
//! The I/O thread keeps them, per Produce request and per batch (never per record on `send()`),
//! and copies them when asked; `send()` blocked on `buffer.memory` adds its wait. Every count is
//! since the producer was built, except the maxima, which are since the previous snapshot (so a
//! caller sees the largest value of each interval); one caller should take the snapshots.

/// What one topic's batches did. Counted per batch sent (every attempt, as the Java client
/// counts), retried or failed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopicCounters {
    pub topic: String,
    /// Records in Produce requests written (a retried batch counts again).
    pub records_sent: u64,
    /// Bytes of those batches as sent (compressed, record batch header included).
    pub bytes_sent: u64,
    /// Batches written.
    pub batches_sent: u64,
    /// Sum over the batches written of (bytes as sent / bytes uncompressed); divide by
    /// `batches_sent` for the average compression rate.
    pub compression_ratio_sum: f64,
    /// Records of batches queued for another attempt.
    pub records_retried: u64,
    /// Records reported failed.
    pub records_failed: u64,
    /// Partitioner metrics: records placed by the key's hash, by sticky (or random) choice, by
    /// an explicit partition and by the application's partitioner. Counted per record by
    /// `send()` only with statistics on or `ProducerBuilder::count_placements`, else 0.
    pub placed_by_key: u64,
    pub placed_uniform: u64,
    pub placed_explicit: u64,
    pub placed_custom: u64,
    /// Sticky partition switches, and partitions skipped by them as unavailable (counted per
    /// switch, always).
    pub sticky_switches: u64,
    pub unavailable_skips: u64,
}

/// A snapshot of the producer's counters (see the module doc).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProducerCounters {
    /// `buffer.memory` and the part of it held by records not yet reported.
    pub buffer_total_bytes: u64,
    pub buffer_used_bytes: u64,
    /// Nanoseconds `send()` calls spent waiting for `buffer.memory`, summed.
    pub buffer_wait_ns: u64,
    /// Produce requests written, and the records they carried.
    pub produce_requests: u64,
    pub produce_records: u64,
    /// Answered Produce requests: the sum and the largest (since the previous snapshot) of the
    /// time from writing the request to reading its response.
    pub request_latency_count: u64,
    pub request_latency_ns_sum: u64,
    pub request_latency_ns_max: u64,
    /// Batches written (every attempt): their sizes as sent (bytes), and the time from their
    /// oldest record's `send()` to the batch being written (nanoseconds).
    pub batches: u64,
    pub batch_bytes_sum: u64,
    pub batch_bytes_max: u64,
    pub queue_ns_sum: u64,
    pub queue_ns_max: u64,
    /// Produce responses read, and the throttle time (ms) the brokers asked for in them.
    pub throttle_count: u64,
    pub throttle_ms_sum: u64,
    pub throttle_ms_max: u64,
    /// Bytes written to every broker connection, closed ones included.
    pub tx_bytes: u64,
    /// Requests written and not answered yet, over every connection.
    pub requests_in_flight: u64,
    /// Open broker connections (connecting or ready).
    pub connections: u64,
    /// Records sent and not yet reported (`Producer::in_flight_count`).
    pub records_in_flight: u64,
    /// Per topic, in name order.
    pub topics: Vec<TopicCounters>,
}
