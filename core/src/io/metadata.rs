//! The I/O thread's view of the cluster's metadata: which topics it keeps metadata for, when
//! to ask again (`metadata.max.age.ms`, a missing leader, a sender waiting), and the answers,
//! which update the partitions' leaders, the brokers' addresses and the topic table senders read
//! (`Inner::topics`). `Producer::metadata()` queries go through here too.
//!
//! Owned by the I/O thread; what it shares with senders is in `Inner::meta` and `Inner::topics`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::Token;

use super::connection::{InFlight, RequestKind};
use super::{parking, IoThread};
use crate::accumulator::{PartitionQueue, TopicState};
use crate::error::{Error, LocalCode};
use crate::metadata::{format_addr, ClusterMetadata, MetadataQuery};
use crate::partitioner::StickyPartitioner;
use crate::protocol::error_codes::KafkaCode;
use crate::protocol::messages::{self, metadata};
use crate::protocol::primitives::Decoder;

#[derive(Default)]
pub(super) struct MetadataState {
    pub last_refresh: Option<Instant>,
    /// Ask at the next chance (a missing leader, a lost connection, a sender waiting).
    pub needed: bool,
    pub inflight: bool,
    pub last_request: Option<Instant>,
    /// Topic names the I/O thread keeps metadata for.
    pub topics_of_interest: HashSet<Arc<str>>,
    /// `Producer::metadata()` queries not sent yet, and those in flight by id.
    pub queries: VecDeque<MetadataQuery>,
    pub queries_inflight: HashMap<u64, MetadataQuery>,
    pub next_query_id: u64,
    /// Per topic: records enqueued when last looked at, and when that count last moved
    /// (`metadata.max.idle.ms`).
    pub activity: HashMap<Arc<str>, (u64, Instant)>,
    /// Per topic: its id as metadata last named it (v10+). A new id is a topic deleted and
    /// created again, whose leader epochs start over.
    pub topic_ids: HashMap<Arc<str>, [u8; 16]>,
    /// Per topic: when a metadata response last described it (`metadata_age` in the statistics).
    pub refreshed: HashMap<Arc<str>, Instant>,
    /// When metadata was last asked for because a broker left a request unanswered
    /// (`connections::UNANSWERED_AFTER`).
    pub last_unanswered_refresh: Option<Instant>,
}

/// While a broker leaves requests unanswered, metadata is asked again this often: a partition
/// follows its new leader within this time of the controller electing it (plus a round trip).
const UNANSWERED_REFRESH_EVERY: Duration = Duration::from_millis(250);

/// `metadata.max.idle.ms`: whether a topic stays in metadata requests. `seen` is the topic's
/// (records enqueued, when that count last changed), updated here; a topic with records not yet
/// reported always stays.
pub(super) fn still_used(seen: &mut (u64, Instant), enqueued: u64, outstanding: u64, now: Instant, max_idle: std::time::Duration) -> bool {
    if enqueued != seen.0 || outstanding > 0 {
        *seen = (enqueued, now);
        return true;
    }
    now.duration_since(seen.1) < max_idle
}


impl IoThread {
    /// A broker has left a request unanswered for `UNANSWERED_AFTER`, or records wait for a
    /// leader this thread cannot connect to (killed, its port refusing): ask metadata (of another
    /// broker, see `Connections::any_connection`) whether their partitions have a new leader,
    /// once per `UNANSWERED_REFRESH_EVERY` while that lasts, instead of waiting for
    /// `request.timeout.ms` or for the next failed connection attempt to the old leader, which
    /// `reconnect.backoff.ms` spaces out (up to `reconnect.backoff.max.ms`, 1 s by default).
    /// After a leader is killed, the other brokers answer their requests at the moment the
    /// controller elects new leaders (that is when the dead broker leaves their in-sync replicas),
    /// so the refresh for unanswered requests stops just when the news comes; this one goes on.
    /// Pulls `next` in to when the next of these is due, so the loop does not sleep past it.
    pub(super) fn refresh_if_unanswered(&mut self, now: Instant, next: &mut Instant) {
        let unreachable = self.unreachable_leader();
        if !self.net.any_unanswering(now) && unreachable.is_none() {
            if let Some(at) = self.net.next_unanswered_at(now) {
                *next = (*next).min(at);
            }
            return;
        }
        if let Some(at) = self.meta.last_unanswered_refresh.map(|t| t + UNANSWERED_REFRESH_EVERY).filter(|&at| at > now) {
            *next = (*next).min(at);
            return;
        }
        self.meta.last_unanswered_refresh = Some(now);
        self.meta.needed = true;
        // The loop wakes for the next one: when every broker is silent (a paused broker that
        // every partition waits for as an in-sync follower, with acks=all), no answer comes to
        // wake it, and it would sleep its full second between refreshes.
        *next = (*next).min(now + UNANSWERED_REFRESH_EVERY);
        if log::log_enabled!(log::Level::Debug) {
            let waits: Vec<String> = self.net.unanswering(now).iter().map(|(t, w)| format!("broker {} for {} ms", self.net.conns[t].node_id, w.as_millis())).collect();
            match unreachable {
                Some(leader) if waits.is_empty() => log::debug!("records wait for leader {leader}, which cannot be reached: asking metadata again"),
                _ => log::debug!("requests unanswered ({}): asking metadata again", waits.join(", ")),
            }
        }
        if self.meta.inflight && self.meta.last_request.is_some_and(|t| now.duration_since(t) >= UNANSWERED_REFRESH_EVERY) {
            // The metadata request in flight may itself wait on the unanswering broker (sent
            // before it stopped answering, or to it as the only broker connected): another one
            // goes to another broker. An answer that comes late is applied as any other, older
            // leader epochs left out.
            self.meta.inflight = false;
        }
    }

    /// A leader that partitions with records to send wait for, and that the last attempt to
    /// connect to failed (`Connections::reconnect` holds it until a connection to it answers).
    fn unreachable_leader(&self) -> Option<i32> {
        if self.net.reconnect.is_empty() {
            // Every connection attempt answered: nothing to look for (the loop's usual case,
            // so a turn does not walk every partition with records for it).
            return None;
        }
        let parts = &self.parts;
        let waiting = parts.tracked.iter().map(|&id| parts.get(id)).filter(|ps| ps.has_queued() || !ps.retry.is_empty() || ps.has_sealed());
        waiting.map(|ps| ps.leader).find(|&leader| leader >= 0 && self.net.reconnect.contains_key(&leader))
    }

    /// Sends a metadata request when one is needed (or the metadata is older than
    /// `metadata.max.age.ms`). One held back by `retry.backoff.ms` after the previous request
    /// pulls `next` in to when it may go, so the loop does not sleep past it.
    pub(super) fn maybe_request_metadata(&mut self, now: Instant, next: &mut Instant) {
        let cfg = &self.inner.config;
        let stale = self.meta.last_refresh.is_none_or(|t| now.duration_since(t) >= cfg.metadata_max_age);
        if self.meta.inflight || !(self.meta.needed || stale) {
            return;
        }
        if let Some(allowed) = self.meta.last_request.map(|t| t + cfg.retry_backoff).filter(|&at| at > now) {
            *next = (*next).min(allowed);
            return;
        }
        let Some(token) = self.any_connection(now) else { return };
        let topics = self.topics_in_use(now);
        let req = metadata::MetadataRequest { topics: Some(topics), allow_auto_topic_creation: true };
        if !self.push_metadata_request(token, &req, RequestKind::Metadata, now) {
            return;
        }
        log::debug!("metadata request for {} topic(s) to broker {}", req.topics.as_ref().map_or(0, |t| t.len()), self.net.conns[&token].node_id);
        self.meta.inflight = true;
        self.meta.needed = false;
        self.meta.last_request = Some(now);
    }

    /// The topics a metadata request names: those sent to within `metadata.max.idle.ms`, and
    /// those a sender waits for.
    fn topics_in_use(&mut self, now: Instant) -> Vec<String> {
        let registry = self.inner.topics.load();
        let max_idle = self.inner.config.metadata_max_idle;
        let activity = &mut self.meta.activity;
        activity.retain(|t, _| self.meta.topics_of_interest.contains(t));
        let mut out = Vec::with_capacity(self.meta.topics_of_interest.len());
        for t in &self.meta.topics_of_interest {
            let keep = match registry.get(t) {
                Some(state) => {
                    let enqueued = state.partitions.iter().map(|p| p.enqueued.load(Ordering::Relaxed)).sum();
                    let outstanding = state.partitions.iter().map(|p| p.outstanding()).sum();
                    let seen = activity.entry(t.clone()).or_insert((enqueued, now));
                    still_used(seen, enqueued, outstanding, now, max_idle)
                }
                None => true, // not known yet: a sender waits for it
            };
            if keep {
                out.push(t.to_string());
            } else {
                log::debug!("topic {t} not sent to for metadata.max.idle.ms ({} ms): left out of metadata requests", max_idle.as_millis());
            }
        }
        out
    }

    pub(super) fn on_metadata(&mut self, version: i16, body: &[u8], now: Instant) {
        self.meta.inflight = false;
        let resp = match metadata::MetadataResponse::decode(&mut Decoder::new(body), version) {
            Ok(r) => r,
            Err(e) => {
                log::warn!("bad Metadata response: {e}");
                self.meta.needed = true;
                return;
            }
        };
        self.meta.last_refresh = Some(now);
        for b in &resp.brokers {
            self.net.brokers.insert(b.node_id, format_addr(&b.host, b.port as u16));
        }
        let mut errors = Vec::new();
        let mut missing_leader = false;
        for t in &resp.topics {
            let Some(name) = t.name.as_deref() else { continue };
            let code = KafkaCode(t.error_code);
            if !code.is_ok() {
                errors.push((name.to_string(), code));
                continue;
            }
            let leaders: Vec<(i32, i32, i32)> = t.partitions.iter().map(|p| (p.partition_index, p.leader_id, p.leader_epoch)).collect();
            missing_leader |= leaders.iter().any(|(_, l, _)| *l < 0);
            self.update_topic(name, t.topic_id, &leaders);
        }
        if missing_leader {
            self.meta.needed = true;
        }
        self.abandon_unanswering_leaders(now);
        let mut w = self.inner.meta.lock().unwrap_or_else(|e| e.into_inner());
        let registry = self.inner.topics.load();
        w.wanted.retain(|t| !registry.contains_key(t.as_str()));
        for (name, code) in errors {
            if w.wanted.contains(&name) {
                w.errors.insert(name, Error::kafka(code, "metadata for the topic reports an error"));
                // Unknown topics may yet be auto-created: keep asking.
                self.meta.needed |= code == KafkaCode::UNKNOWN_TOPIC_OR_PARTITION || code == KafkaCode::LEADER_NOT_AVAILABLE;
            }
        }
        w.generation += 1;
        drop(w);
        self.inner.meta_cv.notify_all();
    }

    /// Builds or updates the senders' view of a topic after metadata named its partitions
    /// (`(partition, leader, leader epoch)` each).
    fn update_topic(&mut self, name: &str, topic_id: [u8; 16], leaders: &[(i32, i32, i32)]) {
        let count = leaders.len();
        let registry = self.inner.topics.load();
        let existing = registry.get(name).cloned();
        let name: Arc<str> = existing.as_ref().map(|t| t.name.clone()).unwrap_or_else(|| Arc::from(name));
        self.meta.topics_of_interest.insert(name.clone());
        let known_id = self.meta.topic_ids.insert(name.clone(), topic_id);
        self.meta.refreshed.insert(name.clone(), Instant::now());
        // Epochs of a topic deleted and created again start over; an unknown id (all zeros,
        // before v10) says nothing.
        let recreated = known_id.is_some_and(|k| k != topic_id && k != [0; 16] && topic_id != [0; 16]);
        let mut partitions: Vec<Arc<PartitionQueue>> = existing.as_ref().map(|t| t.partitions.clone()).unwrap_or_default();
        let grew = partitions.len() < count;
        while partitions.len() < count {
            let index = partitions.len() as i32;
            let pq = self.parts.add(name.clone(), partitions.first().map(|p| &**p), index);
            partitions.push(pq);
        }
        for &(p, leader, epoch) in leaders {
            let Some(pq) = usize::try_from(p).ok().and_then(|i| partitions.get(i)) else { continue };
            let ps = self.parts.get_mut(pq.id);
            if recreated {
                ps.leader_epoch = -1;
            }
            if epoch >= 0 && epoch < ps.leader_epoch {
                // A broker behind the news (a Produce response's CurrentLeader came first).
                log::debug!("{name}-{p}: metadata names leader {leader} at epoch {epoch}, older than the known epoch {}; kept leader {}", ps.leader_epoch, ps.leader);
                continue;
            }
            ps.leader = leader;
            ps.leader_epoch = epoch;
        }
        if grew {
            let sticky = existing.as_ref().map(|t| t.sticky.clone()).unwrap_or_else(|| Arc::new(StickyPartitioner::new()));
            let state = Arc::new(TopicState { name: name.clone(), partitions, sticky });
            let mut map = (**registry).clone();
            map.insert(name, state.clone());
            // A new topic's parked records go into its partitions before senders can see it,
            // under the parking lock (see `crate::parking`).
            let inner = self.inner.clone();
            let mut failed = Vec::new();
            let mut parking = existing.is_none().then(|| inner.parking.lock().unwrap_or_else(|e| e.into_inner()));
            if let Some(parking) = parking.as_mut() {
                parking::release(&inner, parking, &state, &mut failed);
            }
            self.inner.topics.store(Arc::new(map));
            self.inner.topics_generation.fetch_add(1, Ordering::Release);
            drop(parking);
            self.report_parked(failed);
        }
    }

    /// Batches waiting on a broker that is no longer their partition's leader: if that broker has
    /// left a request unanswered for `UNANSWERED_AFTER` (paused, cut off, partitioned away), its
    /// connection is closed, so that those batches are retried on the new leader now rather than
    /// after `request.timeout.ms`. This keeps idempotence and order: the batches are retried
    /// with their sequence numbers, in sequence order, once every batch of the partition in
    /// flight has come back (`send_ready` sends a partition's retries only with nothing in
    /// flight), and the new leader keeps one copy of a batch the old one replicated before it
    /// stopped. The old broker no longer leads: a write it makes when it wakes up is truncated
    /// when it rejoins as a follower, and its answer finds no connection to come back on.
    fn abandon_unanswering_leaders(&mut self, now: Instant) {
        let mut abandon = Vec::new();
        for (token, waited) in self.net.unanswering(now) {
            let c = &self.net.conns[&token];
            let moved = c.inflight.iter().filter_map(|f| match &f.kind {
                RequestKind::Produce(batches) => Some(batches),
                _ => None,
            });
            let moved = moved.flatten().map(|b| self.parts.get(b.pq.id)).find(|ps| ps.leader >= 0 && ps.leader != c.node_id);
            if let Some(ps) = moved {
                let why = format!(
                    "broker {} left a request unanswered for {} ms and metadata names broker {} the leader of {}-{} now (leader epoch {}); its batches go there",
                    c.node_id,
                    waited.as_millis(),
                    ps.leader,
                    ps.pq.topic,
                    ps.pq.partition,
                    ps.leader_epoch
                );
                abandon.push((token, why));
            }
        }
        for (token, why) in abandon {
            self.close_connection(token, &why, now);
        }
    }

    /// Sends the application's pending metadata queries, each on any ready connection; answers
    /// those past their deadline with `_TIMED_OUT`.
    pub(super) fn send_metadata_queries(&mut self, now: Instant) {
        while let Some(q) = self.inner.meta_queries.pop() {
            self.meta.queries.push_back(q);
        }
        let now_i = Instant::now();
        for q in std::mem::take(&mut self.meta.queries) {
            if q.deadline <= now_i {
                let _ = q.reply.send(Err(Error::local(LocalCode::TimedOut, "no metadata answer within the timeout")));
            } else {
                self.meta.queries.push_back(q);
            }
        }
        while let Some(q) = self.meta.queries.pop_front() {
            let Some(token) = self.any_connection(now) else {
                self.meta.queries.push_front(q);
                return;
            };
            let id = self.meta.next_query_id;
            let req = metadata::MetadataRequest { topics: q.topics.clone(), allow_auto_topic_creation: false };
            if !self.push_metadata_request(token, &req, RequestKind::MetadataQuery(id), now) {
                self.meta.queries.push_front(q);
                return;
            }
            self.meta.next_query_id += 1;
            self.meta.queries_inflight.insert(id, q);
        }
    }

    /// Queues a Metadata request on a ready connection; false when it cannot take one.
    pub(super) fn push_metadata_request(&mut self, token: Token, req: &metadata::MetadataRequest, kind: RequestKind, now: Instant) -> bool {
        let corr = self.net.next_correlation();
        let client_id = self.inner.config.client_id.clone();
        let c = self.net.conns.get_mut(&token).unwrap();
        let Some(v) = c.versions.metadata else { return false };
        let buf = c.write_buffer();
        let start = buf.len();
        let frame = messages::begin_request(buf, messages::API_KEY_METADATA, v, corr, &client_id, v >= metadata::FIRST_FLEXIBLE_VERSION);
        req.encode(buf, v);
        messages::finish_request(buf, frame);
        let n = buf.len() - start;
        c.push_request(Some(InFlight { correlation_id: corr, api_key: messages::API_KEY_METADATA, version: v, sent_at: now, kind }), n);
        true
    }

    pub(super) fn on_metadata_query(&mut self, token: Token, id: u64, version: i16, body: &[u8]) {
        let Some(q) = self.meta.queries_inflight.remove(&id) else { return };
        let (node, addr) = self.net.conns.get(&token).map_or((-1, String::new()), |c| (c.node_id, c.addr.clone()));
        let answer = metadata::MetadataResponse::decode(&mut Decoder::new(body), version)
            .map(|resp| ClusterMetadata::from_response(resp, node, &addr))
            .map_err(|e| Error::local(LocalCode::Transport, format!("bad Metadata response from {addr}: {e}")));
        let _ = q.reply.send(answer);
    }
}

#[cfg(test)]
mod tests {
    use super::still_used;
    use std::time::{Duration, Instant};

    #[test]
    fn a_topic_leaves_metadata_requests_after_max_idle_without_sends() {
        let idle = Duration::from_secs(5);
        let t0 = Instant::now();
        let mut seen = (10, t0);
        assert!(still_used(&mut seen, 10, 0, t0 + Duration::from_secs(4), idle));
        assert!(!still_used(&mut seen, 10, 0, t0 + Duration::from_secs(5), idle), "idle for metadata.max.idle.ms");
        assert!(still_used(&mut seen, 11, 0, t0 + Duration::from_secs(6), idle), "a send brings it back");
        assert!(still_used(&mut seen, 11, 0, t0 + Duration::from_secs(10), idle));
        assert!(still_used(&mut seen, 11, 3, t0 + Duration::from_secs(30), idle), "records not yet reported keep it");
        assert!(!still_used(&mut seen, 11, 0, t0 + Duration::from_secs(36), idle));
    }
}
