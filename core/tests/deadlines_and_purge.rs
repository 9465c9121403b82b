//! Per-record deadlines and purge flags against a real broker that the tests pause: what each
//! record's one report says, that memory comes back, and what Kafka's own consumer reads back.
//! A private one-broker cluster (port 26310), so pausing it disturbs no other test.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::cluster::*;
use common::*;
use rafka_core::{Error, LocalCode, Producer, ProducerRecord, PurgeFlags, PurgeTarget};

fn cluster() -> MutexGuard<'static, Cluster> {
    Cluster::shared("deadline-purge", 1, 26310)
}

/// One report: when it came, and the offset or the error.
type Report = (Instant, Result<i64, Error>);

/// Every report, by the record's value.
#[derive(Clone, Default)]
struct Reports(Arc<Mutex<HashMap<String, Vec<Report>>>>);

impl Reports {
    fn send(&self, p: &Producer, rec: ProducerRecord<'_>) {
        let label = String::from_utf8(rec.value.unwrap().to_vec()).unwrap();
        let label = label.split(':').next().unwrap().to_string();
        let me = self.clone();
        p.send_with_callback(&rec, move |d| {
            let r = d.to_result().map(|m| m.offset);
            me.0.lock().unwrap().entry(label).or_default().push((Instant::now(), r));
        })
        .unwrap();
    }

    /// The one report of `label`, waited for up to `timeout`; panics on none or several.
    fn one(&self, label: &str, timeout: Duration) -> Report {
        let end = Instant::now() + timeout;
        loop {
            if let Some(v) = self.0.lock().unwrap().get(label) {
                assert_eq!(v.len(), 1, "{label}: exactly one report, got {v:?}");
                return v[0].clone();
            }
            assert!(Instant::now() < end, "{label}: no report within {timeout:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn count(&self, label: &str) -> usize {
        self.0.lock().unwrap().get(label).map_or(0, |v| v.len())
    }

    fn total(&self) -> usize {
        self.0.lock().unwrap().values().map(|v| v.len()).sum()
    }
}

struct Show(Arc<Mutex<String>>);
impl Drop for Show {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("last statistics: {}", self.0.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }
}

/// A producer whose one request in flight stays unanswered while the broker is paused, so that
/// later records wait in the queue behind it. Its statistics tell when a request is in flight.
struct Prod {
    p: Producer,
    stats: Arc<Mutex<String>>,
}

impl std::ops::Deref for Prod {
    type Target = Producer;
    fn deref(&self) -> &Producer {
        &self.p
    }
}

impl Prod {
    /// Waits until no request has been in flight for 500 ms (statistics every 50 ms): the
    /// metadata refreshes that follow a topic's creation are done, so the one request the broker
    /// holds when paused is the test's Produce request (one request in flight per connection).
    fn settle(&self) {
        let stats = self.stats.clone();
        let busy = move || {
            let s = stats.lock().unwrap();
            s.is_empty() || s.match_indices("\"waitresp_cnt\":").any(|(i, m)| s[i + m.len()..].starts_with(|c: char| c.is_ascii_digit() && c != '0'))
        };
        let end = Instant::now() + Duration::from_secs(20);
        let mut quiet_since = Instant::now();
        while quiet_since.elapsed() < Duration::from_millis(500) {
            assert!(Instant::now() < end, "requests kept going for 20 s");
            if busy() {
                quiet_since = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until the statistics show a request to the broker unanswered (the paused broker's).
    /// And until no record is left in a partition queue while some are unreported, so that a
    /// metadata refresh in flight is not taken for the Produce request.
    fn wait_for_a_request_in_flight(&self) {
        let stats = self.stats.clone();
        stats.lock().unwrap().clear(); // a document from before the pause may show the warm-up's request
        // A request awaits its answer and the records sent are out of their queues.
        let last = self.stats.clone();
        let _show = Show(last);
        wait_until("a Produce request in flight", Duration::from_secs(20), move || {
            let s = stats.lock().unwrap();
            let nonzero = |field: &str| s.match_indices(field).any(|(i, m)| s[i + m.len()..].starts_with(|c: char| c.is_ascii_digit() && c != '0'));
            nonzero("\"waitresp_cnt\":") && nonzero("\"msg_cnt\":") && !nonzero("\"msgq_bytes\":")
        });
    }
}

fn producer(c: &Cluster, extra: &[(&str, &str)]) -> Prod {
    let mut settings = vec![
        ("max.in.flight.requests.per.connection", "1"),
        ("linger.ms", "0"),
        ("request.timeout.ms", "60000"),
        ("delivery.timeout.ms", "120000"),
        ("acks", "all"),
        ("statistics.interval.ms", "50"),
    ];
    settings.extend_from_slice(extra);
    let stats = Arc::new(Mutex::new(String::new()));
    let s = stats.clone();
    let p = Producer::builder(c.config(&settings)).stats_handler(move |j| *s.lock().unwrap() = j.to_string()).build().unwrap();
    Prod { p, stats }
}

fn topic(c: &Cluster, prefix: &str, partitions: u32) -> String {
    let t = unique_topic(prefix);
    c.kafka(&["topic", "create", &t, "--partitions", &partitions.to_string(), "--replication-factor", "1"]);
    await_topic(&c.bootstrap, &t);
    t
}

/// Resumes the broker when dropped, so a failed assertion does not leave it paused for the next test.
struct Paused<'a>(&'a Cluster);

impl<'a> Paused<'a> {
    fn pause(c: &'a Cluster) -> Paused<'a> {
        c.kafka(&["pause", "1"]);
        Paused(c)
    }
}

impl Drop for Paused<'_> {
    fn drop(&mut self) {
        self.0.kafka(&["resume", "1"]);
    }
}

fn values_of(got: &[Consumed], partition: i32) -> Vec<String> {
    got.iter().filter(|r| r.partition == partition).map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap()).collect()
}

fn wait_until(what: &str, timeout: Duration, f: impl Fn() -> bool) {
    let end = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < end, "{what} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn records_past_their_own_deadline_behind_a_paused_broker_fail_at_it_while_the_others_wait_and_arrive_in_order() {
    let c = cluster();
    let t = topic(&c, "deadline", 1);
    let p = producer(&c, &[]);
    let r = Reports::default();
    p.send(&ProducerRecord::new(&t).value(b"warm")).unwrap().wait().unwrap();
    p.settle();
    let paused = Paused::pause(&c);
    // In flight when its deadline passes: not pulled back, reported once with the answer.
    r.send(&p, ProducerRecord::new(&t).value(b"inflight").timeout(Duration::from_millis(100)));
    // linger.ms=0: sent at once, and unanswered while the broker is paused.
    p.wait_for_a_request_in_flight();
    let big = vec![b'x'; 20_000];
    let before = p.buffered_bytes();
    let sent_at = Instant::now();
    for i in 0..3 {
        let d = format!("d{i}:");
        let d: Vec<u8> = d.bytes().chain(big.iter().copied()).collect();
        r.send(&p, ProducerRecord::new(&t).value(&d).timeout(Duration::from_millis(100)));
        r.send(&p, ProducerRecord::new(&t).value(format!("n{i}").as_bytes()));
    }
    let queued = p.buffered_bytes();
    assert!(queued >= before + 60_000, "the deadline records are buffered: {before} -> {queued}");
    for i in 0..3 {
        let (at, res) = r.one(&format!("d{i}"), Duration::from_secs(10));
        let e = res.expect_err("past its deadline unsent");
        assert!(e.is_local(LocalCode::MessageTimedOut), "{e}");
        assert!(e.message().contains("own deadline") && e.message().contains("in flight"), "says why and where it waited: {e}");
        let after = at.duration_since(sent_at);
        assert!(after >= Duration::from_millis(95) && after < Duration::from_secs(3), "failed at about its deadline: {after:?}");
    }
    // Their memory is back at once (released by the delivery thread right after the report).
    wait_until("buffer memory of the expired records released", Duration::from_secs(2), || p.buffered_bytes() + 60_000 <= queued);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(r.total(), 3, "only the deadline records are reported while the broker is paused");
    drop(paused);
    for label in ["inflight", "n0", "n1", "n2"] {
        r.one(label, Duration::from_secs(30)).1.unwrap_or_else(|e| panic!("{label} delivered after resume: {e}"));
    }
    p.send(&ProducerRecord::new(&t).value(b"last")).unwrap().wait().unwrap();
    p.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(r.count("inflight"), 1, "the in-flight record is reported once");
    let got = c.consume(&t, 6);
    assert_eq!(values_of(&got, 0), ["warm", "inflight", "n0", "n1", "n2", "last"]);
}

#[test]
fn a_deadline_fails_a_record_waiting_for_the_metadata_of_a_topic_that_does_not_exist() {
    let c = cluster();
    let p = Producer::builder(c.config(&[("topic.metadata.propagation.max.ms", "60000")])).queue_until_metadata(true).build().unwrap();
    let r = Reports::default();
    let missing = unique_topic("never-created");
    let sent_at = Instant::now();
    r.send(&p, ProducerRecord::new(&missing).value(b"parked").timeout(Duration::from_millis(100)));
    let (at, res) = r.one("parked", Duration::from_secs(10));
    let e = res.expect_err("past its deadline while parked");
    assert!(e.is_local(LocalCode::MessageTimedOut) && e.message().contains("metadata of topic"), "{e}");
    assert!(at.duration_since(sent_at) < Duration::from_secs(3), "failed at about its deadline: {:?}", at.duration_since(sent_at));
    wait_until("memory released", Duration::from_secs(2), || p.buffered_bytes() == 0);
}

#[test]
fn records_without_a_deadline_are_untouched_by_one_that_expires_in_a_compressed_producer() {
    let c = cluster();
    let t = topic(&c, "deadline-lz4", 1);
    let p = producer(&c, &[("compression.type", "lz4"), ("enable.idempotence", "false")]);
    let r = Reports::default();
    p.send(&ProducerRecord::new(&t).value(b"warm")).unwrap().wait().unwrap();
    p.settle();
    let paused = Paused::pause(&c);
    r.send(&p, ProducerRecord::new(&t).value(b"a"));
    // linger.ms=0: sent at once, and unanswered while the broker is paused.
    p.wait_for_a_request_in_flight();
    for i in 0..50 {
        if i % 5 == 0 {
            r.send(&p, ProducerRecord::new(&t).value(format!("d{i}").as_bytes()).timeout(Duration::from_millis(100)));
        } else {
            r.send(&p, ProducerRecord::new(&t).value(format!("n{i}").as_bytes()));
        }
    }
    for i in (0..50).step_by(5) {
        let e = r.one(&format!("d{i}"), Duration::from_secs(10)).1.expect_err("expired");
        assert!(e.is_local(LocalCode::MessageTimedOut), "{e}");
    }
    drop(paused);
    p.flush(Duration::from_secs(30)).unwrap();
    let mut want = vec!["warm".to_string(), "a".to_string()];
    for i in (0..50).filter(|i| i % 5 != 0) {
        r.one(&format!("n{i}"), Duration::from_secs(1)).1.unwrap();
        want.push(format!("n{i}"));
    }
    assert_eq!(values_of(&c.consume(&t, want.len()), 0), want);
}

#[test]
fn purging_the_queue_of_one_partition_reports_each_of_its_queued_records_once_and_leaves_the_rest() {
    let c = cluster();
    let t = topic(&c, "purge-part", 2);
    let p = producer(&c, &[]);
    let r = Reports::default();
    for part in 0..2 {
        p.send(&ProducerRecord::new(&t).partition(part).value(b"warm")).unwrap().wait().unwrap();
    }
    p.settle();
    let paused = Paused::pause(&c);
    // linger.ms=0: sent at once, and unanswered while the broker is paused; with one request in
    // flight per connection, every later record of either partition waits in its queue.
    r.send(&p, ProducerRecord::new(&t).partition(0).value(b"a0"));
    p.wait_for_a_request_in_flight();
    for i in 0..5 {
        r.send(&p, ProducerRecord::new(&t).partition(0).value(format!("q0-{i}").as_bytes()));
        r.send(&p, ProducerRecord::new(&t).partition(1).value(format!("q1-{i}").as_bytes()));
    }
    p.purge_with(PurgeFlags::QUEUE, PurgeTarget::Partition(&t, 0));
    for i in 0..5 {
        let e = r.one(&format!("q0-{i}"), Duration::from_secs(5)).1.expect_err("purged");
        assert!(e.is_local(LocalCode::PurgedQueue), "{e}");
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(r.total(), 5, "nothing else reported while paused: {:?}", r.0.lock().unwrap());
    drop(paused);
    p.flush(Duration::from_secs(30)).unwrap();
    for label in ["a0", "q1-0", "q1-1", "q1-2", "q1-3", "q1-4"] {
        r.one(label, Duration::from_secs(1)).1.unwrap();
    }
    p.send(&ProducerRecord::new(&t).partition(0).value(b"last")).unwrap().wait().unwrap();
    assert_eq!(r.total(), 11);
    let got = c.consume(&t, 9);
    assert_eq!(values_of(&got, 0), ["warm", "a0", "last"]);
    assert_eq!(values_of(&got, 1), ["warm", "q1-0", "q1-1", "q1-2", "q1-3", "q1-4"]);
}

#[test]
fn purging_in_flight_records_reports_purge_inflight_once_and_queued_records_are_sent_after() {
    let c = cluster();
    let t = topic(&c, "purge-inflight", 1);
    let p = producer(&c, &[]);
    let r = Reports::default();
    p.send(&ProducerRecord::new(&t).value(b"warm")).unwrap().wait().unwrap();
    p.settle();
    let paused = Paused::pause(&c);
    r.send(&p, ProducerRecord::new(&t).value(b"sent"));
    // linger.ms=0: sent at once, and unanswered while the broker is paused.
    p.wait_for_a_request_in_flight();
    r.send(&p, ProducerRecord::new(&t).value(b"queued"));
    p.purge_with(PurgeFlags::INFLIGHT, PurgeTarget::Topic(&t));
    let e = r.one("sent", Duration::from_secs(5)).1.expect_err("purged in flight");
    assert!(e.is_local(LocalCode::PurgedInflight) && e.possibly_persisted(), "{e}");
    assert_eq!(r.count("queued"), 0, "queued records are not in flight");
    drop(paused);
    r.one("queued", Duration::from_secs(30)).1.expect("the queued record is sent after the purge");
    p.send(&ProducerRecord::new(&t).value(b"last")).unwrap().wait().unwrap();
    // The broker's late answer for the purged batch is not reported a second time.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(r.count("sent"), 1);
    // The purged batch was in the paused broker's socket: it may have been written (the caveat).
    let got: Vec<String> = values_of(&c.consume(&t, 4), 0).into_iter().filter(|v| v != "sent").collect();
    assert_eq!(got[..], ["warm", "queued", "last"][..got.len().min(3)]);
    assert!(got.ends_with(&["queued".to_string(), "last".to_string()]), "{got:?}");
}

#[test]
fn a_non_blocking_purge_of_queue_and_in_flight_returns_at_once_and_reports_every_record_once() {
    let c = cluster();
    let t = topic(&c, "purge-nb", 1);
    let p = producer(&c, &[]);
    let r = Reports::default();
    p.send(&ProducerRecord::new(&t).value(b"warm")).unwrap().wait().unwrap();
    p.settle();
    let paused = Paused::pause(&c);
    r.send(&p, ProducerRecord::new(&t).value(b"sent"));
    // linger.ms=0: sent at once, and unanswered while the broker is paused.
    p.wait_for_a_request_in_flight();
    for i in 0..20 {
        r.send(&p, ProducerRecord::new(&t).value(format!("q{i}").as_bytes()));
    }
    let t0 = Instant::now();
    p.purge_with(PurgeFlags::QUEUE | PurgeFlags::INFLIGHT | PurgeFlags::NON_BLOCKING, PurgeTarget::All);
    assert!(t0.elapsed() < Duration::from_millis(500), "non-blocking purge waited {:?}", t0.elapsed());
    let e = r.one("sent", Duration::from_secs(5)).1.expect_err("purged");
    assert!(e.is_local(LocalCode::PurgedInflight), "{e}");
    for i in 0..20 {
        let e = r.one(&format!("q{i}"), Duration::from_secs(5)).1.expect_err("purged");
        assert!(e.is_local(LocalCode::PurgedQueue), "{e}");
    }
    wait_until("memory released", Duration::from_secs(2), || p.buffered_bytes() == 0);
    drop(paused);
    p.send(&ProducerRecord::new(&t).value(b"last")).unwrap().wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(r.total(), 21, "one report per record");
    let got: Vec<String> = values_of(&c.consume(&t, 3), 0).into_iter().filter(|v| v != "sent").collect();
    assert_eq!(got, ["warm", "last"], "no queued record was written");
}
