//! Transactions, the application's side: the transactional calls on `Producer`
//! (in `producer_txn.rs`:
//! `init_transactions`, `begin_transaction`, `send_offsets_to_transaction`,
//! `commit_transaction`, `abort_transaction`) and the state they share with the I/O thread's
//! transaction manager (`io/transaction.rs`), which speaks to the coordinators.
//!
//! # Shared state and who touches it
//! [`TxnShared`] sits in `Inner::txn`. Its `cell` (a mutex) holds the state of the machine, the
//! one job an application call asked for, the job's result, and the transaction's first error.
//! - Application threads: move `Ready -> InTransaction` (begin), `InTransaction -> Committing`,
//!   `* -> Aborting`, post a job (`Init`, `Offsets`, `End`) and wait on `cv` for its result.
//! - The I/O thread: takes the job, runs it (coordinator lookups, requests, retries), writes the
//!   result and the state it leads to (`Ready`, `AbortableError`, `FatalError`), notifies `cv`;
//!   records the first failed send of a transaction (`AbortableError`).
//!
//! `open` mirrors `state == InTransaction` for `send()`, which reads it without the lock; it is
//! written only under the lock. A send that raced a commit past that check is still flushed
//! by the commit (the commit flushes after leaving `InTransaction`).
//!
//! A call that times out leaves its job running: calling the same method again waits for the
//! same job (as the Java client does), so a timeout is retriable.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};

use crate::error::{Error, LocalCode, Result};

/// The states of the Java `TransactionManager`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnState {
    Uninitialized,
    /// `init_transactions` under way.
    Initializing,
    Ready,
    InTransaction,
    Committing,
    Aborting,
    /// A send or a transactional request failed: only `abort_transaction` helps.
    AbortableError,
    /// Fenced, not authorized, or otherwise unable to go on: close the producer.
    FatalError,
}

/// A consumer's group metadata, as `send_offsets_to_transaction` needs it (KIP-447): with the
/// generation and member id the group coordinator refuses offsets from a consumer that lost its
/// partitions in a rebalance. [`ConsumerGroupMetadata::new`] with only the group id works with
/// every broker but gives up that fencing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerGroupMetadata {
    pub group_id: String,
    /// -1 when unknown.
    pub generation_id: i32,
    /// Empty when unknown.
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

impl ConsumerGroupMetadata {
    pub fn new(group_id: impl Into<String>) -> ConsumerGroupMetadata {
        ConsumerGroupMetadata { group_id: group_id.into(), generation_id: -1, member_id: String::new(), group_instance_id: None }
    }
}

/// The offset to commit for one partition: the offset of the next record to consume (the last
/// processed one plus one), optionally with metadata and the leader epoch of that record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    pub offset: i64,
    pub leader_epoch: Option<i32>,
    pub metadata: Option<String>,
}

impl OffsetAndMetadata {
    pub fn new(offset: i64) -> OffsetAndMetadata {
        OffsetAndMetadata { offset, leader_epoch: None, metadata: None }
    }
}

/// What an application call asked the I/O thread to do.
#[derive(Clone, Debug)]
pub(crate) enum Job {
    Init,
    /// AddOffsetsToTxn (transaction version 1) and TxnOffsetCommit.
    Offsets { group: ConsumerGroupMetadata, offsets: Vec<(String, Vec<(i32, OffsetAndMetadata)>)> },
    /// EndTxn; an abort first fails what is unsent and waits for what is in flight.
    End { commit: bool },
}

impl Job {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Job::Init => "init_transactions",
            Job::Offsets { .. } => "send_offsets_to_transaction",
            Job::End { commit: true } => "commit_transaction",
            Job::End { commit: false } => "abort_transaction",
        }
    }
}

/// See the module doc for who writes what.
pub(crate) struct TxnCell {
    pub state: TxnState,
    /// The job of the call under way (posted by an application thread).
    pub job: Option<Job>,
    /// The I/O thread has taken `job`.
    pub job_taken: bool,
    /// The I/O thread's answer to `job`.
    pub result: Option<Result<()>>,
    /// What the job waits on now (the I/O thread's words), for timeout errors.
    pub waiting_on: String,
    /// The first error of the current transaction (state `AbortableError`) or the fatal one.
    pub error: Option<Error>,
}

pub(crate) struct TxnShared {
    pub cell: Mutex<TxnCell>,
    pub cv: Condvar,
    /// `state == InTransaction`, for `send()` (read without the lock, written under it).
    pub open: AtomicBool,
}

impl TxnShared {
    pub fn new() -> TxnShared {
        TxnShared {
            cell: Mutex::new(TxnCell { state: TxnState::Uninitialized, job: None, job_taken: false, result: None, waiting_on: String::new(), error: None }),
            cv: Condvar::new(),
            open: AtomicBool::new(false),
        }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, TxnCell> {
        self.cell.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the state (under the lock held as `cell`) and keeps `open` in step.
    pub fn set_state(&self, cell: &mut TxnCell, state: TxnState) {
        cell.state = state;
        self.open.store(state == TxnState::InTransaction, Ordering::SeqCst);
    }

    /// Why `send()` may not send now, for a transactional producer (None: it may).
    pub fn send_refusal(&self) -> Option<Error> {
        if self.open.load(Ordering::SeqCst) {
            return None;
        }
        let cell = self.lock();
        match cell.state {
            TxnState::InTransaction => None,
            TxnState::AbortableError | TxnState::FatalError => cell.error.clone(),
            s => Some(Error::local(LocalCode::State, format!("send() on a transactional producer needs an open transaction (begin_transaction()), but the transaction state is {s:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError};
    use std::time::Duration;

    fn base() -> Config {
        let mut c = Config::new();
        c.set("bootstrap.servers", "127.0.0.1:9092").unwrap();
        c.set("transactional.id", "t-1").unwrap();
        c
    }

    #[test]
    fn transactional_id_implies_idempotence_and_defaults_the_timeout_to_60_s() {
        let c = base().build().unwrap();
        assert_eq!(c.transactional_id.as_deref(), Some("t-1"));
        assert!(c.enable_idempotence);
        assert_eq!(c.transaction_timeout, Duration::from_millis(60_000));
        let mut c = base();
        c.set("transaction.timeout.ms", "5000").unwrap();
        assert_eq!(c.build().unwrap().transaction_timeout, Duration::from_millis(5000));
        assert!(base().set("transaction.timeout.ms", "0").is_err());
    }

    #[test]
    fn transactional_id_conflicts_name_both_settings() {
        for (k, v, needle) in [("enable.idempotence", "false", "enable.idempotence=false"), ("acks", "1", "acks=all"), ("retries", "0", "retries"), ("max.in.flight.requests.per.connection", "6", "<= 5")] {
            let mut c = base();
            c.set(k, v).unwrap();
            match c.build() {
                Err(ConfigError::Conflict(m)) => assert!(m.contains("transactional.id") && m.contains(needle), "{k}={v}: {m}"),
                other => panic!("{k}={v}: expected a conflict, got {other:?}"),
            }
        }
        let mut c = base();
        c.set("transactional.id", "").unwrap();
        assert!(c.build().is_err(), "an empty transactional.id is refused");
    }
}
