//! `statistics.interval.ms` and the stats handler against real brokers: the documents parse as
//! JSON in librdkafka's schema, count what was sent, and show a paused or stopped broker.
//! The shared broker (`RAFKA_BOOTSTRAP`) for the counting tests; a private one-broker cluster
//! (port 25170) for the tests that pause and stop it.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cluster::Cluster;
use rafka_core::{Producer, ProducerRecord};
use serde_json::Value;

/// A producer whose statistics documents are collected, parsed.
fn producer_with_stats(config: rafka_core::Config) -> (Producer, Arc<Mutex<Vec<Value>>>) {
    let docs = Arc::new(Mutex::new(Vec::new()));
    let d = docs.clone();
    let p = Producer::builder(config)
        .stats_handler(move |json| {
            let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("statistics are not JSON ({e}): {json}"));
            d.lock().unwrap().push(v);
        })
        .build()
        .unwrap();
    (p, docs)
}

/// Waits (up to 60 s) for a document that `ok` accepts; panics with the last one otherwise.
fn await_doc(docs: &Mutex<Vec<Value>>, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        {
            let mut d = docs.lock().unwrap();
            if let Some(v) = d.iter().find(|v| ok(v)) {
                return v.clone();
            }
            if Instant::now() > deadline {
                panic!("no statistics document {what}; last: {}", d.last().map(|v| v.to_string()).unwrap_or_default());
            }
            // Keep only the latest: older ones were looked at.
            let keep = d.len().saturating_sub(1);
            d.drain(..keep);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn partitions_sum(doc: &Value, topic: &str, field: &str) -> u64 {
    doc["topics"][topic]["partitions"].as_object().map_or(0, |ps| ps.values().map(|p| p[field].as_u64().unwrap()).sum())
}

#[test]
fn statistics_count_the_records_and_bytes_acknowledged_after_a_flush() {
    let topic = common::unique_topic("stats-count");
    common::create_topic(&topic, 2);
    let config = common::config(&[("statistics.interval.ms", "100"), ("client.id", "stats-test"), ("linger.ms", "5")]);
    let (p, docs) = producer_with_stats(config);
    let value = vec![b'v'; 100];
    for i in 0..50 {
        let key = format!("k{i}");
        p.send(&ProducerRecord::new(&topic).key(key.as_bytes()).value(&value)).unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();
    let doc = await_doc(&docs, "with 50 records acknowledged", |d| d["txmsgs"].as_u64() == Some(50));

    assert_eq!(doc["type"], "producer");
    assert_eq!(doc["client_id"], "stats-test");
    assert!(doc["name"].as_str().unwrap().starts_with("stats-test#producer-"), "{doc}");
    for f in ["ts", "time", "age", "msg_cnt", "msg_size", "msg_max", "msg_size_max", "tx", "tx_bytes", "rx", "rx_bytes", "txmsgs", "txmsg_bytes"] {
        assert!(doc[f].is_u64(), "{f} missing or not a count: {doc}");
    }
    assert!(doc["time"].as_u64().unwrap() > 1_600_000_000, "{doc}");
    // Everything was reported: nothing is buffered.
    assert_eq!(doc["msg_cnt"], 0, "{doc}");
    assert_eq!(doc["msg_size"], 0, "{doc}");
    assert_eq!(doc["msg_size_max"], 33554432, "{doc}");
    // Each record is 100 value bytes, a 2-3 byte key and its framing.
    let bytes = doc["txmsg_bytes"].as_u64().unwrap();
    assert!((50 * 102..50 * 200).contains(&bytes), "txmsg_bytes {bytes}: {doc}");
    assert_eq!(partitions_sum(&doc, &topic, "txmsgs"), 50, "{doc}");
    assert_eq!(partitions_sum(&doc, &topic, "txbytes"), bytes, "{doc}");
    assert_eq!(partitions_sum(&doc, &topic, "msgs"), 50, "{doc}");
    assert_eq!(doc["topics"][&topic]["partitions"].as_object().unwrap().len(), 2, "{doc}");

    let brokers = doc["brokers"].as_object().unwrap();
    let up: Vec<&Value> = brokers.values().filter(|b| b["state"] == "UP" && b["nodeid"].as_i64().unwrap() >= 0).collect();
    assert!(!up.is_empty(), "no broker UP: {doc}");
    // At least ApiVersions, Metadata, InitProducerId and a Produce request were sent and answered.
    let tx: u64 = brokers.values().map(|b| b["tx"].as_u64().unwrap()).sum();
    let rx: u64 = brokers.values().map(|b| b["rx"].as_u64().unwrap()).sum();
    assert!(tx >= 3 && rx >= 3, "{doc}");
    assert_eq!(doc["tx"].as_u64().unwrap(), tx, "{doc}");
    assert_eq!(doc["rx"].as_u64().unwrap(), rx, "{doc}");
    assert!(doc["tx_bytes"].as_u64().unwrap() > bytes, "requests carry the records: {doc}");
    assert_eq!(doc["eos"]["idemp_state"], "Assigned", "{doc}");
    assert!(doc["eos"]["producer_id"].as_i64().unwrap() >= 0, "{doc}");
    p.close(Duration::from_secs(10)).unwrap();
}

#[test]
fn statistics_are_not_built_without_an_interval() {
    let called = Arc::new(Mutex::new(0));
    let c = called.clone();
    let p = Producer::builder(common::config(&[])).stats_handler(move |_| *c.lock().unwrap() += 1).build().unwrap();
    let topic = common::unique_topic("stats-off");
    common::create_topic(&topic, 1);
    p.send(&ProducerRecord::new(&topic).value(b"x")).unwrap().wait().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    p.close(Duration::from_secs(10)).unwrap();
    assert_eq!(*called.lock().unwrap(), 0);
}

#[test]
fn statistics_in_poll_mode_are_served_by_poll() {
    let docs = Arc::new(Mutex::new(0));
    let d = docs.clone();
    let p = Producer::builder(common::config(&[("statistics.interval.ms", "50")]))
        .delivery_mode(rafka_core::DeliveryMode::Poll)
        .stats_handler(move |_| *d.lock().unwrap() += 1)
        .build()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(*docs.lock().unwrap(), 0, "called before poll()");
    p.poll(Duration::from_millis(100));
    assert!(*docs.lock().unwrap() > 0, "poll() served no statistics");
    p.close(Duration::from_secs(10)).unwrap();
}

fn private() -> std::sync::MutexGuard<'static, Cluster> {
    Cluster::shared("stats", 1, 25170)
}

#[test]
fn a_paused_broker_shows_in_waiting_requests_and_buffered_records_then_a_stopped_one_is_down() {
    let c = private();
    let topic = common::unique_topic("stats-pause");
    c.kafka(&["topic", "create", &topic, "--partitions", "1"]);
    let config = c.config(&[("statistics.interval.ms", "100"), ("request.timeout.ms", "120000"), ("delivery.timeout.ms", "300000")]);
    let (p, docs) = producer_with_stats(config);
    p.send(&ProducerRecord::new(&topic).value(b"before")).unwrap().wait().unwrap();

    c.kafka(&["pause", "1"]);
    let futures: Vec<_> = (0..10).map(|_| p.send(&ProducerRecord::new(&topic).value(b"during")).unwrap()).collect();
    let doc = await_doc(&docs, "with requests waiting on the paused broker", |d| {
        d["msg_cnt"] == 10 && d["brokers"].as_object().unwrap().values().any(|b| b["waitresp_cnt"].as_u64().unwrap() > 0)
    });
    assert!(doc["msg_size"].as_u64().unwrap() >= 10 * 6, "{doc}");
    c.kafka(&["resume", "1"]);
    for f in futures {
        f.wait().unwrap();
    }
    await_doc(&docs, "with all 11 acknowledged", |d| d["txmsgs"] == 11 && d["msg_cnt"] == 0);

    c.kafka(&["kill", "1"]);
    let doc = await_doc(&docs, "with the stopped broker DOWN", |d| {
        d["brokers"].as_object().unwrap().values().any(|b| b["nodeid"] == 1 && b["state"] == "DOWN" && b["disconnects"].as_u64().unwrap() > 0)
    });
    assert_eq!(doc["txmsgs"], 11, "{doc}");
    p.close(Duration::from_millis(100)).ok();
}
