//! The accumulator: one lock-free queue of encoded records per partition.
//!
//! ## The protocol
//! Application threads (`send()`) and the I/O thread share a [`PartitionQueue`]; nothing here takes
//! a mutex.
//! - A sender encodes the record body (key, value, headers) on its own thread, pushes it onto the
//!   partition's `SegQueue` (lock-free MPMC, FIFO per pushing thread), then adds its size to
//!   `queued_bytes` and 1 to `enqueued`.
//! - **Activation.** A partition is *active* while the I/O thread tracks it for lingering and
//!   draining. After its push a sender checks `active`; if it is false it swaps it to true, and the
//!   one sender that wins the swap pushes the partition onto the producer's activation queue and
//!   wakes the I/O thread. So the I/O thread is woken once per linger window, not once per record.
//! - **Batch full.** The sender whose `fetch_add` on `queued_bytes` crosses `batch.size` wakes the
//!   I/O thread, so a full batch goes at once instead of at the end of `linger.ms`.
//! - **Deactivation** (I/O thread only), when it has drained the queue empty: store `active = false`,
//!   fence, then look at the queue again. A sender that pushed before the store is seen by that look
//!   (the partition stays active); one that pushes after the store sees `false` and activates the
//!   partition itself. Both fences are SeqCst, so at least one side sees the other: no record is
//!   ever left in a queue that nobody tracks.
//! - Per-partition order: records from one thread keep their order; records from different threads
//!   are ordered by their push. The I/O thread pops in that order and numbers batches in it.

use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_queue::SegQueue;

use crate::delivery::Completion;
use crate::partitioner::StickyPartitioner;

/// What a record costs against `buffer.memory` beyond its encoded body: the queue slot, the
/// bookkeeping below and its share of the batch header.
pub(crate) const RECORD_OVERHEAD: usize = 64;

/// A record between `send()` and its delivery report.
pub(crate) struct PendingRecord {
    /// The v2 record body: key, value and headers, encoded (see `protocol::record_batch`).
    pub body: Box<[u8]>,
    pub timestamp: i64,
    /// `clock::mono_ns()` at `send()`: starts `delivery.timeout.ms` and measures latency.
    pub enqueued_ns: u64,
    pub completion: Completion,
}

impl PendingRecord {
    /// Bytes accounted against `buffer.memory` for this record.
    #[inline]
    pub fn mem_size(&self) -> usize {
        self.body.len() + RECORD_OVERHEAD
    }
}

pub(crate) struct PartitionQueue {
    /// Dense id across the producer's partitions: the I/O thread's index for its own state.
    pub id: usize,
    pub topic: Arc<str>,
    /// The topic NUL-terminated (interior NULs, which no valid topic has, left out): what C
    /// delivery reports point at, made once instead of per report.
    pub topic_c: std::ffi::CString,
    pub partition: i32,
    queue: SegQueue<PendingRecord>,
    /// Encoded bytes in `queue` (bodies only), kept by senders (+) and the I/O thread (-).
    pub queued_bytes: AtomicUsize,
    /// Records ever pushed; with `completed`, tells `flush()` when what it waits for is done.
    pub enqueued: AtomicU64,
    /// Records ever reported (delivery thread), in push order per partition.
    pub completed: AtomicU64,
    active: AtomicBool,
}

/// What `push` asks the caller to do next.
pub(crate) struct PushOutcome {
    /// The partition just became active: hand it to the I/O thread.
    pub activated: bool,
    /// The queue just reached `batch.size`: wake the I/O thread.
    pub batch_full: bool,
}

impl PartitionQueue {
    pub fn new(id: usize, topic: Arc<str>, partition: i32) -> Self {
        PartitionQueue {
            id,
            topic_c: std::ffi::CString::new(topic.replace('\0', "")).unwrap_or_default(),
            topic,
            partition,
            queue: SegQueue::new(),
            queued_bytes: AtomicUsize::new(0),
            enqueued: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            active: AtomicBool::new(false),
        }
    }

    /// Application threads. See the module docs for the protocol.
    #[inline]
    pub fn push(&self, record: PendingRecord, batch_size: usize) -> PushOutcome {
        let size = record.body.len();
        self.queue.push(record);
        self.enqueued.fetch_add(1, Ordering::Relaxed);
        let before = self.queued_bytes.fetch_add(size, Ordering::AcqRel);
        fence(Ordering::SeqCst);
        let activated = !self.active.load(Ordering::SeqCst) && !self.active.swap(true, Ordering::SeqCst);
        PushOutcome { activated, batch_full: before < batch_size && before + size >= batch_size }
    }

    /// I/O thread (and purge/close on the I/O thread).
    #[inline]
    pub fn pop(&self) -> Option<PendingRecord> {
        let r = self.queue.pop()?;
        self.queued_bytes.fetch_sub(r.body.len(), Ordering::AcqRel);
        Some(r)
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// I/O thread, after it drained the queue empty. Returns false when records arrived meanwhile
    /// and the partition must stay active in the I/O thread's list.
    pub fn try_deactivate(&self) -> bool {
        self.active.store(false, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.queue.is_empty() {
            return true;
        }
        // A record slipped in. If we win the swap we keep tracking the partition (false); if a
        // sender won it, the sender has queued an activation and the partition comes back through
        // that (true).
        self.active.swap(true, Ordering::SeqCst)
    }

    /// Records pushed but not yet reported.
    pub fn outstanding(&self) -> u64 {
        self.enqueued.load(Ordering::Acquire).saturating_sub(self.completed.load(Ordering::Acquire))
    }
}

/// A topic as senders see it: its partition queues and its sticky-partitioner state. Replaced as a
/// whole (through `ArcSwap`) when metadata changes the partition count; the queues carry over.
pub(crate) struct TopicState {
    pub name: Arc<str>,
    pub partitions: Vec<Arc<PartitionQueue>>,
    pub sticky: Arc<StickyPartitioner>,
}

impl TopicState {
    pub fn partition_count(&self) -> u32 {
        self.partitions.len() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::atomic::AtomicBool;

    fn rec(v: u64) -> PendingRecord {
        PendingRecord { body: v.to_be_bytes().to_vec().into_boxed_slice(), timestamp: 0, enqueued_ns: 0, completion: Completion::Opaque(0) }
    }

    #[test]
    fn first_push_activates_and_crossing_batch_size_reports_full() {
        let q = PartitionQueue::new(0, "t".into(), 0);
        let a = q.push(rec(1), 16);
        assert!(a.activated && !a.batch_full);
        let b = q.push(rec(2), 16);
        assert!(!b.activated && b.batch_full);
        let c = q.push(rec(3), 16);
        assert!(!c.activated && !c.batch_full);
        assert_eq!(q.queued_bytes.load(Ordering::Relaxed), 24);
    }

    /// Many senders race the I/O thread's drain/deactivate cycle. Every record must be popped
    /// exactly once, in per-sender order, and after the senders stop no record may sit in a queue
    /// the consumer believes inactive.
    #[test]
    fn no_record_is_lost_or_stranded_when_senders_race_deactivation() {
        const SENDERS: u64 = 8;
        const PER_SENDER: u64 = 50_000;
        let q = Arc::new(PartitionQueue::new(0, "t".into(), 0));
        let activations = Arc::new(SegQueue::new());
        let done = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for s in 0..SENDERS {
            let (q, activations) = (q.clone(), activations.clone());
            handles.push(std::thread::spawn(move || {
                for i in 0..PER_SENDER {
                    if q.push(rec(s << 32 | i), 1 << 20).activated {
                        activations.push(());
                    }
                }
            }));
        }
        let consumer = {
            let (q, activations, done) = (q.clone(), activations.clone(), done.clone());
            std::thread::spawn(move || {
                let mut tracked = false;
                let mut seen = HashSet::new();
                let mut last = vec![None::<u64>; SENDERS as usize];
                loop {
                    while activations.pop().is_some() {
                        tracked = true;
                    }
                    if tracked {
                        while let Some(r) = q.pop() {
                            let v = u64::from_be_bytes(r.body[..8].try_into().unwrap());
                            let (s, i) = ((v >> 32) as usize, v & 0xffff_ffff);
                            assert!(last[s].is_none_or(|p| p < i), "sender {s} out of order");
                            last[s] = Some(i);
                            assert!(seen.insert(v));
                        }
                        if q.try_deactivate() {
                            tracked = false;
                        }
                    }
                    if done.load(Ordering::SeqCst) && activations.is_empty() && !tracked {
                        // Everything pushed was either drained or is signalled by an activation.
                        assert!(q.is_empty(), "records stranded in an inactive queue");
                        return seen.len() as u64;
                    }
                }
            })
        };
        for h in handles {
            h.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
        assert_eq!(consumer.join().unwrap(), SENDERS * PER_SENDER);
    }
}
