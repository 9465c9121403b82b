//! Transactions against a real broker (`RAFKA_BOOTSTRAP`; a Kafka 4.x broker uses transaction
//! version 2), read back by Kafka's own consumer with `isolation.level=read_committed` and
//! without. `RAFKA_BOOTSTRAP_39`, when set, names a Kafka 3.9 broker (transaction version 1:
//! AddPartitionsToTxn) for the same basic test; otherwise that test starts one with
//! `scripts/kafka` on port 21592 (so the full suite runs under `flock /tmp/rafka-fullsuite.lock`).

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::*;
use rafka_core::{ConsumerGroupMetadata, OffsetAndMetadata, Producer, ProducerRecord, TxnState};

const T: Duration = Duration::from_secs(30);

fn txn_producer(bootstrap: &str, txn_id: &str, extra: &[(&str, &str)]) -> Producer {
    let mut c = config(&[("transactional.id", txn_id), ("linger.ms", "5")]);
    c.set("bootstrap.servers", bootstrap).unwrap();
    for (k, v) in extra {
        c.set(k, v).unwrap();
    }
    Producer::new(c).unwrap()
}

fn send(p: &Producer, topic: &str, partition: i32, value: &str) -> rafka_core::DeliveryFuture {
    p.send(&ProducerRecord { topic, partition: Some(partition), value: Some(value.as_bytes()), ..Default::default() }).unwrap()
}

fn consume_at(bootstrap: &str, topic: &str, expected: usize, read_committed: bool) -> Vec<String> {
    let n = expected.to_string();
    let mut args = vec!["consume", topic, "--max", &n, "--timeout", "8", "--bootstrap", bootstrap];
    if read_committed {
        args.push("--read-committed");
    }
    let out = kafka(&args);
    let mut values: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["value"].as_str().unwrap_or_default().to_string())
        .collect();
    values.sort();
    values
}

fn topic_on(bootstrap: &str, prefix: &str, partitions: u32) -> String {
    let t = unique_topic(prefix);
    kafka(&["topic", "create", &t, "--partitions", &partitions.to_string(), "--bootstrap", bootstrap]);
    await_topic(bootstrap, &t);
    t
}

/// Commits one transaction over three partitions, aborts a second, commits a third: the
/// read_committed consumer sees the committed records only, read_uncommitted sees all.
fn committed_visible_aborted_not(bootstrap: &str) {
    let topic = topic_on(bootstrap, "txn-basic", 3);
    let p = txn_producer(bootstrap, &unique_topic("txn-id"), &[]);
    p.init_transactions(T).unwrap();
    assert_eq!(p.transaction_state(), Some(TxnState::Ready));

    p.begin_transaction().unwrap();
    let futs: Vec<_> = (0..30).map(|i| send(&p, &topic, i % 3, &format!("c1-{i:02}"))).collect();
    p.commit_transaction(T).unwrap();
    for f in futs {
        f.wait_timeout(T).unwrap();
    }

    p.begin_transaction().unwrap();
    let futs: Vec<_> = (0..10).map(|i| send(&p, &topic, i % 3, &format!("ab-{i:02}"))).collect();
    p.flush(T).unwrap();
    p.abort_transaction(T).unwrap();
    for f in futs {
        f.wait_timeout(T).unwrap(); // flushed before the abort: written, then aborted
    }

    p.begin_transaction().unwrap();
    send(&p, &topic, 1, "c2-00");
    p.commit_transaction(T).unwrap();
    p.close(T).unwrap();

    let committed = consume_at(bootstrap, &topic, 31, true);
    let mut want: Vec<String> = (0..30).map(|i| format!("c1-{i:02}")).collect();
    want.push("c2-00".into());
    want.sort();
    assert_eq!(committed, want, "read_committed sees exactly the committed records");
    let all = consume_at(bootstrap, &topic, 41, false);
    assert_eq!(all.len(), 41, "read_uncommitted sees the aborted records too: {all:?}");
    assert!(all.iter().any(|v| v.starts_with("ab-")));
}

#[test]
fn committed_records_are_visible_to_read_committed_and_aborted_ones_never() {
    committed_visible_aborted_not(&bootstrap());
}

#[test]
fn abort_fails_records_not_yet_sent_and_the_next_transaction_commits() {
    let bootstrap = bootstrap();
    let topic = topic_on(&bootstrap, "txn-abort-unsent", 1);
    let p = txn_producer(&bootstrap, &unique_topic("txn-id"), &[("linger.ms", "60000"), ("batch.size", "1000000")]);
    p.init_transactions(T).unwrap();
    p.begin_transaction().unwrap();
    let futs: Vec<_> = (0..5).map(|i| send(&p, &topic, 0, &format!("never-{i}"))).collect();
    p.abort_transaction(T).unwrap();
    for f in futs {
        let e = f.wait_timeout(T).unwrap_err();
        assert_eq!(e.name(), "_PURGE_QUEUE", "{e}");
    }
    p.begin_transaction().unwrap();
    send(&p, &topic, 0, "kept");
    p.commit_transaction(T).unwrap();
    p.close(T).unwrap();
    assert_eq!(consume_at(&bootstrap, &topic, 1, true), vec!["kept".to_string()]);
    assert_eq!(consume_at(&bootstrap, &topic, 10, false), vec!["kept".to_string()], "nothing of the aborted transaction was written");
}

#[test]
fn a_second_producer_with_the_same_id_fences_the_first() {
    let bootstrap = bootstrap();
    let topic = topic_on(&bootstrap, "txn-fence", 2);
    let id = unique_topic("txn-id");
    let zombie = txn_producer(&bootstrap, &id, &[]);
    zombie.init_transactions(T).unwrap();
    zombie.begin_transaction().unwrap();
    send(&zombie, &topic, 0, "zombie-before");
    zombie.flush(T).unwrap();

    let fresh = txn_producer(&bootstrap, &id, &[]);
    fresh.init_transactions(T).unwrap(); // fences the zombie and aborts its open transaction

    // The zombie's next sends and its commit fail fatally.
    let late = zombie.send(&ProducerRecord { topic: &topic, partition: Some(1), value: Some(b"zombie-after"), ..Default::default() });
    let err = zombie.commit_transaction(T).unwrap_err();
    assert!(err.is_fatal(), "fatal: {err}");
    // The broker refuses the zombie's batch with INVALID_PRODUCER_EPOCH; as the Java client
    // (ProducerFencedException), the producer reports it as PRODUCER_FENCED.
    assert_eq!(err.name(), "PRODUCER_FENCED", "{err}");
    assert_eq!(zombie.transaction_state(), Some(TxnState::FatalError));
    if let Ok(f) = late {
        assert!(f.wait_timeout(T).is_err(), "a record sent after fencing is not delivered");
    }
    let again = zombie.begin_transaction().unwrap_err();
    assert!(again.is_fatal(), "{again}");
    zombie.close(T).unwrap();

    fresh.begin_transaction().unwrap();
    send(&fresh, &topic, 0, "fresh");
    fresh.commit_transaction(T).unwrap();
    fresh.close(T).unwrap();
    assert_eq!(consume_at(&bootstrap, &topic, 1, true), vec!["fresh".to_string()], "nothing of the zombie is visible");
}

#[test]
fn the_coordinator_aborts_a_transaction_open_past_its_timeout_and_commit_says_so() {
    let bootstrap = bootstrap();
    let topic = topic_on(&bootstrap, "txn-timeout", 1);
    let p = txn_producer(&bootstrap, &unique_topic("txn-id"), &[("transaction.timeout.ms", "2000")]);
    p.init_transactions(T).unwrap();
    p.begin_transaction().unwrap();
    send(&p, &topic, 0, "too-late");
    p.flush(T).unwrap();
    // The coordinator checks for expired transactions every
    // transaction.abort.timed.out.transaction.cleanup.interval.ms (10 s by default).
    std::thread::sleep(Duration::from_secs(14));
    let err = p.commit_transaction(T).unwrap_err();
    assert!(err.is_fatal() || err.txn_requires_abort(), "{err}");
    assert!(err.message().contains("transaction.timeout.ms"), "the error names the timeout: {err}");
    p.close(T).unwrap();
    assert!(consume_at(&bootstrap, &topic, 1, true).is_empty(), "the timed-out transaction was aborted");
}

#[test]
fn send_offsets_to_transaction_commits_the_groups_offsets_with_the_transaction() {
    let bootstrap = bootstrap();
    let topic = topic_on(&bootstrap, "txn-offsets-out", 1);
    let input = topic_on(&bootstrap, "txn-offsets-in", 2);
    let group = unique_topic("txn-group");
    let p = txn_producer(&bootstrap, &unique_topic("txn-id"), &[]);
    p.init_transactions(T).unwrap();

    // An aborted transaction's offsets are not committed.
    p.begin_transaction().unwrap();
    send(&p, &topic, 0, "x");
    let mut offsets = HashMap::new();
    offsets.insert((input.clone(), 0), OffsetAndMetadata::new(5));
    p.send_offsets_to_transaction(&offsets, &ConsumerGroupMetadata::new(group.clone()), T).unwrap();
    p.abort_transaction(T).unwrap();
    assert!(group_offsets(&bootstrap, &group).is_empty(), "aborted offsets are not committed");

    p.begin_transaction().unwrap();
    send(&p, &topic, 0, "y");
    offsets.insert((input.clone(), 0), OffsetAndMetadata::new(17));
    offsets.insert((input.clone(), 1), OffsetAndMetadata { offset: 3, leader_epoch: None, metadata: Some("m".into()) });
    p.send_offsets_to_transaction(&offsets, &ConsumerGroupMetadata::new(group.clone()), T).unwrap();
    p.commit_transaction(T).unwrap();
    p.close(T).unwrap();
    let got = group_offsets(&bootstrap, &group);
    assert_eq!(got.get(&(input.clone(), 0)), Some(&17), "{got:?}");
    assert_eq!(got.get(&(input.clone(), 1)), Some(&3), "{got:?}");
}

/// The group's committed offsets, by Kafka's own kafka-consumer-groups tool.
fn group_offsets(bootstrap: &str, group: &str) -> HashMap<(String, i32), i64> {
    let cp = kafka(&["classpath"]);
    let out = Command::new("java")
        .args(["-cp", cp.trim(), "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--bootstrap-server", bootstrap, "--describe", "--group", group])
        .output()
        .expect("run kafka-consumer-groups");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut got = HashMap::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // GROUP TOPIC PARTITION CURRENT-OFFSET ...
        if cols.len() >= 4 && cols[0] == group {
            if let (Ok(p), Ok(o)) = (cols[2].parse::<i32>(), cols[3].parse::<i64>()) {
                got.insert((cols[1].to_string(), p), o);
            }
        }
    }
    got
}

#[test]
fn a_failed_send_makes_the_transaction_abortable_and_abort_recovers() {
    let bootstrap = bootstrap();
    let topic = topic_on(&bootstrap, "txn-abortable", 1);
    // A record larger than the topic accepts fails on the broker (MESSAGE_TOO_LARGE).
    kafka(&["topic", "create", &format!("{topic}-small"), "--partitions", "1", "--config", "max.message.bytes=2000", "--bootstrap", &bootstrap]);
    let small = format!("{topic}-small");
    await_topic(&bootstrap, &small);
    let p = txn_producer(&bootstrap, &unique_topic("txn-id"), &[]);
    p.init_transactions(T).unwrap();
    p.begin_transaction().unwrap();
    send(&p, &topic, 0, "doomed");
    let big = vec![b'x'; 5000];
    let f = p.send(&ProducerRecord { topic: &small, partition: Some(0), value: Some(&big), ..Default::default() }).unwrap();
    assert!(f.wait_timeout(T).is_err());
    let err = p.commit_transaction(T).unwrap_err();
    assert!(err.txn_requires_abort() && !err.is_fatal(), "{err}");
    assert!(err.message().contains("could not be sent"), "{err}");
    p.abort_transaction(T).unwrap();
    p.begin_transaction().unwrap();
    send(&p, &topic, 0, "after");
    p.commit_transaction(T).unwrap();
    p.close(T).unwrap();
    assert_eq!(consume_at(&bootstrap, &topic, 2, true), vec!["after".to_string()]);
}

#[test]
fn calls_out_of_order_are_refused_with_the_state_named() {
    let bootstrap = bootstrap();
    let topic = topic_on(&bootstrap, "txn-order", 1);
    let p = txn_producer(&bootstrap, &unique_topic("txn-id"), &[]);
    let e = p.begin_transaction().unwrap_err();
    assert!(e.message().contains("Uninitialized"), "{e}");
    let e = p.send(&ProducerRecord { topic: &topic, value: Some(b"v"), ..Default::default() }).err().expect("send refused");
    assert!(e.message().contains("begin_transaction"), "{e}");
    p.init_transactions(T).unwrap();
    let e = p.commit_transaction(T).unwrap_err();
    assert!(e.message().contains("Ready"), "{e}");
    let e = p.send(&ProducerRecord { topic: &topic, value: Some(b"v"), ..Default::default() }).err().expect("send refused");
    assert!(e.message().contains("begin_transaction"), "{e}");
    p.close(T).unwrap();

    let plain = Producer::new(config(&[])).unwrap();
    assert!(plain.init_transactions(T).unwrap_err().message().contains("transactional.id"));
}

#[test]
fn init_transactions_without_a_broker_fails_fast_naming_the_port_and_what_it_waited_for() {
    // Nothing listens there: the call fails once the refusal is seen twice, not at its timeout,
    // and may be called again (the request goes on).
    let mut c = rafka_core::Config::new();
    c.set("bootstrap.servers", "127.0.0.1:1").unwrap();
    c.set("transactional.id", "nowhere").unwrap();
    let p = Producer::new(c).unwrap();
    let t0 = Instant::now();
    let e = p.init_transactions(Duration::from_secs(30)).unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}: {e}", t0.elapsed());
    assert_eq!(e.name(), "_TRANSPORT");
    assert!(e.is_retriable(), "{e}");
    assert!(e.message().contains("nothing listens on 127.0.0.1:1"), "{e}");
    assert!(e.message().contains("init_transactions: waiting for"), "{e}");
    p.close(Duration::from_secs(1)).unwrap();
}

#[test]
fn the_same_transactions_work_against_kafka_3_9() {
    // Transaction version 1 (AddPartitionsToTxn, EndTxn without an epoch bump). A 3.9 broker
    // given by RAFKA_BOOTSTRAP_39, or its own one on a fixed port (run the full suite under
    // flock /tmp/rafka-fullsuite.lock), stopped at the end.
    if let Ok(b) = std::env::var("RAFKA_BOOTSTRAP_39") {
        return committed_visible_aborted_not(&b);
    }
    let old = Cluster::start_version("txn-3.9.1", "3.9.1", 21592);
    committed_visible_aborted_not(&old.bootstrap);
}

