//! The producer's side of the spool (`spool.dir`, see `spool/mod.rs`): `send()` when a spool is
//! configured, the drainer thread that feeds spooled records back into the send path, and what
//! close() does with records still only in the spool.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Producer, TrySend};
use crate::accumulator::record_mem_size;
use crate::clock;
use crate::completion::Completion;
use crate::config::SpoolWhen;
use crate::error::{Error, LocalCode, Result};
use crate::memory::Reserve;
use crate::protocol::record_batch;
use crate::record::ProducerRecord;
use crate::spool::{Appended, Spool};

/// What the drainer waits for before it tries to queue its oldest record again.
enum Wait {
    /// Buffer room for this many bytes.
    Room(usize),
    /// The topic's (and partition's) metadata.
    Metadata(String, Option<u32>),
    Sleep,
    /// Nothing: the producer closes.
    Closing,
}

impl Producer {
    /// `send()` with `spool.dir` set (see `spool/mod.rs`).
    #[cold]
    #[inline(never)]
    pub(super) fn enqueue_spool(&self, spool: &Arc<Spool>, rec: &ProducerRecord<'_>, completion: Completion, block: bool, wait_for_metadata: bool) -> Result<TrySend> {
        let max_block = self.inner.config.max_block;
        match spool.when {
            SpoolWhen::Full if !spool.spilling() => self.enqueue_with::<true>(rec, completion, block, wait_for_metadata, max_block),
            SpoolWhen::Full => {
                self.check_spillable(rec)?;
                self.spill(rec, completion, max_block, block)
            }
            SpoolWhen::Always => {
                self.check_spillable(rec)?;
                let timestamp = rec.timestamp.unwrap_or_else(|| clock::wall_ms_at(clock::mono_ns()));
                let stamped = ProducerRecord { timestamp: Some(timestamp), ..rec.clone() };
                match spool.append(&stamped, timestamp, completion, max_block, block, true)? {
                    Appended::Spilled => Ok(TrySend::Queued),
                    Appended::Direct(id) => {
                        // SPILL: no room in buffer.memory hands the record to the drainer
                        // (see `spill`) rather than wait: it is on disk already.
                        let r = self.enqueue_with::<true>(&stamped, Completion::Spooled(id), block, wait_for_metadata, max_block);
                        if !matches!(r, Ok(TrySend::Queued)) {
                            // Not accepted after all (no report will come): not to be sent later either.
                            spool.abandon(id);
                        }
                        r
                    }
                }
            }
        }
    }

    /// What `send()` refuses at once, checked before a record goes to the spool (the ordinary
    /// path checks the same when the record is queued).
    fn check_spillable(&self, rec: &ProducerRecord<'_>) -> Result<()> {
        if self.inner.closing.load(Ordering::Relaxed) {
            return Err(Error::local(LocalCode::State, "the producer is closed; send() is no longer possible"));
        }
        if let Some(e) = self.inner.fatal.get() {
            return Err(e.clone());
        }
        if rec.topic.is_empty() {
            return Err(Error::local(LocalCode::InvalidArgument, "the topic name is empty"));
        }
        if let Some(p) = rec.partition.filter(|p| *p < 0) {
            return Err(Error::local(LocalCode::InvalidArgument, format!("partition {p} is negative; use None to let the partitioner choose")));
        }
        Ok(())
    }

    /// Appends a record to the spool for the drainer to send (`spool.when=full`); a write-ahead
    /// record (`spool.when=always`), appended already, is handed to the drainer.
    #[cold]
    #[inline(never)]
    pub(super) fn spill(&self, rec: &ProducerRecord<'_>, completion: Completion, max_block: Duration, block: bool) -> Result<TrySend> {
        let spool = self.inner.spool.as_ref().expect("spill() only with a spool");
        if let Completion::Spooled(id) = completion {
            // Only a write-ahead record sent directly comes here with this completion (the
            // drainer's records never spill).
            spool.requeue(id, rec)?;
            return Ok(TrySend::Queued);
        }
        let timestamp = rec.timestamp.unwrap_or_else(|| clock::wall_ms_at(clock::mono_ns()));
        spool.append(rec, timestamp, completion, max_block, block, false)?;
        Ok(TrySend::Queued)
    }

    /// Starts the spool's drainer, and its sync thread under `spool.fsync=interval`.
    pub(super) fn start_spool_threads(&self) -> Result<()> {
        let spool = self.inner.spool.clone().expect("a spool");
        let feeder = Producer {
            inner: self.inner.clone(),
            id: self.id,
            mode: self.mode,
            queue_until_metadata: self.queue_until_metadata,
            io: Mutex::new(None),
            delivery: Mutex::new(None),
            // Closed from the start: dropping this handle closes nothing.
            closed: AtomicBool::new(true),
            spool_threads: Mutex::new(Vec::new()),
        };
        let s = spool.clone();
        let drainer = std::thread::Builder::new()
            .name("rafka-spool".into())
            .spawn(move || feeder.drain_spool(&s))
            .map_err(|e| Error::local(LocalCode::Internal, format!("cannot start the spool thread: {e}")))?;
        let mut threads = vec![drainer];
        if let Some(every) = spool.sync_interval() {
            let syncer = std::thread::Builder::new()
                .name("rafka-spool-sync".into())
                .spawn(move || {
                    while !spool.stop.load(Ordering::SeqCst) {
                        std::thread::sleep(every.min(Duration::from_millis(50)));
                        spool.sync_due(every);
                    }
                })
                .map_err(|e| Error::local(LocalCode::Internal, format!("cannot start the spool sync thread: {e}")))?;
            threads.push(syncer);
        }
        *self.spool_threads.lock().unwrap_or_else(|e| e.into_inner()) = threads;
        Ok(())
    }

    /// The drainer thread: feeds the spool's records, oldest first, into the ordinary send path,
    /// waiting for buffer room and metadata as long as it takes (not `max.block.ms`). It takes
    /// them in runs (see [`crate::spool::Hand`]) and queues each without waiting, under
    /// [`Spool::feed`], and waits outside it (in steps of 100 ms), so that a purge can fail the
    /// records it holds meanwhile.
    fn drain_spool(&self, spool: &Arc<Spool>) {
        while let Some(n) = spool.take() {
            self.feed_hand(spool);
            spool.fed(n);
        }
    }

    /// Queues the records in the drainer's hand, oldest first, until each is queued, purged or
    /// failed for good, or the producer closes (then they stay in the spool).
    fn feed_hand(&self, spool: &Spool) {
        let inner = &*self.inner;
        let closing = || spool.stop.load(Ordering::SeqCst) || inner.closing.load(Ordering::SeqCst);
        loop {
            let mut hand = spool.feed.lock().unwrap_or_else(|e| e.into_inner());
            let Some(h) = hand.front() else {
                return;
            };
            let id = h.rec.id;
            let wait = crate::spool::as_record(&h.rec, h.deadline, |rec| match self.enqueue_with::<false>(rec, Completion::Spooled(id), false, false, Duration::ZERO) {
                Ok(TrySend::Queued) => None,
                Ok(TrySend::WouldWait) => Some(Wait::Metadata(rec.topic.to_string(), rec.partition.map(|p| p as u32))),
                // Closing: the record stays in the spool (close reports it as left there).
                Err(_) if closing() => Some(Wait::Closing),
                Err(e) if e.is_local(LocalCode::QueueFull) => {
                    let hdrs: Vec<(&[u8], Option<&[u8]>)> = rec.headers.iter().map(|(k, v)| (k.as_bytes(), *v)).collect();
                    Some(Wait::Room(record_mem_size(record_batch::record_body_len(rec.key, rec.value, &hdrs))))
                }
                Err(e) if e.is_retriable() || e.is_local(LocalCode::State) || e.is_local(LocalCode::Interrupted) => Some(Wait::Sleep),
                Err(e) => {
                    self.fail_spooled(spool, id, rec, e);
                    None
                }
            });
            let Some(wait) = wait else {
                hand.pop();
                continue;
            };
            if matches!(wait, Wait::Closing) {
                hand.clear();
                return;
            }
            drop(hand);
            let step = Instant::now() + Duration::from_millis(100);
            match wait {
                Wait::Room(mem) => {
                    // Waits until the record fits (or the step ends), then gives the room back
                    // and queues the record under `feed`: while records are spilled, nothing but
                    // the drainer takes buffer memory.
                    let stop = || inner.closing.load(Ordering::SeqCst);
                    if let Some(slots) = &inner.deliverer.records {
                        if matches!(slots.reserve(1, step, &stop), Reserve::Ok) {
                            slots.release(1);
                        }
                    }
                    if matches!(inner.memory.reserve(mem, step, &stop), Reserve::Ok) {
                        inner.memory.release(mem);
                    }
                }
                Wait::Metadata(topic, partition) => {
                    match self.wait_for_topic(&topic, partition, step) {
                        Ok(_) => {}
                        // Back before the step ended: not a timeout but the reason there is no
                        // metadata (the same classification as above).
                        Err(e) if Instant::now() < step && !closing() => {
                            if !(e.is_retriable() || e.is_local(LocalCode::State) || e.is_local(LocalCode::Interrupted)) {
                                // Failed for good, unless a purge took it out of the hand meanwhile.
                                let mut hand = spool.feed.lock().unwrap_or_else(|e| e.into_inner());
                                if let Some(h) = hand.front().filter(|h| h.rec.id == id) {
                                    crate::spool::as_record(&h.rec, None, |rec| self.fail_spooled(spool, id, rec, e));
                                    hand.pop();
                                }
                                continue;
                            }
                            std::thread::sleep(Duration::from_millis(100));
                        }
                        Err(_) => {}
                    }
                }
                Wait::Sleep => std::thread::sleep(Duration::from_millis(100)),
                Wait::Closing => unreachable!("returned above"),
            }
        }
    }

    /// A spooled record that can never be sent (its topic or partition does not exist, it is
    /// too large for this configuration): its one report says so.
    fn fail_spooled(&self, spool: &Spool, id: u64, rec: &ProducerRecord<'_>, e: Error) {
        if let Some(c) = spool.reported(id, Some(&e)) {
            self.report_alone(rec, e, c);
        }
    }

    /// A report for a spooled record that never reached a partition queue, on this thread.
    #[cold]
    fn report_alone(&self, rec: &ProducerRecord<'_>, error: Error, completion: Completion) {
        self.inner.deliverer.complete_alone(crate::spool::alone_report_of(rec, Arc::new(error), completion));
        self.inner.deliverer.served();
    }

    /// close(): stops the spool's threads, then reports the records still only in the spool with
    /// `_DESTROY`. They stay in its files, for the next producer on `spool.dir`. False if any did.
    pub(super) fn close_spool(&self) -> bool {
        let Some(spool) = &self.inner.spool else {
            return true;
        };
        for h in self.spool_threads.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            let _ = h.join();
        }
        let left = spool.take_unsent();
        let n = left.len();
        for (_, p) in left {
            let e = Error::local(
                LocalCode::Closed,
                format!("the producer was closed before the record left the spool; it stays in spool.dir {} and the next producer opened on it sends it", spool.dir.display()),
            );
            // The report carries the record as it is on disk (topic, partition, key, value,
            // headers, timestamp).
            match spool.record_at(p.pos) {
                Some(r) => crate::spool::as_record(&r, None, |rec| self.report_alone(rec, e, p.completion)),
                None => {
                    // Not expected: the segment of a record not yet acknowledged stays mapped.
                    log::error!("close: a record left in spool.dir {} cannot be read back for its report, which carries no topic", spool.dir.display());
                    self.report_alone(&ProducerRecord::default(), e, p.completion);
                }
            }
        }
        spool.sync();
        spool.unlock();
        if n > 0 {
            log::warn!("close: {n} record(s) left in the spool (spool.dir {}) for the next producer", spool.dir.display());
        }
        n == 0
    }
}
