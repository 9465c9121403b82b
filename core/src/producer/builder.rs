//! [`ProducerBuilder`]: what string configuration cannot carry (handlers, a partitioner, the
//! delivery mode), and the start of a producer's threads.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use arc_swap::ArcSwap;
use crossbeam_queue::SegQueue;

use super::{Producer, CURRENT_PRODUCER, NEXT_PRODUCER_ID};
use crate::config::Config;
use crate::delivery::{ClientHandlers, Deliverer, DeliveryHandler, DeliveryMode, Job, OwnedDelivery, ReportHandler};
use crate::error::{Error, LocalCode, Result};
use crate::io::IoThread;
use crate::memory::MemoryPool;
use crate::parking::Parking;
use crate::partitioner::Partitioner;
use crate::record::Delivery;
use crate::shared::{Inner, MetaWait, TopicTable};

/// Builds a [`Producer`] with what string configuration cannot carry: a delivery handler, a custom
/// partitioner, the delivery mode.
pub struct ProducerBuilder {
    config: Config,
    handler: Option<ReportHandler>,
    on_ack: Option<DeliveryHandler>,
    handlers: ClientHandlers,
    partitioner: Option<Arc<dyn Partitioner>>,
    resolver: Option<crate::io::resolver::ResolveFn>,
    mode: DeliveryMode,
    token_provider: Option<crate::config::TokenProvider>,
    suppressed: Option<crate::delivery::SuppressedHandler>,
    queue_until_metadata: bool,
    spool_recovered: Option<crate::spool::RecoveredHandler>,
    count_placements: bool,
    /// Reserved here so that [`ProducerBuilder::id`] is known before the threads start.
    id: u64,
}

impl ProducerBuilder {
    pub fn new(config: Config) -> Self {
        let id = NEXT_PRODUCER_ID.fetch_add(1, Ordering::Relaxed);
        ProducerBuilder { id, config, handler: None, on_ack: None, handlers: ClientHandlers::default(), partitioner: None, resolver: None, mode: DeliveryMode::Thread, token_provider: None, suppressed: None, queue_until_metadata: false, spool_recovered: None, count_placements: false }
    }

    /// The [`Producer::id`] the built producer will have. A log sink that routes records by
    /// [`current_producer_id`] registers it before [`ProducerBuilder::build`], since the I/O
    /// thread may log (a refused connection) before `build` returns.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// librdkafka's semantics for a topic whose metadata is not known yet: sends never wait for
    /// it. The record is buffered (against `buffer.memory`) until the topic's partitions are
    /// known, then placed; if they never are, its report fails (`_UNKNOWN_TOPIC` after
    /// `topic.metadata.propagation.max.ms` of the brokers saying the topic does not exist,
    /// `_MSG_TIMED_OUT` at `delivery.timeout.ms`). An explicit partition the topic does not have
    /// fails the send at once (`_UNKNOWN_PARTITION`). Off (the default): `send()` waits up to
    /// `max.block.ms` for the topic, as the Java producer does. See `parking.rs`.
    pub fn queue_until_metadata(mut self, on: bool) -> Self {
        self.queue_until_metadata = on;
        self
    }

    /// A handler for every record sent with `send_with_opaque` (or with no per-record completion).
    /// Replaces an [`owned_delivery_handler`](Self::owned_delivery_handler).
    pub fn delivery_handler(mut self, h: impl Fn(&Delivery<'_>, usize) + Send + Sync + 'static) -> Self {
        self.handler = Some(ReportHandler::Borrowed(Arc::new(h)));
        self
    }

    /// As [`delivery_handler`](Self::delivery_handler), for a handler that keeps its reports
    /// past the call (a binding that queues them for another thread): each report comes owned,
    /// with the record's own memory where the report is the record's last use, a copy where
    /// something else sees it too (an [`on_acknowledgement`](Self::on_acknowledgement) hook, the
    /// spool of `spool.dir`) or the record never reached a partition queue. Saves a copy of
    /// every record against `to_owned_record` in a borrowing handler. Replaces a
    /// `delivery_handler`.
    pub fn owned_delivery_handler(mut self, h: impl Fn(OwnedDelivery, usize) + Send + Sync + 'static) -> Self {
        self.handler = Some(ReportHandler::Owned(Arc::new(h)));
        self
    }

    /// A hook that sees every record's report before its completion runs (its callback, future
    /// or delivery handler), on the same thread, whatever `delivery.report.only.error` says:
    /// for interceptors (librdkafka's `on_acknowledgement`, Java's `onAcknowledgement`). The
    /// second argument is the record's opaque (`send_with_opaque`), 0 for other sends. It must
    /// be quick: it delays every report after it. A panic in it is caught and logged.
    pub fn on_acknowledgement(mut self, f: impl Fn(&Delivery<'_>, usize) + Send + Sync + 'static) -> Self {
        self.on_ack = Some(Arc::new(f));
        self
    }

    /// Gets client-wide errors that no call returns (librdkafka's `error_cb`), on the delivery
    /// thread or in `poll()`: `_ALL_BROKERS_DOWN` once when every broker connection is down (with
    /// the connection diagnosis when there is one; again only after a connection came back and
    /// all were lost again), and the producer's fatal error.
    pub fn error_handler(mut self, h: impl Fn(&Error) + Send + Sync + 'static) -> Self {
        self.handlers.error = Some(Arc::new(h));
        self
    }

    /// Gets each statistics document (JSON in librdkafka's schema, docs/observability.md) every
    /// `statistics.interval.ms`, on the delivery thread or in `poll()`, never on the I/O thread.
    pub fn stats_handler(mut self, h: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.handlers.stats = Some(Arc::new(h));
        self
    }

    /// Called with `(broker name "host:port/id", broker id, throttle time ms)` for each Produce
    /// response whose throttle time is above 0 (the broker is holding back this client for a
    /// quota), on the delivery thread or in `poll()`.
    pub fn throttle_handler(mut self, h: impl Fn(&str, i32, i32) + Send + Sync + 'static) -> Self {
        self.handlers.throttle = Some(Arc::new(h));
        self
    }

    /// With `delivery.report.only.error=true` the delivery handler is not called for records
    /// that succeeded; `f` is called with their opaque instead, for a binding whose opaques own
    /// something (a boxed callback) to free it.
    pub fn on_report_suppressed(mut self, f: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.suppressed = Some(Arc::new(f));
        self
    }

    /// A hook called after a run of delivery reports, once no more report is ready to be served
    /// right away, with the buffer memory of every report before it already released: on the
    /// delivery thread, the thread in `poll()`, or one that sends or closes (reports of records
    /// failed by `close`). Never on the I/O thread. For a binding that hands reports to another
    /// thread: queue them in the delivery handler, wake that thread once here (one wake-up per
    /// batch, not per record), and retry there sends that failed for want of memory. It may also
    /// run after jobs that carried no report (statistics, errors). It counts as a delivery
    /// callback: `flush` and `close` called in it do not wait for reports (only this thread could
    /// serve them), so a binding may run the application's callbacks from it.
    pub fn on_reports_served(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.handlers.served = Some(Arc::new(f));
        self
    }

    /// With `spool.dir`: gets the report of each record an earlier producer left in the spool
    /// (after a crash, or a close that could not send everything): its topic, partition, offset,
    /// or its error. On the delivery thread (or `poll()`), whatever `delivery.report.only.error`
    /// says. Records the earlier producer spooled and that are acknowledged now come here, not to
    /// the delivery handler (their callbacks died with that process).
    pub fn spool_recovered_handler(mut self, h: impl Fn(&Delivery<'_>) + Send + Sync + 'static) -> Self {
        self.spool_recovered = Some(Arc::new(h));
        self
    }

    /// Counts how each record's partition was chosen (by key, sticky, explicit, the
    /// application's partitioner; [`Producer::counters`](crate::Producer::counters)' topics),
    /// also with statistics off (with statistics on they are counted anyway): for a binding that
    /// reports them as metrics. Costs each `send()` one relaxed atomic increment.
    pub fn count_placements(mut self, on: bool) -> Self {
        self.count_placements = on;
        self
    }

    pub fn partitioner(mut self, p: impl Partitioner + 'static) -> Self {
        self.partitioner = Some(Arc::new(p));
        self
    }

    /// Resolves broker names (`host:port`) to the addresses to try, in order, instead of the
    /// system's resolver (librdkafka's `resolve_cb`): service discovery, pinned addresses, tests.
    /// Runs on a lookup thread, never on the I/O thread; a call that takes longer than
    /// `socket.connection.setup.timeout.ms` fails the connection attempt (and is not started
    /// again for that name while it runs).
    pub fn resolver(mut self, f: impl Fn(&str) -> std::io::Result<Vec<std::net::SocketAddr>> + Send + Sync + 'static) -> Self {
        self.resolver = Some(Arc::new(f));
        self
    }

    pub fn delivery_mode(mut self, mode: DeliveryMode) -> Self {
        self.mode = mode;
        self
    }

    /// SASL OAUTHBEARER: called for a fresh token each time a connection authenticates (it wins
    /// over `sasl.oauthbearer.token`). Runs on the I/O thread, so it must return quickly (cache the
    /// token and refresh it in the background when fetching one is slow). An `Err` fails the
    /// authentication with its message, which must not contain the token.
    pub fn oauthbearer_token_provider(mut self, f: impl Fn() -> std::result::Result<String, String> + Send + Sync + 'static) -> Self {
        self.token_provider = Some(Arc::new(f));
        self
    }

    pub fn build(self) -> Result<Producer> {
        let mut config = self.config.build()?;
        if let (Some(p), Some(sasl)) = (self.token_provider, config.security.sasl.as_mut()) {
            sasl.token_provider = Some(p);
        }
        let spool = match &config.spool {
            None => None,
            Some(cfg) => Some(crate::spool::Spool::open(cfg, self.spool_recovered)?.0),
        };
        let poll = mio::Poll::new().map_err(|e| Error::local(LocalCode::Internal, format!("cannot create poll: {e}")))?;
        let waker = IoThread::new_waker(&poll).map_err(|e| Error::local(LocalCode::Internal, format!("cannot create waker: {e}")))?;
        let memory = Arc::new(MemoryPool::new(config.buffer_memory));
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        let records = (config.queue_buffering_max_messages > 0).then(|| MemoryPool::new(config.queue_buffering_max_messages));
        let only_error = config.delivery_report_only_error.then_some(self.suppressed);
        let deliverer = Arc::new(Deliverer::new(memory.clone(), records, self.handler, self.on_ack, self.handlers, only_error, rx).with_spool(spool.clone()));
        let log_level = config.log_level;
        let count_placements = self.count_placements || (config.statistics_interval.is_some() && deliverer.wants_stats());
        let inner = Arc::new(Inner {
            config,
            topics: ArcSwap::from_pointee(TopicTable::default()),
            topics_generation: AtomicU64::new(0),
            memory,
            activations: SegQueue::new(),
            waker,
            wake_pending: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            shutdown: AtomicBool::new(false),
            fatal: OnceLock::new(),
            meta: Mutex::new(MetaWait::default()),
            meta_cv: Condvar::new(),
            flush_requests: AtomicUsize::new(0),
            purge_requested: AtomicBool::new(false),
            purges: Mutex::new(Default::default()),
            purges_done: AtomicU64::new(0),
            earliest_deadline_ns: AtomicU64::new(u64::MAX),
            status_wanted: AtomicBool::new(false),
            status: Mutex::new((0, String::new())),
            status_cv: Condvar::new(),
            blocked: Mutex::new(Default::default()),
            counters_wanted: AtomicBool::new(false),
            counters: Mutex::new((0, Default::default())),
            counters_cv: Condvar::new(),
            deliverer: deliverer.clone(),
            partitioner: self.partitioner,
            count_placements,
            resolver: self.resolver,
            meta_queries: SegQueue::new(),
            parking: Mutex::new(Parking::default()),
            diagnosis: Mutex::new(None),
            txn: crate::transaction::TxnShared::new(),
            spool,
            sasl_credentials: Arc::default(),
        });
        let id = self.id;
        crate::logging::register(id, log_level);
        let io = IoThread::new(inner.clone(), poll, tx);
        let io = std::thread::Builder::new()
            .name("rafka-io".into())
            .spawn(move || {
                CURRENT_PRODUCER.with(|c| c.set(id));
                io.run()
            })
            .map_err(|e| Error::local(LocalCode::Internal, format!("cannot start the I/O thread: {e}")))?;
        let delivery = match self.mode {
            DeliveryMode::Poll => None,
            DeliveryMode::Thread => {
                let d = deliverer.clone();
                Some(
                    std::thread::Builder::new()
                        .name("rafka-delivery".into())
                        .spawn(move || {
                            CURRENT_PRODUCER.with(|c| c.set(id));
                            while let Ok(job) = d.rx.recv() {
                                d.serve(job);
                                if d.rx.is_empty() {
                                    d.served();
                                }
                            }
                        })
                        .map_err(|e| Error::local(LocalCode::Internal, format!("cannot start the delivery thread: {e}")))?,
                )
            }
        };
        let producer = Producer {
            inner,
            id,
            mode: self.mode,
            queue_until_metadata: self.queue_until_metadata,
            io: Mutex::new(Some(io)),
            delivery: Mutex::new(delivery),
            closed: AtomicBool::new(false),
            spool_threads: Mutex::new(Vec::new()),
        };
        if producer.inner.spool.is_some() {
            producer.start_spool_threads()?;
        }
        Ok(producer)
    }
}
