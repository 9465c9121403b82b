//! The producer against the real broker, read back by Kafka's own Java consumer.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rafka_core::{LocalCode, Producer, ProducerRecord, TrySend};

#[test]
fn contents_keys_headers_timestamps_and_tombstones_read_back_as_sent() {
    let topic = unique_topic("contents");
    create_topic(&topic, 3);
    let p = Producer::new(config(&[])).unwrap();
    let binary: Vec<u8> = (0..=255u8).collect();
    let sent = [
        (Some(b"k1".to_vec()), Some(b"hello".to_vec()), vec![("h1".to_string(), Some(b"v1".to_vec()))], Some(1_700_000_000_000i64)),
        (None, Some(b"no key".to_vec()), vec![], None),
        (Some(b"tomb".to_vec()), None, vec![("null-header".to_string(), None)], Some(1_700_000_000_123)),
        (Some(binary.clone()), Some(binary.clone()), vec![("bin".to_string(), Some(binary.clone())), ("h2".to_string(), Some(Vec::new()))], None),
        (Some(Vec::new()), Some(Vec::new()), vec![], None),
    ];
    let before = rafka_core_wall_ms();
    let mut futures = Vec::new();
    for (i, (k, v, h, ts)) in sent.iter().enumerate() {
        let mut r = ProducerRecord::new(&topic).partition(i as i32 % 3);
        r.key = k.as_deref();
        r.value = v.as_deref();
        r.headers = h.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
        r.timestamp = *ts;
        futures.push(p.send(&r).unwrap());
    }
    let metas: Vec<_> = futures.into_iter().map(|f| f.wait().expect("delivered")).collect();
    let got = consume(&topic, sent.len());
    assert_eq!(got.len(), sent.len());
    for (i, (k, v, h, ts)) in sent.iter().enumerate() {
        let m = &metas[i];
        let c = got.iter().find(|c| c.partition == m.partition && c.offset == m.offset).expect("reported offset is consumed");
        assert_eq!(&c.key, k, "key of record {i}");
        assert_eq!(&c.value, v, "value of record {i}");
        assert_eq!(&c.headers, h, "headers of record {i}");
        match ts {
            Some(t) => assert_eq!(c.timestamp, *t, "given timestamp of record {i}"),
            None => assert!(c.timestamp >= before - 1000 && c.timestamp <= rafka_core_wall_ms() + 1000, "send time as timestamp"),
        }
        assert_eq!(m.partition, i as i32 % 3, "explicit partition honoured");
    }
}

fn rafka_core_wall_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[test]
fn reported_offsets_equal_consumed_offsets_for_every_record() {
    let topic = unique_topic("offsets");
    create_topic(&topic, 4);
    let p = Producer::new(config(&[("linger.ms", "2"), ("batch.size", "2000")])).unwrap();
    let reports: Arc<Mutex<HashMap<String, (i32, i64)>>> = Arc::default();
    let n = 3000;
    for i in 0..n {
        let v = format!("value-{i}");
        let r = reports.clone();
        let key = format!("key-{}", i % 37);
        p.send_with_callback(&ProducerRecord::new(&topic).key(key.as_bytes()).value(v.as_bytes()), move |d| {
            assert!(d.is_ok(), "{:?}", d.error);
            let v = String::from_utf8(d.value().unwrap().to_vec()).unwrap();
            r.lock().unwrap().insert(v, (d.partition, d.offset));
        })
        .unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();
    let reports = reports.lock().unwrap().clone();
    assert_eq!(reports.len(), n, "one report per record");
    let got = consume(&topic, n);
    assert_eq!(got.len(), n);
    for c in &got {
        let v = String::from_utf8(c.value.clone().unwrap()).unwrap();
        assert_eq!(reports[&v], (c.partition, c.offset), "report of {v}");
    }
}

#[test]
fn keyed_records_land_on_the_partition_the_java_client_picks() {
    let topic = unique_topic("murmur2");
    let partitions = 7;
    create_topic(&topic, partitions);
    let p = Producer::new(config(&[])).unwrap();
    let mut keys: Vec<Vec<u8>> = (0..200).map(|i| format!("user-{i}").into_bytes()).collect();
    keys.push(Vec::new());
    keys.push(vec![0xff, 0x00, 0x80]);
    keys.push("ключ-😀".as_bytes().to_vec());
    let futures: Vec<_> = keys.iter().map(|k| p.send(&ProducerRecord::new(&topic).key(k).value(b"x")).unwrap()).collect();
    let ours: Vec<u32> = futures.into_iter().map(|f| f.wait().unwrap().partition as u32).collect();
    let java = java_partitions(&keys, partitions);
    assert_eq!(ours, java);
    // And the broker stored them there.
    let got = consume(&topic, keys.len());
    for c in got {
        let i = keys.iter().position(|k| Some(k) == c.key.as_ref()).unwrap();
        assert_eq!(c.partition as u32, java[i]);
    }
}

#[test]
fn keyless_records_stick_to_a_partition_for_about_a_batch_then_spread() {
    let topic = unique_topic("sticky");
    create_topic(&topic, 6);
    let p = Producer::new(config(&[("batch.size", "4096"), ("linger.ms", "50")])).unwrap();
    let value = vec![b'x'; 100];
    let futures: Vec<_> = (0..3000).map(|_| p.send(&ProducerRecord::new(&topic).value(&value)).unwrap()).collect();
    let parts: Vec<i32> = futures.into_iter().map(|f| f.wait().unwrap().partition).collect();
    let switches = parts.windows(2).filter(|w| w[0] != w[1]).count();
    // ~300 KB in 4 KB batches: about 75 switches; far fewer than one per record, and more than none.
    assert!(switches > 10 && switches < 600, "{switches} partition switches");
    let used: std::collections::HashSet<_> = parts.iter().collect();
    assert_eq!(used.len(), 6, "every partition used");
}

#[test]
fn every_record_gets_exactly_one_report_from_many_threads() {
    let topic = unique_topic("threads");
    create_topic(&topic, 3);
    let p = Arc::new(Producer::new(config(&[("batch.size", "1024"), ("linger.ms", "1")])).unwrap());
    let count = Arc::new(Mutex::new(HashMap::<String, u32>::new()));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (p, topic, count) = (p.clone(), topic.clone(), count.clone());
            std::thread::spawn(move || {
                for i in 0..2500 {
                    let v = format!("{t}-{i}");
                    let c = count.clone();
                    p.send_with_callback(&ProducerRecord::new(&topic).key(format!("{}", i % 10).as_bytes()).value(v.as_bytes()), move |d| {
                        assert!(d.is_ok());
                        *c.lock().unwrap().entry(String::from_utf8(d.value().unwrap().to_vec()).unwrap()).or_default() += 1;
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();
    let count = count.lock().unwrap();
    assert_eq!(count.len(), 10_000);
    assert!(count.values().all(|c| *c == 1));
    // Per partition, each thread's records are stored in the order it sent them.
    let got = consume(&topic, 10_000);
    let mut last: HashMap<(i32, String), i64> = HashMap::new();
    for c in got {
        let v = String::from_utf8(c.value.unwrap()).unwrap();
        let (t, i) = v.split_once('-').unwrap();
        let i: i64 = i.parse().unwrap();
        let prev = last.insert((c.partition, t.to_string()), i);
        assert!(prev.is_none_or(|p| p < i), "thread {t} out of order on partition {}", c.partition);
    }
}

#[test]
fn acks_zero_reports_offset_minus_one_and_records_arrive() {
    let topic = unique_topic("acks0");
    create_topic(&topic, 1);
    let p = Producer::new(config(&[("acks", "0")])).unwrap();
    let futures: Vec<_> = (0..100).map(|i| p.send(&ProducerRecord::new(&topic).value(format!("{i}").as_bytes())).unwrap()).collect();
    for f in futures {
        assert_eq!(f.wait().unwrap().offset, -1);
    }
    assert_eq!(consume(&topic, 100).len(), 100);
}

#[test]
fn acks_one_without_idempotence_delivers_in_order() {
    let topic = unique_topic("acks1");
    create_topic(&topic, 1);
    let p = Producer::new(config(&[("acks", "1")])).unwrap();
    let futures: Vec<_> = (0..500).map(|i| p.send(&ProducerRecord::new(&topic).value(format!("{i}").as_bytes())).unwrap()).collect();
    let offsets: Vec<i64> = futures.into_iter().map(|f| f.wait().unwrap().offset).collect();
    assert!(offsets.windows(2).all(|w| w[1] == w[0] + 1));
    let got = consume(&topic, 500);
    let values: Vec<String> = got.into_iter().map(|c| String::from_utf8(c.value.unwrap()).unwrap()).collect();
    assert_eq!(values, (0..500).map(|i| i.to_string()).collect::<Vec<_>>());
}

#[test]
fn unknown_topic_fails_after_max_block_with_a_clear_error() {
    // The test broker does not auto-create topics.
    let topic = unique_topic("missing");
    let p = Producer::new(config(&[("max.block.ms", "1500")])).unwrap();
    let t0 = Instant::now();
    let err = p.send(&ProducerRecord::new(&topic).value(b"x")).err().expect("send to a missing topic fails");
    assert!(t0.elapsed() >= Duration::from_millis(1400), "waited max.block.ms");
    assert!(err.is_local(LocalCode::UnknownTopic), "{err}");
    assert!(err.message().contains(&topic) && err.message().contains("max.block.ms"), "{err}");
}

#[test]
fn partition_beyond_the_topic_fails_with_unknown_partition() {
    let topic = unique_topic("badpart");
    create_topic(&topic, 2);
    await_topic(&bootstrap(), &topic);
    // max.block.ms bounds the wait for partition 5; 3 s leaves a loaded machine time to fetch the
    // topic's metadata for the first send.
    let p = Producer::new(config(&[("max.block.ms", "3000")])).unwrap();
    p.send(&ProducerRecord::new(&topic).value(b"ok").partition(1)).unwrap().wait().unwrap();
    let err = p.send(&ProducerRecord::new(&topic).value(b"x").partition(5)).err().unwrap();
    assert!(err.is_local(LocalCode::UnknownPartition), "{err}");
    let err = p.send(&ProducerRecord::new(&topic).value(b"x").partition(-3)).err().unwrap();
    assert!(err.is_local(LocalCode::InvalidArgument), "{err}");
}

#[test]
fn try_send_does_nothing_and_says_would_wait_until_the_topic_and_partition_are_known() {
    let topic = unique_topic("trysend");
    create_topic(&topic, 2);
    await_topic(&bootstrap(), &topic);
    let reports = Arc::new(Mutex::new(Vec::new()));
    let r2 = reports.clone();
    let p = Producer::builder(config(&[("max.block.ms", "3000")]))
        .delivery_handler(move |d, opaque| r2.lock().unwrap().push((opaque, d.partition, d.error.is_none())))
        .build()
        .unwrap();
    // Nothing known yet: nothing queued, no buffer memory taken, no report will come.
    let r = p.try_send_with_opaque(&ProducerRecord::new(&topic).value(b"early"), 7).unwrap();
    assert_eq!(r, TrySend::WouldWait);
    assert_eq!((p.buffered_bytes(), p.in_flight_count()), (0, 0));
    // The blocking send fetches the metadata; after it, try_send queues at once.
    p.send_with_opaque(&ProducerRecord::new(&topic).value(b"first").partition(0), 1, true).unwrap();
    let r = p.try_send_with_opaque(&ProducerRecord::new(&topic).value(b"second").partition(1), 2).unwrap();
    assert_eq!(r, TrySend::Queued);
    // A partition the topic does not have: would wait (for a metadata refresh), does nothing.
    let r = p.try_send_with_opaque(&ProducerRecord::new(&topic).value(b"x").partition(5), 9).unwrap();
    assert_eq!(r, TrySend::WouldWait);
    p.flush(Duration::from_secs(30)).unwrap();
    assert_eq!(p.in_flight_count(), 0);
    let mut got = reports.lock().unwrap().clone();
    got.sort();
    assert_eq!(got, vec![(1, 0, true), (2, 1, true)], "one report per queued record, none for the others");
    let mut stored: Vec<Vec<u8>> = consume(&topic, 2).into_iter().filter_map(|c| c.value).collect();
    stored.sort();
    assert_eq!(stored, vec![b"first".to_vec(), b"second".to_vec()]);
}

#[test]
fn record_larger_than_max_request_size_fails_at_once_and_nothing_is_queued() {
    let topic = unique_topic("toolarge");
    create_topic(&topic, 1);
    let p = Producer::new(config(&[("max.request.size", "10000")])).unwrap();
    let big = vec![0u8; 20_000];
    let err = p.send(&ProducerRecord::new(&topic).value(&big)).err().unwrap();
    assert!(err.is_local(LocalCode::MessageTooLarge), "{err}");
    assert!(err.message().contains("max.request.size"), "{err}");
    assert_eq!(p.in_flight_count(), 0);
    p.send(&ProducerRecord::new(&topic).value(b"small")).unwrap().wait().unwrap();
}

#[test]
fn record_larger_than_buffer_memory_fails_at_once() {
    let topic = unique_topic("toobig-mem");
    create_topic(&topic, 1);
    let p = Producer::new(config(&[("buffer.memory", "50000"), ("batch.size", "1000")])).unwrap();
    let err = p.send(&ProducerRecord::new(&topic).value(&vec![1u8; 60_000])).err().unwrap();
    assert!(err.is_local(LocalCode::MessageTooLarge) && err.message().contains("buffer.memory"), "{err}");
}

#[test]
fn close_with_records_in_flight_reports_every_record() {
    let topic = unique_topic("close");
    create_topic(&topic, 2);
    let p = Producer::new(config(&[("linger.ms", "200")])).unwrap();
    let futures: Vec<_> = (0..2000).map(|i| p.send(&ProducerRecord::new(&topic).value(format!("{i}").as_bytes())).unwrap()).collect();
    p.close(Duration::from_secs(30)).unwrap();
    for f in &futures {
        assert!(f.is_done(), "every record reported before close returns");
        f.try_result().unwrap().unwrap();
    }
    let err = p.send(&ProducerRecord::new(&topic).value(b"late")).err().unwrap();
    assert!(err.is_local(LocalCode::State), "{err}");
    p.close(Duration::from_secs(1)).unwrap(); // idempotent
    assert_eq!(consume(&topic, 2000).len(), 2000);
}

#[test]
fn close_with_zero_timeout_fails_pending_records_and_reports_each_once() {
    let topic = unique_topic("close0");
    create_topic(&topic, 1);
    let p = Producer::new(config(&[("linger.ms", "5000"), ("batch.size", "1000000")])).unwrap();
    let futures: Vec<_> = (0..100).map(|i| p.send(&ProducerRecord::new(&topic).value(format!("{i}").as_bytes())).unwrap()).collect();
    assert!(p.close(Duration::ZERO).is_err(), "records were still pending");
    for f in futures {
        let r = f.try_result().expect("reported before close returned");
        if let Err(e) = r {
            assert!(e.is_local(LocalCode::Closed), "{e}");
        }
    }
}

#[test]
fn close_from_inside_a_callback_does_not_deadlock() {
    let topic = unique_topic("close-cb");
    create_topic(&topic, 1);
    let p = Arc::new(Producer::new(config(&[])).unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let p2 = p.clone();
    p.send_with_callback(&ProducerRecord::new(&topic).value(b"x"), move |_| {
        let r = p2.close(Duration::from_secs(5));
        tx.send(r.is_ok()).unwrap();
    })
    .unwrap();
    rx.recv_timeout(Duration::from_secs(20)).expect("callback returned from close()");
}

#[test]
fn flush_waits_for_every_record_sent_before_it() {
    let topic = unique_topic("flush");
    create_topic(&topic, 3);
    let p = Producer::new(config(&[("linger.ms", "10000"), ("batch.size", "1000000")])).unwrap();
    let futures: Vec<_> = (0..300).map(|i| p.send(&ProducerRecord::new(&topic).value(format!("{i}").as_bytes())).unwrap()).collect();
    let t0 = Instant::now();
    p.flush(Duration::from_secs(20)).unwrap();
    assert!(t0.elapsed() < Duration::from_secs(9), "flush does not wait out linger.ms");
    assert!(futures.iter().all(|f| f.is_done()));
    assert_eq!(p.in_flight_count(), 0);
}

#[test]
fn a_panicking_callback_is_contained_and_the_producer_goes_on() {
    let topic = unique_topic("panic");
    create_topic(&topic, 1);
    let p = Producer::new(config(&[])).unwrap();
    p.send_with_callback(&ProducerRecord::new(&topic).value(b"a"), |_| panic!("callback panics on purpose")).unwrap();
    let f = p.send(&ProducerRecord::new(&topic).value(b"b")).unwrap();
    assert!(f.wait().is_ok());
}

#[test]
fn bad_configuration_is_rejected_naming_the_problem() {
    let mut c = rafka_core::Config::new();
    let e = c.set("linger.mss", "5").err().unwrap();
    assert!(e.to_string().contains("linger.mss") && e.to_string().contains("linger.ms"), "{e}");
    let e = c.set("acks", "2").err().unwrap();
    assert!(e.to_string().contains("acks") && e.to_string().contains('2'), "{e}");
    let mut c = config(&[("enable.idempotence", "true"), ("acks", "1")]);
    let e = Producer::new(std::mem::take(&mut c)).err().unwrap();
    assert!(e.message().contains("idempotence"), "{e}");
}

#[test]
fn memory_grows_with_content_not_with_partition_count() {
    let topic = unique_topic("many-partitions");
    let partitions = 1000;
    create_topic(&topic, partitions);
    let p = Producer::new(config(&[("linger.ms", "60000"), ("batch.size", "16384")])).unwrap();
    let value = [7u8; 100];
    let futures: Vec<_> = (0..partitions as i32)
        .flat_map(|part| (0..3).map(move |_| part))
        .map(|part| p.send(&ProducerRecord::new(&topic).partition(part).value(&value)).unwrap())
        .collect();
    // 3,000 records of ~100 bytes lingering in 1,000 partitions: about 0.5 MB held, where one
    // batch.size buffer per partition would be 16 MB.
    let held = p.buffered_bytes();
    assert!(held > 3000 * 100, "records are accounted: {held}");
    assert!(held < 1_000_000, "{held} bytes held for 300 KB of records");
    p.flush(Duration::from_secs(60)).unwrap();
    assert!(futures.iter().all(|f| f.try_result().unwrap().is_ok()));
    assert_eq!(p.buffered_bytes(), 0, "memory released after the reports");
}

#[test]
fn purge_fails_queued_records_with_purge_queue_and_none_is_stored() {
    let topic = unique_topic("purge");
    create_topic(&topic, 1);
    let p = Producer::new(config(&[("linger.ms", "60000"), ("batch.size", "1000000")])).unwrap();
    p.partition_count(&topic).unwrap();
    let futures: Vec<_> = (0..50).map(|i| p.send(&ProducerRecord::new(&topic).value(format!("{i}").as_bytes())).unwrap()).collect();
    p.purge();
    for f in &futures {
        let e = f.wait_timeout(Duration::from_secs(10)).expect_err("purged records fail");
        assert!(e.is_local(LocalCode::PurgedQueue), "{e}");
    }
    // The producer goes on after a purge.
    p.send(&ProducerRecord::new(&topic).value(b"after")).unwrap();
    p.flush(Duration::from_secs(30)).unwrap();
    let got = consume(&topic, 1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].value.as_deref(), Some(&b"after"[..]));
}

#[test]
fn purge_right_after_the_first_send_and_a_flush_after_it_still_purge_everything_queued() {
    let topic = unique_topic("purge-race");
    create_topic(&topic, 1);
    for _ in 0..5 {
        let p = Producer::new(config(&[("linger.ms", "60000"), ("batch.size", "1000000")])).unwrap();
        p.partition_count(&topic).unwrap();
        let futures: Vec<_> = (0..10).map(|i| p.send(&ProducerRecord::new(&topic).value(format!("{i}").as_bytes())).unwrap()).collect();
        p.purge();
        p.flush(Duration::from_secs(10)).unwrap();
        for f in &futures {
            let e = f.try_result().expect("reported").expect_err("purged, not sent");
            assert!(e.is_local(LocalCode::PurgedQueue), "{e}");
        }
    }
}

/// send() remembers per thread the topic it sent to last: records sent from one thread that
/// alternates between two producers and two topics must each reach the topic they name.
#[test]
fn one_thread_alternating_producers_and_topics_sends_each_record_to_its_own_topic() {
    let topics = [unique_topic("alt-a"), unique_topic("alt-b")];
    for t in &topics {
        create_topic(t, 2);
    }
    let producers = [Producer::new(config(&[])).unwrap(), Producer::new(config(&[])).unwrap()];
    let n = 400;
    let mut futures = Vec::new();
    for i in 0..n {
        let (p, t) = (&producers[i % 2], &topics[(i / 2) % 2]);
        let v = format!("{i}");
        futures.push((t, v.clone(), p.send(&ProducerRecord::new(t).value(v.as_bytes())).unwrap()));
    }
    let mut want: HashMap<&String, Vec<String>> = HashMap::new();
    for (t, v, f) in futures {
        let m = f.wait().expect("delivered");
        assert_eq!(&*m.topic, t.as_str(), "report of record {v}");
        want.entry(t).or_default().push(v);
    }
    for t in &topics {
        let mut got: Vec<String> = consume(t, n / 2).into_iter().map(|c| String::from_utf8(c.value.unwrap()).unwrap()).collect();
        let mut expected = want[t].clone();
        got.sort();
        expected.sort();
        assert_eq!(got, expected, "records in {t}");
    }
}

/// A thread that keeps sending to one topic must see partitions added to it (the per-thread
/// memory of the last topic is dropped when metadata replaces the topic table).
#[test]
fn a_thread_that_keeps_sending_to_a_topic_uses_partitions_added_to_it() {
    let topic = unique_topic("grow");
    create_topic(&topic, 1);
    // Small batches so that the sticky partitioner moves on often; metadata refreshed quickly.
    let p = Producer::new(config(&[("metadata.max.age.ms", "500"), ("batch.size", "200"), ("linger.ms", "0")])).unwrap();
    p.send(&ProducerRecord::new(&topic).value(b"first")).unwrap().wait().expect("delivered");
    kafka(&["topic", "alter", &topic, "--partitions", "3"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 3 {
        assert!(Instant::now() < deadline, "after 30 s the sender still used only partitions {seen:?} of 3");
        let fs: Vec<_> = (0..50).map(|_| p.send(&ProducerRecord::new(&topic).value(&[b'x'; 100])).unwrap()).collect();
        for f in fs {
            seen.insert(f.wait().expect("delivered").partition);
        }
    }
}

#[test]
fn records_sent_within_linger_ms_are_stored_as_one_batch() {
    let topic = unique_topic("linger");
    create_topic(&topic, 1);
    let p = Producer::new(config(&[("linger.ms", "1500"), ("batch.size", "1000000")])).unwrap();
    // The first record's batch also waits out the connection and the producer id.
    p.send(&ProducerRecord::new(&topic).value(b"first")).unwrap().wait().unwrap();
    // Ten records over about 50 ms, well inside one linger window: one batch, sent when the
    // window closes (no flush, which would send at once).
    let futures: Vec<_> = (0..10)
        .map(|i| {
            std::thread::sleep(Duration::from_millis(5));
            p.send(&ProducerRecord::new(&topic).value(format!("{i}").as_bytes())).unwrap()
        })
        .collect();
    let offsets: Vec<i64> = futures.iter().map(|f| f.wait_timeout(Duration::from_secs(30)).expect("delivered once linger.ms passed").offset).collect();
    assert_eq!(offsets, (1..=10).collect::<Vec<i64>>());
    assert_eq!(broker_batch_codecs(&topic, 0).len(), 2, "the first record's batch, then one batch of ten");
}

#[test]
fn reports_served_hook_runs_once_per_run_of_reports_after_their_memory_is_released() {
    let topic = unique_topic("served");
    create_topic(&topic, 2);
    await_topic(&bootstrap(), &topic);
    let reported = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Per call of the hook: (reports so far, buffered bytes, records in flight).
    let calls = Arc::new(Mutex::new(Vec::new()));
    let me: Arc<std::sync::OnceLock<std::sync::Weak<Producer>>> = Arc::new(std::sync::OnceLock::new());
    let (r1, r2, c2, m2) = (reported.clone(), reported.clone(), calls.clone(), me.clone());
    let p = Arc::new(
        Producer::builder(config(&[("linger.ms", "50")]))
            .delivery_handler(move |_, _| {
                r1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            })
            .on_reports_served(move || {
                let n = r2.load(std::sync::atomic::Ordering::SeqCst);
                let p = m2.get().and_then(|w| w.upgrade());
                let (bytes, in_flight) = p.map_or((usize::MAX, u64::MAX), |p| (p.buffered_bytes(), p.in_flight_count()));
                c2.lock().unwrap().push((n, bytes, in_flight));
            })
            .build()
            .unwrap(),
    );
    me.set(Arc::downgrade(&p)).unwrap();
    let n = 1000;
    for i in 0..n {
        p.send_with_opaque(&ProducerRecord::new(&topic).value(format!("s{i}").as_bytes()), 1, true).unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();
    // close() joins the delivery thread: every call of the hook is over when it returns.
    p.close(Duration::from_secs(30)).unwrap();
    let calls = calls.lock().unwrap().clone();
    assert_eq!(reported.load(std::sync::atomic::Ordering::SeqCst), n);
    // Batched: far fewer calls than reports (1000 records lingering 50 ms in 2 partitions).
    assert!(!calls.is_empty() && calls.len() <= n / 10, "{} calls for {n} reports", calls.len());
    // The last call came after every report, with every record's memory given back.
    assert_eq!(calls.last().unwrap().0, n);
    assert!(calls.contains(&(n, 0, 0)), "no call saw all {n} reports with their memory released: {:?}", calls.last());
}
