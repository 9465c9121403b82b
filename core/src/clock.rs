//! Clocks. One monotonic nanosecond clock for deadlines and latencies, read through `Instant` so
//! the arithmetic stays in one unit, and the wall clock for record timestamps.

use once_cell::sync::Lazy;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

static EPOCH: Lazy<Instant> = Lazy::new(Instant::now);

/// Monotonic nanoseconds since the first call in this process.
#[inline]
pub(crate) fn mono_ns() -> u64 {
    EPOCH.elapsed().as_nanos() as u64
}

/// The `Instant` a `mono_ns` value stands for.
pub(crate) fn instant_of(ns: u64) -> Instant {
    *EPOCH + std::time::Duration::from_nanos(ns)
}

/// Milliseconds since the Unix epoch.
#[inline]
pub(crate) fn wall_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
