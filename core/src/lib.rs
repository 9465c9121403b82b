//! rafka-core: the producer engine.
//!
//! The data path, in the order a record travels it:
//! `producer.rs` (`send()`, on application threads) -> `partitioner.rs` -> `accumulator.rs`
//! (one lock-free queue per partition, `memory.rs` bounding what is buffered) -> `io/` (the I/O
//! thread: connections, batches, Produce requests) -> `protocol/` (the wire format) ->
//! `delivery.rs` (reports, on the delivery thread or `poll()`).
//!
//! # Example
//!
//! Settings are the Java producer's (`bootstrap.servers`, `acks`, `linger.ms`, ...); each `send`
//! gets exactly one delivery report, here waited for through the returned future:
//!
//! ```no_run
//! use std::time::Duration;
//! use rafka_core::{Config, Producer, ProducerRecord};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let mut config = Config::new();
//!     config.set("bootstrap.servers", "127.0.0.1:9092")?.set("linger.ms", "5")?;
//!     let producer = Producer::new(config)?;
//!     let metadata = producer.send(&ProducerRecord::new("events").key(b"k").value(b"hello"))?.wait()?;
//!     println!("written to partition {} at offset {}", metadata.partition, metadata.offset);
//!     // or with a callback, run on the delivery thread:
//!     producer.send_with_callback(&ProducerRecord::new("events").value(b"again"), |d| {
//!         if let Some(e) = d.error {
//!             eprintln!("not delivered: {e}");
//!         }
//!     })?;
//!     producer.close(Duration::from_secs(30))?;
//!     Ok(())
//! }
//! ```
//!
//! `examples/rust/producer.rs` in the repository is a complete program.

mod accumulator;
pub mod alloc;
#[doc(hidden)]
pub mod bench_support;
mod clock;
pub mod completion;
pub mod compression;
pub mod config;
pub mod counters;
pub mod delivery;
pub mod error;
pub mod interrupt;
mod io;
pub mod logging;
mod memory;
mod parking;
pub mod metadata;
pub mod partitioner;
mod placement;
pub mod probe;
pub mod producer;
mod producer_txn;
pub mod protocol;
pub mod purge;
pub mod record;
mod shared;
pub mod spool;
pub mod transaction;

pub use config::{Config, ConfigError, ProducerConfig};
pub use completion::DeliveryFuture;
pub use counters::{ProducerCounters, TopicCounters};
pub use delivery::{DeliveryMode, OwnedDelivery, OwnedRecord};
pub use error::{Code, Error, LocalCode, Result};
pub use metadata::{BrokerMetadata, ClusterMetadata, PartitionMetadata, TopicMetadata};
pub use producer::{current_producer_id, Producer, ProducerBuilder, TrySend};
pub use purge::{PurgeFlags, PurgeTarget};
pub use transaction::{ConsumerGroupMetadata, OffsetAndMetadata, TxnState};
pub use record::{Delivery, DeliveryResult, ProducerRecord, RecordMetadata};
