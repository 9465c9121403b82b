//! One error type for everything the producer reports: configuration, `send()`, delivery.
//!
//! Codes follow librdkafka's convention: 0 is OK, negative values are local errors raised by
//! rafka itself, positive values are Kafka's broker error codes ([`KafkaCode`]).

use std::fmt;

use crate::config::ConfigError;
use crate::protocol::error_codes::KafkaCode;

/// Errors raised by rafka itself rather than by a broker. The numbers are part of the C ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum LocalCode {
    /// The record was not acknowledged within `delivery.timeout.ms`.
    MessageTimedOut = -192,
    /// The partition does not exist in the topic.
    UnknownPartition = -190,
    /// The topic does not exist (or no metadata arrived for it within `max.block.ms`).
    UnknownTopic = -188,
    /// Every broker connection is down (told through the error handler, librdkafka's `error_cb`).
    AllBrokersDown = -187,
    /// An argument was invalid (empty topic, bad partition number, ...).
    InvalidArgument = -186,
    /// An operation (flush, close, a wait on a delivery) did not finish within its timeout.
    TimedOut = -185,
    /// `send()` could not buffer the record within `max.block.ms` (or at once, when asked not to block).
    QueueFull = -184,
    /// The producer is closed; nothing more can be sent.
    State = -172,
    /// The producer was closed before the record could be delivered.
    Closed = -197,
    /// A broker connection failed.
    Transport = -195,
    /// A host name (in `bootstrap.servers`, or advertised by a broker) does not resolve.
    Resolve = -193,
    /// A TLS handshake failed: the broker's certificate (untrusted, misnamed, expired) or ours.
    Ssl = -181,
    /// The record was removed from the queue by `purge()`.
    PurgedQueue = -152,
    /// The record was sent and not yet answered when `purge()` with in-flight records gave up on
    /// it: it may have been written.
    PurgedInflight = -151,
    /// The producer hit an error it cannot recover from; every later send fails with it.
    Fatal = -150,
    /// The record is larger than `max.request.size` or `buffer.memory`.
    MessageTooLarge = -130,
    /// The configuration was rejected.
    InvalidConfig = -131,
    /// A bug in rafka (a panic was caught); please report it.
    Internal = -132,
    /// A blocking call was interrupted: the binding's interruption check (see
    /// [`crate::interrupt`]) said the calling thread was interrupted while it waited.
    Interrupted = -163,
}

impl LocalCode {
    pub fn name(self) -> &'static str {
        match self {
            LocalCode::MessageTimedOut => "_MSG_TIMED_OUT",
            LocalCode::UnknownPartition => "_UNKNOWN_PARTITION",
            LocalCode::UnknownTopic => "_UNKNOWN_TOPIC",
            LocalCode::AllBrokersDown => "_ALL_BROKERS_DOWN",
            LocalCode::InvalidArgument => "_INVALID_ARG",
            LocalCode::TimedOut => "_TIMED_OUT",
            LocalCode::QueueFull => "_QUEUE_FULL",
            LocalCode::State => "_STATE",
            LocalCode::Closed => "_DESTROY",
            LocalCode::Transport => "_TRANSPORT",
            LocalCode::Resolve => "_RESOLVE",
            LocalCode::Ssl => "_SSL",
            LocalCode::PurgedQueue => "_PURGE_QUEUE",
            LocalCode::PurgedInflight => "_PURGE_INFLIGHT",
            LocalCode::Fatal => "_FATAL",
            LocalCode::MessageTooLarge => "_MSG_SIZE_TOO_LARGE",
            LocalCode::InvalidConfig => "_INVALID_CONFIG",
            LocalCode::Internal => "_INTERNAL",
            LocalCode::Interrupted => "_INTR",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            LocalCode::MessageTimedOut => "record not acknowledged within delivery.timeout.ms",
            LocalCode::UnknownPartition => "partition not present in the topic",
            LocalCode::UnknownTopic => "topic not known to the cluster",
            LocalCode::AllBrokersDown => "all broker connections are down",
            LocalCode::InvalidArgument => "invalid argument",
            LocalCode::TimedOut => "operation timed out",
            LocalCode::QueueFull => "no room in buffer.memory for the record",
            LocalCode::State => "producer is closed",
            LocalCode::Closed => "producer closed before the record was delivered",
            LocalCode::Transport => "broker connection failed",
            LocalCode::Resolve => "host name does not resolve",
            LocalCode::Ssl => "TLS handshake failed",
            LocalCode::PurgedQueue => "record purged from the queue",
            LocalCode::PurgedInflight => "record purged while in flight (it may have been written)",
            LocalCode::Fatal => "fatal producer error",
            LocalCode::MessageTooLarge => "record larger than max.request.size or buffer.memory",
            LocalCode::InvalidConfig => "invalid configuration",
            LocalCode::Internal => "internal error in rafka",
            LocalCode::Interrupted => "operation interrupted",
        }
    }

    /// Whether sending the record again may succeed after this error: a full buffer, a timeout
    /// or a failed connection may clear; the others will not. The C API's
    /// `rafka_err_is_retriable()` and [`Error::is_retriable`] both answer from here.
    pub fn is_retriable(self) -> bool {
        matches!(self, LocalCode::MessageTimedOut | LocalCode::QueueFull | LocalCode::Transport | LocalCode::TimedOut | LocalCode::AllBrokersDown)
    }

    /// Every local code: the one table of their numbers and names. The C header's
    /// `RAFKA_RESP_ERR__*` and the JVM binding's `ErrorMapping` are checked against it by
    /// `ffi/tests/error_codes.rs`.
    pub const ALL: [LocalCode; 19] = [
        LocalCode::MessageTimedOut,
        LocalCode::UnknownPartition,
        LocalCode::UnknownTopic,
        LocalCode::AllBrokersDown,
        LocalCode::InvalidArgument,
        LocalCode::TimedOut,
        LocalCode::QueueFull,
        LocalCode::State,
        LocalCode::Closed,
        LocalCode::Transport,
        LocalCode::Resolve,
        LocalCode::Ssl,
        LocalCode::PurgedQueue,
        LocalCode::PurgedInflight,
        LocalCode::Fatal,
        LocalCode::MessageTooLarge,
        LocalCode::InvalidConfig,
        LocalCode::Internal,
        LocalCode::Interrupted,
    ];
}

/// Which error: a local one or a broker's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    Local(LocalCode),
    Kafka(KafkaCode),
}

impl Code {
    /// The integer code: negative for local errors, Kafka's code for broker errors.
    pub fn as_i32(self) -> i32 {
        match self {
            Code::Local(l) => l as i32,
            Code::Kafka(k) => k.0 as i32,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Code::Local(l) => l.name(),
            Code::Kafka(k) => k.name(),
        }
    }

    /// Whether sending the record again may succeed: Kafka's table for broker codes,
    /// [`LocalCode::is_retriable`] for local ones.
    pub fn is_retriable(self) -> bool {
        match self {
            Code::Local(l) => l.is_retriable(),
            Code::Kafka(k) => k.is_retriable(),
        }
    }

    /// Maps an integer code back, as the C ABI needs.
    pub fn from_i32(code: i32) -> Option<Code> {
        if let Some(l) = LocalCode::ALL.iter().find(|l| **l as i32 == code) {
            return Some(Code::Local(*l));
        }
        i16::try_from(code).ok().map(|c| Code::Kafka(KafkaCode(c)))
    }
}

/// An error with its code, a message that says what happened, and the two facts a user needs to
/// decide what to do: may retrying help, and may the record have been stored anyway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    code: Code,
    message: String,
    retriable: bool,
    possibly_persisted: bool,
    /// Transactions: the transaction cannot commit; abort it (then a new one may start).
    txn_requires_abort: bool,
    /// Transactions: the producer cannot go on (fenced, not authorized); close it.
    fatal: bool,
}

impl Error {
    pub fn local(code: LocalCode, message: impl Into<String>) -> Error {
        Error { code: Code::Local(code), message: message.into(), retriable: code.is_retriable(), possibly_persisted: false, txn_requires_abort: false, fatal: false }
    }

    pub fn kafka(code: KafkaCode, message: impl Into<String>) -> Error {
        Error { code: Code::Kafka(code), message: message.into(), retriable: code.is_retriable(), possibly_persisted: false, txn_requires_abort: false, fatal: false }
    }

    pub fn with_possibly_persisted(mut self, yes: bool) -> Error {
        self.possibly_persisted = yes;
        self
    }

    /// Marks the error as one that requires aborting the transaction (librdkafka's
    /// `txn_requires_abort`); such an error is not retriable.
    pub fn requiring_abort(mut self) -> Error {
        self.txn_requires_abort = true;
        self.retriable = false;
        self.fatal = false;
        self
    }

    /// Marks the error as fatal for the producer (librdkafka's `fatal`).
    pub fn into_fatal(mut self) -> Error {
        self.fatal = true;
        self.retriable = false;
        self.txn_requires_abort = false;
        self
    }

    /// Marks the error as retriable: calling the same operation again may succeed.
    pub fn into_retriable(mut self) -> Error {
        self.retriable = true;
        self
    }

    /// The same error with `what` (the call and what it waited for) put before its message.
    pub fn context(mut self, what: &str) -> Error {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// Transactions: the current transaction cannot be committed; call `abort_transaction`, then
    /// a new transaction may begin.
    pub fn txn_requires_abort(&self) -> bool {
        self.txn_requires_abort
    }

    /// The producer cannot go on (e.g. fenced by a newer producer with the same
    /// `transactional.id`); every later call fails with this error. Close the producer.
    pub fn is_fatal(&self) -> bool {
        self.fatal
    }

    pub fn code(&self) -> Code {
        self.code
    }

    /// The code's name: Kafka's (`NOT_LEADER_OR_FOLLOWER`) or librdkafka-style for local ones (`_MSG_TIMED_OUT`).
    pub fn name(&self) -> &'static str {
        self.code.name()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether sending the record again may succeed.
    pub fn is_retriable(&self) -> bool {
        self.retriable
    }

    /// Whether the record may have been written to the log although it is reported as failed
    /// (e.g. it timed out while a request carrying it was unanswered).
    pub fn possibly_persisted(&self) -> bool {
        self.possibly_persisted
    }

    pub fn is_local(&self, code: LocalCode) -> bool {
        self.code == Code::Local(code)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

impl std::error::Error for Error {}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Error {
        Error::local(LocalCode::InvalidConfig, e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retriable_local_codes_are_the_transient_ones() {
        let retriable: Vec<LocalCode> = LocalCode::ALL.into_iter().filter(|l| l.is_retriable()).collect();
        assert_eq!(retriable, [LocalCode::MessageTimedOut, LocalCode::AllBrokersDown, LocalCode::TimedOut, LocalCode::QueueFull, LocalCode::Transport]);
        for l in LocalCode::ALL {
            assert_eq!(Error::local(l, "x").is_retriable(), l.is_retriable(), "{l:?}");
            assert_eq!(Code::from_i32(l as i32), Some(Code::Local(l)));
        }
    }

    #[test]
    fn code_is_retriable_follows_kafka_table_for_broker_codes() {
        assert!(Code::from_i32(6).unwrap().is_retriable()); // NOT_LEADER_OR_FOLLOWER
        assert!(!Code::from_i32(10).unwrap().is_retriable()); // MESSAGE_TOO_LARGE
        assert!(!Code::from_i32(0).unwrap().is_retriable());
        assert!(!Code::from_i32(-1).unwrap().is_retriable());
    }
}
