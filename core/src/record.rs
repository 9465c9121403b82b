//! What the application hands to `send()` and what it gets back in a delivery report.

use std::sync::Arc;
use std::time::Instant;

use crate::error::Error;
use crate::protocol::primitives::Decoder;

/// A record to send. It borrows its key, value and headers: `send()` copies them once, into the
/// record's encoded form, so the caller's buffers are free again when `send()` returns.
#[derive(Clone, Debug, Default)]
pub struct ProducerRecord<'a> {
    pub topic: &'a str,
    /// `None`: the partitioner chooses.
    pub partition: Option<i32>,
    pub key: Option<&'a [u8]>,
    /// `None` is a tombstone.
    pub value: Option<&'a [u8]>,
    /// Header keys are UTF-8 strings; values may be null.
    pub headers: Vec<(&'a str, Option<&'a [u8]>)>,
    /// Milliseconds since the Unix epoch; `None`: the time of `send()`.
    pub timestamp: Option<i64>,
    /// The record's own delivery deadline, for a record that is worth sending only until then
    /// (`None`: `delivery.timeout.ms` alone). A record still unsent at its deadline (queued,
    /// lingering, behind a full in-flight window, waiting for a leader or for its topic's
    /// metadata) is reported at once with `_MSG_TIMED_OUT` and its memory given back. A record
    /// already sent is not pulled back: under idempotence its sequence number is taken, and
    /// leaving it out would be a gap the broker refuses; its report comes with the broker's
    /// answer, or at `delivery.timeout.ms`. Such a report can come before the reports of earlier
    /// records of the partition that are in flight.
    pub deadline: Option<Instant>,
}

impl<'a> ProducerRecord<'a> {
    pub fn new(topic: &'a str) -> Self {
        ProducerRecord { topic, ..Default::default() }
    }
    pub fn key(mut self, key: &'a [u8]) -> Self {
        self.key = Some(key);
        self
    }
    pub fn value(mut self, value: &'a [u8]) -> Self {
        self.value = Some(value);
        self
    }
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }
    /// The partition a binding's plain integer stands for: any negative number (the C API's
    /// `RAFKA_PARTITION_UA`, -1) lets the partitioner choose.
    #[inline]
    pub fn partition_from_i32(partition: i32) -> Option<i32> {
        (partition >= 0).then_some(partition)
    }
    pub fn header(mut self, key: &'a str, value: Option<&'a [u8]>) -> Self {
        self.headers.push((key, value));
        self
    }
    pub fn timestamp(mut self, ms: i64) -> Self {
        self.timestamp = Some(ms);
        self
    }
    /// See [`ProducerRecord::deadline`](#structfield.deadline).
    pub fn deadline(mut self, at: Instant) -> Self {
        self.deadline = Some(at);
        self
    }
    /// A deadline `timeout` from now (this call), capped at a century.
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.deadline = Some(crate::clock::deadline_after(timeout));
        self
    }
}

/// Where a record was stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordMetadata {
    pub topic: Arc<str>,
    pub partition: i32,
    /// The record's offset; -1 with `acks=0`, where the broker says nothing.
    pub offset: i64,
    /// The record's timestamp (the broker's log-append time when the topic uses it).
    pub timestamp: i64,
    pub serialized_key_size: i32,
    pub serialized_value_size: i32,
}

/// The outcome of one record, as a `Future`/handle resolves it.
pub type DeliveryResult = Result<RecordMetadata, Error>;

/// One delivery report, borrowed for the duration of a callback: the outcome plus the record's
/// key, value and headers (valid only inside the callback).
pub struct Delivery<'a> {
    pub topic: &'a Arc<str>,
    /// The topic as a NUL-terminated C string (for C bindings).
    pub topic_c: &'a std::ffi::CStr,
    /// The partition the record was assigned to (-1 if it failed before one was chosen).
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    /// `timestamp` is the broker's append time (the topic's `message.timestamp.type` is
    /// `LogAppendTime`), not the record's create time.
    pub log_append_time: bool,
    pub error: Option<&'a Error>,
    /// Microseconds from `send()` to this report.
    pub latency_us: u64,
    pub(crate) body: &'a [u8],
}

impl<'a> Delivery<'a> {
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }

    pub fn key(&self) -> Option<&'a [u8]> {
        self.key_value().0
    }

    pub fn value(&self) -> Option<&'a [u8]> {
        self.key_value().1
    }

    /// The headers as sent.
    pub fn headers(&self) -> Vec<(&'a str, Option<&'a [u8]>)> {
        body_headers(self.body)
    }

    /// Key and value in one pass over the record.
    pub fn key_value(&self) -> (Option<&'a [u8]>, Option<&'a [u8]>) {
        body_key_value(self.body)
    }

    pub fn to_result(&self) -> DeliveryResult {
        match self.error {
            Some(e) => Err(e.clone()),
            None => {
                let (key, value) = self.key_value();
                Ok(RecordMetadata {
                    topic: self.topic.clone(),
                    partition: self.partition,
                    offset: self.offset,
                    timestamp: self.timestamp,
                    serialized_key_size: key.map_or(-1, |k| k.len() as i32),
                    serialized_value_size: value.map_or(-1, |v| v.len() as i32),
                })
            }
        }
    }
}

pub(crate) fn body_key_value(body: &[u8]) -> (Option<&[u8]>, Option<&[u8]>) {
    let mut d = Decoder::new(body);
    let key = varint_bytes(&mut d).ok().flatten();
    let value = varint_bytes(&mut d).ok().flatten();
    (key, value)
}

pub(crate) fn body_headers(body: &[u8]) -> Vec<(&str, Option<&[u8]>)> {
    let mut d = Decoder::new(body);
    let mut out = Vec::new();
    let (Ok(_), Ok(_)) = (varint_bytes(&mut d), varint_bytes(&mut d)) else { return out };
    let n = d.varint("header count").unwrap_or(0);
    for _ in 0..n.max(0) {
        let (Ok(Some(k)), Ok(v)) = (varint_bytes(&mut d), varint_bytes(&mut d)) else { break };
        out.push((std::str::from_utf8(k).unwrap_or(""), v));
    }
    out
}

/// A varint-length-prefixed byte field of a record body (-1: null).
fn varint_bytes<'a>(d: &mut Decoder<'a>) -> Result<Option<&'a [u8]>, crate::protocol::primitives::DecodeError> {
    let len = d.varint("record field length")?;
    if len < 0 {
        return Ok(None);
    }
    d.take(len as usize, "record field").map(Some)
}
