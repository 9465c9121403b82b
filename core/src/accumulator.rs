//! The accumulator: one lock-free queue of encoded records per partition.
//!
//! ## The protocol
//! Application threads (`send()`) and the I/O thread share a [`PartitionQueue`]; no sender ever
//! waits for another thread here.
//! - A sender encodes the record body (key, value, headers) on its own thread into one allocation
//!   that also holds the record's bookkeeping and the queue link (a [`PendingRecord`]), adds 1 to
//!   `enqueued` and its size to `queued_bytes`, then pushes it onto the partition's [`RecordQueue`]
//!   (one atomic swap). Counted first: a consumer may pop it as soon as it is linked, and its
//!   bytes must not come off `queued_bytes` (an unsigned count) before they went on.
//! - **Activation.** A partition is *active* while the I/O thread tracks it for lingering and
//!   draining. After its push a sender checks `active`; if it is false it swaps it to true, and the
//!   one sender that wins the swap pushes the partition onto the producer's activation queue and
//!   wakes the I/O thread. So the I/O thread is woken once per linger window, not once per record.
//! - **Batch full.** The sender whose `fetch_add` on `queued_bytes` crosses `batch.size` wakes the
//!   I/O thread, so a full batch goes at once instead of at the end of `linger.ms`.
//! - **Deactivation** (I/O thread only), when it has drained the queue empty: store `active = false`,
//!   fence, then look at the queue again. A sender that pushed before the store is seen by that look
//!   (the partition stays active); one that pushes after the store sees `false` and activates the
//!   partition itself. The sender's push (a swap of the queue's head) and its look at `active`, the
//!   I/O thread's store, fence and look at the head are all SeqCst, so they fall in one total order
//!   and at least one side sees the other: no record is ever left in a queue that nobody tracks.
//!   The sender needs no fence of its own: its swap is a SeqCst read-modify-write (on x86 a locked
//!   `xchg`, a full barrier already; a separate `mfence` cost a few percent of a send).
//! - Per-partition order: records from one thread keep their order; records from different threads
//!   are ordered by their push. The I/O thread pops in that order and numbers batches in it.
//!
//! ## The queue
//! [`RecordQueue`] is an intrusive multi-producer, single-consumer linked list (Dmitry Vyukov's
//! design): a push swaps the list's head to the new record and then links the previous head to it.
//! The record itself is the list node, so a record costs one allocation and moves between threads
//! as one pointer. Consumers (the I/O thread; `close()`'s sweep on a sending thread) take turns
//! through [`PartitionQueue::consumer`]. A sender stopped between its swap and its link hides the
//! records pushed after it until it resumes; a consumer that reaches that point waits for the link
//! (as crossbeam's SegQueue waited for a slot being written), so a pop finds nothing only when the
//! queue is empty. Senders never wait.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::mem::MaybeUninit;
use std::ptr::{self, NonNull};
use std::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::completion::Completion;
use crate::partitioner::StickyPartitioner;

/// What a record costs against `buffer.memory` beyond its encoded body when the allocator does not
/// round (the bookkeeping and link that share its allocation); see [`record_mem_size`].
pub(crate) const RECORD_OVERHEAD: usize = 64;

/// Bytes a record whose encoded body is `body_len` bytes holds, as counted against `buffer.memory`:
/// its allocation (bookkeeping, link and body: at least `body_len + RECORD_OVERHEAD`) rounded up to
/// the size class a size-segregated allocator serves it from. mimalloc (rafka's allocator) and
/// jemalloc keep four classes per power of two above 128 bytes, so a 100 B record's 172-byte
/// allocation takes 192 bytes; counted unrounded, a full 256 MiB buffer held 286 MiB of records
/// (bench/results/memory.md). glibc's malloc rounds to 16 bytes plus an 8-byte header, never
/// above this. Allocations of more than 64 KiB are rounded to the 4 KiB page only (allocators serve
/// those from whole pages), so a record of nearly `buffer.memory` still fits.
#[inline]
pub(crate) fn record_mem_size(body_len: usize) -> usize {
    let n = (BODY_OFFSET + body_len).max(body_len + RECORD_OVERHEAD);
    if n <= 128 {
        (n + 15) & !15
    } else if n <= 64 << 10 {
        let step = 1usize << ((usize::BITS - 1 - (n - 1).leading_zeros()) - 2);
        (n + step - 1) & !(step - 1)
    } else {
        n.saturating_add(4095) & !4095
    }
}

/// The start of a record's allocation; its encoded body follows at `size_of::<Node>()`.
#[repr(C)]
struct Node {
    next: AtomicPtr<Node>,
    len: usize,
    timestamp: i64,
    /// `clock::mono_ns()` at `send()`: starts `delivery.timeout.ms` and measures latency.
    enqueued_ns: u64,
    /// The record's own deadline (`clock::mono_ns()` scale); 0: none, only `delivery.timeout.ms`.
    deadline_ns: u64,
    completion: Completion,
}

const BODY_OFFSET: usize = std::mem::size_of::<Node>();

fn node_layout(len: usize) -> Layout {
    Layout::from_size_align(BODY_OFFSET + len, std::mem::align_of::<Node>()).expect("record size overflows a Layout")
}

/// A record between `send()` and its delivery report: the v2 record body (key, value and
/// headers, encoded as in `protocol::record_batch`), its timestamp and how to report it. Owns
/// one allocation; moved as one pointer.
pub(crate) struct PendingRecord(NonNull<Node>);

// SAFETY: a PendingRecord owns its node exclusively (like a Box); Completion is Send.
unsafe impl Send for PendingRecord {}
// The impl above stands on this: it fails to compile should Completion ever stop being Send.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<Completion>();
};

impl PendingRecord {
    /// Allocates a record whose body is `body_len` bytes and has `encode` write every one of them;
    /// `deadline_ns` is its own deadline (`clock::mono_ns()` scale), 0 for none.
    ///
    /// # Safety
    /// `encode` must initialise every byte of the slice it is given, or panic (the node is then
    /// freed and its body never read): the body is read as initialised bytes afterwards.
    #[inline]
    pub unsafe fn new(
        body_len: usize,
        timestamp: i64,
        enqueued_ns: u64,
        deadline_ns: u64,
        completion: Completion,
        encode: impl FnOnce(&mut [MaybeUninit<u8>]),
    ) -> Self {
        let layout = node_layout(body_len);
        // SAFETY: the layout has a non-zero size (the Node). The header is written before anything
        // reads it; the body is read only after `encode`, which must fill it, returned.
        unsafe {
            let p = alloc(layout) as *mut Node;
            let Some(node) = NonNull::new(p) else { handle_alloc_error(layout) };
            ptr::write(p, Node { next: AtomicPtr::new(ptr::null_mut()), len: body_len, timestamp, enqueued_ns, deadline_ns, completion });
            // Owned from here, so a panic in `encode` frees the node (its body bytes are never read).
            let rec = PendingRecord(node);
            encode(std::slice::from_raw_parts_mut((p as *mut u8).add(BODY_OFFSET).cast::<MaybeUninit<u8>>(), body_len));
            rec
        }
    }

    /// A record holding a copy of `body` (tests and benchmarks).
    pub fn from_body(body: &[u8], timestamp: i64, enqueued_ns: u64, completion: Completion) -> Self {
        // SAFETY: the closure fills all of `out`, body.len() bytes of the new node, disjoint from
        // `body`.
        unsafe {
            PendingRecord::new(body.len(), timestamp, enqueued_ns, 0, completion, |out| {
                ptr::copy_nonoverlapping(body.as_ptr(), out.as_mut_ptr().cast::<u8>(), body.len())
            })
        }
    }

    #[inline]
    fn node(&self) -> &Node {
        // SAFETY: the node lives as long as this handle.
        unsafe { self.0.as_ref() }
    }

    #[inline]
    pub fn body(&self) -> &[u8] {
        // SAFETY: `len` initialised bytes follow the header (see `new`).
        unsafe { std::slice::from_raw_parts((self.0.as_ptr() as *const u8).add(BODY_OFFSET), self.node().len) }
    }

    #[inline]
    pub fn timestamp(&self) -> i64 {
        self.node().timestamp
    }

    #[inline]
    pub fn enqueued_ns(&self) -> u64 {
        self.node().enqueued_ns
    }

    /// The record's own deadline (`clock::mono_ns()` scale); 0: none.
    #[inline]
    pub fn deadline_ns(&self) -> u64 {
        self.node().deadline_ns
    }

    /// Whether the record's own deadline has passed at `now_ns`.
    #[inline]
    pub fn past_deadline(&self, now_ns: u64) -> bool {
        let d = self.node().deadline_ns;
        d != 0 && d <= now_ns
    }

    /// Takes how the record is to be reported, leaving a no-op in its place.
    #[inline]
    pub fn take_completion(&mut self) -> Completion {
        // SAFETY: exclusive access through &mut self.
        unsafe { std::mem::replace(&mut (*self.0.as_ptr()).completion, Completion::Opaque(0)) }
    }

    /// Asks the CPU to load the record's bookkeeping and the start of its body into the cache:
    /// a thread about to walk many records that waited long (spread over many partitions, they
    /// are no longer cached) overlaps those loads instead of waiting for each in turn.
    #[inline]
    pub fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: prefetching is a hint; it never faults, whatever the address.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let p = self.0.as_ptr() as *const i8;
            _mm_prefetch::<_MM_HINT_T0>(p);
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64));
        }
    }

    /// Bytes accounted against `buffer.memory` for this record.
    #[inline]
    pub fn mem_size(&self) -> usize {
        record_mem_size(self.node().len)
    }

    fn into_raw(self) -> *mut Node {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }
}

impl Drop for PendingRecord {
    fn drop(&mut self) {
        // SAFETY: the node was allocated with this layout in `new` and is owned by this handle.
        unsafe {
            let len = self.node().len;
            ptr::drop_in_place(self.0.as_ptr());
            dealloc(self.0.as_ptr() as *mut u8, node_layout(len));
        }
    }
}

/// The intrusive MPSC list of [`PendingRecord`]s (see the module docs).
pub(crate) struct RecordQueue {
    /// The node pushed last. Senders swap it.
    head: AtomicPtr<Node>,
    /// The next node to pop (or the stub). Only the consumer holding `consuming` writes it.
    tail: AtomicPtr<Node>,
    /// A record-less node that keeps the list non-empty, so push never has to handle "no head".
    stub: NonNull<Node>,
    consuming: AtomicBool,
}

// SAFETY: nodes are handed between threads by the protocol above; `tail` is only written by the
// one consumer holding `consuming`.
unsafe impl Send for RecordQueue {}
unsafe impl Sync for RecordQueue {}

impl RecordQueue {
    fn new() -> Self {
        // SAFETY: the stub has an empty body.
        let stub = NonNull::new(unsafe { PendingRecord::new(0, 0, 0, 0, Completion::Opaque(0), |_| {}) }.into_raw()).unwrap();
        RecordQueue { head: AtomicPtr::new(stub.as_ptr()), tail: AtomicPtr::new(stub.as_ptr()), stub, consuming: AtomicBool::new(false) }
    }

    #[inline]
    fn push_node(&self, node: *mut Node) {
        // SAFETY: `node` is a live node no other thread links to yet.
        unsafe { (*node).next.store(ptr::null_mut(), Ordering::Relaxed) };
        // SeqCst: orders a sender's push before its look at `active` (see the module docs).
        let prev = self.head.swap(node, Ordering::SeqCst);
        #[cfg(test)]
        tests::after_swap();
        // SAFETY: `prev` stays allocated until the consumer has moved past it, which it cannot
        // before this store links it to `node`.
        unsafe { (*prev).next.store(node, Ordering::Release) };
    }

    /// Whether nothing has been pushed that the consumer has not popped. Exact for the consumer
    /// (after its fences); a snapshot for anyone else.
    fn is_empty(&self, order: Ordering) -> bool {
        let stub = self.stub.as_ptr();
        self.tail.load(Ordering::Relaxed) == stub && self.head.load(order) == stub
    }

    /// Consumer only (holding `consuming`). None only when the queue is empty: a record whose
    /// sender is between its swap and its link is waited for (see `wait_for_link`).
    #[inline]
    fn pop(&self) -> Option<PendingRecord> {
        let stub = self.stub.as_ptr();
        let mut tail = self.tail.load(Ordering::Relaxed);
        // SAFETY: `tail` and what it links to stay allocated until popped by this consumer.
        unsafe {
            let mut next = (*tail).next.load(Ordering::Acquire);
            if tail == stub {
                if next.is_null() {
                    if self.head.load(Ordering::Acquire) == stub {
                        return None;
                    }
                    next = wait_for_link(&(*stub).next); // a sender swapped the stub out
                }
                self.tail.store(next, Ordering::Relaxed);
                tail = next;
                next = (*next).next.load(Ordering::Acquire);
            }
            if next.is_null() {
                if tail == self.head.load(Ordering::Acquire) {
                    // `tail` is the last record: put the stub behind it so it can be taken.
                    self.push_node(stub);
                }
                // Linked to the stub just now, or to a record by a sender between its swap and
                // its link.
                next = wait_for_link(&(*tail).next);
            }
            self.tail.store(next, Ordering::Relaxed);
            Some(PendingRecord(NonNull::new_unchecked(tail)))
        }
    }
}

/// The link a sender is about to store after its swap: a few instructions away, unless the sender
/// was preempted there. The consumer waits for it rather than report "nothing to pop" with records
/// queued: the I/O thread would then find the partition ready, drain nothing, and sleep until its
/// next wakeup (up to a second) while the record and every one pushed after it wait.
#[cold]
fn wait_for_link(next: &AtomicPtr<Node>) -> *mut Node {
    let mut spins = 0u32;
    loop {
        let n = next.load(Ordering::Acquire);
        if !n.is_null() {
            return n;
        }
        spins += 1;
        if spins < 64 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

impl Drop for RecordQueue {
    fn drop(&mut self) {
        while self.pop().is_some() {}
        // The stub is in the list no more (empty list: head == tail == stub), and is freed here.
        drop(PendingRecord(self.stub));
    }
}

/// Shared by senders (push), the I/O thread (pop, activation), the delivery thread (`completed`)
/// and `flush()`/`close()` (read the counters). Immutable fields are set by the I/O thread when
/// metadata first names the partition.
pub(crate) struct PartitionQueue {
    /// Dense id across the producer's partitions: the I/O thread's index for its own state.
    pub id: usize,
    pub topic: Arc<str>,
    /// The topic NUL-terminated (interior NULs, which no valid topic has, left out): what C
    /// delivery reports point at, made once per topic instead of per report (shared by the
    /// topic's partitions: an idle partition's cost, bench/results/idle-partitions.md).
    pub topic_c: Arc<std::ffi::CStr>,
    pub partition: i32,
    queue: RecordQueue,
    /// Encoded bytes in `queue` (bodies only), kept by senders (+) and the I/O thread (-).
    pub queued_bytes: AtomicUsize,
    /// Records ever pushed; with `completed`, tells `flush()` when what it waits for is done.
    pub enqueued: AtomicU64,
    /// Records ever reported (delivery thread), in push order per partition.
    pub completed: AtomicU64,
    /// Set by the sender whose push finds the queue inactive, cleared by the I/O thread when it
    /// gives the partition back (see the module doc).
    active: AtomicBool,
    /// `partitioner.availability.timeout.ms`: the sticky partitioner avoids the partition until
    /// this time (monotonic ns), set by the I/O thread when the partition's leader has not taken
    /// its batches for that long (or it has no leader), cleared when a request takes them.
    pub unavailable_until_ns: AtomicU64,
    /// The earliest own deadline (`PendingRecord::deadline_ns`) of a record in this partition
    /// that the I/O thread has not looked at yet; `u64::MAX`: none. Lowered by senders after they
    /// push a record with a deadline (`note_deadline`); swapped to `u64::MAX` by the I/O thread
    /// before it takes the queue for its deadline sweep, which puts back the earliest deadline it
    /// leaves queued. A sender's lowering after the swap stays; one before the swap comes after
    /// its push, so the sweep sees the record. Records without a deadline never touch it.
    pub earliest_deadline_ns: AtomicU64,
    /// Records placed here, by how their partition was chosen (`placement::Placed` as index):
    /// counted by the sender with partitioner metrics on only (`Inner::count_placements`).
    pub placed: [AtomicU64; 4],
}

/// What `push` asks the caller to do next.
pub(crate) struct PushOutcome {
    /// The partition just became active: hand it to the I/O thread.
    pub activated: bool,
    /// The queue just reached `batch.size`: wake the I/O thread.
    pub batch_full: bool,
}

/// The right to pop a partition's records, held by one thread at a time.
pub(crate) struct Consumer<'a> {
    pq: &'a PartitionQueue,
    popped_bytes: usize,
}

impl Consumer<'_> {
    #[inline]
    pub fn pop(&mut self) -> Option<PendingRecord> {
        let r = self.pq.queue.pop()?;
        self.popped_bytes += r.body().len();
        Some(r)
    }
}

impl Drop for Consumer<'_> {
    fn drop(&mut self) {
        if self.popped_bytes > 0 {
            self.pq.queued_bytes.fetch_sub(self.popped_bytes, Ordering::AcqRel);
        }
        self.pq.queue.consuming.store(false, Ordering::Release);
    }
}

impl PartitionQueue {
    pub fn new(id: usize, topic: Arc<str>, partition: i32) -> Self {
        let topic_c = Arc::from(std::ffi::CString::new(topic.replace('\0', "")).unwrap_or_default());
        Self::with_topic_c(id, topic, topic_c, partition)
    }

    /// A queue whose C topic name is shared with the topic's other partitions.
    pub fn with_topic_c(id: usize, topic: Arc<str>, topic_c: Arc<std::ffi::CStr>, partition: i32) -> Self {
        PartitionQueue {
            id,
            topic_c,
            topic,
            partition,
            queue: RecordQueue::new(),
            queued_bytes: AtomicUsize::new(0),
            enqueued: AtomicU64::new(0),
            unavailable_until_ns: AtomicU64::new(0),
            earliest_deadline_ns: AtomicU64::new(u64::MAX),
            placed: Default::default(),
            completed: AtomicU64::new(0),
            active: AtomicBool::new(false),
        }
    }

    /// Application threads. See the module docs for the protocol.
    #[inline]
    pub fn push(&self, record: PendingRecord, batch_size: usize) -> PushOutcome {
        let size = record.node().len;
        // Counted before the push: once linked, the record can be popped (and its bytes taken off
        // `queued_bytes`, its report counted in `completed`) before this thread runs again.
        self.enqueued.fetch_add(1, Ordering::Relaxed);
        let before = self.queued_bytes.fetch_add(size, Ordering::AcqRel);
        self.queue.push_node(record.into_raw());
        #[cfg(test)]
        tests::after_link(self);
        let activated = !self.active.load(Ordering::SeqCst) && !self.active.swap(true, Ordering::SeqCst);
        PushOutcome { activated, batch_full: before < batch_size && before + size >= batch_size }
    }

    /// The right to pop, waiting while another thread holds it (the I/O thread drains and
    /// `close()`'s sweep can meet; each holds it briefly). `queued_bytes` is brought down when
    /// the consumer is dropped.
    #[inline]
    pub fn consumer(&self) -> Consumer<'_> {
        let mut spins = 0u32;
        while self.queue.consuming.swap(true, Ordering::Acquire) {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        Consumer { pq: self, popped_bytes: 0 }
    }

    /// Whether the queue looks empty (exact only for the consumer).
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty(Ordering::Acquire)
    }

    /// I/O thread, after it drained the queue empty. Returns false when records arrived meanwhile
    /// and the partition must stay active in the I/O thread's list.
    pub fn try_deactivate(&self) -> bool {
        let _c = self.consumer();
        self.active.store(false, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.queue.is_empty(Ordering::SeqCst) {
            return true;
        }
        // A record slipped in. If we win the swap we keep tracking the partition (false); if a
        // sender won it, the sender has queued an activation and the partition comes back through
        // that (true).
        self.active.swap(true, Ordering::SeqCst)
    }

    /// A record with its own deadline `ns` was pushed (after the push: see `earliest_deadline_ns`).
    #[inline]
    pub fn note_deadline(&self, ns: u64) {
        self.earliest_deadline_ns.fetch_min(ns, Ordering::SeqCst);
    }

    /// Records pushed but not yet reported.
    pub fn outstanding(&self) -> u64 {
        self.enqueued.load(Ordering::Acquire).saturating_sub(self.completed.load(Ordering::Acquire))
    }
}

/// A topic as senders see it: its partition queues and its sticky-partitioner state. Replaced as a
/// whole (through `ArcSwap`) when metadata changes the partition count; the queues carry over.
/// A topic as senders see it: built by the I/O thread from metadata and published in
/// `Inner::topics`; read-only afterwards except for the sticky partitioner's atomics (senders).
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
    use crossbeam_queue::SegQueue;
    use std::collections::HashSet;
    use std::sync::atomic::AtomicBool;

    fn rec(v: u64) -> PendingRecord {
        PendingRecord::from_body(&v.to_be_bytes(), 0, 0, Completion::Opaque(0))
    }

    thread_local! {
        /// Run by `push` on this thread right after it linked the record, as if the sender were
        /// preempted there and another thread ran.
        static AFTER_LINK: std::cell::Cell<Option<fn(&PartitionQueue)>> = const { std::cell::Cell::new(None) };
    }

    thread_local! {
        /// Run by `push_node` on this thread between its swap and its link.
        static AFTER_SWAP: std::cell::Cell<Option<fn()>> = const { std::cell::Cell::new(None) };
    }

    pub(super) fn after_swap() {
        if let Some(f) = AFTER_SWAP.with(|h| h.take()) {
            f();
        }
    }

    /// A sender preempted between its swap and its link hides what follows the last linked
    /// record. The consumer must wait for the link, not report the queue empty: the I/O thread,
    /// finding the partition ready but draining nothing, would sleep until its next wakeup (up to
    /// a second; the sender, the partition being active, wakes nobody) with those records queued.
    #[test]
    fn a_pop_waits_for_a_sender_stopped_between_its_swap_and_its_link() {
        static SWAPPED: AtomicBool = AtomicBool::new(false);
        let q = Arc::new(PartitionQueue::new(0, "t".into(), 0));
        q.push(rec(1), 1 << 20);
        let sender = {
            let q = q.clone();
            std::thread::spawn(move || {
                AFTER_SWAP.with(|h| {
                    h.set(Some(|| {
                        SWAPPED.store(true, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }))
                });
                q.push(rec(2), 1 << 20);
            })
        };
        while !SWAPPED.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        let value = |r: PendingRecord| u64::from_be_bytes(r.body().try_into().unwrap());
        let mut c = q.consumer();
        assert_eq!(c.pop().map(value), Some(1), "a record pushed in full was hidden");
        assert_eq!(c.pop().map(value), Some(2));
        assert!(c.pop().is_none());
        drop(c);
        sender.join().unwrap();
        assert!(q.is_empty());
        assert_eq!(q.queued_bytes.load(Ordering::Relaxed), 0);
    }

    pub(super) fn after_link(q: &PartitionQueue) {
        if let Some(f) = AFTER_LINK.with(|h| h.take()) {
            f(q);
        }
    }

    /// A consumer can pop a record the moment it is linked, before its sender's `push` returns.
    /// The sender's counts must be in by then: were its bytes added after the push, the
    /// consumer's subtraction would come first and wrap `queued_bytes` below zero (the I/O thread
    /// would see a nearly infinite backlog, and its `queued_bytes() + carry` overflow).
    #[test]
    fn a_record_popped_before_its_push_returns_leaves_the_counts_exact() {
        fn pop_everything_as_the_io_thread(q: &PartitionQueue) {
            let mut c = q.consumer();
            assert!(c.pop().is_some() && c.pop().is_some() && c.pop().is_none());
            drop(c);
            assert_eq!(q.queued_bytes.load(Ordering::Relaxed), 0, "queued_bytes wrapped below zero");
            assert_eq!(q.enqueued.load(Ordering::Relaxed), 2);
        }
        let q = PartitionQueue::new(0, "t".into(), 0);
        q.push(rec(1), 1 << 20);
        AFTER_LINK.with(|h| h.set(Some(pop_everything_as_the_io_thread)));
        q.push(rec(2), 1 << 20);
        assert!(AFTER_LINK.with(|h| h.get()).is_none(), "the hook ran");
        assert_eq!(q.queued_bytes.load(Ordering::Relaxed), 0);
        assert!(q.is_empty());
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
        const PER_SENDER: u64 = if cfg!(miri) { 200 } else { 50_000 };
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
                        let mut c = q.consumer();
                        while let Some(r) = c.pop() {
                            let v = u64::from_be_bytes(r.body()[..8].try_into().unwrap());
                            let (s, i) = ((v >> 32) as usize, v & 0xffff_ffff);
                            assert!(last[s].is_none_or(|p| p < i), "sender {s} out of order");
                            last[s] = Some(i);
                            assert!(seen.insert(v));
                        }
                        drop(c);
                        let queued = q.queued_bytes.load(Ordering::Relaxed) as u64;
                        assert!(queued <= SENDERS * PER_SENDER * 8, "queued_bytes wrapped below zero: {queued:#x}");
                        if q.try_deactivate() {
                            tracked = false;
                        }
                    }
                    if done.load(Ordering::SeqCst) && activations.is_empty() && !tracked {
                        // Everything pushed was either drained or is signalled by an activation.
                        assert!(q.is_empty(), "records stranded in an inactive queue");
                        assert_eq!(q.queued_bytes.load(Ordering::Relaxed), 0);
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

    /// close()'s sweep on a sending thread and the I/O thread can pop the same partition at
    /// once: each record must come out exactly once, and a sender's records in their order.
    #[test]
    fn two_consumers_popping_at_once_get_every_record_once() {
        const SENDERS: u64 = 4;
        const PER_SENDER: u64 = if cfg!(miri) { 200 } else { 50_000 };
        let q = Arc::new(PartitionQueue::new(0, "t".into(), 0));
        let done = Arc::new(AtomicBool::new(false));
        let senders: Vec<_> = (0..SENDERS)
            .map(|s| {
                let q = q.clone();
                std::thread::spawn(move || {
                    for i in 0..PER_SENDER {
                        q.push(rec(s << 32 | i), 1 << 20);
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let (q, done) = (q.clone(), done.clone());
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    loop {
                        let finished = done.load(Ordering::SeqCst);
                        let mut c = q.consumer();
                        let mut last = vec![None::<u64>; SENDERS as usize];
                        while let Some(r) = c.pop() {
                            let v = u64::from_be_bytes(r.body()[..8].try_into().unwrap());
                            let (s, i) = ((v >> 32) as usize, v & 0xffff_ffff);
                            // Within one hold of the consumer right, a sender's records are in order.
                            assert!(last[s].is_none_or(|p| p < i), "sender {s} out of order");
                            last[s] = Some(i);
                            got.push(v);
                        }
                        drop(c);
                        if finished {
                            return got;
                        }
                    }
                })
            })
            .collect();
        for h in senders {
            h.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
        let mut all: Vec<u64> = consumers.into_iter().flat_map(|h| h.join().unwrap()).collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!((n, all.len() as u64), (all.len(), SENDERS * PER_SENDER), "a record was lost or popped twice");
        assert!(q.is_empty());
        assert_eq!(q.queued_bytes.load(Ordering::Relaxed), 0);
    }

    /// An encoder that panics (a length bug) leaves nothing behind: the node is freed and its
    /// completion dropped, its uninitialised body never read.
    #[test]
    fn a_panicking_encoder_frees_the_node_and_its_completion() {
        let alive = Arc::new(());
        let a = alive.clone();
        let cb: Box<dyn FnOnce(&crate::record::Delivery<'_>) + Send> = Box::new(move |_| drop(a));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: the encoder panics, which `new` allows instead of filling the body.
            unsafe {
                PendingRecord::new(100, 0, 0, 0, Completion::Callback(cb), |out| {
                    out[0].write(1);
                    panic!("encoder bug (expected by this test)");
                })
            }
        }));
        assert!(r.is_err());
        assert_eq!(Arc::strong_count(&alive), 1);
    }

    /// Records still queued when a partition's queue goes away are freed with it, their
    /// completions included (a callback's captures are dropped, not leaked).
    #[test]
    fn dropping_a_queue_frees_the_records_left_in_it() {
        let alive = Arc::new(());
        let q = PartitionQueue::new(0, "t".into(), 0);
        for i in 0..1000u64 {
            let a = alive.clone();
            let cb: Box<dyn FnOnce(&crate::record::Delivery<'_>) + Send> = Box::new(move |_| drop(a));
            q.push(PendingRecord::from_body(&i.to_be_bytes(), 0, 0, Completion::Callback(cb)), 1 << 20);
        }
        let mut c = q.consumer();
        for _ in 0..10 {
            c.pop().unwrap();
        }
        drop(c);
        assert_eq!(Arc::strong_count(&alive), 991);
        drop(q);
        assert_eq!(Arc::strong_count(&alive), 1);
    }

    #[test]
    fn record_memory_counts_the_allocators_size_class() {
        // A 100 B value encodes to a 108-byte body; with the 64-byte node: 172, mimalloc's 192 class.
        assert_eq!(record_mem_size(108), 192);
        assert_eq!(record_mem_size(0), 64);
        assert_eq!(record_mem_size(65), 160); // 129 bytes: the 160 class (classes step by 32 from 128)
        assert_eq!(record_mem_size(1000), 1280); // 1064 bytes: the classes above 1024 step by 256
        for len in [0, 1, 63, 64, 100, 1000, 4000, 65_000, 65_472, 65_473, 1 << 20, (1 << 20) + 1] {
            let n = record_mem_size(len);
            assert!(n >= len + RECORD_OVERHEAD, "{len}: {n}");
            assert!(n <= (len + RECORD_OVERHEAD) * 5 / 4 + 16, "{len}: {n} rounds up by more than a class");
        }
        // Above 64 KiB, the page: a record of 1 MiB costs 1 MiB + one page, not a quarter more.
        assert_eq!(record_mem_size(1 << 20), (1 << 20) + 4096);
    }

    #[test]
    fn a_record_keeps_its_body_timestamp_and_size() {
        let mut r = PendingRecord::from_body(b"hello", 1234, 99, Completion::Opaque(7));
        assert_eq!((r.body(), r.timestamp(), r.enqueued_ns(), r.mem_size()), (&b"hello"[..], 1234, 99, record_mem_size(5)));
        assert!(matches!(r.take_completion(), Completion::Opaque(7)));
        assert!(matches!(r.take_completion(), Completion::Opaque(0)));
        // SAFETY: an empty body has no bytes to fill.
        let empty = unsafe { PendingRecord::new(0, 0, 0, 0, Completion::Opaque(0), |_| {}) };
        assert!(empty.body().is_empty());
    }
}
