//! `rafka_producer_t`, the producer handle: what one holds. Its functions are in `producer.rs`;
//! the type sits down here because the delivery callback type (`report.rs`), which a
//! configuration stores, names it, and `producer.rs` needs the configuration.

use std::sync::atomic::AtomicPtr;
use std::sync::Arc;

use rafka_core::Producer;

use crate::interceptor::Interceptors;

/// A producer. Created by `rafka_producer_new()`, freed by `rafka_producer_free()`.
pub struct rafka_producer_t {
    pub(crate) producer: Producer,
    /// This handle's own address, which delivery callbacks receive: set once the handle is
    /// boxed, NULL again once it is freed (see `report::Reporter`).
    pub(crate) this: Arc<AtomicPtr<rafka_producer_t>>,
    /// The configuration's interceptors (`interceptor.rs`): on_send runs in `rafka_produce()`.
    pub(crate) interceptors: Arc<Interceptors>,
}
