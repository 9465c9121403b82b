//! Producer configuration: string key/value pairs, as users of the Java producer and librdkafka
//! write them. Java's names are canonical and its 4.x defaults apply; librdkafka's names are
//! accepted where they mean the same thing. Every value is checked when it is set (`Config::set`)
//! and the combination when the producer is built (`Config::build`).

use std::fmt;
use std::time::Duration;

use crate::compression::{Codec, Compression};
use crate::partitioner::PartitionerKind;

mod secret;
mod security;
pub(crate) mod tls;

pub use secret::Secret;
pub use security::{SaslConfig, SaslMechanism, SecurityConfig, TlsClient, TokenProvider};

/// Acknowledgement level of Produce requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acks {
    /// `acks=0`: no answer; reports carry offset -1.
    None,
    /// `acks=1`: the leader wrote it.
    Leader,
    /// `acks=all` / `-1`: every in-sync replica has it.
    All,
}

/// The typed configuration the engine runs with.
#[derive(Clone, Debug)]
pub struct ProducerConfig {
    pub bootstrap_servers: Vec<(String, u16)>,
    pub client_id: String,
    pub acks: Acks,
    pub enable_idempotence: bool,
    pub batch_size: usize,
    pub linger: Duration,
    pub buffer_memory: usize,
    pub max_block: Duration,
    pub delivery_timeout: Duration,
    pub request_timeout: Duration,
    pub retries: u32,
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    pub max_in_flight: usize,
    pub max_request_size: usize,
    pub connections_max_idle: Duration,
    pub metadata_max_age: Duration,
    pub reconnect_backoff: Duration,
    pub reconnect_backoff_max: Duration,
    pub socket_connection_setup_timeout: Duration,
    /// -1: the OS default.
    pub send_buffer_bytes: i32,
    pub receive_buffer_bytes: i32,
    /// librdkafka's `batch.num.messages`: at most this many records per batch.
    pub batch_num_messages: usize,
    pub partitioner: PartitionerKind,
    pub partitioner_ignore_keys: bool,
    pub partitioner_adaptive: bool,
    /// `compression.type` and the level that applies to it.
    pub compression: Compression,
    /// rafka's `compression.threads`: threads that compress sealed batches (0: the I/O thread
    /// compresses them itself). See docs/compression.md.
    pub compression_threads: usize,
    /// security.protocol and the SASL settings (see the security block at the end of this file).
    pub security: SecurityConfig,
    /// `metadata.max.idle.ms`: a topic not sent to for this long leaves metadata requests.
    pub metadata_max_idle: Duration,
    /// `client.rack`: kept, sent nowhere (a producer has no request that carries it).
    pub client_rack: String,
    /// `queue.buffering.max.messages`: records sent and not yet reported; 0: no limit.
    pub queue_buffering_max_messages: usize,
    /// `delivery.report.only.error`: successful records get no handler or callback report.
    pub delivery_report_only_error: bool,
    /// `socket.keepalive.enable`: SO_KEEPALIVE.
    pub socket_keepalive: bool,
    /// `socket.nagle.disable`: TCP_NODELAY (the default).
    pub socket_nodelay: bool,
    /// `broker.address.family`.
    pub broker_address_family: AddressFamily,
    /// `metadata.recovery.strategy=rebootstrap` (the default): bootstrap addresses are tried
    /// again when no broker named by metadata can be reached.
    pub metadata_rebootstrap: bool,
    /// `partitioner.availability.timeout.ms`; zero: off.
    pub partitioner_availability_timeout: Duration,
    /// `sticky.partitioning.linger.ms`: a keyless record's sticky partition changes after this
    /// long too (librdkafka); None: only when a batch fills (Java).
    pub sticky_linger: Option<Duration>,
    /// From `debug` / `log_level`: the most detailed level this producer's engine logs at; None:
    /// whatever the application's logger lets through.
    pub log_level: Option<log::LevelFilter>,
    /// `transactional.id`: makes the producer transactional (docs/transactions.md); implies
    /// idempotence.
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms`: how long the coordinator lets a transaction stay open before
    /// it aborts it.
    pub transaction_timeout: Duration,
}

/// `broker.address.family`: which resolved addresses connections use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressFamily {
    Any,
    V4,
    V6,
}

impl AddressFamily {
    fn parse(v: &str) -> Option<AddressFamily> {
        match v.to_ascii_lowercase().as_str() {
            "any" => Some(AddressFamily::Any),
            "v4" => Some(AddressFamily::V4),
            "v6" => Some(AddressFamily::V6),
            _ => None,
        }
    }

    pub fn allows(self, a: &std::net::SocketAddr) -> bool {
        match self {
            AddressFamily::Any => true,
            AddressFamily::V4 => a.is_ipv4(),
            AddressFamily::V6 => a.is_ipv6(),
        }
    }
}

impl Default for ProducerConfig {
    fn default() -> Self {
        let ms = Duration::from_millis;
        ProducerConfig {
            bootstrap_servers: Vec::new(),
            client_id: "rafka".into(),
            acks: Acks::All,
            enable_idempotence: true,
            batch_size: 16384,
            linger: ms(5),
            buffer_memory: 33_554_432,
            max_block: ms(60_000),
            delivery_timeout: ms(120_000),
            request_timeout: ms(30_000),
            retries: i32::MAX as u32,
            retry_backoff: ms(100),
            retry_backoff_max: ms(1000),
            max_in_flight: 5,
            max_request_size: 1_048_576,
            connections_max_idle: ms(540_000),
            metadata_max_age: ms(300_000),
            reconnect_backoff: ms(50),
            reconnect_backoff_max: ms(1000),
            socket_connection_setup_timeout: ms(10_000),
            send_buffer_bytes: 131_072,
            receive_buffer_bytes: 32_768,
            batch_num_messages: 100_000,
            partitioner: PartitionerKind::Default,
            partitioner_ignore_keys: false,
            partitioner_adaptive: true,
            compression: Compression::default(),
            transactional_id: None,
            transaction_timeout: ms(60_000),
            compression_threads: DEFAULT_COMPRESSION_THREADS,
            security: SecurityConfig::default(),
            metadata_max_idle: ms(300_000),
            client_rack: String::new(),
            queue_buffering_max_messages: 0,
            delivery_report_only_error: false,
            socket_keepalive: false,
            socket_nodelay: true,
            broker_address_family: AddressFamily::Any,
            metadata_rebootstrap: true,
            partitioner_availability_timeout: Duration::ZERO,
            sticky_linger: None,
            log_level: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// No such key; `suggestion` is the closest known one, when one is close.
    Unknown { key: String, suggestion: Option<String> },
    /// The value does not fit the key.
    Invalid { key: String, value: String, expected: String },
    /// Settings that contradict each other.
    Conflict(String),
    /// A key of a feature rafka does not have (or one a binding handles): `feature` says which.
    Unsupported { key: String, feature: String },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Unknown { key, suggestion: Some(s) } => write!(f, "unknown configuration key '{key}' (did you mean '{s}'?)"),
            ConfigError::Unknown { key, suggestion: None } => write!(f, "unknown configuration key '{key}'"),
            ConfigError::Invalid { key, value, expected } => write!(f, "invalid value '{value}' for '{key}': expected {expected}"),
            ConfigError::Conflict(m) => write!(f, "conflicting configuration: {m}"),
            ConfigError::Unsupported { key, feature } => write!(f, "configuration key '{key}' is not supported: it belongs to {feature}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// How a key's value is checked and what it means.
#[derive(Clone, Copy)]
enum Kind {
    /// An integer in `[min, max]`, times `scale` (librdkafka's kbytes).
    Int { min: i64, max: i64, scale: i64 },
    Bool,
    Acks,
    Servers,
    Text,
    Partitioner,
    Compression,
    /// `compression.<codec>.level`: checked against that codec's range.
    Level(Codec),
    /// librdkafka's `compression.level`: an integer here, checked against the chosen codec's
    /// range when the producer is built.
    AnyLevel,
    Security,
    SaslMechanism,
    /// A credential: stored like text, never shown (Config's Debug prints `[redacted]`).
    Secret,
    /// One of these words (any case).
    Choice(&'static [&'static str]),
    /// librdkafka's `debug`: a comma-separated list of its debug contexts.
    DebugContexts,
    /// `ssl.cipher.suites`: OpenSSL or IANA names of suites rustls has.
    CipherSuites,
    /// `ssl.protocol` (one) / `ssl.enabled.protocols` (a list): TLSv1.2 and TLSv1.3.
    TlsVersions,
    /// `ssl.*store.type`: only PEM.
    PemOnly,
    /// `ssl.endpoint.identification.algorithm`: https or none (empty).
    EndpointId,
    /// A setting of a feature rafka does not have: setting it is an error naming the feature.
    Unsupported(&'static str),
    /// Set through a binding's own API or handled by the binding before the engine sees the
    /// configuration (serializers, callbacks): reaching the engine as a string is an error.
    Binding(&'static str),
    /// Accepted; changes nothing in rafka, for the reason given (docs/configuration.md).
    NoEffect(&'static str),
}

struct Key {
    name: &'static str,
    aliases: &'static [&'static str],
    kind: Kind,
    /// What the key does in rafka, its default when that is not obvious (docs/configuration.md,
    /// rendered from this table).
    doc: &'static str,
}

const MAX_I32: i64 = i32::MAX as i64;
const fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max, scale: 1 }
}
const fn key(name: &'static str, aliases: &'static [&'static str], kind: Kind, doc: &'static str) -> Key {
    Key { name, aliases, kind, doc }
}

const KERBEROS: Kind = Kind::Unsupported("SASL GSSAPI (Kerberos), which rafka does not support");
const OIDC: Kind = Kind::Unsupported(
    "OAUTHBEARER token retrieval from an OIDC token endpoint, which the engine does not do (give tokens with sasl.oauthbearer.token, a token provider, Python's oauth_cb, or in Java a login callback handler such as Kafka's OAuthBearerLoginCallbackHandler)",
);
const OBSERVABILITY: Kind = Kind::Unsupported("statistics, error and throttle callbacks, not yet in rafka (they arrive with the observability work)");
const JAVA_ONLY: &str = "the Java binding (RafkaProducer) reads it; it has no meaning as an engine string";
const C_API: &str = "set with its own function in librdkafka's C API, not as a string; rafka's C API has its own calls (rafka.h)";
const DEPRECATED: &str = "deprecated and unused in librdkafka too";
const NO_OPENSSL: &str = "an OpenSSL setting; rafka's TLS is rustls, which has no such knob";

/// Every key rafka knows: Java's name first, then librdkafka's names for the same setting.
/// docs/configuration.md's table is rendered from this (`cargo test -p rafka-core config_doc`).
const KEYS: &[Key] = &[
    key("bootstrap.servers", &["metadata.broker.list"], Kind::Servers, "Required. `host:port[,host:port]`, IPv6 as `[::1]:9092`."),
    key("client.id", &[], Kind::Text, "Sent with every request. Default `rafka`."),
    key("client.rack", &[], Kind::Text, "Accepted and kept; a producer sends no request that carries a rack (Kafka uses it for consumers' fetch-from-follower), so it changes nothing on the wire."),
    key("acks", &["request.required.acks"], Kind::Acks, "`0` (no answer, offset -1), `1` (leader), `all`/`-1` (in-sync replicas). Default `all`."),
    key("enable.idempotence", &[], Kind::Bool, "Default `true`. Explicitly `true` with `acks!=all`, `retries=0` or more than 5 in flight is an error; left at its default it turns off quietly then (as in Java)."),
    key("batch.size", &[], int(1, MAX_I32), "Bytes per partition batch, counted before compression; also when sticky partitioning moves on. Default 16384."),
    key("batch.num.messages", &[], int(1, 1_000_000), "At most this many records per batch. Default 100000."),
    key("linger.ms", &["queue.buffering.max.ms"], int(0, MAX_I32), "How long a non-full batch waits for more records. Default 5."),
    key("buffer.memory", &[], int(1, i64::MAX / 2), "Bytes held for records not yet reported; `send()` blocks when full (up to `max.block.ms`). Default 33554432."),
    key("queue.buffering.max.kbytes", &[], Kind::Int { min: 1, max: MAX_I32, scale: 1024 }, "librdkafka's form of `buffer.memory`, in KiB."),
    key("queue.buffering.max.messages", &[], int(0, MAX_I32), "At most this many records sent and not yet reported; `send()` then blocks or fails as when `buffer.memory` is full, naming this key. Unset or 0: no limit (Java's behaviour; librdkafka's default is 100000)."),
    key("max.block.ms", &[], int(0, i64::MAX / 2), "Longest `send()` waits for buffer room or metadata, then fails saying why. Default 60000."),
    key("delivery.timeout.ms", &["message.timeout.ms"], int(0, MAX_I32), "From `send()` to a report, retries included. Default 120000; 0: no limit (librdkafka). Under the `delivery.timeout.ms` name it must be at least `linger.ms` + `request.timeout.ms` (Java); under `message.timeout.ms` a smaller value caps the request timeout at `message.timeout.ms` - `linger.ms` instead (librdkafka caps each request by its first record's remaining time)."),
    key("request.timeout.ms", &["socket.timeout.ms"], int(1, MAX_I32), "A request unanswered this long closes its connection and its batches are retried; also the Produce request's broker-side timeout. Default 30000."),
    key("retries", &["message.send.max.retries"], int(0, MAX_I32), "Attempts after the first, within `delivery.timeout.ms`. Default 2147483647."),
    key("retry.backoff.ms", &[], int(0, MAX_I32), "First backoff between retries, growing exponentially, +-20% jitter. Default 100."),
    key("retry.backoff.max.ms", &[], int(0, MAX_I32), "Largest backoff between retries. Default 1000."),
    key("max.in.flight.requests.per.connection", &["max.in.flight"], int(1, 1_000_000), "Pipelined requests per broker. Default 5."),
    key("max.request.size", &["message.max.bytes"], int(1000, 1_000_000_000), "Largest request; a larger record fails in `send()`. Default 1048576."),
    key("message.copy.max.bytes", &[], Kind::NoEffect("rafka always encodes a record into its own buffer when it is sent (no zero-copy path to tune)"), ""),
    key("receive.message.max.bytes", &[], Kind::NoEffect("a producer's responses are small; rafka reads whatever size the broker frames"), ""),
    key("connections.max.idle.ms", &[], int(0, i64::MAX / 2), "Idle connections are closed. Default 540000."),
    key("metadata.max.age.ms", &[], int(1, MAX_I32), "Periodic metadata refresh. Default 300000."),
    key("topic.metadata.refresh.interval.ms", &[], int(-1, 3_600_000), "librdkafka's name for the periodic metadata refresh (`metadata.max.age.ms`); -1: no periodic refresh (metadata is still fetched for new topics, missing leaders and errors)."),
    key("metadata.max.idle.ms", &[], int(5000, MAX_I32), "A topic not sent to for this long is left out of metadata requests until it is sent to again. Default 300000."),
    key("topic.metadata.refresh.fast.interval.ms", &[], Kind::NoEffect("metadata after a lost leader is asked again after `retry.backoff.ms`, as in Java"), ""),
    key("topic.metadata.refresh.fast.cnt", &[], Kind::NoEffect(DEPRECATED), ""),
    key("topic.metadata.refresh.sparse", &[], Kind::NoEffect("rafka's metadata requests always name only the topics it sends to (sparse)"), ""),
    key("topic.metadata.propagation.max.ms", &[], Kind::NoEffect("`send()` waits up to `max.block.ms` for a new topic to appear (Java semantics)"), ""),
    key("topic.blacklist", &[], Kind::NoEffect("rafka never asks for all topics' metadata, so there is nothing to filter"), ""),
    key("allow.auto.create.topics", &[], Kind::NoEffect("a producer's metadata requests always allow auto-creation (as librdkafka's and Java's producers do); the broker's auto.create.topics.enable decides"), ""),
    key("metadata.recovery.strategy", &[], Kind::Choice(&["none", "rebootstrap"]), "`rebootstrap` (default): when no broker named by metadata can be reached, the bootstrap addresses are tried again; `none`: once metadata named brokers, only those are used."),
    key("metadata.recovery.rebootstrap.trigger.ms", &[], Kind::NoEffect("rafka rebootstraps as soon as no known broker is reachable (see `metadata.recovery.strategy`), not after a timer"), ""),
    key("reconnect.backoff.ms", &[], int(0, MAX_I32), "Backoff after a failed connection attempt, growing exponentially. Default 50."),
    key("reconnect.backoff.max.ms", &[], int(0, MAX_I32), "Largest reconnect backoff. Default 1000."),
    key("reconnect.backoff.jitter.ms", &[], Kind::NoEffect(DEPRECATED), ""),
    key("socket.connection.setup.timeout.ms", &[], int(1, MAX_I32), "A connection (TCP, TLS, SASL) not set up this long fails. Default 10000."),
    key("socket.connection.setup.timeout.max.ms", &[], Kind::NoEffect("rafka does not grow the setup timeout between attempts; `socket.connection.setup.timeout.ms` applies to each"), ""),
    key("send.buffer.bytes", &["socket.send.buffer.bytes"], int(-1, MAX_I32), "SO_SNDBUF. Default 131072; -1 (Java) or 0 (librdkafka): the OS default."),
    key("receive.buffer.bytes", &["socket.receive.buffer.bytes"], int(-1, MAX_I32), "SO_RCVBUF. Default 32768; -1 (Java) or 0 (librdkafka): the OS default."),
    key("socket.keepalive.enable", &[], Kind::Bool, "SO_KEEPALIVE on broker sockets. Default `false`."),
    key("socket.nagle.disable", &[], Kind::Bool, "TCP_NODELAY on broker sockets. Default `true` (as Java and librdkafka); `false` lets Nagle's algorithm delay small writes."),
    key("socket.max.fails", &[], Kind::NoEffect("a connection is closed at its first failure (librdkafka's recommended 1) and reopened"), ""),
    key("socket.blocking.max.ms", &[], Kind::NoEffect(DEPRECATED), ""),
    key("broker.address.family", &[], Kind::Choice(&["any", "v4", "v6"]), "Which resolved addresses are used: `any` (default), `v4` or `v6`; a broker with none of the family fails to connect, saying so."),
    key("broker.address.ttl", &[], Kind::NoEffect("rafka resolves a broker's name at each connection attempt (nothing cached)"), ""),
    key("client.dns.lookup", &[], Kind::NoEffect("each connection attempt uses the first address of the allowed family (see `broker.address.family`); `resolve_canonical_bootstrap_servers_only` exists for Kerberos, which rafka lacks"), ""),
    key("partitioner", &[], Kind::Partitioner, "`default` (Java: murmur2 for keys, sticky for keyless), `murmur2`, `murmur2_random`, `consistent` (CRC-32), `consistent_random`, `fnv1a`, `fnv1a_random`, `random`. Default `default`."),
    key("partitioner.class", &[], Kind::Partitioner, "Java's built-in partitioner class names are accepted (the default one); a custom class is the Java binding's business."),
    key("partitioner.ignore.keys", &[], Kind::Bool, "Treat every record as keyless. Default `false`."),
    key("partitioner.adaptive.partitioning.enable", &[], Kind::Bool, "Sticky partitioning favours partitions with shorter queues. Default `true`."),
    key("partitioner.availability.timeout.ms", &[], int(0, MAX_I32), "A partition whose leader has had batches ready and taken none for this long (or that has no leader) is avoided by sticky partitioning for as long again, or until its leader takes a batch. Only with adaptive partitioning, as in Java. Default 0: off."),
    key("sticky.partitioning.linger.ms", &[], int(0, 900_000), "librdkafka's: keyless records (and empty keys under `consistent_random`) stay on one partition for this many ms, then move to another. 0 or unset: the partitioner's own placement (for `default`, Java's: move on when a batch fills; `*_random`: random)."),
    key("compression.type", &["compression.codec"], Kind::Compression, "`none`, `gzip`, `snappy`, `lz4`, `zstd`. Default `none`."),
    key("compression.gzip.level", &[], Kind::Level(Codec::Gzip), "1-9, or -1 for zlib's default (6)."),
    key("compression.lz4.level", &[], Kind::Level(Codec::Lz4), "1-17; default 9."),
    key("compression.zstd.level", &[], Kind::Level(Codec::Zstd), "libzstd's minimum to 22; default 3."),
    key("compression.level", &[], Kind::AnyLevel, "librdkafka's: the level of the chosen codec (-1: its default), checked when the producer is built."),
    key("compression.threads", &[], int(0, 64), "rafka's own: threads that compress sealed batches; 0 compresses on the I/O thread. Default 1."),
    key("delivery.report.only.error", &[], Kind::Bool, "Successful records get no report from the producer-wide handler or per-record callbacks (futures still complete). Default `false`."),
    key("queue.buffering.backpressure.threshold", &[], Kind::NoEffect("rafka builds requests when connections can take them (`max.in.flight.requests.per.connection`)"), ""),
    key("queuing.strategy", &[], Kind::NoEffect("records are always sent in send order (FIFO); deprecated in librdkafka"), ""),
    key("produce.offset.report", &[], Kind::NoEffect(DEPRECATED), ""),
    key("enable.gapless.guarantee", &[], Kind::NoEffect("with idempotence a failed batch fails the records after it on that partition too, so no gap is silent; librdkafka calls it experimental"), ""),
    key("api.version.request", &[], Kind::NoEffect("rafka always asks ApiVersions, which every broker it supports (0.10+) answers; `false` cannot turn it off"), ""),
    key("api.version.request.timeout.ms", &[], Kind::NoEffect("ApiVersions is bounded by `socket.connection.setup.timeout.ms` like the rest of the set-up"), ""),
    key("api.version.fallback.ms", &[], Kind::NoEffect("for brokers before 0.10, which rafka does not support; deprecated in librdkafka"), ""),
    key("broker.version.fallback", &[], Kind::NoEffect("for brokers before 0.10, which rafka does not support; deprecated in librdkafka"), ""),
    key("builtin.features", &[], Kind::NoEffect("informational in librdkafka"), ""),
    key("enable.random.seed", &[], Kind::NoEffect("rafka's random numbers do not use the C library's srand()"), ""),
    key("internal.termination.signal", &[], Kind::NoEffect("rafka's threads wake on their own events; no signal is needed to stop them"), ""),
    key("enabled_events", &[], Kind::NoEffect("librdkafka's event API; rafka's C API reports through callbacks and poll"), ""),
    key("debug", &[], Kind::DebugContexts, "Any of librdkafka's contexts (e.g. `broker,topic,msg`, `all`): this producer's engine logs at debug level (`protocol`, `all`: trace)."),
    key("log_level", &[], int(0, 7), "syslog level 0-7: this producer's engine logs at error (0-3), warning (4), info (5, 6) or debug (7) and above. Default 6."),
    key("log.queue", &[], Kind::NoEffect("rafka's bindings already hand engine logs to the application's logger on their own terms"), ""),
    key("log.thread.name", &[], Kind::NoEffect("log records carry rafka's thread names (rafka-io, rafka-delivery) already"), ""),
    key("log.connection.close", &[], Kind::NoEffect("closed connections are logged at debug level only"), ""),
    key("enable.metrics.push", &[], Kind::NoEffect("rafka does not push client metrics (KIP-714); the broker gets no subscription answer"), ""),
    key("metrics.sample.window.ms", &[], Kind::NoEffect("tunes the Java client's own metrics"), ""),
    key("metrics.num.samples", &[], Kind::NoEffect("tunes the Java client's own metrics"), ""),
    key("metrics.recording.level", &[], Kind::NoEffect("tunes the Java client's own metrics"), ""),
    key("statistics.interval.ms", &[], OBSERVABILITY, ""),
    key("error_cb", &[], OBSERVABILITY, ""),
    key("stats_cb", &[], OBSERVABILITY, ""),
    key("throttle_cb", &[], OBSERVABILITY, ""),
    key("transactional.id", &[], Kind::Text, "Makes the producer transactional (docs/transactions.md); implies idempotence. Unset: no transactions."),
    key("transaction.timeout.ms", &[], int(1, MAX_I32), "How long the coordinator lets a transaction stay open before it aborts it. Default 60000."),
    key("transaction.two.phase.commit.enable", &[], Kind::Unsupported("two-phase commit transactions (KIP-939), not in rafka"), ""),
    // Handled by a binding.
    key("key.serializer", &[], Kind::Binding(JAVA_ONLY), ""),
    key("value.serializer", &[], Kind::Binding(JAVA_ONLY), ""),
    key("interceptor.classes", &[], Kind::Binding(JAVA_ONLY), ""),
    key("config.providers", &[], Kind::Binding(JAVA_ONLY), ""),
    key("metric.reporters", &[], Kind::Binding(JAVA_ONLY), ""),
    key("security.providers", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.client.callback.handler.class", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.login.callback.handler.class", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.login.class", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.login.connect.timeout.ms", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.login.read.timeout.ms", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.login.refresh.buffer.seconds", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.login.refresh.min.period.seconds", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.login.refresh.window.factor", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.login.refresh.window.jitter", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.login.retry.backoff.max.ms", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.login.retry.backoff.ms", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.oauthbearer.scope.claim.name", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.oauthbearer.sub.claim.name", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.oauthbearer.clock.skew.seconds", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.oauthbearer.expected.audience", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.oauthbearer.expected.issuer", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.oauthbearer.header.urlencode", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.oauthbearer.jwks.endpoint.url", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.oauthbearer.jwks.endpoint.refresh.ms", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.oauthbearer.jwks.endpoint.retry.backoff.ms", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.oauthbearer.jwt.retriever.class", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.oauthbearer.jwt.validator.class", &[], Kind::Binding(JAVA_ONLY), ""),
    key("sasl.oauthbearer.assertion.template.file", &[], Kind::Binding(JAVA_ONLY), ""),
    key("ssl.keymanager.algorithm", &[], Kind::NoEffect("a JSSE setting; rafka's TLS is rustls"), ""),
    key("ssl.trustmanager.algorithm", &[], Kind::NoEffect("a JSSE setting; rafka's TLS is rustls"), ""),
    key("ssl.secure.random.implementation", &[], Kind::NoEffect("a JSSE setting; rustls draws randomness from the OS (ring)"), ""),
    key("ssl.provider", &[], Kind::NoEffect("a JSSE setting; rafka's TLS is rustls"), ""),
    key("ssl.engine.factory.class", &[], Kind::Unsupported("a custom Java SSLEngine factory, which rafka's rustls TLS cannot use"), ""),
    key("dr_cb", &[], Kind::Binding(C_API), ""),
    key("dr_msg_cb", &[], Kind::Binding(C_API), ""),
    key("log_cb", &[], Kind::Binding(C_API), ""),
    key("oauthbearer_token_refresh_cb", &[], Kind::Binding(C_API), ""),
    key("partitioner_cb", &[], Kind::Binding(C_API), ""),
    key("msg_order_cmp", &[], Kind::Binding(C_API), ""),
    key("opaque", &[], Kind::Binding(C_API), ""),
    key("default_topic_conf", &[], Kind::Binding(C_API), ""),
    key("background_event_cb", &[], Kind::Binding(C_API), ""),
    key("socket_cb", &[], Kind::Binding(C_API), ""),
    key("connect_cb", &[], Kind::Binding(C_API), ""),
    key("closesocket_cb", &[], Kind::Binding(C_API), ""),
    key("open_cb", &[], Kind::Binding(C_API), ""),
    key("resolve_cb", &[], Kind::Binding(C_API), ""),
    key("ssl_key", &[], Kind::Binding(C_API), ""),
    key("ssl_certificate", &[], Kind::Binding(C_API), ""),
    key("ssl_ca", &[], Kind::Binding(C_API), ""),
    key("ssl_engine_callback_data", &[], Kind::Binding(C_API), ""),
    key("ssl.certificate.verify_cb", &[], Kind::Binding(C_API), ""),
    key("interceptors", &[], Kind::Binding(C_API), ""),
    key("plugin.library.paths", &[], Kind::Unsupported("librdkafka plugins (shared libraries loaded into the client), which rafka cannot load"), ""),
    // Security (docs/security.md).
    key("security.protocol", &[], Kind::Security, "`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`, `SASL_SSL`. Default `PLAINTEXT`."),
    key("sasl.mechanism", &["sasl.mechanisms"], Kind::SaslMechanism, "`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`, `OAUTHBEARER` (GSSAPI is refused, naming Kerberos)."),
    key("sasl.username", &[], Kind::Text, "PLAIN and SCRAM user."),
    key("sasl.password", &[], Kind::Secret, "PLAIN and SCRAM password."),
    key("sasl.jaas.config", &[], Kind::Secret, "Java's form: the login module must fit the mechanism; its username and password are used."),
    key("sasl.oauthbearer.token", &[], Kind::Secret, "rafka's own: a static OAUTHBEARER token."),
    key("sasl.kerberos.service.name", &[], KERBEROS, ""),
    key("sasl.kerberos.principal", &[], KERBEROS, ""),
    key("sasl.kerberos.kinit.cmd", &[], KERBEROS, ""),
    key("sasl.kerberos.keytab", &[], KERBEROS, ""),
    key("sasl.kerberos.min.time.before.relogin", &[], KERBEROS, ""),
    key("sasl.kerberos.ticket.renew.jitter", &[], KERBEROS, ""),
    key("sasl.kerberos.ticket.renew.window.factor", &[], KERBEROS, ""),
    key("sasl.oauthbearer.config", &[], Kind::Binding("the argument of the token callback (Python's oauth_cb); librdkafka's unsecured-JWT builder is not in rafka"), ""),
    key("enable.sasl.oauthbearer.unsecure.jwt", &[], Kind::Unsupported("librdkafka's unsecured-JWT token builder (for development), which rafka does not have"), ""),
    key("sasl.oauthbearer.method", &[], OIDC, ""),
    key("sasl.oauthbearer.client.id", &[], OIDC, ""),
    key("sasl.oauthbearer.client.secret", &[], OIDC, ""),
    key("sasl.oauthbearer.client.credentials.client.id", &[], OIDC, ""),
    key("sasl.oauthbearer.client.credentials.client.secret", &[], OIDC, ""),
    key("sasl.oauthbearer.scope", &[], OIDC, ""),
    key("sasl.oauthbearer.extensions", &[], OIDC, ""),
    key("sasl.oauthbearer.token.endpoint.url", &[], OIDC, ""),
    key("sasl.oauthbearer.grant.type", &[], OIDC, ""),
    key("sasl.oauthbearer.metadata.authentication.type", &[], OIDC, ""),
    key("sasl.oauthbearer.assertion.algorithm", &[], OIDC, ""),
    key("sasl.oauthbearer.assertion.claim.aud", &[], OIDC, ""),
    key("sasl.oauthbearer.assertion.claim.exp.seconds", &[], OIDC, ""),
    key("sasl.oauthbearer.assertion.claim.iss", &[], OIDC, ""),
    key("sasl.oauthbearer.assertion.claim.jti.include", &[], OIDC, ""),
    key("sasl.oauthbearer.assertion.claim.nbf.seconds", &[], OIDC, ""),
    key("sasl.oauthbearer.assertion.claim.sub", &[], OIDC, ""),
    key("sasl.oauthbearer.assertion.file", &[], OIDC, ""),
    key("sasl.oauthbearer.assertion.jwt.template.file", &[], OIDC, ""),
    key("sasl.oauthbearer.assertion.private.key.file", &[], OIDC, ""),
    key("sasl.oauthbearer.assertion.private.key.passphrase", &[], OIDC, ""),
    key("sasl.oauthbearer.assertion.private.key.pem", &[], OIDC, ""),
    key("https.ca.location", &[], OIDC, ""),
    key("https.ca.pem", &[], OIDC, ""),
    key("ssl.ca.location", &[], Kind::Text, "A PEM file of trusted CAs. Unset: the system's bundle."),
    key("ssl.certificate.location", &[], Kind::Text, "The client certificate (PEM file), for mutual TLS."),
    key("ssl.key.location", &[], Kind::Text, "The client key (PEM file)."),
    key("ssl.key.password", &[], Kind::Secret, "Decrypts an encrypted PKCS#8 client key."),
    key("ssl.truststore.certificates", &["ssl.ca.pem"], Kind::Text, "Trusted CAs as PEM text."),
    key("ssl.keystore.certificate.chain", &["ssl.certificate.pem"], Kind::Text, "The client certificate chain as PEM text."),
    key("ssl.keystore.key", &["ssl.key.pem"], Kind::Secret, "The client key as PEM text."),
    key("ssl.truststore.type", &[], Kind::PemOnly, "`PEM` only in the engine."),
    key("ssl.keystore.type", &[], Kind::PemOnly, "`PEM` only in the engine."),
    key("ssl.truststore.location", &["ssl.keystore.location"], Kind::Unsupported("a JKS or PKCS12 store in the engine (use PEM: ssl.ca.location, ssl.certificate.location, ssl.key.location)"), ""),
    key("ssl.truststore.password", &["ssl.keystore.password"], Kind::Unsupported("a JKS or PKCS12 store in the engine (use PEM files)"), ""),
    key("ssl.endpoint.identification.algorithm", &[], Kind::EndpointId, "`https` (default): the certificate must name the broker's host; `none`: only the chain is checked."),
    key("enable.ssl.certificate.verification", &[], Kind::Bool, "`false`: any broker certificate is accepted (no chain, name or date check), logged as a warning at start. Default `true`."),
    key("ssl.cipher.suites", &[], Kind::CipherSuites, "Comma- or colon-separated suites, by IANA/Java name (`TLS_AES_128_GCM_SHA256`) or OpenSSL name (`ECDHE-RSA-AES128-GCM-SHA256`); only those rustls has (TLS 1.2 ECDHE with AES-GCM or ChaCha20-Poly1305, and TLS 1.3). Unset: rustls's defaults."),
    key("ssl.protocol", &[], Kind::TlsVersions, "`TLSv1.2` or `TLSv1.3` (or Java's `TLS`: both); older versions are refused. Sets the highest version unless `ssl.enabled.protocols` is set."),
    key("ssl.enabled.protocols", &[], Kind::TlsVersions, "List of `TLSv1.2`, `TLSv1.3`. Default both."),
    key("ssl.crl.location", &[], Kind::Text, "A PEM file of certificate revocation lists; a broker certificate revoked by one fails the handshake."),
    key("ssl.curves.list", &[], Kind::NoEffect(NO_OPENSSL), ""),
    key("ssl.sigalgs.list", &[], Kind::NoEffect(NO_OPENSSL), ""),
    key("ssl.ca.certificate.stores", &[], Kind::NoEffect("a Windows certificate store setting; rafka reads PEM files"), ""),
    key("ssl.providers", &[], Kind::NoEffect(NO_OPENSSL), ""),
    key("ssl.engine.location", &[], Kind::NoEffect(NO_OPENSSL), ""),
    key("ssl.engine.id", &[], Kind::NoEffect(NO_OPENSSL), ""),
];

/// librdkafka's `queue.buffering.max.kbytes` and Java's `buffer.memory` set one thing.
fn canonical_target(name: &str) -> &str {
    match name {
        "queue.buffering.max.kbytes" => "buffer.memory",
        "partitioner.class" => "partitioner",
        "topic.metadata.refresh.interval.ms" => "metadata.max.age.ms",
        n => n,
    }
}

fn find_key(key: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == key || k.aliases.contains(&key))
}

/// The name as the table spells it (a `'static` str), for `key` given in any form.
fn static_name(k: &'static Key, given: &str) -> &'static str {
    std::iter::once(&k.name).chain(k.aliases.iter()).find(|n| **n == given).copied().unwrap_or(k.name)
}

/// String configuration, checked as it is set. Its Debug output shows `[redacted]` for
/// credentials (`sasl.password`, `sasl.jaas.config`, tokens).
#[derive(Clone, Default)]
pub struct Config {
    /// (canonical key, value as stored, the name it was set under), last one wins.
    values: Vec<(&'static str, String, &'static str)>,
}

impl Config {
    pub fn new() -> Config {
        Config::default()
    }

    pub fn from_pairs<I, K, V>(pairs: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut c = Config::new();
        for (k, v) in pairs {
            c.set(k.as_ref(), v.as_ref())?;
        }
        Ok(c)
    }

    /// Sets `key` (Java's or librdkafka's name) to `value`, checking the value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self, ConfigError> {
        let key = key.trim();
        let value = value.trim();
        let Some(k) = find_key(key) else {
            return Err(ConfigError::Unknown { key: key.to_string(), suggestion: suggest(key) });
        };
        check(k, key, value)?;
        let name = canonical_target(k.name);
        let stored = match k.kind {
            Kind::Int { scale, .. } if scale != 1 => (value.parse::<i64>().expect("checked") * scale).to_string(),
            _ => value.to_string(),
        };
        self.values.retain(|(n, _, _)| *n != name);
        self.values.push((name, stored, static_name(k, key)));
        Ok(self)
    }

    /// The value set for `key` (under any of its names), as stored.
    pub fn get(&self, key: &str) -> Option<String> {
        let name = canonical_target(find_key(key)?.name);
        self.values.iter().find(|(n, _, _)| *n == name).map(|(_, v, _)| v.clone())
    }

    fn raw(&self, name: &str) -> Option<&str> {
        self.values.iter().find(|(n, _, _)| *n == name).map(|(_, v, _)| v.as_str())
    }

    /// The name the user set canonical key `name` under (e.g. `message.timeout.ms` for
    /// `delivery.timeout.ms`), None when it was not set.
    fn given(&self, name: &str) -> Option<&'static str> {
        self.values.iter().find(|(n, _, _)| *n == name).map(|(_, _, g)| *g)
    }

    /// `key (value)` as the user wrote it, or `key (value, the default)` for one not set; for
    /// errors about several settings.
    fn describe(&self, name: &str, value: Duration) -> String {
        match self.given(name) {
            Some(g) => format!("{g} ({})", value.as_millis()),
            None => format!("{name} ({}, the default)", value.as_millis()),
        }
    }

    /// The typed configuration, after the checks that involve several keys.
    pub fn build(&self) -> Result<ProducerConfig, ConfigError> {
        let mut c = ProducerConfig::default();
        let ms = |v: &str| Duration::from_millis(v.parse::<u64>().unwrap_or(0));
        let num = |v: &str| v.parse::<i64>().unwrap_or(0);
        for (name, v, _) in &self.values {
            let v = v.as_str();
            match *name {
                "bootstrap.servers" => c.bootstrap_servers = parse_servers(v).expect("checked at set"),
                "client.id" => c.client_id = v.to_string(),
                "acks" => c.acks = parse_acks(v).expect("checked at set"),
                "enable.idempotence" => c.enable_idempotence = parse_bool(v).expect("checked at set"),
                "batch.size" => c.batch_size = num(v) as usize,
                "linger.ms" => c.linger = ms(v),
                "buffer.memory" => c.buffer_memory = num(v) as usize,
                "max.block.ms" => c.max_block = ms(v),
                // librdkafka's 0: no limit.
                "delivery.timeout.ms" => c.delivery_timeout = if v == "0" { Duration::from_millis(MAX_I32 as u64) } else { ms(v) },
                "request.timeout.ms" => c.request_timeout = ms(v),
                "retries" => c.retries = num(v) as u32,
                "retry.backoff.ms" => c.retry_backoff = ms(v),
                "retry.backoff.max.ms" => c.retry_backoff_max = ms(v),
                "max.in.flight.requests.per.connection" => c.max_in_flight = num(v) as usize,
                "max.request.size" => c.max_request_size = num(v) as usize,
                "connections.max.idle.ms" => c.connections_max_idle = ms(v),
                // topic.metadata.refresh.interval.ms=-1: no periodic refresh.
                "metadata.max.age.ms" => c.metadata_max_age = if v == "-1" { Duration::MAX } else { ms(v) },
                "metadata.max.idle.ms" => c.metadata_max_idle = ms(v),
                "client.rack" => c.client_rack = v.to_string(),
                "queue.buffering.max.messages" => c.queue_buffering_max_messages = num(v) as usize,
                "delivery.report.only.error" => c.delivery_report_only_error = parse_bool(v).expect("checked at set"),
                "socket.keepalive.enable" => c.socket_keepalive = parse_bool(v).expect("checked at set"),
                "socket.nagle.disable" => c.socket_nodelay = parse_bool(v).expect("checked at set"),
                "broker.address.family" => c.broker_address_family = AddressFamily::parse(v).expect("checked at set"),
                "metadata.recovery.strategy" => c.metadata_rebootstrap = v.eq_ignore_ascii_case("rebootstrap"),
                "partitioner.availability.timeout.ms" => c.partitioner_availability_timeout = ms(v),
                "sticky.partitioning.linger.ms" => c.sticky_linger = Some(ms(v)),
                "reconnect.backoff.ms" => c.reconnect_backoff = ms(v),
                "reconnect.backoff.max.ms" => c.reconnect_backoff_max = ms(v),
                "socket.connection.setup.timeout.ms" => c.socket_connection_setup_timeout = ms(v),
                "send.buffer.bytes" => c.send_buffer_bytes = num(v) as i32,
                "receive.buffer.bytes" => c.receive_buffer_bytes = num(v) as i32,
                "batch.num.messages" => c.batch_num_messages = num(v) as usize,
                "partitioner" => c.partitioner = parse_partitioner(v).expect("checked at set"),
                "partitioner.ignore.keys" => c.partitioner_ignore_keys = parse_bool(v).expect("checked at set"),
                "partitioner.adaptive.partitioning.enable" => c.partitioner_adaptive = parse_bool(v).expect("checked at set"),
                "compression.threads" => c.compression_threads = num(v) as usize,
                "transactional.id" => c.transactional_id = Some(v.to_string()),
                "transaction.timeout.ms" => c.transaction_timeout = ms(v),
                _ => {}
            }
        }
        c.security = self.build_security()?;
        c.compression = self.build_compression()?;
        if c.bootstrap_servers.is_empty() {
            return Err(ConfigError::Invalid {
                key: "bootstrap.servers".into(),
                value: String::new(),
                expected: "at least one host:port (it is required)".into(),
            });
        }
        // Idempotence, as the Java client decides it: an explicit `true` that conflicts is an
        // error; left at its default, it quietly turns off when another setting rules it out.
        let explicit = self.raw("enable.idempotence").map(|v| parse_bool(v) == Some(true));
        let conflict = if c.acks != Acks::All {
            Some(format!("idempotence requires acks=all, but acks={}", self.raw("acks").unwrap_or("all")))
        } else if c.max_in_flight > 5 {
            Some(format!("idempotence requires max.in.flight.requests.per.connection <= 5, but it is {}", c.max_in_flight))
        } else if c.retries == 0 {
            Some("idempotence requires retries > 0, but retries=0".to_string())
        } else {
            None
        };
        // transactional.id implies idempotence (as in the Java client): it cannot be turned off,
        // and what rules idempotence out rules transactions out.
        if let Some(id) = &c.transactional_id {
            if id.is_empty() {
                return Err(ConfigError::Invalid { key: "transactional.id".into(), value: String::new(), expected: "a non-empty id (or leave it unset)".into() });
            }
            if explicit == Some(false) {
                return Err(ConfigError::Conflict("transactional.id is set, which needs idempotence, but enable.idempotence=false; remove one of them".into()));
            }
            if let Some(why) = &conflict {
                return Err(ConfigError::Conflict(format!("transactional.id is set, which needs idempotence, but {why}; change that setting or remove transactional.id")));
            }
        }
        match (explicit, conflict) {
            (Some(true), Some(why)) => return Err(ConfigError::Conflict(format!("enable.idempotence=true was set, but {why}; set enable.idempotence=false or change the other setting"))),
            (None, Some(why)) => {
                log::info!("idempotence turned off: {why}");
                c.enable_idempotence = false;
            }
            _ => {}
        }
        c.log_level = self.build_log_level();
        self.check_timeouts(&mut c)?;
        if c.retry_backoff_max < c.retry_backoff {
            c.retry_backoff_max = c.retry_backoff;
        }
        if c.reconnect_backoff_max < c.reconnect_backoff {
            c.reconnect_backoff_max = c.reconnect_backoff;
        }
        Ok(c)
    }
}

fn check(k: &Key, given: &str, value: &str) -> Result<(), ConfigError> {
    let invalid = |expected: String| ConfigError::Invalid { key: given.to_string(), value: value.to_string(), expected };
    match k.kind {
        Kind::Int { min, max, .. } => match value.parse::<i64>() {
            Ok(n) if n >= min && n <= max => Ok(()),
            _ => Err(invalid(format!("an integer from {min} to {max}"))),
        },
        Kind::Bool => parse_bool(value).map(|_| ()).ok_or_else(|| invalid("true or false".into())),
        Kind::Acks => parse_acks(value).map(|_| ()).ok_or_else(|| invalid("one of all, -1, 0, 1".into())),
        Kind::Servers => parse_servers(value).map(|_| ()).map_err(invalid),
        Kind::Text => Ok(()),
        Kind::NoEffect(_) => Ok(()),
        Kind::Choice(words) => match words.iter().any(|w| w.eq_ignore_ascii_case(value)) {
            true => Ok(()),
            false => Err(invalid(format!("one of {}", words.join(", ")))),
        },
        Kind::DebugContexts => parse_debug(value).map(|_| ()).map_err(invalid),
        Kind::CipherSuites => tls::cipher_suites(value).map(|_| ()).map_err(invalid),
        Kind::TlsVersions => tls::versions(value).map(|_| ()).map_err(invalid),
        Kind::Unsupported(feature) => Err(ConfigError::Unsupported { key: given.to_string(), feature: feature.to_string() }),
        Kind::Binding(why) => Err(ConfigError::Unsupported { key: given.to_string(), feature: format!("a binding's setting: {why}") }),
        Kind::Partitioner => parse_partitioner(value).map(|_| ()).ok_or_else(|| {
            invalid("one of default, murmur2, murmur2_random, consistent, consistent_random, fnv1a, fnv1a_random, random (or the Java default partitioner's class name)".into())
        }),
        Kind::Compression => Codec::parse(value).map(|_| ()).ok_or_else(|| invalid("one of none, gzip, snappy, lz4, zstd".into())),
        Kind::Level(codec) => {
            let range = codec.levels().expect("codecs with a level key have levels");
            match value.parse::<i32>() {
                Ok(n) if range.contains(n) => Ok(()),
                _ => Err(invalid(format!("{} for {codec}", range.describe()))),
            }
        }
        Kind::AnyLevel => value.parse::<i32>().map(|_| ()).map_err(|_| invalid("an integer: -1 (the codec's default) or a level of the chosen compression.type".into())),
        Kind::Security => match value.to_ascii_uppercase().as_str() {
            "PLAINTEXT" | "SASL_PLAINTEXT" | "SSL" | "SASL_SSL" => Ok(()),
            _ => Err(invalid("one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL".into())),
        },
        Kind::SaslMechanism => SaslMechanism::parse(value).map(|_| ()).map_err(invalid),
        Kind::Secret => Ok(()),
        Kind::PemOnly => match value.to_ascii_uppercase().as_str() {
            "PEM" => Ok(()),
            _ => Err(invalid("PEM: JKS and PKCS12 stores are not supported yet by rafka".into())),
        },
        Kind::EndpointId => match value.to_ascii_lowercase().as_str() {
            "https" | "none" | "" => Ok(()),
            _ => Err(invalid("https (verify the broker's host name, the default) or none".into())),
        },
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn parse_acks(v: &str) -> Option<Acks> {
    match v.to_ascii_lowercase().as_str() {
        "all" | "-1" => Some(Acks::All),
        "1" => Some(Acks::Leader),
        "0" => Some(Acks::None),
        _ => None,
    }
}

fn parse_partitioner(v: &str) -> Option<PartitionerKind> {
    Some(match v {
        "default" | "org.apache.kafka.clients.producer.internals.DefaultPartitioner" | "org.apache.kafka.clients.producer.internals.BuiltInPartitioner" => {
            PartitionerKind::Default
        }
        "murmur2" => PartitionerKind::Murmur2,
        "murmur2_random" => PartitionerKind::Murmur2Random,
        "consistent" => PartitionerKind::Consistent,
        "consistent_random" => PartitionerKind::ConsistentRandom,
        "random" => PartitionerKind::Random,
        "fnv1a" => PartitionerKind::Fnv1a,
        "fnv1a_random" => PartitionerKind::Fnv1aRandom,
        _ => return None,
    })
}

/// `host:port[,host:port]...`, IPv6 as `[::1]:9092`. An optional `PLAINTEXT://` prefix is allowed.
fn parse_servers(v: &str) -> Result<Vec<(String, u16)>, String> {
    let expected = || "a comma-separated list of host:port".to_string();
    let mut out = Vec::new();
    for part in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let part = part.strip_prefix("PLAINTEXT://").unwrap_or(part);
        let (host, port) = if let Some(rest) = part.strip_prefix('[') {
            let (h, p) = rest.split_once("]:").ok_or_else(expected)?;
            (h, p)
        } else {
            part.rsplit_once(':').ok_or_else(|| format!("{} ('{part}' has no port)", expected()))?
        };
        let port: u16 = port.parse().ok().filter(|p| *p > 0).ok_or_else(|| format!("{} ('{part}' has no valid port)", expected()))?;
        if host.is_empty() {
            return Err(format!("{} ('{part}' has no host)", expected()));
        }
        out.push((host.to_string(), port));
    }
    if out.is_empty() {
        return Err(expected());
    }
    Ok(out)
}

/// The known key closest to `key`, if it is close enough to be a likely typo.
fn suggest(key: &str) -> Option<String> {
    let mut best: Option<(usize, &str)> = None;
    for k in KEYS {
        for name in std::iter::once(&k.name).chain(k.aliases.iter()) {
            let d = edit_distance(key, name);
            if best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, name));
            }
        }
    }
    let (d, name) = best?;
    (d <= (key.len() / 3).max(2)).then(|| name.to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

// ---- compression: compression.type and its levels -------------------------------------------

/// Compression threads when `compression.threads` is not set (docs/compression.md says why).
pub const DEFAULT_COMPRESSION_THREADS: usize = 1;

impl Config {
    /// The codec and its level: `compression.<codec>.level` (Java) or `compression.level`
    /// (librdkafka, -1 meaning the codec's default), checked against the codec's range. Both set
    /// to different values is a conflict.
    fn build_compression(&self) -> Result<Compression, ConfigError> {
        let codec = self.raw("compression.type").map_or(Codec::None, |v| Codec::parse(v).expect("checked at set"));
        let specific = codec.level_key().and_then(|k| self.raw(k)).map(|v| v.parse::<i32>().expect("checked at set"));
        let generic = match self.raw("compression.level").map(|v| v.parse::<i32>().expect("checked at set")) {
            None | Some(-1) => None,
            Some(n) => Some(n),
        };
        if let Some(n) = generic {
            let ok = match codec.levels() {
                Some(r) => r.contains(n),
                // librdkafka accepts 0 for snappy (it has no levels) and ignores it.
                None => n == 0,
            };
            if !ok {
                let expected = match codec.levels() {
                    Some(r) => format!("{} for compression.type={codec}", r.describe()),
                    None => format!("-1 or 0: compression.type={codec} has no levels"),
                };
                return Err(ConfigError::Invalid { key: "compression.level".into(), value: n.to_string(), expected });
            }
        }
        if let (Some(s), Some(g)) = (specific, generic) {
            if s != g && codec.levels().is_some() {
                let key = codec.level_key().unwrap();
                return Err(ConfigError::Conflict(format!("{key}={s} and compression.level={g} both set the {codec} level; set one of them")));
            }
        }
        let level = specific.or(generic.filter(|_| codec.levels().is_some()));
        Ok(Compression::new(codec, level))
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut l = f.debug_list();
        for (name, v, _) in &self.values {
            let secret = find_key(name).is_some_and(|k| matches!(k.kind, Kind::Secret));
            if secret {
                l.entry(&(name, "[redacted]"));
            } else {
                l.entry(&(name, v));
            }
        }
        l.finish()
    }
}

// ---- settings that involve several keys -----------------------------------------------------

impl Config {
    /// `delivery.timeout.ms` against `linger.ms` + `request.timeout.ms`. Java's name (or a
    /// librdkafka config that also set it so) must leave room for one request; librdkafka's
    /// `message.timeout.ms` may be smaller, and then caps the request timeout at what is left
    /// after lingering (librdkafka caps each request by its first record's remaining time; rafka
    /// caps them all by the whole timeout less `linger.ms`). Left at its default, it grows to fit,
    /// as in Java. Errors name the keys as the user set them.
    fn check_timeouts(&self, c: &mut ProducerConfig) -> Result<(), ConfigError> {
        let needed = c.linger + c.request_timeout;
        if c.delivery_timeout >= needed {
            return Ok(());
        }
        match self.given("delivery.timeout.ms") {
            None => {
                log::info!(
                    "delivery.timeout.ms raised from its default ({} ms) to {} + {} = {} ms",
                    c.delivery_timeout.as_millis(),
                    self.describe("linger.ms", c.linger),
                    self.describe("request.timeout.ms", c.request_timeout),
                    needed.as_millis()
                );
                c.delivery_timeout = needed;
                Ok(())
            }
            Some("message.timeout.ms") if c.delivery_timeout > c.linger => {
                let capped = c.delivery_timeout - c.linger;
                log::info!(
                    "requests time out after {} ms: message.timeout.ms ({}) - {} (below {})",
                    capped.as_millis(),
                    c.delivery_timeout.as_millis(),
                    self.describe("linger.ms", c.linger),
                    self.describe("request.timeout.ms", c.request_timeout)
                );
                c.request_timeout = capped;
                Ok(())
            }
            Some("message.timeout.ms") => Err(ConfigError::Conflict(format!(
                "message.timeout.ms ({}) must be greater than {}",
                c.delivery_timeout.as_millis(),
                self.describe("linger.ms", c.linger)
            ))),
            Some(name) => Err(ConfigError::Conflict(format!(
                "{name} ({}) must be at least {} + {} = {}; raise {name} or lower the others",
                c.delivery_timeout.as_millis(),
                self.describe("linger.ms", c.linger),
                self.describe("request.timeout.ms", c.request_timeout),
                needed.as_millis()
            ))),
        }
    }

    /// The level from `log_level` (syslog numbers) and `debug` (which, as in librdkafka, raises
    /// it to debug; `protocol` and `all` to trace).
    fn build_log_level(&self) -> Option<log::LevelFilter> {
        use log::LevelFilter as L;
        let level = self.raw("log_level").map(|v| match v.parse::<i64>().unwrap_or(6) {
            i64::MIN..=3 => L::Error,
            4 => L::Warn,
            5 | 6 => L::Info,
            _ => L::Debug,
        });
        let debug = self.raw("debug").and_then(|v| parse_debug(v).expect("checked at set"));
        match (level, debug) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

/// librdkafka's debug contexts.
const DEBUG_CONTEXTS: &[&str] = &[
    "generic", "broker", "topic", "metadata", "feature", "queue", "msg", "protocol", "cgrp", "security", "fetch", "interceptor", "plugin", "consumer", "admin", "eos", "mock",
    "assignor", "conf", "telemetry", "all",
];

/// `debug`: None when empty, else the level the contexts ask for.
fn parse_debug(v: &str) -> Result<Option<log::LevelFilter>, String> {
    let mut level = None;
    for c in v.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let c = c.to_ascii_lowercase();
        if !DEBUG_CONTEXTS.contains(&c.as_str()) {
            return Err(format!("a comma-separated list of {} ('{c}' is not one)", DEBUG_CONTEXTS.join(", ")));
        }
        let l = if c == "protocol" || c == "all" { log::LevelFilter::Trace } else { log::LevelFilter::Debug };
        level = Some(level.map_or(l, |p: log::LevelFilter| p.max(l)));
    }
    Ok(level)
}

// ---- the key table as documentation ------------------------------------------------------------

/// docs/configuration.md's key table, rendered from [`KEYS`] (a test keeps the file in step).
pub fn render_key_table() -> String {
    let mut out = String::from("| key | other names | status | in rafka |\n|---|---|---|---|\n");
    let code = |n: &str| format!("`{n}`");
    let mut rows: Vec<&Key> = KEYS.iter().collect();
    rows.sort_by_key(|k| k.name);
    for k in rows {
        let aliases = k.aliases.iter().map(|a| code(a)).collect::<Vec<_>>().join(", ");
        let (status, text) = match k.kind {
            Kind::NoEffect(why) => ("no effect", why.to_string()),
            Kind::Unsupported(feature) => ("unsupported", format!("an error naming the feature: {feature}")),
            Kind::Binding(why) => ("binding", format!("an error in the engine: {why}")),
            _ => ("implemented", k.doc.to_string()),
        };
        out.push_str(&format!("| {} | {} | {} | {} |\n", code(k.name), aliases, status, text.replace('|', "\\|")));
    }
    out
}

#[cfg(test)]
mod tests;
