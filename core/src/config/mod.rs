//! Producer configuration: string key/value pairs, as users of the Java producer and librdkafka
//! write them. Java's names are canonical and its 4.x defaults apply; librdkafka's names are
//! accepted where they mean the same thing. Every value is checked when it is set (`Config::set`)
//! and the combination when the producer is built (`Config::build`).

use std::fmt;
use std::time::Duration;

use crate::compression::{Codec, Compression};
use crate::partitioner::PartitionerKind;

mod keys;
mod secret;
mod security;
pub(crate) mod tls;

use keys::KEYS;
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
    /// `socket.connection.setup.timeout.max.ms`: the set-up timeout grows per failed attempt up to this.
    pub socket_connection_setup_timeout_max: Duration,
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
    /// `topic.metadata.propagation.max.ms`: see `crate::parking`.
    pub topic_metadata_propagation_max: Duration,
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
    /// `statistics.interval.ms`: how often the I/O thread builds a statistics document; None: never.
    pub statistics_interval: Option<Duration>,
    /// From `debug` / `log_level`: the most detailed level this producer's engine logs at; None:
    /// whatever the application's logger lets through.
    pub log_level: Option<log::LevelFilter>,
    /// `transactional.id`: makes the producer transactional (docs/transactions.md); implies
    /// idempotence.
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms`: how long the coordinator lets a transaction stay open before
    /// it aborts it.
    pub transaction_timeout: Duration,
    /// `spool.*`: the on-disk spool (docs/outages.md); None: no spool.
    pub spool: Option<SpoolConfig>,
}

/// `spool.when`: which records the spool takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpoolWhen {
    /// Only what does not fit in `buffer.memory` (and every record after it until the spool is
    /// drained, so order is kept).
    Full,
    /// Every record, before `send()` returns (write-ahead).
    Always,
}

/// `spool.fsync`: when the spool's writes are forced to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpoolFsync {
    Always,
    Interval(Duration),
    Never,
}

/// The spool's settings (`spool.dir` set).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpoolConfig {
    pub dir: std::path::PathBuf,
    pub max_bytes: u64,
    pub fsync: SpoolFsync,
    pub when: SpoolWhen,
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
            socket_connection_setup_timeout_max: ms(30_000),
            send_buffer_bytes: 131_072,
            receive_buffer_bytes: 32_768,
            batch_num_messages: 100_000,
            partitioner: PartitionerKind::Default,
            partitioner_ignore_keys: false,
            partitioner_adaptive: true,
            compression: Compression::default(),
            transactional_id: None,
            spool: None,
            transaction_timeout: ms(60_000),
            compression_threads: DEFAULT_COMPRESSION_THREADS,
            security: SecurityConfig::default(),
            metadata_max_idle: ms(300_000),
            topic_metadata_propagation_max: ms(30_000),
            client_rack: String::new(),
            queue_buffering_max_messages: 0,
            delivery_report_only_error: false,
            socket_keepalive: false,
            socket_nodelay: true,
            broker_address_family: AddressFamily::Any,
            metadata_rebootstrap: true,
            partitioner_availability_timeout: Duration::ZERO,
            sticky_linger: None,
            statistics_interval: None,
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
                "topic.metadata.propagation.max.ms" => c.topic_metadata_propagation_max = ms(v),
                "client.rack" => c.client_rack = v.to_string(),
                "queue.buffering.max.messages" => c.queue_buffering_max_messages = num(v) as usize,
                "delivery.report.only.error" => c.delivery_report_only_error = parse_bool(v).expect("checked at set"),
                "socket.keepalive.enable" => c.socket_keepalive = parse_bool(v).expect("checked at set"),
                "socket.nagle.disable" => c.socket_nodelay = parse_bool(v).expect("checked at set"),
                "broker.address.family" => c.broker_address_family = AddressFamily::parse(v).expect("checked at set"),
                "metadata.recovery.strategy" => c.metadata_rebootstrap = v.eq_ignore_ascii_case("rebootstrap"),
                "partitioner.availability.timeout.ms" => c.partitioner_availability_timeout = ms(v),
                "sticky.partitioning.linger.ms" => c.sticky_linger = Some(ms(v)),
                "statistics.interval.ms" => c.statistics_interval = (num(v) > 0).then(|| ms(v)),
                "reconnect.backoff.ms" => c.reconnect_backoff = ms(v),
                "reconnect.backoff.max.ms" => c.reconnect_backoff_max = ms(v),
                "socket.connection.setup.timeout.ms" => c.socket_connection_setup_timeout = ms(v),
                "socket.connection.setup.timeout.max.ms" => c.socket_connection_setup_timeout_max = ms(v),
                // Both values try every address a name resolves to; the canonical-name step of
                // the second serves Kerberos principals only (see the key's doc).
                "client.dns.lookup" => {}
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
        c.spool = self.build_spool(&c)?;
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
    /// `spool.*`: the other keys need `spool.dir`; the spool takes no part in transactions.
    fn build_spool(&self, c: &ProducerConfig) -> Result<Option<SpoolConfig>, ConfigError> {
        let Some(dir) = self.raw("spool.dir") else {
            if let Some(k) = ["spool.max.bytes", "spool.fsync", "spool.fsync.interval.ms", "spool.when"].into_iter().find(|k| self.raw(k).is_some()) {
                return Err(ConfigError::Conflict(format!("{k} is set but spool.dir is not; set spool.dir to turn the spool on, or remove {k}")));
            }
            return Ok(None);
        };
        if dir.trim().is_empty() {
            return Err(ConfigError::Invalid { key: "spool.dir".into(), value: dir.into(), expected: "a directory path (or leave it unset for no spool)".into() });
        }
        if c.transactional_id.is_some() {
            return Err(ConfigError::Conflict("spool.dir and transactional.id are both set; the spool cannot keep records inside a transaction: remove one of them".into()));
        }
        let max_bytes = self.raw("spool.max.bytes").map_or(1 << 30, |v| v.parse::<u64>().unwrap_or(0));
        let interval = Duration::from_millis(self.raw("spool.fsync.interval.ms").map_or(100, |v| v.parse::<u64>().unwrap_or(0)));
        let fsync = match self.raw("spool.fsync").map(|v| v.to_ascii_lowercase()) {
            None => SpoolFsync::Interval(interval),
            Some(v) if v == "interval" => SpoolFsync::Interval(interval),
            Some(v) if v == "always" => SpoolFsync::Always,
            Some(_) => SpoolFsync::Never,
        };
        if !matches!(fsync, SpoolFsync::Interval(_)) && self.raw("spool.fsync.interval.ms").is_some() {
            return Err(ConfigError::Conflict(format!("spool.fsync.interval.ms is set but spool.fsync={}; it applies to spool.fsync=interval only", self.raw("spool.fsync").unwrap_or(""))));
        }
        let when = if self.raw("spool.when").is_some_and(|v| v.eq_ignore_ascii_case("always")) { SpoolWhen::Always } else { SpoolWhen::Full };
        Ok(Some(SpoolConfig { dir: dir.into(), max_bytes, fsync, when }))
    }

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
