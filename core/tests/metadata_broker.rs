//! `Producer::metadata()` against the real broker: what it lists must match what the topic tool
//! created, and a query must neither create topics nor hang.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rafka_core::protocol::error_codes::KafkaCode;
use rafka_core::{current_producer_id, Code, LocalCode, Producer, ProducerRecord};

const T: Duration = Duration::from_secs(30);

#[test]
fn metadata_for_one_topic_lists_its_partitions_with_leaders_replicas_and_isrs() {
    let topic = unique_topic("meta-one");
    create_topic(&topic, 3);
    await_topic(&bootstrap(), &topic);
    let p = Producer::new(config(&[])).unwrap();
    let md = p.metadata(Some(&[topic.as_str()]), T).unwrap();
    assert_eq!(md.topics.len(), 1, "only the topic asked for");
    let t = &md.topics[0];
    assert_eq!(t.name, topic);
    assert!(t.error.is_none(), "{:?}", t.error);
    let mut ids: Vec<i32> = t.partitions.iter().map(|p| p.id).collect();
    ids.sort();
    assert_eq!(ids, vec![0, 1, 2]);
    let broker_ids: Vec<i32> = md.brokers.iter().map(|b| b.id).collect();
    for part in &t.partitions {
        assert!(broker_ids.contains(&part.leader), "leader {} is a listed broker {broker_ids:?}", part.leader);
        assert!(part.replicas.contains(&part.leader) && part.isrs.contains(&part.leader));
        assert!(part.error.is_none());
    }
    assert!(md.cluster_id.as_deref().is_some_and(|c| !c.is_empty()));
    assert!(broker_ids.contains(&md.orig_broker_id), "the answering broker {} is listed", md.orig_broker_id);
    assert!(md.orig_broker_name.ends_with(&format!("/{}", md.orig_broker_id)));
    assert!(md.brokers.iter().all(|b| !b.host.is_empty() && b.port > 0));
}

#[test]
fn metadata_for_all_topics_includes_every_created_topic() {
    let (a, b) = (unique_topic("meta-all-a"), unique_topic("meta-all-b"));
    create_topic(&a, 1);
    create_topic(&b, 2);
    await_topic(&bootstrap(), &a);
    await_topic(&bootstrap(), &b);
    let p = Producer::new(config(&[])).unwrap();
    let md = p.metadata(None, T).unwrap();
    let count = |name: &str| md.topics.iter().find(|t| t.name == name).map(|t| t.partitions.len());
    assert_eq!(count(&a), Some(1));
    assert_eq!(count(&b), Some(2));
}

#[test]
fn metadata_for_a_missing_topic_reports_its_error_and_does_not_create_it() {
    let topic = unique_topic("meta-missing");
    let p = Producer::new(config(&[])).unwrap();
    for _ in 0..2 {
        let md = p.metadata(Some(&[topic.as_str()]), T).unwrap();
        assert_eq!(md.topics.len(), 1);
        let e = md.topics[0].error.as_ref().expect("an error for a missing topic");
        assert_eq!(e.code(), Code::Kafka(KafkaCode::UNKNOWN_TOPIC_OR_PARTITION));
        assert!(md.topics[0].partitions.is_empty());
    }
}

#[test]
fn metadata_without_a_reachable_broker_fails_fast_naming_the_closed_port() {
    // Nothing listens there: the call fails once the refusal is seen twice, not at its timeout.
    let mut c = rafka_core::Config::new();
    c.set("bootstrap.servers", "127.0.0.1:1").unwrap();
    let p = Producer::new(c).unwrap();
    let t0 = std::time::Instant::now();
    let e = p.metadata(None, Duration::from_secs(30)).unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}: {e}", t0.elapsed());
    assert!(e.is_local(LocalCode::Transport), "{e}");
    assert!(e.message().contains("nothing listens on 127.0.0.1:1"), "{e}");
}

#[test]
fn metadata_after_close_fails_with_a_state_error() {
    let p = Producer::new(config(&[])).unwrap();
    p.close(T).unwrap();
    let e = p.metadata(None, T).unwrap_err();
    assert!(e.is_local(LocalCode::State), "{e}");
}

#[test]
fn engine_threads_know_which_producer_they_serve() {
    let topic = unique_topic("meta-id");
    create_topic(&topic, 1);
    let p = Producer::new(config(&[])).unwrap();
    let seen: Arc<Mutex<Option<Option<u64>>>> = Arc::default();
    let s = seen.clone();
    p.send_with_callback(&ProducerRecord::new(&topic).value(b"x"), move |_| *s.lock().unwrap() = Some(current_producer_id())).unwrap();
    p.flush(T).unwrap();
    assert_eq!(*seen.lock().unwrap(), Some(Some(p.id())), "the delivery thread carries the producer's id");
    assert_eq!(current_producer_id(), None, "an application thread carries none");
}

/// A `send()` to a topic the producer has no metadata for asks the I/O thread for it. A metadata
/// request may go only `retry.backoff.ms` after the previous one; the I/O thread must wake when
/// that backoff ends, not sleep on until its next idle tick a second later (which made the first
/// send to each new topic, and the first send of a transactional producer, wait about a second).
#[test]
fn sends_to_new_topics_one_right_after_another_each_wait_a_retry_backoff_for_metadata_not_a_second() {
    let topics: Vec<String> = (0..5).map(|i| unique_topic(&format!("meta-next{i}"))).collect();
    for t in &topics {
        create_topic(t, 1);
        await_topic(&bootstrap(), t);
    }
    let p = Producer::new(config(&[("retry.backoff.ms", "100")])).unwrap();
    p.send(&ProducerRecord::new(&topics[0]).value(b"first")).unwrap().wait().unwrap();
    let mut waits = Vec::new();
    for t in &topics[1..] {
        // Each send waits for its topic's metadata, asked for right after the previous topic's.
        let started = std::time::Instant::now();
        p.send(&ProducerRecord::new(t).value(b"next")).unwrap();
        waits.push(started.elapsed());
    }
    p.flush(T).unwrap();
    let total: Duration = waits.iter().sum();
    // Four backoffs of 100 ms and four round trips to a local broker; the I/O thread's idle
    // second would make it about four seconds.
    assert!(total < Duration::from_millis(2000), "send() waited {waits:?} for the metadata of four new topics");
}
