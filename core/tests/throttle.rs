//! The throttle handler against a real broker that throttles: a private one-broker cluster
//! (port 25180) whose default client quota is 1 KiB/s of produce traffic.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::cluster::Cluster;
use rafka_core::{Producer, ProducerRecord};

#[test]
fn a_producer_over_its_quota_hears_the_broker_throttle_time() {
    let c = Cluster::shared("throttle", 1, 25180);
    c.kafka(&["quota", "set", "producer_byte_rate=1024"]);
    let topic = common::unique_topic("throttled");
    c.kafka(&["topic", "create", &topic, "--partitions", "1"]);
    let seen: Arc<Mutex<Vec<(String, i32, i32)>>> = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let p = Producer::builder(c.config(&[("linger.ms", "0")]))
        .throttle_handler(move |name, id, ms| s.lock().unwrap().push((name.to_string(), id, ms)))
        .build()
        .unwrap();
    // 20 KiB at 1 KiB/s: the broker answers with a throttle time well before the end.
    let value = vec![b'q'; 1024];
    for _ in 0..20 {
        p.send(&ProducerRecord::new(&topic).value(&value)).unwrap().wait().unwrap();
        if !seen.lock().unwrap().is_empty() {
            break;
        }
    }
    p.flush(Duration::from_secs(60)).unwrap();
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty(), "no throttle time reported");
    for (name, id, ms) in &seen {
        assert_eq!(*id, 1);
        assert_eq!(name, &format!("{}/1", c.bootstrap), "broker name");
        assert!(*ms > 0);
    }
    p.close(Duration::from_secs(10)).unwrap();
}
