//! The on-disk spool (`spool.dir`) against a real broker: records spilled past a full
//! `buffer.memory` are all delivered once, in order per partition; records an earlier producer
//! left in the directory are sent first and reported through the recovered-records handler.
//! A private one-broker cluster (port 26400), which tests kill and restart, one test at a time.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::cluster::Cluster;
use common::*;
use rafka_core::spool::log::{SpoolLog, SpoolRecordRef};
use rafka_core::{Config, Producer, ProducerRecord, PurgeFlags, PurgeTarget};

fn spool_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("rafka-spool-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// The broker these tests kill and restart; holding it runs them one at a time.
fn cluster() -> std::sync::MutexGuard<'static, Cluster> {
    Cluster::shared("spool", 1, 26400)
}

fn create_topic(c: &Cluster, topic: &str, partitions: u32) {
    c.kafka(&["topic", "create", topic, "--partitions", &partitions.to_string()]);
    await_topic(&c.bootstrap, topic);
}

fn config(c: &Cluster, dir: &std::path::Path, extra: &[(&str, &str)]) -> Config {
    let mut c = c.config(&[]);
    c.set("spool.dir", dir.to_str().unwrap()).unwrap();
    for (k, v) in extra {
        c.set(k, v).unwrap();
    }
    c
}

#[test]
fn records_spilled_past_a_full_buffer_are_all_delivered_once_in_order_per_partition() {
    let c = cluster();
    let topic = unique_topic("spool-full");
    create_topic(&c, &topic, 3);
    let dir = spool_dir("full");
    let p = Producer::new(config(&c, &dir, &[("buffer.memory", "65536"), ("spool.when", "full"), ("linger.ms", "20")])).unwrap();
    let n = 20_000;
    let failed = Arc::new(Mutex::new(Vec::new()));
    for i in 0..n {
        send_numbered(&p, &topic, i, &failed).unwrap();
    }
    p.flush(Duration::from_secs(120)).unwrap();
    p.close(Duration::from_secs(10)).unwrap();
    assert!(failed.lock().unwrap().is_empty(), "{:?}", &failed.lock().unwrap()[..1]);
    let segs = std::fs::read_dir(&dir).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "seg")).count();
    assert!(segs <= 1, "acknowledged segments are deleted ({segs} left)");
    assert_read_back_once_in_order(&c, &topic, n);
}

#[test]
fn records_an_earlier_producer_left_are_sent_first_and_reported_to_the_recovered_handler() {
    let c = cluster();
    let topic = unique_topic("spool-recover");
    create_topic(&c, &topic, 1);
    let dir = spool_dir("recover");
    // What a producer that died with 100 records in its spool leaves behind.
    {
        let (mut log, _) = SpoolLog::open(&dir, 1 << 20).unwrap();
        for i in 0..100 {
            let v = format!("old{i:03}");
            log.append(&SpoolRecordRef { topic: &topic, partition: Some(0), key: None, value: Some(v.as_bytes()), headers: &[], timestamp: 1_700_000_000_000 }, false).unwrap();
        }
    }
    let reports = Arc::new(Mutex::new(Vec::new()));
    let r2 = reports.clone();
    let p = Producer::builder(config(&c, &dir, &[]))
        .spool_recovered_handler(move |d| r2.lock().unwrap().push((d.offset, d.error.map(|e| e.to_string()), d.value().map(|v| v.to_vec()))))
        .build()
        .unwrap();
    p.send(&ProducerRecord::new(&topic).partition(0).value(b"new")).unwrap();
    p.flush(Duration::from_secs(60)).unwrap();
    p.close(Duration::from_secs(10)).unwrap();
    let reports = reports.lock().unwrap().clone();
    assert_eq!(reports.len(), 100);
    for (i, (offset, err, value)) in reports.iter().enumerate() {
        assert_eq!(err, &None);
        assert_eq!(*offset, i as i64, "recovered records go first, in order");
        assert_eq!(value.as_deref(), Some(format!("old{i:03}").as_bytes()));
    }
    let got = c.consume(&topic, 101);
    assert_eq!(got.len(), 101);
    assert_eq!(got[100].value.as_deref(), Some(&b"new"[..]));
    // Everything was acknowledged: a new producer on the directory finds nothing to recover.
    let again = Arc::new(Mutex::new(0));
    let a2 = again.clone();
    let p = Producer::builder(config(&c, &dir, &[])).spool_recovered_handler(move |_| *a2.lock().unwrap() += 1).build().unwrap();
    p.flush(Duration::from_secs(10)).unwrap();
    p.close(Duration::from_secs(10)).unwrap();
    assert_eq!(*again.lock().unwrap(), 0);
}

#[test]
fn a_second_producer_on_the_same_spool_dir_is_refused_naming_it() {
    let c = cluster();
    let dir = spool_dir("lock");
    let a = Producer::new(config(&c, &dir, &[])).unwrap();
    let e = Producer::new(config(&c, &dir, &[])).err().expect("refused");
    assert!(e.to_string().contains(dir.to_str().unwrap()), "{e}");
    assert!(e.to_string().contains("in use"), "{e}");
    drop(a);
}

#[test]
fn sends_go_on_into_the_spool_while_the_broker_is_killed_and_all_arrive_once_in_order_after_it_restarts() {
    let c = cluster();
    let topic = unique_topic("spool-kill");
    create_topic(&c, &topic, 3);
    let dir = spool_dir("kill");
    let p = Producer::new(config(&c, &dir, &[("buffer.memory", "65536"), ("spool.when", "full"), ("max.block.ms", "5000")])).unwrap();
    let n = 50_000;
    let failed = Arc::new(Mutex::new(Vec::new()));
    let mut longest = Duration::ZERO;
    for i in 0..n {
        if i == 1_000 {
            c.kafka(&["kill", "1"]);
        }
        let t0 = std::time::Instant::now();
        send_numbered(&p, &topic, i, &failed).expect("send() spools rather than fail while the broker is down");
        longest = longest.max(t0.elapsed());
    }
    assert!(longest < Duration::from_millis(5000), "a send() blocked {longest:?}, past max.block.ms");
    c.kafka(&["restart", "1"]);
    p.flush(Duration::from_secs(180)).unwrap();
    p.close(Duration::from_secs(10)).unwrap();
    assert!(failed.lock().unwrap().is_empty(), "{:?}", &failed.lock().unwrap()[..1]);
    assert_read_back_once_in_order(&c, &topic, n);
}

#[test]
fn a_write_ahead_send_that_finds_the_buffer_full_returns_with_the_record_on_disk_and_all_arrive_once_in_order() {
    let c = cluster();
    let topic = unique_topic("spool-always-full");
    create_topic(&c, &topic, 3);
    let dir = spool_dir("always-full");
    // max.block.ms far above the bound asserted: a send() that waited for buffer room shows.
    let p = Producer::new(config(&c, &dir, &[("buffer.memory", "65536"), ("spool.when", "always"), ("max.block.ms", "30000")])).unwrap();
    let n = 20_000;
    let failed = Arc::new(Mutex::new(Vec::new()));
    let mut longest = Duration::ZERO;
    let mut refused = None;
    for i in 0..n {
        if i == 1_000 {
            c.kafka(&["kill", "1"]);
        }
        let t0 = std::time::Instant::now();
        if let Err(e) = send_numbered(&p, &topic, i, &failed) {
            refused = Some((i, e));
            break;
        }
        longest = longest.max(t0.elapsed());
    }
    c.kafka(&["restart", "1"]);
    assert!(refused.is_none(), "send() leaves the record in the spool rather than wait for buffer room: {refused:?}");
    // About 400 records fill buffer.memory; the others were left in the spool for the drainer.
    assert!(longest < Duration::from_secs(5), "a send() blocked {longest:?} (max.block.ms is 30 s)");
    p.flush(Duration::from_secs(180)).unwrap();
    p.close(Duration::from_secs(10)).unwrap();
    assert!(failed.lock().unwrap().is_empty(), "{:?}", &failed.lock().unwrap()[..1]);
    assert_read_back_once_in_order(&c, &topic, n);
    let again = Arc::new(Mutex::new(0));
    let a2 = again.clone();
    let p = Producer::builder(config(&c, &dir, &[])).spool_recovered_handler(move |_| *a2.lock().unwrap() += 1).build().unwrap();
    p.close(Duration::from_secs(10)).unwrap();
    assert_eq!(*again.lock().unwrap(), 0, "every record was acknowledged in the spool");
}

/// One report as a test keeps it: the record's number, error name and message, key, value,
/// headers and timestamp.
type Kept = (usize, String, String, Option<Vec<u8>>, Option<Vec<u8>>, Vec<(String, Option<Vec<u8>>)>, i64);

#[test]
fn a_record_still_in_the_spool_at_close_is_reported_destroy_with_its_key_value_headers_and_timestamp() {
    let c = cluster();
    let topic = unique_topic("spool-close");
    create_topic(&c, &topic, 1);
    let dir = spool_dir("close");
    let p = Producer::new(config(&c, &dir, &[("buffer.memory", "8192"), ("spool.when", "full")])).unwrap();
    p.send(&ProducerRecord::new(&topic).value(b"warm")).unwrap().wait().unwrap();
    c.kafka(&["kill", "1"]);
    let reports: Arc<Mutex<Vec<Kept>>> = Default::default();
    let n = 300;
    let ts = |i: usize| 1_700_000_000_000 + i as i64;
    for i in 0..n {
        let (key, value, hv) = (format!("k{i}"), format!("v{i}"), format!("h{i}"));
        let r = reports.clone();
        let rec = ProducerRecord::new(&topic).key(key.as_bytes()).value(value.as_bytes()).header("n", Some(hv.as_bytes())).timestamp(ts(i));
        p.send_with_callback(&rec, move |d| {
            let (name, msg) = d.error.map_or((String::new(), String::new()), |e| (e.name().to_string(), e.to_string()));
            let headers = d.headers().into_iter().map(|(k, v)| (k.to_string(), v.map(|v| v.to_vec()))).collect();
            r.lock().unwrap().push((i, name, msg, d.key().map(|k| k.to_vec()), d.value().map(|v| v.to_vec()), headers, d.timestamp));
        })
        .unwrap();
    }
    let _ = p.close(Duration::from_millis(500));
    c.kafka(&["restart", "1"]);
    let reports = reports.lock().unwrap().clone();
    assert_eq!(reports.len(), n, "one report per record");
    let mut left = 0;
    for (i, name, msg, key, value, headers, timestamp) in &reports {
        assert_eq!(name, "_DESTROY", "{i}: {msg}");
        left += msg.contains("stays in spool.dir") as usize;
        assert_eq!(key.as_deref(), Some(format!("k{i}").as_bytes()), "{i}: {msg}");
        assert_eq!(value.as_deref(), Some(format!("v{i}").as_bytes()), "{i}: {msg}");
        assert_eq!(headers, &[("n".to_string(), Some(format!("h{i}").into_bytes()))], "{i}: {msg}");
        assert_eq!(*timestamp, ts(*i), "{i}: {msg}");
    }
    // buffer.memory holds a few dozen of them: most were still in the spool.
    assert!(left > n / 2, "{left} of {n} reports say the record stays in the spool");
    let recovered = Arc::new(Mutex::new(0));
    let r2 = recovered.clone();
    let p = Producer::builder(config(&c, &dir, &[])).spool_recovered_handler(move |d| *r2.lock().unwrap() += d.is_ok() as usize).build().unwrap();
    p.flush(Duration::from_secs(60)).unwrap();
    p.close(Duration::from_secs(10)).unwrap();
    assert_eq!(*recovered.lock().unwrap(), left, "the next producer delivers what stayed in the spool");
}

/// Sends record `i`: key `k{i % 3}`, value `i` in eight digits; a failed report's error goes
/// into `failed`.
fn send_numbered(p: &Producer, topic: &str, i: usize, failed: &Arc<Mutex<Vec<String>>>) -> rafka_core::Result<()> {
    let key = format!("k{}", i % 3);
    let value = format!("{i:08}");
    let f = failed.clone();
    p.send_with_callback(&ProducerRecord::new(topic).key(key.as_bytes()).value(value.as_bytes()), move |d| {
        if let Some(e) = d.error {
            f.lock().unwrap().push(e.to_string());
        }
    })
}

#[test]
fn spilled_records_of_mixed_shapes_arrive_each_with_exactly_its_own_key_value_and_headers() {
    // The drainer reads spilled records back into buffers it reuses: a key, value or header of
    // one record must never show up in the next. Shapes cycle so that every field is present in
    // one record and absent (or different) in the next.
    let c = cluster();
    let topic = unique_topic("spool-shapes");
    create_topic(&c, &topic, 1);
    let dir = spool_dir("shapes");
    let p = Producer::new(config(&c, &dir, &[("buffer.memory", "65536"), ("spool.when", "full"), ("linger.ms", "5")])).unwrap();
    let n = 4_000;
    type Shape = (Option<Vec<u8>>, Option<Vec<u8>>, Vec<(String, Option<Vec<u8>>)>);
    let want: Vec<Shape> = (0..n)
        .map(|i| match i % 4 {
            0 => (Some(format!("key-{i}-{}", "k".repeat(40)).into_bytes()), Some(format!("v{i}").into_bytes()), vec![]),
            1 => (None, Some(format!("value-{i}-{}", "v".repeat(80)).into_bytes()), vec![("h1".to_string(), Some(format!("hv{i}").into_bytes())), ("h2".to_string(), None)]),
            2 => (Some(format!("k{i}").into_bytes()), None, vec![("only".to_string(), Some(b"x".to_vec()))]),
            _ => (None, Some(format!("{i}").into_bytes()), vec![]),
        })
        .collect();
    let failed = Arc::new(Mutex::new(Vec::new()));
    for (key, value, headers) in &want {
        let mut rec = ProducerRecord::new(&topic).partition(0);
        if let Some(k) = key {
            rec = rec.key(k);
        }
        if let Some(v) = value {
            rec = rec.value(v);
        }
        for (hk, hv) in headers {
            rec = rec.header(hk, hv.as_deref());
        }
        let f = failed.clone();
        p.send_with_callback(&rec, move |d| {
            if let Some(e) = d.error {
                f.lock().unwrap().push(e.to_string());
            }
        })
        .unwrap();
    }
    p.flush(Duration::from_secs(120)).unwrap();
    p.close(Duration::from_secs(10)).unwrap();
    assert!(failed.lock().unwrap().is_empty(), "{:?}", &failed.lock().unwrap()[..1]);
    let got = c.consume(&topic, n);
    assert_eq!(got.len(), n);
    for (i, (r, (key, value, headers))) in got.iter().zip(&want).enumerate() {
        assert_eq!((&r.key, &r.value, &r.headers), (key, value, headers), "record {i}, in send order");
    }
}

/// Kafka's consumer reads `n` records, values `i` sent with key `k{i % 3}`: each once, and in
/// send order per key (so per partition).
fn assert_read_back_once_in_order(c: &Cluster, topic: &str, n: usize) {
    let got = c.consume(topic, n);
    assert_eq!(got.len(), n);
    let mut last: std::collections::HashMap<Vec<u8>, u64> = Default::default();
    for r in got {
        let v: u64 = String::from_utf8(r.value.unwrap()).unwrap().parse().unwrap();
        if let Some(prev) = last.insert(r.key.unwrap(), v) {
            assert_eq!(v, prev + 3, "once each, in order per key (partition)");
        }
    }
}

#[test]
fn a_full_spool_fails_send_after_max_block_naming_the_spool_its_directory_and_the_limit() {
    let c = cluster();
    let topic = unique_topic("spool-limit");
    create_topic(&c, &topic, 1);
    let dir = spool_dir("limit");
    let cfg = [("buffer.memory", "4096"), ("spool.max.bytes", "16384"), ("max.block.ms", "300")];
    let p = Producer::new(config(&c, &dir, &cfg)).unwrap();
    p.send(&ProducerRecord::new(&topic).value(b"first")).unwrap().wait().unwrap();
    c.kafka(&["kill", "1"]);
    let value = vec![b'x'; 200];
    let mut err = None;
    for _ in 0..1_000 {
        if let Err(e) = p.send_with_callback(&ProducerRecord::new(&topic).value(&value), |_| {}) {
            err = Some(e);
            break;
        }
    }
    c.kafka(&["restart", "1"]);
    let e = err.expect("send() fails once the spool is full");
    let msg = e.to_string();
    assert!(e.is_local(rafka_core::LocalCode::QueueFull), "{msg}");
    assert!(msg.contains("spool is full"), "{msg}");
    assert!(msg.contains(dir.to_str().unwrap()), "{msg}");
    assert!(msg.contains("spool.max.bytes is 16384"), "{msg}");
    p.flush(Duration::from_secs(120)).unwrap();
}

/// Every report, by the record's value: the error's code name, or `ok`.
#[derive(Clone, Default)]
struct Reports(Arc<Mutex<std::collections::HashMap<String, Vec<String>>>>);

impl Reports {
    fn send(&self, p: &Producer, rec: ProducerRecord<'_>) {
        let label = String::from_utf8(rec.value.unwrap().to_vec()).unwrap();
        let me = self.clone();
        p.send_with_callback(&rec, move |d| {
            let r = d.error.map_or_else(|| "ok".to_string(), |e| e.name().to_string());
            me.0.lock().unwrap().entry(label).or_default().push(r);
        })
        .unwrap();
    }

    /// The reports of records whose value starts with `prefix`.
    fn of(&self, prefix: &str) -> Vec<(String, Vec<String>)> {
        let mut v: Vec<_> = self.0.lock().unwrap().iter().filter(|(k, _)| k.starts_with(prefix)).map(|(k, r)| (k.clone(), r.clone())).collect();
        v.sort();
        v
    }

    /// Waits until `n` records whose value starts with `prefix` have a report.
    fn wait_for(&self, prefix: &str, n: usize, timeout: Duration) {
        let end = std::time::Instant::now() + timeout;
        while self.of(prefix).len() < n {
            assert!(std::time::Instant::now() < end, "{prefix}: {} of {n} reports within {timeout:?}", self.of(prefix).len());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The values Kafka's consumer reads from `topic`, by partition, asking for one record more
/// than `expected` (so that a record that should not be there shows up).
fn values_by_partition(c: &Cluster, topic: &str, expected: usize) -> std::collections::BTreeMap<i32, Vec<String>> {
    let out = c.kafka(&["consume", topic, "--max", &(expected + 1).to_string(), "--timeout", "8"]);
    let mut m = std::collections::BTreeMap::<i32, Vec<String>>::new();
    for l in out.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        m.entry(v["partition"].as_i64().unwrap() as i32).or_default().push(v["value"].as_str().unwrap().to_string());
    }
    m
}

#[test]
fn purging_the_queue_fails_spooled_records_once_each_and_no_later_producer_sends_them() {
    let c = cluster();
    let t1 = unique_topic("spool-purge");
    let t2 = unique_topic("spool-purge-other");
    create_topic(&c, &t1, 2);
    create_topic(&c, &t2, 1);
    let dir = spool_dir("purge");
    let cfg = [("buffer.memory", "65536"), ("spool.when", "full"), ("linger.ms", "5")];
    let p = Producer::new(config(&c, &dir, &cfg)).unwrap();
    for (t, part) in [(&t1, 0), (&t1, 1), (&t2, 0)] {
        p.send(&ProducerRecord::new(t).partition(part).value(b"warm")).unwrap().wait().unwrap();
    }
    c.kafka(&["kill", "1"]);
    let r = Reports::default();
    // Fill buffer.memory with records of t2 (about 370 fit): the rest go to the spool, the first
    // of them (up to 64) into the drainer's hand, waiting for room.
    let value = |label: String| format!("{label}:{}", "x".repeat(90));
    for i in 0..1_000 {
        r.send(&p, ProducerRecord::new(&t2).value(value(format!("t2-{i:04}")).as_bytes()));
    }
    // Spilling now: these all go to the spool.
    for i in 0..200 {
        r.send(&p, ProducerRecord::new(&t1).partition(0).value(value(format!("p0-{i:04}")).as_bytes()));
        r.send(&p, ProducerRecord::new(&t1).partition(1).value(value(format!("p1-{i:04}")).as_bytes()));
        let key = format!("k{i}");
        r.send(&p, ProducerRecord::new(&t1).key(key.as_bytes()).value(value(format!("free-{i:04}")).as_bytes()));
        r.send(&p, ProducerRecord::new(&t2).value(value(format!("t2-late-{i:04}")).as_bytes()));
    }
    assert!(r.of("").is_empty(), "no report while the broker is down");
    // One partition: the records sent to it, all still in the spool; not those without a partition.
    p.purge_with(PurgeFlags::QUEUE, PurgeTarget::Partition(&t1, 0));
    r.wait_for("p0-", 200, Duration::from_secs(10));
    // One topic: its records in the buffer (queued, or in batches that met the dead broker:
    // in flight), in the drainer's hand and in the spool.
    p.purge_with(PurgeFlags::QUEUE | PurgeFlags::INFLIGHT, PurgeTarget::Topic(&t2));
    r.wait_for("t2-", 1_200, Duration::from_secs(10));
    for (label, reports) in r.of("p0-").into_iter().chain(r.of("t2-late-")) {
        assert_eq!(reports, ["_PURGE_QUEUE"], "{label}: exactly one report, _PURGE_QUEUE");
    }
    let mut queued = 0;
    for (label, reports) in r.of("t2-0") {
        assert!(reports == ["_PURGE_QUEUE"] || reports == ["_PURGE_INFLIGHT"], "{label}: exactly one report: {reports:?}");
        queued += (reports[0] == "_PURGE_QUEUE") as usize;
    }
    // buffer.memory holds fewer than 400 of them: the others were spooled.
    assert!(queued >= 600, "{queued} of the records spilled were purged from the queue or the spool");
    std::thread::sleep(Duration::from_millis(300));
    assert!(r.of("p1-").is_empty() && r.of("free-").is_empty(), "records outside the purges are not reported");
    c.kafka(&["restart", "1"]);
    p.flush(Duration::from_secs(120)).unwrap();
    p.close(Duration::from_secs(10)).unwrap();
    for prefix in ["p1-", "free-"] {
        let got = r.of(prefix);
        assert_eq!(got.len(), 200, "{prefix}");
        for (label, reports) in got {
            assert_eq!(reports, ["ok"], "{label}: delivered once");
        }
    }
    // Nothing purged is left for a later producer on the directory.
    let recovered = Arc::new(Mutex::new(Vec::new()));
    let r2 = recovered.clone();
    let p = Producer::builder(config(&c, &dir, &[])).spool_recovered_handler(move |d| r2.lock().unwrap().push(d.value().map(|v| v.to_vec()))).build().unwrap();
    p.flush(Duration::from_secs(10)).unwrap();
    p.close(Duration::from_secs(10)).unwrap();
    assert_eq!(recovered.lock().unwrap().len(), 0, "a new producer recovers none of the purged records");
    let t1_got = values_by_partition(&c, &t1, 402);
    let t2_got = values_by_partition(&c, &t2, 1);
    assert_eq!(t2_got.values().flatten().collect::<Vec<_>>(), ["warm"], "no record of t2 was written");
    let p0: Vec<&String> = t1_got.get(&0).into_iter().flatten().filter(|v| !v.starts_with("free-")).collect();
    assert_eq!(p0, ["warm"], "no purged record of partition 0 was written");
    let p1: Vec<String> = t1_got.get(&1).into_iter().flatten().filter(|v| !v.starts_with("free-")).cloned().collect();
    let want: Vec<String> = std::iter::once("warm".to_string()).chain((0..200).map(|i| value(format!("p1-{i:04}")))).collect();
    assert_eq!(p1, want, "partition 1's records, in order");
    assert_eq!(t1_got.values().flatten().filter(|v| v.starts_with("free-")).count(), 200, "records without a partition were not purged");
}

/// Not a test of its own: the body of the child process that the SIGKILL tests start (this test
/// binary again, with `RAFKA_SPOOL_CHILD=bootstrap|topic|spool.dir`); without that variable it
/// does nothing. It sends records `00000000`, `00000001`... (key `k{i % 3}`) with
/// `spool.when=always`, about 10,000 a second, printing `sent I` once `send()` returned (the
/// record is in the spool's file then) and `ack I PARTITION OFFSET` from its report, until it is
/// killed.
#[test]
fn spool_child_process() {
    let Ok(arg) = std::env::var("RAFKA_SPOOL_CHILD") else { return };
    let [bootstrap, topic, dir]: [&str; 3] = arg.split('|').collect::<Vec<_>>().try_into().unwrap();
    let mut c = Config::new();
    for (k, v) in [("bootstrap.servers", bootstrap), ("spool.dir", dir), ("spool.when", "always"), ("linger.ms", "5"), ("max.block.ms", "60000")] {
        c.set(k, v).unwrap();
    }
    let p = Producer::new(c).unwrap();
    use std::io::Write;
    for i in 0..1_000_000usize {
        let (key, value) = (format!("k{}", i % 3), format!("{i:08}"));
        p.send_with_callback(&ProducerRecord::new(topic).key(key.as_bytes()).value(value.as_bytes()), move |d| {
            let line = match d.error {
                None => format!("ack {i} {} {}\n", d.partition, d.offset),
                Some(e) => format!("err {i} {e}\n"),
            };
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        })
        .unwrap();
        let _ = writeln!(std::io::stdout().lock(), "sent {i}");
        if i % 100 == 99 {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    panic!("the child was not killed within 1,000,000 records");
}

/// What the parent read from the child's output.
#[derive(Default)]
struct ChildProgress {
    /// The highest `sent` line.
    sent: Option<usize>,
    acked: std::collections::HashMap<usize, (i32, i64)>,
    errors: Vec<String>,
}

/// The child process, and what it printed so far.
struct Child {
    proc: std::process::Child,
    progress: Arc<Mutex<ChildProgress>>,
}

impl Child {
    fn start(c: &Cluster, topic: &str, dir: &std::path::Path) -> Child {
        let mut proc = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "spool_child_process", "--nocapture", "--test-threads=1"])
            .env("RAFKA_SPOOL_CHILD", format!("{}|{topic}|{}", c.bootstrap, dir.display()))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let progress = Arc::new(Mutex::new(ChildProgress::default()));
        let out = proc.stdout.take().unwrap();
        let pr = progress.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(out).lines().map_while(|l| l.ok()) {
                let f: Vec<&str> = line.split(' ').collect();
                let mut g = pr.lock().unwrap();
                match f[..] {
                    ["sent", i] => g.sent = Some(i.parse().unwrap()),
                    ["ack", i, p, o] => {
                        g.acked.insert(i.parse().unwrap(), (p.parse().unwrap(), o.parse().unwrap()));
                    }
                    ["err", ..] => g.errors.push(line.clone()),
                    _ => {}
                }
            }
        });
        Child { proc, progress }
    }

    /// Waits until the child has printed `sent` for at least `n` records and acks for `acked`.
    fn wait_for(&self, n: usize, acked: usize) {
        let end = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            {
                let g = self.progress.lock().unwrap();
                if g.sent.is_some_and(|s| s + 1 >= n) && g.acked.len() >= acked {
                    return;
                }
            }
            assert!(std::time::Instant::now() < end, "the child did not send {n} records with {acked} acks in 120 s");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn sigkill(mut self) -> ChildProgress {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.proc.id() as i32, libc::SIGKILL) };
        let status = self.proc.wait().unwrap();
        assert!(!status.success(), "{status}");
        std::thread::sleep(Duration::from_millis(200)); // the reader thread takes the last lines
        std::mem::take(&mut *self.progress.lock().unwrap())
    }
}

/// After a SIGKILLed child: a new producer on its `spool.dir` sends what was left; every record
/// the child's `send()` accepted is read back; a record read back twice is one the broker stored
/// but whose report the child had not run (no `ack` line: its ack marker was not written), and
/// there are no more of them than the child had sent and not seen acknowledged; the recovered
/// handler's offsets match the log. Returns (records read back, duplicates).
fn recover_after_sigkill(c: &Cluster, topic: &str, dir: &std::path::Path, child: ChildProgress) -> (usize, usize) {
    assert!(child.errors.is_empty(), "{:?}", &child.errors[..1]);
    let sent = child.sent.expect("the child sent records") + 1;
    let recovered = Arc::new(Mutex::new(Vec::new()));
    let r2 = recovered.clone();
    let p = Producer::builder(config(c, dir, &[]))
        .spool_recovered_handler(move |d| {
            let v: usize = std::str::from_utf8(d.value().unwrap()).unwrap().parse().unwrap();
            r2.lock().unwrap().push((v, d.partition, d.offset, d.error.map(|e| e.to_string())));
        })
        .build()
        .unwrap();
    p.flush(Duration::from_secs(120)).unwrap();
    p.close(Duration::from_secs(10)).unwrap();
    let recovered = recovered.lock().unwrap().clone();
    let unacked = sent - child.acked.keys().filter(|&&i| i < sent).count();
    let got = c.consume(topic, sent + unacked + 1);
    let mut seen: std::collections::HashMap<usize, usize> = Default::default();
    let mut at: std::collections::HashMap<(i32, i64), usize> = Default::default();
    for r in &got {
        let v: usize = String::from_utf8(r.value.clone().unwrap()).unwrap().parse().unwrap();
        *seen.entry(v).or_default() += 1;
        at.insert((r.partition, r.offset), v);
    }
    let missing: Vec<usize> = (0..sent).filter(|i| !seen.contains_key(i)).collect();
    assert!(missing.is_empty(), "{} record(s) the child's send() accepted are not in the log, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    for (i, (p, o)) in &child.acked {
        assert_eq!(at.get(&(*p, *o)), Some(i), "the child's ack of {i} names its place in the log");
    }
    let dups: Vec<usize> = seen.iter().filter(|(_, n)| **n > 1).map(|(i, _)| *i).collect();
    assert!(seen.values().all(|n| *n <= 2), "no record is written more than twice");
    let acked_dups: Vec<&usize> = dups.iter().filter(|i| child.acked.contains_key(i)).collect();
    assert!(acked_dups.is_empty(), "a record whose report the child ran is not sent again: {acked_dups:?}");
    assert!(dups.len() <= unacked, "{} duplicates, more than the {unacked} records sent and not acknowledged", dups.len());
    for (v, p, o, e) in &recovered {
        assert_eq!(e, &None, "{v}");
        assert_eq!(at.get(&(*p, *o)), Some(v), "the recovered handler's offset of {v} is its place in the log");
    }
    let unacked_seen = (0..sent).filter(|i| !child.acked.contains_key(i)).count();
    assert!(recovered.len() >= unacked_seen - dups.len().min(unacked_seen), "every record not acknowledged to the child is recovered");
    eprintln!("sigkill: {sent} sent, {} acknowledged to the child, {} recovered, {} read back, {} duplicate(s)", child.acked.len(), recovered.len(), got.len(), dups.len());
    (got.len(), dups.len())
}

#[test]
fn a_sigkilled_producer_leaves_every_accepted_record_in_its_spool_for_the_next_one_with_duplicates_only_of_unacknowledged_records() {
    let c = cluster();
    let topic = unique_topic("spool-sigkill");
    create_topic(&c, &topic, 3);
    let dir = spool_dir("sigkill");
    let child = Child::start(&c, &topic, &dir);
    // Mid-stream: records acknowledged, others in flight, queued and about to be sent.
    child.wait_for(20_000, 5_000);
    let progress = child.sigkill();
    recover_after_sigkill(&c, &topic, &dir, progress);
}

#[test]
fn a_producer_sigkilled_while_the_broker_is_down_leaves_its_records_for_the_next_one() {
    let c = cluster();
    let topic = unique_topic("spool-sigkill-down");
    create_topic(&c, &topic, 3);
    let dir = spool_dir("sigkill-down");
    let child = Child::start(&c, &topic, &dir);
    child.wait_for(2_000, 1_000);
    c.kafka(&["kill", "1"]);
    let at_kill = child.progress.lock().unwrap().sent.unwrap();
    child.wait_for(at_kill + 5_000, 0);
    let progress = child.sigkill();
    c.kafka(&["restart", "1"]);
    recover_after_sigkill(&c, &topic, &dir, progress);
}
