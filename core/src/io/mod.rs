//! The I/O thread: one per producer. It owns every broker connection (driven by one mio `Poll`),
//! the cluster metadata, the producer id, and every batch from drain to report.
//!
//! Its state is cut by what it is about, one room each:
//! - `connections.rs`: the `Poll`, broker addresses, connections and reconnect backoff
//!   (`connection.rs` is one connection: framing, TLS, SASL, ApiVersions);
//! - `partition.rs`: per-partition state (carried record, retries, sequence numbers, sealed
//!   batches) and the list of partitions with work;
//! - `metadata.rs`: when to ask for metadata and what the answers change;
//! - `producer_id.rs`: the producer id and epoch (idempotence);
//! - `transaction.rs`: the transaction manager (coordinators, the transactional requests, which
//!   partitions a transaction holds);
//! - `sender.rs`: the produce path, from a ready partition to the report of each batch;
//! - here: the loop, requests from application threads, lost connections, fatal errors, status.
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
mod connections;
pub(crate) mod diagnose;
mod metadata;
mod parking;
mod partition;
mod producer_id;
mod purge;
pub(crate) mod resolver;
pub(crate) mod sasl;
mod sender;
mod stats;
mod window;
pub(crate) mod transaction;

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token, Waker};

use crate::accumulator::{PartitionQueue, PendingRecord};
use crate::clock;
use crate::delivery::{DeliveryJob, Job, Outcome};
use crate::error::{Error, LocalCode};
use crate::metadata::format_addr;
use crate::protocol::error_codes::KafkaCode;
use crate::shared::Inner;
use batch::ProducerBatch;
use compressor::CompressorPool;
use connection::{RequestKind, Response};
use connections::Connections;
use metadata::MetadataState;
use partition::{PartState, Partitions};
use producer_id::{Pid, ProducerIdState};

pub(crate) const WAKER_TOKEN: Token = Token(0);

/// How often queued records are checked against `delivery.timeout.ms`.
const EXPIRY_SWEEP: Duration = Duration::from_millis(100);

/// The I/O thread's rooms (see the module doc). Owned by the I/O thread; `inner` is what it
/// shares with the other threads.
pub(crate) struct IoThread {
    inner: Arc<Inner>,
    net: Connections,
    parts: Partitions,
    meta: MetadataState,
    pid: ProducerIdState,
    txn: transaction::TxnManager,
    delivery_tx: crossbeam_channel::Sender<Job>,
    last_sweep: Instant,
    /// For the error handler's `_ALL_BROKERS_DOWN`: a connection was lost (or failed) since one
    /// was last ready, and whether that state was reported already.
    lost_since_ready: bool,
    all_down_reported: bool,
    /// Compression threads (`compression.threads` > 0 and a codec set).
    compressor: Option<CompressorPool>,
    stats: stats::Stats,
}

impl IoThread {
    pub fn new(inner: Arc<Inner>, poll: Poll, delivery_tx: crossbeam_channel::Sender<Job>) -> IoThread {
        let bootstrap: Vec<String> = inner.config.bootstrap_servers.iter().map(|(h, p)| format_addr(h, *p)).collect();
        let pid = ProducerIdState::new(inner.config.enable_idempotence);
        let txn = transaction::TxnManager::new(inner.config.transactional_id.as_deref(), inner.config.transaction_timeout);
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
        let stats = stats::Stats::new(cfg.statistics_interval, inner.deliverer.wants_stats());
        let resolver = resolver::Resolver::new(Arc::downgrade(&inner), inner.resolver.clone());
        let mut net = Connections::new(poll, bootstrap, resolver);
        net.track_outbuf = stats.enabled();
        net.sasl_credentials = inner.sasl_credentials.clone();
        IoThread {
            stats,
            inner,
            net,
            parts: Partitions::default(),
            meta: MetadataState { needed: true, ..Default::default() },
            pid,
            txn,
            delivery_tx,
            last_sweep: Instant::now(),
            lost_since_ready: false,
            all_down_reported: false,
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
            if let Err(e) = self.net.poll.poll(&mut events, timeout) {
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
                let result = match self.net.conns.get_mut(&token) {
                    Some(c) => c.on_ready(&client_id, &mut responses),
                    None => continue,
                };
                for r in responses.drain(..) {
                    self.handle_response(token, r, now);
                }
                if let Err(e) = result {
                    let tls_failed = self.net.conns.get(&token).and_then(|c| c.tls_failed.then(|| c.diagnosis.clone()).flatten());
                    self.close_connection(token, &e.0, now);
                    if let Some(d) = tls_failed {
                        // An untrusted, misnamed or expired certificate does not fix itself: fail fast.
                        self.publish_diagnosis();
                        self.set_fatal(d.to_error());
                    }
                }
            }
            self.publish_diagnosis();
            self.absorb_activations();
            self.absorb_compressed();
            self.handle_requests(now);
            for (t, why) in self.net.overdue(now, &self.inner.config) {
                self.close_connection(t, &why, now);
            }
            // The loop's next wake-up: at most a second away, sooner for a request held back by
            // a retry backoff, an unanswered request's metadata refresh (below) and for what the
            // sender and the deadlines need.
            let mut next = now + Duration::from_secs(1);
            self.refresh_if_unanswered(now, &mut next);
            self.maybe_request_metadata(now, &mut next);
            self.send_metadata_queries(now);
            self.maybe_request_pid(now, &mut next);
            self.drive_transactions(now, &mut next);
            if now.duration_since(self.last_sweep) >= EXPIRY_SWEEP {
                self.last_sweep = now;
                self.expire(now);
                self.sweep_parked(now);
                self.report_all_brokers_down();
            }
            self.expire_deadlines(&mut next);
            self.send_ready(now, &mut next);
            self.flush_all(now);
            self.maybe_emit_stats(now, &mut next);
            if self.inner.shutdown.load(Ordering::SeqCst) {
                // Forced: requests in flight are abandoned (their records reported as closed,
                // possibly stored), so that close() keeps its timeout.
                let tokens: Vec<Token> = self.net.conns.keys().copied().collect();
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
        for (_, mut c) in self.net.conns.drain() {
            c.deregister(self.net.poll.registry());
        }
        log::debug!("I/O thread stopped");
    }

    fn absorb_activations(&mut self) {
        while let Some(pq) = self.inner.activations.pop() {
            self.parts.activated(pq.id, clock::mono_ns());
        }
    }

    pub(super) fn handle_requests(&mut self, now: Instant) {
        {
            let mut w = self.inner.meta.lock().unwrap_or_else(|e| e.into_inner());
            if !w.wanted.is_empty() || w.refresh {
                self.meta.needed = true;
                w.refresh = false;
            }
            for t in w.wanted.iter() {
                if !self.meta.topics_of_interest.iter().any(|k| &**k == t.as_str()) {
                    self.meta.topics_of_interest.insert(Arc::from(t.as_str()));
                }
            }
        }
        self.handle_purges();
        if self.inner.counters_wanted.swap(false, Ordering::SeqCst) {
            let snapshot = self.counters_snapshot();
            self.inner.publish_counters(snapshot);
        }
        if self.inner.status_wanted.swap(false, Ordering::SeqCst) {
            let report = self.status_report(now);
            self.inner.publish_status(report);
        }
    }

    /// Closes a connection; what it carried is asked again (metadata, producer id) or retried
    /// (Produce: possibly written, so the retry may be a duplicate the broker drops under
    /// idempotence).
    fn close_connection(&mut self, token: Token, why: &str, now: Instant) {
        let Some(mut c) = self.net.remove(token, why, now, &self.inner.config) else { return };
        self.lost_since_ready = true;
        self.stats.connection_closed(&mut c, now, self.inner.config.request_timeout);
        self.meta.needed = true;
        let err = Error::kafka(KafkaCode::NETWORK_EXCEPTION, format!("connection to broker {} ({}) lost: {why}", c.node_id, c.addr));
        let mut failed = Vec::new();
        for f in c.inflight.drain(..) {
            match f.kind {
                RequestKind::Metadata => self.meta.inflight = false,
                // Asked again on another connection (until the query's deadline).
                RequestKind::MetadataQuery(id) => self.meta.queries.extend(self.meta.queries_inflight.remove(&id)),
                RequestKind::InitProducerId => self.pid.request_lost(),
                RequestKind::Txn(r) => self.txn_request_lost(r, c.node_id),
                RequestKind::ApiVersions | RequestKind::SaslHandshake | RequestKind::SaslAuthenticate | RequestKind::Probe => {}
                RequestKind::Produce(batches) => failed.extend(batches),
            }
        }
        for (_, batches) in c.unacked.drain(..) {
            failed.extend(batches);
        }
        for mut b in failed {
            b.maybe_written = true;
            self.parts.get_mut(b.pq.id).inflight -= 1;
            self.retry_or_fail(b, &err, true);
        }
    }

    /// Any connection for a metadata or InitProducerId request (see `Connections::any_connection`).
    fn any_connection(&mut self, now: Instant) -> Option<Token> {
        self.net.any_connection(now, &self.inner.config, self.inner.fatal.get().is_some())
    }

    /// The ready connection to `node`, opening one if needed.
    fn ready_connection(&mut self, node: i32, now: Instant) -> Option<Token> {
        self.net.ready_connection(node, now, &self.inner.config, self.inner.fatal.get().is_some())
    }

    pub(super) fn handle_response(&mut self, token: Token, r: Response, now: Instant) {
        if self.stats.enabled() {
            if let Some(c) = self.net.conns.get(&token) {
                self.stats.answered(c.node_id, r.request.sent_at, now);
            }
        }
        if !matches!(r.request.kind, RequestKind::ApiVersions | RequestKind::SaslHandshake | RequestKind::SaslAuthenticate) {
            if let Some(c) = self.net.conns.get_mut(&token).filter(|c| !c.confirmed) {
                c.confirmed = true;
                let node = c.node_id;
                self.net.connected(node);
            }
        }
        match r.request.kind {
            RequestKind::ApiVersions => {
                let client_id = self.inner.config.client_id.clone();
                let Some(c) = self.net.conns.get_mut(&token) else { return };
                match c.on_api_versions(r.request.version, &r.body, &client_id) {
                    Ok(true) => log::debug!("broker {} ({}) ready: {:?}", c.node_id, c.addr, c.versions),
                    Ok(false) => {}
                    Err(e) => self.close_connection(token, &e.0, now),
                }
            }
            RequestKind::SaslHandshake | RequestKind::SaslAuthenticate => self.on_sasl_response(token, r, now),
            RequestKind::Metadata => self.on_metadata(r.request.version, &r.body, now),
            RequestKind::MetadataQuery(id) => self.on_metadata_query(token, id, r.request.version, &r.body),
            RequestKind::InitProducerId => self.on_init_producer_id(r.request.version, &r.body),
            RequestKind::Txn(t) => self.on_txn_response(token, t, r.request.version, &r.body),
            RequestKind::Probe => {}
            RequestKind::Produce(batches) => {
                self.stats.tallies.produce_answered(r.request.sent_at.elapsed());
                let node = self.net.conns.get(&token).map_or(-1, |c| c.node_id);
                self.on_produce(node, r.request.version, &r.body, batches)
            }
        }
    }

    /// A step of a connection's SASL exchange. A refusal is an authentication error: it is
    /// fatal (send() and every pending record get it at once, not a delivery timeout later), and
    /// the connection's failure backs off reconnects like any failed connection setup.
    pub(super) fn on_sasl_response(&mut self, token: Token, r: Response, now: Instant) {
        let client_id = self.inner.config.client_id.clone();
        let Some(c) = self.net.conns.get_mut(&token) else { return };
        let step = match r.request.kind {
            RequestKind::SaslHandshake => c.on_sasl_handshake(r.request.version, &r.body, &client_id),
            _ => c.on_sasl_authenticate(r.request.version, &r.body, &client_id),
        };
        match step {
            Ok(connection::SaslOutcome::Continue) => {}
            Ok(connection::SaslOutcome::Done) => log::debug!("broker {} ({}) authenticated and ready: {:?}", c.node_id, c.addr, c.versions),
            Ok(connection::SaslOutcome::Failed(d)) => {
                self.close_connection(token, &d.message, now);
                self.set_fatal(d.to_error());
            }
            Err(e) => self.close_connection(token, &e.0, now),
        }
    }

    /// Tells waiting application threads what the connections' failures were recognised as
    /// (`Inner::diagnosis`): cleared when a connection became ready, then the latest diagnosis.
    fn publish_diagnosis(&mut self) {
        if std::mem::take(&mut self.net.became_ready) {
            self.inner.clear_diagnosis();
        }
        if let Some(d) = self.net.diagnosed.take() {
            self.inner.note_diagnosis(d.to_error());
        }
    }

    pub(super) fn set_fatal(&mut self, e: Error) {
        log::error!("fatal: {e}");
        if self.inner.fatal.get().is_none() && self.inner.deliverer.wants_errors() {
            let _ = self.delivery_tx.send(Job::Error(e.clone()));
        }
        let _ = self.inner.fatal.set(e.clone());
        self.inner.meta_cv.notify_all(); // senders waiting for metadata see it now
        self.pid.state = Pid::Off;
        self.txn_on_fatal(&e);
        self.fail_everything(&e);
    }

    pub(super) fn deliver(&mut self, pq: Arc<PartitionQueue>, records: Vec<PendingRecord>, outcome: Outcome) {
        if let Outcome::Err(e) = &outcome {
            self.txn_send_failed(e); // a transaction with a failed send cannot commit
            self.stats.tallies.records_failed(&pq.topic, records.len());
        }
        if self.delivery_tx.send(Job::Report(DeliveryJob { pq, records, outcome })).is_err() {
            log::error!("delivery channel closed; reports lost");
        }
    }

    /// The error handler hears `_ALL_BROKERS_DOWN` once when no connection is ready after one
    /// was lost or failed (with the connection diagnosis when there is one), and again only after
    /// a connection was ready in between. Every `EXPIRY_SWEEP`.
    fn report_all_brokers_down(&mut self) {
        if !self.inner.deliverer.wants_errors() {
            return;
        }
        if self.net.conns.values().any(|c| c.state == connection::ConnState::Ready) {
            self.lost_since_ready = false;
            self.all_down_reported = false;
            return;
        }
        if !self.lost_since_ready || self.all_down_reported || self.inner.closing.load(Ordering::Relaxed) {
            return;
        }
        self.all_down_reported = true;
        let known = self.net.brokers.len().max(self.inner.config.bootstrap_servers.len());
        // The diagnosis of the last failure, settled or not (all connections failed already).
        let diagnosis = self.inner.diagnosis.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|d| d.error.clone());
        let why = match diagnosis {
            Some(d) => format!(": {d}"),
            None => " (see the connection errors logged)".to_string(),
        };
        let e = Error::local(LocalCode::AllBrokersDown, format!("{known}/{known} brokers are down{why}"));
        let _ = self.delivery_tx.send(Job::Error(e));
    }

    fn fail_everything(&mut self, err: &Error) {
        let err = Arc::new(err.clone());
        // In-flight batches are reported when their connection answers or fails; everything else now.
        for id in self.parts.tracked.clone() {
            let ps = self.parts.get_mut(id);
            if ps.inflight > 0 || ps.sealing > 0 {
                continue;
            }
            let retry: Vec<ProducerBatch> = ps.retry.drain(..).collect();
            let recs = ps.take_unsent();
            let pq = ps.pq.clone();
            for b in retry {
                let e = (*err).clone().with_possibly_persisted(b.maybe_written);
                self.deliver(b.pq, b.records, Outcome::Err(Arc::new(e)));
            }
            if !recs.is_empty() {
                self.deliver(pq, recs, Outcome::Err(err.clone()));
            }
        }
        self.fail_parked(&err);
        self.absorb_activations();
        self.parts.untrack_idle();
    }

    fn everything_done(&self) -> bool {
        self.parts.all_done() && !self.any_parked()
    }

    /// What is buffered and what the I/O thread waits on, for the error of a blocked `send()`.
    pub(super) fn status_report(&self, now: Instant) -> String {
        let mem = &self.inner.memory;
        let mut s = format!("{} of buffer.memory={} bytes are held by records not yet acknowledged", mem.used(), mem.limit());
        let mut per_part: Vec<(usize, &PartState)> = self.parts.tracked.iter().map(|id| self.parts.get(*id)).map(|p| (p.queued_bytes(), p)).collect();
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
        self.net.describe(now, &mut s);
        self.pid.describe(&mut s);
        self.txn.describe(&mut s);
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
}
