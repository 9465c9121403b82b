//! librafka: the C ABI of rafka, one module per C type, the engine's policy translated and never
//! restated: `conf.rs` (`rafka_conf_t`), `error.rs` (`rafka_resp_err_t`), `last_error.rs` (the
//! per-thread error message), `oauthbearer.rs` (`rafka_oauthbearer_token_t`), `log_sink.rs`
//! (`rafka_log_cb_t`), `handle.rs` (`rafka_producer_t`, whose functions are in `producer.rs`),
//! `report.rs` (`rafka_delivery_report_t`, `rafka_dr_cb_t`), `produce.rs` (`rafka_header_t`,
//! `rafka_iovec_t`, the produce flags), `partitioner.rs` (`rafka_partitioner_cb_t` and the
//! built-in partitioners) and `interceptor.rs` (`rafka_interceptor_cb_t`). The transactional calls are in `transaction.rs`, with
//! their types: `error_object.rs` (`rafka_error_t`), `topic_partition.rs`
//! (`rafka_topic_partition_list_t`) and `group_metadata.rs` (`rafka_consumer_group_metadata_t`).
//! `ptr.rs` holds the panic boundary and the pointer checks
//! every entry point goes through.
//!
//! Imports run one way: `ptr` <- `error` <- `last_error` <- `handle` <- `report`, `log_sink`,
//! `oauthbearer`, `partitioner`, `interceptor` <- `conf` <- `produce` <- `producer` <- `error_object`, `topic_partition`,
//! `group_metadata` <- `transaction` (one exception: the handle holds the producer's
//! `interceptor::Interceptors`, whose hooks are given the handle). The `mod` lines below are in the order
//! cbindgen writes the functions into `include/rafka.h` (see `ffi/cbindgen.toml`): moving one
//! moves declarations in the header.
#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)] // every function's doc has a "Safety" paragraph in prose
#![allow(clippy::manual_c_str_literals)] // c"" literals need Rust 1.77; the workspace supports 1.75

pub mod conf;
pub mod partitioner;
pub mod interceptor;
pub mod error;
pub mod error_cb;
pub mod oauthbearer;
pub mod log_sink;
pub mod last_error;
pub mod handle;
pub mod report;
pub mod stats;
pub mod throttle;
pub mod produce;
pub mod producer;
pub mod error_object;
pub mod topic_partition;
pub mod group_metadata;
pub mod transaction;
mod ptr;

use std::ffi::c_char;

/// mimalloc unless `RAFKA_ALLOCATOR=system`: see rafka-core's `alloc.rs`.
#[global_allocator]
static ALLOCATOR: rafka_core::alloc::RafkaAlloc = rafka_core::alloc::RafkaAlloc;

/// The library version as `0xMMmmpp` (major, minor, patch), like librdkafka's `rd_kafka_version()`.
/// Compare with the RAFKA_VERSION macro to check the header matches the library.
#[no_mangle]
pub extern "C" fn rafka_version() -> i32 {
    let v = |s: &str| s.parse::<i32>().unwrap_or(0);
    (v(env!("CARGO_PKG_VERSION_MAJOR")) << 16)
        | (v(env!("CARGO_PKG_VERSION_MINOR")) << 8)
        | v(env!("CARGO_PKG_VERSION_PATCH"))
}

/// The library version as a NUL-terminated string, e.g. "0.1.0". Static storage: the caller must not free it.
#[no_mangle]
pub extern "C" fn rafka_version_str() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
