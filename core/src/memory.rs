//! `buffer.memory`: the bound on what the producer holds for records not yet reported.
//!
//! Threads: `reserve` runs on application threads inside `send()`; `release` runs on the
//! delivery thread after a record's report. The fast path is one CAS loop on `used`; only a
//! sender that finds the pool full takes the mutex, to sleep on the condvar until memory is
//! released or its deadline passes.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// `buffer.memory`: reserved by senders in `send()`, released by the delivery thread (or the
/// `poll()` caller) once a record is reported; read by the I/O thread (`has_waiters`) and
/// `Producer::buffered_bytes`.
pub(crate) struct MemoryPool {
    limit: usize,
    used: AtomicUsize,
    /// Senders sleeping in `reserve`; `release` only locks when this is non-zero.
    waiters: AtomicUsize,
    lock: Mutex<()>,
    freed: Condvar,
    /// Nanoseconds senders spent in `reserve`'s slow path, summed (`Producer::counters`).
    waited_ns: AtomicU64,
}

pub(crate) enum Reserve {
    Ok,
    /// The deadline passed with the pool still full.
    TimedOut,
    /// `wake_all` was called (the producer is closing).
    Interrupted,
    /// The calling thread's interruption check fired (see `crate::interrupt`).
    ThreadInterrupted,
}

impl MemoryPool {
    pub fn new(limit: usize) -> Self {
        MemoryPool { limit, used: AtomicUsize::new(0), waiters: AtomicUsize::new(0), lock: Mutex::new(()), freed: Condvar::new(), waited_ns: AtomicU64::new(0) }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Whether a sender is waiting for memory: the I/O thread then sends batches without waiting
    /// for `linger.ms`, since lingering would only keep the sender blocked longer.
    pub fn has_waiters(&self) -> bool {
        self.waiters.load(Ordering::Relaxed) > 0
    }

    /// Nanoseconds senders have waited for memory, summed.
    pub fn waited_ns(&self) -> u64 {
        self.waited_ns.load(Ordering::Relaxed)
    }

    /// Takes `n` bytes if they fit right now.
    pub fn try_reserve(&self, n: usize) -> bool {
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            if cur + n > self.limit {
                return false;
            }
            match self.used.compare_exchange_weak(cur, cur + n, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Takes `n` bytes, sleeping until they fit or `deadline` passes. `n` must not exceed the limit.
    pub fn reserve(&self, n: usize, deadline: Instant, interrupted: &dyn Fn() -> bool) -> Reserve {
        if self.try_reserve(n) {
            return Reserve::Ok;
        }
        self.waiters.fetch_add(1, Ordering::SeqCst);
        // When this sender first slept: the clock is read for the wait's length only if it slept.
        let mut slept_from = None;
        let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let result = loop {
            // Checked under the lock: a release that happened before we locked is seen here, and
            // one that happens after will notify us, because it sees `waiters > 0` and locks.
            if self.try_reserve(n) {
                break Reserve::Ok;
            }
            if interrupted() {
                break Reserve::Interrupted;
            }
            if crate::interrupt::interrupted() {
                break Reserve::ThreadInterrupted;
            }
            let now = Instant::now();
            if now >= deadline {
                break Reserve::TimedOut;
            }
            slept_from.get_or_insert(now);
            let wait = if crate::interrupt::checked() { (deadline - now).min(crate::interrupt::SLICE) } else { deadline - now };
            guard = self.freed.wait_timeout(guard, wait).unwrap_or_else(|e| e.into_inner()).0;
        };
        drop(guard);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        if let Some(from) = slept_from {
            self.waited_ns.fetch_add(from.elapsed().as_nanos() as u64, Ordering::Relaxed);
        }
        result
    }

    pub fn release(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.freed.notify_all();
        }
    }

    /// Wakes every sleeping sender so that it re-checks `interrupted` (used by close).
    pub fn wake_all(&self) {
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.freed.notify_all();
    }
}

/// Bytes taken from the pool for a record that is not queued yet: given back if dropped (a panic
/// between the reservation and the push), kept by [`Reservation::keep`] once the record is
/// queued, after which the record's report gives them back.
pub(crate) struct Reservation<'a> {
    pool: &'a MemoryPool,
    n: usize,
}

impl<'a> Reservation<'a> {
    /// Takes over `n` bytes already reserved in `pool`.
    pub fn new(pool: &'a MemoryPool, n: usize) -> Self {
        Reservation { pool, n }
    }

    /// The record holding the bytes was queued: they now go back with its report.
    pub fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.pool.release(self.n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_reservation_dropped_before_its_record_was_queued_gives_its_bytes_back() {
        let pool = MemoryPool::new(100);
        assert!(pool.try_reserve(60));
        let r = Reservation::new(&pool, 60);
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _r = r;
            panic!("encoder failed");
        }));
        assert!(unwound.is_err());
        assert_eq!(pool.used(), 0);
        assert!(pool.try_reserve(40));
        Reservation::new(&pool, 40).keep();
        assert_eq!(pool.used(), 40, "kept bytes stay reserved until released");
    }

    #[test]
    fn reserve_fails_past_the_limit_and_succeeds_after_release() {
        let pool = MemoryPool::new(100);
        assert!(pool.try_reserve(60));
        assert!(!pool.try_reserve(41));
        pool.release(10);
        assert!(pool.try_reserve(41));
        assert_eq!(pool.used(), 91);
    }

    #[test]
    fn blocked_reserve_times_out_when_nothing_is_released() {
        let pool = MemoryPool::new(10);
        assert!(pool.try_reserve(10));
        let t0 = Instant::now();
        let r = pool.reserve(5, t0 + Duration::from_millis(50), &|| false);
        assert!(matches!(r, Reserve::TimedOut));
        assert!(t0.elapsed() >= Duration::from_millis(50));
    }

    #[test]
    fn blocked_reserve_ends_when_the_threads_interrupt_check_fires_and_counts_its_wait() {
        static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        let pool = Arc::new(MemoryPool::new(10));
        assert!(pool.try_reserve(10));
        let p2 = pool.clone();
        let t = std::thread::spawn(move || {
            crate::interrupt::set_interrupt_check(Some(|| STOP.load(Ordering::SeqCst)));
            p2.reserve(4, Instant::now() + Duration::from_secs(60), &|| false)
        });
        std::thread::sleep(Duration::from_millis(50));
        STOP.store(true, Ordering::SeqCst);
        assert!(matches!(t.join().unwrap(), Reserve::ThreadInterrupted));
        assert!(pool.waited_ns() > 0, "the wait is counted");
        assert_eq!(pool.used(), 10);
    }

    #[test]
    fn blocked_reserve_wakes_when_another_thread_releases() {
        let pool = Arc::new(MemoryPool::new(10));
        assert!(pool.try_reserve(10));
        let p2 = pool.clone();
        let t = std::thread::spawn(move || p2.reserve(4, Instant::now() + Duration::from_secs(10), &|| false));
        std::thread::sleep(Duration::from_millis(20));
        pool.release(5);
        assert!(matches!(t.join().unwrap(), Reserve::Ok));
        assert_eq!(pool.used(), 9);
    }
}
