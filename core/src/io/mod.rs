//! The I/O thread: one per producer. It owns every broker connection (driven by one mio `Poll`),
//! the cluster metadata, the producer id, and every batch from drain to report.
//!
//! Each turn of the loop: serve socket events and the responses they complete; pick up partitions
//! that senders activated; refresh metadata or the producer id when needed; expire what passed
//! `delivery.timeout.ms`; drain ready partitions into one Produce request per broker; write.
//! A partition is ready when its queue holds `batch.size` bytes, when its oldest record has
//! lingered `linger.ms`, or at once while `flush()` waits, a sender is blocked on memory, or the
//! producer is closing.
//!
//! Ordering: per partition, batches are numbered (sequence numbers with idempotence) in queue
//! order. When one fails and will be retried, the partition sends nothing new until every batch it
//! has in flight has come back; then it re-sends the failed ones in sequence order. So retries
//! neither reorder nor (with idempotence) duplicate.

pub(crate) mod batch;
pub(crate) mod compressor;
pub(crate) mod connection;
pub(crate) mod sasl;

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token, Waker};

use crate::accumulator::{PartitionQueue, PendingRecord, TopicState};
use crate::clock;
use crate::config::Acks;
use crate::delivery::{DeliveryJob, Outcome};
use crate::error::{Error, LocalCode};
use crate::metadata::{format_addr, ClusterMetadata, MetadataQuery};
use crate::partitioner::StickyPartitioner;
use crate::shared::Inner;
use crate::protocol::error_codes::KafkaCode;
use crate::protocol::messages::{self, init_producer_id, metadata, produce};
use crate::protocol::primitives::Decoder;
use crate::protocol::record_batch::RECORD_BATCH_OVERHEAD;
use batch::ProducerBatch;
use compressor::CompressorPool;
use connection::{ConnState, Connection, InFlight, RequestKind, Response};

pub(crate) const WAKER_TOKEN: Token = Token(0);

/// Batches a partition may have in flight with idempotence: the broker remembers the last five.
const MAX_INFLIGHT_PER_PARTITION_IDEMPOTENT: usize = 5;
/// Batches a partition may have sealed (compressing, or compressed and waiting to be sent)
/// ahead of what it sends.
const MAX_SEALED_AHEAD: usize = 4;
/// How often queued records are checked against `delivery.timeout.ms`.
const EXPIRY_SWEEP: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Pid {
    /// Idempotence off.
    Off,
    Needed,
    Requesting,
    Ready { id: i64, epoch: i16 },
}

struct PartState {
    pq: Arc<PartitionQueue>,
    /// Leader broker id; -1 while unknown.
    leader: i32,
    /// In `IoThread::tracked`.
    tracked: bool,
    /// We hold the queue's active flag (see the accumulator's protocol).
    active: bool,
    /// When the current linger window started.
    linger_start_ns: Option<u64>,
    /// A record popped that did not fit the last batch; it goes first into the next.
    carry: Option<PendingRecord>,
    /// Batches to send again, in sequence order.
    retry: VecDeque<ProducerBatch>,
    backoff_until_ns: u64,
    inflight: usize,
    next_seq: i32,
    /// The sequence after the last acknowledged batch (idempotence).
    acked_next: i32,
    /// A batch of this partition failed for good: sequences past it will be refused until the
    /// epoch is bumped, so out-of-order answers meanwhile are retried, not reported.
    needs_reset: bool,
    /// Compression: batches at the compression threads.
    sealing: usize,
    /// Compression: compressed batches not sent yet, in `seal_no` order; never sent before an
    /// earlier seal number, so sequence numbers (given when first sent) follow queue order.
    sealed: VecDeque<ProducerBatch>,
    next_seal: u64,
    next_send_seal: u64,
    /// After the broker refused a batch as too large: the most uncompressed record bytes a new
    /// batch of this partition takes (`usize::MAX` until then).
    split_cap: usize,
    /// A batch of this partition was acknowledged under the current producer epoch, so the
    /// broker checks our sequences. Until then a broker that holds no state for us accepts any
    /// first sequence: if batch 1 were refused (say NOT_LEADER_OR_FOLLOWER) and batch 2 taken,
    /// batch 1 could never be written after it. So until confirmed, one batch is in flight.
    confirmed: bool,
}

impl PartState {
    fn has_queued(&self) -> bool {
        self.carry.is_some() || !self.pq.is_empty()
    }
    /// Batches sealed and not sent yet (compression).
    fn has_sealed(&self) -> bool {
        self.sealing > 0 || !self.sealed.is_empty()
    }
    /// The next compressed batch to send, if it is back from compression.
    fn sendable_sealed(&self) -> Option<&ProducerBatch> {
        self.sealed.front().filter(|b| b.seal_no == self.next_send_seal)
    }
    /// The records of every sealed, unsent batch, in order (only while none is compressing).
    fn take_sealed_records(&mut self) -> Vec<PendingRecord> {
        debug_assert_eq!(self.sealing, 0);
        self.next_send_seal = self.next_seal;
        self.sealed.drain(..).flat_map(|b| b.records).collect()
    }
    fn queued_bytes(&self) -> usize {
        self.pq.queued_bytes.load(Ordering::Relaxed) + self.carry.as_ref().map_or(0, |r| r.body().len())
    }
}

#[derive(Default)]
struct MetadataState {
    last_refresh: Option<Instant>,
    needed: bool,
    inflight: bool,
    last_request: Option<Instant>,
}

struct ReconnectState {
    until: Instant,
    failures: u32,
    last_error: String,
}

pub(crate) struct IoThread {
    inner: Arc<Inner>,
    poll: Poll,
    conns: HashMap<Token, Connection>,
    node_conn: HashMap<i32, Token>,
    next_token: usize,
    bootstrap: Vec<String>,
    brokers: HashMap<i32, String>,
    reconnect: HashMap<i32, ReconnectState>,
    parts: Vec<Option<PartState>>,
    /// Partitions with queued records, carried records or batches to retry.
    tracked: Vec<usize>,
    next_pq_id: usize,
    correlation: i32,
    meta: MetadataState,
    pid: Pid,
    /// After a retriable InitProducerId error: not before this, and how many tries so far.
    pid_retry: (Instant, u32),
    epoch_bump_pending: bool,
    delivery_tx: crossbeam_channel::Sender<DeliveryJob>,
    last_sweep: Instant,
    rotate: usize,
    /// Topic names the I/O thread keeps metadata for.
    topics_of_interest: HashSet<Arc<str>>,
    /// `Producer::metadata()` queries not sent yet, and those in flight by id.
    queries: VecDeque<MetadataQuery>,
    queries_inflight: HashMap<u64, MetadataQuery>,
    next_query_id: u64,
    /// Compression threads (`compression.threads` > 0 and a codec set).
    compressor: Option<CompressorPool>,
}

impl IoThread {
    pub fn new(inner: Arc<Inner>, poll: Poll, delivery_tx: crossbeam_channel::Sender<DeliveryJob>) -> IoThread {
        let bootstrap = inner.config.bootstrap_servers.iter().map(|(h, p)| format_addr(h, *p)).collect();
        let pid = if inner.config.enable_idempotence { Pid::Needed } else { Pid::Off };
        let cfg = &inner.config;
        let compressor = if cfg.compression.is_none() || cfg.compression_threads == 0 {
            None
        } else {
            match CompressorPool::start(cfg.compression_threads, cfg.compression, inner.clone()) {
                Ok(p) => Some(p),
                Err(e) => {
                    log::error!("cannot start compression threads ({e}); compressing on the I/O thread");
                    None
                }
            }
        };
        IoThread {
            inner,
            poll,
            conns: HashMap::new(),
            node_conn: HashMap::new(),
            next_token: 1,
            bootstrap,
            brokers: HashMap::new(),
            reconnect: HashMap::new(),
            parts: Vec::new(),
            tracked: Vec::new(),
            next_pq_id: 0,
            correlation: 1,
            meta: MetadataState { needed: true, ..Default::default() },
            pid,
            pid_retry: (Instant::now(), 0),
            epoch_bump_pending: false,
            delivery_tx,
            last_sweep: Instant::now(),
            rotate: 0,
            topics_of_interest: HashSet::new(),
            queries: VecDeque::new(),
            queries_inflight: HashMap::new(),
            next_query_id: 0,
            compressor,
        }
    }

    pub fn new_waker(poll: &Poll) -> std::io::Result<Waker> {
        Waker::new(poll.registry(), WAKER_TOKEN)
    }

    /// The loop. Returns when the producer has shut down and everything was reported.
    pub fn run(mut self) {
        let mut events = Events::with_capacity(256);
        let mut responses = Vec::new();
        let mut timeout = Some(Duration::from_millis(0));
        loop {
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    log::error!("poll failed: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            self.inner.wake_pending.store(false, Ordering::SeqCst);
            let now = Instant::now();
            for ev in events.iter() {
                let token = ev.token();
                if token == WAKER_TOKEN {
                    continue;
                }
                let client_id = self.inner.config.client_id.clone();
                let result = match self.conns.get_mut(&token) {
                    Some(c) => c.on_ready(&client_id, &mut responses),
                    None => continue,
                };
                for r in responses.drain(..) {
                    self.handle_response(token, r, now);
                }
                if let Err(e) = result {
                    let tls_failed = self.conns.get(&token).is_some_and(|c| c.tls_failed);
                    self.close_connection(token, &e.0, now);
                    if tls_failed {
                        // An untrusted or misnamed certificate does not fix itself: fail fast.
                        self.set_fatal(Error::kafka(KafkaCode(58), e.0));
                    }
                }
            }
            self.absorb_activations();
            self.absorb_compressed();
            self.handle_requests(now);
            self.check_connections(now);
            self.maybe_request_metadata(now);
            self.send_metadata_queries(now);
            self.maybe_request_pid(now);
            if now.duration_since(self.last_sweep) >= EXPIRY_SWEEP {
                self.last_sweep = now;
                self.expire(now);
            }
            let mut next = now + Duration::from_secs(1);
            self.send_ready(now, &mut next);
            self.flush_all(now);
            if self.inner.shutdown.load(Ordering::SeqCst) {
                // Forced: requests in flight are abandoned (their records reported as closed,
                // possibly stored), so that close() keeps its timeout.
                let tokens: Vec<Token> = self.conns.keys().copied().collect();
                for t in tokens {
                    self.close_connection(t, "the producer is closing", now);
                }
                self.fail_everything(&Error::local(LocalCode::Closed, "the producer was closed before the record was delivered"));
                if self.everything_done() {
                    break;
                }
                next = now + Duration::from_millis(10);
            }
            timeout = Some(next.saturating_duration_since(Instant::now()));
        }
        for (_, mut c) in self.conns.drain() {
            c.deregister(self.poll.registry());
        }
        log::debug!("I/O thread stopped");
    }

    // ---- partitions and topics -------------------------------------------------------------

    fn absorb_activations(&mut self) {
        while let Some(pq) = self.inner.activations.pop() {
            let id = pq.id;
            let now = clock::mono_ns();
            let ps = self.part_mut(id);
            ps.active = true;
            if ps.linger_start_ns.is_none() {
                ps.linger_start_ns = Some(now);
            }
            if !ps.tracked {
                ps.tracked = true;
                self.tracked.push(id);
            }
        }
    }

    fn part_mut(&mut self, id: usize) -> &mut PartState {
        self.parts[id].as_mut().expect("partition state exists for every queue")
    }

    /// Builds or updates the senders' view of a topic after metadata named its partitions.
    fn update_topic(&mut self, name: &str, leaders: &[(i32, i32)]) {
        let count = leaders.len();
        let registry = self.inner.topics.load();
        let existing = registry.get(name).cloned();
        let name: Arc<str> = existing.as_ref().map(|t| t.name.clone()).unwrap_or_else(|| Arc::from(name));
        self.topics_of_interest.insert(name.clone());
        let mut partitions: Vec<Arc<PartitionQueue>> = existing.as_ref().map(|t| t.partitions.clone()).unwrap_or_default();
        let grew = partitions.len() < count;
        while partitions.len() < count {
            let id = self.next_pq_id;
            self.next_pq_id += 1;
            let pq = Arc::new(PartitionQueue::new(id, name.clone(), partitions.len() as i32));
            if self.parts.len() <= id {
                self.parts.resize_with(id + 1, || None);
            }
            self.parts[id] = Some(PartState {
                pq: pq.clone(),
                leader: -1,
                tracked: false,
                active: false,
                linger_start_ns: None,
                carry: None,
                retry: VecDeque::new(),
                backoff_until_ns: 0,
                inflight: 0,
                next_seq: 0,
                acked_next: 0,
                needs_reset: false,
                sealing: 0,
                sealed: VecDeque::new(),
                next_seal: 0,
                next_send_seal: 0,
                split_cap: usize::MAX,
                confirmed: false,
            });
            partitions.push(pq);
        }
        for &(p, leader) in leaders {
            if let Some(pq) = usize::try_from(p).ok().and_then(|i| partitions.get(i)) {
                self.parts[pq.id].as_mut().unwrap().leader = leader;
            }
        }
        if grew {
            let sticky = existing.as_ref().map(|t| t.sticky.clone()).unwrap_or_else(|| Arc::new(StickyPartitioner::new()));
            let state = Arc::new(TopicState { name: name.clone(), partitions, sticky });
            let mut map = (**registry).clone();
            map.insert(name, state);
            self.inner.topics.store(Arc::new(map));
            self.inner.topics_generation.fetch_add(1, Ordering::Release);
        }
    }

    // ---- requests from application threads ------------------------------------------------

    fn handle_requests(&mut self, now: Instant) {
        {
            let mut w = self.inner.meta.lock().unwrap_or_else(|e| e.into_inner());
            if !w.wanted.is_empty() || w.refresh {
                self.meta.needed = true;
                w.refresh = false;
            }
            for t in w.wanted.iter() {
                if !self.topics_of_interest.iter().any(|k| &**k == t.as_str()) {
                    self.topics_of_interest.insert(Arc::from(t.as_str()));
                }
            }
        }
        if self.inner.purge_requested.load(Ordering::SeqCst) {
            // Activations first: a record pushed just before purge() must be purged too.
            self.absorb_activations();
            self.purge_queues();
            // purge() waits for this: once it returns, what was queued is reported as purged.
            self.inner.purge_requested.store(false, Ordering::SeqCst);
        }
        if self.inner.status_wanted.swap(false, Ordering::SeqCst) {
            let report = self.status_report(now);
            let mut s = self.inner.status.lock().unwrap_or_else(|e| e.into_inner());
            s.0 += 1;
            s.1 = report;
            self.inner.status_cv.notify_all();
        }
    }

    fn purge_queues(&mut self) {
        let err = Arc::new(Error::local(LocalCode::PurgedQueue, "purged from the queue by purge()"));
        for id in self.tracked.clone() {
            let ps = self.parts[id].as_mut().unwrap();
            // Only partitions with nothing in flight or waiting for retry: their queued records
            // are next in line, so failing them keeps reports in order.
            if ps.inflight > 0 || !ps.retry.is_empty() || ps.sealing > 0 {
                continue;
            }
            let mut recs: Vec<PendingRecord> = ps.take_sealed_records();
            recs.extend(ps.carry.take());
            let mut c = ps.pq.consumer();
            while let Some(r) = c.pop() {
                recs.push(r);
            }
            drop(c);
            if !recs.is_empty() {
                let pq = ps.pq.clone();
                self.deliver(pq, recs, Outcome::Err(err.clone()));
            }
        }
    }

    // ---- connections ----------------------------------------------------------------------

    fn connection_for(&mut self, node: i32, now: Instant) -> Option<Token> {
        if let Some(t) = self.node_conn.get(&node) {
            return Some(*t);
        }
        if self.reconnect.get(&node).is_some_and(|r| r.until > now) {
            return None;
        }
        if self.inner.fatal.get().is_some() {
            // Nothing can be sent after a fatal error (a refused authentication, say): opening
            // connections again would only hammer the broker.
            return None;
        }
        let addr = if node < 0 { self.bootstrap.get((-node - 1) as usize).cloned() } else { self.brokers.get(&node).cloned() }?;
        let token = Token(self.next_token);
        self.next_token += 1;
        let cfg = &self.inner.config;
        match Connection::connect(node, &addr, token, self.poll.registry(), cfg.send_buffer_bytes, cfg.receive_buffer_bytes, cfg.security.sasl.as_ref(), cfg.security.tls.as_ref()) {
            Ok(c) => {
                log::debug!("connecting to broker {node} at {addr}");
                self.conns.insert(token, c);
                self.node_conn.insert(node, token);
                Some(token)
            }
            Err(e) => {
                self.note_connect_failure(node, e.0, now);
                None
            }
        }
    }

    fn note_connect_failure(&mut self, node: i32, error: String, now: Instant) {
        let cfg = &self.inner.config;
        let r = self.reconnect.entry(node).or_insert(ReconnectState { until: now, failures: 0, last_error: String::new() });
        r.failures += 1;
        let backoff = backoff(cfg.reconnect_backoff, cfg.reconnect_backoff_max, r.failures);
        r.until = now + backoff;
        log::warn!("broker {node}: {error}; retrying in {backoff:?}");
        r.last_error = error;
    }

    fn ready_connection(&mut self, node: i32, now: Instant) -> Option<Token> {
        let t = self.connection_for(node, now)?;
        (self.conns.get(&t)?.state == ConnState::Ready).then_some(t)
    }

    /// Any connection able to take a metadata or InitProducerId request: a ready one with the
    /// fewest requests in flight, else one being opened (to a known broker or a bootstrap address).
    fn any_connection(&mut self, now: Instant) -> Option<Token> {
        if let Some((t, _)) = self.conns.iter().filter(|(_, c)| c.state == ConnState::Ready).min_by_key(|(_, c)| c.inflight.len()) {
            return Some(*t);
        }
        if self.conns.values().any(|c| c.state != ConnState::Ready) {
            return None; // one is on its way
        }
        let mut candidates: Vec<i32> = self.brokers.keys().copied().collect();
        candidates.extend((0..self.bootstrap.len() as i32).map(|i| -i - 1));
        if candidates.is_empty() {
            return None;
        }
        let start = fastrand::usize(..candidates.len());
        for i in 0..candidates.len() {
            let node = candidates[(start + i) % candidates.len()];
            if let Some(t) = self.connection_for(node, now) {
                let _ = t;
                return None; // connecting; used once ready
            }
        }
        None
    }

    fn close_connection(&mut self, token: Token, why: &str, now: Instant) {
        let Some(mut c) = self.conns.remove(&token) else { return };
        c.deregister(self.poll.registry());
        if self.node_conn.get(&c.node_id) == Some(&token) {
            self.node_conn.remove(&c.node_id);
        }
        let was_ready = c.state == ConnState::Ready;
        if was_ready && c.inflight.is_empty() && c.unacked.is_empty() {
            log::debug!("connection to broker {} ({}) closed: {why}", c.node_id, c.addr);
        } else {
            log::warn!("connection to broker {} ({}) failed with {} requests in flight: {why}", c.node_id, c.addr, c.inflight.len());
        }
        if was_ready {
            // A connection that worked and then dropped (a load balancer cutting idle
            // connections, a broker restart) is reopened at once when needed.
            self.reconnect.remove(&c.node_id);
        } else {
            self.note_connect_failure(c.node_id, why.to_string(), now);
        }
        self.meta.needed = true;
        let err = Error::kafka(KafkaCode::NETWORK_EXCEPTION, format!("connection to broker {} ({}) lost: {why}", c.node_id, c.addr));
        let mut failed = Vec::new();
        for f in c.inflight.drain(..) {
            match f.kind {
                RequestKind::Metadata => self.meta.inflight = false,
                // Asked again on another connection (until the query's deadline).
                RequestKind::MetadataQuery(id) => self.queries.extend(self.queries_inflight.remove(&id)),
                RequestKind::InitProducerId => {
                    if self.pid == Pid::Requesting {
                        self.pid = Pid::Needed;
                    }
                }
                RequestKind::ApiVersions | RequestKind::SaslHandshake | RequestKind::SaslAuthenticate => {}
                RequestKind::Produce(batches) => failed.extend(batches),
            }
        }
        for (_, batches) in c.unacked.drain(..) {
            failed.extend(batches);
        }
        for mut b in failed {
            b.maybe_written = true;
            let ps = self.part_mut(b.pq.id);
            ps.inflight -= 1;
            self.retry_or_fail(b, &err, true);
        }
    }

    /// Request timeouts and idle connections.
    fn check_connections(&mut self, now: Instant) {
        let cfg = &self.inner.config;
        let (req_timeout, idle, setup) = (cfg.request_timeout, cfg.connections_max_idle, cfg.socket_connection_setup_timeout);
        let mut dead = Vec::new();
        for (t, c) in self.conns.iter_mut() {
            if c.state != ConnState::Ready {
                if now.duration_since(c.connect_started) > setup {
                    dead.push((*t, format!("connection setup took longer than socket.connection.setup.timeout.ms ({} ms)", setup.as_millis())));
                }
            } else if let Some(f) = c.inflight.front() {
                if now.duration_since(f.sent_at) > req_timeout {
                    dead.push((*t, format!("request unanswered for request.timeout.ms ({} ms)", req_timeout.as_millis())));
                }
            } else if c.is_idle() && now.duration_since(c.last_activity) > idle {
                dead.push((*t, format!("idle for connections.max.idle.ms ({} ms)", idle.as_millis())));
            }
        }
        for (t, why) in dead {
            self.close_connection(t, &why, now);
        }
    }

    fn flush_all(&mut self, now: Instant) {
        let mut dead = Vec::new();
        let mut done = Vec::new();
        for (t, c) in self.conns.iter_mut() {
            if c.has_pending_writes() {
                if let Err(e) = c.flush() {
                    dead.push((*t, e.0));
                    continue;
                }
            }
            done.extend(c.take_written_unacked());
        }
        // acks=0: a batch is done once it is written; offsets are unknown (-1).
        for batches in done {
            for b in batches {
                self.part_mut(b.pq.id).inflight -= 1;
                self.deliver(b.pq, b.records, Outcome::Ok { base_offset: -1, log_append_time: -1 });
            }
        }
        for (t, why) in dead {
            self.close_connection(t, &why, now);
        }
    }

    fn next_correlation(&mut self) -> i32 {
        self.correlation = self.correlation.wrapping_add(1).max(1);
        self.correlation
    }

    // ---- metadata -------------------------------------------------------------------------

    fn maybe_request_metadata(&mut self, now: Instant) {
        let cfg = &self.inner.config;
        let stale = self.meta.last_refresh.is_none_or(|t| now.duration_since(t) >= cfg.metadata_max_age);
        if self.meta.inflight || !(self.meta.needed || stale) {
            return;
        }
        if self.meta.last_request.is_some_and(|t| now.duration_since(t) < cfg.retry_backoff) {
            return;
        }
        let Some(token) = self.any_connection(now) else { return };
        let topics: Vec<String> = self.topics_of_interest.iter().map(|t| t.to_string()).collect();
        let req = metadata::MetadataRequest { topics: Some(topics), allow_auto_topic_creation: true };
        if !self.push_metadata_request(token, &req, RequestKind::Metadata, now) {
            return;
        }
        log::debug!("metadata request for {} topic(s) to broker {}", req.topics.as_ref().map_or(0, |t| t.len()), self.conns[&token].node_id);
        self.meta.inflight = true;
        self.meta.needed = false;
        self.meta.last_request = Some(now);
    }

    fn on_metadata(&mut self, version: i16, body: &[u8], now: Instant) {
        self.meta.inflight = false;
        let resp = match metadata::MetadataResponse::decode(&mut Decoder::new(body), version) {
            Ok(r) => r,
            Err(e) => {
                log::warn!("bad Metadata response: {e}");
                self.meta.needed = true;
                return;
            }
        };
        self.meta.last_refresh = Some(now);
        for b in &resp.brokers {
            self.brokers.insert(b.node_id, format_addr(&b.host, b.port as u16));
        }
        let mut errors = Vec::new();
        let mut missing_leader = false;
        for t in &resp.topics {
            let Some(name) = t.name.as_deref() else { continue };
            let code = KafkaCode(t.error_code);
            if !code.is_ok() {
                errors.push((name.to_string(), code));
                continue;
            }
            let leaders: Vec<(i32, i32)> = t.partitions.iter().map(|p| (p.partition_index, p.leader_id)).collect();
            missing_leader |= leaders.iter().any(|(_, l)| *l < 0);
            self.update_topic(name, &leaders);
        }
        if missing_leader {
            self.meta.needed = true;
        }
        let mut w = self.inner.meta.lock().unwrap_or_else(|e| e.into_inner());
        let registry = self.inner.topics.load();
        w.wanted.retain(|t| !registry.contains_key(t.as_str()));
        for (name, code) in errors {
            if w.wanted.contains(&name) {
                w.errors.insert(name, Error::kafka(code, "metadata for the topic reports an error"));
                // Unknown topics may yet be auto-created: keep asking.
                self.meta.needed |= code == KafkaCode::UNKNOWN_TOPIC_OR_PARTITION || code == KafkaCode::LEADER_NOT_AVAILABLE;
            }
        }
        w.generation += 1;
        drop(w);
        self.inner.meta_cv.notify_all();
    }

    /// Sends the application's pending metadata queries, each on any ready connection; answers
    /// those past their deadline with `_TIMED_OUT`.
    fn send_metadata_queries(&mut self, now: Instant) {
        while let Some(q) = self.inner.meta_queries.pop() {
            self.queries.push_back(q);
        }
        let now_i = Instant::now();
        for q in std::mem::take(&mut self.queries) {
            if q.deadline <= now_i {
                let _ = q.reply.send(Err(Error::local(LocalCode::TimedOut, "no metadata answer within the timeout")));
            } else {
                self.queries.push_back(q);
            }
        }
        while let Some(q) = self.queries.pop_front() {
            let Some(token) = self.any_connection(now) else {
                self.queries.push_front(q);
                return;
            };
            let id = self.next_query_id;
            let req = metadata::MetadataRequest { topics: q.topics.clone(), allow_auto_topic_creation: false };
            if !self.push_metadata_request(token, &req, RequestKind::MetadataQuery(id), now) {
                self.queries.push_front(q);
                return;
            }
            self.next_query_id += 1;
            self.queries_inflight.insert(id, q);
        }
    }

    /// Queues a Metadata request on a ready connection; false when it cannot take one.
    fn push_metadata_request(&mut self, token: Token, req: &metadata::MetadataRequest, kind: RequestKind, now: Instant) -> bool {
        let corr = self.next_correlation();
        let client_id = self.inner.config.client_id.clone();
        let c = self.conns.get_mut(&token).unwrap();
        let Some(v) = c.versions.metadata else { return false };
        let buf = c.write_buffer();
        let start = buf.len();
        let frame = messages::begin_request(buf, messages::API_KEY_METADATA, v, corr, &client_id, v >= metadata::FIRST_FLEXIBLE_VERSION);
        req.encode(buf, v);
        messages::finish_request(buf, frame);
        let n = buf.len() - start;
        c.push_request(Some(InFlight { correlation_id: corr, api_key: messages::API_KEY_METADATA, version: v, sent_at: now, kind }), n);
        true
    }

    fn on_metadata_query(&mut self, token: Token, id: u64, version: i16, body: &[u8]) {
        let Some(q) = self.queries_inflight.remove(&id) else { return };
        let (node, addr) = self.conns.get(&token).map_or((-1, String::new()), |c| (c.node_id, c.addr.clone()));
        let answer = metadata::MetadataResponse::decode(&mut Decoder::new(body), version)
            .map(|resp| ClusterMetadata::from_response(resp, node, &addr))
            .map_err(|e| Error::local(LocalCode::Transport, format!("bad Metadata response from {addr}: {e}")));
        let _ = q.reply.send(answer);
    }

    // ---- producer id (idempotence) --------------------------------------------------------

    fn maybe_request_pid(&mut self, now: Instant) {
        let bump = self.epoch_bump_pending;
        if !(self.pid == Pid::Needed || (bump && matches!(self.pid, Pid::Ready { .. }))) {
            return;
        }
        if now < self.pid_retry.0 {
            return;
        }
        // An epoch bump waits until nothing is in flight: answers to the old epoch must be in.
        if bump && self.parts.iter().flatten().any(|p| p.inflight > 0) {
            return;
        }
        let Some(token) = self.any_connection(now) else { return };
        let corr = self.next_correlation();
        let client_id = self.inner.config.client_id.clone();
        let c = self.conns.get_mut(&token).unwrap();
        let Some(v) = c.versions.init_producer_id else {
            let e = Error::local(LocalCode::Fatal, format!("broker {} does not support InitProducerId, which idempotence needs; set enable.idempotence=false", c.addr));
            self.set_fatal(e);
            return;
        };
        let (pid, epoch) = match self.pid {
            Pid::Ready { id, epoch } if bump && v >= 3 => (id, epoch),
            _ => (-1, -1),
        };
        let buf = c.write_buffer();
        let start = buf.len();
        let frame = messages::begin_request(buf, messages::API_KEY_INIT_PRODUCER_ID, v, corr, &client_id, v >= init_producer_id::FIRST_FLEXIBLE_VERSION);
        init_producer_id::InitProducerIdRequest { transactional_id: None, transaction_timeout_ms: i32::MAX, producer_id: pid, producer_epoch: epoch }.encode(buf, v);
        messages::finish_request(buf, frame);
        let n = buf.len() - start;
        c.push_request(
            Some(InFlight { correlation_id: corr, api_key: messages::API_KEY_INIT_PRODUCER_ID, version: v, sent_at: now, kind: RequestKind::InitProducerId }),
            n,
        );
        self.pid = Pid::Requesting;
    }

    fn on_init_producer_id(&mut self, version: i16, body: &[u8]) {
        let resp = match init_producer_id::InitProducerIdResponse::decode(&mut Decoder::new(body), version) {
            Ok(r) => r,
            Err(e) => {
                log::warn!("bad InitProducerId response: {e}");
                self.pid = Pid::Needed;
                return;
            }
        };
        let code = KafkaCode(resp.error_code);
        if !code.is_ok() {
            if code.is_retriable() {
                let cfg = &self.inner.config;
                self.pid_retry.1 += 1;
                let wait = backoff(cfg.retry_backoff, cfg.retry_backoff_max, self.pid_retry.1);
                self.pid_retry.0 = Instant::now() + wait;
                log::info!("InitProducerId: {} (retrying in {wait:?})", code.name());
                // A failed bump asks for a fresh producer id instead, which resets sequences too.
                self.pid = Pid::Needed;
            } else {
                self.set_fatal(Error::kafka(code, "InitProducerId failed: idempotent producing is not possible"));
            }
            return;
        }
        self.pid_retry.1 = 0;
        log::info!("producer id {} epoch {}", resp.producer_id, resp.producer_epoch);
        self.pid = Pid::Ready { id: resp.producer_id, epoch: resp.producer_epoch };
        if self.epoch_bump_pending {
            self.epoch_bump_pending = false;
            // New epoch: every partition's sequence restarts at 0; batches waiting for retry are
            // renumbered in their order.
            for ps in self.parts.iter_mut().flatten() {
                ps.needs_reset = false;
                ps.confirmed = false;
                ps.acked_next = 0;
                let mut seq = 0i32;
                for b in ps.retry.iter_mut() {
                    b.producer_id = resp.producer_id;
                    b.producer_epoch = resp.producer_epoch;
                    b.base_sequence = seq;
                    seq = seq.wrapping_add(b.record_count());
                }
                ps.next_seq = seq;
            }
        }
    }

    fn set_fatal(&mut self, e: Error) {
        log::error!("fatal: {e}");
        let _ = self.inner.fatal.set(e.clone());
        self.inner.meta_cv.notify_all(); // senders waiting for metadata see it now
        self.pid = Pid::Off;
        self.fail_everything(&e);
    }

    // ---- draining and sending -------------------------------------------------------------

    /// Sends what is ready, as many requests per connection as `max.in.flight` allows: one
    /// round builds at most one request per broker, so rounds repeat until one sends nothing.
    /// (One request per wakeup left the pipeline at whatever depth it had: with a backlog queued,
    /// each response let one request go, and the broker idled while this thread waited for a CPU
    /// to read the next response.)
    fn send_ready(&mut self, now: Instant, next: &mut Instant) {
        // Each round adds at most one request per connection, so max.in.flight rounds fill them.
        for _ in 0..self.inner.config.max_in_flight.max(1) {
            if !self.send_ready_round(now, next) {
                break;
            }
        }
    }

    /// One round of `send_ready`; true when it sent a request.
    fn send_ready_round(&mut self, now: Instant, next: &mut Instant) -> bool {
        let idempotent = self.inner.config.enable_idempotence;
        let pid = match self.pid {
            Pid::Ready { id, epoch } => Some((id, epoch)),
            Pid::Off => None,
            _ => return false, // waiting for the producer id
        };
        if self.epoch_bump_pending {
            return false;
        }
        let cfg = &self.inner.config;
        let now_ns = clock::mono_ns();
        let linger_ns = cfg.linger.as_nanos() as u64;
        let urgent = self.inner.flush_requests.load(Ordering::SeqCst) > 0
            || self.inner.memory.has_waiters()
            || self.inner.closing.load(Ordering::SeqCst);
        let batch_size = cfg.batch_size.min(cfg.max_request_size);
        let max_in_flight = cfg.max_in_flight;
        let max_request = cfg.max_request_size;
        let compressing = !cfg.compression.is_none();

        // Which partitions have something to send, grouped by leader.
        let mut by_leader: HashMap<i32, Vec<usize>> = HashMap::new();
        let n = self.tracked.len();
        let start = if n == 0 { 0 } else { self.rotate % n };
        self.rotate = self.rotate.wrapping_add(1);
        let mut need_metadata = false;
        for k in 0..n {
            let id = self.tracked[(start + k) % n];
            let ps = self.parts[id].as_ref().unwrap();
            if ps.leader < 0 {
                need_metadata = true;
                continue;
            }
            // Ready to drain: a full batch, linger.ms passed, or someone waits.
            let lingered = ps.linger_start_ns.is_none_or(|t| now_ns >= t + linger_ns);
            let drain_ready = ps.has_queued() && (urgent || lingered || ps.queued_bytes() >= batch_size.min(ps.split_cap));
            if ps.has_queued() && !drain_ready {
                if let Some(t) = ps.linger_start_ns {
                    *next = (*next).min(clock::instant_of(t + linger_ns));
                }
            }
            if compressing && drain_ready {
                // Compressed batches are sealed ahead of sending, so that compressing one overlaps
                // sending the one before; they get their sequence numbers when first sent.
                self.seal_batches(id, batch_size, urgent, now_ns);
            }
            let ps = self.parts[id].as_ref().unwrap();
            let has_retry = !ps.retry.is_empty();
            if has_retry {
                if ps.inflight > 0 {
                    continue; // wait for every answer before re-sending in order
                }
                if ps.backoff_until_ns > now_ns {
                    *next = (*next).min(clock::instant_of(ps.backoff_until_ns));
                    continue;
                }
            } else {
                let ready = if compressing { ps.sendable_sealed().is_some() } else { drain_ready };
                if !ready {
                    continue;
                }
                let limit = if ps.confirmed { MAX_INFLIGHT_PER_PARTITION_IDEMPOTENT } else { 1 };
                if idempotent && ps.inflight >= limit {
                    continue;
                }
            }
            by_leader.entry(ps.leader).or_default().push(id);
        }
        if need_metadata {
            self.meta.needed = true;
        }

        let mut sent = false;
        for (leader, ids) in by_leader {
            let Some(token) = self.ready_connection(leader, now) else {
                log::trace!("{} partition(s) wait for a ready connection to broker {leader}", ids.len());
                continue;
            };
            let conn_inflight = self.conns[&token].inflight.len() + self.conns[&token].unacked.len();
            if conn_inflight >= max_in_flight {
                continue;
            }
            let mut batches = Vec::new();
            let mut size = 0usize;
            for id in ids {
                // The first batch of a request goes even when compression made it a little larger
                // than max.request.size allows: it would never fit better.
                let room = if batches.is_empty() { usize::MAX } else { max_request.saturating_sub(size + 256) };
                let Some(b) = self.take_batch(id, batch_size, room.min(max_request.saturating_sub(256)), room, pid, now_ns) else { continue };
                size += b.encoded_len + b.pq.topic.len() + 16;
                batches.push(b);
                if size + RECORD_BATCH_OVERHEAD >= max_request {
                    break;
                }
            }
            if !batches.is_empty() {
                self.send_produce(token, batches, now);
                sent = true;
            }
        }
        // Partitions drained empty give their active flag back.
        self.untrack_idle();
        sent
    }

    /// One new batch of partition `id`: at most `limit` bytes encoded (at least one record, if
    /// that one fits `room`) and `batch.num.messages` records, its totals counted as the records
    /// are popped. Restarts the linger window for what stays queued.
    fn drain_records(&mut self, id: usize, limit: usize, room: usize, now_ns: u64) -> Option<ProducerBatch> {
        let cap = self.inner.config.batch_num_messages;
        let ps = self.parts[id].as_mut().unwrap();
        let limit = limit.min(room).min(ps.split_cap.saturating_add(RECORD_BATCH_OVERHEAD));
        let mut records: Vec<PendingRecord> = Vec::new();
        let mut size = RECORD_BATCH_OVERHEAD;
        let (mut base_ts, mut max_ts, mut created_ns) = (0i64, i64::MIN, u64::MAX);
        let pq = ps.pq.clone();
        let mut queue = pq.consumer();
        loop {
            let Some(r) = ps.carry.take().or_else(|| queue.pop()) else { break };
            if records.is_empty() {
                base_ts = r.timestamp();
            }
            let len = crate::protocol::record_batch::record_len(r.timestamp() - base_ts, records.len() as i32, r.body().len());
            if !records.is_empty() && (size + len > limit || records.len() >= cap) {
                ps.carry = Some(r);
                break;
            }
            if records.is_empty() {
                if size + len > room {
                    ps.carry = Some(r);
                    return None;
                }
                // Room for the batch at once: growing a Vec of records copies them over and over.
                let queued = ps.pq.queued_bytes.load(Ordering::Relaxed) / r.body().len().max(1);
                records.reserve((limit / len + 1).min(queued + 1).min(cap));
            }
            size += len;
            max_ts = max_ts.max(r.timestamp());
            created_ns = created_ns.min(r.enqueued_ns());
            records.push(r);
        }
        drop(queue);
        if records.is_empty() {
            return None;
        }
        // The linger window restarts even when the queue was drained empty: a record pushed before
        // untrack_idle() deactivates the partition brings no activation, and an unset window
        // counts as lingered, so the next send_ready round would send that record alone.
        // untrack_idle() clears the window when the partition goes idle.
        ps.linger_start_ns = Some(now_ns);
        Some(ProducerBatch::with_totals(ps.pq.clone(), records, size, max_ts, created_ns))
    }

    /// Compression: seals batches of partition `id` (up to `MAX_SEALED_AHEAD` outstanding) and
    /// has them compressed, by the compression threads or, without them, here.
    fn seal_batches(&mut self, id: usize, batch_size: usize, urgent: bool, now_ns: u64) {
        loop {
            let ps = self.parts[id].as_ref().unwrap();
            if ps.sealing + ps.sealed.len() >= MAX_SEALED_AHEAD || !ps.has_queued() {
                return;
            }
            // After the first, only full batches (or everything, when someone waits).
            let first = ps.sealing + ps.sealed.len() == 0;
            if !first && !urgent && ps.queued_bytes() < batch_size.min(ps.split_cap) {
                return;
            }
            let Some(mut b) = self.drain_records(id, batch_size, usize::MAX, now_ns) else { return };
            let ps = self.parts[id].as_mut().unwrap();
            b.seal_no = ps.next_seal;
            ps.next_seal += 1;
            match &self.compressor {
                Some(pool) => {
                    ps.sealing += 1;
                    pool.submit(b);
                }
                None => {
                    b.compress(&self.inner.config.compression);
                    ps.sealed.push_back(b);
                }
            }
        }
    }

    /// Takes back what the compression threads finished, in each partition's seal order.
    fn absorb_compressed(&mut self) {
        let Some(pool) = &self.compressor else { return };
        while let Some(b) = pool.try_collect() {
            let ps = self.parts[b.pq.id].as_mut().unwrap();
            ps.sealing -= 1;
            let pos = ps.sealed.iter().position(|x| x.seal_no > b.seal_no).unwrap_or(ps.sealed.len());
            ps.sealed.insert(pos, b);
        }
    }

    /// The next batch of partition `id`: the first batch waiting for retry, else the next
    /// compressed batch, else a new one drained from the queue of at most `batch_size` bytes (at
    /// least one record). `room` bounds a new batch, `send_room` one already built.
    fn take_batch(&mut self, id: usize, batch_size: usize, room: usize, send_room: usize, pid: Option<(i64, i16)>, now_ns: u64) -> Option<ProducerBatch> {
        let compressing = !self.inner.config.compression.is_none();
        let ps = self.parts[id].as_mut().unwrap();
        if let Some(b) = ps.retry.front() {
            if b.encoded_len > send_room {
                return None;
            }
            let mut b = ps.retry.pop_front().unwrap();
            b.attempts += 1;
            ps.inflight += 1;
            return Some(b);
        }
        let mut b = if compressing {
            if ps.sendable_sealed()?.encoded_len > send_room {
                return None;
            }
            ps.next_send_seal += 1;
            ps.sealed.pop_front().unwrap()
        } else {
            self.drain_records(id, batch_size, room, now_ns)?
        };
        let ps = self.parts[id].as_mut().unwrap();
        if let Some((pid, epoch)) = pid {
            b.producer_id = pid;
            b.producer_epoch = epoch;
            b.base_sequence = ps.next_seq;
            ps.next_seq = ps.next_seq.wrapping_add(b.record_count()) & i32::MAX;
        }
        b.attempts = 1;
        ps.inflight += 1;
        Some(b)
    }

    fn send_produce(&mut self, token: Token, mut batches: Vec<ProducerBatch>, now: Instant) {
        batches.sort_by(|a, b| a.pq.topic.cmp(&b.pq.topic).then(a.pq.partition.cmp(&b.pq.partition)));
        let corr = self.next_correlation();
        let cfg = &self.inner.config;
        let acks = match cfg.acks {
            Acks::None => 0i16,
            Acks::Leader => 1,
            Acks::All => -1,
        };
        let timeout_ms = cfg.request_timeout.as_millis().min(i32::MAX as u128) as i32;
        let client_id = cfg.client_id.clone();
        let codec = cfg.compression.codec;
        let c = self.conns.get_mut(&token).unwrap();
        log::trace!(
            "produce request {corr} to broker {}: {} batch(es), {} record(s)",
            c.node_id,
            batches.len(),
            batches.iter().map(|b| b.records.len()).sum::<usize>()
        );
        let v = c.versions.produce.expect("ready connections have a Produce version");
        if v < codec.min_produce_version() {
            let e = Error::kafka(
                KafkaCode::UNSUPPORTED_COMPRESSION_TYPE,
                format!(
                    "compression.type={codec} needs Produce v{} (Kafka 2.1 or later), but broker {} ({}) speaks at most v{v}; choose another codec",
                    codec.min_produce_version(),
                    c.node_id,
                    c.addr
                ),
            );
            for b in batches {
                self.part_mut(b.pq.id).inflight -= 1;
                self.fail_batch(b, e.clone());
            }
            return;
        }
        let buf = c.write_buffer();
        let start = buf.len();
        let topic_count = count_runs(&batches);
        {
            let mut w = produce::ProduceRequestWriter::begin(buf, v, corr, &client_id, None, acks, timeout_ms, topic_count);
            let mut i = 0;
            while i < batches.len() {
                let topic = batches[i].pq.topic.clone();
                let j = i + batches[i..].iter().take_while(|b| b.pq.topic == topic).count();
                let group = &batches[i..j];
                w.topic(&topic, group.len(), |w| {
                    for b in group {
                        w.partition(b.pq.partition, b.encoded_len, |buf| b.encode(buf));
                    }
                });
                i = j;
            }
            w.finish();
        }
        let n = c.write_buffer().len() - start;
        if acks == 0 {
            c.push_request(None, n);
            let end = c.enqueued_bytes;
            c.unacked.push_back((end, batches));
        } else {
            c.push_request(
                Some(InFlight { correlation_id: corr, api_key: messages::API_KEY_PRODUCE, version: v, sent_at: now, kind: RequestKind::Produce(batches) }),
                n,
            );
        }
        if let Err(e) = c.flush() {
            self.close_connection(token, &e.0, now);
        }
    }

    fn untrack_idle(&mut self) {
        let mut i = 0;
        while i < self.tracked.len() {
            let id = self.tracked[i];
            let ps = self.parts[id].as_mut().unwrap();
            if ps.has_queued() || !ps.retry.is_empty() || ps.has_sealed() {
                i += 1;
                continue;
            }
            if ps.active {
                if !ps.pq.try_deactivate() {
                    i += 1; // records arrived meanwhile
                    continue;
                }
                ps.active = false;
            }
            ps.linger_start_ns = None;
            ps.tracked = false;
            self.tracked.swap_remove(i);
        }
    }

    // ---- responses ------------------------------------------------------------------------

    fn handle_response(&mut self, token: Token, r: Response, now: Instant) {
        match r.request.kind {
            RequestKind::ApiVersions => {
                let client_id = self.inner.config.client_id.clone();
                let Some(c) = self.conns.get_mut(&token) else { return };
                match c.on_api_versions(r.request.version, &r.body, &client_id) {
                    Ok(true) => {
                        let node = c.node_id;
                        log::debug!("broker {node} ({}) ready: {:?}", c.addr, c.versions);
                        self.reconnect.remove(&node);
                    }
                    Ok(false) => {}
                    Err(e) => self.close_connection(token, &e.0, now),
                }
            }
            RequestKind::SaslHandshake | RequestKind::SaslAuthenticate => self.on_sasl_response(token, r, now),
            RequestKind::Metadata => self.on_metadata(r.request.version, &r.body, now),
            RequestKind::MetadataQuery(id) => self.on_metadata_query(token, id, r.request.version, &r.body),
            RequestKind::InitProducerId => self.on_init_producer_id(r.request.version, &r.body),
            RequestKind::Produce(batches) => self.on_produce(r.request.version, &r.body, batches),
        }
    }

    /// A step of a connection's SASL exchange. A refusal is an authentication error: it is
    /// fatal (send() and every pending record get it at once, not a delivery timeout later), and
    /// the connection's failure backs off reconnects like any failed connection setup.
    fn on_sasl_response(&mut self, token: Token, r: Response, now: Instant) {
        let client_id = self.inner.config.client_id.clone();
        let Some(c) = self.conns.get_mut(&token) else { return };
        let step = match r.request.kind {
            RequestKind::SaslHandshake => c.on_sasl_handshake(r.request.version, &r.body, &client_id),
            _ => c.on_sasl_authenticate(r.request.version, &r.body, &client_id),
        };
        match step {
            Ok(connection::SaslOutcome::Continue) => {}
            Ok(connection::SaslOutcome::Done) => {
                let node = c.node_id;
                log::debug!("broker {node} ({}) authenticated and ready: {:?}", c.addr, c.versions);
                self.reconnect.remove(&node);
            }
            Ok(connection::SaslOutcome::Failed(why)) => {
                self.close_connection(token, &why, now);
                self.set_fatal(Error::kafka(KafkaCode(58), why));
            }
            Err(e) => self.close_connection(token, &e.0, now),
        }
    }

    fn on_produce(&mut self, version: i16, body: &[u8], batches: Vec<ProducerBatch>) {
        let resp = match produce::ProduceResponse::decode(&mut Decoder::new(body), version) {
            Ok(r) => r,
            Err(e) => {
                let err = Error::kafka(KafkaCode::CORRUPT_MESSAGE, format!("undecodable Produce response: {e}"));
                for mut b in batches {
                    b.maybe_written = true;
                    self.part_mut(b.pq.id).inflight -= 1;
                    self.retry_or_fail(b, &err, true);
                }
                return;
            }
        };
        for b in batches {
            self.part_mut(b.pq.id).inflight -= 1;
            let p = resp
                .topics
                .iter()
                .filter(|t| *t.name == *b.pq.topic)
                .flat_map(|t| t.partitions.iter())
                .find(|p| p.index == b.pq.partition);
            let Some(p) = p else {
                let err = Error::kafka(KafkaCode::UNKNOWN_SERVER_ERROR, "the Produce response left out this partition");
                self.retry_or_fail(b, &err, true);
                continue;
            };
            let code = KafkaCode(p.error_code);
            if code.is_ok() || code == KafkaCode::DUPLICATE_SEQUENCE_NUMBER {
                let ps = self.part_mut(b.pq.id);
                if b.base_sequence >= 0 {
                    ps.acked_next = b.base_sequence.wrapping_add(b.record_count()) & i32::MAX;
                    ps.confirmed = true;
                }
                let offset = if code.is_ok() { p.base_offset } else { -1 };
                self.deliver(b.pq.clone(), b.records, Outcome::Ok { base_offset: offset, log_append_time: p.log_append_time_ms });
                continue;
            }
            let mut msg = format!("broker refused the batch for {}-{}", b.pq.topic, b.pq.partition);
            if let Some(m) = &p.error_message {
                let _ = write!(msg, ": {m}");
            }
            let err = Error::kafka(code, msg);
            self.on_batch_error(b, code, &err);
        }
    }

    fn on_batch_error(&mut self, b: ProducerBatch, code: KafkaCode, err: &Error) {
        let ps = self.parts[b.pq.id].as_mut().unwrap();
        match code {
            KafkaCode::NOT_LEADER_OR_FOLLOWER | KafkaCode::LEADER_NOT_AVAILABLE | KafkaCode::UNKNOWN_TOPIC_OR_PARTITION | KafkaCode::FENCED_LEADER_EPOCH | KafkaCode::KAFKA_STORAGE_ERROR => {
                self.meta.needed = true;
                self.retry_or_fail(b, err, true);
            }
            KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER | KafkaCode::UNKNOWN_PRODUCER_ID | KafkaCode::INVALID_PRODUCER_EPOCH => {
                let first_unacked = b.base_sequence == ps.acked_next;
                let behind_acked = b.base_sequence >= 0 && seq_before(b.base_sequence, ps.acked_next, 0, 0);
                if behind_acked && !self.epoch_bump_pending {
                    // The broker holds a later sequence than this batch's (it took a later
                    // batch first): under this epoch the batch can never be written. A new
                    // epoch renumbers it; its records land after the later ones, not lost.
                    log::warn!("{err}: batch at sequence {} is behind the acknowledged {}; bumping the epoch to send it again", b.base_sequence, ps.acked_next);
                    ps.needs_reset = true;
                    self.epoch_bump_pending = true;
                    self.retry_or_fail(b, err, false);
                } else if !first_unacked || ps.needs_reset || self.epoch_bump_pending {
                    // An earlier batch failed: this one was refused only because of it.
                    self.retry_or_fail(b, err, false);
                } else if code == KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER {
                    // KIP-360: the broker lost track of what we sent; this batch fails (records
                    // before it may be lost), and a new epoch lets the partition go on.
                    log::warn!("{}: OUT_OF_ORDER_SEQUENCE_NUMBER for the first unacknowledged batch of {}-{}; bumping the epoch", err, b.pq.topic, b.pq.partition);
                    self.epoch_bump_pending = true;
                    self.fail_batch(b, err.clone());
                } else {
                    // KIP-360: the broker forgot our producer id (its state expired): bump the
                    // epoch and send the batch again under it.
                    log::info!("{} for {}-{}: bumping the producer epoch and retrying", code.name(), b.pq.topic, b.pq.partition);
                    self.epoch_bump_pending = true;
                    self.retry_or_fail(b, err, false);
                }
            }
            KafkaCode::MESSAGE_TOO_LARGE | KafkaCode::RECORD_LIST_TOO_LARGE if b.records.len() > 1 => self.split_batch(b, code),
            KafkaCode::MESSAGE_TOO_LARGE | KafkaCode::RECORD_LIST_TOO_LARGE => {
                let codec = self.inner.config.compression.codec;
                let e = Error::kafka(
                    code,
                    format!(
                        "the record is too large for {}-{}: alone in a batch it is {} bytes on the wire ({} uncompressed, compression.type={codec}), more than the broker accepts (the topic's max.message.bytes, or the broker's message.max.bytes); {err}",
                        b.pq.topic, b.pq.partition, b.encoded_len, b.records_len + RECORD_BATCH_OVERHEAD
                    ),
                );
                self.fail_batch(b, e);
            }
            _ if code.is_retriable() => self.retry_or_fail(b, err, false),
            _ => self.fail_batch(b, err.clone()),
        }
    }

    /// The broker refused a batch of several records as too large: send its records again in
    /// smaller batches, first in line for the partition, with the batch's sequence numbers (as
    /// the Java client does, and without counting a retry). The Java client splits into
    /// `batch.size` batches, which cannot help when `batch.size` itself is above the topic's
    /// limit; halving the refused batch always gets down to one record. Later batches of the
    /// partition are capped at the same size, so that they are not refused in turn.
    fn split_batch(&mut self, b: ProducerBatch, code: KafkaCode) {
        let cfg = &self.inner.config;
        let compression = cfg.compression;
        let max = (b.records_len / 2).max(1).min(cfg.batch_size);
        let ps = self.parts[b.pq.id].as_mut().unwrap();
        ps.split_cap = ps.split_cap.min(max);
        log::warn!(
            "{}: {} records ({} bytes on the wire) refused for {}-{}; splitting into batches of at most {max} bytes",
            code.name(),
            b.records.len(),
            b.encoded_len,
            b.pq.topic,
            b.pq.partition
        );
        let mut pieces = b.split(max);
        for p in pieces.iter_mut() {
            p.compress(&compression);
        }
        // Where the refused batch belongs among those waiting for retry (in sequence order), the
        // pieces in their order.
        let first = &pieces[0];
        let pos = ps.retry.iter().position(|x| seq_before(first.base_sequence, x.base_sequence, first.created_ns, x.created_ns)).unwrap_or(ps.retry.len());
        for (i, p) in pieces.into_iter().enumerate() {
            ps.retry.insert(pos + i, p);
        }
        let id = ps.pq.id;
        if !ps.tracked {
            ps.tracked = true;
            self.tracked.push(id);
        }
    }

    /// A batch failed in a way that may be retried: queue it for retry (partition order kept) or,
    /// with retries or `delivery.timeout.ms` used up, report the failure.
    fn retry_or_fail(&mut self, b: ProducerBatch, err: &Error, ambiguous: bool) {
        let cfg = &self.inner.config;
        let now_ns = clock::mono_ns();
        let deadline = b.created_ns + cfg.delivery_timeout.as_nanos() as u64;
        let shutting = self.inner.shutdown.load(Ordering::SeqCst);
        if shutting || now_ns >= deadline || b.attempts > cfg.retries {
            let e = if now_ns >= deadline {
                Error::local(
                    LocalCode::MessageTimedOut,
                    format!(
                        "not acknowledged within delivery.timeout.ms ({} ms) after {} attempt(s); last error: {err}",
                        cfg.delivery_timeout.as_millis(),
                        b.attempts
                    ),
                )
            } else if shutting {
                Error::local(LocalCode::Closed, format!("the producer closed while the batch awaited a retry; last error: {err}"))
            } else {
                err.clone()
            };
            let maybe = b.maybe_written || ambiguous;
            self.fail_batch(b, e.with_possibly_persisted(maybe));
            return;
        }
        let mut b = b;
        b.maybe_written |= ambiguous;
        let ps = self.parts[b.pq.id].as_mut().unwrap();
        let backoff = backoff(cfg.retry_backoff, cfg.retry_backoff_max, b.attempts);
        ps.backoff_until_ns = ps.backoff_until_ns.max(now_ns + backoff.as_nanos() as u64);
        log::debug!("retrying batch for {}-{} (attempt {}) in {backoff:?}: {err}", b.pq.topic, b.pq.partition, b.attempts + 1);
        let pos = ps.retry.iter().position(|x| seq_before(b.base_sequence, x.base_sequence, b.created_ns, x.created_ns)).unwrap_or(ps.retry.len());
        ps.retry.insert(pos, b);
        let id = ps.pq.id;
        if !ps.tracked {
            ps.tracked = true;
            self.tracked.push(id);
        }
    }

    fn fail_batch(&mut self, b: ProducerBatch, err: Error) {
        if b.base_sequence >= 0 {
            // Its sequence numbers are now a gap the broker will refuse to skip: a new epoch fixes it.
            self.part_mut(b.pq.id).needs_reset = true;
            self.epoch_bump_pending = true;
        }
        self.deliver(b.pq, b.records, Outcome::Err(Arc::new(err)));
    }

    fn deliver(&mut self, pq: Arc<PartitionQueue>, records: Vec<PendingRecord>, outcome: Outcome) {
        if let Err(e) = self.delivery_tx.send(DeliveryJob { pq, records, outcome }) {
            log::error!("delivery channel closed; {} reports lost", e.0.records.len());
        }
    }

    // ---- expiry, shutdown, status ---------------------------------------------------------

    /// Reports records and batches that waited past `delivery.timeout.ms` without being sent.
    fn expire(&mut self, _now: Instant) {
        let timeout_ns = self.inner.config.delivery_timeout.as_nanos() as u64;
        let now_ns = clock::mono_ns();
        for id in self.tracked.clone() {
            let ps = self.parts[id].as_mut().unwrap();
            if ps.inflight > 0 {
                continue; // its answers come first, to keep reports in order
            }
            let mut expired_batches = Vec::new();
            while ps.retry.front().is_some_and(|b| now_ns >= b.created_ns + timeout_ns) {
                expired_batches.push(ps.retry.pop_front().unwrap());
            }
            let leader = ps.leader;
            let mut expired = Vec::new();
            if ps.retry.is_empty() && ps.sealing == 0 {
                while ps.sealed.front().is_some_and(|b| now_ns >= b.created_ns + timeout_ns) {
                    expired.extend(ps.sealed.pop_front().unwrap().records);
                    ps.next_send_seal += 1;
                }
            }
            if ps.retry.is_empty() && !ps.has_sealed() {
                let pq = ps.pq.clone();
                let mut queue = pq.consumer();
                loop {
                    let Some(r) = ps.carry.take().or_else(|| queue.pop()) else { break };
                    if now_ns >= r.enqueued_ns() + timeout_ns {
                        expired.push(r);
                    } else {
                        ps.carry = Some(r);
                        break;
                    }
                }
            }
            let pq = ps.pq.clone();
            for b in expired_batches {
                let e = Error::local(
                    LocalCode::MessageTimedOut,
                    format!("not acknowledged within delivery.timeout.ms ({} ms) after {} attempt(s)", timeout_ns / 1_000_000, b.attempts),
                )
                .with_possibly_persisted(b.maybe_written);
                self.fail_batch(b, e);
            }
            if !expired.is_empty() {
                let why = self.why_not_sent(leader);
                log::debug!("{} record(s) of {}-{} expired unsent: {why}", expired.len(), pq.topic, pq.partition);
                let e = Error::local(
                    LocalCode::MessageTimedOut,
                    format!("waited delivery.timeout.ms ({} ms) in the queue of {}-{} without being sent: {why}", timeout_ns / 1_000_000, pq.topic, pq.partition),
                );
                self.deliver(pq, expired, Outcome::Err(Arc::new(e)));
            }
        }
    }

    fn why_not_sent(&self, leader: i32) -> String {
        if leader < 0 {
            return "the partition has no known leader".into();
        }
        match self.node_conn.get(&leader).and_then(|t| self.conns.get(t)) {
            Some(c) if c.state == ConnState::Ready => format!("broker {leader} ({}) has {} requests in flight", c.addr, c.inflight.len()),
            Some(c) => format!("the connection to broker {leader} ({}) is being set up", c.addr),
            None => match self.reconnect.get(&leader) {
                Some(r) => format!("broker {leader} is unreachable: {}", r.last_error),
                None => format!("broker {leader} is not connected"),
            },
        }
    }

    fn fail_everything(&mut self, err: &Error) {
        let err = Arc::new(err.clone());
        // In-flight batches are reported when their connection answers or fails; everything else now.
        for id in self.tracked.clone() {
            let ps = self.parts[id].as_mut().unwrap();
            if ps.inflight > 0 || ps.sealing > 0 {
                continue;
            }
            let retry: Vec<ProducerBatch> = ps.retry.drain(..).collect();
            let mut recs: Vec<PendingRecord> = ps.take_sealed_records();
            recs.extend(ps.carry.take());
            let mut c = ps.pq.consumer();
            while let Some(r) = c.pop() {
                recs.push(r);
            }
            drop(c);
            let pq = ps.pq.clone();
            for b in retry {
                let e = (*err).clone().with_possibly_persisted(b.maybe_written);
                self.deliver(b.pq, b.records, Outcome::Err(Arc::new(e)));
            }
            if !recs.is_empty() {
                self.deliver(pq, recs, Outcome::Err(err.clone()));
            }
        }
        self.absorb_activations();
        self.untrack_idle();
    }

    fn everything_done(&self) -> bool {
        self.tracked.is_empty() && self.parts.iter().flatten().all(|p| p.inflight == 0 && !p.has_sealed())
    }

    /// What is buffered and what the I/O thread waits on, for the error of a blocked `send()`.
    fn status_report(&self, now: Instant) -> String {
        let mem = &self.inner.memory;
        let mut s = format!("{} of buffer.memory={} bytes are held by records not yet acknowledged", mem.used(), mem.limit());
        let mut per_part: Vec<(usize, &PartState)> = self.tracked.iter().map(|id| self.parts[*id].as_ref().unwrap()).map(|p| (p.queued_bytes(), p)).collect();
        per_part.sort_by_key(|p| std::cmp::Reverse(p.0));
        let queued: usize = per_part.iter().map(|p| p.0).sum();
        let _ = write!(s, "; {queued} bytes queued unsent in {} partition(s)", per_part.len());
        if !per_part.is_empty() {
            s.push_str(" (largest: ");
            for (i, (bytes, p)) in per_part.iter().take(3).enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                let leader = if p.leader < 0 { "no leader".to_string() } else { format!("leader {}", p.leader) };
                let _ = write!(s, "{}-{} {} bytes, {} batch(es) in flight, {leader}", p.pq.topic, p.pq.partition, bytes, p.inflight);
            }
            s.push(')');
        }
        let mut nodes: Vec<i32> = self.brokers.keys().copied().collect();
        nodes.sort();
        for node in nodes {
            let addr = &self.brokers[&node];
            match self.node_conn.get(&node).and_then(|t| self.conns.get(t)) {
                Some(c) if c.state == ConnState::Ready => {
                    if let Some(f) = c.inflight.front() {
                        let _ = write!(s, "; broker {node} ({addr}): {} request(s) unanswered, oldest for {:.1} s", c.inflight.len(), now.duration_since(f.sent_at).as_secs_f64());
                    } else if c.has_pending_writes() {
                        let _ = write!(s, "; broker {node} ({addr}): socket not taking data");
                    } else {
                        let _ = write!(s, "; broker {node} ({addr}): idle");
                    }
                }
                Some(c) => {
                    let _ = write!(s, "; broker {node} ({addr}): connecting for {:.1} s", now.duration_since(c.connect_started).as_secs_f64());
                }
                None => match self.reconnect.get(&node) {
                    Some(r) => {
                        let _ = write!(s, "; broker {node} ({addr}): unreachable ({})", r.last_error);
                    }
                    None => {
                        let _ = write!(s, "; broker {node} ({addr}): not connected");
                    }
                },
            }
        }
        if matches!(self.pid, Pid::Needed | Pid::Requesting) {
            s.push_str("; waiting for a producer id (idempotence)");
        }
        if self.epoch_bump_pending {
            s.push_str("; waiting to bump the producer epoch");
        }
        s
    }
}

/// Exponential backoff with ±20% jitter: `base * 2^(attempt-1)`, capped at `max`.
pub(crate) fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = base.as_secs_f64() * 2f64.powi(attempt.saturating_sub(1).min(30) as i32);
    let capped = exp.min(max.as_secs_f64().max(base.as_secs_f64()));
    let jitter = 0.8 + 0.4 * fastrand::f64();
    Duration::from_secs_f64(capped * jitter)
}

/// Order of two batches of one partition: by sequence when idempotent, else by age.
fn seq_before(a_seq: i32, b_seq: i32, a_created: u64, b_created: u64) -> bool {
    if a_seq >= 0 && b_seq >= 0 {
        // Sequences wrap at i32::MAX; compare in a window.
        let d = b_seq.wrapping_sub(a_seq) & i32::MAX;
        d != 0 && d < (1 << 30)
    } else {
        a_created < b_created
    }
}

fn count_runs(batches: &[ProducerBatch]) -> usize {
    let mut n = 0;
    let mut last: Option<&Arc<str>> = None;
    for b in batches {
        if last != Some(&b.pq.topic) {
            n += 1;
            last = Some(&b.pq.topic);
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_and_stays_under_the_cap() {
        let base = Duration::from_millis(100);
        let max = Duration::from_millis(1000);
        for _ in 0..100 {
            let b1 = backoff(base, max, 1);
            assert!(b1 >= Duration::from_millis(80) && b1 <= Duration::from_millis(120), "{b1:?}");
            let b3 = backoff(base, max, 3);
            assert!(b3 >= Duration::from_millis(320) && b3 <= Duration::from_millis(480), "{b3:?}");
            assert!(backoff(base, max, 30) <= Duration::from_millis(1200));
        }
    }

    #[test]
    fn sequence_order_survives_wrapping() {
        assert!(seq_before(5, 10, 0, 0));
        assert!(!seq_before(10, 5, 0, 0));
        assert!(seq_before(i32::MAX - 2, 3, 0, 0));
        assert!(seq_before(-1, -1, 1, 2));
    }
}
