//! The partitioner metrics against a paused broker: sticky partitioning skips the partitions
//! whose leader stopped taking batches (`partitioner.availability.timeout.ms`), and the
//! statistics count each skip. A private three-broker cluster (ports 25200-25202), since a broker is
//! paused.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cluster::Cluster;
use rafka_core::{Producer, ProducerRecord};
use serde_json::Value;

#[test]
fn partitions_of_a_paused_broker_show_as_skipped_unavailable_in_the_partitioner_metrics() {
    let c = Cluster::shared("partstats", 3, 25200);
    let topic = common::unique_topic("partstats-unavail");
    c.kafka(&["topic", "create", &topic, "--partitions", "6", "--replication-factor", "1"]);
    let on_2: Vec<i32> = (0..6).filter(|p| c.leader_of(&topic, *p) == 2).collect();
    assert!(!on_2.is_empty() && on_2.len() < 6, "the partitions' leaders are spread over the brokers: {on_2:?} on broker 2");
    let docs = Arc::new(Mutex::new(Vec::<Value>::new()));
    let d = docs.clone();
    let p = Producer::builder(c.config(&[
        ("statistics.interval.ms", "100"),
        ("partitioner.availability.timeout.ms", "200"),
        ("batch.size", "200"),
        ("linger.ms", "0"),
        ("max.in.flight.requests.per.connection", "1"),
        ("request.timeout.ms", "60000"),
        ("delivery.timeout.ms", "120000"),
    ]))
    .stats_handler(move |json| d.lock().unwrap().push(serde_json::from_str(json).unwrap()))
    .build()
    .unwrap();
    let value = vec![b'u'; 100];
    // Every partition's metadata is known and its leader connected before the pause.
    for part in 0..6 {
        p.send(&ProducerRecord::new(&topic).partition(part).value(&value)).unwrap().wait().unwrap();
    }
    let skips = |d: &Value| d["topics"][&topic]["partitioner_unavailable_skips"].as_u64().unwrap_or(0);
    assert_eq!(docs.lock().unwrap().last().map_or(0, skips), 0);

    c.kafka(&["pause", "2"]);
    // Keyless records, a switch every second one: those for broker 2's partitions stay queued,
    // and after 200 ms those partitions are skipped.
    let mut futures = Vec::new();
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        futures.push(p.send(&ProducerRecord::new(&topic).value(&value)).unwrap());
        std::thread::sleep(Duration::from_millis(10));
    }
    let seen = {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let last = docs.lock().unwrap().last().cloned().unwrap_or_default();
            if skips(&last) > 0 || Instant::now() > deadline {
                break last;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    c.kafka(&["resume", "2"]);
    assert!(skips(&seen) > 0, "no partition skipped as unavailable while broker 2 was paused: {seen}");
    let t = &seen["topics"][&topic];
    assert!(t["partitioner_sticky_switches"].as_u64().unwrap() > 10, "{seen}");
    // Skipped partitions weigh nothing in the adaptive choice.
    let weights = t["partitioner_adaptive_weights"].as_array().unwrap();
    assert_eq!(weights.len(), 6, "{seen}");
    let sent = futures.len();
    for f in futures {
        f.wait().unwrap();
    }
    assert_eq!(c.consume(&topic, 6 + sent).len(), 6 + sent);
    p.close(Duration::from_secs(10)).unwrap();
}
