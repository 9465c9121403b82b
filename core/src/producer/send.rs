//! `send()`'s way into the accumulator: the topic and partition, a `buffer.memory` reservation
//! and a `queue.buffering.max.messages` slot, the record's encoding and its push onto the
//! partition's queue, and the waits (metadata, memory) when one of them is not there yet.
//! `Producer`'s public calls are in `producer.rs`; with `spool.dir`, `spooling.rs` comes first.

use super::*;

impl Producer {
    #[inline]
    pub(super) fn enqueue(&self, rec: &ProducerRecord<'_>, completion: Completion, block: bool, wait_for_metadata: bool) -> Result<TrySend> {
        if let Some(spool) = &self.inner.spool {
            return self.enqueue_spool(spool, rec, completion, block, wait_for_metadata);
        }
        self.enqueue_with::<false>(rec, completion, block, wait_for_metadata, self.inner.config.max_block)
    }

    /// `send()` itself. `SPILL`: a full `buffer.memory` sends the record to the spool instead of
    /// waiting (`spool.when=full`). `max_block`: `max.block.ms`, or longer for the spool's drainer.
    #[inline(always)]
    pub(super) fn enqueue_with<const SPILL: bool>(&self, rec: &ProducerRecord<'_>, completion: Completion, block: bool, wait_for_metadata: bool, max_block: Duration) -> Result<TrySend> {
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
        // One thread-local lookup per send (`__tls_get_addr` in a shared library): the cell is
        // read here and written again below through the same reference.
        // SAFETY: the cell lives as long as this thread; `with` panics rather than hand out one
        // being destroyed, and it cannot be destroyed while this call runs on the thread.
        let last_topic: &Cell<Option<LastTopic>> = LAST_TOPIC.with(|c| unsafe { &*(c as *const Cell<Option<LastTopic>>) });
        let cached = last_topic
            .take()
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
        // One clock read per record (timed sticky partitioning, the record's creation time and
        // its wall-clock timestamp), read again only after a wait for buffer memory.
        let mut now_ns = clock::mono_ns();
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
                    last_topic.set(Some(LastTopic { producer: self.id, generation, topic }));
                    return Ok(TrySend::WouldWait);
                }
                let t = self.wait_for_topic_in_send(rec.topic, Some(p as u32), deadline())?;
                now_ns = clock::mono_ns();
                Some((t, p as u32, Placed::Explicit))
            }
            (Some(topic), Some(p)) => Some((topic, p as u32, Placed::Explicit)),
            (Some(topic), None) => {
                let (p, how) = placement::choose_partition(&inner.config, inner.partitioner.as_deref(), &topic, rec.key, rec.value, body_len, now_ns)?;
                Some((topic, p, how))
            }
        };

        if !inner.memory.try_reserve(mem) {
            if SPILL {
                return self.spill(rec, completion, deadline().saturating_duration_since(Instant::now()), block);
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
            // delivery.timeout.ms runs from when the record is queued, after the wait.
            now_ns = clock::mono_ns();
        }

        // Given back should anything below panic before the record is queued.
        let reservation = Reservation::new(&inner.memory, mem);
        // The wall-clock timestamp is derived from the monotonic reading.
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
        last_topic.set(Some(LastTopic { producer: self.id, generation, topic }));
        Ok(TrySend::Queued)
    }

    /// A record whose topic has no metadata yet, with `queue_until_metadata`: parked until the
    /// I/O thread knows the topic (see `parking.rs`). Its memory is reserved already.
    #[cold]
    pub(super) fn park(&self, topic: &str, record: PendingRecord, partition: Option<u32>) -> Result<TrySend> {
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
                    placement::choose_partition(&inner.config, inner.partitioner.as_deref(), &t, key, value, record.body().len(), clock::mono_ns())
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
    pub(super) fn wait_for_memory(&self, mem: usize, deadline: Instant) -> Result<()> {
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
    pub(super) fn wait_for_topic_in_send(&self, name: &str, partition: Option<u32>, deadline: Instant) -> Result<Arc<TopicState>> {
        if !self.stats_on() {
            return self.wait_for_topic(name, partition, deadline);
        }
        let from = Instant::now();
        let r = self.wait_for_topic(name, partition, deadline);
        self.note_blocked(name, true, from);
        r
    }

    /// Statistics documents are built (an interval and a handler): only then are waits counted.
    pub(super) fn stats_on(&self) -> bool {
        self.inner.config.statistics_interval.is_some() && self.inner.deliverer.wants_stats()
    }

    /// A `send()` to `topic` was blocked since `from`, for metadata or (false) for buffer memory.
    #[cold]
    pub(super) fn note_blocked(&self, topic: &str, metadata: bool, from: Instant) {
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
    pub(super) fn reserve_record_slot(&self, records: &MemoryPool, block: bool, deadline: &mut dyn FnMut() -> Instant) -> Result<()> {
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
    pub(super) fn wait_for_topic(&self, name: &str, partition: Option<u32>, deadline: Instant) -> Result<Arc<TopicState>> {
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

    pub(super) fn sweep_after_close(&self, pq: &Arc<PartitionQueue>) {
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
}

/// A `queue.buffering.max.messages` slot taken by `send()`: given back when dropped, which is
/// when the record is not queued after all; forgotten once it is (its report gives it back).
pub(super) struct RecordSlot<'a>(Option<&'a MemoryPool>);

impl Drop for RecordSlot<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            p.release(1);
        }
    }
}

/// A record's own deadline on the `clock::mono_ns()` scale (never 0, which stands for none).
#[cold]
pub(super) fn deadline_ns(at: Instant) -> u64 {
    clock::mono_ns_of(at)
}
