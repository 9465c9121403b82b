//! The cluster changes under a running producer (issue 22, item 5), against the real broker:
//! partitions added, a topic deleted (and created again), with records read back by Kafka's own
//! consumer.

mod common;

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use rafka_core::{Delivery, Producer, ProducerRecord};

type Report = (usize, String, i32, Option<String>);

fn producer(extra: &[(&str, &str)]) -> (Producer, mpsc::Receiver<Report>) {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let p = Producer::builder(config(extra))
        .delivery_handler(move |d: &Delivery<'_>, opaque| {
            let _ = tx.lock().unwrap().send((opaque, d.topic.to_string(), d.partition, d.error.map(|e| e.to_string())));
        })
        .build()
        .unwrap();
    (p, rx)
}

fn send(p: &Producer, topic: &str, value: &str, opaque: usize) -> rafka_core::Result<()> {
    let rec = ProducerRecord { topic, value: Some(value.as_bytes()), ..Default::default() };
    p.send_with_opaque(&rec, opaque, true)
}

#[test]
fn partitions_added_to_a_topic_are_used_within_metadata_max_age() {
    let topic = unique_topic("grow");
    create_topic(&topic, 1);
    let (p, rx) = producer(&[("metadata.max.age.ms", "1000"), ("linger.ms", "1"), ("batch.size", "200")]);
    let mut n = 0;
    for _ in 0..20 {
        send(&p, &topic, &format!("before-{n}"), n).unwrap();
        n += 1;
    }
    p.flush(Duration::from_secs(30)).unwrap();
    kafka(&["topic", "alter", &topic, "--partitions", "3"]);
    let altered = Instant::now();
    let mut partitions = BTreeSet::new();
    // Keyless records with small batches: the sticky partitioner moves on often, so once the
    // producer knows 3 partitions, records reach the new ones.
    while partitions.len() < 3 && altered.elapsed() < Duration::from_secs(30) {
        for _ in 0..50 {
            send(&p, &topic, &format!("after-{n}"), n).unwrap();
            n += 1;
        }
        p.flush(Duration::from_secs(30)).unwrap();
        while let Ok((_, _, part, err)) = rx.try_recv() {
            assert_eq!(err, None);
            partitions.insert(part);
        }
    }
    assert_eq!(partitions, BTreeSet::from([0, 1, 2]), "the new partitions were used");
    assert!(altered.elapsed() < Duration::from_secs(30));
    let read = consume(&topic, n);
    assert_eq!(read.len(), n, "every record read back once");
    p.close(Duration::from_secs(30)).unwrap();
}

#[test]
fn a_topic_deleted_under_the_producer_fails_its_records_and_leaves_other_topics_alone() {
    let (doomed, other) = (unique_topic("deleted"), unique_topic("kept"));
    create_topic(&doomed, 1);
    create_topic(&other, 1);
    let (p, rx) = producer(&[("metadata.max.age.ms", "1000"), ("linger.ms", "1"), ("delivery.timeout.ms", "8000"), ("request.timeout.ms", "3000"), ("max.block.ms", "5000")]);
    send(&p, &doomed, "first", 0).unwrap();
    send(&p, &other, "first", 1).unwrap();
    p.flush(Duration::from_secs(30)).unwrap();
    assert!(rx.try_iter().take(2).all(|r| r.3.is_none()));
    kafka(&["topic", "delete", &doomed]);
    // Records to the deleted topic: each fails (in send() or in its report), none is reported
    // delivered, and none blocks longer than max.block.ms.
    let mut failed_in_send = Vec::new();
    for i in 0..10 {
        let started = Instant::now();
        if let Err(e) = send(&p, &doomed, &format!("after-{i}"), 100 + i) {
            failed_in_send.push(e.to_string());
        }
        assert!(started.elapsed() < Duration::from_secs(15), "send() waited {:?}", started.elapsed());
        send(&p, &other, &format!("after-{i}"), 200 + i).unwrap();
    }
    let _ = p.flush(Duration::from_secs(30));
    let reports: Vec<Report> = rx.try_iter().collect();
    let doomed_reports: Vec<&Report> = reports.iter().filter(|r| r.1 == doomed).collect();
    assert_eq!(doomed_reports.len() + failed_in_send.len(), 10, "one outcome per record: {reports:?} {failed_in_send:?}");
    for r in &doomed_reports {
        let e = r.3.as_deref().unwrap_or_else(|| panic!("a record to the deleted topic was reported delivered: {r:?}"));
        assert!(e.contains("UNKNOWN_TOPIC") || e.contains(&doomed), "the error names the cause: {e}");
    }
    for e in &failed_in_send {
        assert!(e.contains(&doomed), "the error names the topic: {e}");
    }
    let kept: Vec<&Report> = reports.iter().filter(|r| r.1 == other).collect();
    assert_eq!(kept.len(), 10);
    assert!(kept.iter().all(|r| r.3.is_none()), "the other topic is unaffected: {kept:?}");
    assert_eq!(consume(&other, 11).len(), 11);
    p.close(Duration::from_secs(30)).unwrap();
}

#[test]
fn a_topic_deleted_and_created_again_takes_records_again() {
    let topic = unique_topic("recreated");
    create_topic(&topic, 1);
    let (p, rx) = producer(&[("metadata.max.age.ms", "1000"), ("linger.ms", "1")]);
    send(&p, &topic, "first-life", 0).unwrap();
    p.flush(Duration::from_secs(30)).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap().3, None);
    kafka(&["topic", "delete", &topic]);
    create_topic(&topic, 2);
    // Records sent after it is back are delivered (to the new topic's partitions: the producer
    // learns its new partition count from metadata), and read back from the new topic alone.
    for i in 0..10 {
        send(&p, &topic, &format!("second-life-{i}"), 1 + i).unwrap();
    }
    p.flush(Duration::from_secs(60)).unwrap();
    let reports: Vec<Report> = rx.try_iter().collect();
    assert_eq!(reports.len(), 10);
    assert!(reports.iter().all(|r| r.3.is_none()), "{reports:?}");
    let values: BTreeSet<String> = consume(&topic, 10).into_iter().map(|r| String::from_utf8(r.value.unwrap()).unwrap()).collect();
    assert_eq!(values, (0..10).map(|i| format!("second-life-{i}")).collect::<BTreeSet<_>>());
    p.close(Duration::from_secs(30)).unwrap();
}
