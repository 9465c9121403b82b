//! Statistics (`statistics.interval.ms`): every interval the I/O thread writes one JSON document
//! in librdkafka's schema (same names, same meanings; docs/observability.md lists each field and
//! what is left out) and hands it to the delivery channel, so the application's handler runs on
//! the delivery thread or in `poll()`, never here.
//!
//! Owned by the I/O thread alone. The document is read from state the I/O thread keeps anyway:
//! per connection its request and byte counters (`Connection`: written by the I/O thread on
//! every request and read, read here), per partition its acknowledged totals (`PartState`,
//! per acknowledged batch), and shared counters written by other threads and only read here
//! (`MemoryPool::used`; each `PartitionQueue`'s `enqueued` (senders) and `completed` (delivery
//! thread); the parked records' counters under the `parking` lock). The only count `send()` adds
//! per record is the partitioner metrics' (`PartitionQueue::placed`, statistics on only); with
//! the interval unset (or no handler) no document is ever built.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::batch::ProducerBatch;
use super::connection::{ConnState, Connection, RequestKind, API_KEY_SLOTS};
use super::window::Window;
use super::partition::Partitions;
use super::producer_id::Pid;
use super::IoThread;
use crate::clock;
use crate::partitioner;
use crate::placement::{self, Placed};
use crate::counters::{ProducerCounters, TopicCounters};
use crate::protocol::messages;
use crate::transaction::TxnState;
use crate::protocol::record_batch::RECORD_BATCH_OVERHEAD;
use crate::delivery::Job;

/// The requests rafka sends, by librdkafka's names for them (broker `req`).
const REQUEST_NAMES: [(i16, &str); 12] = [
    (messages::API_KEY_PRODUCE, "Produce"),
    (messages::API_KEY_METADATA, "Metadata"),
    (messages::API_KEY_FIND_COORDINATOR, "FindCoordinator"),
    (messages::API_KEY_SASL_HANDSHAKE, "SaslHandshake"),
    (messages::API_KEY_API_VERSIONS, "ApiVersion"),
    (messages::API_KEY_INIT_PRODUCER_ID, "InitProducerId"),
    (messages::API_KEY_ADD_PARTITIONS_TO_TXN, "AddPartitionsToTxn"),
    (messages::API_KEY_ADD_OFFSETS_TO_TXN, "AddOffsetsToTxn"),
    (messages::API_KEY_END_TXN, "EndTxn"),
    (messages::API_KEY_TXN_OFFSET_COMMIT, "TxnOffsetCommit"),
    (messages::API_KEY_DESCRIBE_CONFIGS, "DescribeConfigs"),
    (messages::API_KEY_SASL_AUTHENTICATE, "SaslAuthenticate"),
];

/// What one broker's closed connections carried: added to its live connection's counters.
#[derive(Clone, Copy)]
pub(super) struct BrokerTotals {
    requests: u64,
    requests_by_api: [u64; API_KEY_SLOTS],
    tx_bytes: u64,
    responses: u64,
    rx_bytes: u64,
    /// Connections that were up (ready) and were closed.
    disconnects: u64,
    /// When the last of them closed (`stateage` of a broker that is DOWN).
    closed_at: Option<Instant>,
}

impl Default for BrokerTotals {
    fn default() -> Self {
        BrokerTotals { requests: 0, requests_by_api: [0; API_KEY_SLOTS], tx_bytes: 0, responses: 0, rx_bytes: 0, disconnects: 0, closed_at: None }
    }
}

impl BrokerTotals {
    fn add_connection(&mut self, c: &Connection) {
        self.requests += c.requests;
        for (t, n) in self.requests_by_api.iter_mut().zip(c.requests_by_api) {
            *t += n;
        }
        self.tx_bytes += c.written_bytes;
        self.responses += c.responses;
        self.rx_bytes += c.received_bytes;
    }
}

/// The statistics room of the I/O thread.
pub(super) struct Stats {
    /// None: statistics are off (no interval, or no handler to give them to).
    interval: Option<Duration>,
    next: Instant,
    started_ns: u64,
    started: Instant,
    /// Broker id (negative: a bootstrap address) to the totals of its closed connections.
    closed: HashMap<i32, BrokerTotals>,
    /// Broker id to what is counted per request and per batch for it (statistics on only).
    brokers: HashMap<i32, BrokerStats>,
    /// Topic to its batch windows (statistics on only).
    topics: HashMap<Arc<str>, TopicStats>,
    /// `Producer::counters`: kept whether statistics are on or not.
    pub tallies: Tallies,
}

/// The client-wide part of [`ProducerCounters`] the I/O thread counts (per request, per batch,
/// per failed report, per closed connection); the rest is read when a snapshot is taken.
#[derive(Default)]
pub(super) struct Tallies {
    produce_requests: u64,
    produce_records: u64,
    latency_count: u64,
    latency_ns_sum: u64,
    latency_ns_max: u64,
    batches: u64,
    batch_bytes_sum: u64,
    batch_bytes_max: u64,
    queue_ns_sum: u64,
    queue_ns_max: u64,
    throttle_count: u64,
    throttle_ms_sum: u64,
    throttle_ms_max: u64,
    closed_tx_bytes: u64,
    /// Records reported failed, per topic (failures are rare: a map lookup each is fine).
    failed: HashMap<Arc<str>, u64>,
}

impl Tallies {
    /// A Produce request was written with these batches.
    pub fn produce_written(&mut self, batches: &[ProducerBatch], parts: &mut Partitions, now_ns: u64) {
        self.produce_requests += 1;
        for b in batches {
            let records = b.records.len() as u64;
            let bytes = b.encoded_len as u64;
            self.produce_records += records;
            self.batches += 1;
            self.batch_bytes_sum += bytes;
            self.batch_bytes_max = self.batch_bytes_max.max(bytes);
            let queued = now_ns.saturating_sub(b.created_ns);
            self.queue_ns_sum += queued;
            self.queue_ns_max = self.queue_ns_max.max(queued);
            let t = &mut parts.get_mut(b.pq.id).sent;
            t.records += records;
            t.bytes += bytes;
            t.batches += 1;
            t.ratio_sum += bytes as f64 / (b.records_len + RECORD_BATCH_OVERHEAD) as f64;
        }
    }

    /// A Produce response arrived `latency` after its request was written.
    pub fn produce_answered(&mut self, latency: Duration) {
        let ns = latency.as_nanos() as u64;
        self.latency_count += 1;
        self.latency_ns_sum += ns;
        self.latency_ns_max = self.latency_ns_max.max(ns);
    }

    /// A Produce response asked for this throttle time.
    pub fn produce_throttled(&mut self, throttle_ms: i32) {
        let t = throttle_ms.max(0) as u64;
        self.throttle_count += 1;
        self.throttle_ms_sum += t;
        self.throttle_ms_max = self.throttle_ms_max.max(t);
    }

    pub fn records_failed(&mut self, topic: &Arc<str>, n: usize) {
        match self.failed.get_mut(topic) {
            Some(c) => *c += n as u64,
            None => {
                self.failed.insert(topic.clone(), n as u64);
            }
        }
    }
}

/// One broker's windows (since the previous document) and counters (since the start), counted
/// per request, per response and per batch.
#[derive(Default)]
pub(super) struct BrokerStats {
    /// Microseconds from a request being queued on the connection to its response being read.
    rtt: Window,
    /// Microseconds from a request being queued on the connection to its last byte being
    /// written (closed connections' windows, merged in; live ones are merged at each document).
    outbuf_latency: Window,
    /// Milliseconds of throttle time the broker asked for, per Produce response.
    throttle: Window,
    /// Microseconds from a batch's first record being given to `send()` to the batch being put
    /// in a Produce request (first attempts only).
    int_latency: Window,
    /// Requests lost with their connection (unanswered when it closed, timed out ones included).
    txerrs: u64,
    /// Produce requests carrying a batch sent before (a retry).
    txretries: u64,
    /// Requests unanswered after `request.timeout.ms`.
    req_timeouts: u64,
    /// Produce responses that refused at least one batch, or that could not be decoded.
    rxerrs: u64,
}

/// One topic's batch windows: bytes as sent (record batch header included, compressed) and
/// records per batch, per batch put in a Produce request (every attempt).
#[derive(Default)]
pub(super) struct TopicStats {
    batchsize: Window,
    batchcnt: Window,
}

impl Stats {
    pub fn new(interval: Option<Duration>, wanted: bool) -> Stats {
        let interval = interval.filter(|_| wanted);
        Stats {
            interval,
            next: Instant::now() + interval.unwrap_or_default(),
            started_ns: clock::mono_ns(),
            started: Instant::now(),
            closed: HashMap::new(),
            brokers: HashMap::new(),
            topics: HashMap::new(),
            tallies: Tallies::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.interval.is_some()
    }

    /// The broker's statistics; None when statistics are off.
    fn broker(&mut self, node: i32) -> Option<&mut BrokerStats> {
        if !self.enabled() {
            return None;
        }
        Some(self.brokers.entry(node).or_default())
    }

    /// A connection is closing: keeps what it counted (statistics on only).
    pub fn connection_closed(&mut self, c: &mut Connection, now: Instant, request_timeout: Duration) {
        self.tallies.closed_tx_bytes += c.written_bytes;
        if !self.enabled() {
            return;
        }
        let t = self.closed.entry(c.node_id).or_default();
        t.add_connection(c);
        if c.state == ConnState::Ready {
            t.disconnects += 1;
        }
        t.closed_at = Some(now);
        let b = self.brokers.entry(c.node_id).or_default();
        if let Some(o) = c.outbuf.as_deref_mut() {
            b.outbuf_latency.absorb(&mut o.latency);
        }
        b.txerrs += (c.inflight.len() + c.unacked.len()) as u64;
        b.req_timeouts += c.inflight.iter().filter(|f| now.saturating_duration_since(f.sent_at) > request_timeout).count() as u64;
    }

    /// A response from broker `node` to a request queued at `sent_at`.
    pub fn answered(&mut self, node: i32, sent_at: Instant, now: Instant) {
        if let Some(b) = self.broker(node) {
            b.rtt.record(now.saturating_duration_since(sent_at).as_micros() as u64);
        }
    }

    /// A Produce response from `node`: its throttle time, and whether it refused anything.
    pub fn produce_answered(&mut self, node: i32, throttle_ms: i32, refused: bool) {
        if let Some(b) = self.broker(node) {
            b.throttle.record(throttle_ms.max(0) as u64);
            b.rxerrs += refused as u64;
        }
    }

    /// A Produce response from `node` could not be decoded.
    pub fn produce_undecodable(&mut self, node: i32) {
        if let Some(b) = self.broker(node) {
            b.rxerrs += 1;
        }
    }

    /// A Produce request to `node` was written with these batches (their `attempts` already
    /// counting this one).
    pub fn produce_written(&mut self, node: i32, batches: &[ProducerBatch], now_ns: u64) {
        if !self.enabled() {
            return;
        }
        let b = self.brokers.entry(node).or_default();
        let mut retry = false;
        for batch in batches {
            if batch.attempts <= 1 {
                b.int_latency.record(now_ns.saturating_sub(batch.created_ns) / 1000);
            } else {
                retry = true;
            }
        }
        b.txretries += retry as u64;
        // Batches come sorted by topic: one map lookup per topic.
        let mut i = 0;
        while i < batches.len() {
            let topic = &batches[i].pq.topic;
            if !self.topics.contains_key(topic) {
                self.topics.insert(topic.clone(), TopicStats::default());
            }
            let t = self.topics.get_mut(topic).expect("inserted above");
            while i < batches.len() && batches[i].pq.topic == *topic {
                t.batchsize.record(batches[i].encoded_len as u64);
                t.batchcnt.record(batches[i].records.len() as u64);
                i += 1;
            }
        }
    }
}

impl IoThread {
    /// The snapshot `Producer::counters` asked for; the maxima start again.
    pub(super) fn counters_snapshot(&mut self) -> ProducerCounters {
        let t = &mut self.stats.tallies;
        let mut topics: BTreeMap<&str, TopicCounters> = BTreeMap::new();
        for p in self.parts.iter() {
            let c = topics.entry(&p.pq.topic).or_insert_with(|| TopicCounters { topic: p.pq.topic.to_string(), ..Default::default() });
            c.records_sent += p.sent.records;
            c.bytes_sent += p.sent.bytes;
            c.batches_sent += p.sent.batches;
            c.compression_ratio_sum += p.sent.ratio_sum;
            c.records_retried += p.sent.retried;
            let placed = |how: Placed| p.pq.placed[how as usize].load(Ordering::Relaxed);
            c.placed_by_key += placed(Placed::Key);
            c.placed_uniform += placed(Placed::Uniform);
            c.placed_explicit += placed(Placed::Explicit);
            c.placed_custom += placed(Placed::Custom);
        }
        let states = self.inner.topics.load();
        for (name, c) in topics.iter_mut() {
            if let Some(t) = states.get(*name) {
                c.sticky_switches = t.sticky.switches();
                c.unavailable_skips = t.sticky.unavailable_skips();
            }
        }
        for (topic, n) in &t.failed {
            topics.entry(topic).or_insert_with(|| TopicCounters { topic: topic.to_string(), ..Default::default() }).records_failed += n;
        }
        let memory = &self.inner.memory;
        ProducerCounters {
            buffer_total_bytes: memory.limit() as u64,
            buffer_used_bytes: memory.used() as u64,
            buffer_wait_ns: memory.waited_ns(),
            produce_requests: t.produce_requests,
            produce_records: t.produce_records,
            request_latency_count: t.latency_count,
            request_latency_ns_sum: t.latency_ns_sum,
            request_latency_ns_max: std::mem::take(&mut t.latency_ns_max),
            batches: t.batches,
            batch_bytes_sum: t.batch_bytes_sum,
            batch_bytes_max: std::mem::take(&mut t.batch_bytes_max),
            queue_ns_sum: t.queue_ns_sum,
            queue_ns_max: std::mem::take(&mut t.queue_ns_max),
            throttle_count: t.throttle_count,
            throttle_ms_sum: t.throttle_ms_sum,
            throttle_ms_max: std::mem::take(&mut t.throttle_ms_max),
            tx_bytes: t.closed_tx_bytes + self.net.conns.values().map(|c| c.written_bytes).sum::<u64>(),
            requests_in_flight: self.net.conns.values().map(|c| c.inflight.len() as u64).sum(),
            connections: self.net.conns.len() as u64,
            records_in_flight: 0, // filled by the caller
            topics: topics.into_values().collect(),
        }
    }

    /// Emits a document when the interval has passed; lowers `next` to the next emission.
    pub(super) fn maybe_emit_stats(&mut self, now: Instant, next: &mut Instant) {
        let Some(interval) = self.stats.interval else { return };
        if now >= self.stats.next {
            self.stats.next = now + interval;
            let built = Instant::now();
            let doc = self.stats_json();
            log::debug!("statistics document of {} bytes built in {} us", doc.len(), built.elapsed().as_micros());
            if self.delivery_tx.send(Job::Stats(doc)).is_err() {
                log::debug!("delivery channel closed; statistics dropped");
            }
        }
        if self.stats.next < *next {
            *next = self.stats.next;
        }
    }

    /// The statistics document (librdkafka's schema; docs/observability.md).
    pub(super) fn stats_json(&mut self) -> String {
        let cfg = &self.inner.config;
        let now_ns = clock::mono_ns();
        let now = Instant::now();
        let mut j = Json::default();
        j.open('{');
        j.str_field("name", &format!("{}#producer-{}", cfg.client_id, crate::producer::current_producer_id().unwrap_or(0)));
        j.str_field("client_id", &cfg.client_id);
        j.str_field("type", "producer");
        j.num_field("ts", now_ns / 1000);
        j.num_field("time", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()));
        j.num_field("age", now_ns.saturating_sub(self.stats.started_ns) / 1000);
        // Jobs (a batch's delivery reports, an error, a document) waiting for the delivery
        // thread or poll(): librdkafka's ops waiting to be served.
        j.num_field("replyq", self.delivery_tx.len() as u64);
        // Records sent and not yet reported, as `Producer::in_flight_count` counts them.
        let parked: u64 = self.inner.parking.lock().unwrap_or_else(|e| e.into_inner()).counters().iter().map(|p| p.outstanding()).sum();
        let queued: u64 = self.parts.iter().map(|p| p.pq.outstanding()).sum();
        j.num_field("msg_cnt", queued + parked);
        j.num_field("msg_size", self.inner.memory.used() as u64);
        j.num_field("msg_max", cfg.queue_buffering_max_messages as u64);
        j.num_field("msg_size_max", cfg.buffer_memory as u64);

        // Brokers: every broker metadata named, and live connections to bootstrap addresses.
        let mut rows: BTreeMap<String, (i32, String, BrokerTotals, Option<&Connection>)> = BTreeMap::new();
        let live: HashMap<i32, &Connection> = self.net.conns.values().map(|c| (c.node_id, c)).collect();
        for (id, addr) in &self.net.brokers {
            rows.insert(format!("{addr}/{id}"), (*id, addr.clone(), self.stats.closed.get(id).copied().unwrap_or_default(), live.get(id).copied()));
        }
        for c in live.values().filter(|c| c.node_id < 0) {
            rows.insert(format!("{}/bootstrap", c.addr), (-1, c.addr.clone(), self.stats.closed.get(&c.node_id).copied().unwrap_or_default(), Some(c)));
        }
        let mut sum = BrokerTotals::default();
        for (_, _, t, c) in rows.values() {
            let mut t = *t;
            if let Some(c) = c {
                t.add_connection(c);
            }
            sum.requests += t.requests;
            sum.tx_bytes += t.tx_bytes;
            sum.responses += t.responses;
            sum.rx_bytes += t.rx_bytes;
        }
        j.num_field("tx", sum.requests);
        j.num_field("tx_bytes", sum.tx_bytes);
        j.num_field("rx", sum.responses);
        j.num_field("rx_bytes", sum.rx_bytes);
        let (mut txmsgs, mut txmsg_bytes) = (0, 0);
        for p in self.parts.iter() {
            txmsgs += p.acked_msgs;
            txmsg_bytes += p.acked_bytes;
        }
        j.num_field("txmsgs", txmsgs);
        j.num_field("txmsg_bytes", txmsg_bytes);

        j.key("brokers");
        j.open('{');
        // Taken out while the rows borrow the connections; put back below.
        let mut windows = std::mem::take(&mut self.stats.brokers);
        for (name, (id, addr, closed, conn)) in &rows {
            let mut t = *closed;
            if let Some(c) = conn {
                t.add_connection(c);
            }
            j.key(name);
            j.open('{');
            j.str_field("name", name);
            j.signed_field("nodeid", *id as i64);
            j.str_field("nodename", addr);
            let state = match conn.map(|c| c.state) {
                Some(ConnState::Connecting) => "CONNECT",
                Some(ConnState::Negotiating) => "APIVERSION_QUERY",
                Some(ConnState::Authenticating) => "AUTH_REQ",
                Some(ConnState::Ready) => "UP",
                None if self.stats.closed.contains_key(id) => "DOWN",
                None => "INIT",
            };
            j.str_field("state", state);
            // Since the state last changed: the live connection's; DOWN since its last
            // connection closed; INIT since the producer started.
            let since = match (conn, closed.closed_at) {
                (Some(c), _) => c.state_since,
                (None, Some(at)) => at,
                (None, None) => self.stats.started,
            };
            j.num_field("stateage", now.saturating_duration_since(since).as_micros() as u64);
            // Requests still (partly) in the output buffer, and those written and awaiting
            // their response (librdkafka's split), with their records.
            let (outbuf, outbuf_msgs, unwritten_waiting, unwritten_waiting_msgs) = match conn.and_then(|c| c.outbuf.as_deref()) {
                Some(o) => {
                    let (n, m) = o.awaiting_response();
                    (o.requests() as u64, o.records(), n as u64, m)
                }
                None => (0, 0, 0, 0),
            };
            let (waiting, waiting_msgs) = conn.map_or((0, 0), |c| {
                let msgs: u64 = c.inflight.iter().map(|f| match &f.kind {
                    RequestKind::Produce(batches) => batches.iter().map(|b| b.records.len() as u64).sum(),
                    _ => 0,
                }).sum();
                (c.inflight.len() as u64, msgs)
            });
            j.num_field("outbuf_cnt", outbuf);
            j.num_field("outbuf_msg_cnt", outbuf_msgs);
            j.num_field("waitresp_cnt", waiting - unwritten_waiting);
            j.num_field("waitresp_msg_cnt", waiting_msgs - unwritten_waiting_msgs);
            j.num_field("tx", t.requests);
            j.num_field("txbytes", t.tx_bytes);
            j.num_field("rx", t.responses);
            j.num_field("rxbytes", t.rx_bytes);
            j.num_field("txerrs", windows.get(id).map_or(0, |b| b.txerrs));
            j.num_field("txretries", windows.get(id).map_or(0, |b| b.txretries));
            j.num_field("req_timeouts", windows.get(id).map_or(0, |b| b.req_timeouts));
            j.num_field("rxerrs", windows.get(id).map_or(0, |b| b.rxerrs));
            j.num_field("connects", self.net.connect_attempts.get(id).copied().unwrap_or(0));
            j.num_field("disconnects", t.disconnects);
            j.key("req");
            j.open('{');
            for (key, name) in REQUEST_NAMES {
                j.num_field(name, t.requests_by_api[key as usize]);
            }
            j.close('}');
            let w = windows.entry(*id).or_default();
            w.int_latency.emit(&mut j, "int_latency");
            w.rtt.emit(&mut j, "rtt");
            if let Some(o) = conn.and_then(|c| c.outbuf.as_deref()) {
                // Taken through a shared borrow: the window is reset below, once rows are done.
                w.outbuf_latency.absorb_copy(&o.latency);
            }
            w.outbuf_latency.emit(&mut j, "outbuf_latency");
            w.throttle.emit(&mut j, "throttle");
            j.close('}');
        }
        j.close('}');
        drop(rows);
        self.stats.brokers = windows;
        // The live connections' outbuf_latency values are in this document: they start anew.
        for c in self.net.conns.values_mut() {
            if let Some(o) = c.outbuf.as_deref_mut() {
                o.latency.reset();
            }
        }

        // Topics: every partition the I/O thread knows.
        let mut topics: BTreeMap<&str, Vec<&super::partition::PartState>> = BTreeMap::new();
        for p in self.parts.iter() {
            topics.entry(&p.pq.topic).or_default().push(p);
        }
        // Topics whose sends waited for their metadata may have no partition yet.
        let blocked = self.inner.blocked.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for t in blocked.keys() {
            topics.entry(t).or_default();
        }
        if let Some(spool) = &self.inner.spool {
            j.key("spool");
            j.open('{');
            j.num_field("unsent_msgs", spool.unsent());
            j.num_field("syncs", spool.syncs());
            j.close('}');
        }
        j.key("topics");
        j.open('{');
        for (topic, mut parts) in topics {
            parts.sort_by_key(|p| p.pq.partition);
            j.key(topic);
            j.open('{');
            j.str_field("topic", topic);
            if let Some(at) = self.meta.refreshed.get(topic) {
                j.num_field("metadata_age", now.saturating_duration_since(*at).as_millis() as u64);
            }
            let w = self.stats.topics.entry(Arc::from(topic)).or_default();
            w.batchsize.emit(&mut j, "batchsize");
            w.batchcnt.emit(&mut j, "batchcnt");
            let b = blocked.get(topic).copied().unwrap_or_default();
            j.num_field("send_blocked_buffer_cnt", b.buffer_cnt);
            j.num_field("send_blocked_buffer_us", b.buffer_ns / 1000);
            j.num_field("send_blocked_metadata_cnt", b.metadata_cnt);
            j.num_field("send_blocked_metadata_us", b.metadata_ns / 1000);
            self.emit_partitioner(&mut j, topic, &parts);
            j.key("partitions");
            j.open('{');
            for p in parts {
                j.key(&p.pq.partition.to_string());
                j.open('{');
                j.signed_field("partition", p.pq.partition as i64);
                j.signed_field("leader", p.leader as i64);
                j.num_field("msgq_bytes", p.queued_bytes() as u64);
                j.num_field("msgs", p.pq.enqueued.load(Ordering::Relaxed));
                j.num_field("txmsgs", p.acked_msgs);
                j.num_field("txbytes", p.acked_bytes);
                if cfg.enable_idempotence {
                    j.signed_field("next_ack_seq", p.acked_next as i64);
                }
                j.close('}');
            }
            j.close('}');
            j.close('}');
        }
        j.close('}');

        if cfg.enable_idempotence {
            j.key("eos");
            j.open('{');
            let (state, id, epoch) = match self.pid.state {
                Pid::Off => ("FatalError", -1, -1),
                Pid::Needed => ("RequestPID", -1, -1),
                Pid::Requesting => ("WaitPID", -1, -1),
                Pid::Ready { id, epoch } if self.pid.bump_pending => ("DrainBump", id, epoch as i64),
                Pid::Ready { id, epoch } => ("Assigned", id, epoch as i64),
            };
            j.str_field("idemp_state", state);
            j.signed_field("producer_id", id);
            j.signed_field("producer_epoch", epoch);
            j.num_field("epoch_cnt", self.pid.grants);
            if self.txn.enabled() {
                // librdkafka's names for the Java-style states rafka keeps.
                let state = self.inner.txn.lock().state;
                j.str_field("txn_state", match state {
                    TxnState::Uninitialized => "Init",
                    TxnState::Initializing => "WaitPID",
                    TxnState::Ready => "Ready",
                    TxnState::InTransaction => "InTransaction",
                    TxnState::Committing => "CommittingTransaction",
                    TxnState::Aborting => "AbortingTransaction",
                    TxnState::AbortableError => "AbortableError",
                    TxnState::FatalError => "FatalError",
                });
                j.bool_field("txn_may_enq", state == TxnState::InTransaction);
            }
            j.close('}');
        }
        j.close('}');
        j.out
    }
}

impl IoThread {
    /// A topic's partitioner metrics (beyond librdkafka's schema; docs/observability.md): records
    /// placed by how their partition was chosen (summed over the partitions' counters), sticky
    /// switches and unavailable partitions skipped, and with the adaptive partitioner the weights
    /// a switch would give each partition now.
    fn emit_partitioner(&self, j: &mut Json, topic: &str, parts: &[&super::partition::PartState]) {
        let mut placed = [0u64; 4];
        for p in parts {
            for (sum, n) in placed.iter_mut().zip(&p.pq.placed) {
                *sum += n.load(Ordering::Relaxed);
            }
        }
        j.num_field("partitioner_key_msgs", placed[Placed::Key as usize]);
        j.num_field("partitioner_uniform_msgs", placed[Placed::Uniform as usize]);
        j.num_field("partitioner_explicit_msgs", placed[Placed::Explicit as usize]);
        j.num_field("partitioner_custom_msgs", placed[Placed::Custom as usize]);
        let state = self.inner.topics.load().get(topic).cloned();
        j.num_field("partitioner_sticky_switches", state.as_ref().map_or(0, |t| t.sticky.switches()));
        j.num_field("partitioner_unavailable_skips", state.as_ref().map_or(0, |t| t.sticky.unavailable_skips()));
        let cfg = &self.inner.config;
        if let (true, Some(t)) = (cfg.partitioner_adaptive, state) {
            let queues: Vec<usize> = t.partitions.iter().map(|pq| placement::partition_load(cfg, pq)).collect();
            j.num_array("partitioner_adaptive_weights", &partitioner::adaptive_weights(&queues, t.sticky.current()));
        }
    }
}

/// A small JSON writer: objects, string and integer values, commas where they belong.
#[derive(Default)]
pub(crate) struct Json {
    pub out: String,
    /// The current object has a member already (a comma goes before the next).
    comma: bool,
}

impl Json {
    pub fn open(&mut self, c: char) {
        self.out.push(c);
        self.comma = false;
    }

    pub fn close(&mut self, c: char) {
        self.out.push(c);
        self.comma = true;
    }

    pub fn key(&mut self, k: &str) {
        if self.comma {
            self.out.push(',');
        }
        self.string(k);
        self.out.push(':');
        self.comma = false;
    }

    fn str_field(&mut self, k: &str, v: &str) {
        self.key(k);
        self.string(v);
        self.comma = true;
    }

    pub fn num_field(&mut self, k: &str, v: u64) {
        self.key(k);
        let _ = write!(self.out, "{v}");
        self.comma = true;
    }

    fn num_array(&mut self, k: &str, v: &[u64]) {
        self.key(k);
        self.out.push('[');
        for (i, n) in v.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            let _ = write!(self.out, "{n}");
        }
        self.out.push(']');
        self.comma = true;
    }

    fn bool_field(&mut self, k: &str, v: bool) {
        self.key(k);
        self.out.push_str(if v { "true" } else { "false" });
        self.comma = true;
    }

    fn signed_field(&mut self, k: &str, v: i64) {
        self.key(k);
        let _ = write!(self.out, "{v}");
        self.comma = true;
    }

    fn string(&mut self, s: &str) {
        self.out.push('"');
        for ch in s.chars() {
            match ch {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                '\r' => self.out.push_str("\\r"),
                '\t' => self.out.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(self.out, "\\u{:04x}", c as u32);
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::Json;

    #[test]
    fn json_writer_escapes_strings_and_separates_members() {
        let mut j = Json::default();
        j.open('{');
        j.str_field("a\"b", "line\nnext\\\u{1}");
        j.num_field("n", 7);
        j.key("o");
        j.open('{');
        j.signed_field("m", -1);
        j.close('}');
        j.num_field("z", 0);
        j.close('}');
        assert_eq!(j.out, r#"{"a\"b":"line\nnext\\\u0001","n":7,"o":{"m":-1},"z":0}"#);
    }
}
