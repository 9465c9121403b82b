//! Every broker down while a large number of records is sent with `spool.when=full`: `send()`
//! never blocks past `max.block.ms` while the spool has room, and once the broker is back every
//! record is read back once, in order per partition. A private one-broker cluster (port 26460),
//! killed and restarted by the test.
//!
//! 200,000 records of about 100 B by default, which keeps the test near a minute on two cores
//! (most of it Kafka's consumer reading them back); `RAFKA_SPOOL_OUTAGE_RECORDS=1000000` runs
//! the million.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::*;
use rafka_core::{Producer, ProducerRecord};

#[test]
fn with_every_broker_down_sends_spool_without_blocking_past_max_block_and_every_record_arrives_once_in_order() {
    let n: usize = std::env::var("RAFKA_SPOOL_OUTAGE_RECORDS").map_or(200_000, |v| v.parse().expect("RAFKA_SPOOL_OUTAGE_RECORDS is a number"));
    let c = Cluster::shared("spool-outage", 1, 26460);
    let topic = unique_topic("spool-outage");
    c.kafka(&["topic", "create", &topic, "--partitions", "3"]);
    await_topic(&c.bootstrap, &topic);
    let dir = std::env::temp_dir().join(format!("rafka-spool-outage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let max_block = Duration::from_millis(2_000);
    let cfg = [
        ("spool.dir", dir.to_str().unwrap()),
        ("spool.when", "full"),
        ("buffer.memory", "1048576"),
        ("max.block.ms", "2000"),
        ("linger.ms", "5"),
        ("delivery.timeout.ms", "600000"),
    ];
    let p = Producer::new(c.config(&cfg)).unwrap();
    p.send(&ProducerRecord::new(&topic).key(b"warm").value(b"warm")).unwrap().wait().unwrap();
    c.kafka(&["kill", "1"]);
    let failed = Arc::new(Mutex::new(Vec::new()));
    let delivered = Arc::new(AtomicUsize::new(0));
    let pad = "x".repeat(92);
    let mut longest = Duration::ZERO;
    let t0 = Instant::now();
    for i in 0..n {
        let key = format!("k{}", i % 3);
        let value = format!("{i:08}{pad}");
        let (f, d) = (failed.clone(), delivered.clone());
        let start = Instant::now();
        p.send_with_callback(&ProducerRecord::new(&topic).key(key.as_bytes()).value(value.as_bytes()), move |r| match r.error {
            None => {
                d.fetch_add(1, Ordering::Relaxed);
            }
            Some(e) => f.lock().unwrap().push(e.to_string()),
        })
        .expect("send() spools while every broker is down");
        longest = longest.max(start.elapsed());
    }
    let sending = t0.elapsed();
    assert!(longest < max_block, "a send() took {longest:?}, past max.block.ms, while the spool had room");
    assert_eq!(delivered.load(Ordering::Relaxed), 0, "nothing is delivered while the broker is down");
    c.kafka(&["restart", "1"]);
    let t1 = Instant::now();
    p.flush(Duration::from_secs(600)).unwrap();
    let draining = t1.elapsed();
    p.close(Duration::from_secs(10)).unwrap();
    assert!(failed.lock().unwrap().is_empty(), "{} failed, e.g. {}", failed.lock().unwrap().len(), failed.lock().unwrap()[0]);
    assert_eq!(delivered.load(Ordering::Relaxed), n);
    let t2 = Instant::now();
    let got = c.consume(&topic, n + 1);
    let reading = t2.elapsed();
    assert_eq!(got.len(), n + 1);
    let mut last: std::collections::HashMap<Vec<u8>, i64> = Default::default();
    for r in got.into_iter().filter(|r| r.key.as_deref() != Some(b"warm")) {
        let v: i64 = std::str::from_utf8(&r.value.unwrap()[..8]).unwrap().parse().unwrap();
        let prev = last.insert(r.key.unwrap(), v).unwrap_or(v - 3);
        assert_eq!(v, prev + 3, "once each, in order per key (partition)");
    }
    eprintln!("spool outage: {n} records spooled in {sending:?} (longest send() {longest:?}), drained in {draining:?} once the broker was back, read back in {reading:?}");
}
