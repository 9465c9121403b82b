//! Fault tests on a private cluster (its own state dir and ports, started and stopped here), so
//! killing or pausing brokers does not disturb the other tests.

mod common;

use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use common::cluster::*;
use common::*;
use rafka_core::{LocalCode, Producer, ProducerRecord};

/// The fault tests run one at a time on one 3-broker cluster.
fn cluster() -> MutexGuard<'static, Cluster> {
    Cluster::shared("faults", 3, 19192)
}

#[test]
fn killing_and_restarting_a_broker_mid_stream_loses_nothing_duplicates_nothing_and_keeps_order() {
    let c = cluster();
    let topic = unique_topic("kill");
    c.kafka(&["topic", "create", &topic, "--partitions", "3", "--replication-factor", "3", "--config", "min.insync.replicas=2"]);
    let p = Arc::new(Producer::new(c.config(&[("acks", "all"), ("linger.ms", "5"), ("batch.size", "2048"), ("request.timeout.ms", "5000"), ("delivery.timeout.ms", "120000")])).unwrap());
    let victim = c.leader_of(&topic, 0);
    // Sends until told to stop: through the kill, the outage and the restart.
    let sender = StreamingSender::start(&p, &topic, 30, 50, Duration::from_millis(10));
    std::thread::sleep(Duration::from_millis(700));
    c.kafka(&["kill", &victim.to_string()]);
    std::thread::sleep(Duration::from_secs(3));
    c.kafka(&["restart", &victim.to_string()]);
    std::thread::sleep(Duration::from_secs(1));
    let (n, failures) = sender.stop();
    p.flush(Duration::from_secs(120)).unwrap();
    assert!(failures.is_empty(), "failed deliveries: {:?}", failures.first());
    let got = c.consume(&topic, n);
    assert_eq!(got.len(), n, "every record stored once");
    assert_exactly_once_in_key_order(got);
}

#[test]
fn paused_broker_blocks_send_then_fails_with_an_explanation_and_delivers_after_resume() {
    let c = cluster();
    let topic = unique_topic("pause");
    // One replica, so the partition lives on exactly one broker: the one we pause.
    c.kafka(&["topic", "create", &topic, "--partitions", "1", "--replication-factor", "1"]);
    let leader = c.leader_of(&topic, 0);
    await_topic(&c.bootstrap, &topic);
    let buffer = 200_000usize;
    let p = Producer::new(c.config(&[
        ("buffer.memory", &buffer.to_string()),
        ("batch.size", "16384"),
        ("max.block.ms", "2000"),
        ("request.timeout.ms", "60000"),
        ("delivery.timeout.ms", "120000"),
        ("acks", "1"),
        ("enable.idempotence", "false"),
    ]))
    .unwrap();
    p.send(&ProducerRecord::new(&topic).value(b"warm-up")).unwrap().wait().unwrap();
    c.kafka(&["pause", &leader.to_string()]);
    let value = vec![b'v'; 1000];
    let mut futures = Vec::new();
    let err = loop {
        match p.send(&ProducerRecord::new(&topic).value(&value)) {
            Ok(f) => futures.push(f),
            Err(e) => break e,
        }
        assert!(futures.len() < 10_000, "send never blocked");
    };
    // buffer.memory bounds what is not yet acknowledged (a batch the broker took before it
    // stopped may have been acknowledged and its memory given back).
    let unacknowledged = futures.iter().filter(|f| !f.is_done()).count();
    c.kafka(&["resume", &leader.to_string()]);
    eprintln!("send() failed as expected with: {err}");
    assert!(err.is_local(LocalCode::QueueFull), "{err}");
    let msg = err.message();
    assert!(msg.contains("max.block.ms") && msg.contains("buffer.memory"), "says what was full: {msg}");
    assert!(msg.contains(&format!("broker {leader}")) && msg.contains("unanswered"), "says which broker does not answer: {msg}");
    assert!(unacknowledged > 0 && unacknowledged * 1000 <= buffer, "unacknowledged records within buffer.memory: {unacknowledged} of {}", futures.len());
    for f in &futures {
        f.wait_timeout(Duration::from_secs(60)).expect("delivered after resume");
    }
    assert_eq!(c.consume(&topic, futures.len() + 1).len(), futures.len() + 1);
}

#[test]
fn batches_on_a_paused_leader_move_to_the_new_leader_before_request_timeout_and_are_stored_once_in_order() {
    let c = cluster();
    let topic = unique_topic("failover");
    c.kafka(&["topic", "create", &topic, "--partitions", "3", "--replication-factor", "3", "--config", "min.insync.replicas=2"]);
    await_topic(&c.bootstrap, &topic);
    // request.timeout.ms far above what the cluster needs to elect new leaders (its brokers'
    // session timeout is 6 s): only noticing the new leader delivers within the wait below.
    let request_timeout = Duration::from_secs(60);
    let p = Arc::new(Producer::new(c.config(&[("acks", "all"), ("linger.ms", "5"), ("batch.size", "2048"), ("request.timeout.ms", "60000"), ("delivery.timeout.ms", "120000")])).unwrap());
    let victim = c.leader_of(&topic, 0);
    let sender = StreamingSender::start(&p, &topic, 30, 50, Duration::from_millis(10));
    std::thread::sleep(Duration::from_millis(700));
    c.kafka(&["pause", &victim.to_string()]);
    let paused_at = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let (n, failures) = sender.stop();
    let flushed = p.flush(request_timeout - Duration::from_secs(15));
    let took = paused_at.elapsed();
    // Kafka's admin tool may ask the paused broker first: resumed before it is asked.
    c.kafka(&["resume", &victim.to_string()]);
    let moved_to = c.leader_of(&topic, 0);
    flushed.unwrap_or_else(|e| panic!("records still waiting on paused broker {victim} {took:?} after the pause: {e}"));
    eprintln!("every record acknowledged {took:?} after pausing broker {victim}; partition 0 now led by {moved_to}");
    assert_ne!(moved_to, victim, "the cluster elected a new leader for partition 0");
    assert!(failures.is_empty(), "failed deliveries: {:?}", failures.first());
    let got = c.consume(&topic, n);
    assert_eq!(got.len(), n, "every record stored once");
    assert_exactly_once_in_key_order(got);
}

#[test]
fn records_for_a_killed_leader_go_to_the_new_leader_soon_after_the_election_however_long_the_reconnect_backoff() {
    let c = cluster();
    let topic = unique_topic("killed-leader");
    // One partition: with the killed broker leading it, no other broker holds a request of ours
    // unanswered (with acks=all they would wait for it as an in-sync follower), so the only news
    // of the new leader is what this producer asks for while its records wait.
    c.kafka(&["topic", "create", &topic, "--partitions", "1", "--replication-factor", "3", "--config", "min.insync.replicas=2"]);
    await_topic(&c.bootstrap, &topic);
    // A reconnect backoff of 30 s (24-36 s with its jitter): asking metadata only after each
    // failed connection attempt to the dead leader learns of the new one at the second attempt,
    // 24 s or more after the kill. The cluster elects one within its brokers' session timeout (6 s)
    // of the kill; asking again while the leader cannot be reached follows it within 250 ms.
    let p = Arc::new(
        Producer::new(c.config(&[
            ("acks", "all"),
            ("linger.ms", "5"),
            ("reconnect.backoff.ms", "30000"),
            ("reconnect.backoff.max.ms", "30000"),
            ("request.timeout.ms", "60000"),
            ("delivery.timeout.ms", "120000"),
        ]))
        .unwrap(),
    );
    let victim = c.leader_of(&topic, 0);
    let sender = StreamingSender::start(&p, &topic, 30, 50, Duration::from_millis(10));
    std::thread::sleep(Duration::from_millis(700));
    c.kafka(&["kill", &victim.to_string()]);
    let killed_at = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let (n, failures) = sender.stop();
    let flushed = p.flush(Duration::from_secs(60));
    let took = killed_at.elapsed();
    c.kafka(&["restart", &victim.to_string()]);
    flushed.unwrap_or_else(|e| panic!("records still waiting {took:?} after killing leader {victim}: {e}"));
    eprintln!("every record acknowledged {took:?} after killing broker {victim}");
    // The bound is for a busy 2-core machine: an election takes 5-8 s there, so this is far
    // from both the new figure (the election + 0.25 s) and the old one (24 s or more).
    assert!(took < Duration::from_secs(15), "the records followed the new leader {took:?} after the kill: later than the election (about 6 s) allows");
    assert!(failures.is_empty(), "failed deliveries: {:?}", failures.first());
    let got = c.consume(&topic, n);
    assert_eq!(got.len(), n, "every record stored once");
    assert_exactly_once_in_key_order(got);
}

#[test]
fn a_partition_reassigned_to_another_broker_follows_the_leader_the_refusal_names_and_keeps_every_record_once_in_order() {
    let c = cluster();
    let topic = unique_topic("reassign");
    // One replica: the reassignment moves the partition's only copy to another broker.
    c.kafka(&["topic", "create", &topic, "--partitions", "1", "--replication-factor", "1"]);
    await_topic(&c.bootstrap, &topic);
    let from = c.leader_of(&topic, 0);
    let to = from % 3 + 1;
    // A broker of a fresh cluster answers InitProducerId with COORDINATOR_LOAD_IN_PROGRESS until
    // it has a block of producer ids: a producer with the default backoff, through each broker
    // (it asks the one it bootstrapped from), waits that out first.
    let brokers: Vec<String> = c.bootstrap.split(',').map(str::to_string).collect();
    for b in &brokers {
        let warm = Producer::new(c.config(&[("bootstrap.servers", b)])).unwrap();
        warm.send(&ProducerRecord::new(&topic).value(b"-1")).unwrap().wait().unwrap();
    }
    // retry.backoff.ms of a minute also paces metadata requests: a producer that waited for
    // them, or for the backoff, would still hold refused batches when the flush below gives up.
    // Only one that follows the leader the old broker names in its refusal (KIP-951's
    // CurrentLeader, retried at once) delivers them in time.
    let p = Arc::new(
        Producer::new(c.config(&[
            ("acks", "all"),
            ("linger.ms", "5"),
            ("batch.size", "2048"),
            ("retry.backoff.ms", "60000"),
            ("retry.backoff.max.ms", "60000"),
            ("request.timeout.ms", "60000"),
            ("delivery.timeout.ms", "300000"),
        ]))
        .unwrap(),
    );
    let sender = StreamingSender::start(&p, &topic, 30, 50, Duration::from_millis(10));
    std::thread::sleep(Duration::from_millis(700));
    c.kafka(&["topic", "reassign", &topic, "--partition", "0", "--replicas", &to.to_string()]);
    std::thread::sleep(Duration::from_secs(1));
    let (n, failures) = sender.stop();
    let flushed = p.flush(Duration::from_secs(15));
    flushed.unwrap_or_else(|e| panic!("records still waiting after partition 0 moved from broker {from} to {to}: {e}"));
    assert_eq!(c.leader_of(&topic, 0), to, "the partition moved");
    assert!(failures.is_empty(), "failed deliveries: {:?}", failures.first());
    let got: Vec<_> = c.consume(&topic, n + brokers.len()).into_iter().filter(|r| r.value.as_deref() != Some(b"-1")).collect();
    assert_eq!(got.len(), n, "every record stored once");
    assert_exactly_once_in_key_order(got);
}

#[test]
fn idle_connections_closed_by_connections_max_idle_and_a_broker_restart_do_not_fail_sends() {
    let c = cluster();
    let topic = unique_topic("reset");
    c.kafka(&["topic", "create", &topic, "--partitions", "1", "--replication-factor", "3"]);
    // Connections idle for more than 1 s are closed by the producer itself, the way a cloud load
    // balancer cuts idle connections; later sends must simply work.
    let p = Producer::new(c.config(&[("connections.max.idle.ms", "1000")])).unwrap();
    for round in 0..3 {
        let f = p.send(&ProducerRecord::new(&topic).value(format!("{round}").as_bytes())).unwrap();
        f.wait().unwrap();
        std::thread::sleep(Duration::from_millis(2500));
    }
    let t0 = Instant::now();
    let leader = c.leader_of(&topic, 0);
    c.kafka(&["restart", &leader.to_string()]);
    p.send(&ProducerRecord::new(&topic).value(b"after-restart")).unwrap().wait().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(120));
    assert_eq!(c.consume(&topic, 4).len(), 4);
}

/// Aborts every TCP connection this process has to the cluster's brokers (`ss -K`), the way a
/// load balancer or VIP cutting a connection looks to the client. Returns how many it cut.
fn cut_our_connections(c: &Cluster) -> usize {
    let ports: Vec<u16> = c.bootstrap.split(',').map(|a| a.rsplit(':').next().unwrap().parse().unwrap()).collect();
    let out = std::process::Command::new("ss").args(["-Htnp", "state", "established"]).output().expect("ss");
    let me = format!("pid={},", std::process::id());
    let mut cut = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.contains(&me)) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (local, peer) = (cols[2], cols[3]);
        let peer_port: u16 = peer.rsplit(':').next().unwrap().parse().unwrap_or(0);
        if !ports.contains(&peer_port) {
            continue;
        }
        let local_port = local.rsplit(':').next().unwrap();
        let st = std::process::Command::new("ss").args(["-K", "-t", "src", "127.0.0.1", "sport", "=", &format!(":{local_port}")]).output().unwrap();
        assert!(st.status.success(), "ss -K failed: {}", String::from_utf8_lossy(&st.stderr));
        cut += 1;
    }
    cut
}

#[test]
fn connections_cut_under_the_producer_are_reopened_and_nothing_is_lost_or_duplicated() {
    let c = cluster();
    let topic = unique_topic("cut");
    c.kafka(&["topic", "create", &topic, "--partitions", "3", "--replication-factor", "3", "--config", "min.insync.replicas=2"]);
    await_topic(&c.bootstrap, &topic);
    let p = Arc::new(Producer::new(c.config(&[("linger.ms", "2"), ("batch.size", "4096")])).unwrap());
    p.send(&ProducerRecord::new(&topic).key(b"k0").value(b"-1")).unwrap().wait().unwrap();
    // Cut while idle (a VIP dropping an idle connection): the next send just works.
    assert!(cut_our_connections(&c) > 0, "the producer had connections to cut");
    p.send(&ProducerRecord::new(&topic).key(b"k0").value(b"-2")).unwrap().wait().expect("send after an idle cut");
    // Cut three times while records are in flight.
    let sender = StreamingSender::start(&p, &topic, 7, 20, Duration::from_millis(2));
    let mut cuts = 0;
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(600));
        cuts += cut_our_connections(&c);
    }
    std::thread::sleep(Duration::from_millis(300));
    let (n, failures) = sender.stop();
    p.flush(Duration::from_secs(60)).unwrap();
    assert!(cuts >= 3, "connections were cut mid-stream ({cuts})");
    assert!(failures.is_empty(), "the user noticed: {:?}", failures.first());
    let got = c.consume(&topic, n + 2);
    assert_eq!(got.len(), n + 2, "every record stored exactly once");
    assert_exactly_once_in_key_order(got);
}

#[test]
fn records_not_acknowledged_within_delivery_timeout_fail_saying_they_may_be_stored() {
    let c = cluster();
    let topic = unique_topic("dtimeout");
    c.kafka(&["topic", "create", &topic, "--partitions", "1", "--replication-factor", "1"]);
    let leader = c.leader_of(&topic, 0);
    await_topic(&c.bootstrap, &topic);
    let p = Producer::new(c.config(&[("delivery.timeout.ms", "4000"), ("request.timeout.ms", "2000"), ("linger.ms", "0")])).unwrap();
    p.send(&ProducerRecord::new(&topic).value(b"warm-up")).unwrap().wait().unwrap();
    // A metadata refresh the producer still owes after the topic's creation goes out within the
    // I/O thread's next second; let it be answered, else it times out on the paused leader and
    // takes the connection down before the records below are written to it.
    std::thread::sleep(Duration::from_millis(1500));
    c.kafka(&["pause", &leader.to_string()]);
    let t0 = Instant::now();
    let futures: Vec<_> = (0..20).map(|i| p.send(&ProducerRecord::new(&topic).value(format!("{i}").as_bytes())).unwrap()).collect();
    let results: Vec<_> = futures.iter().map(|f| f.wait_timeout(Duration::from_secs(30))).collect();
    let waited = t0.elapsed();
    c.kafka(&["resume", &leader.to_string()]);
    for r in &results {
        let e = r.as_ref().expect_err("no acknowledgement while the broker is paused");
        assert!(e.is_local(LocalCode::MessageTimedOut), "{e}");
        assert!(e.message().contains("delivery.timeout.ms"), "{e}");
    }
    let errors: std::collections::BTreeSet<String> = results.iter().map(|r| r.as_ref().unwrap_err().to_string()).collect();
    assert!(results.iter().any(|r| r.as_ref().unwrap_err().possibly_persisted()), "records that were in flight may have been stored: {errors:?}");
    assert!(waited < Duration::from_secs(25), "reported within about delivery.timeout.ms + request.timeout.ms, took {waited:?}");
    // The producer recovers once the broker is back.
    p.send(&ProducerRecord::new(&topic).value(b"after")).unwrap().wait_timeout(Duration::from_secs(60)).expect("delivered after resume");
}

#[test]
fn producing_to_a_kafka_3_9_broker_negotiates_older_versions_and_reads_back() {
    // Its own single 3.9.1 broker beside the 4.x clusters, stopped at the end.
    let old = Cluster::start_version("compat-3.9.1", "3.9.1", 19292);
    let bootstrap = old.bootstrap.clone();
    let topic = unique_topic("compat");
    old.kafka(&["topic", "create", &topic, "--partitions", "2"]);
    await_topic(&bootstrap, &topic);
    let mut c = rafka_core::Config::new();
    c.set("bootstrap.servers", &bootstrap).unwrap();
    let p = Producer::new(c).unwrap();
    let futures: Vec<_> = (0..200).map(|i| p.send(&ProducerRecord::new(&topic).key(format!("{i}").as_bytes()).value(format!("v{i}").as_bytes()).header("h", Some(b"1"))).unwrap()).collect();
    for f in futures {
        f.wait().unwrap();
    }
    let got = old.consume(&topic, 200);
    assert_eq!(got.len(), 200);
    assert!(got.iter().all(|r| r.headers == vec![("h".to_string(), Some(b"1".to_vec()))]));
}
