//! Per-producer log levels: `debug` and `log_level` of one producer's configuration.
//!
//! `log` has one logger and one maximum level per process, while librdkafka's `debug` and
//! `log_level` belong to one client. So the engine keeps each producer's configured level here,
//! keyed by the producer's id ([`crate::current_producer_id`] tells a log sink which producer's
//! thread wrote a record), and a binding's log sink asks [`enabled_for`] whether to pass a record
//! on. A producer that sets neither key is not registered: its records are filtered by the sink's
//! own rules only. Registering a level above `log::max_level()` raises it, so that the engine
//! emits the debug records asked for; the sinks then drop other producers' extra records.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::RwLock;

use log::{Level, LevelFilter};

static LEVELS: RwLock<Vec<(u64, LevelFilter)>> = RwLock::new(Vec::new());
/// How many producers are registered: sinks skip the lock while none is.
static REGISTERED: AtomicUsize = AtomicUsize::new(0);

/// The level producer `id` was configured with (`debug`, `log_level`), if any.
pub fn level_of(id: u64) -> Option<LevelFilter> {
    if REGISTERED.load(Ordering::Relaxed) == 0 {
        return None;
    }
    LEVELS.read().unwrap_or_else(|e| e.into_inner()).iter().find(|(p, _)| *p == id).map(|(_, l)| *l)
}

/// Whether producer `id`'s configuration lets a record at `level` through (true for a
/// producer that set no level, and for id 0: no producer).
pub fn enabled_for(id: u64, level: Level) -> bool {
    level_of(id).is_none_or(|l| level <= l)
}

/// [`enabled_for`] the producer whose thread this is.
pub fn enabled(level: Level) -> bool {
    crate::current_producer_id().is_none_or(|id| enabled_for(id, level))
}

pub(crate) fn register(id: u64, level: Option<LevelFilter>) {
    let Some(level) = level else { return };
    LEVELS.write().unwrap_or_else(|e| e.into_inner()).push((id, level));
    REGISTERED.fetch_add(1, Ordering::Relaxed);
    if level > log::max_level() {
        log::set_max_level(level);
    }
}

pub(crate) fn unregister(id: u64) {
    let mut g = LEVELS.write().unwrap_or_else(|e| e.into_inner());
    let before = g.len();
    g.retain(|(p, _)| *p != id);
    REGISTERED.fetch_sub(before - g.len(), Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_producers_level_filters_only_its_own_records() {
        register(9001, Some(LevelFilter::Error));
        register(9002, Some(LevelFilter::Trace));
        assert!(enabled_for(9001, Level::Error));
        assert!(!enabled_for(9001, Level::Warn));
        assert!(enabled_for(9002, Level::Trace));
        assert!(enabled_for(9003, Level::Debug), "an unregistered producer is left to the sink");
        assert!(log::max_level() >= LevelFilter::Trace, "debug records must reach the sinks");
        unregister(9001);
        unregister(9002);
        assert!(enabled_for(9001, Level::Debug));
    }
}
