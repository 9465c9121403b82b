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
mod send;
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
            spool.wake_all();
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
