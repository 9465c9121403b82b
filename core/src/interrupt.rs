//! Interrupting a blocked call. A binding whose threads can be interrupted (the JVM's
//! `Thread.interrupt()`) gives each calling thread a check; the engine's waits on an application
//! thread (`send()` for buffer memory, a record slot or metadata, `flush()`, `partition_count()`,
//! the transactional calls) then wait in slices of at most 100 ms and, when the check says so,
//! return `_INTR` ([`LocalCode::Interrupted`](crate::LocalCode::Interrupted)); a transactional
//! call's request goes on, and calling it again waits for it. Nothing is checked on a call that
//! does not wait.

use std::cell::Cell;
use std::time::Duration;

thread_local! {
    static CHECK: Cell<Option<fn() -> bool>> = const { Cell::new(None) };
}

/// The longest a wait sleeps between checks.
pub(crate) const SLICE: Duration = Duration::from_millis(100);

/// Sets (or with `None` removes) this thread's interruption check: a function answering whether
/// the thread has been asked to stop waiting. Called by bindings; cheap enough to call per call.
pub fn set_interrupt_check(check: Option<fn() -> bool>) {
    CHECK.with(|c| c.set(check));
}

/// Whether this thread has a check (its waits then slice).
pub(crate) fn checked() -> bool {
    CHECK.with(Cell::get).is_some()
}

/// Whether this thread's check says it was interrupted.
pub(crate) fn interrupted() -> bool {
    CHECK.with(Cell::get).is_some_and(|f| f())
}
