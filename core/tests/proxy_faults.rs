//! Network faults a kill cannot make, injected by the fault proxy (`testsupport/faultproxy`)
//! between the producer and real brokers: a silent leader, a lost acknowledgement, a slow
//! broker, truncated responses, refused connections, retries paced by `retry.backoff.ms`, batches
//! refused with an error the broker never stored them under (KAFKA_STORAGE_ERROR, a non-retriable
//! error). Each test checks that every
//! record gets exactly one report and that Kafka's own consumer reads every record once, at the
//! offset reported, in send order per partition.
//!
//! The tests share one private 3-broker cluster on ports 27192-27194 (controllers 28192-28194),
//! started here and stopped at exit; each test puts its own proxy (ephemeral ports) in front.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::cluster::*;
use common::*;
use rafka_core::protocol::messages;
use rafka_core::{LocalCode, Producer, ProducerRecord};
use rafka_faultproxy::{AfterDrop, Direction, Fault, FaultProxy, Refusal, Rule, API_API_VERSIONS, API_METADATA, API_PRODUCE};

fn cluster() -> MutexGuard<'static, Cluster> {
    Cluster::shared("faultproxy-tests", 3, 27192)
}

/// A proxy in front of every broker of `c`, broker n being the one on the n-th port.
fn proxy(c: &Cluster) -> FaultProxy {
    let mut b = FaultProxy::builder();
    for (i, addr) in c.bootstrap.split(',').enumerate() {
        b = b.broker(i as i32 + 1, addr);
    }
    b.start().expect("start the fault proxy")
}

/// A producer that reaches the cluster only through `proxy`.
fn producer(proxy: &FaultProxy, overrides: &[(&str, &str)]) -> Producer {
    init_stderr_log();
    let mut c = rafka_core::Config::new();
    c.set("bootstrap.servers", &proxy.bootstrap()).unwrap();
    for (k, v) in overrides {
        c.set(k, v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
    }
    Producer::new(c).unwrap()
}

fn create_topic(c: &Cluster, partitions: u32) -> String {
    let topic = unique_topic("proxy");
    c.kafka(&["topic", "create", &topic, "--partitions", &partitions.to_string(), "--replication-factor", "3", "--config", "min.insync.replicas=2"]);
    await_topic(&c.bootstrap, &topic);
    topic
}

#[derive(Debug, Clone)]
struct Report {
    result: Result<(i32, i64), String>,
    at: Instant,
}

/// Records numbered 0, 1, 2... (the number is the value), each sent to a chosen partition, and
/// every delivery report they get.
struct Sent {
    topic: String,
    partitions: Vec<i32>,
    reports: Arc<Mutex<HashMap<usize, Vec<Report>>>>,
}

impl Sent {
    fn new(topic: &str) -> Sent {
        Sent { topic: topic.to_string(), partitions: Vec::new(), reports: Arc::default() }
    }

    /// A tracker whose record 0 went to partition 0 and was acknowledged: the producer has its
    /// metadata, a connection to the leader and its producer id before a fault goes in.
    fn warmed_up(topic: &str, p: &Producer) -> Sent {
        let mut sent = Sent::new(topic);
        sent.send(p, 0).unwrap();
        assert!(sent.wait_for(0..1, Duration::from_secs(30)), "record 0 delivered before any fault");
        sent
    }

    /// Sends the next record to `partition`; its number, or the error of `send()` (then the
    /// record is not counted).
    fn send(&mut self, p: &Producer, partition: i32) -> Result<usize, rafka_core::Error> {
        let i = self.partitions.len();
        let reports = self.reports.clone();
        p.send_with_callback(&ProducerRecord::new(&self.topic).partition(partition).value(i.to_string().as_bytes()), move |d| {
            let result = match d.error {
                Some(e) => Err(e.to_string()),
                None => Ok((d.partition, d.offset)),
            };
            reports.lock().unwrap().entry(i).or_default().push(Report { result, at: Instant::now() });
        })?;
        self.partitions.push(partition);
        Ok(i)
    }

    /// Waits for record `i`'s report (at most `timeout`) and returns its result.
    fn report_of(&self, i: usize, timeout: Duration) -> Result<(i32, i64), String> {
        assert!(self.wait_for(std::iter::once(i), timeout), "record {i} reported within {timeout:?}");
        self.reports.lock().unwrap()[&i][0].result.clone()
    }

    fn reported(&self, i: usize) -> bool {
        self.reports.lock().unwrap().contains_key(&i)
    }

    /// Waits until each of `which` has a report, at most `timeout`; true if they all have.
    fn wait_for(&self, which: impl Iterator<Item = usize> + Clone, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            if which.clone().all(|i| self.reported(i)) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for every record's report; asserts exactly one each and that all succeeded.
    fn all_delivered_once(&self, timeout: Duration) -> Vec<Report> {
        let n = self.partitions.len();
        let complete = self.wait_for(0..n, timeout);
        // Late second reports would show up here too.
        std::thread::sleep(Duration::from_millis(200));
        let reports = self.reports.lock().unwrap();
        assert!(complete, "records without a report after {timeout:?}: {:?}", (0..n).filter(|i| !reports.contains_key(i)).take(10).collect::<Vec<_>>());
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let r = &reports[&i];
            assert_eq!(r.len(), 1, "record {i} got {} reports: {r:?}", r.len());
            assert!(r[0].result.is_ok(), "record {i} failed: {:?}", r[0].result);
            assert_eq!(r[0].result.as_ref().unwrap().0, self.partitions[i], "record {i} reported on another partition");
            out.push(r[0].clone());
        }
        out
    }

    /// Kafka's consumer reads every record exactly once, at the partition and offset its report
    /// named, and per partition in the order the records were sent.
    fn assert_stored_once_in_order(&self, c: &Cluster, reports: &[Report]) {
        let n = self.partitions.len();
        let got = c.consume(&self.topic, n);
        let mut seen: HashMap<usize, (i32, i64)> = HashMap::new();
        for r in &got {
            let i: usize = String::from_utf8(r.value.clone().unwrap()).unwrap().parse().unwrap();
            assert!(seen.insert(i, (r.partition, r.offset)).is_none(), "record {i} stored twice");
        }
        assert_eq!(got.len(), n, "every record stored: {} missing", (0..n).filter(|i| !seen.contains_key(i)).count());
        let mut last: HashMap<i32, (usize, i64)> = HashMap::new();
        for (i, report) in reports.iter().enumerate() {
            let stored = seen[&i];
            assert_eq!(Ok(stored), report.result, "record {i}: stored at {stored:?}, reported at {:?}", report.result);
            if let Some((prev, prev_offset)) = last.insert(stored.0, (i, stored.1)) {
                assert!(prev_offset < stored.1, "partition {}: record {i} stored before record {prev}", stored.0);
            }
        }
    }
}

#[test]
fn black_holed_leader_holds_its_records_until_request_timeout_then_delivers_each_once_after_recovery() {
    let c = cluster();
    let topic = create_topic(&c, 3);
    let proxy = proxy(&c);
    let p = producer(&proxy, &[("request.timeout.ms", "3000"), ("delivery.timeout.ms", "60000"), ("linger.ms", "5")]);
    let mut sent = Sent::new(&topic);
    for part in 0..3 {
        sent.send(&p, part).unwrap();
    }
    assert!(sent.wait_for(0..3, Duration::from_secs(30)), "warm-up records delivered");
    let victim = c.leader_of(&topic, 0);
    let silent: Vec<i32> = (0..3).filter(|q| c.leader_of(&topic, *q) == victim).collect();
    let connections_before = proxy.stats(victim).connections;

    // The victim's network path drops everything: no FIN, no RST, no answer.
    let rule = proxy.add(Rule::new(Fault::BlackHole).broker(victim));
    let t0 = Instant::now();
    let mut held = Vec::new();
    let mut others = Vec::new();
    for k in 0..300 {
        let part = k % 3;
        let i = sent.send(&p, part).unwrap();
        if silent.contains(&part) { held.push(i) } else { others.push(i) }
    }
    // Partitions led by the other brokers are not held up by the silent one.
    assert!(sent.wait_for(others.iter().copied(), Duration::from_secs(10)), "records for the healthy brokers delivered during the black hole");
    // Nothing of the silent broker's is reported, neither success nor failure, before
    // request.timeout.ms; nor after it, while every new connection is black-holed too.
    std::thread::sleep(Duration::from_millis(2500).saturating_sub(t0.elapsed()));
    assert!(held.iter().all(|i| !sent.reported(*i)), "a record of the silent broker reported within request.timeout.ms");
    std::thread::sleep(Duration::from_millis(7000).saturating_sub(t0.elapsed()));
    assert!(held.iter().all(|i| !sent.reported(*i)), "a record of the silent broker reported while it was silent");
    assert!(proxy.stats(victim).connections > connections_before, "the producer gave up on the silent connection after request.timeout.ms and connected again");

    proxy.remove(rule);
    let reports = sent.all_delivered_once(Duration::from_secs(60));
    assert!(held.iter().all(|i| reports[*i].at >= t0 + Duration::from_millis(7000)), "held records were delivered after the recovery");
    sent.assert_stored_once_in_order(&c, &reports);
}

/// One produce response from the leader is lost after the broker stored the batch; `then`
/// says what the connection does next.
fn lost_acknowledgement(then: AfterDrop, request_timeout_ms: u64) -> (Instant, Vec<Report>) {
    let c = cluster();
    let topic = create_topic(&c, 1);
    let leader = c.leader_of(&topic, 0);
    let proxy = proxy(&c);
    let p = producer(&proxy, &[("request.timeout.ms", &request_timeout_ms.to_string()), ("linger.ms", "2"), ("batch.size", "2048")]);
    let mut sent = Sent::warmed_up(&topic, &p);
    let rule = proxy.add(Rule::new(Fault::DropResponse { then }).broker(leader).api(API_PRODUCE));
    let t0 = Instant::now();
    for _ in 0..200 {
        sent.send(&p, 0).unwrap();
    }
    let reports = sent.all_delivered_once(Duration::from_secs(60));
    assert_eq!(proxy.hits(rule), Some(1), "exactly one acknowledgement was lost");
    // Idempotence: the retry of the batch the broker already had is recognised as a duplicate,
    // so the log holds one copy of every record.
    sent.assert_stored_once_in_order(&c, &reports);
    (t0, reports)
}

#[test]
fn lost_acknowledgement_on_a_closed_connection_is_retried_and_the_broker_keeps_one_copy() {
    lost_acknowledgement(AfterDrop::Close, 5000);
}

#[test]
fn lost_acknowledgement_on_a_silent_connection_is_retried_after_request_timeout_and_stored_once() {
    let (t0, reports) = lost_acknowledgement(AfterDrop::Stall, 2000);
    let last = reports.iter().map(|r| r.at).max().unwrap();
    assert!(last >= t0 + Duration::from_millis(2000), "the unacknowledged batch waited for request.timeout.ms ({:?})", last - t0);
}

#[test]
fn connections_cut_mid_request_and_mid_response_are_retried_and_every_record_stored_once() {
    let c = cluster();
    let topic = create_topic(&c, 1);
    let leader = c.leader_of(&topic, 0);
    let proxy = proxy(&c);
    let p = producer(&proxy, &[("linger.ms", "2"), ("batch.size", "2048")]);
    let mut sent = Sent::warmed_up(&topic, &p);
    for direction in [Direction::Requests, Direction::Responses] {
        // Requests: the broker never sees the whole batch. Responses: it stored the batch and
        // the client gets half an acknowledgement.
        let rule = proxy.add(Rule::new(Fault::CutMidFrame { direction }).broker(leader).api(API_PRODUCE).times(1));
        for _ in 0..100 {
            sent.send(&p, 0).unwrap();
        }
        sent.all_delivered_once(Duration::from_secs(60));
        assert_eq!(proxy.hits(rule), Some(1), "one {direction:?} cut");
    }
    let reports = sent.all_delivered_once(Duration::from_secs(1));
    sent.assert_stored_once_in_order(&c, &reports);
}

#[test]
fn slow_broker_keeps_max_in_flight_blocks_send_on_a_full_buffer_and_the_error_names_the_broker() {
    let c = cluster();
    let topic = create_topic(&c, 1);
    let leader = c.leader_of(&topic, 0);
    let proxy = proxy(&c);
    let buffer = 16 * 1024;
    let p = producer(
        &proxy,
        &[
            ("max.in.flight.requests.per.connection", "3"),
            ("batch.size", "1024"),
            ("linger.ms", "0"),
            ("buffer.memory", &buffer.to_string()),
            ("max.block.ms", "1000"),
        ],
    );
    let mut sent = Sent::warmed_up(&topic, &p);

    // Every acknowledgement from the leader takes 150 ms more: send() waits for room in the
    // buffer (less than max.block.ms each time) and succeeds; the buffer never holds more than
    // buffer.memory.
    let slow = proxy.add(Rule::new(Fault::Latency { delay: Duration::from_millis(150), direction: Direction::Responses }).broker(leader).api(API_PRODUCE));
    let mut fullest = 0;
    for _ in 0..3000 {
        sent.send(&p, 0).expect("send() waits for room while the broker acknowledges, slowly");
        let held = p.buffered_bytes();
        assert!(held <= buffer, "{held} bytes buffered, over buffer.memory={buffer}");
        fullest = fullest.max(held);
    }
    assert!(fullest > buffer / 2, "the slow broker filled the buffer (at most {fullest} of {buffer} bytes)");

    // Now the leader takes 3 s per acknowledgement, longer than max.block.ms: send() fails,
    // saying what is full and which broker does not answer.
    let stuck = proxy.add(Rule::new(Fault::Latency { delay: Duration::from_secs(3), direction: Direction::Responses }).broker(leader).api(API_PRODUCE));
    let err = loop {
        if let Err(e) = sent.send(&p, 0) {
            break e;
        }
        assert!(sent.partitions.len() < 100_000, "send() never failed on a full buffer");
    };
    eprintln!("send() failed as expected with: {err}");
    assert!(err.is_local(LocalCode::QueueFull), "{err}");
    let msg = err.message();
    assert!(msg.contains("max.block.ms") && msg.contains("buffer.memory"), "says what was full: {msg}");
    assert!(msg.contains(&format!("broker {leader}")) && msg.contains("unanswered"), "says which broker does not answer: {msg}");
    proxy.remove(stuck);
    proxy.remove(slow);

    let reports = sent.all_delivered_once(Duration::from_secs(60));
    let in_flight = proxy.stats(leader).max_in_flight.get(&API_PRODUCE).copied().unwrap_or(0);
    assert!(in_flight <= 3, "at most max.in.flight.requests.per.connection=3 produce requests unanswered, saw {in_flight}");
    assert!(in_flight >= 2, "requests are pipelined to a slow broker, saw at most {in_flight} in flight");
    sent.assert_stored_once_in_order(&c, &reports);
}

/// The fault proxy's latency is a slow link's: each response is delayed from the moment the
/// broker sent it, so requests pipelined on one connection are answered together after one
/// delay, not one delay after another (which would cap a slow broker at one request per delay
/// and make any client that pipelines look slower than the link is).
#[test]
fn the_proxys_latency_delays_pipelined_responses_together_not_one_after_another() {
    use std::io::{Read, Write};
    let c = cluster();
    let proxy = proxy(&c);
    let delay = Duration::from_millis(800);
    proxy.add(Rule::new(Fault::Latency { delay, direction: Direction::Responses }).api(API_API_VERSIONS));
    let mut conn = std::net::TcpStream::connect(proxy.bootstrap().split(',').next().unwrap()).expect("connect to the proxy");
    conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // Five ApiVersions v0 requests written at once, framed by the engine's own encoder.
    let mut requests = Vec::new();
    for corr in 1..=5i32 {
        let start = messages::begin_request(&mut requests, API_API_VERSIONS, 0, corr, "proxy-test", false);
        messages::finish_request(&mut requests, start);
    }
    let written = Instant::now();
    conn.write_all(&requests).unwrap();
    let mut answered = Vec::new();
    for _ in 0..5 {
        let mut size = [0u8; 4];
        conn.read_exact(&mut size).expect("a response");
        let mut body = vec![0u8; messages::frame_len(size).expect("a valid frame size")];
        conn.read_exact(&mut body).expect("the rest of the response");
        let corr = i32::from_be_bytes(body[..4].try_into().unwrap());
        answered.push((corr, written.elapsed()));
    }
    eprintln!("responses (correlation id, after): {answered:?}");
    assert_eq!(answered.iter().map(|a| a.0).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5], "in request order");
    assert!(answered[0].1 >= delay, "the first response came {:?} after the requests, before the {delay:?} latency", answered[0].1);
    // One after another, the last would come after 5 x 800 ms = 4 s; together, after about 800 ms.
    let last = answered[4].1;
    assert!(last < 3 * delay, "the fifth response came {last:?} after the requests: the delays were added one after another");
}

/// Two produce responses of the leader spoiled by `fault`, and (`metadata`) the producer's
/// first Metadata response.
fn spoiled_responses_are_retried(fault: Fault, metadata: bool) {
    let c = cluster();
    let topic = create_topic(&c, 1);
    let leader = c.leader_of(&topic, 0);
    let proxy = proxy(&c);
    let metadata_rule = metadata.then(|| proxy.add(Rule::new(fault.clone()).api(API_METADATA).times(1)));
    let p = producer(&proxy, &[("linger.ms", "2"), ("batch.size", "2048")]);
    let mut sent = Sent::warmed_up(&topic, &p);
    if let Some(rule) = metadata_rule {
        assert_eq!(proxy.hits(rule), Some(1), "the first Metadata response was spoiled");
    }
    let produce_rule = proxy.add(Rule::new(fault).broker(leader).api(API_PRODUCE).times(2));
    for _ in 0..200 {
        sent.send(&p, 0).unwrap();
    }
    let reports = sent.all_delivered_once(Duration::from_secs(60));
    assert_eq!(proxy.hits(produce_rule), Some(2), "two Produce responses were spoiled");
    assert!(p.fatal_error().is_none(), "{:?}", p.fatal_error());
    // The broker stored the batches whose acknowledgements were spoiled; the retries are
    // recognised as duplicates (idempotence) and report the offsets of the first copies.
    sent.assert_stored_once_in_order(&c, &reports);
}

#[test]
fn truncated_metadata_and_produce_responses_are_retried_and_every_record_stored_once() {
    spoiled_responses_are_retried(Fault::Truncate, true);
}

#[test]
fn refused_connections_are_retried_with_backoff_and_the_records_delivered_once_accepted() {
    let c = cluster();
    let topic = create_topic(&c, 3);
    let proxy = proxy(&c);
    // Every connection is reset as soon as it is accepted, from the first bootstrap attempt on.
    let refuse = proxy.add(Rule::new(Fault::RefuseConnections { how: Refusal::Reset }));
    let p = producer(&proxy, &[("reconnect.backoff.ms", "100"), ("reconnect.backoff.max.ms", "1000"), ("max.block.ms", "30000")]);
    let p = Arc::new(p);
    let sender = {
        let (p, topic) = (p.clone(), topic.clone());
        std::thread::spawn(move || {
            // Blocks in send() until metadata arrives.
            let mut sent = Sent::new(&topic);
            for k in 0..30 {
                sent.send(&p, k % 3).unwrap();
            }
            sent
        })
    };
    std::thread::sleep(Duration::from_secs(4));
    let refused: u64 = (1..=3).map(|n| proxy.stats(n).refused).sum();
    proxy.remove(refuse);
    // With reconnect.backoff.ms=100 doubling to 1000 ms, each bootstrap broker is tried about
    // six times in 4 s; without backoff it would be thousands of times.
    assert!(refused >= 3, "the producer kept trying to connect: {refused} attempts");
    assert!(refused <= 3 * 12, "reconnects back off: {refused} attempts in 4 s");
    let mut sent = sender.join().unwrap();
    let reports = sent.all_delivered_once(Duration::from_secs(60));
    sent.assert_stored_once_in_order(&c, &reports);

    // Mid-stream: the leader's connection is cut and the port refuses (ECONNREFUSED) for 2 s.
    let leader = c.leader_of(&topic, 0);
    let refuse = proxy.add(Rule::new(Fault::RefuseConnections { how: Refusal::Closed }).broker(leader));
    let cut = proxy.add(Rule::new(Fault::CutMidFrame { direction: Direction::Requests }).broker(leader).api(API_PRODUCE).times(1));
    let t0 = Instant::now();
    let mut during = Vec::new();
    while t0.elapsed() < Duration::from_secs(2) {
        during.push(sent.send(&p, 0).unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(proxy.hits(cut), Some(1), "the leader's connection was cut");
    proxy.remove(refuse);
    proxy.remove(cut);
    let reports = sent.all_delivered_once(Duration::from_secs(60));
    assert!(during.iter().all(|i| reports[*i].at >= t0 + Duration::from_secs(2)), "no record was acknowledged while the leader refused connections");
    sent.assert_stored_once_in_order(&c, &reports);
}

/// The producer is leaked: when records are stuck, closing it would wait for them forever and
/// hang the test instead of failing it.
fn leaked_producer(proxy: &FaultProxy, overrides: &[(&str, &str)]) -> &'static Producer {
    Box::leak(Box::new(producer(proxy, overrides)))
}

#[test]
fn garbled_produce_responses_are_retried_and_every_record_stored_once() {
    let c = cluster();
    let topic = create_topic(&c, 1);
    let leader = c.leader_of(&topic, 0);
    let proxy = proxy(&c);
    let p = leaked_producer(&proxy, &[("linger.ms", "2"), ("batch.size", "2048"), ("request.timeout.ms", "5000"), ("delivery.timeout.ms", "20000")]);
    let mut sent = Sent::warmed_up(&topic, p);
    // The garbage starts right after the correlation id, in the response header's tagged
    // fields: the producer cannot read the stream on and drops the connection.
    let rule = proxy.add(Rule::new(Fault::Garble).broker(leader).api(API_PRODUCE).times(2));
    for _ in 0..200 {
        sent.send(p, 0).unwrap();
    }
    // Within delivery.timeout.ms every record is reported, delivered or failed.
    let reports = sent.all_delivered_once(Duration::from_secs(40));
    assert_eq!(proxy.hits(rule), Some(2), "two Produce responses were garbled");
    sent.assert_stored_once_in_order(&c, &reports);
}

#[test]
fn a_garbled_metadata_response_is_asked_again_and_send_goes_ahead() {
    let c = cluster();
    let topic = create_topic(&c, 1);
    let proxy = proxy(&c);
    let rule = proxy.add(Rule::new(Fault::Garble).api(API_METADATA).times(1));
    let p = leaked_producer(&proxy, &[("max.block.ms", "15000")]);
    let mut sent = Sent::new(&topic);
    let t0 = Instant::now();
    let r = sent.send(p, 0);
    assert!(r.is_ok(), "send() after one garbled Metadata response: {:?} after {:?}", r.err(), t0.elapsed());
    assert_eq!(proxy.hits(rule), Some(1));
    let reports = sent.all_delivered_once(Duration::from_secs(30));
    sent.assert_stored_once_in_order(&c, &reports);
}

/// Produce attempts in 3 s while every Produce response of the leader comes back truncated
/// (the producer drops the connection and retries the batch), with `retry.backoff.ms` and
/// `retry.backoff.max.ms` as given; then the fault ends and the record is stored once.
fn attempts_in_three_seconds_of_spoiled_responses(backoff_ms: &str, backoff_max_ms: &str) -> u64 {
    let c = cluster();
    let topic = create_topic(&c, 1);
    let leader = c.leader_of(&topic, 0);
    let proxy = proxy(&c);
    let p = producer(
        &proxy,
        &[
            ("retry.backoff.ms", backoff_ms),
            ("retry.backoff.max.ms", backoff_max_ms),
            ("reconnect.backoff.ms", "10"),
            ("reconnect.backoff.max.ms", "10"),
            ("linger.ms", "0"),
        ],
    );
    let mut sent = Sent::warmed_up(&topic, &p);
    let rule = proxy.add(Rule::new(Fault::Truncate).broker(leader).api(API_PRODUCE).unlimited());
    sent.send(&p, 0).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let attempts = proxy.hits(rule).expect("the rule is in force");
    proxy.remove(rule);
    let reports = sent.all_delivered_once(Duration::from_secs(60));
    sent.assert_stored_once_in_order(&c, &reports);
    attempts
}

#[test]
fn retry_backoff_ms_and_retry_backoff_max_ms_pace_the_retries_of_a_batch() {
    // In 3 s: every 50 ms, tens of attempts; 50 ms doubling up to 800 ms (50, 100, 200, 400,
    // 800, 800, ...), about 7; every 1000 ms, about 3 (each +-20% jitter).
    let fast = attempts_in_three_seconds_of_spoiled_responses("50", "50");
    let growing = attempts_in_three_seconds_of_spoiled_responses("50", "800");
    let slow = attempts_in_three_seconds_of_spoiled_responses("1000", "1000");
    eprintln!("attempts in 3 s: {fast} (50 ms), {growing} (50 to 800 ms), {slow} (1000 ms)");
    assert!(fast >= 15, "retry.backoff.ms=50: {fast} attempts in 3 s");
    assert!((4..=12).contains(&growing), "the backoff doubles up to retry.backoff.max.ms=800: {growing} attempts in 3 s");
    assert!((2..=5).contains(&slow), "retry.backoff.ms=1000: {slow} attempts in 3 s");
}

/// Metadata requests the producer sent to any broker of `c` through `proxy`.
fn metadata_requests(c: &Cluster, proxy: &FaultProxy) -> u64 {
    (1..=c.bootstrap.split(',').count() as i32).map(|n| proxy.stats(n).requests.get(&API_METADATA).copied().unwrap_or(0)).sum()
}

#[test]
fn while_a_leader_leaves_a_request_unanswered_the_producer_asks_metadata_every_quarter_second() {
    let c = cluster();
    let topic = create_topic(&c, 1);
    let leader = c.leader_of(&topic, 0);
    let proxy = proxy(&c);
    // request.timeout.ms far away: only the unanswered-request refresh asks metadata here.
    let p = producer(&proxy, &[("linger.ms", "0"), ("request.timeout.ms", "60000"), ("delivery.timeout.ms", "120000")]);
    let mut sent = Sent::warmed_up(&topic, &p);
    let rule = proxy.add(Rule::new(Fault::BlackHole).broker(leader));
    let before = metadata_requests(&c, &proxy);
    sent.send(&p, 0).unwrap();
    // One record, then quiet: the I/O loop has nothing else to wake it. The request counts as
    // unanswered from 1 s on; in the 3 s after that, a refresh every 250 ms is about 12, one a
    // second (as before) 3. A busy machine delays some (a new connection to another broker first).
    std::thread::sleep(Duration::from_millis(4000));
    let asked = metadata_requests(&c, &proxy) - before;
    proxy.remove(rule);
    eprintln!("{asked} metadata requests while the leader was silent");
    assert!(asked >= 6, "{asked} metadata requests in the 3 s the leader left a request unanswered (one per 250 ms is 12)");
    let reports = sent.all_delivered_once(Duration::from_secs(60));
    sent.assert_stored_once_in_order(&c, &reports);
}

#[test]
fn while_every_broker_leaves_a_request_unanswered_the_producer_still_asks_metadata_every_quarter_second() {
    let c = cluster();
    // Three partitions, one record each first: the producer is connected to every broker (their
    // leaders) before the fault, as it is in a busy cluster.
    let topic = create_topic(&c, 3);
    let proxy = proxy(&c);
    let p = producer(&proxy, &[("linger.ms", "0"), ("request.timeout.ms", "60000"), ("delivery.timeout.ms", "120000")]);
    let mut sent = Sent::new(&topic);
    for part in 0..3 {
        sent.send(&p, part).unwrap();
    }
    assert!(sent.wait_for(0..3, Duration::from_secs(30)), "warm-up records delivered");
    // Every broker silent, as when a paused broker is an in-sync follower of every partition
    // (acks=all): no answer comes to wake the I/O loop, neither to a Produce nor to a Metadata
    // request.
    let rules: Vec<_> = (1..=3).map(|b| proxy.add(Rule::new(Fault::BlackHole).broker(b))).collect();
    let before = metadata_requests(&c, &proxy);
    sent.send(&p, 0).unwrap();
    // The record's request counts as unanswered from 1 s on; in the 4 s after that, a refresh
    // every 250 ms is about 16; a loop that sleeps its full second between them (as before) 4.
    std::thread::sleep(Duration::from_millis(5000));
    for r in rules {
        proxy.remove(r);
    }
    let reports = sent.all_delivered_once(Duration::from_secs(60));
    // The proxy counts a black-holed connection's requests when it lets them through, at the
    // heal; a request or two asked after it are counted too.
    let asked = metadata_requests(&c, &proxy) - before;
    eprintln!("{asked} metadata requests while every broker was silent and just after");
    assert!(asked >= 10, "{asked} metadata requests in the 4 s every broker left a request unanswered (one per 250 ms is 16)");
    sent.assert_stored_once_in_order(&c, &reports);
}

#[test]
fn batches_refused_with_kafka_storage_error_are_retried_after_a_metadata_refresh_and_every_record_stored_once() {
    let c = cluster();
    let topic = create_topic(&c, 1);
    let leader = c.leader_of(&topic, 0);
    let proxy = proxy(&c);
    let p = producer(&proxy, &[("linger.ms", "2"), ("batch.size", "2048")]);
    let mut sent = Sent::warmed_up(&topic, &p);
    let metadata_before = metadata_requests(&c, &proxy);
    // The leader's log directory "fails" for two Produce requests: the proxy answers them with
    // KAFKA_STORAGE_ERROR and the broker never sees them, so nothing of them is stored.
    let rule = proxy.add(Rule::new(Fault::ProduceError { code: 56 }).broker(leader).api(API_PRODUCE).times(2));
    for _ in 0..200 {
        sent.send(&p, 0).unwrap();
    }
    let reports = sent.all_delivered_once(Duration::from_secs(60));
    assert_eq!(proxy.hits(rule), Some(2), "two Produce requests were refused");
    assert!(p.fatal_error().is_none(), "{:?}", p.fatal_error());
    assert!(metadata_requests(&c, &proxy) > metadata_before, "KAFKA_STORAGE_ERROR made the producer ask where the partition's leader is");
    sent.assert_stored_once_in_order(&c, &reports);
}

#[test]
fn a_batch_refused_with_a_non_retriable_error_fails_its_records_with_it_and_the_later_records_are_stored_once_in_order() {
    let c = cluster();
    let topic = create_topic(&c, 1);
    let leader = c.leader_of(&topic, 0);
    let proxy = proxy(&c);
    let p = producer(&proxy, &[("linger.ms", "2"), ("batch.size", "2048")]);
    let mut sent = Sent::warmed_up(&topic, &p);
    // INVALID_RECORD (87), which the broker gives a batch it will never take.
    let rule = proxy.add(Rule::new(Fault::ProduceError { code: 87 }).broker(leader).api(API_PRODUCE).times(1));
    for _ in 0..200 {
        sent.send(&p, 0).unwrap();
    }
    let n = sent.partitions.len();
    assert!(sent.wait_for(0..n, Duration::from_secs(60)), "every record reported");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(proxy.hits(rule), Some(1));
    let reports = sent.reports.lock().unwrap().clone();
    let mut failed = Vec::new();
    let mut delivered = Vec::new();
    for i in 0..n {
        let r = &reports[&i];
        assert_eq!(r.len(), 1, "record {i} got {} reports: {r:?}", r.len());
        match &r[0].result {
            Ok((_, offset)) => delivered.push((i, *offset)),
            Err(e) => {
                assert!(e.contains("INVALID_RECORD"), "record {i} failed with the broker's error, not {e}");
                failed.push(i);
            }
        }
    }
    assert!(!failed.is_empty(), "the refused batch's records failed");
    let last_failed = *failed.last().unwrap();
    assert_eq!(failed, (failed[0]..=last_failed).collect::<Vec<_>>(), "only the records of one batch failed");
    assert!(p.fatal_error().is_none(), "a refused batch is not fatal for an idempotent producer: {:?}", p.fatal_error());
    // Kafka's consumer reads the delivered records once each, at their offsets, in send order,
    // and none of the failed ones: a last record, sent once the others are reported, ends the
    // read, so a failed record in the log would take the place of a delivered one.
    drop(reports);
    let last = sent.send(&p, 0).unwrap();
    let last_report = sent.report_of(last, Duration::from_secs(30));
    delivered.push((last, last_report.expect("the last record delivered").1));
    let got = c.consume(&topic, delivered.len());
    let stored: Vec<(usize, i64)> = got.iter().map(|r| (String::from_utf8(r.value.clone().unwrap()).unwrap().parse().unwrap(), r.offset)).collect();
    assert_eq!(stored, delivered, "stored = delivered, in send order, at the reported offsets");
}
