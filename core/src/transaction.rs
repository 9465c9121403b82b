//! Transactions, the application's side: the transactional calls on [`Producer`]
//! (`init_transactions`, `begin_transaction`, `send_offsets_to_transaction`,
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
//! `open` mirrors `state == InTransaction` for `send()`, which reads it without the lock; it is
//! written only under the lock. A send that raced a commit past that check is still flushed
//! by the commit (the commit flushes after leaving `InTransaction`).
//!
//! A call that times out leaves its job running: calling the same method again waits for the
//! same job (as the Java client does), so a timeout is retriable.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, LocalCode, Result};
use crate::producer::Producer;

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

impl Producer {
    fn txn_shared(&self) -> Result<&TxnShared> {
        if self.inner.config.transactional_id.is_none() {
            return Err(Error::local(LocalCode::State, "this producer is not transactional: set transactional.id to use transactions"));
        }
        Ok(&self.inner.txn)
    }

    /// Registers the `transactional.id` with its coordinator: fences any earlier producer with
    /// the same id and completes or aborts what it left open. Call once, before the first
    /// transaction. A timeout is retriable: calling again waits for the same request.
    pub fn init_transactions(&self, timeout: Duration) -> Result<()> {
        let txn = self.txn_shared()?;
        {
            let mut cell = txn.lock();
            match cell.state {
                TxnState::Uninitialized => txn.set_state(&mut cell, TxnState::Initializing),
                TxnState::Initializing => {}
                s => return Err(state_error(&cell, "init_transactions", s)),
            }
        }
        self.run_job(Job::Init, timeout)
    }

    /// Starts a transaction: every record sent until it is committed or aborted belongs to it.
    /// Local: no request is sent.
    pub fn begin_transaction(&self) -> Result<()> {
        let txn = self.txn_shared()?;
        let mut cell = txn.lock();
        match cell.state {
            TxnState::Ready => {
                cell.error = None;
                txn.set_state(&mut cell, TxnState::InTransaction);
                Ok(())
            }
            s => Err(state_error(&cell, "begin_transaction", s)),
        }
    }

    /// Adds a consumer group's offsets to the transaction: they are committed with it (and only
    /// if it commits). `offsets` are per topic and partition the next offset to read.
    pub fn send_offsets_to_transaction(&self, offsets: &HashMap<(String, i32), OffsetAndMetadata>, group: &ConsumerGroupMetadata, timeout: Duration) -> Result<()> {
        let txn = self.txn_shared()?;
        if group.group_id.is_empty() {
            return Err(Error::local(LocalCode::InvalidArgument, "send_offsets_to_transaction: the group id is empty"));
        }
        {
            let cell = txn.lock();
            let resuming = matches!(&cell.job, Some(Job::Offsets { .. }));
            if cell.state != TxnState::InTransaction && !resuming {
                return Err(state_error(&cell, "send_offsets_to_transaction", cell.state));
            }
        }
        let mut by_topic: HashMap<&str, Vec<(i32, OffsetAndMetadata)>> = HashMap::new();
        for ((topic, partition), o) in offsets {
            by_topic.entry(topic.as_str()).or_default().push((*partition, o.clone()));
        }
        let offsets = by_topic.into_iter().map(|(t, mut ps)| {
            ps.sort_by_key(|p| p.0);
            (t.to_string(), ps)
        });
        self.run_job(Job::Offsets { group: group.clone(), offsets: offsets.collect() }, timeout)
    }

    /// Sends everything the transaction holds, then commits it. Fails with the transaction's
    /// first error (`txn_requires_abort()`) if a send or request of it failed. A timeout is
    /// retriable: call again to go on waiting.
    pub fn commit_transaction(&self, timeout: Duration) -> Result<()> {
        let txn = self.txn_shared()?;
        let deadline = Instant::now() + timeout;
        {
            let mut cell = txn.lock();
            match cell.state {
                TxnState::InTransaction => txn.set_state(&mut cell, TxnState::Committing),
                TxnState::Committing => {}
                s => return Err(state_error(&cell, "commit_transaction", s)),
            }
            if cell.job.as_ref().is_some_and(|j| !matches!(j, Job::End { commit: true })) {
                return Err(busy_error(&cell, "commit_transaction"));
            }
        }
        // Flush in slices, so that a failed send ends the wait at once.
        if !txn.lock().job.as_ref().is_some_and(|j| matches!(j, Job::End { commit: true })) {
            loop {
                let now = Instant::now();
                let left = deadline.saturating_duration_since(now);
                let flushed = self.flush(left.min(Duration::from_millis(100)));
                {
                    let cell = txn.lock();
                    if matches!(cell.state, TxnState::AbortableError | TxnState::FatalError) {
                        return Err(cell.error.clone().unwrap_or_else(|| Error::local(LocalCode::State, "the transaction failed")));
                    }
                }
                match flushed {
                    Ok(()) => break,
                    Err(e) if Instant::now() >= deadline => {
                        return Err(Error::local(LocalCode::TimedOut, format!("commit_transaction: timed out after {} ms flushing the transaction's records ({}); call commit_transaction again to keep waiting", timeout.as_millis(), e.message())).into_retriable())
                    }
                    Err(_) => {}
                }
            }
        }
        self.run_job(Job::End { commit: true }, deadline.saturating_duration_since(Instant::now()))
    }

    /// Aborts the transaction: records not sent yet are failed (`_PURGE_QUEUE`), those in flight
    /// are awaited, and the coordinator discards what was written. Works after an abortable
    /// error; then a new transaction may begin.
    pub fn abort_transaction(&self, timeout: Duration) -> Result<()> {
        let txn = self.txn_shared()?;
        {
            let mut cell = txn.lock();
            match cell.state {
                TxnState::InTransaction | TxnState::AbortableError | TxnState::Committing => txn.set_state(&mut cell, TxnState::Aborting),
                TxnState::Aborting => {}
                s => return Err(state_error(&cell, "abort_transaction", s)),
            }
            if cell.job.as_ref().is_some_and(|j| !matches!(j, Job::End { commit: false })) {
                // A commit's EndTxn is out: its answer decides; the abort must wait for it.
                return Err(busy_error(&cell, "abort_transaction"));
            }
        }
        self.run_job(Job::End { commit: false }, timeout)
    }

    /// The transaction state (for diagnostics and bindings).
    pub fn transaction_state(&self) -> Option<TxnState> {
        self.inner.config.transactional_id.as_ref().map(|_| self.inner.txn.lock().state)
    }

    /// Posts `job` (or resumes waiting for the same job posted by an earlier call that timed
    /// out) and waits up to `timeout` for the I/O thread's answer.
    fn run_job(&self, job: Job, timeout: Duration) -> Result<()> {
        let txn = &self.inner.txn;
        let name = job.name();
        let deadline = Instant::now() + timeout;
        let mut cell = txn.lock();
        match &cell.job {
            Some(j) if j.name() == name => {}
            Some(_) => return Err(busy_error(&cell, name)),
            None => {
                cell.job = Some(job);
                cell.job_taken = false;
                cell.result = None;
                cell.waiting_on = "the I/O thread to take the request".into();
                self.inner.wake_io_now();
            }
        }
        loop {
            if let Some(r) = cell.result.take() {
                cell.job = None;
                return r;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::local(
                    LocalCode::TimedOut,
                    format!("{name}: timed out after {} ms waiting for {}; the request goes on: call {name} again to keep waiting", timeout.as_millis(), cell.waiting_on),
                )
                .into_retriable());
            }
            cell = txn.cv.wait_timeout(cell, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

fn state_error(cell: &TxnCell, call: &str, state: TxnState) -> Error {
    match state {
        TxnState::FatalError => cell.error.clone().unwrap_or_else(|| Error::local(LocalCode::Fatal, "the producer hit a fatal error").into_fatal()),
        TxnState::AbortableError => {
            let first = cell.error.as_ref().map(|e| e.to_string()).unwrap_or_default();
            Error::local(LocalCode::State, format!("{call}: the transaction failed ({first}); call abort_transaction first")).requiring_abort()
        }
        s => Error::local(LocalCode::State, format!("{call} is not possible in transaction state {s:?}")),
    }
}

fn busy_error(cell: &TxnCell, call: &str) -> Error {
    let other = cell.job.as_ref().map(|j| j.name()).unwrap_or("another call");
    Error::local(LocalCode::State, format!("{call}: {other} is still under way (waiting for {}); call {other} again to wait for it", cell.waiting_on)).into_retriable()
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
