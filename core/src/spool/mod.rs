//! The on-disk spool (`spool.dir`, docs/outages.md): records kept in local files through an
//! outage and a restart, and sent once the cluster takes them.
//!
//! `spool.when=full`: `send()` that finds `buffer.memory` full appends the record here instead of
//! waiting, and the producer is *spilling*: every later `send()` appends too, so records leave the
//! spool in the order they came (per partition, spilled records go before later ones). The
//! drainer thread reads the records back oldest first and feeds them to the ordinary send path,
//! where it (not the application) waits for buffer room. Once it has read everything, and no
//! `send()` appended meanwhile (both under the mutex), sending is direct again.
//! `spool.when=always`: every record is appended before `send()` returns and then sent from
//! memory like any other (unless spilling: then the drainer reads it back); the disk copy is only
//! the log, read back by a later producer should this one die first. Its completion waits here
//! (in `State::direct`, by id: no hashing) until its report. A record appended for direct sending that finds `buffer.memory`
//! full is handed to the drainer instead ([`Spool::requeue`]): `send()` returns once the record
//! is on disk, and the producer is spilling from then on.
//!
//! A spilled record's completion (callback, future, opaque) stays in memory here, keyed by its
//! id, until its report: the queued record carries [`Completion::Spooled`], which the delivery
//! thread resolves through [`Spool::reported`]. A report acknowledges the record on disk (an ack
//! marker, written before its completion runs: a crash never sends again a record whose
//! completion ran; one marker per report, not per batch, so that a crash among a batch's
//! completions leaves those not yet run to the next producer's recovered handler), but
//! for `_DESTROY` (the producer closed before the record was sent): such a record stays for the
//! next producer on the directory. Records a previous process left are read first and reported
//! through the recovered handler ([`crate::ProducerBuilder::spool_recovered_handler`]).
//!
//! Threads: `send()` callers append; the drainer reads, in runs of records it then holds in its
//! [`Hand`] (under `feed`) until each is queued; the delivery thread acknowledges; the sync thread
//! forces writes to disk (`spool.fsync=interval`). All of it but the hand under `state`.

mod entry;
pub mod log;
mod map;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::completion::Completion;
use crate::config::{SpoolConfig, SpoolFsync, SpoolWhen};
use crate::error::{Error, LocalCode, Result};
use crate::delivery::AloneReport;
use crate::protocol::record_batch;
use crate::record::{Delivery, ProducerRecord};
use log::{Pos, SpoolLog, SpoolRecordRef, SpooledRecord};

pub use log::Damage;

/// Handler for the reports of records a previous producer left in the spool.
pub type RecoveredHandler = Arc<dyn Fn(&Delivery<'_>) + Send + Sync>;

/// A spooled record's completion and own deadline, until its report. Nothing of the record
/// itself: it is on disk (read back at `pos` for a report without a send).
pub(crate) struct Pending {
    pub completion: Completion,
    deadline: Option<Instant>,
    /// Where the record is in the spool.
    pub pos: Pos,
}

/// What the spool keeps for a record this producer appended, until its report.
enum Slot {
    /// Reported, purged or abandoned.
    Done,
    /// A write-ahead record sent directly: its completion and place.
    Direct(Completion, Pos),
    /// A spilled record, for the drainer to send (not boxed: an allocation per spilled record
    /// cost more than the 16 bytes a direct record's slot gains from it).
    Spilled(Pending),
}

struct State {
    log: SpoolLog,
    /// The records this producer appended, by id from `base` (one slot per record appended;
    /// the front is trimmed as records are reported). A deque rather than a map: ids are
    /// consecutive, and a spool holding a million spilled records would otherwise pay a hash
    /// table's cache misses per record.
    slots: VecDeque<Slot>,
    base: u64,
    /// Completions of records an earlier producer left, once the drainer took them, by id.
    recovered: HashMap<u64, Pending>,
    /// Records the drainer took and has not yet queued (or failed): its [`Hand`].
    feeding: u64,
    /// A write or sync failed: the message, repeated to every later append.
    broken: Option<String>,
    last_sync: Instant,
    /// Threads waiting on each of the spool's condition variables now (see [`Spool::wake`]).
    waiting: [u32; 3],
}

/// What a thread waits for in the spool; each has its own condition variable, so that a change
/// wakes only the threads it concerns (a flush waiting for the drainer is not woken by every
/// record appended or reported).
#[derive(Clone, Copy)]
enum Wait {
    /// Appends: bytes freed under `spool.max.bytes` (acknowledged segments deleted).
    Room = 0,
    /// The drainer: records to send.
    Records = 1,
    /// `flush` and `close`: every spooled record handed to the send path.
    Sent = 2,
}

/// The records the drainer took from the spool and has not yet queued, oldest first (under
/// [`Spool::feed`]). It takes them in runs of up to [`HAND`], so that the spool's lock, which
/// `send()` takes for every append, is taken twice per run rather than three times per record.
#[derive(Default)]
pub(crate) struct Hand {
    recs: VecDeque<InHand>,
    /// Records queued already, read into again (their strings and vectors reused).
    free: Vec<SpooledRecord>,
}

/// A record in the drainer's hand.
pub(crate) struct InHand {
    pub rec: SpooledRecord,
    /// Its own deadline (spilled by this producer with one).
    pub deadline: Option<Instant>,
}

impl Hand {
    /// The oldest record in hand.
    pub fn front(&self) -> Option<&InHand> {
        self.recs.front()
    }

    /// The oldest record is queued or failed.
    pub fn pop(&mut self) {
        if let Some(h) = self.recs.pop_front() {
            if self.free.len() < HAND {
                self.free.push(h.rec);
            }
        }
    }

    /// Drops what is left (the producer closes: the records stay in the spool's files).
    pub fn clear(&mut self) {
        self.recs.clear();
    }
}

/// Records the drainer takes at once, at most.
const HAND: usize = 64;

pub(crate) struct Spool {
    state: Mutex<State>,
    /// The drainer's records in hand. Held by the drainer while it takes records and while it
    /// queues one (without waiting: it waits for room or metadata outside), and by the I/O
    /// thread while it purges: a purge finds each record the drainer took either queued already
    /// (and purges it there) or still in hand (and fails it). Taken before `state` when both are.
    pub feed: Mutex<Hand>,
    /// One per [`Wait`].
    changed: [Condvar; 3],
    pub when: SpoolWhen,
    fsync: SpoolFsync,
    max_bytes: u64,
    pub dir: PathBuf,
    /// Whether records go to the spool rather than straight to the buffer: set by an append that
    /// leaves records unread, cleared by the drainer once it has read everything (both under
    /// `state`); read without the lock by `send()`.
    spilling: AtomicBool,
    /// No more appends (the producer is closing).
    pub closing: AtomicBool,
    /// The drainer and sync threads end.
    pub stop: AtomicBool,
    recovered: Option<RecoveredHandler>,
    /// Ids below this were written by an earlier process.
    first_new_id: u64,
    /// fdatasync calls made on appends, purges and `sync()` (the statistics' `spool.syncs`, with
    /// `SpoolLog::roll_syncs`); written by whichever thread syncs.
    syncs: AtomicU64,
}

/// What [`Spool::append`] did with the record.
pub(crate) enum Appended {
    /// Appended; the drainer sends it.
    Spilled,
    /// Appended (`spool.when=always`) with this id; the caller sends it with
    /// `Completion::Spooled` (the completion given to [`Spool::append`] waits here).
    Direct(u64),
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn io_error(dir: &std::path::Path, what: &str, e: std::io::Error) -> Error {
    Error::local(LocalCode::Internal, format!("spool.dir {}: {what}: {e}", dir.display()))
}

impl Spool {
    /// Opens `spool.dir`, recovering what a previous producer left (reported as damage when a
    /// segment had to be truncated).
    pub fn open(cfg: &SpoolConfig, recovered: Option<RecoveredHandler>) -> Result<(Arc<Spool>, Vec<Damage>)> {
        let (mut log, damage) = SpoolLog::open(&cfg.dir, cfg.max_bytes).map_err(|e| {
            let code = if e.kind() == std::io::ErrorKind::WouldBlock { LocalCode::State } else { LocalCode::InvalidArgument };
            Error::local(code, format!("cannot open the spool: {e}"))
        })?;
        let left = log.unread();
        if left > 0 {
            ::log::info!("spool: {left} record(s) left in {} by an earlier producer are sent before new ones", cfg.dir.display());
        }
        let first_new_id = log.next_id();
        log.sync_on_roll = cfg.fsync != SpoolFsync::Never;
        let spool = Spool {
            spilling: AtomicBool::new(left > 0),
            state: Mutex::new(State { log, slots: VecDeque::new(), base: first_new_id, recovered: HashMap::new(), feeding: 0, broken: None, last_sync: Instant::now(), waiting: [0; 3] }),
            feed: Mutex::new(Hand::default()),
            changed: [Condvar::new(), Condvar::new(), Condvar::new()],
            when: cfg.when,
            fsync: cfg.fsync,
            max_bytes: cfg.max_bytes,
            dir: cfg.dir.clone(),
            closing: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            recovered,
            first_new_id,
            syncs: AtomicU64::new(0),
        };
        Ok((Arc::new(spool), damage))
    }

    /// Whether `send()` must append (records are waiting in the spool).
    #[inline]
    pub fn spilling(&self) -> bool {
        self.spilling.load(Ordering::Acquire)
    }

    /// Appends a record, waiting up to `max_block` for room under `spool.max.bytes`. `direct`: the
    /// caller sends it itself unless records are waiting in the spool (then it is spilled).
    pub fn append(&self, rec: &ProducerRecord<'_>, timestamp: i64, completion: Completion, max_block: Duration, block: bool, direct: bool) -> Result<Appended> {
        let sref = SpoolRecordRef { topic: rec.topic, partition: rec.partition, key: rec.key, value: rec.value, headers: &rec.headers, timestamp };
        let need = SpoolLog::entry_bytes(&sref);
        if need + 8 > self.max_bytes {
            return Err(Error::local(
                LocalCode::MessageTooLarge,
                format!("the record takes {need} bytes in the spool, more than spool.max.bytes ({} bytes) of spool.dir {}", self.max_bytes, self.dir.display()),
            ));
        }
        let mut g = lock(&self.state);
        // Read from the clock only once the spool is full (a clock read per record showed in
        // profiles of the write-ahead spool).
        let mut deadline = None;
        loop {
            if let Some(b) = &g.broken {
                return Err(Error::local(LocalCode::Internal, format!("the spool in {} cannot be written: {b}", self.dir.display())));
            }
            if self.closing.load(Ordering::SeqCst) {
                return Err(Error::local(LocalCode::State, "the producer is closed; send() is no longer possible"));
            }
            if g.log.bytes() + need <= self.max_bytes {
                break;
            }
            let now = Instant::now();
            let deadline = *deadline.get_or_insert_with(|| now + max_block.min(crate::clock::LONGEST_WAIT));
            if !block || now >= deadline {
                let waited = if block { " after waiting max.block.ms" } else { "" };
                return Err(Error::local(
                    LocalCode::QueueFull,
                    format!(
                        "the spool is full{waited}: spool.dir {} holds {} bytes ({} record(s) not yet acknowledged), spool.max.bytes is {}; the record needs {need} more",
                        self.dir.display(),
                        g.log.bytes(),
                        g.log.unacked(),
                        self.max_bytes
                    ),
                ));
            }
            g = self.wait(g, Wait::Room, (deadline - now).min(Duration::from_millis(100)));
        }
        let direct = direct && g.log.cursor_at_end() && g.feeding == 0;
        let (id, pos) = match g.log.append(&sref, direct) {
            Ok(v) => v,
            Err(e) => {
                g.broken = Some(e.to_string());
                self.wake(g, &[Wait::Room, Wait::Sent]);
                return Err(io_error(&self.dir, "cannot append a record", e));
            }
        };
        if self.fsync == SpoolFsync::Always {
            if let Err(e) = self.sync_file(&g.log.tail_file()) {
                g.broken = Some(e.to_string());
                self.wake(g, &[Wait::Room, Wait::Sent]);
                return Err(io_error(&self.dir, "cannot sync", e));
            }
            g.log.dirty = false;
        }
        debug_assert_eq!(g.base + g.slots.len() as u64, id, "one slot per record appended");
        let prefault = g.log.prefault.take();
        let appended = if direct {
            g.slots.push_back(Slot::Direct(completion, pos));
            drop(g);
            Appended::Direct(id)
        } else {
            g.slots.push_back(Slot::Spilled(Pending { completion, deadline: rec.deadline, pos }));
            self.spilling.store(true, Ordering::Release);
            self.wake(g, &[Wait::Records]);
            Appended::Spilled
        };
        if let Some(p) = prefault {
            p.run();
        }
        Ok(appended)
    }

    /// A record appended for direct sending finds `buffer.memory` full: the drainer sends it
    /// (before every record appended after it), and `send()` appends from now on until the
    /// drainer has caught up. Fails only when the producer is closing (or the spool broke): then
    /// the caller abandons the record.
    pub fn requeue(&self, id: u64, rec: &ProducerRecord<'_>) -> Result<()> {
        let mut g = lock(&self.state);
        if let Some(b) = &g.broken {
            return Err(Error::local(LocalCode::Internal, format!("the spool in {} cannot be written: {b}", self.dir.display())));
        }
        if self.closing.load(Ordering::SeqCst) {
            return Err(Error::local(LocalCode::State, "the producer is closed; send() is no longer possible"));
        }
        let Some(slot) = slot_mut(&mut g, id).filter(|s| matches!(s, Slot::Direct(..))) else {
            return Err(Error::local(LocalCode::Internal, format!("spool: record {id} handed back to the spool is not one sent directly")));
        };
        let Slot::Direct(completion, pos) = std::mem::replace(slot, Slot::Done) else { unreachable!("matched above") };
        *slot = Slot::Spilled(Pending { completion, deadline: rec.deadline, pos });
        g.log.requeue(id, pos);
        self.spilling.store(true, Ordering::Release);
        self.wake(g, &[Wait::Records]);
        Ok(())
    }

    /// A record appended for direct sending was refused by the send path after all: no report
    /// will come, so it is acknowledged on disk (not to be sent by a later producer).
    pub fn abandon(&self, id: u64) {
        let mut g = lock(&self.state);
        if take_direct(&mut g, id).is_none() {
            take_pending(&mut g, id);
        }
        if let Err(e) = g.log.ack(&[id]) {
            ::log::error!("spool.dir {}: cannot write an ack marker: {e}", self.dir.display());
        }
        self.wake(g, &[Wait::Room]);
    }

    /// The drainer: waits for records to send, then moves up to [`HAND`] of them, oldest first,
    /// into its hand (each with its own deadline); they count as being fed until [`Spool::fed`].
    /// The number taken; `None` once `stop` is set or the spool cannot be read.
    pub fn take(&self) -> Option<usize> {
        loop {
            // Waits without holding `feed`: a purge must not wait for records to come.
            {
                let mut g = lock(&self.state);
                while g.log.unread() == 0 {
                    if self.stop.load(Ordering::SeqCst) {
                        return None;
                    }
                    if g.feeding == 0 && self.spilling.swap(false, Ordering::AcqRel) && g.waiting[Wait::Sent as usize] > 0 {
                        self.changed[Wait::Sent as usize].notify_all();
                    }
                    g = self.wait(g, Wait::Records, Duration::from_millis(200));
                }
            }
            if self.stop.load(Ordering::SeqCst) {
                return None;
            }
            let mut hand = self.feed.lock().unwrap_or_else(|e| e.into_inner());
            let mut g = lock(&self.state);
            let (mut taken, mut failed) = (0, false);
            while taken < HAND && g.log.unread() > 0 {
                let mut r = hand.free.pop().unwrap_or_default();
                let pos = match g.log.next_unsent_into(&mut r) {
                    Ok(Some(pos)) => pos,
                    Ok(None) => break,
                    Err(e) => {
                        ::log::error!("spool.dir {}: cannot read the spool back: {e}; the records left in it stay there", self.dir.display());
                        g.broken = Some(e.to_string());
                        // Those taken before are fed; the next call fails at once.
                        failed = true;
                        break;
                    }
                };
                taken += 1;
                // Spilled by this producer: its own deadline, if any.
                let spilled = match slot_mut(&mut g, r.id) {
                    Some(Slot::Spilled(p)) => Some(p.deadline),
                    _ => None,
                };
                if spilled.is_none() && !g.recovered.contains_key(&r.id) {
                    // Left by an earlier producer: reported through the recovered handler.
                    let p = Pending { completion: self.recovered_completion(), deadline: None, pos };
                    g.recovered.insert(r.id, p);
                }
                hand.recs.push_back(InHand { rec: r, deadline: spilled.flatten() });
            }
            g.feeding += taken as u64;
            if taken > 0 {
                return Some(taken);
            }
            if failed {
                return None;
            }
            // Counted unread but not found (not expected): looked for again after a while.
            drop(hand);
            let _g = self.wait(g, Wait::Records, Duration::from_millis(200));
        }
    }

    /// The completion of a record an earlier producer left: the recovered handler.
    fn recovered_completion(&self) -> Completion {
        let h = self.recovered.clone();
        Completion::Callback(Box::new(move |d: &Delivery<'_>| match &h {
            Some(h) => h(d),
            None => ::log::info!("spool: recovered record to {}-{}: {}", d.topic, d.partition, d.error.map_or_else(|| format!("offset {}", d.offset), |e| e.to_string())),
        }))
    }

    /// The drainer has queued, failed or seen purged the `n` records it took last.
    pub fn fed(&self, n: usize) {
        let mut g = lock(&self.state);
        g.feeding -= n as u64;
        if g.feeding == 0 && g.log.unread() == 0 {
            self.spilling.store(false, Ordering::Release);
            self.wake(g, &[Wait::Sent]);
        }
    }

    /// A purge of the queue (the I/O thread, holding [`Spool::feed`]): takes out of the
    /// drainer's hand every record `matches` picks and fails it (acknowledged on disk), oldest
    /// first.
    pub fn purge_in_hand(&self, hand: &mut Hand, matches: &dyn Fn(&str, Option<i32>) -> bool, error: &Arc<Error>) -> Vec<AloneReport> {
        let (out, keep): (VecDeque<InHand>, VecDeque<InHand>) = hand.recs.drain(..).partition(|h| matches(&h.rec.topic, h.rec.partition));
        hand.recs = keep;
        if out.is_empty() {
            return Vec::new();
        }
        let ids: Vec<u64> = out.iter().map(|h| h.rec.id).collect();
        let mut g = lock(&self.state);
        let completions = self.purged(&mut g, &ids);
        self.wake(g, &[Wait::Room]);
        out.iter().zip(completions).map(|(h, c)| alone_report(&h.rec, error.clone(), c)).collect()
    }

    /// A purge of the queue (`purge_with` on the application's thread): takes out every record
    /// not yet handed to the send path whose topic and partition `matches`, acknowledges them on
    /// disk (synced, unless `spool.fsync=never`, so that no later producer sends them) and
    /// returns their reports, oldest first.
    pub fn purge_unsent(&self, matches: &dyn Fn(&str, Option<i32>) -> bool, error: &Arc<Error>) -> Vec<AloneReport> {
        let mut g = lock(&self.state);
        let recs = match g.log.take_unread_matching(matches) {
            Ok(v) => v,
            Err(e) => {
                ::log::error!("spool.dir {}: purge cannot read the spool: {e}; the records in it are not purged", self.dir.display());
                return Vec::new();
            }
        };
        if recs.is_empty() {
            return Vec::new();
        }
        let ids: Vec<u64> = recs.iter().map(|r| r.id).collect();
        let completions = self.purged(&mut g, &ids);
        if self.fsync != SpoolFsync::Never {
            if let Err(e) = self.sync_file(&g.log.tail_file()) {
                ::log::error!("spool.dir {}: cannot sync the purge's ack marker: {e}", self.dir.display());
            }
        }
        self.wake(g, &[Wait::Room, Wait::Sent]);
        ::log::debug!("purge: {} record(s) taken out of the spool (spool.dir {})", recs.len(), self.dir.display());
        recs.iter().zip(completions).map(|(r, c)| alone_report(r, error.clone(), c)).collect()
    }

    /// Acknowledges purged records on disk and takes their completions (the recovered handler
    /// for those an earlier producer left and the drainer has not reached).
    fn purged(&self, g: &mut State, ids: &[u64]) -> Vec<Completion> {
        if let Err(e) = g.log.ack(ids) {
            ::log::error!("spool.dir {}: cannot write an ack marker for {} purged record(s) (a later producer may send them): {e}", self.dir.display(), ids.len());
        }
        ids.iter().map(|id| take_pending(g, *id).map(|p| p.completion).unwrap_or_else(|| self.recovered_completion())).collect()
    }

    /// A spooled record was reported: its completion, to be run. Acknowledged on disk (before
    /// the completion runs) unless it failed because the producer closed (it stays for the next
    /// producer on the directory).
    pub fn reported(&self, id: u64, error: Option<&Error>) -> Option<Completion> {
        let keep = error.is_some_and(|e| e.is_local(LocalCode::Closed));
        let mut g = lock(&self.state);
        let completion = match take_direct(&mut g, id) {
            Some((c, _)) => Some(c),
            None => take_pending(&mut g, id).map(|p| p.completion),
        };
        let before = g.log.bytes();
        if !keep {
            if let Err(e) = g.log.ack(&[id]) {
                ::log::error!("spool.dir {}: cannot write an ack marker (the record may be sent again by a later producer): {e}", self.dir.display());
            }
        }
        let prefault = g.log.prefault.take();
        // Appends waiting for room: segments deleted.
        if g.log.bytes() < before {
            self.wake(g, &[Wait::Room]);
        } else {
            drop(g);
        }
        if let Some(p) = prefault {
            p.run();
        }
        completion
    }

    /// The record at `pos` (a record the producer closes before it was sent: for its report).
    pub fn record_at(&self, pos: Pos) -> Option<SpooledRecord> {
        lock(&self.state).log.read_at(pos).ok()
    }

    /// Whether `id` was left by an earlier process.
    pub fn is_recovered(&self, id: u64) -> bool {
        id < self.first_new_id
    }

    /// Records in the spool not yet handed to the send path.
    pub fn unsent(&self) -> u64 {
        let g = lock(&self.state);
        g.log.unread() + g.feeding
    }

    /// Waits until every spooled record is handed to the send path, or `deadline`.
    pub fn wait_sent(&self, deadline: Instant) -> bool {
        let mut g = lock(&self.state);
        loop {
            if g.log.unread() + g.feeding == 0 {
                return true;
            }
            let now = Instant::now();
            if now >= deadline || g.broken.is_some() || self.stop.load(Ordering::SeqCst) {
                return false;
            }
            g = self.wait(g, Wait::Sent, (deadline - now).min(Duration::from_millis(100)));
        }
    }

    /// The completions of records still only on disk (the producer closed before they were
    /// sent): they stay in the files, for the next producer.
    pub fn take_unsent(&self) -> Vec<(u64, Pending)> {
        let mut g = lock(&self.state);
        let mut v: Vec<(u64, Pending)> = g.recovered.drain().collect();
        let base = g.base;
        g.base += g.slots.len() as u64;
        let slots: Vec<Slot> = g.slots.drain(..).collect();
        for (id, slot) in (base..).zip(slots) {
            match slot {
                Slot::Spilled(p) => v.push((id, p)),
                // None expected: a record sent directly is reported through its partition queue.
                Slot::Direct(completion, pos) => v.push((id, Pending { completion, deadline: None, pos })),
                Slot::Done => {}
            }
        }
        v.sort_by_key(|(id, _)| *id);
        v
    }

    /// The sync thread's turn: syncs when `every` has passed since the last sync.
    pub fn sync_due(&self, every: Duration) {
        let due = {
            let g = lock(&self.state);
            g.log.dirty && g.last_sync.elapsed() >= every
        };
        if due {
            self.sync();
        }
    }

    /// Forces what was written to disk, if anything was (`spool.fsync=interval`, and at close).
    pub fn sync(&self) {
        if self.fsync == SpoolFsync::Never {
            return;
        }
        let f = {
            let mut g = lock(&self.state);
            if !g.log.dirty {
                return;
            }
            g.log.dirty = false;
            g.last_sync = Instant::now();
            g.log.tail_file()
        };
        if let Err(e) = self.sync_file(&f) {
            ::log::error!("spool.dir {}: cannot sync: {e}", self.dir.display());
        }
    }

    fn sync_file(&self, f: &std::fs::File) -> std::io::Result<()> {
        f.sync_data()?;
        self.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// fdatasync calls made so far (the statistics' `spool.syncs`).
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed) + lock(&self.state).log.roll_syncs
    }

    /// `spool.fsync.interval.ms`, when that is the policy.
    pub fn sync_interval(&self) -> Option<Duration> {
        match self.fsync {
            SpoolFsync::Interval(d) => Some(d),
            _ => None,
        }
    }

    /// Lets another producer open the directory (close: nothing is written after this).
    pub fn unlock(&self) {
        use std::os::unix::io::AsRawFd;
        let mut g = lock(&self.state);
        g.log.close();
        // SAFETY: flock on the lock file's descriptor, which the log owns.
        unsafe { libc::flock(g.log.lock_file().as_raw_fd(), libc::LOCK_UN) };
    }

    /// Waits on `changed[what]` for up to `timeout`, counted in `waiting` meanwhile.
    fn wait<'a>(&self, mut g: MutexGuard<'a, State>, what: Wait, timeout: Duration) -> MutexGuard<'a, State> {
        g.waiting[what as usize] += 1;
        let mut g = self.changed[what as usize].wait_timeout(g, timeout).unwrap_or_else(|e| e.into_inner()).0;
        g.waiting[what as usize] -= 1;
        g
    }

    /// Releases the state after a change and wakes the threads waiting for what it concerns, if
    /// any: a wake-up is a system call, and most changes (one per record appended, fed or
    /// reported) have nobody waiting. A waiter counts itself under the lock before it sleeps, so
    /// none is missed.
    fn wake(&self, g: MutexGuard<'_, State>, what: &[Wait]) {
        let waiting = g.waiting;
        drop(g);
        for w in what {
            if waiting[*w as usize] > 0 {
                self.changed[*w as usize].notify_all();
            }
        }
    }

    /// Wakes every waiter (the producer closes: the drainer stops).
    pub fn wake_all(&self) {
        let _g = lock(&self.state);
        for c in &self.changed {
            c.notify_all();
        }
    }
}

/// The slot of record `id`, if this producer appended it and its slot is not trimmed yet.
fn slot_mut(g: &mut State, id: u64) -> Option<&mut Slot> {
    let i = usize::try_from(id.checked_sub(g.base)?).ok()?;
    g.slots.get_mut(i)
}

/// Takes slot `id`'s contents if `keep` says so, leaving `Done`, and trims the finished front.
fn take_slot(g: &mut State, id: u64, keep: impl FnOnce(&Slot) -> bool) -> Option<Slot> {
    let slot = slot_mut(g, id)?;
    if !keep(slot) {
        return None;
    }
    let taken = std::mem::replace(slot, Slot::Done);
    while matches!(g.slots.front(), Some(Slot::Done)) {
        g.slots.pop_front();
        g.base += 1;
    }
    Some(taken)
}

/// Takes the completion and place of a record sent directly, if `id` is one not reported yet.
fn take_direct(g: &mut State, id: u64) -> Option<(Completion, Pos)> {
    match take_slot(g, id, |s| matches!(s, Slot::Direct(..)))? {
        Slot::Direct(c, pos) => Some((c, pos)),
        _ => None,
    }
}

/// Takes what waits for the report of a spilled record, or of one an earlier producer left.
fn take_pending(g: &mut State, id: u64) -> Option<Pending> {
    match take_slot(g, id, |s| matches!(s, Slot::Spilled(_))) {
        Some(Slot::Spilled(p)) => Some(p),
        _ => g.recovered.remove(&id),
    }
}

/// Calls `f` with a spooled record as `send()` takes it (`deadline`: its own, if any).
pub(crate) fn as_record<R>(r: &SpooledRecord, deadline: Option<Instant>, f: impl FnOnce(&ProducerRecord<'_>) -> R) -> R {
    let headers: Vec<(&str, Option<&[u8]>)> = r.headers.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
    f(&ProducerRecord { topic: &r.topic, partition: r.partition, key: r.key.as_deref(), value: r.value.as_deref(), headers, timestamp: Some(r.timestamp), deadline })
}

/// The report of a record that fails outside every partition queue, with its key, value and
/// headers.
pub(crate) fn alone_report_of(rec: &ProducerRecord<'_>, error: Arc<Error>, completion: Completion) -> AloneReport {
    let hdrs: Vec<(&[u8], Option<&[u8]>)> = rec.headers.iter().map(|(k, v)| (k.as_bytes(), *v)).collect();
    let mut body = vec![0u8; record_batch::record_body_len(rec.key, rec.value, &hdrs)];
    record_batch::encode_record_body(&mut body, rec.key, rec.value, &hdrs);
    AloneReport { topic: Arc::from(rec.topic), partition: rec.partition.unwrap_or(-1), timestamp: rec.timestamp.unwrap_or(-1), body, error, completion }
}

fn alone_report(r: &SpooledRecord, error: Arc<Error>, completion: Completion) -> AloneReport {
    as_record(r, None, |rec| alone_report_of(rec, error, completion))
}
