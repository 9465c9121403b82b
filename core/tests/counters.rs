//! `Producer::counters` (what the Java binding's metrics are computed from) against the shared
//! broker (`RAFKA_BOOTSTRAP`): the counts match what was sent, maxima start again per snapshot.

mod common;

use std::time::Duration;

use rafka_core::{Producer, ProducerRecord};

#[test]
fn counters_count_the_records_requests_and_bytes_sent_and_failed() {
    let topic = common::unique_topic("counters");
    common::create_topic(&topic, 2);
    let p = Producer::new(common::config(&[("linger.ms", "5"), ("buffer.memory", "5000000"), ("max.request.size", "4000000")])).unwrap();
    let value = vec![b'v'; 100];
    for i in 0..500 {
        let key = format!("k{i}");
        p.send(&ProducerRecord::new(&topic).key(key.as_bytes()).value(&value)).unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();
    let c = p.counters(Duration::from_secs(5)).unwrap();
    assert_eq!(c.buffer_total_bytes, 5_000_000);
    assert_eq!(c.buffer_used_bytes, 0, "everything was reported");
    assert_eq!(c.buffer_wait_ns, 0, "no send() waited for memory");
    assert_eq!(c.records_in_flight, 0);
    let t = c.topics.iter().find(|t| t.topic == topic).unwrap_or_else(|| panic!("no {topic}: {c:?}"));
    assert_eq!((t.records_sent, t.records_failed, t.records_retried), (500, 0, 0), "{c:?}");
    assert!(t.batches_sent >= 2 && (t.compression_ratio_sum - t.batches_sent as f64).abs() < 1e-9, "uncompressed batches: ratio 1 each: {t:?}");
    assert!((500 * 102..500 * 200).contains(&t.bytes_sent), "{t:?}");
    assert_eq!(c.produce_records, 500);
    assert_eq!(c.batches, t.batches_sent);
    assert!(c.produce_requests >= 1 && c.produce_requests <= c.batches, "{c:?}");
    assert_eq!(c.request_latency_count, c.produce_requests, "every request was answered");
    assert_eq!(c.throttle_count, c.produce_requests);
    assert_eq!(c.throttle_ms_sum, 0);
    assert!(c.request_latency_ns_max > 0 && c.request_latency_ns_max <= c.request_latency_ns_sum, "{c:?}");
    assert!(c.batch_bytes_max > 0 && c.batch_bytes_sum == t.bytes_sent, "{c:?}");
    assert!(c.tx_bytes > t.bytes_sent, "requests carry the batches and more: {c:?}");
    assert!(c.connections >= 1, "{c:?}");

    // Maxima are since the previous snapshot; counts keep growing.
    let again = p.counters(Duration::from_secs(5)).unwrap();
    assert_eq!((again.request_latency_ns_max, again.batch_bytes_max, again.queue_ns_max), (0, 0, 0), "{again:?}");
    assert_eq!(again.produce_records, 500);

    // A record over the broker's message.max.bytes (1 MB by default) fails: one record failed.
    let big = vec![0u8; 1_500_000];
    assert!(p.send(&ProducerRecord::new(&topic).value(&big)).unwrap().wait().is_err());
    let after = p.counters(Duration::from_secs(5)).unwrap();
    let t = after.topics.iter().find(|t| t.topic == topic).unwrap();
    assert_eq!(t.records_failed, 1, "{after:?}");
    p.close(Duration::from_secs(10)).unwrap();
    assert!(p.counters(Duration::from_secs(1)).is_err(), "a closed producer has no I/O thread to answer");
}
