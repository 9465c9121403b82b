//! Transactions against failing brokers, on a private 3-broker cluster (ports 24150-24152, their
//! controllers 25150-25152; started by the first test, stopped when the binary exits): the
//! transaction coordinator or a partition leader SIGKILLed and restarted in the middle of a
//! transaction, and `transaction.timeout.ms` passing with a transaction open. Read back by
//! Kafka's own consumer with `isolation.level=read_committed`.

mod common;

use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::*;
use rafka_core::{DeliveryFuture, Error, Producer, ProducerRecord, TxnState};

const PORT: u16 = 24150;
const T: Duration = Duration::from_secs(30);
/// The timeout of each commit or abort call while a broker is down: short, so that the calls
/// time out and are called again.
const CALL: Duration = Duration::from_secs(5);
/// A call returns within its timeout; this much more is allowed on a loaded machine.
const SLACK: Duration = Duration::from_secs(3);
/// How long the retried commit or abort may take in all (a broker's restart included).
const BOUND: Duration = Duration::from_secs(150);

fn cluster() -> std::sync::MutexGuard<'static, Cluster> {
    Cluster::shared("txnfault", 3, PORT)
}

fn producer(c: &Cluster, txn_id: &str, extra: &[(&str, &str)]) -> Producer {
    let mut all = vec![("transactional.id", txn_id), ("linger.ms", "5")];
    all.extend_from_slice(extra);
    Producer::new(c.config(&all)).unwrap()
}

fn topic(c: &Cluster, prefix: &str, partitions: u32) -> String {
    let t = unique_topic(prefix);
    c.kafka(&["topic", "create", &t, "--partitions", &partitions.to_string(), "--replication-factor", "3"]);
    await_topic(&c.bootstrap, &t);
    t
}

fn send(p: &Producer, topic: &str, partition: i32, value: i64) -> DeliveryFuture {
    let v = value.to_string();
    p.send(&ProducerRecord { topic, partition: Some(partition), value: Some(v.as_bytes()), ..Default::default() }).unwrap()
}

/// The values of `topic` as a read_committed consumer sees them, up to `max` records.
fn read_committed(c: &Cluster, topic: &str, max: usize) -> Vec<i64> {
    let n = max.to_string();
    let out = c.kafka(&["consume", topic, "--max", &n, "--timeout", "20", "--read-committed"]);
    out.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["value"].as_str().unwrap().parse().unwrap())
        .collect()
}

/// The broker that coordinates `txn_id`, from Kafka's kafka-transactions tool.
fn coordinator_of(c: &Cluster, txn_id: &str) -> i32 {
    let v = describe(c, txn_id, "CoordinatorId");
    v.parse().unwrap_or_else(|_| panic!("no coordinator: {v:?}"))
}

/// The coordinator's state of `txn_id` (Ongoing, PrepareAbort, CompleteAbort, ...).
fn coordinator_state(c: &Cluster, txn_id: &str) -> String {
    describe(c, txn_id, "TransactionState")
}

/// One column of `kafka-transactions describe --transactional-id txn_id`.
fn describe(c: &Cluster, txn_id: &str, column: &str) -> String {
    let out = transactions_tool(c, &["describe", "--transactional-id", txn_id]);
    let mut lines = out.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().unwrap_or_default().split_whitespace().collect();
    let row: Vec<&str> = lines.next().unwrap_or_default().split_whitespace().collect();
    let col = header.iter().position(|h| *h == column).unwrap_or_else(|| panic!("no {column} in:\n{out}"));
    row.get(col).unwrap_or_else(|| panic!("no {column} value in:\n{out}")).to_string()
}

fn transactions_tool(c: &Cluster, args: &[&str]) -> String {
    let cp = c.kafka(&["classpath"]);
    let out = Command::new("java")
        .args(["-cp", cp.trim(), "org.apache.kafka.tools.TransactionsCommand", "--bootstrap-server", &c.bootstrap])
        .args(args)
        .output()
        .expect("run kafka-transactions");
    assert!(out.status.success(), "kafka-transactions {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Calls `call` (commit or abort, with timeout CALL) again while it fails retriably, up to
/// BOUND; each call must return within its timeout.
fn retried(what: &str, call: impl Fn() -> Result<(), Error>) -> Result<(), Error> {
    let start = Instant::now();
    loop {
        let t0 = Instant::now();
        let r = call();
        let took = t0.elapsed();
        assert!(took <= CALL + SLACK, "{what} took {took:?}, more than its timeout {CALL:?}: {r:?}");
        match r {
            Err(e) if e.is_retriable() && start.elapsed() < BOUND => {
                assert_eq!(e.name(), "_TIMED_OUT", "{e}");
                assert!(e.message().contains("waiting for") || e.message().contains("flushing"), "a timeout says what it waited for: {e}");
                eprintln!("{what}: {e}; calling again");
            }
            r => return r,
        }
    }
}

/// Which broker to kill in the middle of the transaction.
enum Victim {
    Coordinator,
    /// The leader of a partition the transaction writes to, not the coordinator.
    Leader,
}

/// Sends 300 records over 3 partitions in one transaction, SIGKILLs a broker halfway (after
/// the first half is written), sends the second half, restarts the broker while the commit is
/// retried. Then either every record is visible exactly once, or the commit failed, the abort
/// worked and none is visible; a marker transaction after it proves the producer goes on.
fn broker_killed_mid_transaction(victim: Victim) {
    let c = cluster();
    let topic = topic(&c, "txnfault", 3);
    let id = unique_topic("txnfault-id");
    let p = producer(&c, &id, &[("request.timeout.ms", "5000"), ("delivery.timeout.ms", "120000")]);
    p.init_transactions(T).unwrap();
    p.begin_transaction().unwrap();
    let mut futs: Vec<_> = (0..150).map(|i| send(&p, &topic, (i % 3) as i32, i)).collect();
    p.flush(T).unwrap();

    let coordinator = coordinator_of(&c, &id);
    let node = match victim {
        Victim::Coordinator => coordinator,
        Victim::Leader => (0..3).map(|part| c.leader_of(&topic, part)).find(|l| *l != coordinator).unwrap_or_else(|| panic!("every partition of {topic} is led by the coordinator {coordinator}")),
    };
    eprintln!("coordinator of {id}: broker {coordinator}; killing broker {node}");
    c.kafka(&["kill", &node.to_string()]);
    futs.extend((150..300).map(|i| send(&p, &topic, (i % 3) as i32, i)));

    let restart = {
        let env: Vec<(String, String)> = c.env.clone();
        let node = node.to_string();
        std::thread::spawn(move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            kafka_env(&["restart", &node], &env)
        })
    };
    let committed = retried("commit_transaction", || p.commit_transaction(CALL));
    restart.join().expect("the broker restarts");

    let reports: Vec<_> = futs.into_iter().map(|f| f.wait_timeout(T)).collect();
    let visible = match &committed {
        Ok(()) => {
            let failed: Vec<_> = reports.iter().filter_map(|r| r.as_ref().err()).collect();
            assert!(failed.is_empty(), "the transaction committed, so every record was delivered: {failed:?}");
            300
        }
        Err(e) => {
            eprintln!("commit failed: {e}");
            assert!(e.txn_requires_abort() && !e.is_fatal(), "a broker's restart does not end the producer: {e}");
            assert_eq!(p.transaction_state(), Some(TxnState::AbortableError));
            retried("abort_transaction", || p.abort_transaction(CALL)).unwrap_or_else(|e| panic!("abort after a failed commit: {e}"));
            0
        }
    };
    // A marker transaction: its record (-1) comes after every record of the first one, so the
    // read stops there.
    p.begin_transaction().unwrap();
    let marker = send(&p, &topic, 0, -1);
    retried("commit_transaction", || p.commit_transaction(CALL)).unwrap_or_else(|e| panic!("the next transaction commits: {e}"));
    marker.wait_timeout(T).unwrap();
    p.close(T).unwrap();

    // One more than can be visible: a record of an aborted transaction would show.
    let got = read_committed(&c, &topic, 302);
    let mut seen = HashSet::new();
    for v in &got {
        assert!(seen.insert(*v), "record {v} is visible twice");
    }
    let want: HashSet<i64> = (0..visible as i64).chain([-1]).collect();
    assert_eq!(seen, want, "read_committed sees {} of the transaction's records and the marker", if visible == 0 { "none" } else { "all" });
}

#[test]
fn coordinator_killed_mid_transaction_commits_every_record_once_or_aborts_all() {
    broker_killed_mid_transaction(Victim::Coordinator);
}

#[test]
fn partition_leader_killed_mid_transaction_commits_every_record_once_or_aborts_all() {
    broker_killed_mid_transaction(Victim::Leader);
}

/// `transaction.timeout.ms` passes with the transaction open: the coordinator aborts it (and,
/// with transaction version 2, bumps the epoch). The producer's next commit fails saying so;
/// on a Kafka 4.x broker the error is abortable (as the Java client's since KIP-890): the abort
/// works and the next transaction commits.
#[test]
fn transaction_open_past_its_timeout_is_aborted_by_the_coordinator_and_the_producer_goes_on() {
    expired_transaction(true);
}

#[test]
fn commit_of_a_transaction_open_past_its_timeout_says_so_and_abort_goes_on() {
    expired_transaction(false);
}

/// `send_after`: a record is sent after the expiry, before the commit (its batch meets the new
/// epoch first); otherwise the commit's EndTxn does.
fn expired_transaction(send_after: bool) {
    let c = cluster();
    let topic = topic(&c, "txnfault-expired", 1);
    let id = unique_topic("txnfault-id");
    let p = producer(&c, &id, &[("transaction.timeout.ms", "3000")]);
    p.init_transactions(T).unwrap();
    p.begin_transaction().unwrap();
    send(&p, &topic, 0, 0).wait_timeout(T).unwrap();
    // The coordinator looks for expired transactions every
    // transaction.abort.timed.out.transaction.cleanup.interval.ms (10 s by default).
    let start = Instant::now();
    loop {
        let state = coordinator_state(&c, &id);
        if state == "PrepareAbort" || state == "CompleteAbort" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "the coordinator never aborted the expired transaction (state {state})");
        std::thread::sleep(Duration::from_millis(500));
    }
    let late = send_after.then(|| send(&p, &topic, 0, 1));
    let err = p.commit_transaction(T).unwrap_err();
    eprintln!("commit after expiry: {err}");
    assert!(err.message().contains("transaction.timeout.ms") && err.message().contains("aborted"), "the error says the coordinator aborted it for transaction.timeout.ms: {err}");
    assert!(err.txn_requires_abort() && !err.is_fatal(), "an expired transaction is abortable on Kafka 4.x: {err}");
    if let Some(late) = late {
        assert!(late.wait_timeout(T).is_err(), "the record sent after the expiry is not delivered");
    }
    p.abort_transaction(T).unwrap();
    p.begin_transaction().unwrap();
    send(&p, &topic, 0, 2);
    p.commit_transaction(T).unwrap();
    p.close(T).unwrap();
    assert_eq!(read_committed(&c, &topic, 3), vec![2], "only the next transaction's record is visible");
}

/// A commit that timed out (its coordinator paused for a moment) and whose EndTxn was answered
/// before it was called again: the call again returns that answer, as KafkaProducer's pending
/// result does, rather than refusing a commit in the state the producer has moved to (Ready).
#[test]
fn a_commit_called_again_after_its_timeout_returns_the_answer_that_came_meanwhile() {
    let c = cluster();
    let topic = topic(&c, "txnfault-again", 1);
    let id = unique_topic("txnfault-id");
    let p = producer(&c, &id, &[]);
    p.init_transactions(T).unwrap();
    p.begin_transaction().unwrap();
    send(&p, &topic, 0, 0).wait_timeout(T).unwrap();
    let node = coordinator_of(&c, &id).to_string();
    // Paused for less than broker.session.timeout.ms: it stays the coordinator.
    c.kafka(&["pause", &node]);
    let timed_out = p.commit_transaction(Duration::from_millis(1000));
    c.kafka(&["resume", &node]);
    let e = timed_out.unwrap_err();
    assert!(e.is_retriable() && e.name() == "_TIMED_OUT", "{e}");
    let start = Instant::now();
    while p.transaction_state() != Some(TxnState::Ready) {
        assert!(start.elapsed() < Duration::from_secs(120), "the commit never finished: {:?}", p.transaction_state());
        std::thread::sleep(Duration::from_millis(100));
    }
    p.commit_transaction(T).expect("the commit's answer, which came after its timeout");
    p.close(T).unwrap();
    assert_eq!(read_committed(&c, &topic, 1), vec![0], "the transaction committed");
}

/// A commit that timed out (the coordinator killed) and was not called again finishes on its
/// own; the next transaction's commit then does its own EndTxn, rather than returning the
/// answer meant for the one before.
#[test]
fn a_commit_left_after_its_timeout_finishes_and_the_next_transaction_commits_its_own() {
    let c = cluster();
    let topic = topic(&c, "txnfault-left", 1);
    let id = unique_topic("txnfault-id");
    let p = producer(&c, &id, &[]);
    p.init_transactions(T).unwrap();
    p.begin_transaction().unwrap();
    send(&p, &topic, 0, 0).wait_timeout(T).unwrap();
    let node = coordinator_of(&c, &id);
    c.kafka(&["kill", &node.to_string()]);
    let e = p.commit_transaction(Duration::from_millis(1000)).unwrap_err();
    assert!(e.is_retriable() && e.name() == "_TIMED_OUT", "{e}");
    assert!(e.message().contains("EndTxn") || e.message().contains("coordinator"), "the timeout names the request: {e}");
    // Not called again: the commit goes on in the I/O thread while the coordinator moves.
    let start = Instant::now();
    while p.transaction_state() != Some(TxnState::Ready) {
        assert!(start.elapsed() < Duration::from_secs(120), "the commit never finished: {:?}", p.transaction_state());
        std::thread::sleep(Duration::from_millis(100));
    }
    c.kafka(&["restart", &node.to_string()]);
    p.begin_transaction().unwrap();
    let second = send(&p, &topic, 0, 1);
    retried("commit_transaction", || p.commit_transaction(CALL)).unwrap();
    second.wait_timeout(T).unwrap();
    p.close(T).unwrap();
    assert_eq!(read_committed(&c, &topic, 2), vec![0, 1], "both transactions committed");
}
