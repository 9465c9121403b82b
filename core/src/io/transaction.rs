//! The transaction manager, the I/O thread's room beside the producer id (`producer_id.rs`):
//! it runs the jobs that the transactional calls post (`transaction.rs`) and keeps what a
//! transaction needs on the wire.
//!
//! - Coordinators: FindCoordinator (key type 1 for the transactional id, 0 for a consumer
//!   group), asked again after NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE or a lost connection.
//! - `init_transactions`: InitProducerId with the transactional id. Once the producer has an id
//!   (a retry after an abortable error that needs a new epoch), v3+ carries it, so the
//!   coordinator bumps the epoch instead of fencing us (KIP-360).
//! - Transaction version 1 (Kafka 3.x, or 4.x without the `transaction.version` feature at 2):
//!   a partition's first batch of a transaction waits until AddPartitionsToTxn added it; all
//!   partitions new in a round go in one request, one request in flight at a time. Produce is
//!   capped at v11, EndTxn at v4, TxnOffsetCommit at v4.
//! - Transaction version 2 (KIP-890 part 2, the broker's finalized `transaction.version` >= 2
//!   and EndTxn v5): Produce v12 adds partitions implicitly, TxnOffsetCommit v5 adds the group,
//!   and every EndTxn returns a new epoch, under which sequences restart.
//! - Errors: coordinator moves, an unreachable coordinator, CONCURRENT_TRANSACTIONS,
//!   COORDINATOR_LOAD_IN_PROGRESS and other retriable codes are retried with backoff; the
//!   calling thread's timeout ends the wait, not the work, and the call may be repeated to keep
//!   waiting. PRODUCER_FENCED, INVALID_PRODUCER_EPOCH (reported as PRODUCER_FENCED, as the Java
//!   client does), TRANSACTIONAL_ID_AUTHORIZATION_FAILED (and the like) are fatal: the producer
//!   stops; except a stale epoch after the transaction outlived `transaction.timeout.ms` under
//!   transaction version 2, which is abortable (`txn_batch_error`). Others make the transaction
//!   abortable.
//!
//! Owned by the I/O thread; it reads and writes `Inner::txn` (the shared cell) only under its
//! lock.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::Token;

use super::backoff;
use super::connection::{InFlight, RequestKind, TxnRequest};
use super::producer_id::Pid;
use super::IoThread;
use crate::error::{Error, LocalCode};
use crate::protocol::error_codes::KafkaCode;
use crate::protocol::messages::{self, add_offsets_to_txn, add_partitions_to_txn, end_txn, find_coordinator, init_producer_id, txn_offset_commit};
use crate::protocol::primitives::Decoder;
use crate::transaction::{Job, TxnState};

/// Java's retry backoff for CONCURRENT_TRANSACTIONS on AddPartitionsToTxn: the previous
/// transaction's markers are usually written within milliseconds.
const CONCURRENT_TXN_BACKOFF: Duration = Duration::from_millis(20);

/// The step the current job is at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    InitPid,
    /// Abort: wait until nothing of the transaction is in flight.
    Drain,
    AddOffsets,
    OffsetCommit,
    EndTxn,
}

pub(super) struct TxnManager {
    /// The transactional id; None: not transactional, and nothing here runs.
    pub id: Option<Arc<str>>,
    timeout_ms: i32,
    coordinator: Option<i32>,
    groups: HashMap<String, i32>,
    /// A FindCoordinator is out (for this key type and key).
    finding: Option<(i8, String)>,
    job: Option<Job>,
    step: Step,
    /// A request of the job is out.
    inflight: bool,
    retry_at: Instant,
    failures: u32,
    /// Transaction version 2 (decided at init).
    pub tv2: bool,
    /// Partitions (queue ids) added to the current transaction (version 1).
    added: HashSet<usize>,
    /// Partitions with a first batch waiting to be added.
    pending: Vec<usize>,
    /// AddPartitionsToTxn is out.
    adding: bool,
    add_retry_at: Instant,
    add_failures: u32,
    /// Something was produced or offsets were added in this transaction: EndTxn is needed.
    started: bool,
    /// When the first record of the transaction was sent (for the timeout diagnosis).
    started_at: Option<Instant>,
}

impl TxnManager {
    pub fn new(id: Option<&str>, timeout: Duration) -> TxnManager {
        let now = Instant::now();
        TxnManager {
            id: id.map(Arc::from),
            timeout_ms: timeout.as_millis().min(i32::MAX as u128) as i32,
            coordinator: None,
            groups: HashMap::new(),
            finding: None,
            job: None,
            step: Step::InitPid,
            inflight: false,
            retry_at: now,
            failures: 0,
            tv2: false,
            added: HashSet::new(),
            pending: Vec::new(),
            adding: false,
            add_retry_at: now,
            add_failures: 0,
            started: false,
            started_at: None,
        }
    }

    pub fn enabled(&self) -> bool {
        self.id.is_some()
    }

    /// The sender asks before draining partition `id`: under transaction version 1 a partition
    /// new in the transaction waits for AddPartitionsToTxn.
    pub fn may_send(&mut self, id: usize) -> bool {
        if self.id.is_none() {
            return true;
        }
        if self.tv2 || self.added.contains(&id) {
            if !self.started {
                self.started = true;
                self.started_at = Some(Instant::now());
            }
            return true;
        }
        if !self.pending.contains(&id) {
            self.pending.push(id);
        }
        false
    }

    /// The Produce version to use: transaction version 1 may not use v12 (which would add
    /// partitions implicitly).
    pub fn produce_version(&self, v: i16) -> i16 {
        if self.id.is_some() && !self.tv2 {
            v.min(11)
        } else {
            v
        }
    }

    pub fn describe(&self, s: &mut String) {
        if !self.pending.is_empty() {
            s.push_str(&format!("; {} partition(s) wait to be added to the transaction", self.pending.len()));
        }
    }
}

/// Whether a code ends the producer (the Java client's fatal errors on transactional requests).
fn is_fatal(code: KafkaCode) -> bool {
    matches!(
        code,
        KafkaCode::PRODUCER_FENCED
            | KafkaCode::INVALID_PRODUCER_EPOCH
            | KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
            | KafkaCode::INVALID_TXN_STATE
            | KafkaCode::UNSUPPORTED_VERSION
            | KafkaCode::UNSUPPORTED_FOR_MESSAGE_FORMAT
            | KafkaCode::INVALID_TRANSACTION_TIMEOUT
            | KafkaCode::TRANSACTION_COORDINATOR_FENCED
            | KafkaCode::CLUSTER_AUTHORIZATION_FAILED
    )
}

/// Whether the coordinator must be looked up again.
fn coordinator_moved(code: KafkaCode) -> bool {
    matches!(code, KafkaCode::NOT_COORDINATOR | KafkaCode::COORDINATOR_NOT_AVAILABLE)
}

impl IoThread {
    /// One turn of the transaction manager: take a new job, advance the current one, add the
    /// partitions waiting for it.
    /// Advances the transactional job and adds partitions; a step or an AddPartitionsToTxn held
    /// back by a retry backoff pulls `next` in to when it may go.
    pub(super) fn drive_transactions(&mut self, now: Instant, next: &mut Instant) {
        if !self.txn.enabled() || self.inner.fatal.get().is_some() {
            return;
        }
        self.drive_job_and_adds(now);
        if self.txn.job.is_some() && !self.txn.inflight && self.txn.retry_at > now {
            *next = (*next).min(self.txn.retry_at);
        }
        if !self.txn.tv2 && !self.txn.adding && !self.txn.pending.is_empty() && self.txn.add_retry_at > now {
            *next = (*next).min(self.txn.add_retry_at);
        }
    }

    fn drive_job_and_adds(&mut self, now: Instant) {
        if self.txn.job.is_none() {
            let mut cell = self.inner.txn.lock();
            if let (Some(job), false) = (cell.job.clone(), cell.job_taken) {
                cell.job_taken = true;
                drop(cell);
                self.start_job(job, now);
            }
        }
        if self.txn.job.is_some() {
            self.advance_job(now);
        }
        self.maybe_add_partitions(now);
    }

    fn start_job(&mut self, job: Job, now: Instant) {
        self.txn.failures = 0;
        // `now` (the turn's time), not a later instant: the job advances in this same turn.
        self.txn.retry_at = now;
        self.txn.step = match &job {
            Job::Init => Step::InitPid,
            Job::Offsets { .. } if self.txn.tv2 => Step::OffsetCommit,
            Job::Offsets { .. } => Step::AddOffsets,
            Job::End { commit: true } => Step::EndTxn,
            Job::End { commit: false } => Step::Drain,
        };
        if let Job::End { commit: false } = job {
            // Abort: what is not sent yet never will be, parked records included.
            self.absorb_activations();
            self.fail_parked(&Error::local(LocalCode::PurgedQueue, "the transaction was aborted while the record waited for its topic's metadata"));
            let err = Arc::new(Error::local(LocalCode::PurgedQueue, "the transaction was aborted before the record was sent"));
            for id in self.parts.tracked.clone() {
                let ps = self.parts.get_mut(id);
                let retry: Vec<_> = ps.retry.drain(..).collect();
                let mut recs: Vec<_> = retry.into_iter().flat_map(|b| b.records).collect();
                if ps.sealing == 0 {
                    while let Some(b) = ps.sealed.pop_front() {
                        ps.next_send_seal += 1;
                        recs.extend(b.records);
                    }
                    recs.extend(ps.take_unsent());
                }
                let pq = ps.pq.clone();
                if !recs.is_empty() {
                    self.deliver(pq, recs, crate::delivery::Outcome::Err(err.clone()));
                }
            }
            self.parts.untrack_idle();
            self.txn.pending.clear();
        }
        self.txn.job = Some(job);
    }

    fn waiting_on(&self, what: String) {
        self.inner.txn.lock().waiting_on = what;
    }

    fn advance_job(&mut self, now: Instant) {
        if self.txn.inflight || now < self.txn.retry_at {
            return;
        }
        let step = self.txn.step;
        if step == Step::Drain {
            if self.parts.any_in_flight() || self.txn.adding || self.parts.iter().any(|p| p.sealing > 0) {
                self.waiting_on("the transaction's requests in flight to be answered before aborting".into());
                return;
            }
            // Sealed batches that came back from compression meanwhile are dropped too.
            let err = Arc::new(Error::local(LocalCode::PurgedQueue, "the transaction was aborted before the record was sent"));
            for id in self.parts.tracked.clone() {
                let ps = self.parts.get_mut(id);
                let mut recs = Vec::new();
                while let Some(b) = ps.sealed.pop_front() {
                    ps.next_send_seal += 1;
                    recs.extend(b.records);
                }
                recs.extend(ps.retry.drain(..).flat_map(|b| b.records));
                recs.extend(ps.take_unsent());
                let pq = ps.pq.clone();
                if !recs.is_empty() {
                    self.deliver(pq, recs, crate::delivery::Outcome::Err(err.clone()));
                }
            }
            self.parts.untrack_idle();
            // After a lost sequence (KIP-360) a new epoch is needed: InitProducerId with the
            // current id and epoch aborts the transaction and bumps the epoch in one step.
            self.txn.step = if self.pid.bump_pending { Step::InitPid } else { Step::EndTxn };
            if self.txn.step == Step::EndTxn && !self.txn.started {
                self.finish_job(Ok(()));
                return;
            }
        }
        if self.txn.step == Step::EndTxn && matches!(self.txn.job, Some(Job::End { commit: true })) && !self.txn.started {
            // Nothing was produced and no offsets were added: the coordinator knows no transaction.
            self.finish_job(Ok(()));
            return;
        }
        let group = match &self.txn.job {
            Some(Job::Offsets { group, .. }) if self.txn.step == Step::OffsetCommit => Some(group.group_id.clone()),
            _ => None,
        };
        let (node, key_type, key) = match &group {
            Some(g) => (self.txn.groups.get(g).copied(), find_coordinator::KEY_TYPE_GROUP, g.clone()),
            None => (self.txn.coordinator, find_coordinator::KEY_TYPE_TRANSACTION, self.txn.id.as_deref().unwrap_or_default().to_string()),
        };
        let Some(node) = node else {
            self.find_coordinator(key_type, key, now);
            return;
        };
        let role = if group.is_some() { "group" } else { "transaction" };
        let Some(token) = self.ready_connection(node, now) else {
            if let Some(r) = self.net.reconnect.get(&node) {
                // The coordinator is unreachable (killed, restarting): ask again which broker
                // coordinates, rather than wait for this one to come back.
                let e = Error::kafka(KafkaCode::COORDINATOR_NOT_AVAILABLE, format!("the {role} coordinator, broker {node}, is unreachable ({})", r.last_error));
                match &group {
                    Some(g) => {
                        self.txn.groups.remove(g);
                    }
                    None => self.txn.coordinator = None,
                }
                return self.job_retry(&e, None);
            }
            self.waiting_on(format!("a connection to the {role} coordinator, broker {node} ({})", self.net.brokers.get(&node).cloned().unwrap_or_default()));
            return;
        };
        self.send_txn_request(token, node, now);
    }

    fn find_coordinator(&mut self, key_type: i8, key: String, now: Instant) {
        if self.txn.finding.is_some() {
            return;
        }
        let what = if key_type == find_coordinator::KEY_TYPE_GROUP { format!("group '{key}'") } else { format!("transactional id '{key}'") };
        let Some(token) = self.any_connection(now) else {
            self.waiting_on(format!("a broker connection to find the coordinator of {what}"));
            return;
        };
        let corr = self.net.next_correlation();
        let client_id = self.inner.config.client_id.clone();
        let c = self.net.conns.get_mut(&token).unwrap();
        let Some(v) = c.versions.txn.find_coordinator.filter(|v| key_type == find_coordinator::KEY_TYPE_GROUP || *v >= 1) else {
            let e = Error::kafka(KafkaCode::UNSUPPORTED_VERSION, format!("broker {} does not support FindCoordinator for transactions; transactions need Kafka 0.11 or later", c.addr)).into_fatal();
            self.txn_fatal(e);
            return;
        };
        let addr = c.addr.clone();
        let buf = c.write_buffer();
        let start = buf.len();
        let frame = messages::begin_request(buf, messages::API_KEY_FIND_COORDINATOR, v, corr, &client_id, v >= find_coordinator::FIRST_FLEXIBLE_VERSION);
        find_coordinator::FindCoordinatorRequest { key_type, keys: vec![key.clone()] }.encode(buf, v);
        messages::finish_request(buf, frame);
        let n = buf.len() - start;
        let kind = RequestKind::Txn(TxnRequest::FindCoordinator { key_type, key: key.clone() });
        c.push_request(Some(InFlight { correlation_id: corr, api_key: messages::API_KEY_FIND_COORDINATOR, version: v, sent_at: now, kind }), n);
        self.txn.finding = Some((key_type, key));
        self.waiting_on(format!("FindCoordinator for {what} (sent to {addr})"));
    }

    /// The request of the current step, to the coordinator on `token`.
    fn send_txn_request(&mut self, token: Token, node: i32, now: Instant) {
        let corr = self.net.next_correlation();
        let client_id = self.inner.config.client_id.clone();
        let txn_id = self.txn.id.clone().expect("transactional");
        let (pid, epoch) = match self.pid.state {
            Pid::Ready { id, epoch } => (id, epoch),
            _ => (-1, -1),
        };
        let tv2 = self.txn.tv2;
        let step = self.txn.step;
        let job = self.txn.job.clone();
        let timeout_ms = self.txn.timeout_ms;
        let c = self.net.conns.get_mut(&token).unwrap();
        let addr = c.addr.clone();
        let tv = c.versions.txn;
        let missing = |api: &str| Error::kafka(KafkaCode::UNSUPPORTED_VERSION, format!("broker {node} ({addr}) does not support {api}, which transactions need")).into_fatal();
        let (api_key, v, flexible, kind, what) = match step {
            Step::InitPid => {
                let Some(v) = c.versions.init_producer_id else { return self.txn_fatal(missing("InitProducerId")) };
                (messages::API_KEY_INIT_PRODUCER_ID, v, v >= init_producer_id::FIRST_FLEXIBLE_VERSION, TxnRequest::InitProducerId, "InitProducerId")
            }
            Step::AddOffsets => {
                let Some(v) = tv.add_offsets else { return self.txn_fatal(missing("AddOffsetsToTxn")) };
                (messages::API_KEY_ADD_OFFSETS_TO_TXN, v, v >= add_offsets_to_txn::FIRST_FLEXIBLE_VERSION, TxnRequest::AddOffsets, "AddOffsetsToTxn")
            }
            Step::OffsetCommit => {
                let Some(v) = tv.txn_offset_commit else { return self.txn_fatal(missing("TxnOffsetCommit")) };
                let v = if tv2 { v } else { v.min(txn_offset_commit::MAX_VERSION_TV1) };
                (messages::API_KEY_TXN_OFFSET_COMMIT, v, v >= txn_offset_commit::FIRST_FLEXIBLE_VERSION, TxnRequest::TxnOffsetCommit, "TxnOffsetCommit")
            }
            Step::EndTxn => {
                let Some(v) = tv.end_txn else { return self.txn_fatal(missing("EndTxn")) };
                let v = if tv2 { v } else { v.min(end_txn::FIRST_EPOCH_BUMP_VERSION - 1) };
                (messages::API_KEY_END_TXN, v, v >= end_txn::FIRST_FLEXIBLE_VERSION, TxnRequest::EndTxn, "EndTxn")
            }
            Step::Drain => return,
        };
        let buf = c.write_buffer();
        let start = buf.len();
        let frame = messages::begin_request(buf, api_key, v, corr, &client_id, flexible);
        match (step, &job) {
            (Step::InitPid, _) => init_producer_id::InitProducerIdRequest { transactional_id: Some(txn_id.to_string()), transaction_timeout_ms: timeout_ms, producer_id: pid, producer_epoch: epoch }.encode(buf, v),
            (Step::AddOffsets, Some(Job::Offsets { group, .. })) => {
                add_offsets_to_txn::AddOffsetsToTxnRequest { transactional_id: txn_id.to_string(), producer_id: pid, producer_epoch: epoch, group_id: group.group_id.clone() }.encode(buf, v)
            }
            (Step::OffsetCommit, Some(Job::Offsets { group, offsets })) => txn_offset_commit::TxnOffsetCommitRequest {
                transactional_id: txn_id.to_string(),
                group_id: group.group_id.clone(),
                producer_id: pid,
                producer_epoch: epoch,
                generation_id: group.generation_id,
                member_id: group.member_id.clone(),
                group_instance_id: group.group_instance_id.clone(),
                topics: offsets
                    .iter()
                    .map(|(t, ps)| {
                        let parts = ps
                            .iter()
                            .map(|(p, o)| txn_offset_commit::TxnOffsetCommitPartition { partition_index: *p, committed_offset: o.offset, committed_leader_epoch: o.leader_epoch.unwrap_or(-1), committed_metadata: o.metadata.clone() })
                            .collect();
                        (t.clone(), parts)
                    })
                    .collect(),
            }
            .encode(buf, v),
            (Step::EndTxn, Some(Job::End { commit })) => end_txn::EndTxnRequest { transactional_id: txn_id.to_string(), producer_id: pid, producer_epoch: epoch, committed: *commit }.encode(buf, v),
            _ => unreachable!("request for step {step:?} without its job"),
        }
        messages::finish_request(buf, frame);
        let n = buf.len() - start;
        c.push_request(Some(InFlight { correlation_id: corr, api_key, version: v, sent_at: now, kind: RequestKind::Txn(kind) }), n);
        self.txn.inflight = true;
        let role = if step == Step::OffsetCommit { "group" } else { "transaction" };
        self.waiting_on(format!("the answer to {what} v{v} from the {role} coordinator, broker {node} ({addr})"));
    }

    /// Transaction version 1: one AddPartitionsToTxn for every partition waiting, when none is
    /// out.
    fn maybe_add_partitions(&mut self, now: Instant) {
        if self.txn.tv2 || self.txn.adding || self.txn.pending.is_empty() || now < self.txn.add_retry_at {
            return;
        }
        if !matches!(self.inner.txn.lock().state, TxnState::InTransaction | TxnState::Committing) {
            return;
        }
        let Pid::Ready { id: pid, epoch } = self.pid.state else { return };
        let Some(node) = self.txn.coordinator else {
            let key = self.txn.id.as_deref().unwrap_or_default().to_string();
            self.find_coordinator(find_coordinator::KEY_TYPE_TRANSACTION, key, now);
            return;
        };
        let Some(token) = self.ready_connection(node, now) else {
            if self.net.reconnect.contains_key(&node) {
                self.txn.coordinator = None; // unreachable: FindCoordinator again
            }
            return;
        };
        let ids = std::mem::take(&mut self.txn.pending);
        let mut topics: Vec<(String, Vec<i32>)> = Vec::new();
        for id in &ids {
            let pq = &self.parts.get(*id).pq;
            match topics.iter_mut().find(|(t, _)| **t == *pq.topic) {
                Some((_, ps)) => ps.push(pq.partition),
                None => topics.push((pq.topic.to_string(), vec![pq.partition])),
            }
        }
        let corr = self.net.next_correlation();
        let client_id = self.inner.config.client_id.clone();
        let txn_id = self.txn.id.clone().expect("transactional").to_string();
        let c = self.net.conns.get_mut(&token).unwrap();
        let Some(v) = c.versions.txn.add_partitions else {
            let e = Error::kafka(KafkaCode::UNSUPPORTED_VERSION, format!("broker {node} ({}) does not support AddPartitionsToTxn v0-v3", c.addr)).into_fatal();
            return self.txn_fatal(e);
        };
        let buf = c.write_buffer();
        let start = buf.len();
        let frame = messages::begin_request(buf, messages::API_KEY_ADD_PARTITIONS_TO_TXN, v, corr, &client_id, v >= add_partitions_to_txn::FIRST_FLEXIBLE_VERSION);
        add_partitions_to_txn::AddPartitionsToTxnRequest { transactional_id: txn_id, producer_id: pid, producer_epoch: epoch, topics }.encode(buf, v);
        messages::finish_request(buf, frame);
        let n = buf.len() - start;
        c.push_request(Some(InFlight { correlation_id: corr, api_key: messages::API_KEY_ADD_PARTITIONS_TO_TXN, version: v, sent_at: now, kind: RequestKind::Txn(TxnRequest::AddPartitions(ids)) }), n);
        self.txn.adding = true;
    }

    /// A connection carrying a transactional request was lost.
    pub(super) fn txn_request_lost(&mut self, r: TxnRequest, node: i32) {
        match r {
            TxnRequest::FindCoordinator { .. } => self.txn.finding = None,
            TxnRequest::AddPartitions(ids) => {
                self.txn.adding = false;
                self.txn.pending.extend(ids);
                if self.txn.coordinator == Some(node) {
                    self.txn.coordinator = None;
                }
            }
            _ => {
                self.txn.inflight = false;
                if self.txn.coordinator == Some(node) {
                    self.txn.coordinator = None;
                }
                self.txn.groups.retain(|_, n| *n != node);
            }
        }
    }

    pub(super) fn on_txn_response(&mut self, token: Token, r: TxnRequest, version: i16, body: &[u8]) {
        let node = self.net.conns.get(&token).map(|c| c.node_id).unwrap_or(-1);
        let mut d = Decoder::new(body);
        let bad = |api: &str, e: &dyn std::fmt::Display| Error::kafka(KafkaCode::CORRUPT_MESSAGE, format!("undecodable {api} response from broker {node}: {e}"));
        match r {
            TxnRequest::FindCoordinator { key_type, key } => {
                self.txn.finding = None;
                let resp = match find_coordinator::FindCoordinatorResponse::decode(&mut d, version, &key) {
                    Ok(r) => r,
                    Err(e) => return self.job_retry(&bad("FindCoordinator", &e), None),
                };
                let Some(c) = resp.coordinators.into_iter().find(|c| c.key == key) else {
                    return self.job_retry(&Error::kafka(KafkaCode::UNKNOWN_SERVER_ERROR, "FindCoordinator response without our key"), None);
                };
                let code = KafkaCode(c.error_code);
                if !code.is_ok() {
                    let msg = format!("FindCoordinator for '{key}': {}", c.error_message.unwrap_or_else(|| code.description().to_string()));
                    let e = Error::kafka(code, msg);
                    if code == KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED {
                        return self.txn_fatal(e.into_fatal());
                    }
                    if code == KafkaCode::GROUP_AUTHORIZATION_FAILED {
                        return self.finish_job(Err(e.requiring_abort()));
                    }
                    return self.job_retry(&e, None);
                }
                let addr = crate::metadata::format_addr(&c.host, c.port as u16);
                self.net.brokers.entry(c.node_id).or_insert(addr);
                if key_type == find_coordinator::KEY_TYPE_TRANSACTION {
                    log::debug!("transaction coordinator of '{key}': broker {}", c.node_id);
                    self.txn.coordinator = Some(c.node_id);
                } else {
                    self.txn.groups.insert(key, c.node_id);
                }
            }
            TxnRequest::AddPartitions(ids) => {
                self.txn.adding = false;
                let resp = match add_partitions_to_txn::AddPartitionsToTxnResponse::decode(&mut d, version) {
                    Ok(r) => r,
                    Err(e) => {
                        self.txn.pending.extend(ids);
                        log::warn!("{}", bad("AddPartitionsToTxn", &e));
                        return;
                    }
                };
                let mut retry = Vec::new();
                let mut worst: Option<(KafkaCode, String)> = None;
                for id in ids {
                    let pq = self.parts.get(id).pq.clone();
                    let code = resp.results.iter().filter(|(t, _)| **t == *pq.topic).flat_map(|(_, ps)| ps.iter()).find(|(p, _)| *p == pq.partition).map(|(_, c)| KafkaCode(*c)).unwrap_or(KafkaCode::UNKNOWN_SERVER_ERROR);
                    if code.is_ok() {
                        // The coordinator now holds an open transaction: it must be ended.
                        self.txn.started = true;
                        self.txn.started_at.get_or_insert_with(Instant::now);
                        self.txn.added.insert(id);
                        self.parts.track(id);
                    } else {
                        retry.push(id);
                        if worst.is_none() || code != KafkaCode::OPERATION_NOT_ATTEMPTED {
                            worst = Some((code, format!("{}-{}", pq.topic, pq.partition)));
                        }
                    }
                }
                if let Some((code, part)) = worst {
                    let mut e = Error::kafka(code, format!("AddPartitionsToTxn for {part} to the transaction coordinator, broker {node}: {}", code.description()));
                    if matches!(code, KafkaCode::INVALID_PRODUCER_EPOCH | KafkaCode::PRODUCER_FENCED) {
                        e = fenced(code, e.message(), self.txn.id.as_deref().unwrap_or_default());
                    }
                    if is_fatal(code) {
                        return self.txn_fatal(e.into_fatal());
                    }
                    if coordinator_moved(code) {
                        self.txn.coordinator = None;
                    }
                    if code.is_retriable() || code == KafkaCode::OPERATION_NOT_ATTEMPTED {
                        self.txn.add_failures += 1;
                        let cfg = &self.inner.config;
                        let wait = if code == KafkaCode::CONCURRENT_TRANSACTIONS { CONCURRENT_TXN_BACKOFF } else { backoff(cfg.retry_backoff, cfg.retry_backoff_max, self.txn.add_failures) };
                        self.txn.add_retry_at = Instant::now() + wait;
                        log::debug!("{e}; retrying in {wait:?}");
                        self.txn.pending.extend(retry);
                    } else {
                        // TOPIC_AUTHORIZATION_FAILED and the like: the transaction cannot commit.
                        self.txn_abortable(e.requiring_abort());
                    }
                } else {
                    self.txn.add_failures = 0;
                }
            }
            TxnRequest::InitProducerId => {
                self.txn.inflight = false;
                let resp = match init_producer_id::InitProducerIdResponse::decode(&mut d, version) {
                    Ok(r) => r,
                    Err(e) => return self.job_retry(&bad("InitProducerId", &e), None),
                };
                let code = KafkaCode(resp.error_code);
                if !code.is_ok() {
                    return self.job_error(code, format!("InitProducerId for transactional id '{}'", self.txn.id.as_deref().unwrap_or_default()));
                }
                log::info!("transactional id '{}': producer id {} epoch {}", self.txn.id.as_deref().unwrap_or_default(), resp.producer_id, resp.producer_epoch);
                // A new id or epoch: every partition's sequences restart (and a pending bump is done).
                self.pid.granted(resp.producer_id, resp.producer_epoch);
                for ps in self.parts.iter_mut() {
                    ps.restart_sequences(resp.producer_id, resp.producer_epoch);
                }
                let c = self.net.conns.get(&token).map(|c| (c.versions.txn, c.versions.produce));
                if let Some((tv, produce)) = c {
                    self.txn.tv2 = tv.transaction_version >= 2 && tv.end_txn.is_some_and(|v| v >= end_txn::FIRST_EPOCH_BUMP_VERSION) && produce.is_some_and(|v| v >= 12);
                }
                log::info!("transactions use transaction version {}", if self.txn.tv2 { 2 } else { 1 });
                if matches!(self.txn.job, Some(Job::End { commit: false })) {
                    // The epoch bump of an abort: it aborted the transaction too.
                    self.end_transaction_done();
                }
                self.finish_job(Ok(()));
            }
            TxnRequest::AddOffsets => {
                self.txn.inflight = false;
                let resp = match add_offsets_to_txn::AddOffsetsToTxnResponse::decode(&mut d, version) {
                    Ok(r) => r,
                    Err(e) => return self.job_retry(&bad("AddOffsetsToTxn", &e), None),
                };
                let code = KafkaCode(resp.error_code);
                if !code.is_ok() {
                    return self.job_error(code, "AddOffsetsToTxn".to_string());
                }
                self.txn.started = true;
                self.txn.started_at.get_or_insert_with(Instant::now);
                self.txn.step = Step::OffsetCommit;
                self.txn.failures = 0;
            }
            TxnRequest::TxnOffsetCommit => {
                self.txn.inflight = false;
                let resp = match txn_offset_commit::TxnOffsetCommitResponse::decode(&mut d, version) {
                    Ok(r) => r,
                    Err(e) => return self.job_retry(&bad("TxnOffsetCommit", &e), None),
                };
                let failed = resp.topics.iter().flat_map(|(t, ps)| ps.iter().map(move |(p, c)| (t, *p, KafkaCode(*c)))).find(|(_, _, c)| !c.is_ok());
                if let Some((t, p, code)) = failed {
                    if coordinator_moved(code) {
                        self.txn.groups.retain(|_, n| *n != node);
                    }
                    return self.job_error(code, format!("TxnOffsetCommit of {t}-{p} to the group coordinator, broker {node}"));
                }
                self.txn.started = true;
                self.txn.started_at.get_or_insert_with(Instant::now);
                self.finish_job(Ok(()));
            }
            TxnRequest::EndTxn => {
                self.txn.inflight = false;
                let resp = match end_txn::EndTxnResponse::decode(&mut d, version) {
                    Ok(r) => r,
                    Err(e) => return self.job_retry(&bad("EndTxn", &e), None),
                };
                let code = KafkaCode(resp.error_code);
                if !code.is_ok() {
                    let what = format!("EndTxn ({}) to the transaction coordinator, broker {node}", if matches!(self.txn.job, Some(Job::End { commit: true })) { "commit" } else { "abort" });
                    let hint = match code {
                        KafkaCode::INVALID_PRODUCER_EPOCH | KafkaCode::PRODUCER_FENCED | KafkaCode::INVALID_TXN_STATE => self.txn.expired_hint().unwrap_or_default(),
                        _ => String::new(),
                    };
                    if !hint.is_empty() && self.txn.tv2 && matches!(self.txn.job, Some(Job::End { commit: true })) {
                        // Transaction version 2: the coordinator takes the abort of the epoch it
                        // bumped at the expiry, so the producer may go on (a fence since then
                        // shows in that abort's answer).
                        let e = Error::kafka(code, format!("{what}: {}{hint}; call abort_transaction to go on", code.description())).requiring_abort();
                        self.txn_abortable(e.clone());
                        return self.finish_job(Err(e));
                    }
                    return self.job_error_hint(code, what, &hint);
                }
                if version >= end_txn::FIRST_EPOCH_BUMP_VERSION && resp.producer_id >= 0 {
                    // Transaction version 2: the next transaction runs under a new epoch.
                    self.pid.granted(resp.producer_id, resp.producer_epoch);
                    for ps in self.parts.iter_mut() {
                        ps.restart_sequences(resp.producer_id, resp.producer_epoch);
                    }
                }
                self.end_transaction_done();
                self.finish_job(Ok(()));
            }
        }
    }

    fn end_transaction_done(&mut self) {
        self.txn.added.clear();
        self.txn.pending.clear();
        self.txn.started = false;
        self.txn.started_at = None;
    }

    /// An error code answered the current job's request.
    fn job_error(&mut self, code: KafkaCode, what: String) {
        self.job_error_hint(code, what, "")
    }

    /// `job_error` with a diagnosis appended to the message.
    fn job_error_hint(&mut self, code: KafkaCode, what: String, hint: &str) {
        let e = Error::kafka(code, format!("{what}: {}{hint}", code.description()));
        if matches!(code, KafkaCode::INVALID_PRODUCER_EPOCH | KafkaCode::PRODUCER_FENCED) {
            // The Java client: an older coordinator may still answer INVALID_PRODUCER_EPOCH.
            let e = if hint.is_empty() { fenced(code, e.message(), self.txn.id.as_deref().unwrap_or_default()) } else { Error::kafka(KafkaCode::PRODUCER_FENCED, e.message()) };
            return self.txn_fatal(e);
        }
        if is_fatal(code) {
            return self.txn_fatal(e.into_fatal());
        }
        if coordinator_moved(code) {
            if self.txn.step != Step::OffsetCommit {
                self.txn.coordinator = None;
            }
            return self.job_retry(&e, None);
        }
        if code == KafkaCode::CONCURRENT_TRANSACTIONS {
            return self.job_retry(&e, Some(CONCURRENT_TXN_BACKOFF));
        }
        if code.is_retriable() {
            return self.job_retry(&e, None);
        }
        match self.txn.job {
            // Offsets that cannot be committed (a rebalance fenced this consumer, an
            // unauthorized group, TRANSACTION_ABORTABLE...): the transaction must abort.
            Some(Job::Offsets { .. }) | Some(Job::End { commit: true }) => {
                let e = e.requiring_abort();
                self.txn_abortable(e.clone());
                self.finish_job(Err(e));
            }
            _ => self.txn_fatal(e.into_fatal()),
        }
    }

    /// Retry the current step after a backoff (the calling thread's timeout bounds the wait).
    fn job_retry(&mut self, e: &Error, wait: Option<Duration>) {
        self.txn.inflight = false;
        self.txn.failures += 1;
        let cfg = &self.inner.config;
        let wait = wait.unwrap_or_else(|| backoff(cfg.retry_backoff, cfg.retry_backoff_max, self.txn.failures));
        self.txn.retry_at = Instant::now() + wait;
        log::debug!("transactions: {e}; retrying in {wait:?}");
        self.waiting_on(format!("a retry after {e}"));
    }

    /// The current job is over: its result goes to the waiting call, with the state it leads to.
    fn finish_job(&mut self, r: Result<(), Error>) {
        let Some(job) = self.txn.job.take() else { return };
        self.txn.inflight = false;
        let txn = &self.inner.txn;
        let mut cell = txn.lock();
        let next = match (&job, &r) {
            (_, Err(_)) => None,
            (Job::Init, Ok(())) | (Job::End { .. }, Ok(())) => Some(TxnState::Ready),
            (Job::Offsets { .. }, Ok(())) => None,
        };
        if let Some(s) = next {
            if cell.state != TxnState::FatalError {
                txn.set_state(&mut cell, s);
            }
        }
        if r.is_ok() && matches!(job, Job::End { .. }) {
            cell.error = None;
        }
        cell.result = Some(r);
        // `job_taken` stays set: the job is done; the calling thread clears `job` when it takes
        // the result, and only a new job is taken again.
        txn.cv.notify_all();
    }

    /// The transaction cannot commit: the first such error is kept, the state becomes
    /// `AbortableError` (unless already aborting or fatal).
    pub(super) fn txn_abortable(&mut self, e: Error) {
        let txn = &self.inner.txn;
        let mut cell = txn.lock();
        if matches!(cell.state, TxnState::InTransaction | TxnState::Committing) {
            cell.error.get_or_insert(e);
            txn.set_state(&mut cell, TxnState::AbortableError);
        }
    }

    /// A send of the transaction failed (a delivery report with an error): the transaction
    /// cannot commit.
    pub(super) fn txn_send_failed(&mut self, e: &Error) {
        if !self.txn.enabled() || e.is_local(LocalCode::PurgedQueue) {
            return;
        }
        let msg = format!("a record of the transaction could not be sent: {}", e.message());
        let first = match e.code() {
            crate::error::Code::Kafka(k) => Error::kafka(k, msg),
            crate::error::Code::Local(l) => Error::local(l, msg),
        };
        self.txn_abortable(first.requiring_abort());
    }

    /// The producer cannot go on: every call fails with `e` from now on.
    pub(super) fn txn_fatal(&mut self, e: Error) {
        self.set_fatal(e.into_fatal());
    }

    /// Called by `set_fatal` (whatever the cause): the state becomes `FatalError` and a call
    /// waiting for a job gets the error.
    pub(super) fn txn_on_fatal(&mut self, e: &Error) {
        if !self.txn.enabled() {
            return;
        }
        self.txn.job = None;
        self.txn.inflight = false;
        let txn = &self.inner.txn;
        let mut cell = txn.lock();
        let e = e.clone().into_fatal();
        cell.error = Some(e.clone());
        txn.set_state(&mut cell, TxnState::FatalError);
        if cell.job.is_some() && cell.result.is_none() {
            cell.result = Some(Err(e));
            cell.job_taken = true;
        }
        txn.cv.notify_all();
    }

    /// A produce answer that a transactional producer handles itself: Some(the error to fail
    /// the batch with) when handled here.
    ///
    /// INVALID_PRODUCER_EPOCH (the partition leader's word for a stale epoch; since KIP-890 it
    /// also turns the coordinator's PRODUCER_FENCED into it) means one of two things:
    /// - the transaction was open past `transaction.timeout.ms`, and the coordinator aborted it
    ///   and bumped the epoch. With transaction version 2 the coordinator still takes the abort
    ///   of the old epoch, so (as the Java client since KIP-890) the transaction is abortable:
    ///   `abort_transaction` ends it and the next transaction runs under the new epoch; if a
    ///   newer producer fenced this one meanwhile, that abort fails with PRODUCER_FENCED;
    /// - otherwise a newer producer with the same transactional.id fenced this one: reported as
    ///   PRODUCER_FENCED, fatal, as the Java client reports `ProducerFencedException`.
    pub(super) fn txn_batch_error(&mut self, code: KafkaCode, err: &Error) -> Option<Error> {
        if self.txn.enabled() && matches!(code, KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER | KafkaCode::UNKNOWN_PRODUCER_ID) {
            // The partition's sequence is lost: this transaction cannot commit; its abort bumps
            // the epoch (InitProducerId) so that the next one can.
            self.txn_abortable(err.clone().requiring_abort());
            return None;
        }
        if !self.txn.enabled() || !matches!(code, KafkaCode::PRODUCER_FENCED | KafkaCode::INVALID_PRODUCER_EPOCH | KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED) {
            return None;
        }
        if code == KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED {
            let e = err.clone().into_fatal();
            self.txn_fatal(e.clone());
            return Some(e);
        }
        if let Some(expired) = self.txn.expired_hint() {
            if self.txn.tv2 {
                let e = Error::kafka(code, format!("{}{expired}; call abort_transaction to go on", err.message())).requiring_abort();
                self.txn_abortable(e.clone());
                return Some(e);
            }
            let e = Error::kafka(KafkaCode::PRODUCER_FENCED, format!("{}{expired}, which fences this producer (transaction version 1)", err.message())).into_fatal();
            self.txn_fatal(e.clone());
            return Some(e);
        }
        let e = fenced(code, err.message(), self.txn.id.as_deref().unwrap_or_default()).into_fatal();
        self.txn_fatal(e.clone());
        Some(e)
    }
}

impl TxnManager {
    /// When the transaction has been open longer than `transaction.timeout.ms`: the words that
    /// say the coordinator aborted it for that.
    fn expired_hint(&self) -> Option<String> {
        let open = self.started_at?.elapsed().as_millis();
        (open >= self.timeout_ms as u128).then(|| {
            format!("; the transaction was open {open} ms, longer than transaction.timeout.ms ({} ms): the coordinator aborted it and bumped the epoch", self.timeout_ms)
        })
    }
}

/// PRODUCER_FENCED for a stale epoch, whichever of PRODUCER_FENCED and INVALID_PRODUCER_EPOCH
/// the broker answered (the Java client reports both as `ProducerFencedException`).
fn fenced(code: KafkaCode, message: &str, id: &str) -> Error {
    let answered = if code == KafkaCode::PRODUCER_FENCED { String::new() } else { format!(" (the broker answered {})", code.name()) };
    Error::kafka(KafkaCode::PRODUCER_FENCED, format!("{message}{answered}; a newer producer with transactional.id '{id}' fenced this one"))
}
