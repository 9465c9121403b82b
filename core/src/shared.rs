//! The state one producer's threads share: application threads (`send()`, `flush()`, ...), the
//! I/O thread (`io/`), the compression threads and the delivery thread (`delivery.rs`).
//!
//! Everything here sits behind one `Arc<Inner>`. Each field says which thread writes it and which
//! read it; state that only one thread touches does not belong here but in that thread's own
//! rooms (the I/O thread's are under `io/`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use crossbeam_queue::SegQueue;

use crate::accumulator::{PartitionQueue, TopicState};
use crate::config::ProducerConfig;
use crate::delivery::Deliverer;
use crate::error::Error;
use crate::memory::MemoryPool;
use crate::metadata::MetadataQuery;
use crate::parking::Parking;
use crate::partitioner::Partitioner;

/// What the I/O thread and senders share about topics being looked up. Behind `Inner::meta`.
/// Written by senders (`wanted`, `refresh`) and by the I/O thread (`errors`, `generation`, and
/// `wanted` as topics arrive); read by both.
#[derive(Default)]
pub(crate) struct MetaWait {
    /// Topics senders wait for.
    pub wanted: HashSet<String>,
    /// The last error metadata gave for a wanted topic.
    pub errors: HashMap<String, Error>,
    /// A sender wants fresh metadata (e.g. a partition beyond the known count).
    pub refresh: bool,
    /// Bumped after every metadata response.
    pub generation: u64,
}

/// The last connection failure the I/O thread recognised (`io/diagnose.rs`), with when it was
/// first seen and how many attempts in a row showed it. Behind `Inner::diagnosis`.
pub(crate) struct DiagnosisSeen {
    pub error: Error,
    pub first_seen: Instant,
    pub count: u32,
}

/// A diagnosis is settled, and fails the calls waiting on connections, once this many attempts
/// in a row showed it ...
const SETTLED_AFTER_ATTEMPTS: u32 = 2;
/// ... or once it has stood this long.
const SETTLED_AFTER: Duration = Duration::from_secs(2);

/// Topic name to its partitions' queues: read by every `send()`, replaced whole (copy on write)
/// by the I/O thread when metadata adds a topic or partitions.
pub(crate) type TopicTable = HashMap<Arc<str>, Arc<TopicState>, rustc_hash::FxBuildHasher>;

/// State shared by the application threads, the I/O thread and the delivery thread.
/// What `send()` calls to one topic waited for (see `Inner::blocked`): calls that waited, and
/// nanoseconds waited, for room in `buffer.memory` and for the topic's metadata.
#[derive(Default, Clone, Copy)]
pub(crate) struct Blocked {
    pub buffer_cnt: u64,
    pub buffer_ns: u64,
    pub metadata_cnt: u64,
    pub metadata_ns: u64,
}

pub(crate) struct Inner {
    /// Set once when the producer is built; read by every thread.
    pub config: ProducerConfig,
    /// Written (replaced whole) by the I/O thread; read by every `send()`.
    pub topics: ArcSwap<TopicTable>,
    /// Bumped by the I/O thread (after the store) whenever `topics` is replaced: tells a sending
    /// thread whether the topic it remembers (`producer.rs`, `LAST_TOPIC`) is still current.
    pub topics_generation: AtomicU64,
    /// `buffer.memory`: reserved by `send()`, released by the delivery thread (or `poll()`).
    pub memory: Arc<MemoryPool>,
    /// Partitions that senders activated (see `accumulator`): pushed by senders, popped by the
    /// I/O thread.
    pub activations: SegQueue<Arc<PartitionQueue>>,
    /// Wakes the I/O thread's `Poll`; any thread.
    pub waker: mio::Waker,
    /// Set by the first thread that wakes the I/O thread, cleared by the I/O thread when it wakes:
    /// at most one wake-up syscall per turn of its loop.
    pub wake_pending: AtomicBool,
    /// No more sends accepted. Set by `close()`; read by every thread.
    pub closing: AtomicBool,
    /// Everything still pending is failed and the I/O thread stops. Set by `close()`.
    pub shutdown: AtomicBool,
    /// The producer's fatal error: set once by the I/O thread; read by every call.
    pub fatal: OnceLock<Error>,
    /// Topics senders wait for (see [`MetaWait`]); `meta_cv` is notified by the I/O thread after
    /// every metadata response and by `close()`.
    pub meta: Mutex<MetaWait>,
    pub meta_cv: Condvar,
    /// `flush()` and `close()` calls under way (application threads): the I/O thread sends
    /// without lingering while it is above zero.
    pub flush_requests: AtomicUsize,
    /// Set by `purge()` after it queued a request in `purges`; cleared by the I/O thread when it
    /// has done every request (see `purge.rs`).
    pub purge_requested: AtomicBool,
    /// Purges asked for, in order: pushed by application threads, taken by the I/O thread.
    pub purges: Mutex<crate::purge::PurgeRequests>,
    /// The number of the last purge the I/O thread has done (a blocking `purge()` waits for its own).
    pub purges_done: AtomicU64,
    /// The earliest own deadline of a record not yet looked at by the I/O thread's deadline sweep
    /// (`clock::mono_ns()` scale; `u64::MAX`: none). Lowered by senders after they queue (or park)
    /// a record with a deadline, each after its partition's `earliest_deadline_ns`; swapped to
    /// `u64::MAX` by the I/O thread before its sweep, which puts back the earliest deadline left.
    /// A sender that lowers it below what it was wakes the I/O thread, which then sleeps no longer
    /// than the deadline.
    pub earliest_deadline_ns: AtomicU64,
    /// A blocked `send()` asks the I/O thread for its status report: set by the sender, cleared
    /// by the I/O thread, which writes `status` (a generation and the text) and notifies `status_cv`.
    pub status_wanted: AtomicBool,
    pub status: Mutex<(u64, String)>,
    pub status_cv: Condvar,
    /// Per topic, how long `send()` calls were blocked, by cause: written by a sending thread
    /// after it waited (never on the path that does not wait), with statistics on only; read by
    /// the I/O thread for the statistics.
    pub blocked: Mutex<HashMap<String, Blocked>>,
    /// `Producer::counters` asks the I/O thread for a snapshot the same way: set by the caller,
    /// cleared by the I/O thread, which writes `counters` (a generation and the snapshot) and
    /// notifies `counters_cv`.
    pub counters_wanted: AtomicBool,
    pub counters: Mutex<(u64, crate::counters::ProducerCounters)>,
    pub counters_cv: Condvar,
    /// Runs reports (delivery thread or `poll()`); the I/O thread counts jobs into it.
    pub deliverer: Arc<Deliverer>,
    /// A custom partitioner given to the builder; called by `send()`.
    pub partitioner: Option<Arc<dyn Partitioner>>,
    /// Partitioner metrics are counted (`PartitionQueue::placed`): statistics are on, or the
    /// builder asked (`ProducerBuilder::count_placements`). Set once at build.
    pub count_placements: bool,
    /// The application's DNS resolver (`ProducerBuilder::resolver`), if any; set at build.
    pub resolver: Option<crate::io::resolver::ResolveFn>,
    /// `Producer::metadata()` queries: pushed by application threads, popped by the I/O thread.
    pub meta_queries: SegQueue<MetadataQuery>,
    /// Records waiting for their topic's metadata (see `parking.rs`): parked by senders (with
    /// `queue_until_metadata`), moved into partitions or failed by the I/O thread.
    pub parking: Mutex<Parking>,
    /// Why connections fail, when the I/O thread recognised it (see [`DiagnosisSeen`]). Written
    /// by the I/O thread alone: set (or its count raised) when a connection attempt fails in a
    /// recognised way, cleared when any connection answers a request. Read by application threads
    /// waiting on the cluster (`send()` for metadata, `flush()`, `metadata()`, transactional
    /// calls), which fail with it once it is settled ([`Inner::settled_diagnosis`]) rather than
    /// wait out their timeout. The I/O thread notifies `meta_cv` when it changes.
    pub diagnosis: Mutex<Option<DiagnosisSeen>>,
    /// Transactions: the state machine, the job of the transactional call under way and its
    /// result (see `transaction.rs` for who writes what). Unused without `transactional.id`.
    pub txn: crate::transaction::TxnShared,
    /// The on-disk spool (`spool.dir`), if configured (see `spool/mod.rs`).
    pub spool: Option<Arc<crate::spool::Spool>>,
    /// SASL username and password given by `Producer::set_sasl_credentials` after the producer
    /// was built: written by application threads, read by the I/O thread each time it opens a
    /// connection (shared with `Connections`). `None`: the configuration's.
    pub sasl_credentials: Arc<Mutex<Option<SaslCredentials>>>,
}

/// A SASL PLAIN or SCRAM username and password (see [`Inner::sasl_credentials`]).
#[derive(Clone)]
pub(crate) struct SaslCredentials {
    pub username: String,
    pub password: crate::config::Secret,
}

impl Inner {
    /// Wakes the I/O thread unless a wake-up is already pending. Any thread.
    #[inline]
    pub fn wake_io(&self) {
        if !self.wake_pending.load(Ordering::Relaxed) && !self.wake_pending.swap(true, Ordering::SeqCst) {
            if let Err(e) = self.waker.wake() {
                log::error!("cannot wake the I/O thread: {e}");
            }
        }
    }

    /// A record with its own deadline `ns` was queued or parked. Any thread.
    #[cold]
    pub fn note_deadline(&self, ns: u64) {
        if self.earliest_deadline_ns.fetch_min(ns, Ordering::SeqCst) > ns {
            self.wake_io_now();
        }
    }

    /// Wakes the I/O thread even if a wake-up seems pending: for requests (flush, purge, close)
    /// that must be seen on its next turn.
    pub fn wake_io_now(&self) {
        self.wake_pending.store(false, Ordering::SeqCst);
        self.wake_io();
    }

    /// Asks the I/O thread what it is waiting on; waits briefly for the answer. Application threads.
    pub fn status_report(&self) -> String {
        let mut g = self.status.lock().unwrap_or_else(|e| e.into_inner());
        let gen = g.0;
        self.status_wanted.store(true, Ordering::SeqCst);
        self.wake_io_now();
        let deadline = Instant::now() + Duration::from_millis(500);
        while g.0 == gen {
            let now = Instant::now();
            if now >= deadline {
                return "the I/O thread did not answer a status request within 500 ms".into();
            }
            g = self.status_cv.wait_timeout(g, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        g.1.clone()
    }

    /// I/O thread: a connection attempt failed with this recognised error.
    pub fn note_diagnosis(&self, error: Error) {
        let mut g = self.diagnosis.lock().unwrap_or_else(|e| e.into_inner());
        match g.as_mut() {
            Some(d) if d.error == error => d.count += 1,
            _ => *g = Some(DiagnosisSeen { error, first_seen: Instant::now(), count: 1 }),
        }
        drop(g);
        self.meta_cv.notify_all();
    }

    /// I/O thread: a connection answered a request; what was diagnosed no longer holds.
    pub fn clear_diagnosis(&self) {
        *self.diagnosis.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The diagnosed error once it is settled: seen on two attempts in a row, or standing for
    /// two seconds. Application threads.
    pub fn settled_diagnosis(&self) -> Option<Error> {
        let g = self.diagnosis.lock().unwrap_or_else(|e| e.into_inner());
        let d = g.as_ref()?;
        (d.count >= SETTLED_AFTER_ATTEMPTS || d.first_seen.elapsed() >= SETTLED_AFTER).then(|| d.error.clone())
    }

    /// The I/O thread's answer to a `Producer::counters` request.
    pub fn publish_counters(&self, snapshot: crate::counters::ProducerCounters) {
        let mut s = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        s.0 += 1;
        s.1 = snapshot;
        self.counters_cv.notify_all();
    }

    /// The I/O thread's answer to [`Inner::status_report`].
    pub fn publish_status(&self, report: String) {
        let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        s.0 += 1;
        s.1 = report;
        self.status_cv.notify_all();
    }
}
