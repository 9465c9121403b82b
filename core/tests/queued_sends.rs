//! Sends to a topic whose metadata is not known yet, with `queue_until_metadata` (librdkafka's
//! semantics, used by the C, C++ and Python APIs): `send()` returns at once, and the record is
//! delivered when the topic appears or fails through its report, against the real broker (whose
//! `auto.create.topics.enable` is false), read back by Kafka's own consumer.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::*;
use rafka_core::{Code, Delivery, LocalCode, Producer, ProducerRecord};

const T: Duration = Duration::from_secs(60);

/// A producer that queues records to unknown topics; every report goes to the returned channel
/// as (opaque, partition, error code or 0).
fn queueing_producer(extra: &[(&str, &str)]) -> (Producer, mpsc::Receiver<(usize, i32, i32, String)>) {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let p = Producer::builder(config(extra))
        .queue_until_metadata(true)
        .delivery_handler(move |d: &Delivery<'_>, opaque| {
            let (code, msg) = d.error.map_or((0, String::new()), |e| (e.code().as_i32(), e.to_string()));
            let _ = tx.lock().unwrap().send((opaque, d.partition, code, msg));
        })
        .build()
        .unwrap();
    (p, rx)
}

fn send(p: &Producer, topic: &str, partition: Option<i32>, key: &str, value: &str, opaque: usize) {
    let rec = ProducerRecord { topic, partition, key: Some(key.as_bytes()), value: Some(value.as_bytes()), ..Default::default() };
    p.send_with_opaque(&rec, opaque, true).unwrap();
}

fn reports(rx: &mpsc::Receiver<(usize, i32, i32, String)>, n: usize) -> Vec<(usize, i32, i32, String)> {
    (0..n).map(|_| rx.recv_timeout(T).expect("a report")).collect()
}

#[test]
fn records_to_a_topic_created_after_they_were_sent_are_delivered_in_order() {
    let topic = unique_topic("queued-late");
    let (p, rx) = queueing_producer(&[("linger.ms", "1")]);
    // Sent while the topic does not exist: each send returns having queued the record.
    for i in 0..50 {
        send(&p, &topic, Some(0), "k", &format!("early-{i:02}"), i);
    }
    assert_eq!(p.in_flight_count(), 50, "queued, counted, none reported");
    assert!(rx.try_recv().is_err(), "no report before the topic exists");
    create_topic(&topic, 2);
    // Sent while the first ones may still wait: they must not overtake them.
    for i in 50..100 {
        send(&p, &topic, Some(0), "k", &format!("later-{i:02}"), i);
    }
    p.flush(T).unwrap();
    let got = reports(&rx, 100);
    assert!(got.iter().all(|r| r.2 == 0 && r.1 == 0), "all delivered to partition 0: {:?}", got.iter().find(|r| r.2 != 0));
    let read = consume(&topic, 100);
    let values: Vec<String> = read.iter().map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap()).collect();
    let want: Vec<String> = (0..100).map(|i| if i < 50 { format!("early-{i:02}") } else { format!("later-{i:02}") }).collect();
    assert_eq!(values, want, "partition 0 holds the records in send order");
    p.close(T).unwrap();
}

#[test]
fn queued_records_without_a_partition_are_placed_by_key_once_the_topic_is_known() {
    let topic = unique_topic("queued-keys");
    let (p, rx) = queueing_producer(&[]);
    let keys: Vec<Vec<u8>> = (0..40).map(|i| format!("key-{i}").into_bytes()).collect();
    for (i, k) in keys.iter().enumerate() {
        send(&p, &topic, None, std::str::from_utf8(k).unwrap(), "v", i);
    }
    create_topic(&topic, 4);
    p.flush(T).unwrap();
    let mut got = reports(&rx, 40);
    got.sort();
    let want = java_partitions(&keys, 4);
    for (r, w) in got.iter().zip(&want) {
        assert_eq!((r.2, r.1), (0, *w as i32), "record {} placed by the Java partitioner's hash of its key", r.0);
    }
    p.close(T).unwrap();
}

#[test]
fn records_to_a_topic_that_never_appears_fail_with_the_brokers_unknown_topic_or_partition_after_the_propagation_time() {
    let topic = unique_topic("queued-missing");
    let (p, rx) = queueing_producer(&[("topic.metadata.propagation.max.ms", "1500")]);
    send(&p, &topic, None, "k", "v", 7);
    let (opaque, partition, code, msg) = reports(&rx, 1).remove(0);
    assert_eq!((opaque, partition, code), (7, -1, 3), "UNKNOWN_TOPIC_OR_PARTITION, as librdkafka reports it: {msg}");
    assert!(msg.contains("UNKNOWN_TOPIC_OR_PARTITION") && msg.contains("topic.metadata.propagation.max.ms"), "{msg}");
    // The count drops once the delivery thread has finished the report's job, just after the
    // handler returns: flush() waits for that.
    p.flush(T).unwrap();
    assert_eq!(p.in_flight_count(), 0, "the failed record is no longer counted");
    p.close(T).unwrap();
}

#[test]
fn records_queued_with_no_reachable_broker_fail_with_msg_timed_out_saying_no_broker_answered() {
    let mut c = config(&[("message.timeout.ms", "1500"), ("reconnect.backoff.max.ms", "200")]);
    c.set("bootstrap.servers", "127.0.0.1:1").unwrap();
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let p = Producer::builder(c)
        .queue_until_metadata(true)
        .delivery_handler(move |d: &Delivery<'_>, _| {
            let _ = tx.lock().unwrap().send(d.error.map(|e| (e.code(), e.to_string())));
        })
        .build()
        .unwrap();
    p.send_with_opaque(&ProducerRecord::new("no-broker").value(b"v"), 0, false).unwrap();
    let (code, msg) = rx.recv_timeout(T).unwrap().expect("the record fails");
    assert_eq!(code, Code::Local(LocalCode::MessageTimedOut), "{msg}");
    assert!(msg.contains("no broker answered") && msg.contains("127.0.0.1:1"), "the diagnosis names the address: {msg}");
    p.close(T).unwrap();
}

#[test]
fn an_explicit_partition_the_topic_lacks_fails_its_record() {
    let topic = unique_topic("queued-partition");
    let (p, rx) = queueing_producer(&[]);
    send(&p, &topic, Some(5), "k", "v", 1); // queued: the topic's partitions are not known yet
    create_topic(&topic, 2);
    let (_, partition, code, msg) = reports(&rx, 1).remove(0);
    assert_eq!((partition, code), (-1, LocalCode::UnknownPartition as i32), "{msg}");
    assert!(msg.contains("partition 5") && msg.contains("2 partitions"), "{msg}");
    // Known now: the same send fails at once, as librdkafka's produce() does.
    let e = p.send_with_opaque(&ProducerRecord { topic: &topic, partition: Some(5), ..Default::default() }, 2, true).unwrap_err();
    assert_eq!(e.code(), Code::Local(LocalCode::UnknownPartition), "{e}");
    p.close(T).unwrap();
}

#[test]
fn purge_and_close_report_queued_records_instead_of_dropping_them() {
    let (p, rx) = queueing_producer(&[]);
    send(&p, &unique_topic("queued-purge"), None, "k", "v", 1);
    p.purge();
    let (_, _, code, msg) = reports(&rx, 1).remove(0);
    assert_eq!(code, LocalCode::PurgedQueue as i32, "{msg}");
    send(&p, &unique_topic("queued-close"), None, "k", "v", 2);
    assert!(p.close(Duration::from_millis(300)).is_err(), "close could not deliver the queued record");
    let (opaque, _, code, msg) = reports(&rx, 1).remove(0);
    assert_eq!((opaque, code), (2, LocalCode::Closed as i32), "{msg}");
}

#[test]
fn without_queueing_send_waits_for_the_topic_as_the_java_producer_does() {
    let topic = unique_topic("queued-java");
    let p = Producer::new(config(&[("max.block.ms", "1000")])).unwrap();
    let Err(e) = p.send(&ProducerRecord::new(&topic).value(b"v")) else { panic!("send to a missing topic succeeded") };
    assert_eq!(e.code(), Code::Local(LocalCode::UnknownTopic), "{e}");
    assert!(e.to_string().contains("max.block.ms"), "{e}");
}

#[test]
fn the_error_handler_hears_all_brokers_down_once_naming_the_cause() {
    let mut c = config(&[("reconnect.backoff.ms", "20"), ("reconnect.backoff.max.ms", "100")]);
    c.set("bootstrap.servers", "127.0.0.1:1").unwrap();
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let p = Producer::builder(c)
        .queue_until_metadata(true)
        .error_handler(move |e| {
            let _ = tx.lock().unwrap().send((e.code(), e.to_string()));
        })
        .build()
        .unwrap();
    let (code, msg) = rx.recv_timeout(T).expect("an error report");
    assert_eq!(code, Code::Local(LocalCode::AllBrokersDown), "{msg}");
    assert!(msg.contains("1/1 brokers are down"), "{msg}");
    // Retries go on (every 20-100 ms): the state is told once, not per attempt.
    assert!(rx.recv_timeout(Duration::from_secs(2)).is_err(), "told again while nothing changed");
    p.close(Duration::from_secs(1)).unwrap();
}
