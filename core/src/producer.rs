//! The producer: `send()` on application threads, the I/O thread and the delivery thread behind it.
//!
//! `send()` is the hot path. With the topic's metadata known and room in `buffer.memory` it takes
//! no lock: a lookup in the topic map (`ArcSwap`), the partitioner's atomics, one CAS on the
//! memory pool, the record's encoding into its own buffer, a push onto the partition's lock-free
//! queue. It blocks only when the buffer is full or the topic is new, and then for at most
//! `max.block.ms`, failing with an error that says what the producer is waiting on.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::accumulator::{record_mem_size, PartitionQueue, PendingRecord, TopicState};
use crate::clock::{self, deadline_after};
pub use crate::clock::LONGEST_WAIT;
use crate::config::{Config, ProducerConfig};
use crate::completion::{Completion, DeliveryFuture, FutureSlot};
use crate::delivery::{DeliveryJob, DeliveryMode, Outcome};
use crate::error::{Error, LocalCode, Result};
use crate::memory::{MemoryPool, Reservation, Reserve};
use crate::metadata::{ClusterMetadata, MetadataQuery};
use crate::parking::Parked;
use crate::placement::{self, Placed};
use crate::protocol::record_batch;
use crate::purge::{PurgeFlags, PurgeTarget};
use crate::record::{Delivery, ProducerRecord};
use crate::shared::Inner;

mod builder;
mod spooling;

pub use builder::ProducerBuilder;

static NEXT_PRODUCER_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static CURRENT_PRODUCER: Cell<u64> = const { Cell::new(0) };
    /// The topic this thread sent to last, so that a run of sends to one topic skips the topic
    /// table (a hash, a string compare and an `ArcSwap` load, ~85 instructions per record).
    /// Taken out while a send uses it, so a send from inside a delivery callback that the send
    /// runs simply looks the table up.
    static LAST_TOPIC: Cell<Option<LastTopic>> = const { Cell::new(None) };
}

/// What [`LAST_TOPIC`] holds: valid while `generation` is the producer's `topics_generation`.
/// Keeps one `TopicState` (its partitions' queues, empty once the producer is closed) alive until
/// this thread sends to another topic or exits.
struct LastTopic {
    producer: u64,
    generation: u64,
    topic: Arc<TopicState>,
}

/// The id ([`Producer::id`]) of the producer whose I/O or delivery thread this is; `None` on
/// any other thread. Lets a `log` implementation tell which producer a record comes from.
pub fn current_producer_id() -> Option<u64> {
    let id = CURRENT_PRODUCER.with(Cell::get);
    (id != 0).then_some(id)
}

/// A Kafka producer. `Send + Sync`: share it between threads (in an `Arc`). Dropping it closes it.
pub struct Producer {
    pub(crate) inner: Arc<Inner>,
    id: u64,
    mode: DeliveryMode,
    /// See [`ProducerBuilder::queue_until_metadata`].
    queue_until_metadata: bool,
    io: Mutex<Option<JoinHandle<()>>>,
    delivery: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
    /// The spool's drainer and sync threads (`spool.dir`), joined by close.
    spool_threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Producer {
    /// A producer from string configuration, delivery reports on a background thread.
    pub fn new(config: Config) -> Result<Producer> {
        ProducerBuilder::new(config).build()
    }

    pub fn builder(config: Config) -> ProducerBuilder {
        ProducerBuilder::new(config)
    }

    pub fn config(&self) -> &ProducerConfig {
        &self.inner.config
    }

    /// A number unique to this producer in the process (see [`current_producer_id`]).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Sends a record; the returned future resolves with its report. An `Err` here means the record
    /// was not accepted (and no report will follow).
    pub fn send(&self, record: &ProducerRecord<'_>) -> Result<DeliveryFuture> {
        let slot = FutureSlot::new();
        self.enqueue(record, Completion::Future(slot.clone()), true, true)?;
        Ok(DeliveryFuture { slot })
    }

    /// Sends a record; `callback` runs on the delivery thread with its report (in send order per
    /// partition). A panic in the callback is caught and logged.
    pub fn send_with_callback(&self, record: &ProducerRecord<'_>, callback: impl FnOnce(&Delivery<'_>) + Send + 'static) -> Result<()> {
        self.enqueue(record, Completion::Callback(Box::new(callback)), true, true).map(|_| ())
    }

    /// Sends a record whose report goes to the producer's delivery handler with `opaque`.
    /// `block: false` fails with `_QUEUE_FULL` at once instead of waiting for buffer memory.
    pub fn send_with_opaque(&self, record: &ProducerRecord<'_>, opaque: usize, block: bool) -> Result<()> {
        self.enqueue(record, Completion::Opaque(opaque), block, true).map(|_| ())
    }

    /// `send_with_opaque` that never waits: not for buffer memory (`_QUEUE_FULL`), and not for
    /// metadata: when the topic, or the record's partition, is not known yet it returns
    /// [`TrySend::WouldWait`] having done nothing. For bindings that hold a lock (Python's GIL)
    /// which they must let go of before anything may wait.
    #[must_use = "WouldWait means the record was not sent"]
    pub fn try_send_with_opaque(&self, record: &ProducerRecord<'_>, opaque: usize) -> Result<TrySend> {
        self.enqueue(record, Completion::Opaque(opaque), false, false)
    }

    #[inline]
    fn enqueue(&self, rec: &ProducerRecord<'_>, completion: Completion, block: bool, wait_for_metadata: bool) -> Result<TrySend> {
        if let Some(spool) = &self.inner.spool {
            return self.enqueue_spool(spool, rec, completion, block, wait_for_metadata);
        }
        self.enqueue_with::<false>(rec, completion, block, wait_for_metadata, self.inner.config.max_block)
    }

    /// `send()` itself. `SPILL`: a full `buffer.memory` sends the record to the spool instead of
    /// waiting (`spool.when=full`). `max_block`: `max.block.ms`, or longer for the spool's drainer.
    #[inline(always)]
    fn enqueue_with<const SPILL: bool>(&self, rec: &ProducerRecord<'_>, completion: Completion, block: bool, wait_for_metadata: bool, max_block: Duration) -> Result<TrySend> {
        let inner = &*self.inner;
        if inner.closing.load(Ordering::Relaxed) {
            return Err(Error::local(LocalCode::State, "the producer is closed; send() is no longer possible"));
        }
        if let Some(e) = inner.fatal.get() {
            return Err(e.clone());
        }
        if inner.config.transactional_id.is_some() {
            if let Some(e) = inner.txn.send_refusal() {
                return Err(e);
            }
        }
        if rec.topic.is_empty() {
            return Err(Error::local(LocalCode::InvalidArgument, "the topic name is empty"));
        }
        let cfg = &inner.config;
        // max.block.ms runs from the first wait (the clock is read only when send() must wait).
        let mut deadline_at = None;
        let mut deadline = || *deadline_at.get_or_insert_with(|| clock::deadline_after(max_block));

        let mut hdrs: Vec<(&[u8], Option<&[u8]>)> = Vec::new();
        if !rec.headers.is_empty() {
            hdrs.reserve(rec.headers.len());
            hdrs.extend(rec.headers.iter().map(|(k, v)| (k.as_bytes(), *v)));
        }
        let body_len = record_batch::record_body_len(rec.key, rec.value, &hdrs);
        // The largest this record can encode to, alone in a batch (varints at their widest).
        let wire = record_batch::RECORD_BATCH_OVERHEAD + body_len + 5 + 1 + 10 + 5;
        if wire > cfg.max_request_size {
            return Err(Error::local(
                LocalCode::MessageTooLarge,
                format!("the record is {wire} bytes when encoded, more than max.request.size ({} bytes)", cfg.max_request_size),
            ));
        }
        let mem = record_mem_size(body_len);
        if let Some(records) = &inner.deliverer.records {
            self.reserve_record_slot(records, block, &mut deadline)?;
        }
        // Given back if the record is not queued below.
        let slot = RecordSlot(inner.deliverer.records.as_ref());
        if mem > inner.memory.limit() {
            return Err(Error::local(
                LocalCode::MessageTooLarge,
                format!("the record needs {mem} bytes of buffer, more than buffer.memory ({} bytes)", inner.memory.limit()),
            ));
        }

        let generation = inner.topics_generation.load(Ordering::Acquire);
        let cached = LAST_TOPIC
            .with(Cell::take)
            .filter(|c| c.producer == self.id && c.generation == generation && *c.topic.name == *rec.topic);
        let topic = match cached {
            Some(c) => Some(c.topic),
            None => match inner.topics.load().get(rec.topic) {
                Some(t) => Some(t.clone()),
                None if self.queue_until_metadata => None,
                None if !wait_for_metadata => return Ok(TrySend::WouldWait),
                None => Some(self.wait_for_topic_in_send(rec.topic, None, deadline())?),
            },
        };
        // `None`: the topic is not known yet and the record will be parked (see `parking.rs`).
        let target = match (topic, rec.partition) {
            (_, Some(p)) if p < 0 => {
                return Err(Error::local(LocalCode::InvalidArgument, format!("partition {p} is negative; use None to let the partitioner choose")))
            }
            (None, _) => None,
            (Some(topic), Some(p)) if p as u32 >= topic.partition_count() => {
                if self.queue_until_metadata {
                    return Err(unknown_partition(&topic, p as u32));
                }
                if !wait_for_metadata {
                    LAST_TOPIC.with(|c| c.set(Some(LastTopic { producer: self.id, generation, topic })));
                    return Ok(TrySend::WouldWait);
                }
                let t = self.wait_for_topic_in_send(rec.topic, Some(p as u32), deadline())?;
                Some((t, p as u32, Placed::Explicit))
            }
            (Some(topic), Some(p)) => Some((topic, p as u32, Placed::Explicit)),
            (Some(topic), None) => {
                let (p, how) = placement::choose_partition(&inner.config, inner.partitioner.as_deref(), &topic, rec.key, rec.value, body_len)?;
                Some((topic, p, how))
            }
        };

        if !inner.memory.try_reserve(mem) {
            if SPILL {
                return self.spill(rec, completion, deadline(), block);
            }
            if !block {
                return Err(Error::local(
                    LocalCode::QueueFull,
                    format!("buffer.memory ({} bytes) is full and the send was asked not to block", inner.memory.limit()),
                ));
            }
            if self.stats_on() {
                let from = Instant::now();
                let waited = self.wait_for_memory(mem, deadline());
                self.note_blocked(rec.topic, false, from);
                waited?;
            } else {
                self.wait_for_memory(mem, deadline())?;
            }
        }

        // Given back should anything below panic before the record is queued.
        let reservation = Reservation::new(&inner.memory, mem);
        // One clock read per record: the wall-clock timestamp is derived from the monotonic one.
        let now_ns = clock::mono_ns();
        let timestamp = rec.timestamp.unwrap_or_else(|| clock::wall_ms_at(now_ns));
        let deadline_ns = match rec.deadline {
            None => 0,
            Some(d) => deadline_ns(d),
        };
        // SAFETY: the encoder writes exactly the body_len bytes it was sized for, or panics.
        let record = unsafe {
            PendingRecord::new(body_len, timestamp, now_ns, deadline_ns, completion, |out| {
                record_batch::encode_record_body_uninit(out, rec.key, rec.value, &hdrs)
            })
        };
        let Some((topic, partition, how)) = target else {
            reservation.keep();
            std::mem::forget(slot);
            return self.park(rec.topic, record, rec.partition.map(|p| p as u32));
        };
        let pq = &topic.partitions[partition as usize];
        if inner.count_placements {
            placement::count_placed(pq, how);
        }
        let out = pq.push(record, cfg.batch_size);
        reservation.keep();
        std::mem::forget(slot);
        if deadline_ns != 0 {
            pq.note_deadline(deadline_ns);
            inner.note_deadline(deadline_ns);
        }
        if out.activated {
            inner.activations.push(pq.clone());
            inner.wake_io();
        } else if out.batch_full {
            inner.wake_io();
        }
        if inner.closing.load(Ordering::SeqCst) {
            // close() started while we pushed: the I/O thread's final sweep may have run already,
            // so fail what is queued here ourselves rather than leave it unreported.
            self.sweep_after_close(pq);
            return Ok(TrySend::Queued);
        }
        LAST_TOPIC.with(|c| c.set(Some(LastTopic { producer: self.id, generation, topic })));
        Ok(TrySend::Queued)
    }

    /// A record whose topic has no metadata yet, with `queue_until_metadata`: parked until the
    /// I/O thread knows the topic (see `parking.rs`). Its memory is reserved already.
    #[cold]
    fn park(&self, topic: &str, record: PendingRecord, partition: Option<u32>) -> Result<TrySend> {
        let inner = &*self.inner;
        let mut parking = inner.parking.lock().unwrap_or_else(|e| e.into_inner());
        // The I/O thread publishes a topic under this lock, after moving its parked records in:
        // if it is published now, this record goes straight to its partition, behind them.
        if let Some(t) = inner.topics.load().get(topic).cloned() {
            drop(parking);
            let p = match partition {
                Some(p) if p >= t.partition_count() => Err(unknown_partition(&t, p)),
                Some(p) => Ok((p, Placed::Explicit)),
                None => {
                    let (key, value) = record_batch::body_key_value(record.body()).unwrap_or((None, None));
                    placement::choose_partition(&inner.config, inner.partitioner.as_deref(), &t, key, value, record.body().len())
                }
            };
            let (p, how) = match p {
                Ok(p) => p,
                Err(e) => {
                    // Not accepted after all: give back what enqueue() reserved for it.
                    inner.memory.release(record.mem_size());
                    if let Some(records) = &inner.deliverer.records {
                        records.release(1);
                    }
                    return Err(e);
                }
            };
            let pq = &t.partitions[p as usize];
            if inner.count_placements {
                placement::count_placed(pq, how);
            }
            let deadline_ns = record.deadline_ns();
            if pq.push(record, inner.config.batch_size).activated {
                inner.activations.push(pq.clone());
            }
            if deadline_ns != 0 {
                pq.note_deadline(deadline_ns);
                inner.note_deadline(deadline_ns);
            }
            inner.wake_io();
            if inner.closing.load(Ordering::SeqCst) {
                self.sweep_after_close(pq);
            }
            return Ok(TrySend::Queued);
        }
        if !parking.topics.contains_key(topic) {
            // An error metadata gave for the topic before this first parked record is stale.
            inner.meta.lock().unwrap_or_else(|e| e.into_inner()).errors.remove(topic);
        }
        let parked = parking.topic(topic);
        parked.unassigned.enqueued.fetch_add(1, Ordering::AcqRel);
        let deadline_ns = record.deadline_ns();
        parked.records.push_back(Parked { record, partition });
        drop(parking);
        if deadline_ns != 0 {
            inner.note_deadline(deadline_ns);
        }
        let mut m = inner.meta.lock().unwrap_or_else(|e| e.into_inner());
        if !m.wanted.contains(topic) {
            m.wanted.insert(topic.to_string());
            m.refresh = true;
        }
        drop(m);
        inner.wake_io();
        Ok(TrySend::Queued)
    }

    /// `send()` found `buffer.memory` full: waits for room up to `deadline` (out of line: the
    /// common path, where the record fits, stays small).
    #[cold]
    #[inline(never)]
    fn wait_for_memory(&self, mem: usize, deadline: Instant) -> Result<()> {
        let inner = &*self.inner;
        match inner.memory.reserve(mem, deadline, &|| inner.closing.load(Ordering::SeqCst)) {
            Reserve::Ok => Ok(()),
            Reserve::Interrupted => Err(Error::local(LocalCode::State, "the producer was closed while send() waited for memory")),
            Reserve::ThreadInterrupted => Err(Error::local(LocalCode::Interrupted, "send() was interrupted while it waited for room in buffer.memory")),
            Reserve::TimedOut => {
                let why = inner.status_report();
                Err(Error::local(
                    LocalCode::QueueFull,
                    format!(
                        "send() waited max.block.ms ({} ms) for room in buffer.memory; sending falls behind producing: {why}",
                        inner.config.max_block.as_millis()
                    ),
                ))
            }
        }
    }

    /// [`Producer::wait_for_topic`] for `send()`: the wait is counted for the statistics (when on).
    #[cold]
    fn wait_for_topic_in_send(&self, name: &str, partition: Option<u32>, deadline: Instant) -> Result<Arc<TopicState>> {
        if !self.stats_on() {
            return self.wait_for_topic(name, partition, deadline);
        }
        let from = Instant::now();
        let r = self.wait_for_topic(name, partition, deadline);
        self.note_blocked(name, true, from);
        r
    }

    /// Statistics documents are built (an interval and a handler): only then are waits counted.
    fn stats_on(&self) -> bool {
        self.inner.config.statistics_interval.is_some() && self.inner.deliverer.wants_stats()
    }

    /// A `send()` to `topic` was blocked since `from`, for metadata or (false) for buffer memory.
    #[cold]
    fn note_blocked(&self, topic: &str, metadata: bool, from: Instant) {
        let ns = from.elapsed().as_nanos() as u64;
        let mut m = self.inner.blocked.lock().unwrap_or_else(|e| e.into_inner());
        if !m.contains_key(topic) {
            m.insert(topic.to_string(), Default::default());
        }
        let b = m.get_mut(topic).expect("inserted above");
        if metadata {
            b.metadata_cnt += 1;
            b.metadata_ns += ns;
        } else {
            b.buffer_cnt += 1;
            b.buffer_ns += ns;
        }
    }

    /// `queue.buffering.max.messages`: one slot for the record, waiting as for buffer memory.
    #[cold]
    fn reserve_record_slot(&self, records: &MemoryPool, block: bool, deadline: &mut dyn FnMut() -> Instant) -> Result<()> {
        let inner = &*self.inner;
        if records.try_reserve(1) {
            return Ok(());
        }
        let limit = records.limit();
        if !block {
            return Err(Error::local(LocalCode::QueueFull, format!("queue.buffering.max.messages ({limit} records) are sent and not yet reported, and the send was asked not to block")));
        }
        match records.reserve(1, deadline(), &|| inner.closing.load(Ordering::SeqCst)) {
            Reserve::Ok => Ok(()),
            Reserve::Interrupted => Err(Error::local(LocalCode::State, "the producer was closed while send() waited for room under queue.buffering.max.messages")),
            Reserve::ThreadInterrupted => Err(Error::local(LocalCode::Interrupted, "send() was interrupted while it waited for room under queue.buffering.max.messages")),
            Reserve::TimedOut => Err(Error::local(
                LocalCode::QueueFull,
                format!(
                    "send() waited max.block.ms ({} ms) for one of the queue.buffering.max.messages ({limit}) records to be reported; sending falls behind producing: {}",
                    inner.config.max_block.as_millis(),
                    inner.status_report()
                ),
            )),
        }
    }

    /// Slow path: asks the I/O thread for the topic's metadata and waits up to `max.block.ms`
    /// (for a given partition: until the topic has it).
    fn wait_for_topic(&self, name: &str, partition: Option<u32>, deadline: Instant) -> Result<Arc<TopicState>> {
        let inner = &*self.inner;
        let mut g = inner.meta.lock().unwrap_or_else(|e| e.into_inner());
        g.wanted.insert(name.to_string());
        g.errors.remove(name);
        g.refresh = true;
        inner.wake_io();
        // A recognised connection problem ends the wait only while no metadata arrives at all
        // (a broker that answers metadata but cannot take records is flush()'s to report).
        let generation_at_start = g.generation;
        loop {
            if let Some(t) = inner.topics.load().get(name) {
                if partition.is_none_or(|p| p < t.partition_count()) {
                    return Ok(t.clone());
                }
            }
            if let Some(e) = g.errors.get(name) {
                let fatal_for_topic = matches!(e.code(), crate::error::Code::Kafka(k) if !k.is_retriable());
                if fatal_for_topic {
                    return Err(Error::local(LocalCode::UnknownTopic, format!("topic {name}: {e}")));
                }
            }
            if inner.closing.load(Ordering::SeqCst) {
                return Err(Error::local(LocalCode::State, "the producer was closed while send() waited for metadata"));
            }
            if crate::interrupt::interrupted() {
                return Err(Error::local(LocalCode::Interrupted, format!("interrupted while waiting for metadata of topic {name}")));
            }
            // A fatal error (an authentication failure, say) ends the wait at once.
            if let Some(e) = inner.fatal.get() {
                return Err(e.clone());
            }
            // So does a connection problem the I/O thread recognised (it goes on retrying).
            if let Some(e) = inner.settled_diagnosis().filter(|_| g.generation == generation_at_start) {
                return Err(e.context(&format!("no metadata for topic {name}")));
            }
            let now = Instant::now();
            if now >= deadline {
                let ms = inner.config.max_block.as_millis();
                return Err(match (partition, inner.topics.load().get(name)) {
                    (Some(p), Some(t)) => Error::local(
                        LocalCode::UnknownPartition,
                        format!("partition {p} of topic {name} not present in metadata after max.block.ms ({ms} ms); the topic has {} partitions", t.partition_count()),
                    ),
                    _ => {
                        let last = g.errors.get(name).map(|e| format!(" (last metadata error: {})", e.name())).unwrap_or_default();
                        Error::local(LocalCode::UnknownTopic, format!("topic {name} not present in metadata after max.block.ms ({ms} ms){last}"))
                    }
                });
            }
            let step = (deadline - now).min(Duration::from_millis(100));
            g = inner.meta_cv.wait_timeout(g, step).unwrap_or_else(|e| e.into_inner()).0;
            if !g.wanted.contains(name) || partition.is_some() {
                g.wanted.insert(name.to_string());
                g.refresh = true;
                inner.wake_io();
            }
        }
    }

    fn sweep_after_close(&self, pq: &Arc<PartitionQueue>) {
        let mut recs = Vec::new();
        let mut c = pq.consumer();
        while let Some(r) = c.pop() {
            recs.push(r);
        }
        drop(c);
        if !recs.is_empty() {
            let e = Arc::new(Error::local(LocalCode::Closed, "the producer was closed before the record was sent"));
            self.inner.deliverer.run(DeliveryJob { pq: pq.clone(), records: recs, outcome: Outcome::Err(e) });
            self.inner.deliverer.served();
        }
    }

    /// Serves delivery reports on this thread ([`DeliveryMode::Poll`]); waits up to `timeout` for
    /// the first. Returns how many records were reported. With the delivery thread it returns 0.
    /// Any `timeout` is accepted (see [`LONGEST_WAIT`]).
    pub fn poll(&self, timeout: Duration) -> usize {
        if self.mode != DeliveryMode::Poll {
            std::thread::sleep(timeout.min(Duration::from_millis(10)));
            return 0;
        }
        self.inner.deliverer.poll(timeout.min(LONGEST_WAIT))
    }

    /// Bytes of `buffer.memory` held by records not yet reported.
    pub fn buffered_bytes(&self) -> usize {
        self.inner.memory.used()
    }

    /// A snapshot of the producer's counters (see [`crate::counters`]), copied by the I/O thread
    /// on its next turn; `_TIMED_OUT` if it does not answer within `timeout`, `_STATE` once the
    /// producer is closed. Maxima are since the previous call.
    pub fn counters(&self, timeout: Duration) -> Result<crate::ProducerCounters> {
        let inner = &*self.inner;
        if inner.shutdown.load(Ordering::SeqCst) {
            return Err(Error::local(LocalCode::State, "the producer is closed"));
        }
        let mut g = inner.counters.lock().unwrap_or_else(|e| e.into_inner());
        let gen = g.0;
        inner.counters_wanted.store(true, Ordering::SeqCst);
        inner.wake_io_now();
        let deadline = deadline_after(timeout);
        while g.0 == gen {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::local(LocalCode::TimedOut, "the I/O thread did not answer a counters request in time"));
            }
            g = inner.counters_cv.wait_timeout(g, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        let mut snapshot = g.1.clone();
        drop(g);
        snapshot.records_in_flight = self.in_flight_count();
        Ok(snapshot)
    }

    /// Records sent and not yet reported.
    pub fn in_flight_count(&self) -> u64 {
        let parked: u64 = self.inner.parking.lock().unwrap_or_else(|e| e.into_inner()).counters().iter().map(|p| p.outstanding()).sum();
        self.inner.topics.load().values().flat_map(|t| t.partitions.iter()).map(|p| p.outstanding()).sum::<u64>() + parked
    }

    /// Sends everything buffered at once and waits until every record sent before this call is
    /// reported, or `timeout` passes (`_TIMED_OUT`). Called from a delivery callback it only asks
    /// the I/O thread to send (it cannot wait for reports its own thread must serve). Any
    /// `timeout` is accepted (see [`LONGEST_WAIT`]).
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        let inner = &*self.inner;
        let deadline = deadline_after(timeout);
        if let Some(spool) = &inner.spool {
            // Spilled and recovered records first: once every one is handed to the send path,
            // the wait below covers them.
            if !crate::delivery::in_delivery_callback() && !spool.wait_sent(deadline) {
                return Err(Error::local(
                    LocalCode::TimedOut,
                    format!("flush: {} record(s) still in the spool (spool.dir {}) after {} ms", spool.unsent(), spool.dir.display(), timeout.as_millis()),
                ));
            }
        }
        let mut requested = false;
        let mut diagnosed = None;
        let mut targets: Vec<(Arc<PartitionQueue>, u64)>;
        let ok = loop {
            // Parked records (see `parking.rs`) count too; when some move into their partitions
            // while this waits, it looks at the partitions again.
            let (releases, parked) = {
                let p = inner.parking.lock().unwrap_or_else(|e| e.into_inner());
                (p.releases, p.counters())
            };
            targets = inner
                .topics
                .load()
                .values()
                .flat_map(|t| t.partitions.iter())
                .chain(parked.iter())
                .map(|p| (p.clone(), p.enqueued.load(Ordering::Acquire)))
                .filter(|(p, n)| p.completed.load(Ordering::Acquire) < *n)
                .collect();
            if targets.is_empty() {
                break true;
            }
            if !requested {
                requested = true;
                inner.flush_requests.fetch_add(1, Ordering::SeqCst);
                inner.wake_io_now();
            }
            let done = || targets.iter().all(|(p, n)| p.completed.load(Ordering::Acquire) >= *n);
            if crate::delivery::in_delivery_callback() {
                break done();
            }
            // In slices, so that a connection problem the I/O thread recognised ends the wait.
            let reported = loop {
                let slice = deadline.min(Instant::now() + Duration::from_millis(100));
                if self.wait_reports(slice, &done) {
                    break true;
                }
                if let Some(e) = inner.settled_diagnosis() {
                    diagnosed = Some(e);
                    break false;
                }
                if crate::interrupt::interrupted() {
                    diagnosed = Some(Error::local(LocalCode::Interrupted, "flush() was interrupted"));
                    break false;
                }
                if Instant::now() >= deadline {
                    break false;
                }
            };
            if !reported {
                break false;
            }
            if parked.is_empty() || inner.parking.lock().unwrap_or_else(|e| e.into_inner()).releases == releases {
                break true;
            }
        };
        if requested {
            inner.flush_requests.fetch_sub(1, Ordering::SeqCst);
        }
        if ok {
            Ok(())
        } else if let Some(e) = diagnosed {
            // The records stay queued (each until its delivery.timeout.ms) while rafka retries.
            let left: u64 = targets.iter().map(|(p, n)| n.saturating_sub(p.completed.load(Ordering::Acquire))).sum();
            Err(e.context(&format!("flush: {left} record(s) unreported, still queued")))
        } else {
            let left: u64 = targets.iter().map(|(p, n)| n.saturating_sub(p.completed.load(Ordering::Acquire))).sum();
            Err(Error::local(LocalCode::TimedOut, format!("flush: {left} record(s) still unreported after {} ms", timeout.as_millis())))
        }
    }

    /// Waits for reports, serving them on this thread in poll mode.
    fn wait_reports(&self, deadline: Instant, done: &dyn Fn() -> bool) -> bool {
        match self.mode {
            DeliveryMode::Thread => self.inner.deliverer.wait_until(deadline, done),
            DeliveryMode::Poll => loop {
                if done() {
                    return true;
                }
                let now = Instant::now();
                if now >= deadline {
                    return false;
                }
                self.inner.deliverer.poll((deadline - now).min(Duration::from_millis(50)));
            },
        }
    }

    /// Fails every record not yet sent with `_PURGE_QUEUE`: `purge_with(PurgeFlags::QUEUE,
    /// PurgeTarget::All)`.
    pub fn purge(&self) {
        self.purge_with(PurgeFlags::QUEUE, PurgeTarget::All);
    }

    /// librdkafka's `rd_kafka_purge`, for every partition or one topic or partition.
    /// [`PurgeFlags::QUEUE`] fails the records not yet sent with `_PURGE_QUEUE` (with
    /// `spool.dir`, also those still in the spool, which no later producer then sends);
    /// [`PurgeFlags::INFLIGHT`] fails those sent and not answered (and batches waiting for a
    /// retry) with `_PURGE_INFLIGHT` (see the flag for what that means under idempotence). Every
    /// purged record gets exactly one report, on the delivery thread or `poll`. Unless
    /// [`PurgeFlags::NON_BLOCKING`] is given, returns once the I/O thread has taken the records
    /// off (at most 10 s), so a `flush()` right after it cannot send them instead. Neither
    /// QUEUE nor INFLIGHT: nothing is purged.
    pub fn purge_with(&self, flags: PurgeFlags, target: PurgeTarget<'_>) {
        let inner = &*self.inner;
        let mut req = crate::purge::PurgeRequest::new(0, flags, target);
        if let Some(spool) = inner.spool.as_ref().filter(|_| flags.contains(PurgeFlags::QUEUE)) {
            // Records still in the spool, not yet handed to the send path (the drainer's record
            // in hand is the I/O thread's to purge).
            let e = Arc::new(Error::local(
                LocalCode::PurgedQueue,
                format!("purged by purge() while in the spool (spool.dir {}), before it was handed to the send path; it is not sent by a later producer either", spool.dir.display()),
            ));
            req.spooled = spool.purge_unsent(&|t, p| req.matches_unplaced(t, p), &e);
        }
        let id = {
            let mut g = inner.purges.lock().unwrap_or_else(|e| e.into_inner());
            g.last_id += 1;
            req.id = g.last_id;
            g.pending.push_back(req);
            g.last_id
        };
        inner.purge_requested.store(true, Ordering::SeqCst);
        inner.wake_io_now();
        if flags.contains(PurgeFlags::NON_BLOCKING) {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while inner.purges_done.load(Ordering::SeqCst) < id && Instant::now() < deadline && !inner.shutdown.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Stops accepting sends, waits up to `timeout` for every pending record to be reported, then
    /// fails what is left with `_DESTROY` and stops the threads. Every record gets its report before
    /// close returns (but for a close called from a delivery callback, which cannot wait). Calling
    /// it again does nothing. Any `timeout` is accepted (see [`LONGEST_WAIT`]).
    pub fn close(&self, timeout: Duration) -> Result<()> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let inner = &*self.inner;
        let deadline = deadline_after(timeout);
        let from_callback = crate::delivery::in_delivery_callback();
        if let Some(spool) = &inner.spool {
            // No more appends; the drainer goes on feeding what is spooled until the timeout.
            spool.closing.store(true, Ordering::SeqCst);
            if !from_callback {
                spool.wait_sent(deadline);
            }
            spool.stop.store(true, Ordering::SeqCst);
            spool.wake();
        }
        inner.closing.store(true, Ordering::SeqCst);
        crate::logging::unregister(self.id);
        inner.memory.wake_all();
        if let Some(r) = &inner.deliverer.records {
            r.wake_all();
        }
        inner.meta_cv.notify_all();
        let complete = if from_callback {
            log::warn!("close() called from a delivery callback: pending records are failed at once");
            false
        } else {
            let all_done = || {
                inner.topics.load().values().flat_map(|t| t.partitions.iter()).all(|p| p.outstanding() == 0)
                    && inner.parking.lock().unwrap_or_else(|e| e.into_inner()).topics.is_empty()
            };
            inner.flush_requests.fetch_add(1, Ordering::SeqCst);
            inner.wake_io_now();
            let ok = self.wait_reports(deadline, &all_done);
            inner.flush_requests.fetch_sub(1, Ordering::SeqCst);
            ok
        };
        inner.shutdown.store(true, Ordering::SeqCst);
        inner.wake_io_now();
        if let Some(h) = self.io.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
        if !from_callback {
            // The I/O thread is gone, so its end of the channel is closed: the delivery thread
            // serves what is left and ends. In poll mode, serve what is left here.
            if let Some(h) = self.delivery.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = h.join();
            }
            while let Ok(job) = inner.deliverer.rx.try_recv() {
                inner.deliverer.serve(job);
            }
            inner.deliverer.served();
        }
        // Always (not only when everything was delivered): records still in the spool get their
        // reports here, and the directory is let go.
        let spool_empty = self.close_spool();
        let complete = complete && spool_empty;
        if complete {
            Ok(())
        } else {
            Err(Error::local(LocalCode::TimedOut, "close: records still pending at the timeout were failed"))
        }
    }

    /// librdkafka's `rd_kafka_sasl_set_credentials`: the SASL PLAIN or SCRAM username and
    /// password for every connection opened from now on (a rotated password, say). Connections
    /// already open keep theirs. Fails with `_INVALID_ARG` when the producer does not use SASL, or
    /// uses OAUTHBEARER (its tokens come from `sasl.oauthbearer.token` or the token provider), or
    /// when `username` is empty. Any thread.
    pub fn set_sasl_credentials(&self, username: &str, password: &str) -> Result<()> {
        let invalid = |why: String| Err(Error::local(LocalCode::InvalidArgument, format!("set_sasl_credentials: {why}")));
        let Some(sasl) = &self.inner.config.security.sasl else {
            return invalid("this producer does not authenticate with SASL (security.protocol is neither SASL_PLAINTEXT nor SASL_SSL)".into());
        };
        if sasl.mechanism == crate::config::SaslMechanism::OAuthBearer {
            return invalid("sasl.mechanism is OAUTHBEARER, whose tokens come from sasl.oauthbearer.token or the token provider; credentials apply to PLAIN and SCRAM".into());
        }
        if username.is_empty() {
            return invalid("the username is empty".into());
        }
        let set = crate::shared::SaslCredentials { username: username.to_string(), password: crate::config::Secret::new(password) };
        *self.inner.sasl_credentials.lock().unwrap_or_else(|e| e.into_inner()) = Some(set);
        log::info!("SASL credentials replaced (username {username}); connections opened from now on use them");
        Ok(())
    }

    /// The fatal error, if the producer hit one.
    pub fn fatal_error(&self) -> Option<Error> {
        self.inner.fatal.get().cloned()
    }

    /// Asks a broker for the cluster's metadata: every topic (`None`) or the ones named (which
    /// are not created if missing: they come back with their error). Waits up to `timeout`
    /// (`_TIMED_OUT`; any `timeout` is accepted, see [`LONGEST_WAIT`]); fails at once on a closed
    /// producer.
    pub fn metadata(&self, topics: Option<&[&str]>, timeout: Duration) -> Result<ClusterMetadata> {
        let inner = &*self.inner;
        if inner.closing.load(Ordering::SeqCst) {
            return Err(Error::local(LocalCode::State, "the producer is closed"));
        }
        if let Some(e) = inner.fatal.get() {
            return Err(e.clone());
        }
        let deadline = deadline_after(timeout);
        let (tx, rx) = crossbeam_channel::bounded(1);
        inner.meta_queries.push(MetadataQuery { topics: topics.map(|t| t.iter().map(|s| s.to_string()).collect()), deadline, reply: tx });
        inner.wake_io_now();
        loop {
            let step = deadline.saturating_duration_since(Instant::now()).min(Duration::from_millis(100));
            match rx.recv_timeout(step) {
                Ok(r) => return r,
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    return Err(Error::local(LocalCode::State, "the producer was closed while waiting for metadata"))
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            }
            if inner.shutdown.load(Ordering::SeqCst) {
                return Err(Error::local(LocalCode::State, "the producer was closed while waiting for metadata"));
            }
            if let Some(e) = inner.settled_diagnosis() {
                return Err(e.context("metadata"));
            }
            if Instant::now() >= deadline {
                return Err(Error::local(LocalCode::TimedOut, format!("no metadata answer within {} ms", timeout.as_millis())));
            }
        }
    }

    /// Partition count of a topic as the metadata known now says, without waiting: `None` when
    /// the topic's metadata has not arrived yet.
    pub fn known_partition_count(&self, topic: &str) -> Option<u32> {
        self.inner.topics.load().get(topic).map(|t| t.partition_count())
    }

    /// Partition count of a topic, fetching metadata if needed (up to `max.block.ms`).
    pub fn partition_count(&self, topic: &str) -> Result<u32> {
        if let Some(t) = self.inner.topics.load().get(topic) {
            return Ok(t.partition_count());
        }
        Ok(self.wait_for_topic(topic, None, Instant::now() + self.inner.config.max_block)?.partition_count())
    }
}

/// `_UNKNOWN_PARTITION` for an explicit partition the topic does not have.
fn unknown_partition(topic: &TopicState, p: u32) -> Error {
    Error::local(
        LocalCode::UnknownPartition,
        format!("partition {p} of topic {} does not exist: the topic has {} partitions (per the last metadata)", topic.name, topic.partition_count()),
    )
}

/// What [`Producer::try_send_with_opaque`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrySend {
    /// The record is queued; its report will follow.
    Queued,
    /// Nothing: the topic or partition is not in the metadata yet, and sending would wait for it.
    WouldWait,
}

impl Drop for Producer {
    fn drop(&mut self) {
        // Bounded: every record has a delivery deadline.
        let t = self.inner.config.delivery_timeout + self.inner.config.request_timeout;
        let _ = self.close(t);
    }
}

/// A `queue.buffering.max.messages` slot taken by `send()`: given back when dropped, which is
/// when the record is not queued after all; forgotten once it is (its report gives it back).
struct RecordSlot<'a>(Option<&'a MemoryPool>);

impl Drop for RecordSlot<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            p.release(1);
        }
    }
}

/// A record's own deadline on the `clock::mono_ns()` scale (never 0, which stands for none).
#[cold]
fn deadline_ns(at: Instant) -> u64 {
    clock::mono_ns_of(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_take_duration_max_as_forever_without_overflow() {
        let mut c = Config::new();
        c.set("bootstrap.servers", "127.0.0.1:1").unwrap();
        let p = Producer::new(c).unwrap();
        // Nothing pending: each returns at once, where `Instant::now() + Duration::MAX` panicked.
        assert!(p.flush(Duration::MAX).is_ok());
        assert!(p.close(Duration::MAX).is_ok());
        assert_eq!(p.poll(Duration::MAX), 0);
        let e = p.metadata(None, Duration::MAX).unwrap_err();
        assert!(e.is_local(LocalCode::State), "{e}");
    }
}
