//! The transactional calls on [`Producer`]: `init_transactions`, `begin_transaction`,
//! `send_offsets_to_transaction`, `commit_transaction`, `abort_transaction`. They post jobs to
//! the state in `transaction.rs` (shared with the I/O thread) and wait for their results; the
//! module doc there says who writes what.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::error::{Error, LocalCode, Result};
use crate::producer::Producer;
use crate::transaction::*;

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
            if answered_since(&cell, "init_transactions") {
                drop(cell);
                return self.run_job(Job::Init, timeout);
            }
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
                if cell.result.is_some() {
                    // The answer to a call that timed out and was not called again (the job
                    // finished meanwhile): it belongs to the transaction before, not this one.
                    cell.job = None;
                    cell.result = None;
                }
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
        if let Some(((t, p), o)) = offsets.iter().find(|((t, p), o)| t.is_empty() || *p < 0 || o.offset < 0) {
            return Err(Error::local(LocalCode::InvalidArgument, format!("send_offsets_to_transaction: invalid entry topic {t:?} partition {p} offset {} (a topic name, a partition >= 0 and an offset >= 0 are needed)", o.offset)));
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
            if answered_since(&cell, "commit_transaction") {
                drop(cell);
                return self.run_job(Job::End { commit: true }, timeout);
            }
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
                    // The calling thread was interrupted (see `crate::interrupt`): the records go
                    // on, and calling again goes on waiting for them.
                    Err(e) if e.is_local(LocalCode::Interrupted) => {
                        return Err(e.context("commit_transaction: interrupted while waiting for the transaction's records to be acknowledged before EndTxn; they go on: call commit_transaction again to keep waiting").into_retriable());
                    }
                    Err(e) if Instant::now() >= deadline => {
                        let left = e.message().strip_prefix("flush: ").and_then(|m| m.split(" record(s)").next()).unwrap_or("some");
                        let why = format!("; {}", self.inner.status_report());
                        return Err(Error::local(
                            LocalCode::TimedOut,
                            format!("commit_transaction: timed out after {} ms waiting for the transaction's records to be acknowledged before EndTxn ({left} record(s) unreported{why}); they go on: call commit_transaction again to keep waiting", timeout.as_millis()),
                        )
                        .into_retriable());
                    }
                    Err(_) => {}
                }
            }
        }
        self.run_job_until(Job::End { commit: true }, timeout, deadline)
    }

    /// Aborts the transaction: records not sent yet are failed (`_PURGE_QUEUE`), those in flight
    /// are awaited, and the coordinator discards what was written. Works after an abortable
    /// error; then a new transaction may begin.
    pub fn abort_transaction(&self, timeout: Duration) -> Result<()> {
        let txn = self.txn_shared()?;
        {
            let mut cell = txn.lock();
            if answered_since(&cell, "abort_transaction") {
                drop(cell);
                return self.run_job(Job::End { commit: false }, timeout);
            }
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

    /// The error that put the transaction in `AbortableError` (the first one of the
    /// transaction) or the producer in `FatalError`; None in other states. Bindings use it as the
    /// cause of a later call's "the transaction failed" error.
    pub fn transaction_error(&self) -> Option<Error> {
        self.inner.config.transactional_id.as_ref()?;
        let cell = self.inner.txn.lock();
        match cell.state {
            TxnState::AbortableError | TxnState::FatalError => cell.error.clone(),
            _ => None,
        }
    }

    /// Posts `job` (or resumes waiting for the same job posted by an earlier call that timed
    /// out) and waits up to `timeout` for the I/O thread's answer.
    fn run_job(&self, job: Job, timeout: Duration) -> Result<()> {
        self.run_job_until(job, timeout, Instant::now() + timeout)
    }

    /// `run_job` up to `deadline`, the end of a call that took `timeout` in all.
    fn run_job_until(&self, job: Job, timeout: Duration, deadline: Instant) -> Result<()> {
        let txn = &self.inner.txn;
        let name = job.name();
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
            // A connection problem the I/O thread recognised ends the wait (the request goes on).
            if let Some(e) = self.inner.settled_diagnosis() {
                return Err(e.context(&format!("{name}: waiting for {}; the request goes on, call {name} again to keep waiting", cell.waiting_on)).into_retriable());
            }
            // So does an interrupted calling thread (see `crate::interrupt`).
            if crate::interrupt::interrupted() {
                return Err(Error::local(
                    LocalCode::Interrupted,
                    format!("{name}: interrupted while waiting for {}; the request goes on: call {name} again to keep waiting", cell.waiting_on),
                )
                .into_retriable());
            }
            cell = txn.cv.wait_timeout(cell, (deadline - now).min(Duration::from_millis(100))).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

/// Whether `call` timed out or was interrupted earlier and its job has been answered since: the
/// state has moved on (to `Ready` after an init or an end), and calling again takes that answer
/// rather than refusing the call for the new state.
fn answered_since(cell: &TxnCell, call: &str) -> bool {
    cell.result.is_some() && cell.job.as_ref().is_some_and(|j| j.name() == call)
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

