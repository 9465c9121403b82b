//! The on-disk spool (`spool.dir`) against a real broker: records spilled past a full
//! `buffer.memory` are all delivered once, in order per partition; records an earlier producer
//! left in the directory are sent first and reported through the recovered-records handler.
//! A private one-broker cluster (port 26400), which tests kill and restart, one test at a time.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::cluster::Cluster;
use common::*;
use rafka_core::spool::log::{encode_record, SpoolLog, SpoolRecordRef};
use rafka_core::{Config, Producer, ProducerRecord};

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
            let mut payload = Vec::new();
            let v = format!("old{i:03}");
            encode_record(&SpoolRecordRef { id: log.next_id(), topic: &topic, partition: Some(0), key: None, value: Some(v.as_bytes()), headers: &[], timestamp: 1_700_000_000_000 }, &mut payload);
            log.append_record(&payload, false).unwrap();
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
