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
    /// `transactional.id`: makes the producer transactional (docs/transactions.md); implies
    /// idempotence.
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms`: how long the coordinator lets a transaction stay open before
    /// it aborts it.
    pub transaction_timeout: Duration,
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
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Unknown { key, suggestion: Some(s) } => write!(f, "unknown configuration key '{key}' (did you mean '{s}'?)"),
            ConfigError::Unknown { key, suggestion: None } => write!(f, "unknown configuration key '{key}'"),
            ConfigError::Invalid { key, value, expected } => write!(f, "invalid value '{value}' for '{key}': expected {expected}"),
            ConfigError::Conflict(m) => write!(f, "conflicting configuration: {m}"),
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
    /// A setting of a feature rafka does not have yet: setting it is an error that says so.
    NotYet(&'static str),
    /// `ssl.*store.type`: only PEM.
    PemOnly,
    /// `ssl.endpoint.identification.algorithm`: https or none (empty).
    EndpointId,
    /// Accepted for compatibility; has no effect (said in the docs).
    Ignored,
}

struct Key {
    name: &'static str,
    aliases: &'static [&'static str],
    kind: Kind,
}

const MAX_I32: i64 = i32::MAX as i64;
const fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max, scale: 1 }
}

/// Every key rafka knows: Java's name first, then librdkafka's names for the same setting.
const KEYS: &[Key] = &[
    Key { name: "bootstrap.servers", aliases: &["metadata.broker.list"], kind: Kind::Servers },
    Key { name: "client.id", aliases: &[], kind: Kind::Text },
    Key { name: "acks", aliases: &["request.required.acks"], kind: Kind::Acks },
    Key { name: "enable.idempotence", aliases: &[], kind: Kind::Bool },
    Key { name: "batch.size", aliases: &[], kind: int(1, MAX_I32) },
    Key { name: "linger.ms", aliases: &["queue.buffering.max.ms"], kind: int(0, MAX_I32) },
    Key { name: "buffer.memory", aliases: &[], kind: int(1, i64::MAX / 2) },
    Key { name: "queue.buffering.max.kbytes", aliases: &[], kind: Kind::Int { min: 1, max: MAX_I32, scale: 1024 } },
    Key { name: "max.block.ms", aliases: &[], kind: int(0, i64::MAX / 2) },
    Key { name: "delivery.timeout.ms", aliases: &["message.timeout.ms"], kind: int(1, MAX_I32) },
    Key { name: "request.timeout.ms", aliases: &["socket.timeout.ms"], kind: int(1, MAX_I32) },
    Key { name: "retries", aliases: &["message.send.max.retries"], kind: int(0, MAX_I32) },
    Key { name: "retry.backoff.ms", aliases: &[], kind: int(0, MAX_I32) },
    Key { name: "retry.backoff.max.ms", aliases: &[], kind: int(0, MAX_I32) },
    Key { name: "max.in.flight.requests.per.connection", aliases: &["max.in.flight"], kind: int(1, 1_000_000) },
    Key { name: "max.request.size", aliases: &["message.max.bytes"], kind: int(1000, 1_000_000_000) },
    Key { name: "connections.max.idle.ms", aliases: &[], kind: int(0, i64::MAX / 2) },
    Key { name: "metadata.max.age.ms", aliases: &["topic.metadata.refresh.interval.ms"], kind: int(1, MAX_I32) },
    Key { name: "reconnect.backoff.ms", aliases: &[], kind: int(0, MAX_I32) },
    Key { name: "reconnect.backoff.max.ms", aliases: &[], kind: int(0, MAX_I32) },
    Key { name: "socket.connection.setup.timeout.ms", aliases: &[], kind: int(1, MAX_I32) },
    Key { name: "send.buffer.bytes", aliases: &["socket.send.buffer.bytes"], kind: int(-1, MAX_I32) },
    Key { name: "receive.buffer.bytes", aliases: &["socket.receive.buffer.bytes"], kind: int(-1, MAX_I32) },
    Key { name: "batch.num.messages", aliases: &[], kind: int(1, 1_000_000) },
    Key { name: "partitioner", aliases: &[], kind: Kind::Partitioner },
    Key { name: "partitioner.class", aliases: &[], kind: Kind::Partitioner },
    Key { name: "partitioner.ignore.keys", aliases: &[], kind: Kind::Bool },
    Key { name: "partitioner.adaptive.partitioning.enable", aliases: &[], kind: Kind::Bool },
    Key { name: "transactional.id", aliases: &[], kind: Kind::Text },
    Key { name: "transaction.timeout.ms", aliases: &[], kind: int(1, MAX_I32) },
    Key { name: "compression.type", aliases: &["compression.codec"], kind: Kind::Compression },
    Key { name: "compression.gzip.level", aliases: &[], kind: Kind::Level(Codec::Gzip) },
    Key { name: "compression.lz4.level", aliases: &[], kind: Kind::Level(Codec::Lz4) },
    Key { name: "compression.zstd.level", aliases: &[], kind: Kind::Level(Codec::Zstd) },
    Key { name: "compression.level", aliases: &[], kind: Kind::AnyLevel },
    Key { name: "compression.threads", aliases: &[], kind: int(0, 64) },
    Key { name: "security.protocol", aliases: &[], kind: Kind::Security },
    Key { name: "metadata.max.idle.ms", aliases: &[], kind: int(5000, MAX_I32) },
    Key { name: "client.dns.lookup", aliases: &[], kind: Kind::Ignored },
    // Security (docs/security.md).
    Key { name: "sasl.mechanism", aliases: &["sasl.mechanisms"], kind: Kind::SaslMechanism },
    Key { name: "sasl.username", aliases: &[], kind: Kind::Text },
    Key { name: "sasl.password", aliases: &[], kind: Kind::Secret },
    Key { name: "sasl.jaas.config", aliases: &[], kind: Kind::Secret },
    Key { name: "sasl.oauthbearer.token", aliases: &[], kind: Kind::Secret },
    Key { name: "ssl.ca.location", aliases: &[], kind: Kind::Text },
    Key { name: "ssl.certificate.location", aliases: &[], kind: Kind::Text },
    Key { name: "ssl.key.location", aliases: &[], kind: Kind::Text },
    Key { name: "ssl.key.password", aliases: &[], kind: Kind::Secret },
    Key { name: "ssl.truststore.certificates", aliases: &["ssl.ca.pem"], kind: Kind::Text },
    Key { name: "ssl.keystore.certificate.chain", aliases: &["ssl.certificate.pem"], kind: Kind::Text },
    Key { name: "ssl.keystore.key", aliases: &["ssl.key.pem"], kind: Kind::Secret },
    Key { name: "ssl.truststore.type", aliases: &[], kind: Kind::PemOnly },
    Key { name: "ssl.keystore.type", aliases: &[], kind: Kind::PemOnly },
    Key { name: "ssl.truststore.location", aliases: &["ssl.keystore.location"], kind: Kind::NotYet("a JKS or PKCS12 store (use PEM: ssl.ca.location, ssl.certificate.location, ssl.key.location)") },
    Key { name: "ssl.endpoint.identification.algorithm", aliases: &[], kind: Kind::EndpointId },
];

/// librdkafka's `queue.buffering.max.kbytes` and Java's `buffer.memory` set one thing.
fn canonical_target(name: &str) -> &str {
    match name {
        "queue.buffering.max.kbytes" => "buffer.memory",
        "partitioner.class" => "partitioner",
        n => n,
    }
}

fn find_key(key: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == key || k.aliases.contains(&key))
}

/// String configuration, checked as it is set. Its Debug output shows `[redacted]` for
/// credentials (`sasl.password`, `sasl.jaas.config`, tokens).
#[derive(Clone, Default)]
pub struct Config {
    /// (canonical key, value as given), last one wins.
    values: Vec<(&'static str, String)>,
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
        self.values.retain(|(n, _)| *n != name);
        self.values.push((name, stored));
        Ok(self)
    }

    /// The value set for `key` (under any of its names), as stored.
    pub fn get(&self, key: &str) -> Option<String> {
        let name = canonical_target(find_key(key)?.name);
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone())
    }

    fn raw(&self, name: &str) -> Option<&str> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// The typed configuration, after the checks that involve several keys.
    pub fn build(&self) -> Result<ProducerConfig, ConfigError> {
        let mut c = ProducerConfig::default();
        let ms = |v: &str| Duration::from_millis(v.parse::<u64>().unwrap_or(0));
        let num = |v: &str| v.parse::<i64>().unwrap_or(0);
        for (name, v) in &self.values {
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
                "delivery.timeout.ms" => c.delivery_timeout = ms(v),
                "request.timeout.ms" => c.request_timeout = ms(v),
                "retries" => c.retries = num(v) as u32,
                "retry.backoff.ms" => c.retry_backoff = ms(v),
                "retry.backoff.max.ms" => c.retry_backoff_max = ms(v),
                "max.in.flight.requests.per.connection" => c.max_in_flight = num(v) as usize,
                "max.request.size" => c.max_request_size = num(v) as usize,
                "connections.max.idle.ms" => c.connections_max_idle = ms(v),
                "metadata.max.age.ms" => c.metadata_max_age = ms(v),
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
        let needed = c.linger + c.request_timeout;
        if c.delivery_timeout < needed {
            return Err(ConfigError::Conflict(format!(
                "delivery.timeout.ms ({}) must be at least linger.ms ({}) + request.timeout.ms ({}) = {}; raise delivery.timeout.ms or lower the others",
                c.delivery_timeout.as_millis(),
                c.linger.as_millis(),
                c.request_timeout.as_millis(),
                needed.as_millis()
            )));
        }
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
        Kind::Ignored => Ok(()),
        Kind::Partitioner => parse_partitioner(value).map(|_| ()).ok_or_else(|| {
            invalid("one of default, murmur2, murmur2_random, consistent, consistent_random, random (or the Java default partitioner's class name)".into())
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
        Kind::NotYet(feature) => Err(invalid(format!("nothing: {feature} is not supported yet by rafka"))),
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
        for (name, v) in &self.values {
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

#[cfg(test)]
mod tests;
