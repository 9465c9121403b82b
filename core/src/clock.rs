//! Clocks. One monotonic nanosecond clock for deadlines and latencies, and the wall clock for
//! record timestamps.
//!
//! The monotonic clock is `quanta`'s: it reads the CPU's invariant time-stamp counter (about 10 ns
//! here, against 25 ns for `clock_gettime` through `Instant::now`) and falls back to the OS clock
//! where the counter cannot be trusted. It is read once per record, so this is a hot-path cost.
//! Its readings are only compared with each other; [`instant_of`] turns one into a std `Instant`
//! through the difference from now, so a calibration error of the counter never shifts a deadline.
//!
//! `send()` reads one clock per record: [`wall_ms_at`] turns its monotonic reading into wall-clock
//! milliseconds through an offset between the two clocks, which is re-read from the wall clock at
//! most every [`RESYNC_NS`]. A step of the wall clock (NTP, an operator) therefore shows in record
//! timestamps within 100 ms; a slewed clock drifts from the offset by well under a millisecond in
//! that time.

use once_cell::sync::Lazy;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The process's clock and its raw reading at the first call. `quanta::Instant::now()` would look
/// up a thread-local clock override (a `__tls_get_addr` call in a shared library) and scale the
/// counter's whole reading on every call; this reads the counter and scales the difference.
struct Mono {
    clock: quanta::Clock,
    epoch: u64,
}

static MONO: Lazy<Mono> = Lazy::new(|| {
    let clock = quanta::Clock::new();
    let epoch = clock.raw();
    Mono { clock, epoch }
});

/// How long a measured offset between the wall clock and `mono_ns` is trusted.
pub(crate) const RESYNC_NS: u64 = 100_000_000;

/// Wall-clock nanoseconds minus `mono_ns()`, as of `SYNCED_AT`.
static WALL_OFFSET_NS: AtomicI64 = AtomicI64::new(0);
/// The `mono_ns()` at which `WALL_OFFSET_NS` was measured; `u64::MAX`: never.
static SYNCED_AT: AtomicU64 = AtomicU64::new(u64::MAX);

/// Monotonic nanoseconds since the first call in this process.
#[inline]
pub(crate) fn mono_ns() -> u64 {
    let m = &*MONO;
    m.clock.delta_as_nanos(m.epoch, m.clock.raw())
}

/// The `Instant` a `mono_ns` value stands for (for poll timeouts), through its distance from now.
pub(crate) fn instant_of(ns: u64) -> Instant {
    let (now, now_ns) = (Instant::now(), mono_ns());
    if ns >= now_ns {
        now + Duration::from_nanos(ns - now_ns)
    } else {
        now.checked_sub(Duration::from_nanos(now_ns - ns)).unwrap_or(now)
    }
}

/// The `mono_ns` value an `Instant` stands for, through its distance from now (at least 1).
pub(crate) fn mono_ns_of(t: Instant) -> u64 {
    let (now, now_ns) = (Instant::now(), mono_ns());
    let ns = if t >= now { now_ns.saturating_add((t - now).as_nanos().min(u64::MAX as u128) as u64) } else { now_ns.saturating_sub((now - t).as_nanos().min(u64::MAX as u128) as u64) };
    ns.max(1)
}

/// Milliseconds since the Unix epoch, read from the wall clock.
/// The longest wait a timeout given to the producer stands for. The public methods take any
/// `Duration` and cap it at this, so a binding says "wait for ever" as `Duration::MAX` and no
/// `Instant` arithmetic can overflow (a century fits every platform's `Instant`).
pub const LONGEST_WAIT: Duration = Duration::from_secs(100 * 365 * 86_400);

/// The instant `timeout` from now, `timeout` capped at [`LONGEST_WAIT`].
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    Instant::now() + timeout.min(LONGEST_WAIT)
}

#[cfg(test)]
pub(crate) fn wall_ms() -> i64 {
    wall_ns() / 1_000_000
}

fn wall_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

/// Milliseconds since the Unix epoch at the moment `mono` (a `mono_ns()` reading just taken).
#[inline]
pub(crate) fn wall_ms_at(mono: u64) -> i64 {
    let synced = SYNCED_AT.load(Ordering::Acquire);
    derive(mono, synced, WALL_OFFSET_NS.load(Ordering::Relaxed)).unwrap_or_else(resync)
}

/// Wall milliseconds for `mono` from an offset measured at `synced`; `None` when that offset is
/// missing or too old to trust.
#[inline]
fn derive(mono: u64, synced: u64, offset_ns: i64) -> Option<i64> {
    if synced == u64::MAX || mono.saturating_sub(synced) >= RESYNC_NS {
        return None;
    }
    Some((mono as i64 + offset_ns) / 1_000_000)
}

/// Measures the offset again and returns the wall clock's milliseconds now.
#[cold]
fn resync() -> i64 {
    let wall = wall_ns();
    let mono = mono_ns();
    WALL_OFFSET_NS.store(wall - mono as i64, Ordering::Relaxed);
    SYNCED_AT.store(mono, Ordering::Release);
    wall / 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_wall_time_agrees_with_the_wall_clock() {
        for _ in 0..3 {
            let before = wall_ms();
            let derived = wall_ms_at(mono_ns());
            let after = wall_ms();
            // One millisecond of slack: the offset is measured from two reads a few ns apart.
            assert!(before - 1 <= derived && derived <= after + 1, "{before} <= {derived} <= {after}");
            std::thread::sleep(std::time::Duration::from_millis(60));
        }
    }

    #[test]
    fn the_monotonic_clock_keeps_pace_with_std_instant() {
        let (i0, m0) = (Instant::now(), mono_ns());
        std::thread::sleep(Duration::from_millis(200));
        let (std_ns, ours) = (i0.elapsed().as_nanos() as i64, (mono_ns() - m0) as i64);
        // Both measured the same sleep; allow for the reads' own spacing and scheduling.
        assert!((std_ns - ours).abs() < 20_000_000, "std {std_ns} ns, mono_ns {ours} ns");
        let target = mono_ns() + 50_000_000;
        let at = instant_of(target);
        let d = at.saturating_duration_since(Instant::now());
        assert!(d > Duration::from_millis(10) && d <= Duration::from_millis(50), "{d:?}");
    }

    #[test]
    fn an_offset_is_trusted_only_while_fresh() {
        let hour_ns = 3_600_000_000_000i64;
        assert_eq!(derive(5_000_000, u64::MAX, hour_ns), None, "never measured");
        assert_eq!(derive(5_000_000, 4_000_000, hour_ns), Some(3_600_005));
        assert_eq!(derive(4_000_000 + RESYNC_NS - 1, 4_000_000, 0), Some(103));
        assert_eq!(derive(4_000_000 + RESYNC_NS, 4_000_000, hour_ns), None, "stale");
        // Another thread may have measured after this thread read its clock.
        assert_eq!(derive(3_000_000, 4_000_000, 0), Some(3));
    }
}
