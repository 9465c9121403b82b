//! The I/O thread's side of parked records (see `crate::parking`): moving a topic's parked
//! records into its partitions when metadata brings it, and failing those that wait too long, that
//! the brokers refuse, or that `purge()` / `close()` end.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::IoThread;
use crate::accumulator::{PartitionQueue, PendingRecord, TopicState};
use crate::clock;
use crate::delivery::Outcome;
use crate::error::{Code, Error, LocalCode};
use crate::parking::{Parked, Parking};
use crate::placement::{self, Placed};
use crate::protocol::error_codes::KafkaCode;
use crate::protocol::record_batch;
use crate::shared::Inner;

/// Records that could not be placed, with why: reported after the parking lock is let go.
type Failed = Vec<(Arc<PartitionQueue>, Vec<PendingRecord>, Error)>;

/// Moves the parked records of the new topic `state` into its partitions, oldest first. Called
/// with the parking lock held and before `state` is published (see `crate::parking`). Records
/// whose explicit partition the topic lacks go into `failed`.
pub(super) fn release(inner: &Inner, parking: &mut Parking, state: &TopicState, failed: &mut Failed) {
    let Some(parked) = parking.remove(&state.name) else { return };
    parking.releases += 1;
    let cfg = &inner.config;
    let n = state.partition_count();
    let mut refused = Vec::new();
    let mut why = None;
    for Parked { record, partition } in parked.records {
        let p = match partition {
            Some(p) if p < n => Ok((p, Placed::Explicit)),
            Some(p) => Err(Error::local(
                LocalCode::UnknownPartition,
                format!("partition {p} of topic {} does not exist: the topic has {n} partitions", state.name),
            )),
            None => {
                let (key, value) = record_batch::body_key_value(record.body()).unwrap_or((None, None));
                placement::choose_partition(cfg, inner.partitioner.as_deref(), state, key, value, record.body().len(), clock::mono_ns())
            }
        };
        match p {
            Ok((p, how)) => {
                let pq = &state.partitions[p as usize];
                if inner.count_placements {
                    placement::count_placed(pq, how);
                }
                let deadline_ns = record.deadline_ns();
                if pq.push(record, cfg.batch_size).activated {
                    inner.activations.push(pq.clone());
                }
                if deadline_ns != 0 {
                    pq.note_deadline(deadline_ns);
                    inner.note_deadline(deadline_ns);
                }
                // After the push: a flush() counting this topic's parked records then finds the
                // record in its partition (see `Parking::releases`).
                parked.unassigned.completed.fetch_add(1, Ordering::AcqRel);
            }
            Err(e) => {
                refused.push(record);
                why.get_or_insert(e);
            }
        }
    }
    if let Some(e) = why {
        failed.push((parked.unassigned, refused, e));
    }
}

impl IoThread {
    /// Fails parked records that waited `delivery.timeout.ms`, and whole topics the brokers
    /// refuse or have said for `topic.metadata.propagation.max.ms` do not exist.
    pub(super) fn sweep_parked(&mut self, now: Instant) {
        let inner = self.inner.clone();
        let mut parking = inner.parking.lock().unwrap_or_else(|e| e.into_inner());
        if parking.topics.is_empty() {
            return;
        }
        if let Some(e) = inner.fatal.get() {
            // Parked after the fatal error failed everything (a sender that checked just before).
            let e = e.clone();
            drop(parking);
            return self.fail_parked(&e);
        }
        let errors: Vec<(Arc<str>, Error)> = {
            let m = inner.meta.lock().unwrap_or_else(|e| e.into_inner());
            parking.topics.keys().filter_map(|t| m.errors.get(&**t).map(|e| (t.clone(), e.clone()))).collect()
        };
        let cfg = &inner.config;
        let mut failed: Failed = Vec::new();
        for (name, e) in errors {
            let t = parking.topics.get_mut(&name).expect("listed above");
            let code = match e.code() {
                Code::Kafka(k) => k,
                Code::Local(_) => continue,
            };
            let end = if code == KafkaCode::UNKNOWN_TOPIC_OR_PARTITION {
                let since = *t.unknown_since.get_or_insert(now);
                (now.duration_since(since) >= cfg.topic_metadata_propagation_max).then(|| {
                    // The broker's code, as librdkafka reports it (its _UNKNOWN_TOPIC is for
                    // other cases): code that compares with UNKNOWN_TOPIC_OR_PART keeps working.
                    Error::kafka(
                        KafkaCode::UNKNOWN_TOPIC_OR_PARTITION,
                        format!(
                            "topic {name} does not exist: the brokers answered UNKNOWN_TOPIC_OR_PARTITION for topic.metadata.propagation.max.ms ({} ms); create it, or enable auto.create.topics.enable on the brokers",
                            cfg.topic_metadata_propagation_max.as_millis()
                        ),
                    )
                })
            } else if !code.is_retriable() {
                Some(Error::kafka(code, format!("topic {name}: {}", code.description())))
            } else {
                None
            };
            if let Some(err) = end {
                let t = parking.remove(&name).expect("listed above");
                failed.push((t.unassigned, t.records.into_iter().map(|p| p.record).collect(), err));
            }
        }
        let timeout_ns = cfg.delivery_timeout.as_nanos() as u64;
        let now_ns = clock::mono_ns();
        let answered = self.meta.last_refresh.is_some_and(|t| now.duration_since(t) < cfg.delivery_timeout);
        for (name, t) in parking.topics.iter_mut() {
            let mut expired = Vec::new();
            while t.records.front().is_some_and(|p| now_ns >= p.record.enqueued_ns() + timeout_ns) {
                expired.push(t.records.pop_front().expect("checked").record);
            }
            if !expired.is_empty() {
                let why = match &t.unknown_since {
                    Some(_) => "the brokers answered UNKNOWN_TOPIC_OR_PARTITION".to_string(),
                    None if answered => "the brokers' metadata did not list it".to_string(),
                    None => match inner.settled_diagnosis() {
                        Some(d) => format!("no broker answered a metadata request in that time: {d}"),
                        None => "no broker answered a metadata request in that time (see the connection errors logged)".to_string(),
                    },
                };
                let e = Error::local(
                    LocalCode::MessageTimedOut,
                    format!("the record waited delivery.timeout.ms / message.timeout.ms ({} ms) for metadata of topic {name}: {why}", timeout_ns / 1_000_000),
                );
                failed.push((t.unassigned.clone(), expired, e));
            }
        }
        parking.remove_empty();
        drop(parking);
        self.report_parked(failed);
    }

    /// Fails every parked record with `err` (`purge()`, `close()`).
    pub(super) fn fail_parked(&mut self, err: &Error) {
        let inner = self.inner.clone();
        let mut parking = inner.parking.lock().unwrap_or_else(|e| e.into_inner());
        let failed: Failed = parking.remove_all().into_iter().map(|t| (t.unassigned, t.records.into_iter().map(|p| p.record).collect(), err.clone())).collect();
        drop(parking);
        self.report_parked(failed);
    }

    pub(super) fn report_parked(&mut self, failed: Failed) {
        for (pq, records, e) in failed {
            if !records.is_empty() {
                self.deliver(pq, records, Outcome::Err(Arc::new(e)));
            }
        }
    }

    /// Whether any record is parked.
    pub(super) fn any_parked(&self) -> bool {
        !self.inner.parking.lock().unwrap_or_else(|e| e.into_inner()).topics.is_empty()
    }
}
