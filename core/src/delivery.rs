//! Delivery reports: exactly one per record, run in send order per partition.
//!
//! The I/O thread finishes a whole batch with one push of a `DeliveryJob` onto a channel. The
//! jobs are run either by the producer's delivery thread (the default) or, in
//! [`DeliveryMode::Poll`], by application threads calling `Producer::poll` (librdkafka's model).
//! Running a job walks its records in order: it resolves each record's `Completion`, then
//! releases the record's `buffer.memory` and counts it as completed for `flush()`.
//! Callbacks never run on the I/O thread, so a slow callback cannot stall the sockets.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::accumulator::{PartitionQueue, PendingRecord};
use crate::clock;
use crate::completion::Completion;
use crate::error::Error;
use crate::memory::MemoryPool;
use crate::record::Delivery;

/// How many records ahead of the one it reports `Deliverer::run` prefetches: enough to overlap
/// the cache misses of records that waited long, few enough (two lines each) that a long job's
/// records are not evicted again before they are reached.
const PREFETCH_AHEAD: usize = 8;

/// A producer-wide report handler: gets every record sent with an opaque (`send_with_opaque`).
pub type DeliveryHandler = Arc<dyn Fn(&Delivery<'_>, usize) + Send + Sync>;

/// A producer-wide report handler that keeps its reports past the call (see
/// [`ProducerBuilder::owned_delivery_handler`](crate::ProducerBuilder::owned_delivery_handler)).
pub type OwnedDeliveryHandler = Arc<dyn Fn(OwnedDelivery, usize) + Send + Sync>;

/// Who gets the reports of records sent with an opaque.
pub(crate) enum ReportHandler {
    /// Borrows each report for the call.
    Borrowed(DeliveryHandler),
    /// Is given each report, the record's own memory with it where the report is its last use.
    Owned(OwnedDeliveryHandler),
}

/// One delivery report that owns its parts, to keep after the handler returns (a binding that
/// queues reports for another thread).
#[derive(Clone, Debug)]
pub struct OwnedDelivery {
    pub topic: Arc<str>,
    /// The partition the record was assigned to (-1 if it failed before one was chosen).
    pub partition: i32,
    /// The record's offset; -1 with `acks=0` or on failure.
    pub offset: i64,
    pub timestamp: i64,
    /// `timestamp` is the broker's append time (see [`Delivery::log_append_time`]).
    pub log_append_time: bool,
    pub error: Option<Error>,
    /// Microseconds from `send()` to this report.
    pub latency_us: u64,
    /// The record's key, value and headers.
    pub record: OwnedRecord,
}

/// A record's key, value and headers kept after its delivery report: the engine's own record
/// when the report handed it over, else a copy of its body; parsed when asked.
pub struct OwnedRecord(Kept);

enum Kept {
    Copy(Box<[u8]>),
    /// The record as `send()` encoded it, moved out of the engine (no copy).
    Record(PendingRecord),
}

// SAFETY: through `&OwnedRecord` only the record's body is read, bytes that nothing writes after
// `send()` encoded them; its completion (the one part that is not Sync) was taken before the
// record was handed over and is never touched through a shared reference. (Send comes from
// PendingRecord's.) As a `Box<[u8]>` before, OwnedRecord was Sync; it stays so.
unsafe impl Sync for OwnedRecord {}
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<OwnedDelivery>();
};

impl OwnedRecord {
    fn body(&self) -> &[u8] {
        match &self.0 {
            Kept::Copy(b) => b,
            Kept::Record(r) => r.body(),
        }
    }

    pub fn key(&self) -> Option<&[u8]> {
        crate::record::body_key_value(self.body()).0
    }

    pub fn value(&self) -> Option<&[u8]> {
        crate::record::body_key_value(self.body()).1
    }

    /// Key and value in one pass over the record.
    pub fn key_value(&self) -> (Option<&[u8]>, Option<&[u8]>) {
        crate::record::body_key_value(self.body())
    }

    pub fn headers(&self) -> Vec<(&str, Option<&[u8]>)> {
        crate::record::body_headers(self.body())
    }
}

impl Clone for OwnedRecord {
    fn clone(&self) -> Self {
        OwnedRecord(Kept::Copy(self.body().into()))
    }
}

impl std::fmt::Debug for OwnedRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (key, value) = self.key_value();
        f.debug_struct("OwnedRecord").field("key", &key).field("value", &value).field("headers", &self.headers()).finish()
    }
}

impl Delivery<'_> {
    /// Key, value and headers copied out in one allocation, to keep past the callback.
    pub fn to_owned_record(&self) -> OwnedRecord {
        OwnedRecord(Kept::Copy(self.body.into()))
    }

    /// The whole report, its record copied, to keep past the callback.
    pub fn to_owned_delivery(&self) -> OwnedDelivery {
        OwnedDelivery {
            topic: self.topic.clone(),
            partition: self.partition,
            offset: self.offset,
            timestamp: self.timestamp,
            log_append_time: self.log_append_time,
            error: self.error.cloned(),
            latency_us: self.latency_us,
            record: self.to_owned_record(),
        }
    }
}

/// With `delivery.report.only.error`: called with the opaque of each successful record whose
/// report is withheld, so that a binding can free what the opaque owns.
pub type SuppressedHandler = Arc<dyn Fn(usize) + Send + Sync>;

/// A producer-wide statistics handler: gets each JSON document of `statistics.interval.ms`.
/// Gets client-wide errors that no call returns (librdkafka's `error_cb`): all brokers down, a
/// fatal error.
pub type ErrorHandler = Arc<dyn Fn(&Error) + Send + Sync>;

pub type StatsHandler = Arc<dyn Fn(&str) + Send + Sync>;

/// A producer-wide throttle handler: `(broker name, broker id, throttle time ms)` for each
/// Produce response that carried a throttle time above 0 (librdkafka's `throttle_cb`).
pub type ThrottleHandler = Arc<dyn Fn(&str, i32, i32) + Send + Sync>;

/// Called once after a run of delivery reports (see
/// [`ProducerBuilder::on_reports_served`](crate::ProducerBuilder::on_reports_served)).
pub type ServedHandler = Arc<dyn Fn() + Send + Sync>;

/// The client-wide handlers besides delivery reports, all run where reports run.
#[derive(Default, Clone)]
pub(crate) struct ClientHandlers {
    pub error: Option<ErrorHandler>,
    pub stats: Option<StatsHandler>,
    pub throttle: Option<ThrottleHandler>,
    pub served: Option<ServedHandler>,
}

/// Who runs delivery callbacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeliveryMode {
    /// A background thread owned by the producer.
    #[default]
    Thread,
    /// The application, by calling `Producer::poll`. Memory of reported records is released only
    /// when their reports are served, as in librdkafka.
    Poll,
}

pub(crate) enum Outcome {
    Ok { base_offset: i64, log_append_time: i64 },
    Err(Arc<Error>),
}

pub(crate) struct DeliveryJob {
    pub pq: Arc<PartitionQueue>,
    pub records: Vec<PendingRecord>,
    pub outcome: Outcome,
}

/// What the I/O thread hands to the delivery thread / `poll()`: a batch's reports, or a
/// statistics document (built on the I/O thread, handed over so the handler never runs there).
pub(crate) enum Job {
    Report(DeliveryJob),
    Stats(String),
    /// A client-wide error for the error handler.
    Error(Error),
    /// A Produce response from broker `name` (`host:port/id`) carried `ms` > 0.
    Throttle { name: String, node_id: i32, ms: i32 },
    /// Reports of records that never reached a partition queue (spooled records purged).
    Alone(Vec<AloneReport>),
}

/// The report of a record outside every partition queue (a spooled record that failed before it
/// was handed to the send path): what its [`Delivery`] says, and its completion.
pub(crate) struct AloneReport {
    pub topic: Arc<str>,
    pub partition: i32,
    pub timestamp: i64,
    /// The record body as `Delivery::body` reads it (key, value, headers).
    pub body: Vec<u8>,
    pub error: Arc<Error>,
    pub completion: Completion,
}

thread_local! {
    /// True while this thread runs delivery callbacks: `close()` and `flush()` called from a
    /// callback must not wait for reports that only this thread can serve.
    static IN_DELIVERY: Cell<bool> = const { Cell::new(false) };
}

pub(crate) fn in_delivery_callback() -> bool {
    IN_DELIVERY.with(|c| c.get())
}

pub(crate) struct Deliverer {
    memory: Arc<MemoryPool>,
    /// `queue.buffering.max.messages`: one unit per record not yet reported; None: no limit.
    pub records: Option<MemoryPool>,
    handler: Option<ReportHandler>,
    /// [`ProducerBuilder::on_acknowledgement`](crate::ProducerBuilder::on_acknowledgement): sees
    /// every record's report first, whatever its completion and `delivery.report.only.error`.
    on_ack: Option<DeliveryHandler>,
    /// Get the statistics documents and throttle times (`Job::Stats`, `Job::Throttle`); the I/O
    /// thread sends neither without its handler.
    handlers: ClientHandlers,
    /// `delivery.report.only.error`, and who is told of the withheld reports.
    only_error: bool,
    suppressed: Option<SuppressedHandler>,
    /// `spool.dir`: resolves `Completion::Spooled` records' completions.
    spool: Option<Arc<crate::spool::Spool>>,
    lock: Mutex<()>,
    progress: Condvar,
    /// Serialises `poll` callers, so reports of one partition never run concurrently.
    poll_lock: Mutex<()>,
    pub rx: crossbeam_channel::Receiver<Job>,
}

impl Deliverer {
    pub fn new(
        memory: Arc<MemoryPool>,
        records: Option<MemoryPool>,
        handler: Option<ReportHandler>,
        on_ack: Option<DeliveryHandler>,
        handlers: ClientHandlers,
        only_error: Option<Option<SuppressedHandler>>,
        rx: crossbeam_channel::Receiver<Job>,
    ) -> Self {
        Deliverer {
            memory,
            records,
            handler,
            on_ack,
            handlers,
            only_error: only_error.is_some(),
            suppressed: only_error.flatten(),
            spool: None,
            lock: Mutex::new(()),
            progress: Condvar::new(),
            poll_lock: Mutex::new(()),
            rx,
        }
    }

    /// With `spool.dir`: the spool that keeps spooled records' completions.
    pub fn with_spool(mut self, spool: Option<Arc<crate::spool::Spool>>) -> Self {
        self.spool = spool;
        self
    }

    pub fn wants_errors(&self) -> bool {
        self.handlers.error.is_some()
    }

    pub fn wants_stats(&self) -> bool {
        self.handlers.stats.is_some()
    }

    pub fn wants_throttle(&self) -> bool {
        self.handlers.throttle.is_some()
    }

    /// Serves one job from the I/O thread; returns how many records it reported. Delivery
    /// thread or a `poll` caller.
    pub fn serve(&self, job: Job) -> usize {
        match job {
            Job::Report(j) => {
                let n = j.records.len();
                self.run(j);
                n
            }
            Job::Stats(json) => {
                if let Some(h) = &self.handlers.stats {
                    if catch_unwind(AssertUnwindSafe(|| h(&json))).is_err() {
                        log::error!("the statistics handler panicked; the producer goes on");
                    }
                }
                0
            }
            Job::Error(e) => {
                if let Some(h) = &self.handlers.error {
                    if catch_unwind(AssertUnwindSafe(|| h(&e))).is_err() {
                        log::error!("the error handler panicked; the producer goes on");
                    }
                }
                0
            }
            Job::Alone(reports) => {
                let n = reports.len();
                IN_DELIVERY.with(|c| c.set(true));
                for r in reports {
                    self.complete_alone(r);
                }
                IN_DELIVERY.with(|c| c.set(false));
                n
            }
            Job::Throttle { name, node_id, ms } => {
                if let Some(h) = &self.handlers.throttle {
                    if catch_unwind(AssertUnwindSafe(|| h(&name, node_id, ms))).is_err() {
                        log::error!("the throttle handler panicked; the producer goes on");
                    }
                }
                0
            }
        }
    }

    /// Runs the `on_reports_served` hook: after a run of jobs, once no more is waiting (or the
    /// thread that served them stops serving), every report's memory already released.
    ///
    /// The hook counts as a delivery callback (`in_delivery_callback`): a binding that runs the
    /// application's callbacks from it (the JNI binding does) gets a callback's `flush` and
    /// `close` (no waiting for reports that only this thread could serve).
    pub fn served(&self) {
        if let Some(h) = &self.handlers.served {
            let was = IN_DELIVERY.with(|c| c.replace(true));
            if catch_unwind(AssertUnwindSafe(|| h())).is_err() {
                log::error!("the reports-served hook panicked; the producer goes on");
            }
            IN_DELIVERY.with(|c| c.set(was));
        }
    }

    /// Runs one job's reports in order. Delivery thread or a `poll` caller.
    pub fn run(&self, job: DeliveryJob) {
        IN_DELIVERY.with(|c| c.set(true));
        let now = clock::mono_ns();
        let mut released = 0;
        let n = job.records.len();
        // An owned handler is given the record itself where nothing else is to see the report: no
        // on_acknowledgement hook (known once per job), not a success withheld by
        // delivery.report.only.error (per record, below).
        let owned = match &self.handler {
            Some(ReportHandler::Owned(h)) if self.on_ack.is_none() => Some(h),
            _ => None,
        };
        // Records of a job that waited long are out of the caches (many partitions, a backlog):
        // loading them a few ahead overlaps the misses instead of taking them one by one.
        let mut records = job.records.into_iter();
        for r in records.as_slice().iter().take(PREFETCH_AHEAD) {
            r.prefetch();
        }
        for i in 0..n {
            let Some(mut rec) = records.next() else { break };
            if let Some(r) = records.as_slice().get(PREFETCH_AHEAD - 1) {
                r.prefetch();
            }
            let (offset, timestamp, log_append_time, error) = match &job.outcome {
                Outcome::Ok { base_offset, log_append_time } => {
                    let off = if *base_offset >= 0 { base_offset + i as i64 } else { -1 };
                    match *log_append_time {
                        t if t >= 0 => (off, t, true, None),
                        _ => (off, rec.timestamp(), false, None),
                    }
                }
                Outcome::Err(e) => (-1, rec.timestamp(), false, Some(&**e)),
            };
            let completion = rec.take_completion();
            released += rec.mem_size();
            let latency_us = now.saturating_sub(rec.enqueued_ns()) / 1000;
            if let (Some(h), &Completion::Opaque(o)) = (owned, &completion) {
                if error.is_some() || !self.only_error {
                    let pq = &job.pq;
                    let report = OwnedDelivery {
                        topic: pq.topic.clone(),
                        partition: pq.partition,
                        offset,
                        timestamp,
                        log_append_time,
                        error: error.cloned(),
                        latency_us,
                        record: OwnedRecord(Kept::Record(rec)),
                    };
                    if catch_unwind(AssertUnwindSafe(|| h(report, o))).is_err() {
                        log::error!("a delivery callback panicked (record to {}-{}); the producer goes on", pq.topic, pq.partition);
                    }
                    continue;
                }
            }
            let d = Delivery {
                topic: &job.pq.topic,
                topic_c: &job.pq.topic_c,
                partition: job.pq.partition,
                offset,
                timestamp,
                log_append_time,
                error,
                latency_us,
                body: rec.body(),
            };
            let completion = match completion {
                Completion::Spooled(id) => match self.unspool(&d, id) {
                    Some(c) => c,
                    None => continue,
                },
                c => c,
            };
            self.complete(&d, completion);
        }
        IN_DELIVERY.with(|c| c.set(false));
        self.memory.release(released);
        if let Some(r) = &self.records {
            r.release(n);
        }
        job.pq.completed.fetch_add(n as u64, Ordering::AcqRel);
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.progress.notify_all();
    }

    /// A spooled record's report: acknowledged in the spool, and its own completion, unless it
    /// was left by an earlier process (its report goes to the recovered-records handler whatever
    /// delivery.report.only.error says) or has none. Out of line: without `spool.dir` never run.
    #[cold]
    #[inline(never)]
    fn unspool(&self, d: &Delivery<'_>, id: u64) -> Option<Completion> {
        let spool = self.spool.as_ref().expect("spooled records only with a spool");
        match spool.reported(id, d.error) {
            Some(Completion::Callback(cb)) if spool.is_recovered(id) => {
                if catch_unwind(AssertUnwindSafe(|| cb(d))).is_err() {
                    log::error!("the spool's recovered-records handler panicked; the producer goes on");
                }
                None
            }
            c => c,
        }
    }

    /// Hands the report of a record outside every partition queue to its completion (no memory
    /// to release: it held none).
    #[cold]
    pub(crate) fn complete_alone(&self, r: AloneReport) {
        let topic_c = std::ffi::CString::new(&*r.topic).unwrap_or_default();
        let d = Delivery { topic: &r.topic, topic_c: &topic_c, partition: r.partition, offset: -1, timestamp: r.timestamp, log_append_time: false, error: Some(&r.error), latency_us: 0, body: &r.body };
        self.complete(&d, r.completion);
    }

    /// Hands one record's report to its completion (the on_acknowledgement hook first).
    #[inline]
    pub(crate) fn complete(&self, d: &Delivery<'_>, completion: Completion) {
        let error = d.error;
        {
            if let Some(a) = &self.on_ack {
                let o = if let Completion::Opaque(o) = &completion { *o } else { 0 };
                if catch_unwind(AssertUnwindSafe(|| a(d, o))).is_err() {
                    log::error!("an on_acknowledgement hook panicked (record to {}-{}); the producer goes on", d.topic, d.partition);
                }
            }
            if self.only_error && error.is_none() {
                match completion {
                    Completion::Future(slot) => slot.complete(d.to_result()),
                    Completion::Opaque(o) => {
                        if let Some(s) = &self.suppressed {
                            s(o)
                        }
                    }
                    Completion::Callback(_) | Completion::Spooled(..) => {}
                }
                return;
            }
            let r = catch_unwind(AssertUnwindSafe(|| match completion {
                Completion::Opaque(o) => {
                    if let Some(h) = &self.handler {
                        match h {
                            ReportHandler::Borrowed(h) => h(d, o),
                            ReportHandler::Owned(h) => h(d.to_owned_delivery(), o),
                        }
                    } else if let Some(e) = d.error {
                        log::warn!("record to {}-{} failed (no delivery handler): {e}", d.topic, d.partition);
                    }
                }
                Completion::Callback(cb) => cb(d),
                Completion::Future(slot) => slot.complete(d.to_result()),
                Completion::Spooled(..) => {}
            }));
            if r.is_err() {
                log::error!("a delivery callback panicked (record to {}-{}); the producer goes on", d.topic, d.partition);
            }
        }
    }

    /// Serves reports until none is ready, waiting up to `timeout` for the first. Returns how many
    /// records were reported.
    pub fn poll(&self, timeout: Duration) -> usize {
        if in_delivery_callback() {
            return 0;
        }
        let deadline = Instant::now() + timeout;
        let Some(_g) = self.lock_poll(deadline) else { return 0 };
        let mut served = 0;
        let first = if timeout.is_zero() { self.rx.try_recv().ok() } else { self.rx.recv_deadline(deadline).ok() };
        let Some(job) = first else { return 0 };
        served += self.serve(job);
        while let Ok(job) = self.rx.try_recv() {
            served += self.serve(job);
        }
        self.served();
        served
    }

    fn lock_poll(&self, deadline: Instant) -> Option<std::sync::MutexGuard<'_, ()>> {
        loop {
            match self.poll_lock.try_lock() {
                Ok(g) => return Some(g),
                Err(std::sync::TryLockError::Poisoned(p)) => return Some(p.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => {
                    if Instant::now() >= deadline {
                        return None;
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        }
    }

    /// Waits until `done()` holds or `deadline` passes; woken after every job.
    pub fn wait_until(&self, deadline: Instant, done: &dyn Fn() -> bool) -> bool {
        let mut g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if done() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            // Bounded wait: a job finishing between `done()` and the wait is caught next round.
            let step = (deadline - now).min(Duration::from_millis(50));
            g = self.progress.wait_timeout(g, step).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}
