//! `statistics.interval.ms` and the stats handler against real brokers: the documents parse as
//! JSON in librdkafka's schema, count what was sent, and show a paused or stopped broker.
//! The shared broker (`RAFKA_BOOTSTRAP`) for the counting tests; a private one-broker cluster
//! (port 25170) for the tests that pause and stop it.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cluster::Cluster;
use rafka_core::{Producer, ProducerRecord};
use serde_json::Value;

/// A producer whose statistics documents are collected, parsed.
fn producer_with_stats(config: rafka_core::Config) -> (Producer, Arc<Mutex<Vec<Value>>>) {
    let docs = Arc::new(Mutex::new(Vec::new()));
    let d = docs.clone();
    let p = Producer::builder(config)
        .stats_handler(move |json| {
            let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("statistics are not JSON ({e}): {json}"));
            d.lock().unwrap().push(v);
        })
        .build()
        .unwrap();
    (p, docs)
}

/// Waits (up to 60 s) for a document that `ok` accepts; panics with the last one otherwise.
fn await_doc(docs: &Mutex<Vec<Value>>, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        {
            let mut d = docs.lock().unwrap();
            if let Some(v) = d.iter().find(|v| ok(v)) {
                return v.clone();
            }
            if Instant::now() > deadline {
                panic!("no statistics document {what}; last: {}", d.last().map(|v| v.to_string()).unwrap_or_default());
            }
            // Keep only the latest: older ones were looked at.
            let keep = d.len().saturating_sub(1);
            d.drain(..keep);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (up to 60 s) until a document that `ok` accepts arrived, keeping every document.
fn await_all(docs: &Mutex<Vec<Value>>, what: &str, ok: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        {
            let d = docs.lock().unwrap();
            if let Some(i) = d.iter().position(&ok) {
                return d[..=i].to_vec();
            }
            if Instant::now() > deadline {
                panic!("no statistics document {what}; last: {}", d.last().map(|v| v.to_string()).unwrap_or_default());
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The sum over the documents of a broker window's field (each window covers one interval).
fn window_sum(docs: &[Value], broker: &str, window: &str, field: &str) -> u64 {
    docs.iter().filter_map(|d| d["brokers"][broker][window][field].as_u64()).sum()
}

/// The largest `max` of a window over the documents and every broker.
fn window_max(docs: &[Value], window: &str) -> u64 {
    let all = docs.iter().flat_map(|d| d["brokers"].as_object().unwrap().values().map(|b| b[window]["max"].as_u64().unwrap()).collect::<Vec<_>>());
    all.max().unwrap_or(0)
}

fn partitions_sum(doc: &Value, topic: &str, field: &str) -> u64 {
    doc["topics"][topic]["partitions"].as_object().map_or(0, |ps| ps.values().map(|p| p[field].as_u64().unwrap()).sum())
}

#[test]
fn statistics_count_the_records_and_bytes_acknowledged_after_a_flush() {
    let topic = common::unique_topic("stats-count");
    common::create_topic(&topic, 2);
    let config = common::config(&[("statistics.interval.ms", "100"), ("client.id", "stats-test"), ("linger.ms", "5")]);
    let (p, docs) = producer_with_stats(config);
    let value = vec![b'v'; 100];
    for i in 0..50 {
        let key = format!("k{i}");
        p.send(&ProducerRecord::new(&topic).key(key.as_bytes()).value(&value)).unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();
    let doc = await_doc(&docs, "with 50 records acknowledged", |d| d["txmsgs"].as_u64() == Some(50));

    assert_eq!(doc["type"], "producer");
    assert_eq!(doc["client_id"], "stats-test");
    assert!(doc["name"].as_str().unwrap().starts_with("stats-test#producer-"), "{doc}");
    for f in ["ts", "time", "age", "replyq", "msg_cnt", "msg_size", "msg_max", "msg_size_max", "tx", "tx_bytes", "rx", "rx_bytes", "txmsgs", "txmsg_bytes"] {
        assert!(doc[f].is_u64(), "{f} missing or not a count: {doc}");
    }
    assert!(doc["time"].as_u64().unwrap() > 1_600_000_000, "{doc}");
    // Everything was reported: nothing is buffered.
    assert_eq!(doc["msg_cnt"], 0, "{doc}");
    assert_eq!(doc["msg_size"], 0, "{doc}");
    assert_eq!(doc["msg_size_max"], 33554432, "{doc}");
    // Each record is 100 value bytes, a 2-3 byte key and its framing.
    let bytes = doc["txmsg_bytes"].as_u64().unwrap();
    assert!((50 * 102..50 * 200).contains(&bytes), "txmsg_bytes {bytes}: {doc}");
    assert_eq!(partitions_sum(&doc, &topic, "txmsgs"), 50, "{doc}");
    assert_eq!(partitions_sum(&doc, &topic, "txbytes"), bytes, "{doc}");
    assert_eq!(partitions_sum(&doc, &topic, "msgs"), 50, "{doc}");
    assert_eq!(doc["topics"][&topic]["partitions"].as_object().unwrap().len(), 2, "{doc}");

    let brokers = doc["brokers"].as_object().unwrap();
    let up: Vec<&Value> = brokers.values().filter(|b| b["state"] == "UP" && b["nodeid"].as_i64().unwrap() >= 0).collect();
    assert!(!up.is_empty(), "no broker UP: {doc}");
    for b in &up {
        // UP since the connection's set-up finished, after the producer started.
        let stateage = b["stateage"].as_u64().unwrap();
        assert!(stateage > 0 && stateage < doc["age"].as_u64().unwrap(), "{doc}");
        // Every record was answered: none waits to be written or for a response.
        for f in ["outbuf_msg_cnt", "waitresp_msg_cnt"] {
            assert_eq!(b[f], 0, "{f}: {doc}");
        }
        // A metadata refresh may be on its way (the flush does not wait for it), but every
        // request sent and not yet answered is counted as queued or awaiting its response.
        let (queued, waiting) = (b["outbuf_cnt"].as_u64().unwrap(), b["waitresp_cnt"].as_u64().unwrap());
        assert_eq!(queued + waiting, b["tx"].as_u64().unwrap() - b["rx"].as_u64().unwrap(), "{doc}");
    }
    // At least ApiVersions, Metadata, InitProducerId and a Produce request were sent and answered.
    let tx: u64 = brokers.values().map(|b| b["tx"].as_u64().unwrap()).sum();
    let rx: u64 = brokers.values().map(|b| b["rx"].as_u64().unwrap()).sum();
    assert!(tx >= 3 && rx >= 3, "{doc}");
    assert_eq!(doc["tx"].as_u64().unwrap(), tx, "{doc}");
    assert_eq!(doc["rx"].as_u64().unwrap(), rx, "{doc}");
    assert!(doc["tx_bytes"].as_u64().unwrap() > bytes, "requests carry the records: {doc}");
    assert_eq!(doc["eos"]["idemp_state"], "Assigned", "{doc}");
    assert!(doc["eos"]["producer_id"].as_i64().unwrap() >= 0, "{doc}");
    p.close(Duration::from_secs(10)).unwrap();
}

#[test]
fn statistics_are_not_built_without_an_interval() {
    let called = Arc::new(Mutex::new(0));
    let c = called.clone();
    let p = Producer::builder(common::config(&[])).stats_handler(move |_| *c.lock().unwrap() += 1).build().unwrap();
    let topic = common::unique_topic("stats-off");
    common::create_topic(&topic, 1);
    p.send(&ProducerRecord::new(&topic).value(b"x")).unwrap().wait().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    p.close(Duration::from_secs(10)).unwrap();
    assert_eq!(*called.lock().unwrap(), 0);
}

#[test]
fn statistics_in_poll_mode_are_served_by_poll() {
    let docs = Arc::new(Mutex::new(0));
    let d = docs.clone();
    let p = Producer::builder(common::config(&[("statistics.interval.ms", "50")]))
        .delivery_mode(rafka_core::DeliveryMode::Poll)
        .stats_handler(move |_| *d.lock().unwrap() += 1)
        .build()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(*docs.lock().unwrap(), 0, "called before poll()");
    p.poll(Duration::from_millis(100));
    assert!(*docs.lock().unwrap() > 0, "poll() served no statistics");
    p.close(Duration::from_secs(10)).unwrap();
}

#[test]
fn statistics_windows_and_request_counts_add_up_to_what_was_sent() {
    let topic = common::unique_topic("stats-windows");
    common::create_topic(&topic, 3);
    let config = common::config(&[("statistics.interval.ms", "100"), ("linger.ms", "20")]);
    let (p, docs) = producer_with_stats(config);
    let value = vec![b'w'; 200];
    for round in 0..5 {
        for i in 0..40 {
            let key = format!("k{round}-{i}");
            p.send(&ProducerRecord::new(&topic).key(key.as_bytes()).value(&value)).unwrap();
        }
        p.flush(Duration::from_secs(30)).unwrap();
    }
    let all = await_all(&docs, "with 200 records acknowledged", |d| d["txmsgs"].as_u64() == Some(200));
    let last = all.last().unwrap();
    let metadata: u64 = last["brokers"].as_object().unwrap().values().map(|b| b["req"]["Metadata"].as_u64().unwrap()).sum();
    assert!(metadata > 0, "{last}");
    for (name, b) in last["brokers"].as_object().unwrap().iter().filter(|(_, b)| b["nodeid"].as_i64().unwrap() >= 0) {
        // Every response read was timed once: the windows' counts add up to the responses.
        assert_eq!(window_sum(&all, name, "rtt", "cnt"), b["rx"].as_u64().unwrap(), "{name}: {last}");
        // Every request was written whole once: outbuf_latency timed each.
        assert_eq!(window_sum(&all, name, "outbuf_latency", "cnt"), b["tx"].as_u64().unwrap(), "{name}: {last}");
        let produce = b["req"]["Produce"].as_u64().unwrap();
        assert!(produce >= 5, "five flushes, at least five Produce requests: {last}");
        // acks=all: every Produce request was answered, each answer carried a throttle time.
        assert_eq!(window_sum(&all, name, "throttle", "cnt"), produce, "{last}");
        assert_eq!(b["req"]["ApiVersion"], 1, "{last}");
        let by_api: u64 = b["req"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
        assert_eq!(by_api, b["tx"].as_u64().unwrap(), "each request is counted under its API: {last}");
        for f in ["txerrs", "txretries", "req_timeouts", "rxerrs"] {
            assert_eq!(b[f], 0, "{f} on a healthy broker: {last}");
        }
        assert_eq!(b["connects"], 1, "{last}");
        for w in ["rtt", "int_latency", "throttle", "outbuf_latency"] {
            for f in ["min", "max", "avg", "sum", "cnt", "stddev", "p50", "p75", "p90", "p95", "p99", "p99_99", "outofrange"] {
                assert!(b[w][f].is_u64(), "{w}.{f}: {last}");
            }
        }
    }
    // Batches: the topic's batchcnt windows add up to the records, and each batch's first
    // attempt is in its broker's int_latency window.
    let t = |d: &Value, w: &str, f: &str| d["topics"][&topic][w][f].as_u64().unwrap_or(0);
    let records: u64 = all.iter().map(|d| t(d, "batchcnt", "sum")).sum();
    let batches: u64 = all.iter().map(|d| t(d, "batchcnt", "cnt")).sum();
    assert_eq!(records, 200, "{last}");
    assert!(batches >= 15, "five flushes to three partitions: {batches}");
    assert_eq!(all.iter().map(|d| t(d, "batchsize", "cnt")).sum::<u64>(), batches);
    let bytes: u64 = all.iter().map(|d| t(d, "batchsize", "sum")).sum();
    assert!(bytes > 200 * 200, "batch bytes {bytes}");
    let int_latency: u64 = last["brokers"].as_object().unwrap().keys().map(|n| window_sum(&all, n, "int_latency", "cnt")).sum();
    assert_eq!(int_latency, batches, "{last}");
    // linger.ms=20: a batch's first record waited for the linger (or for flush, which ends it early).
    assert!(window_max(&all, "int_latency") > 0, "{last}");
    p.close(Duration::from_secs(10)).unwrap();
}

#[test]
fn statistics_show_the_transaction_state_and_whether_send_may_enqueue() {
    let topic = common::unique_topic("stats-txn");
    common::create_topic(&topic, 1);
    let txn_id = common::unique_topic("stats-txn-id");
    let config = common::config(&[("statistics.interval.ms", "50"), ("transactional.id", &txn_id)]);
    let (p, docs) = producer_with_stats(config);
    let t = Duration::from_secs(30);
    p.init_transactions(t).unwrap();
    let doc = await_doc(&docs, "after init_transactions", |d| d["eos"]["txn_state"] == "Ready");
    assert_eq!(doc["eos"]["txn_may_enq"], false, "{doc}");
    assert!(doc["eos"]["epoch_cnt"].as_u64().unwrap() >= 1, "{doc}");
    p.begin_transaction().unwrap();
    p.send(&ProducerRecord::new(&topic).value(b"in a transaction")).unwrap().wait().unwrap();
    let doc = await_doc(&docs, "in the transaction", |d| d["eos"]["txn_state"] == "InTransaction");
    assert_eq!(doc["eos"]["txn_may_enq"], true, "{doc}");
    p.commit_transaction(t).unwrap();
    docs.lock().unwrap().clear(); // documents from before the commit say Ready too
    await_doc(&docs, "after the commit", |d| d["eos"]["txn_state"] == "Ready" && d["eos"]["txn_may_enq"] == false);
    p.close(Duration::from_secs(10)).unwrap();
}

#[test]
fn statistics_show_per_topic_how_long_send_was_blocked_for_metadata_and_for_buffer_memory() {
    let topic = common::unique_topic("stats-blocked");
    common::create_topic(&topic, 1);
    let config = common::config(&[("statistics.interval.ms", "50"), ("buffer.memory", "4096"), ("linger.ms", "100")]);
    let (p, docs) = producer_with_stats(config);
    // The first send to a topic waits for its metadata.
    p.send(&ProducerRecord::new(&topic).value(b"first")).unwrap().wait().unwrap();
    let value = vec![b'b'; 1000];
    // Three records fill buffer.memory: the sends after them wait for room.
    let futures: Vec<_> = (0..12).map(|_| p.send(&ProducerRecord::new(&topic).value(&value)).unwrap()).collect();
    for f in futures {
        f.wait().unwrap();
    }
    let doc = await_doc(&docs, "with all 13 acknowledged", |d| d["txmsgs"] == 13);
    let t = &doc["topics"][&topic];
    assert_eq!(t["send_blocked_metadata_cnt"], 1, "{doc}");
    assert!(t["send_blocked_metadata_us"].as_u64().unwrap() > 0, "{doc}");
    let waits = t["send_blocked_buffer_cnt"].as_u64().unwrap();
    assert!((1..=12).contains(&waits), "{doc}");
    assert!(t["send_blocked_buffer_us"].as_u64().unwrap() > 0, "{doc}");
    p.close(Duration::from_secs(10)).unwrap();
}

#[test]
fn metadata_age_shows_a_topic_left_out_of_refreshes_after_metadata_max_idle_ms_and_back_once_sent_to() {
    let (idle, busy) = (common::unique_topic("stats-idle"), common::unique_topic("stats-busy"));
    common::create_topic(&idle, 1);
    common::create_topic(&busy, 1);
    let config = common::config(&[("statistics.interval.ms", "100"), ("metadata.max.age.ms", "300"), ("metadata.max.idle.ms", "5000")]);
    let (p, docs) = producer_with_stats(config);
    p.send(&ProducerRecord::new(&idle).value(b"once")).unwrap().wait().unwrap();
    let age = |d: &Value, t: &str| d["topics"][t]["metadata_age"].as_u64();
    // The busy topic is sent to all along, so metadata keeps being asked for (every 300 ms);
    // the idle one is named in those requests for 5 s after its last send, then left out.
    let started = Instant::now();
    let stale = loop {
        p.send(&ProducerRecord::new(&busy).value(b"b")).unwrap();
        let found = docs.lock().unwrap().iter().find(|d| age(d, &idle).is_some_and(|a| a >= 2500)).cloned();
        if let Some(d) = found {
            break d;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the idle topic's metadata kept being refreshed");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(started.elapsed() >= Duration::from_secs(5), "left out only after metadata.max.idle.ms");
    assert!(age(&stale, &busy).unwrap() < 2000, "the busy topic is refreshed meanwhile: {stale}");
    // Sent to again: named in the next request.
    p.send(&ProducerRecord::new(&idle).value(b"again")).unwrap().wait().unwrap();
    docs.lock().unwrap().clear();
    await_doc(&docs, "with the idle topic refreshed again", |d| age(d, &idle).is_some_and(|a| a < 1000));
    p.close(Duration::from_secs(10)).unwrap();
}

#[test]
fn spool_fsync_always_syncs_each_record_interval_a_few_times_and_never_not_at_all() {
    let topic = common::unique_topic("stats-spool-fsync");
    common::create_topic(&topic, 1);
    let syncs = |fsync: &str| {
        let dir = std::env::temp_dir().join(format!("rafka-stats-spool-{}-{fsync}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut settings = vec![("statistics.interval.ms", "50"), ("spool.dir", dir.to_str().unwrap()), ("spool.when", "always"), ("spool.fsync", fsync)];
        if fsync == "interval" {
            settings.push(("spool.fsync.interval.ms", "200"));
        }
        let config = common::config(&settings);
        let (p, docs) = producer_with_stats(config);
        for i in 0..40 {
            p.send(&ProducerRecord::new(&topic).value(format!("{fsync}-{i}").as_bytes())).unwrap().wait().unwrap();
        }
        let doc = await_doc(&docs, "after the 40 records", |d| d["txmsgs"] == 40);
        p.close(Duration::from_secs(10)).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(doc["spool"]["unsent_msgs"], 0, "{doc}");
        doc["spool"]["syncs"].as_u64().unwrap_or_else(|| panic!("spool.syncs: {doc}"))
    };
    let (always, interval, never) = (syncs("always"), syncs("interval"), syncs("never"));
    // always: once per append, and once per ack marker a purge writes (none here).
    assert!(always >= 40, "spool.fsync=always: {always} syncs for 40 records");
    assert!((1..always).contains(&interval), "spool.fsync=interval (200 ms): {interval} syncs, always made {always}");
    assert_eq!(never, 0, "spool.fsync=never leaves the writing to the kernel");
}

fn private() -> std::sync::MutexGuard<'static, Cluster> {
    Cluster::shared("stats", 1, 25170)
}

#[test]
fn a_paused_broker_shows_in_waiting_requests_buffered_records_and_latencies_then_a_stopped_one_is_down() {
    let c = private();
    let topic = common::unique_topic("stats-pause");
    c.kafka(&["topic", "create", &topic, "--partitions", "1"]);
    let config = c.config(&[
        ("statistics.interval.ms", "100"),
        ("request.timeout.ms", "120000"),
        ("delivery.timeout.ms", "300000"),
        ("max.in.flight.requests.per.connection", "1"),
    ]);
    let (p, docs) = producer_with_stats(config);
    p.send(&ProducerRecord::new(&topic).value(b"before")).unwrap().wait().unwrap();
    settle(&docs);

    c.kafka(&["pause", "1"]);
    let _resume = ResumeOnDrop(&c);
    let paused_at = Instant::now();
    let mut futures: Vec<_> = (0..10).map(|_| p.send(&ProducerRecord::new(&topic).value(b"during")).unwrap()).collect();
    // The request the paused broker holds is written (its socket took it) and awaits its
    // response, with records in it.
    let doc = await_doc(&docs, "with a Produce request waiting on the paused broker", |d| {
        d["msg_cnt"] == 10 && d["brokers"].as_object().unwrap().values().any(|b| b["waitresp_cnt"].as_u64().unwrap() > 0 && b["waitresp_msg_cnt"].as_u64().unwrap() >= 1)
    });
    assert!(doc["msg_size"].as_u64().unwrap() >= 10 * 6, "{doc}");
    // One request may be in flight: this record's batch waits for the paused broker's answer.
    let queued_at = Instant::now();
    futures.push(p.send(&ProducerRecord::new(&topic).value(b"behind")).unwrap());
    std::thread::sleep(Duration::from_millis(1500));
    c.kafka(&["resume", "1"]);
    let (paused, queued) = (paused_at.elapsed(), queued_at.elapsed());
    for f in futures {
        f.wait().unwrap();
    }
    let all = await_all(&docs, "with all 12 acknowledged", |d| d["txmsgs"] == 12 && d["msg_cnt"] == 0);
    // The request out during the pause took the pause to be answered; the batch behind it waited
    // in the queue meanwhile (from its record's send() to its request).
    let rtt = window_max(&all, "rtt");
    let int_latency = window_max(&all, "int_latency");
    assert!(rtt >= 1_400_000 && rtt <= paused.as_micros() as u64 + 1_000_000, "rtt max {rtt} us, paused {paused:?}");
    assert!(int_latency >= 1_400_000 && int_latency <= queued.as_micros() as u64 + 1_000_000, "int_latency max {int_latency} us, queued {queued:?}");
    let last = all.last().unwrap();
    let connects = |d: &Value| d["brokers"].as_object().unwrap().values().find(|b| b["nodeid"] == 1).map_or(0, |b| b["connects"].as_u64().unwrap());
    let before = connects(last);
    assert!(before >= 1, "{last}");

    // Taken before the kill command: the broker dies (and its state changes) while it runs.
    let killed_at = Instant::now();
    c.kafka(&["kill", "1"]);
    // The other tests of this cluster need its broker: back up when this test ends, pass or fail.
    let _restart = RestartOnDrop(&c);
    // A record for the dead broker's partition: the producer tries to reconnect to it.
    let _lost = p.send(&ProducerRecord::new(&topic).value(b"after")).unwrap();
    let doc = await_doc(&docs, "with the stopped broker DOWN and reconnected to", |d| {
        d["brokers"].as_object().unwrap().values().any(|b| b["nodeid"] == 1 && b["state"] == "DOWN" && b["disconnects"].as_u64().unwrap() > 0)
            && connects(d) > before
    });
    assert_eq!(doc["txmsgs"], 12, "{doc}");
    // The broker's state changed after the kill (DOWN, or a reconnect attempt since).
    let b = doc["brokers"].as_object().unwrap().values().find(|b| b["nodeid"] == 1).unwrap();
    assert!(b["stateage"].as_u64().unwrap() <= killed_at.elapsed().as_micros() as u64, "{doc}");
    p.close(Duration::from_millis(100)).ok();
}

/// Waits until no request has been in flight or queued for 500 ms (statistics every 100 ms): the
/// metadata refreshes that follow a topic's creation are done, so that a request the paused broker
/// then holds is the test's (a refresh caught there would hold the connection's one request slot
/// until request.timeout.ms).
fn settle(docs: &Mutex<Vec<Value>>) {
    let busy = |d: &Value| d["brokers"].as_object().unwrap().values().any(|b| b["waitresp_cnt"].as_u64() != Some(0) || b["outbuf_cnt"].as_u64() != Some(0));
    let end = Instant::now() + Duration::from_secs(30);
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_millis(500) {
        {
            let d = docs.lock().unwrap();
            assert!(Instant::now() < end, "requests kept going for 30 s; last: {}", d.last().map(|v| v.to_string()).unwrap_or_default());
            if d.last().is_none_or(busy) {
                quiet_since = Instant::now();
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Resumes broker 1 of the private cluster when dropped, so that a test failing while it is paused
/// leaves it working for the tests after it.
struct ResumeOnDrop<'a>(&'a Cluster);

impl Drop for ResumeOnDrop<'_> {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.0.kafka(&["resume", "1"])));
    }
}

/// Restarts broker 1 of the private cluster when dropped (also when the test panics).
struct RestartOnDrop<'a>(&'a Cluster);

impl Drop for RestartOnDrop<'_> {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.0.kafka(&["restart", "1"])));
    }
}

/// The partitioner metrics of `topic` in the latest document of `docs` (0 when missing).
fn placed(doc: &Value, topic: &str, field: &str) -> u64 {
    doc["topics"][topic][field].as_u64().unwrap_or_else(|| panic!("{field} missing for {topic}: {doc}"))
}

#[test]
fn partitioner_metrics_count_records_placed_by_key_sticky_choice_and_explicit_partition() {
    let topic = common::unique_topic("stats-placed");
    common::create_topic(&topic, 4);
    // batch.size 200 and records of ~110 bytes: sticky placement moves on every second record.
    let config = common::config(&[("statistics.interval.ms", "100"), ("batch.size", "200"), ("linger.ms", "5")]);
    let (p, docs) = producer_with_stats(config);
    let value = vec![b'p'; 100];
    for i in 0..30 {
        let key = format!("key-{i}");
        p.send(&ProducerRecord::new(&topic).key(key.as_bytes()).value(&value)).unwrap();
    }
    for _ in 0..20 {
        p.send(&ProducerRecord::new(&topic).partition(2).value(&value)).unwrap();
    }
    for _ in 0..50 {
        p.send(&ProducerRecord::new(&topic).value(&value)).unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();
    let doc = await_doc(&docs, "with 100 records acknowledged", |d| d["txmsgs"] == 100);
    assert_eq!(placed(&doc, &topic, "partitioner_key_msgs"), 30, "{doc}");
    assert_eq!(placed(&doc, &topic, "partitioner_explicit_msgs"), 20, "{doc}");
    assert_eq!(placed(&doc, &topic, "partitioner_uniform_msgs"), 50, "{doc}");
    assert_eq!(placed(&doc, &topic, "partitioner_custom_msgs"), 0, "{doc}");
    // The first keyless record chose a partition, then every second one moved on.
    assert_eq!(placed(&doc, &topic, "partitioner_sticky_switches"), 25, "{doc}");
    assert_eq!(placed(&doc, &topic, "partitioner_unavailable_skips"), 0, "{doc}");
    // The adaptive partitioner (the default) shows the weight each partition has now; the
    // current sticky partition has none.
    let weights: Vec<u64> = doc["topics"][&topic]["partitioner_adaptive_weights"].as_array().unwrap().iter().map(|w| w.as_u64().unwrap()).collect();
    assert_eq!(weights.len(), 4, "{doc}");
    assert_eq!(weights.iter().filter(|w| **w == 0).count(), 1, "{doc}");
    // Nothing is queued after the flush: every other partition weighs the same.
    assert!(weights.iter().all(|w| *w <= 1), "{doc}");
    p.close(Duration::from_secs(10)).unwrap();
    assert_eq!(common::consume(&topic, 100).len(), 100);
}

#[test]
fn partitioner_metrics_count_records_placed_by_the_applications_partitioner() {
    struct Last;
    impl rafka_core::partitioner::Partitioner for Last {
        fn partition(&self, _: &str, _: Option<&[u8]>, _: Option<&[u8]>, n: u32) -> u32 {
            n - 1
        }
    }
    let topic = common::unique_topic("stats-custom");
    common::create_topic(&topic, 3);
    let docs = Arc::new(Mutex::new(Vec::new()));
    let d = docs.clone();
    let p = Producer::builder(common::config(&[("statistics.interval.ms", "100"), ("partitioner.adaptive.partitioning.enable", "false")]))
        .partitioner(Last)
        .stats_handler(move |json| d.lock().unwrap().push(serde_json::from_str::<Value>(json).unwrap()))
        .build()
        .unwrap();
    for i in 0..7 {
        p.send(&ProducerRecord::new(&topic).key(format!("k{i}").as_bytes()).value(b"v")).unwrap();
    }
    p.send(&ProducerRecord::new(&topic).partition(0).value(b"explicit")).unwrap();
    p.flush(Duration::from_secs(30)).unwrap();
    let doc = await_doc(&docs, "with 8 records acknowledged", |d| d["txmsgs"] == 8);
    assert_eq!(placed(&doc, &topic, "partitioner_custom_msgs"), 7, "{doc}");
    assert_eq!(placed(&doc, &topic, "partitioner_explicit_msgs"), 1, "{doc}");
    assert_eq!(placed(&doc, &topic, "partitioner_key_msgs"), 0, "{doc}");
    assert_eq!(placed(&doc, &topic, "partitioner_uniform_msgs"), 0, "{doc}");
    assert!(doc["topics"][&topic].get("partitioner_adaptive_weights").is_none(), "not adaptive: {doc}");
    assert_eq!(doc["topics"][&topic]["partitions"]["2"]["msgs"], 7, "{doc}");
    p.close(Duration::from_secs(10)).unwrap();
}

#[test]
fn requests_a_paused_broker_does_not_read_wait_in_the_output_buffer_and_outbuf_latency_shows_the_wait() {
    let c = private();
    let topic = common::unique_topic("stats-outbuf");
    c.kafka(&["topic", "create", &topic, "--partitions", "1"]);
    // Without idempotence 20 requests of ~900 KB may be out at once: more than the sockets'
    // buffers hold, so while the broker reads nothing some wait in the producer's.
    let config = c.config(&[
        ("statistics.interval.ms", "100"),
        ("enable.idempotence", "false"),
        ("acks", "1"),
        ("max.in.flight.requests.per.connection", "20"),
        ("batch.size", "1000000"),
        ("linger.ms", "0"),
        ("buffer.memory", "67108864"),
        ("request.timeout.ms", "120000"),
        ("delivery.timeout.ms", "300000"),
    ]);
    let (p, docs) = producer_with_stats(config);
    p.send(&ProducerRecord::new(&topic).value(b"before")).unwrap().wait().unwrap();
    settle(&docs);
    c.kafka(&["pause", "1"]);
    let _resume = ResumeOnDrop(&c);
    let value = vec![b'o'; 900_000];
    let futures: Vec<_> = (0..40).map(|_| p.send(&ProducerRecord::new(&topic).value(&value)).unwrap()).collect();
    let doc = await_doc(&docs, "with requests waiting to be written", |d| {
        d["brokers"].as_object().unwrap().values().any(|b| b["nodeid"] == 1 && b["outbuf_cnt"].as_u64().unwrap() > 0)
    });
    let b = doc["brokers"].as_object().unwrap().values().find(|b| b["nodeid"] == 1).unwrap();
    assert!(b["outbuf_msg_cnt"].as_u64().unwrap() >= 1, "{doc}");
    std::thread::sleep(Duration::from_millis(1000));
    c.kafka(&["resume", "1"]);
    for f in futures {
        f.wait().unwrap();
    }
    let all = await_all(&docs, "with all 41 acknowledged", |d| d["txmsgs"] == 41);
    // A request that waited for the paused broker to read waited about a second to be written.
    let max = all.iter().filter_map(|d| d["brokers"].as_object().unwrap().values().find(|b| b["nodeid"] == 1)).map(|b| b["outbuf_latency"]["max"].as_u64().unwrap()).max().unwrap();
    assert!(max >= 900_000, "outbuf_latency max {max} us");
    p.close(Duration::from_secs(10)).unwrap();
}
