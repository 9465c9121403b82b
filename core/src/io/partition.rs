//! Per-partition state of the I/O thread: what it has taken from a partition's queue and not yet
//! reported. Each partition keeps its leader, the records taken off its queue and not yet batched, the
//! batches sealed for compression, the batches waiting to be sent again (in sequence order), and
//! its sequence numbers under idempotence. [`Partitions`] holds them all, indexed by the queue's
//! id, and the list of partitions with something to do (`tracked`).
//!
//! Owned by the I/O thread alone: nothing here is shared.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::batch::ProducerBatch;
use crate::accumulator::{Consumer, PartitionQueue, PendingRecord};
use crate::protocol::record_batch::{self, RECORD_BATCH_OVERHEAD};

pub(super) struct PartState {
    pub pq: Arc<PartitionQueue>,
    /// Leader broker id; -1 while unknown.
    pub leader: i32,
    /// The leader's epoch as metadata or a Produce response's `CurrentLeader` last named it (-1:
    /// unknown, or a broker too old to say): older news of the leader is not applied over newer.
    pub leader_epoch: i32,
    /// In `Partitions::tracked`.
    tracked: bool,
    /// We hold the queue's active flag (see the accumulator's protocol).
    active: bool,
    /// When the current linger window started.
    pub linger_start_ns: Option<u64>,
    /// Records taken off the queue and not yet batched, ahead of it in order: the record that
    /// did not fit the last batch, or what the deadline sweep (`take_past_deadline`) left.
    held: VecDeque<PendingRecord>,
    /// Body bytes of `held`.
    held_bytes: usize,
    /// Batches to send again, in sequence order.
    pub retry: VecDeque<ProducerBatch>,
    pub backoff_until_ns: u64,
    /// The leader when `backoff_until_ns` was last set: a backoff is waived once the partition
    /// has another leader (what failed was the old one; Java's producer skips it alike, KIP-951).
    pub backoff_leader: i32,
    pub inflight: usize,
    pub next_seq: i32,
    /// The sequence after the last acknowledged batch (idempotence).
    pub acked_next: i32,
    /// A batch of this partition failed for good: sequences past it will be refused until the
    /// epoch is bumped, so out-of-order answers meanwhile are retried, not reported.
    pub needs_reset: bool,
    /// Compression: batches at the compression threads.
    pub sealing: usize,
    /// Compression: compressed batches not sent yet, in `seal_no` order; never sent before an
    /// earlier seal number, so sequence numbers (given when first sent) follow queue order.
    pub sealed: VecDeque<ProducerBatch>,
    pub next_seal: u64,
    pub next_send_seal: u64,
    /// After the broker refused a batch as too large: the most uncompressed record bytes a new
    /// batch of this partition takes (`usize::MAX` until then).
    pub split_cap: usize,
    /// A batch of this partition was acknowledged under the current producer epoch, so the
    /// broker checks our sequences. Until then a broker that holds no state for us accepts any
    /// first sequence: if batch 1 were refused (say NOT_LEADER_OR_FOLLOWER) and batch 2 taken,
    /// batch 1 could never be written after it. So until confirmed, one batch is in flight.
    pub confirmed: bool,
    /// Records and record bytes (uncompressed, with their per-record framing) acknowledged, or
    /// written under acks=0: the statistics' `txmsgs` / `txbytes`. Per batch, I/O thread.
    pub acked_msgs: u64,
    pub acked_bytes: u64,
    /// What `Producer::counters` reports per topic (see `crate::counters::TopicCounters`): per
    /// batch written or retried, I/O thread.
    pub sent: SendTally,
}

/// A partition's part of [`crate::counters::TopicCounters`].
#[derive(Default, Clone, Copy)]
pub(super) struct SendTally {
    pub records: u64,
    pub bytes: u64,
    pub batches: u64,
    pub ratio_sum: f64,
    pub retried: u64,
}

impl PartState {
    fn new(pq: Arc<PartitionQueue>) -> PartState {
        PartState {
            pq,
            leader: -1,
            leader_epoch: -1,
            tracked: false,
            active: false,
            linger_start_ns: None,
            held: VecDeque::new(),
            held_bytes: 0,
            retry: VecDeque::new(),
            backoff_until_ns: 0,
            backoff_leader: -1,
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
            acked_msgs: 0,
            acked_bytes: 0,
            sent: SendTally::default(),
        }
    }

    pub fn has_queued(&self) -> bool {
        !self.held.is_empty() || !self.pq.is_empty()
    }

    /// Batches sealed and not sent yet (compression).
    pub fn has_sealed(&self) -> bool {
        self.sealing > 0 || !self.sealed.is_empty()
    }

    /// The next compressed batch to send, if it is back from compression.
    pub fn sendable_sealed(&self) -> Option<&ProducerBatch> {
        self.sealed.front().filter(|b| b.seal_no == self.next_send_seal)
    }

    /// The records of every sealed, unsent batch, in order (only while none is compressing).
    fn take_sealed_records(&mut self) -> Vec<PendingRecord> {
        debug_assert_eq!(self.sealing, 0);
        self.next_send_seal = self.next_seal;
        self.sealed.drain(..).flat_map(|b| b.records).collect()
    }

    /// The next record in line: held first, then the queue's.
    #[inline]
    fn next_record(&mut self, queue: &mut Consumer<'_>) -> Option<PendingRecord> {
        match self.held.pop_front() {
            Some(r) => {
                self.held_bytes -= r.body().len();
                Some(r)
            }
            None => queue.pop(),
        }
    }

    /// Puts a record back first in line.
    #[inline]
    fn hold_first(&mut self, r: PendingRecord) {
        self.held_bytes += r.body().len();
        self.held.push_front(r);
    }

    /// Every record not yet put into a request, in order: sealed batches, the held records,
    /// then the queue. Only while none is compressing.
    pub fn take_unsent(&mut self) -> Vec<PendingRecord> {
        let mut recs = self.take_sealed_records();
        recs.extend(self.held.drain(..));
        self.held_bytes = 0;
        let mut c = self.pq.consumer();
        while let Some(r) = c.pop() {
            recs.push(r);
        }
        recs
    }

    /// Takes records from the head of the queue while `keep` says so; the first it refuses
    /// stays first in line.
    pub fn take_queued_while(&mut self, mut keep: impl FnMut(&PendingRecord) -> bool) -> Vec<PendingRecord> {
        let mut out = Vec::new();
        let pq = self.pq.clone();
        let mut queue = pq.consumer();
        while let Some(r) = self.next_record(&mut queue) {
            if keep(&r) {
                out.push(r);
            } else {
                self.hold_first(r);
                break;
            }
        }
        out
    }

    /// The deadline sweep: takes out every unsent record whose own deadline has passed at
    /// `now_ns`, keeping the others in order, and returns them with the earliest deadline left
    /// among what this partition holds (`u64::MAX`: none). Sealed batches (compression) that hold
    /// such a record are taken apart, their records put back in line to be batched again; while
    /// a batch is at the compression threads the answer is at most 1 ms ahead, to look again
    /// when it is back. Records in flight or waiting for a retry have sequence numbers (under
    /// idempotence) and stay. The caller swapped `pq.earliest_deadline_ns` beforehand.
    pub fn take_past_deadline(&mut self, now_ns: u64) -> (Vec<PendingRecord>, u64) {
        if self.sealing == 0 && self.sealed.iter().any(|b| b.records.iter().any(|r| r.past_deadline(now_ns))) {
            let recs = self.take_sealed_records();
            for r in recs.into_iter().rev() {
                self.hold_first(r);
            }
        }
        let pq = self.pq.clone();
        let mut queue = pq.consumer();
        while let Some(r) = queue.pop() {
            self.held_bytes += r.body().len();
            self.held.push_back(r);
        }
        drop(queue);
        let mut expired = Vec::new();
        let mut earliest = u64::MAX;
        if self.held.iter().any(|r| r.past_deadline(now_ns)) {
            let mut kept = VecDeque::with_capacity(self.held.len());
            for r in self.held.drain(..) {
                if r.past_deadline(now_ns) {
                    self.held_bytes -= r.body().len();
                    expired.push(r);
                } else {
                    kept.push_back(r);
                }
            }
            self.held = kept;
        }
        for r in self.held.iter().chain(self.sealed.iter().flat_map(|b| b.records.iter())) {
            if r.deadline_ns() != 0 {
                earliest = earliest.min(r.deadline_ns());
            }
        }
        if self.sealing > 0 {
            earliest = earliest.min(now_ns + 1_000_000);
        }
        (expired, earliest)
    }

    pub fn queued_bytes(&self) -> usize {
        self.pq.queued_bytes.load(Ordering::Relaxed) + self.held_bytes
    }

    /// One new batch from the queue: at most `limit` bytes encoded (at least one record, if that
    /// one fits `room`) and `max_records` records, its totals counted as the records are popped.
    /// Restarts the linger window for what stays queued.
    pub fn drain(&mut self, max_records: usize, limit: usize, room: usize, now_ns: u64) -> Option<ProducerBatch> {
        let limit = limit.min(room).min(self.split_cap.saturating_add(RECORD_BATCH_OVERHEAD));
        let mut records: Vec<PendingRecord> = Vec::new();
        let mut size = RECORD_BATCH_OVERHEAD;
        let (mut base_ts, mut max_ts, mut created_ns) = (0i64, i64::MIN, u64::MAX);
        let pq = self.pq.clone();
        let mut queue = pq.consumer();
        loop {
            let Some(r) = self.next_record(&mut queue) else { break };
            if records.is_empty() {
                base_ts = r.timestamp();
            }
            let len = record_batch::record_len(r.timestamp() - base_ts, records.len() as i32, r.body().len());
            if !records.is_empty() && (size + len > limit || records.len() >= max_records) {
                self.hold_first(r);
                break;
            }
            if records.is_empty() {
                if size + len > room {
                    self.hold_first(r);
                    return None;
                }
                // Room for the batch at once: growing a Vec of records copies them over and over.
                let queued = self.pq.queued_bytes.load(Ordering::Relaxed) / r.body().len().max(1);
                records.reserve((limit / len + 1).min(queued + 1).min(max_records));
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
        self.linger_start_ns = Some(now_ns);
        Some(ProducerBatch::with_totals(self.pq.clone(), records, size, max_ts, created_ns))
    }

    /// Gives a new batch the partition's next sequence numbers (idempotence).
    pub fn assign_sequence(&mut self, b: &mut ProducerBatch, producer_id: i64, epoch: i16) {
        b.producer_id = producer_id;
        b.producer_epoch = epoch;
        b.base_sequence = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(b.record_count()) & i32::MAX;
    }

    /// A batch was acknowledged.
    pub fn acknowledged(&mut self, b: &ProducerBatch) {
        self.acked_msgs += b.records.len() as u64;
        self.acked_bytes += b.records_len as u64;
        if b.base_sequence >= 0 {
            self.acked_next = b.base_sequence.wrapping_add(b.record_count()) & i32::MAX;
            self.confirmed = true;
        }
    }

    /// Where a batch goes among those waiting for retry: in sequence order (by age without
    /// idempotence).
    pub fn retry_position(&self, b: &ProducerBatch) -> usize {
        self.retry.iter().position(|x| seq_before(b.base_sequence, x.base_sequence, b.created_ns, x.created_ns)).unwrap_or(self.retry.len())
    }

    /// A new producer epoch: sequences restart at 0; batches waiting for retry are renumbered in
    /// their order.
    pub fn restart_sequences(&mut self, producer_id: i64, epoch: i16) {
        self.needs_reset = false;
        self.confirmed = false;
        self.acked_next = 0;
        let mut seq = 0i32;
        for b in self.retry.iter_mut() {
            b.producer_id = producer_id;
            b.producer_epoch = epoch;
            b.base_sequence = seq;
            seq = seq.wrapping_add(b.record_count());
        }
        self.next_seq = seq;
    }
}

/// Every partition the I/O thread knows, by queue id, and those with work (`tracked`).
#[derive(Default)]
pub(super) struct Partitions {
    slots: Vec<Option<PartState>>,
    /// Partitions with queued records, carried records, sealed batches or batches to retry.
    pub tracked: Vec<usize>,
    next_id: usize,
    /// Where the next round over `tracked` starts, so big partitions don't starve small ones.
    pub rotate: usize,
    /// `partitioner.availability.timeout.ms`: per leader, since when it has had batches ready
    /// and none taken (cleared when a Produce request goes to it).
    pub leader_waiting_since: std::collections::HashMap<i32, std::time::Instant>,
}

impl Partitions {
    pub fn get(&self, id: usize) -> &PartState {
        self.slots[id].as_ref().expect("partition state exists for every queue")
    }

    pub fn get_mut(&mut self, id: usize) -> &mut PartState {
        self.slots[id].as_mut().expect("partition state exists for every queue")
    }

    pub fn iter(&self) -> impl Iterator<Item = &PartState> {
        self.slots.iter().flatten()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut PartState> {
        self.slots.iter_mut().flatten()
    }

    /// A new partition of `topic`, with the next queue id; `sibling` is one of the topic's
    /// partitions already known, whose C topic name the new one shares.
    pub fn add(&mut self, topic: Arc<str>, sibling: Option<&PartitionQueue>, index: i32) -> Arc<PartitionQueue> {
        let id = self.next_id;
        self.next_id += 1;
        let pq = Arc::new(match sibling {
            Some(s) => PartitionQueue::with_topic_c(id, topic, s.topic_c.clone(), index),
            None => PartitionQueue::new(id, topic, index),
        });
        if self.slots.len() <= id {
            self.slots.resize_with(id + 1, || None);
        }
        self.slots[id] = Some(PartState::new(pq.clone()));
        pq
    }

    /// The partition has something to do: keep it in `tracked`.
    pub fn track(&mut self, id: usize) {
        let ps = self.get_mut(id);
        if !ps.tracked {
            ps.tracked = true;
            self.tracked.push(id);
        }
    }

    /// A sender activated the partition's queue (see the accumulator): we hold its active flag
    /// now, and its linger window starts if none runs.
    pub fn activated(&mut self, id: usize, now_ns: u64) {
        let ps = self.get_mut(id);
        ps.active = true;
        if ps.linger_start_ns.is_none() {
            ps.linger_start_ns = Some(now_ns);
        }
        self.track(id);
    }

    /// Partitions left with nothing to do give their active flag back and leave `tracked`.
    pub fn untrack_idle(&mut self) {
        let mut i = 0;
        while i < self.tracked.len() {
            let id = self.tracked[i];
            let ps = self.slots[id].as_mut().expect("partition state exists for every queue");
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

    pub fn any_in_flight(&self) -> bool {
        self.iter().any(|p| p.inflight > 0)
    }

    /// Nothing tracked, in flight or sealed.
    pub fn all_done(&self) -> bool {
        self.tracked.is_empty() && self.iter().all(|p| p.inflight == 0 && !p.has_sealed())
    }
}

/// Order of two batches of one partition: by sequence when idempotent, else by age.
pub(super) fn seq_before(a_seq: i32, b_seq: i32, a_created: u64, b_created: u64) -> bool {
    if a_seq >= 0 && b_seq >= 0 {
        // Sequences wrap at i32::MAX; compare in a window.
        let d = b_seq.wrapping_sub(a_seq) & i32::MAX;
        d != 0 && d < (1 << 30)
    } else {
        a_created < b_created
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_of_a_topic_share_one_c_topic_name() {
        let mut parts = Partitions::default();
        let first = parts.add("orders".into(), None, 0);
        let second = parts.add("orders".into(), Some(&first), 1);
        assert_eq!(second.topic_c.to_str(), Ok("orders"));
        assert!(Arc::ptr_eq(&first.topic_c, &second.topic_c), "one allocation per topic");
        assert_eq!((first.id, second.id), (0, 1));
    }

    #[test]
    fn sequence_order_survives_wrapping() {
        assert!(seq_before(5, 10, 0, 0));
        assert!(!seq_before(10, 5, 0, 0));
        assert!(seq_before(i32::MAX - 2, 3, 0, 0));
        assert!(seq_before(-1, -1, 1, 2));
    }
}
