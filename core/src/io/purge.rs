//! The I/O thread's side of `purge()` (requests: `crate::purge`) and of per-record deadlines
//! (`ProducerRecord::deadline`): both take records out of line before they are sent and report
//! each one once.
//!
//! Records not yet sent have no sequence number (a batch gets its numbers when it is first put
//! into a request), so taking them out leaves no gap. Records in flight do have one under
//! idempotence: a deadline never touches them, and a purge with `INFLIGHT` fails their batches
//! the way a batch failing for good does (`fail_batch`: the partition's next batch waits for an
//! epoch bump).

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::batch::ProducerBatch;
use super::connection::RequestKind;
use super::partition::seq_before;
use super::IoThread;
use crate::accumulator::PendingRecord;
use crate::clock;
use crate::delivery::{Job, Outcome};
use crate::error::{Error, LocalCode};
use crate::purge::{PurgeFlags, PurgeRequest};

impl IoThread {
    /// Does the purges asked for, in order. A request that touches a partition with batches at
    /// the compression threads waits (with those after it) for them to come back.
    pub(super) fn handle_purges(&mut self) {
        if !self.inner.purge_requested.load(Ordering::SeqCst) {
            return;
        }
        // Activations first: a record pushed just before purge() must be purged too.
        self.absorb_activations();
        let inner = self.inner.clone();
        loop {
            let mut g = inner.purges.lock().unwrap_or_else(|e| e.into_inner());
            let Some(req) = g.pending.front() else {
                inner.purge_requested.store(false, Ordering::SeqCst);
                return;
            };
            let compressing = self.parts.tracked.iter().any(|&id| {
                let ps = self.parts.get(id);
                ps.sealing > 0 && req.matches(&ps.pq.topic, ps.pq.partition)
            });
            if compressing {
                return; // looked at again when the batches are back (the loop runs then)
            }
            let mut req = g.pending.pop_front().expect("looked at above");
            drop(g);
            self.purge(&mut req);
            inner.purges_done.store(req.id, Ordering::SeqCst);
        }
    }

    fn purge(&mut self, req: &mut PurgeRequest) {
        if req.flags.contains(PurgeFlags::INFLIGHT) {
            self.purge_in_flight(req);
        }
        if req.flags.contains(PurgeFlags::QUEUE) {
            self.purge_queued(req);
        }
    }

    /// Every record of the request's partitions not yet sent: `_PURGE_QUEUE`. With `spool.dir`,
    /// also the records in the spool drainer's hand, and the records `purge_with` took out of the
    /// spool, reported last (they are the newest).
    fn purge_queued(&mut self, req: &mut PurgeRequest) {
        let inner = self.inner.clone();
        // The drainer is not queueing a record while this holds `feed`: each one it took is in a
        // partition queue already (absorbed and purged below) or still in its hand.
        let mut feed = inner.spool.as_ref().map(|s| s.feed.lock().unwrap_or_else(|e| e.into_inner()));
        if feed.is_some() {
            self.absorb_activations();
        }
        let err = Arc::new(Error::local(LocalCode::PurgedQueue, "purged from the queue by purge()"));
        for id in self.parts.tracked.clone() {
            let ps = self.parts.get_mut(id);
            if !req.matches(&ps.pq.topic, ps.pq.partition) {
                continue;
            }
            let recs = ps.take_unsent();
            if !recs.is_empty() {
                let pq = ps.pq.clone();
                self.deliver(pq, recs, Outcome::Err(err.clone()));
            }
        }
        let mut parking = inner.parking.lock().unwrap_or_else(|e| e.into_inner());
        let mut failed = Vec::new();
        for (name, t) in parking.topics.iter_mut() {
            if !req.matches_topic(name) {
                continue;
            }
            let (purged, kept): (VecDeque<_>, VecDeque<_>) = t.records.drain(..).partition(|p| req.matches_unplaced(name, p.partition.map(|p| p as i32)));
            t.records = kept;
            if !purged.is_empty() {
                failed.push((t.unassigned.clone(), purged.into_iter().map(|p| p.record).collect::<Vec<_>>()));
            }
        }
        parking.remove_empty();
        drop(parking);
        let e = Error::local(LocalCode::PurgedQueue, "purged by purge() while waiting for its topic's metadata");
        for (pq, recs) in failed {
            self.deliver(pq, recs, Outcome::Err(Arc::new(e.clone())));
        }
        if let Some(spool) = &inner.spool {
            let e = Arc::new(Error::local(
                LocalCode::PurgedQueue,
                format!("purged by purge() as it left the spool (spool.dir {}), before it was queued; it is not sent by a later producer either", spool.dir.display()),
            ));
            let hand = feed.as_mut().expect("held with a spool");
            let mut reports = spool.purge_in_hand(hand, &|t, p| req.matches_unplaced(t, p), &e);
            drop(feed);
            reports.append(&mut req.spooled);
            if !reports.is_empty() {
                for r in &reports {
                    self.stats.tallies.records_failed(&r.topic, 1);
                }
                if self.delivery_tx.send(Job::Alone(reports)).is_err() {
                    log::error!("delivery channel closed; reports lost");
                }
            }
        }
    }

    /// Every batch of the request's partitions in a Produce request not yet answered, or waiting
    /// for a retry: `_PURGE_INFLIGHT`. Their answers, when they come, find no batch to report.
    /// Under acks=0 a batch is done once written, and is left alone.
    fn purge_in_flight(&mut self, req: &PurgeRequest) {
        let mut purged: Vec<ProducerBatch> = Vec::new();
        for c in self.net.conns.values_mut() {
            for f in c.inflight.iter_mut() {
                if let RequestKind::Produce(batches) = &mut f.kind {
                    let (out, keep): (Vec<_>, Vec<_>) = batches.drain(..).partition(|b| req.matches(&b.pq.topic, b.pq.partition));
                    *batches = keep;
                    purged.extend(out);
                }
            }
        }
        for b in &purged {
            self.parts.get_mut(b.pq.id).inflight -= 1;
        }
        for id in self.parts.tracked.clone() {
            let ps = self.parts.get_mut(id);
            if req.matches(&ps.pq.topic, ps.pq.partition) {
                purged.extend(ps.retry.drain(..));
            }
        }
        // Reports in each partition's order.
        purged.sort_by(|a, b| {
            (a.pq.id.cmp(&b.pq.id)).then_with(|| {
                if seq_before(a.base_sequence, b.base_sequence, a.created_ns, b.created_ns) {
                    std::cmp::Ordering::Less
                } else if seq_before(b.base_sequence, a.base_sequence, b.created_ns, a.created_ns) {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
        });
        for b in purged {
            let e = Error::local(
                LocalCode::PurgedInflight,
                format!("purged by purge() while in flight to {}-{} (sent {} time(s)); it may have been written", b.pq.topic, b.pq.partition, b.attempts),
            )
            .with_possibly_persisted(true);
            let id = b.pq.id;
            self.fail_batch(b, e);
            self.parts.track(id);
        }
    }

    /// The deadline sweep: when the earliest own deadline of a record has come, fails every
    /// record not yet sent whose deadline has passed (queued, held, sealed, parked) with
    /// `_MSG_TIMED_OUT`, saying where it waited. Otherwise makes the loop wake by then.
    pub(super) fn expire_deadlines(&mut self, next: &mut std::time::Instant) {
        let due = self.inner.earliest_deadline_ns.load(Ordering::SeqCst);
        if due == u64::MAX {
            return;
        }
        let now_ns = clock::mono_ns();
        if due > now_ns {
            *next = (*next).min(clock::instant_of(due));
            return;
        }
        self.inner.earliest_deadline_ns.store(u64::MAX, Ordering::SeqCst);
        // Activations first: a record with a deadline is in a tracked partition.
        self.absorb_activations();
        let idempotent = self.inner.config.enable_idempotence;
        let mut earliest = u64::MAX;
        for id in self.parts.tracked.clone() {
            let ps = self.parts.get_mut(id);
            if ps.pq.earliest_deadline_ns.load(Ordering::SeqCst) > now_ns {
                earliest = earliest.min(ps.pq.earliest_deadline_ns.load(Ordering::SeqCst));
                continue;
            }
            ps.pq.earliest_deadline_ns.store(u64::MAX, Ordering::SeqCst);
            let (expired, left) = ps.take_past_deadline(now_ns);
            ps.pq.note_deadline(left);
            earliest = earliest.min(ps.pq.earliest_deadline_ns.load(Ordering::SeqCst));
            if expired.is_empty() {
                continue;
            }
            let (pq, leader, waiting) = (ps.pq.clone(), ps.leader, ps.inflight + ps.retry.len());
            let place = format!("{}-{}", pq.topic, pq.partition);
            let where_ = if leader < 0 {
                format!("buffered for {place}, which has no known leader")
            } else if waiting > 0 {
                let window = if idempotent { " (a full in-flight window, or a retry pending)" } else { "" };
                format!("queued for {place} behind {waiting} batch(es) in flight or awaiting a retry{window}: {}", self.net.why_not_sent(leader))
            } else {
                format!("queued for {place}: {}", self.net.why_not_sent(leader))
            };
            self.report_past_deadline(pq, expired, now_ns, &where_);
        }
        earliest = earliest.min(self.expire_parked_deadlines(now_ns));
        if earliest != u64::MAX {
            self.inner.earliest_deadline_ns.fetch_min(earliest, Ordering::SeqCst);
            *next = (*next).min(clock::instant_of(earliest));
        }
    }

    /// Parked records (topic metadata missing) past their own deadline; returns the earliest
    /// deadline left among those parked.
    fn expire_parked_deadlines(&mut self, now_ns: u64) -> u64 {
        let inner = self.inner.clone();
        let mut parking = inner.parking.lock().unwrap_or_else(|e| e.into_inner());
        let mut earliest = u64::MAX;
        let mut failed = Vec::new();
        for (name, t) in parking.topics.iter_mut() {
            if t.records.iter().any(|p| p.record.past_deadline(now_ns)) {
                let (out, keep): (VecDeque<_>, VecDeque<_>) = t.records.drain(..).partition(|p| p.record.past_deadline(now_ns));
                t.records = keep;
                failed.push((t.unassigned.clone(), name.clone(), out.into_iter().map(|p| p.record).collect::<Vec<_>>()));
            }
            for p in &t.records {
                if p.record.deadline_ns() != 0 {
                    earliest = earliest.min(p.record.deadline_ns());
                }
            }
        }
        parking.remove_empty();
        drop(parking);
        for (pq, name, recs) in failed {
            let where_ = format!("waiting for the metadata of topic {name}, which no broker has given yet");
            self.report_past_deadline(pq, recs, now_ns, &where_);
        }
        earliest
    }

    fn report_past_deadline(&mut self, pq: Arc<crate::accumulator::PartitionQueue>, records: Vec<PendingRecord>, now_ns: u64, where_: &str) {
        let first = &records[0];
        let own = first.deadline_ns().saturating_sub(first.enqueued_ns()) / 1_000_000;
        let waited = now_ns.saturating_sub(first.enqueued_ns()) / 1_000_000;
        log::debug!("{} record(s) of {}-{} past their own deadline unsent: {where_}", records.len(), pq.topic, pq.partition);
        let e = Error::local(
            LocalCode::MessageTimedOut,
            format!("the record's own deadline ({own} ms after send()) passed before it was sent, after {waited} ms {where_}"),
        );
        self.deliver(pq, records, Outcome::Err(Arc::new(e)));
    }
}
