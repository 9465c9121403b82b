//! The Kafka wire protocol: primitives, RecordBatch v2, error codes, and one module per API under
//! `messages/`.
//!
//! Nothing here does I/O or keeps state: encoders append to a caller's `Vec<u8>` and decoders
//! read from a borrowed slice, so every function is safe to call from any thread.
//! Ground truth is Kafka's message JSON schemas and `DefaultRecordBatch`/`DefaultRecord`.

pub mod error_codes;
pub mod messages;
pub mod primitives;
pub mod record_batch;

pub use error_codes::KafkaCode;
pub use primitives::{DecodeError, Decoder, WireWrite};
