//! The engine's `log` records, forwarded to Python's `logging` (the `rafka` logger, or the
//! `logger` given in the configuration, as confluent-kafka accepts one).
//!
//! The engine logs from its own I/O and delivery threads. Calling into Python there would mean
//! taking the GIL on the I/O thread: it would then stall behind any Python thread holding the GIL
//! (a tight `produce()` loop, a slow handler), and it deadlocks where a thread holding the GIL
//! waits for the I/O thread (a producer dropped by the garbage collector joins it). So the `log`
//! implementation only queues the record (a mutex held for a push, bounded); the records are
//! handed to `logging` on Python threads that already hold the GIL: in `poll()`, `flush()`,
//! `close()` and the produce calls. This is also when confluent-kafka serves a configured logger
//! (its log queue is served by `poll()`).
//!
//! Each record carries the id of the producer whose engine thread wrote it
//! (`rafka_core::current_producer_id`), so each producer's logger gets its own records; records
//! from other threads go to whichever producer drains first.
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

use pyo3::prelude::*;

/// Records waiting for a Python thread; beyond this the oldest are dropped (and counted).
const MAX_QUEUED: usize = 10_000;

struct Line {
    producer: u64,
    level: log::Level,
    text: String,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Line>,
    dropped: usize,
    /// The level each live producer's logger wants.
    levels: HashMap<u64, log::LevelFilter>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);
/// Lines queued, read without the lock on the produce path.
static QUEUED: AtomicUsize = AtomicUsize::new(0);
static INSTALL: Once = Once::new();

struct Bridge;

impl log::Log for Bridge {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let producer = rafka_core::current_producer_id().unwrap_or(0);
        // The producer's own `debug` / `log_level` (librdkafka's default: info, so debug lines
        // only with `debug` set), then the Python logger's level.
        if producer != 0 && r.level() > rafka_core::logging::level_of(producer).unwrap_or(log::LevelFilter::Info) {
            return;
        }
        let mut g = STATE.lock().unwrap_or_else(|e| e.into_inner());
        let st = g.get_or_insert_with(State::default);
        if producer != 0 && st.levels.get(&producer).is_none_or(|l| r.level() > *l) {
            return;
        }
        if st.queue.len() >= MAX_QUEUED {
            st.queue.pop_front();
            st.dropped += 1;
        } else {
            QUEUED.fetch_add(1, Ordering::Relaxed);
        }
        st.queue.push_back(Line { producer, level: r.level(), text: format!("{} [{}]", r.args(), r.target()) });
    }

    fn flush(&self) {}
}

/// Python's numeric level for a `log` level (TRACE below DEBUG, as 5).
fn py_level(l: log::Level) -> i32 {
    match l {
        log::Level::Error => 40,
        log::Level::Warn => 30,
        log::Level::Info => 20,
        log::Level::Debug => 10,
        log::Level::Trace => 5,
    }
}

fn filter_for(py_effective: i32) -> log::LevelFilter {
    match py_effective {
        i32::MIN..=5 => log::LevelFilter::Trace,
        6..=10 => log::LevelFilter::Debug,
        11..=20 => log::LevelFilter::Info,
        21..=30 => log::LevelFilter::Warn,
        31..=40 => log::LevelFilter::Error,
        _ => log::LevelFilter::Off,
    }
}

/// Records (or updates) the level `logger` wants for producer `id`.
pub fn register(logger: &Bound<'_, PyAny>, id: u64) -> PyResult<()> {
    INSTALL.call_once(|| {
        // Another library may have installed a `log` logger first: then there is nothing to do.
        let _ = log::set_logger(&Bridge);
    });
    let level: i32 = logger.call_method0("getEffectiveLevel")?.extract()?;
    let mut g = STATE.lock().unwrap_or_else(|e| e.into_inner());
    let st = g.get_or_insert_with(State::default);
    st.levels.insert(id, filter_for(level));
    log::set_max_level(st.levels.values().copied().max().unwrap_or(log::LevelFilter::Off));
    Ok(())
}

/// Forgets producer `id` (after its last drain).
pub fn unregister(id: u64) {
    let mut g = STATE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(st) = g.as_mut() {
        st.levels.remove(&id);
        let before = st.queue.len();
        st.queue.retain(|l| l.producer != id);
        QUEUED.fetch_sub(before - st.queue.len(), Ordering::Relaxed);
        log::set_max_level(st.levels.values().copied().max().unwrap_or(log::LevelFilter::Off));
    }
}

/// Whether any line waits: `drain` is worth a call (checked on every produce call).
#[inline]
pub fn pending() -> bool {
    QUEUED.load(Ordering::Relaxed) != 0
}

/// Hands producer `id`'s queued records (and unattributed ones) to `logger`. Cheap when there
/// are none.
pub fn drain(py: Python<'_>, logger: &Py<PyAny>, id: u64) {
    if !pending() {
        return;
    }
    let (mine, dropped) = {
        let mut g = STATE.lock().unwrap_or_else(|e| e.into_inner());
        let Some(st) = g.as_mut() else { return };
        let mut mine = Vec::new();
        let mut rest = VecDeque::with_capacity(st.queue.len());
        for l in st.queue.drain(..) {
            if l.producer == id || l.producer == 0 {
                mine.push(l);
            } else {
                rest.push_back(l);
            }
        }
        st.queue = rest;
        QUEUED.fetch_sub(mine.len(), Ordering::Relaxed);
        (mine, std::mem::take(&mut st.dropped))
    };
    let logger = logger.bind(py);
    if dropped > 0 {
        let _ = logger.call_method1("log", (30, "%d log records from the rafka engine were dropped (queue full)", dropped));
    }
    for l in mine {
        // `logging` reports a failing handler itself; nothing useful to do with an error here.
        let _ = logger.call_method1("log", (py_level(l.level), "%s", l.text));
    }
}
