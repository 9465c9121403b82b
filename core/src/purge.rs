//! `purge()`: what the application asks to cancel, and how the request reaches the I/O thread.
//!
//! An application thread adds a [`PurgeRequest`] to `Inner::purges` (under its lock, with the next
//! number), sets `Inner::purge_requested` and wakes the I/O thread; a blocking purge then waits
//! until `Inner::purges_done` reaches its number. The I/O thread takes the requests in order
//! (`io/purge.rs`), sets `purges_done` after each, and clears `purge_requested` when none is left.
//! A request for a partition whose batches are at the compression threads waits for them, so that
//! sealed batches are never split around a purge.

use std::sync::Arc;

/// librdkafka's purge flags, with its values (`RD_KAFKA_PURGE_F_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PurgeFlags(u32);

impl PurgeFlags {
    /// Records not yet sent (queued, held for a batch, sealed for compression, waiting for their
    /// topic's metadata): each reported with `_PURGE_QUEUE`.
    pub const QUEUE: PurgeFlags = PurgeFlags(0x1);
    /// Records sent and not yet answered, and batches waiting for a retry: each reported with
    /// `_PURGE_INFLIGHT`, marked possibly persisted. The broker's answer, when it comes, is
    /// ignored: the application cannot know whether they were written. Under idempotence their
    /// sequence numbers become a gap, so the producer bumps its epoch before it sends the
    /// partition's next batch (records sent again later may be duplicates of ones written).
    pub const INFLIGHT: PurgeFlags = PurgeFlags(0x2);
    /// Return at once instead of waiting for the I/O thread to have taken the records off.
    pub const NON_BLOCKING: PurgeFlags = PurgeFlags(0x4);

    pub const fn empty() -> PurgeFlags {
        PurgeFlags(0)
    }

    /// Flags from librdkafka's bit values; unknown bits are `None`.
    pub const fn from_bits(bits: u32) -> Option<PurgeFlags> {
        if bits & !0x7 != 0 {
            None
        } else {
            Some(PurgeFlags(bits))
        }
    }

    pub const fn bits(self) -> u32 {
        self.0
    }

    pub const fn contains(self, other: PurgeFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for PurgeFlags {
    type Output = PurgeFlags;
    fn bitor(self, rhs: PurgeFlags) -> PurgeFlags {
        PurgeFlags(self.0 | rhs.0)
    }
}

/// Which records a purge applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PurgeTarget<'a> {
    All,
    Topic(&'a str),
    /// One partition of a topic; records of the topic still waiting for its metadata, or still
    /// in the spool (`spool.dir`), are included only when they were sent to this partition
    /// explicitly (the partitioner has not chosen one for the others yet).
    Partition(&'a str, i32),
}

/// A purge as the I/O thread gets it.
pub(crate) struct PurgeRequest {
    pub id: u64,
    pub flags: PurgeFlags,
    pub topic: Option<Arc<str>>,
    pub partition: Option<i32>,
    /// Records the purge took out of the spool (on the application's thread), reported by the
    /// I/O thread after those of the queues, which are older.
    pub spooled: Vec<crate::delivery::AloneReport>,
}

impl PurgeRequest {
    pub fn new(id: u64, flags: PurgeFlags, target: PurgeTarget<'_>) -> PurgeRequest {
        let (topic, partition) = match target {
            PurgeTarget::All => (None, None),
            PurgeTarget::Topic(t) => (Some(Arc::from(t)), None),
            PurgeTarget::Partition(t, p) => (Some(Arc::from(t)), Some(p)),
        };
        PurgeRequest { id, flags, topic, partition, spooled: Vec::new() }
    }

    pub fn matches_topic(&self, topic: &str) -> bool {
        self.topic.as_deref().is_none_or(|t| t == topic)
    }

    /// For a record not placed in a partition yet (waiting for its topic's metadata, or in the
    /// spool): `partition` is the one it was sent to, if any.
    pub fn matches_unplaced(&self, topic: &str, partition: Option<i32>) -> bool {
        self.matches_topic(topic) && self.partition.is_none_or(|want| partition == Some(want))
    }

    pub fn matches(&self, topic: &str, partition: i32) -> bool {
        self.matches_topic(topic) && self.partition.is_none_or(|p| p == partition)
    }
}

/// Purges asked for and not yet done (`Inner::purges`): application threads push, the I/O thread
/// takes them in order.
#[derive(Default)]
pub(crate) struct PurgeRequests {
    pub last_id: u64,
    pub pending: std::collections::VecDeque<PurgeRequest>,
}
