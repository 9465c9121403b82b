//! The produce path of the I/O thread: which partitions are ready (a full batch, `linger.ms`
//! passed, or someone waiting), draining them into batches (sealed ahead for compression), one
//! Produce request per broker per round up to `max.in.flight`, and what each answer means for
//! its batches: delivered, retried in sequence order, split when too large, or failed.
//! Also the expiry of what waited past `delivery.timeout.ms`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use mio::Token;

use super::backoff;
use super::batch::ProducerBatch;
use super::connection::{InFlight, RequestKind};
use super::partition::seq_before;
use super::IoThread;
use crate::clock;
use crate::config::Acks;
use crate::delivery::{Job, Outcome};
use crate::error::{Error, LocalCode};
use crate::metadata::format_addr;
use crate::protocol::error_codes::KafkaCode;
use crate::protocol::messages::{self, produce};
use crate::protocol::primitives::Decoder;
use crate::protocol::record_batch::RECORD_BATCH_OVERHEAD;

/// Batches a partition may have in flight with idempotence: the broker remembers the last five.
const MAX_INFLIGHT_PER_PARTITION_IDEMPOTENT: usize = 5;
/// Batches a partition may have sealed (compressing, or compressed and waiting to be sent)
/// ahead of what it sends.
const MAX_SEALED_AHEAD: usize = 4;

impl IoThread {
    /// Sends what is ready, as many requests per connection as `max.in.flight` allows: one
    /// round builds at most one request per broker, so rounds repeat until one sends nothing.
    /// (One request per wakeup left the pipeline at whatever depth it had: with a backlog queued,
    /// each response let one request go, and the broker idled while this thread waited for a CPU
    /// to read the next response.)
    pub(super) fn send_ready(&mut self, now: Instant, next: &mut Instant) {
        // Each round adds at most one request per connection, so max.in.flight rounds fill them.
        for _ in 0..self.inner.config.max_in_flight.max(1) {
            if !self.send_ready_round(now, next) {
                break;
            }
        }
    }

    /// One round of `send_ready`; true when it sent a request.
    pub(super) fn send_ready_round(&mut self, now: Instant, next: &mut Instant) -> bool {
        let idempotent = self.inner.config.enable_idempotence;
        // None: waiting for the producer id or an epoch bump.
        let Some(pid) = self.pid.for_sending() else { return false };
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
        let availability = cfg.partitioner_availability_timeout;

        // Which partitions have something to send, grouped by leader.
        let mut by_leader: HashMap<i32, Vec<usize>> = HashMap::new();
        let n = self.parts.tracked.len();
        let start = if n == 0 { 0 } else { self.parts.rotate % n };
        self.parts.rotate = self.parts.rotate.wrapping_add(1);
        let mut need_metadata = false;
        for k in 0..n {
            let id = self.parts.tracked[(start + k) % n];
            let ps = self.parts.get(id);
            if ps.leader < 0 {
                need_metadata = true;
                if !availability.is_zero() {
                    ps.pq.unavailable_until_ns.store(now_ns + availability.as_nanos() as u64, Ordering::Relaxed);
                }
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
            let ps = self.parts.get(id);
            let has_retry = !ps.retry.is_empty();
            if has_retry {
                if ps.inflight > 0 {
                    continue; // wait for every answer before re-sending in order
                }
                // A backoff is for the broker that failed: once metadata or a refusal names
                // another leader, the retry goes there at once.
                if ps.backoff_until_ns > now_ns && ps.leader == ps.backoff_leader {
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
            let leader = ps.leader;
            if !self.txn.may_send(id) {
                continue; // transaction version 1: waits for AddPartitionsToTxn
            }
            by_leader.entry(leader).or_default().push(id);
        }
        if need_metadata {
            self.meta.needed = true;
        }

        let mut sent = false;
        for (leader, ids) in by_leader {
            let Some(token) = self.ready_connection(leader, now) else {
                log::trace!("{} partition(s) wait for a ready connection to broker {leader}", ids.len());
                self.note_leader_waiting(leader, &ids, now);
                continue;
            };
            let conn_inflight = self.net.conns[&token].inflight.len() + self.net.conns[&token].unacked.len();
            if conn_inflight >= max_in_flight {
                self.note_leader_waiting(leader, &ids, now);
                continue;
            }
            if !availability.is_zero() {
                self.parts.leader_waiting_since.remove(&leader);
                for id in &ids {
                    self.parts.get(*id).pq.unavailable_until_ns.store(0, Ordering::Relaxed);
                }
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
        self.parts.untrack_idle();
        sent
    }

    /// `partitioner.availability.timeout.ms`: `leader` has batches of `ids` ready and cannot take
    /// them now; past the timeout its partitions are marked unavailable to the partitioner.
    fn note_leader_waiting(&mut self, leader: i32, ids: &[usize], now: Instant) {
        let timeout = self.inner.config.partitioner_availability_timeout;
        if timeout.is_zero() {
            return;
        }
        let since = *self.parts.leader_waiting_since.entry(leader).or_insert(now);
        if now.duration_since(since) >= timeout {
            let until = clock::mono_ns() + timeout.as_nanos() as u64;
            for id in ids {
                let pq = &self.parts.get(*id).pq;
                if pq.unavailable_until_ns.swap(until, Ordering::Relaxed) == 0 {
                    log::debug!("{}-{}: broker {leader} took no batch for partitioner.availability.timeout.ms; the partitioner avoids it", pq.topic, pq.partition);
                }
            }
        }
    }

    /// Compression: seals batches of partition `id` (up to `MAX_SEALED_AHEAD` outstanding) and
    /// has them compressed, by the compression threads or, without them, here.
    pub(super) fn seal_batches(&mut self, id: usize, batch_size: usize, urgent: bool, now_ns: u64) {
        loop {
            let ps = self.parts.get(id);
            if ps.sealing + ps.sealed.len() >= MAX_SEALED_AHEAD || !ps.has_queued() {
                return;
            }
            // After the first, only full batches (or everything, when someone waits).
            let first = ps.sealing + ps.sealed.len() == 0;
            if !first && !urgent && ps.queued_bytes() < batch_size.min(ps.split_cap) {
                return;
            }
            let Some(mut b) = self.parts.get_mut(id).drain(self.inner.config.batch_num_messages, batch_size, usize::MAX, now_ns) else { return };
            let ps = self.parts.get_mut(id);
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
    pub(super) fn absorb_compressed(&mut self) {
        let Some(pool) = &self.compressor else { return };
        while let Some(b) = pool.try_collect() {
            let ps = self.parts.get_mut(b.pq.id);
            ps.sealing -= 1;
            let pos = ps.sealed.iter().position(|x| x.seal_no > b.seal_no).unwrap_or(ps.sealed.len());
            ps.sealed.insert(pos, b);
        }
    }

    /// The next batch of partition `id`: the first batch waiting for retry, else the next
    /// compressed batch, else a new one drained from the queue of at most `batch_size` bytes (at
    /// least one record). `room` bounds a new batch, `send_room` one already built.
    pub(super) fn take_batch(&mut self, id: usize, batch_size: usize, room: usize, send_room: usize, pid: Option<(i64, i16)>, now_ns: u64) -> Option<ProducerBatch> {
        let cfg = &self.inner.config;
        let compressing = !cfg.compression.is_none();
        let transactional = self.txn.enabled();
        let ps = self.parts.get_mut(id);
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
            ps.drain(cfg.batch_num_messages, batch_size, room, now_ns)?
        };
        if let Some((pid, epoch)) = pid {
            ps.assign_sequence(&mut b, pid, epoch);
        }
        b.transactional = transactional;
        b.attempts = 1;
        ps.inflight += 1;
        Some(b)
    }

    pub(super) fn send_produce(&mut self, token: Token, mut batches: Vec<ProducerBatch>, now: Instant) {
        batches.sort_by(|a, b| a.pq.topic.cmp(&b.pq.topic).then(a.pq.partition.cmp(&b.pq.partition)));
        let corr = self.net.next_correlation();
        let cfg = &self.inner.config;
        let acks = match cfg.acks {
            Acks::None => 0i16,
            Acks::Leader => 1,
            Acks::All => -1,
        };
        let timeout_ms = cfg.request_timeout.as_millis().min(i32::MAX as u128) as i32;
        let client_id = cfg.client_id.clone();
        let codec = cfg.compression.codec;
        let c = self.net.conns.get_mut(&token).unwrap();
        log::trace!(
            "produce request {corr} to broker {}: {} batch(es), {} record(s)",
            c.node_id,
            batches.len(),
            batches.iter().map(|b| b.records.len()).sum::<usize>()
        );
        let v = self.txn.produce_version(c.versions.produce.expect("ready connections have a Produce version"));
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
                self.parts.get_mut(b.pq.id).inflight -= 1;
                self.fail_batch(b, e.clone());
            }
            return;
        }
        let buf = c.write_buffer();
        let start = buf.len();
        let topic_count = count_runs(&batches);
        {
            let mut w = produce::ProduceRequestWriter::begin(buf, v, corr, &client_id, cfg.transactional_id.as_deref(), acks, timeout_ms, topic_count);
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
        let now_ns = clock::mono_ns();
        self.stats.tallies.produce_written(&batches, &mut self.parts, now_ns);
        self.stats.produce_written(c.node_id, &batches, now_ns);
        let records: usize = if c.outbuf.is_some() { batches.iter().map(|b| b.records.len()).sum() } else { 0 };
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
        c.note_records(records as u64);
        if let Err(e) = c.flush() {
            self.close_connection(token, &e.0, now);
        }
    }

    pub(super) fn flush_all(&mut self, now: Instant) {
        let mut dead = Vec::new();
        let mut done = Vec::new();
        for (t, c) in self.net.conns.iter_mut() {
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
                let ps = self.parts.get_mut(b.pq.id);
                ps.inflight -= 1;
                ps.acked_msgs += b.records.len() as u64;
                ps.acked_bytes += b.records_len as u64;
                self.deliver(b.pq, b.records, Outcome::Ok { base_offset: -1, log_append_time: -1 });
            }
        }
        for (t, why) in dead {
            self.close_connection(t, &why, now);
        }
    }

    /// A Produce response from broker `node`.
    pub(super) fn on_produce(&mut self, node: i32, version: i16, body: &[u8], batches: Vec<ProducerBatch>) {
        let mut resp = match produce::ProduceResponse::decode(&mut Decoder::new(body), version) {
            Ok(r) => r,
            Err(e) => {
                self.stats.produce_undecodable(node);
                let err = Error::kafka(KafkaCode::CORRUPT_MESSAGE, format!("undecodable Produce response: {e}"));
                for mut b in batches {
                    b.maybe_written = true;
                    self.parts.get_mut(b.pq.id).inflight -= 1;
                    self.retry_or_fail(b, &err, true);
                }
                return;
            }
        };
        self.stats.tallies.produce_throttled(resp.throttle_time_ms);
        if self.stats.enabled() {
            let refused = resp.topics.iter().flat_map(|t| t.partitions.iter()).any(|p| p.error_code != 0);
            self.stats.produce_answered(node, resp.throttle_time_ms, refused);
        }
        if resp.throttle_time_ms > 0 && self.inner.deliverer.wants_throttle() {
            let addr = self.net.brokers.get(&node).cloned().unwrap_or_default();
            let job = Job::Throttle { name: format!("{addr}/{node}"), node_id: node, ms: resp.throttle_time_ms };
            if self.delivery_tx.send(job).is_err() {
                log::debug!("delivery channel closed; throttle report dropped");
            }
        }
        // The batches are in the request's order (send_produce sorted them by topic and partition);
        // sorted alike, the answer is walked in step with them.
        resp.sort();
        let mut cursor = produce::ResponseCursor::default();
        for b in batches {
            self.parts.get_mut(b.pq.id).inflight -= 1;
            let Some(p) = resp.find_partition(&mut cursor, &b.pq.topic, b.pq.partition) else {
                let err = Error::kafka(KafkaCode::UNKNOWN_SERVER_ERROR, "the Produce response left out this partition");
                self.retry_or_fail(b, &err, true);
                continue;
            };
            let code = KafkaCode(p.error_code);
            if code.is_ok() || code == KafkaCode::DUPLICATE_SEQUENCE_NUMBER {
                self.parts.get_mut(b.pq.id).acknowledged(&b);
                let offset = if code.is_ok() { p.base_offset } else { -1 };
                self.deliver(b.pq.clone(), b.records, Outcome::Ok { base_offset: offset, log_append_time: p.log_append_time_ms });
                continue;
            }
            let mut msg = format!("broker refused the batch for {}-{}", b.pq.topic, b.pq.partition);
            if let Some(m) = &p.error_message {
                let _ = write!(msg, ": {m}");
            }
            let err = Error::kafka(code, msg);
            // Moved: the refusal names a newer leader, or an earlier refusal (of a batch in flight
            // beside this one) or metadata already did. Java's producer skips the backoff alike
            // when the leader changed since the batch's last attempt.
            let moved = matches!(code, KafkaCode::NOT_LEADER_OR_FOLLOWER | KafkaCode::FENCED_LEADER_EPOCH)
                && (self.follow_leader_hint(b.pq.id, p.current_leader, &resp.node_endpoints) || {
                    let leader = self.parts.get(b.pq.id).leader;
                    leader >= 0 && leader != node
                });
            let id = b.pq.id;
            let backoff_before = self.parts.get(id).backoff_until_ns;
            self.on_batch_error(b, code, &err);
            if moved {
                // Retried on the new leader at once: nothing suggests it needs time (KIP-951).
                self.parts.get_mut(id).backoff_until_ns = backoff_before;
            }
        }
    }

    /// KIP-951: a broker (Kafka 3.7+) that refuses a batch as not the leader names the leader it
    /// knows of, with its address. When that news is newer than ours (a higher leader epoch) the
    /// partition follows it now, without waiting for a metadata round trip. Returns whether the
    /// partition's leader changed.
    fn follow_leader_hint(&mut self, id: usize, hint: Option<(i32, i32)>, endpoints: &[produce::NodeEndpoint]) -> bool {
        let Some((leader, epoch)) = hint else { return false };
        let ps = self.parts.get_mut(id);
        if leader < 0 || epoch < 0 || epoch <= ps.leader_epoch || leader == ps.leader {
            return false;
        }
        log::debug!("{}-{}: the broker names leader {leader} (epoch {epoch}) in place of {} (epoch {})", ps.pq.topic, ps.pq.partition, ps.leader, ps.leader_epoch);
        ps.leader = leader;
        ps.leader_epoch = epoch;
        if let Some((_, host, port, _)) = endpoints.iter().find(|e| e.0 == leader) {
            self.net.brokers.entry(leader).or_insert_with(|| format_addr(host, *port as u16));
        }
        true
    }

    pub(super) fn on_batch_error(&mut self, b: ProducerBatch, code: KafkaCode, err: &Error) {
        if let Some(e) = self.txn_batch_error(code, err) {
            self.fail_batch(b, e);
            return;
        }
        let ps = self.parts.get_mut(b.pq.id);
        match code {
            KafkaCode::NOT_LEADER_OR_FOLLOWER | KafkaCode::LEADER_NOT_AVAILABLE | KafkaCode::UNKNOWN_TOPIC_OR_PARTITION | KafkaCode::FENCED_LEADER_EPOCH | KafkaCode::KAFKA_STORAGE_ERROR => {
                self.meta.needed = true;
                self.retry_or_fail(b, err, true);
            }
            KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER | KafkaCode::UNKNOWN_PRODUCER_ID | KafkaCode::INVALID_PRODUCER_EPOCH => {
                let first_unacked = b.base_sequence == ps.acked_next;
                let behind_acked = b.base_sequence >= 0 && seq_before(b.base_sequence, ps.acked_next, 0, 0);
                if behind_acked && !self.pid.bump_pending {
                    // The broker holds a later sequence than this batch's (it took a later
                    // batch first): under this epoch the batch can never be written. A new
                    // epoch renumbers it; its records land after the later ones, not lost.
                    log::warn!("{err}: batch at sequence {} is behind the acknowledged {}; bumping the epoch to send it again", b.base_sequence, ps.acked_next);
                    ps.needs_reset = true;
                    self.pid.bump_pending = true;
                    self.retry_or_fail(b, err, false);
                } else if !first_unacked || ps.needs_reset || self.pid.bump_pending {
                    // An earlier batch failed: this one was refused only because of it.
                    self.retry_or_fail(b, err, false);
                } else if code == KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER {
                    // KIP-360: the broker lost track of what we sent; this batch fails (records
                    // before it may be lost), and a new epoch lets the partition go on.
                    log::warn!("{}: OUT_OF_ORDER_SEQUENCE_NUMBER for the first unacknowledged batch of {}-{}; bumping the epoch", err, b.pq.topic, b.pq.partition);
                    self.pid.bump_pending = true;
                    self.fail_batch(b, err.clone());
                } else {
                    // KIP-360: the broker forgot our producer id (its state expired): bump the
                    // epoch and send the batch again under it.
                    log::info!("{} for {}-{}: bumping the producer epoch and retrying", code.name(), b.pq.topic, b.pq.partition);
                    self.pid.bump_pending = true;
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
    pub(super) fn split_batch(&mut self, b: ProducerBatch, code: KafkaCode) {
        let cfg = &self.inner.config;
        let compression = cfg.compression;
        let max = (b.records_len / 2).max(1).min(cfg.batch_size);
        let ps = self.parts.get_mut(b.pq.id);
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
        let pos = ps.retry_position(first);
        for (i, p) in pieces.into_iter().enumerate() {
            ps.retry.insert(pos + i, p);
        }
        let id = ps.pq.id;
        self.parts.track(id);
    }

    /// A batch failed in a way that may be retried: queue it for retry (partition order kept) or,
    /// with retries or `delivery.timeout.ms` used up, report the failure.
    pub(super) fn retry_or_fail(&mut self, b: ProducerBatch, err: &Error, ambiguous: bool) {
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
        b.last_error = Some(err.to_string().into());
        let ps = self.parts.get_mut(b.pq.id);
        let backoff = backoff(cfg.retry_backoff, cfg.retry_backoff_max, b.attempts);
        ps.backoff_until_ns = ps.backoff_until_ns.max(now_ns + backoff.as_nanos() as u64);
        ps.backoff_leader = ps.leader;
        log::debug!("retrying batch for {}-{} (attempt {}) in {backoff:?}: {err}", b.pq.topic, b.pq.partition, b.attempts + 1);
        ps.sent.retried += b.records.len() as u64;
        let pos = ps.retry_position(&b);
        ps.retry.insert(pos, b);
        let id = ps.pq.id;
        self.parts.track(id);
    }

    pub(super) fn fail_batch(&mut self, b: ProducerBatch, err: Error) {
        if b.base_sequence >= 0 {
            // Its sequence numbers are now a gap the broker will refuse to skip: a new epoch fixes it.
            self.parts.get_mut(b.pq.id).needs_reset = true;
            self.pid.bump_pending = true;
        }
        self.deliver(b.pq, b.records, Outcome::Err(Arc::new(err)));
    }

    /// Reports records and batches that waited past `delivery.timeout.ms` without being sent.
    pub(super) fn expire(&mut self, _now: Instant) {
        let timeout_ns = self.inner.config.delivery_timeout.as_nanos() as u64;
        let now_ns = clock::mono_ns();
        for id in self.parts.tracked.clone() {
            let ps = self.parts.get_mut(id);
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
                expired.extend(ps.take_queued_while(|r| now_ns >= r.enqueued_ns() + timeout_ns));
            }
            let pq = ps.pq.clone();
            for b in expired_batches {
                let last = b.last_error.as_deref().map(|e| format!("; last error: {e}")).unwrap_or_default();
                let e = Error::local(
                    LocalCode::MessageTimedOut,
                    format!("not acknowledged within delivery.timeout.ms ({} ms) after {} attempt(s){last}", timeout_ns / 1_000_000, b.attempts),
                )
                .with_possibly_persisted(b.maybe_written);
                self.fail_batch(b, e);
            }
            if !expired.is_empty() {
                let why = self.net.why_not_sent(leader);
                log::debug!("{} record(s) of {}-{} expired unsent: {why}", expired.len(), pq.topic, pq.partition);
                let e = Error::local(
                    LocalCode::MessageTimedOut,
                    format!("waited delivery.timeout.ms ({} ms) in the queue of {}-{} without being sent: {why}", timeout_ns / 1_000_000, pq.topic, pq.partition),
                );
                self.deliver(pq, expired, Outcome::Err(Arc::new(e)));
            }
        }
    }
}

/// How many topics a sorted list of batches spans.
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
