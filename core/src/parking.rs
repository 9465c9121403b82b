//! Records sent to a topic whose metadata is not known yet, held until it is (librdkafka's
//! semantics, for the C, C++ and Python APIs: `ProducerBuilder::queue_until_metadata`). The
//! Rust and Java APIs block in `send()` instead (Java semantics).
//!
//! A sender that finds no metadata for its topic parks the record here, with its buffer memory
//! already reserved, and asks the I/O thread for the topic. When metadata brings the topic, the
//! I/O thread moves the topic's parked records into their partitions' queues *before* it
//! publishes the topic to senders, holding this lock throughout; a sender parks only after
//! checking, under the same lock, that the topic is still unpublished. So parked records go ahead
//! of every later send to the topic, and per-partition order holds.
//!
//! Parked records that cannot be placed fail through their reports (I/O thread,
//! `io/parking.rs`): `_UNKNOWN_TOPIC` once the brokers have said the topic does not exist for
//! `topic.metadata.propagation.max.ms`, the broker's error for a topic it refuses (not
//! authorized, invalid name), `_MSG_TIMED_OUT` at `delivery.timeout.ms`/`message.timeout.ms`,
//! `_UNKNOWN_PARTITION` for an explicit partition the topic does not have, and `_PURGE_QUEUE` /
//! `_DESTROY` on `purge()` and `close()`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use crate::accumulator::{PartitionQueue, PendingRecord};

/// One parked record and the partition the application asked for (`None`: the partitioner's
/// choice, made when the topic's partitions are known).
pub(crate) struct Parked {
    pub record: PendingRecord,
    pub partition: Option<u32>,
}

/// One topic's parked records, oldest first.
pub(crate) struct ParkedTopic {
    /// Counts the topic's parked records (`enqueued` on park, `completed` when one moves to its
    /// partition or is reported), so that `flush()`, `close()` and `len()` see them; failures
    /// are reported from it, with partition -1. Never given to the I/O thread's partitions.
    pub unassigned: Arc<PartitionQueue>,
    pub records: VecDeque<Parked>,
    /// When metadata first said the topic does not exist (`topic.metadata.propagation.max.ms`
    /// runs from here); set and read by the I/O thread.
    pub unknown_since: Option<Instant>,
}

/// Behind `Inner::parking`: written by senders (park) and the I/O thread (release, fail).
#[derive(Default)]
pub(crate) struct Parking {
    pub topics: HashMap<Arc<str>, ParkedTopic>,
    /// Bumped each time the I/O thread moves parked records into partitions: a `flush()` that
    /// saw parked records looks at the partitions again.
    pub releases: u64,
    /// Counters of topics taken out of parking whose failed records may not be reported yet, so
    /// that a `flush()` right after a purge (or an expiry) waits for those reports too. Kept
    /// until reported (pruned when a topic is next taken out).
    pub retired: Vec<Arc<PartitionQueue>>,
}

impl Parking {
    /// The topic's entry, made on its first parked record.
    pub fn topic(&mut self, name: &str) -> &mut ParkedTopic {
        if !self.topics.contains_key(name) {
            let name: Arc<str> = Arc::from(name);
            let unassigned = Arc::new(PartitionQueue::new(usize::MAX, name.clone(), -1));
            self.topics.insert(name, ParkedTopic { unassigned, records: VecDeque::new(), unknown_since: None });
        }
        self.topics.get_mut(name).expect("inserted above")
    }

    /// The queues that count parked records (see [`ParkedTopic::unassigned`]).
    pub fn counters(&self) -> Vec<Arc<PartitionQueue>> {
        self.topics.values().map(|t| t.unassigned.clone()).chain(self.retired.iter().cloned()).collect()
    }

    /// Takes a topic out of parking (its records released, failed or expired); its counters stay
    /// in `retired` until its failed records are reported.
    pub fn remove(&mut self, name: &str) -> Option<ParkedTopic> {
        let t = self.topics.remove(name)?;
        self.retire(t.unassigned.clone());
        Some(t)
    }

    /// Takes out every topic left without parked records.
    pub fn remove_empty(&mut self) {
        let empty: Vec<Arc<str>> = self.topics.iter().filter(|(_, t)| t.records.is_empty()).map(|(k, _)| k.clone()).collect();
        for name in empty {
            self.remove(&name);
        }
    }

    /// Takes out every topic.
    pub fn remove_all(&mut self) -> Vec<ParkedTopic> {
        let names: Vec<Arc<str>> = self.topics.keys().cloned().collect();
        names.iter().filter_map(|n| self.remove(n)).collect()
    }

    fn retire(&mut self, counters: Arc<PartitionQueue>) {
        self.retired.retain(|q| q.outstanding() > 0);
        if counters.outstanding() > 0 {
            self.retired.push(counters);
        }
    }
}
