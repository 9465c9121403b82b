//! The cluster changes under a running producer (issue 22, item 5), against the real broker:
//! partitions added, a topic deleted (and created again), a broker replaced by one with a new id,
//! with records read back by Kafka's own consumer. (A reassigned partition is in broker_faults.rs,
//! KAFKA_STORAGE_ERROR in proxy_faults.rs.)

mod common;

use std::collections::BTreeSet;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::cluster::*;
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

/// A lost machine replaced by a new one: the leader is killed for good and a broker with a new node
/// id comes up on its address (host and port). The producer first follows the surviving replica,
/// then the new broker once the partition is moved onto it: a node id it has never seen, at an
/// address it last knew as the dead one's.
#[test]
fn a_leader_replaced_by_a_broker_with_a_new_id_at_its_address_takes_the_records_and_each_is_stored_once_in_order() {
    let c = StopOnDrop(Cluster::start("replace", 3, 24600));
    let topic = unique_topic("replaced");
    c.kafka(&["topic", "create", &topic, "--partitions", "1", "--replication-factor", "2"]);
    await_topic(&c.bootstrap, &topic);
    // A broker of a fresh cluster answers InitProducerId with COORDINATOR_LOAD_IN_PROGRESS until
    // it has a block of producer ids: wait that out through each broker first.
    let brokers: Vec<String> = c.bootstrap.split(',').map(str::to_string).collect();
    for b in &brokers {
        let warm = Producer::new(c.config(&[("bootstrap.servers", b)])).unwrap();
        warm.send(&ProducerRecord::new(&topic).value(b"-1")).unwrap().wait().unwrap();
    }
    let old = c.leader_of(&topic, 0);
    const NEW: i32 = 7;
    let p = Arc::new(Producer::new(c.config(&[("acks", "all"), ("linger.ms", "5"), ("batch.size", "2048")])).unwrap());
    let sender = StreamingSender::start(&p, &topic, 30, 50, Duration::from_millis(10));
    std::thread::sleep(Duration::from_millis(700));
    c.kafka(&["replace", &old.to_string(), "--new-id", &NEW.to_string()]);
    // The controller notices the lost node after broker.session.timeout.ms (6 s in these
    // clusters), which `replace` may return before, and then elects the surviving replica.
    let waited = Instant::now();
    let survivor = loop {
        let leader = c.leader_of(&topic, 0);
        if leader != old || waited.elapsed() > Duration::from_secs(30) {
            break leader;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(survivor != old && survivor != NEW, "the surviving replica leads within 30 s after node {old} is gone, not {survivor}");
    std::thread::sleep(Duration::from_millis(700));
    c.kafka(&["topic", "reassign", &topic, "--partition", "0", "--replicas", &NEW.to_string()]);
    assert_eq!(c.leader_of(&topic, 0), NEW, "the partition moved onto the new broker");
    // Node NEW is now the partition's only replica: a record acknowledged from here on was stored by it.
    let marker = p.send(&ProducerRecord::new(&topic).value(b"-2")).unwrap().wait();
    marker.unwrap_or_else(|e| panic!("a record sent after the move to node {NEW} (at node {old}'s old address) failed: {e}"));
    std::thread::sleep(Duration::from_millis(500));
    let (n, failures) = sender.stop();
    p.flush(Duration::from_secs(30)).unwrap_or_else(|e| panic!("records still waiting after node {old} was replaced by {NEW}: {e}"));
    assert!(failures.is_empty(), "failed deliveries: {} of {n}, first {:?}", failures.len(), failures.first());
    let got: Vec<_> = c.consume(&topic, n + brokers.len() + 1).into_iter().filter(|r| !r.value.as_deref().is_some_and(|v| v.starts_with(b"-"))).collect();
    assert_eq!(got.len(), n, "every record stored once");
    assert_exactly_once_in_key_order(got);
}
