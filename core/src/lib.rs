//! rafka-core: the producer engine.
//!
//! The data path, in the order a record travels it:
//! `producer.rs` (`send()`, on application threads) -> `partitioner.rs` -> `accumulator.rs`
//! (one lock-free queue per partition, `memory.rs` bounding what is buffered) -> `io/` (the I/O
//! thread: connections, batches, Produce requests) -> `protocol/` (the wire format) ->
//! `delivery.rs` (reports, on the delivery thread or `poll()`).

mod accumulator;
pub mod alloc;
#[doc(hidden)]
pub mod bench_support;
mod clock;
pub mod completion;
pub mod compression;
pub mod config;
pub mod delivery;
pub mod error;
mod io;
mod memory;
pub mod metadata;
pub mod partitioner;
pub mod producer;
pub mod protocol;
pub mod record;
mod shared;
pub mod transaction;

pub use config::{Config, ConfigError, ProducerConfig};
pub use completion::DeliveryFuture;
pub use delivery::DeliveryMode;
pub use error::{Code, Error, LocalCode, Result};
pub use metadata::{BrokerMetadata, ClusterMetadata, PartitionMetadata, TopicMetadata};
pub use producer::{current_producer_id, Producer, ProducerBuilder, TrySend};
pub use transaction::{ConsumerGroupMetadata, OffsetAndMetadata, TxnState};
pub use record::{Delivery, DeliveryResult, OwnedRecord, ProducerRecord, RecordMetadata};
