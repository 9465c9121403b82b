//! Configuration keys whose effect shows in delivery, against the real broker (docs/configuration.md):
//! `queue.buffering.max.messages`, `delivery.report.only.error`, `message.timeout.ms` below the
//! request timeout, the `fnv1a` partitioner, `sticky.partitioning.linger.ms`,
//! `partitioner.ignore.keys`, `compression.level`, the socket settings (`socket.send.buffer.bytes`,
//! `socket.receive.buffer.bytes`, `socket.keepalive.enable`, `socket.nagle.disable`),
//! `batch.num.messages`,
//! `queue.buffering.max.kbytes`, `topic.metadata.refresh.interval.ms`; the builder's
//! `on_acknowledgement` hook (interceptors), which sees reports `delivery.report.only.error` withholds;
//! and its `owned_delivery_handler`, whose reports outlive the producer.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rafka_core::{DeliveryMode, LocalCode, Producer, ProducerRecord};

#[test]
fn queue_buffering_max_messages_bounds_records_not_yet_reported() {
    let topic = unique_topic("qbmm");
    create_topic(&topic, 1);
    // Poll mode: reports (and the slots they free) wait for poll().
    let reported = Arc::new(AtomicUsize::new(0));
    let r2 = reported.clone();
    let p = Producer::builder(config(&[("queue.buffering.max.messages", "3"), ("max.block.ms", "300"), ("linger.ms", "0")]))
        .delivery_mode(DeliveryMode::Poll)
        .delivery_handler(move |d, _| {
            assert!(d.error.is_none(), "{:?}", d.error);
            r2.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    for i in 0..3 {
        p.send_with_opaque(&ProducerRecord::new(&topic).value(format!("r{i}").as_bytes()), i, false).unwrap();
    }
    let err = p.send_with_opaque(&ProducerRecord::new(&topic).value(b"r3"), 3, false).expect_err("a fourth record does not fit");
    assert!(err.is_local(LocalCode::QueueFull) && err.message().contains("queue.buffering.max.messages (3"), "{err}");
    let t0 = Instant::now();
    let err = p.send_with_opaque(&ProducerRecord::new(&topic).value(b"r3"), 3, true).expect_err("blocks max.block.ms, then fails");
    assert!(t0.elapsed() >= Duration::from_millis(300), "waited max.block.ms");
    assert!(err.is_local(LocalCode::QueueFull) && err.message().contains("queue.buffering.max.messages (3)") && err.message().contains("max.block.ms"), "{err}");
    // Serving the reports frees the slots.
    let deadline = Instant::now() + Duration::from_secs(30);
    while reported.load(Ordering::SeqCst) < 3 && Instant::now() < deadline {
        p.poll(Duration::from_millis(100));
    }
    assert_eq!(reported.load(Ordering::SeqCst), 3);
    p.send_with_opaque(&ProducerRecord::new(&topic).value(b"r3"), 3, false).unwrap();
    p.flush(Duration::from_secs(30)).unwrap();
    let mut got: Vec<Vec<u8>> = consume(&topic, 4).into_iter().filter_map(|c| c.value).collect();
    got.sort();
    assert_eq!(got, vec![b"r0".to_vec(), b"r1".to_vec(), b"r2".to_vec(), b"r3".to_vec()]);
}

#[test]
fn queue_buffering_max_messages_unset_or_zero_sets_no_limit() {
    let topic = unique_topic("qbmm0");
    create_topic(&topic, 1);
    for extra in [&[][..], &[("queue.buffering.max.messages", "0")][..]] {
        let mut settings = vec![("max.block.ms", "200"), ("linger.ms", "0")];
        settings.extend_from_slice(extra);
        let p = Producer::builder(config(&settings)).delivery_mode(DeliveryMode::Poll).delivery_handler(|_, _| {}).build().unwrap();
        for i in 0..200 {
            p.send_with_opaque(&ProducerRecord::new(&topic).value(b"x"), i, false).unwrap();
        }
        p.flush(Duration::from_secs(30)).unwrap();
    }
}

#[test]
fn delivery_report_only_error_withholds_successful_reports_but_futures_complete() {
    let topic = unique_topic("droe");
    kafka(&["topic", "create", &topic, "--partitions", "1", "--config", "max.message.bytes=2000"]);
    await_topic(&bootstrap(), &topic);
    let handled = Arc::new(Mutex::new(Vec::new()));
    let suppressed = Arc::new(Mutex::new(Vec::new()));
    let (h2, s2) = (handled.clone(), suppressed.clone());
    let p = Producer::builder(config(&[("delivery.report.only.error", "true"), ("linger.ms", "0"), ("retries", "0"), ("enable.idempotence", "false")]))
        .delivery_handler(move |d, o| h2.lock().unwrap().push((o, d.error.is_some())))
        .on_report_suppressed(move |o| s2.lock().unwrap().push(o))
        .build()
        .unwrap();
    let callbacks = Arc::new(AtomicUsize::new(0));
    for i in 1..=3 {
        p.send_with_opaque(&ProducerRecord::new(&topic).value(b"fine"), i, true).unwrap();
        let c = callbacks.clone();
        p.send_with_callback(&ProducerRecord::new(&topic).value(b"fine"), move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    let fut = p.send(&ProducerRecord::new(&topic).value(b"future")).unwrap();
    let md = fut.wait_timeout(Duration::from_secs(30)).expect("futures still complete");
    assert!(md.offset >= 0);
    // Larger than the topic's max.message.bytes: the broker refuses it, and that report comes.
    p.send_with_opaque(&ProducerRecord::new(&topic).value(&vec![7u8; 5000]), 99, true).unwrap();
    p.flush(Duration::from_secs(30)).unwrap();
    assert_eq!(*handled.lock().unwrap(), vec![(99, true)], "only the failed record reaches the handler");
    assert_eq!(callbacks.load(Ordering::SeqCst), 0, "no callback for successful records");
    let mut s = suppressed.lock().unwrap().clone();
    s.sort();
    assert_eq!(s, vec![1, 2, 3], "withheld reports are announced to the binding hook");
    assert_eq!(consume(&topic, 7).len(), 7, "every good record is stored");
}

#[test]
fn a_small_message_timeout_is_accepted_and_caps_the_request_timeout() {
    let topic = unique_topic("msgtimeout");
    create_topic(&topic, 1);
    let p = Producer::new(config(&[("message.timeout.ms", "3000")])).unwrap();
    assert_eq!(p.config().request_timeout, Duration::from_millis(2995));
    let md = p.send(&ProducerRecord::new(&topic).value(b"quick")).unwrap().wait_timeout(Duration::from_secs(10)).unwrap();
    assert!(md.offset >= 0);
    assert_eq!(consume(&topic, 1)[0].value.as_deref(), Some(&b"quick"[..]));
}

#[test]
fn fnv1a_places_keys_where_librdkafka_does() {
    let topic = unique_topic("fnv1a");
    create_topic(&topic, 5);
    let p = Producer::new(config(&[("partitioner", "fnv1a")])).unwrap();
    let keys = ["kafka", "giberish123456789", "1234", "user-42", ""];
    for k in keys {
        let md = p.send(&ProducerRecord::new(&topic).key(k.as_bytes()).value(b"v")).unwrap().wait_timeout(Duration::from_secs(30)).unwrap();
        let want = rafka_core::partitioner::fnv1a(k.as_bytes()) % 5;
        assert_eq!(md.partition as u32, want, "key {k:?}");
    }
    // A null key hashes as an empty one: always one partition.
    let empty = rafka_core::partitioner::fnv1a(b"") % 5;
    for _ in 0..5 {
        let md = p.send(&ProducerRecord::new(&topic).value(b"keyless")).unwrap().wait_timeout(Duration::from_secs(30)).unwrap();
        assert_eq!(md.partition as u32, empty);
    }
    let by_partition: Vec<(i32, Option<Vec<u8>>)> = consume(&topic, 10).into_iter().map(|c| (c.partition, c.key)).collect();
    for (part, key) in by_partition {
        let k = key.unwrap_or_default();
        assert_eq!(part as u32, rafka_core::partitioner::fnv1a(&k) % 5, "stored where the report said");
    }
}

#[test]
fn sticky_partitioning_linger_moves_keyless_records_on_after_that_long() {
    let topic = unique_topic("stickylinger");
    create_topic(&topic, 8);
    let p = Producer::new(config(&[("partitioner", "murmur2_random"), ("sticky.partitioning.linger.ms", "300")])).unwrap();
    let partition = |f: rafka_core::DeliveryFuture| f.wait_timeout(Duration::from_secs(30)).unwrap().partition;
    let send = || p.send(&ProducerRecord::new(&topic).value(b"x")).unwrap();
    // The first send waits for metadata; after it, and once its 300 ms are over, twenty
    // records sent back to back (well within 300 ms of each other) share a partition, which
    // murmur2_random alone would scatter; 400 ms later the partition has changed.
    partition(send());
    std::thread::sleep(Duration::from_millis(400));
    let burst: Vec<i32> = (0..20).map(|_| send()).collect::<Vec<_>>().into_iter().map(partition).collect();
    let first = burst[0];
    assert!(burst.iter().all(|p| *p == first), "{burst:?}");
    std::thread::sleep(Duration::from_millis(400));
    assert_ne!(partition(send()), first, "a new sticky partition after sticky.partitioning.linger.ms");
}

#[test]
fn on_acknowledgement_sees_every_record_even_those_delivery_report_only_error_withholds() {
    let topic = unique_topic("onack");
    create_topic(&topic, 1);
    // (opaque, failed, offset) per acknowledgement. (That the hook runs just before each report
    // is shown by the C API's interceptor test, tests/c/test_capi.c.)
    let acks = Arc::new(Mutex::new(Vec::new()));
    let completed = Arc::new(AtomicUsize::new(0));
    let a2 = acks.clone();
    let p = Producer::builder(config(&[("delivery.report.only.error", "true"), ("linger.ms", "0")]))
        .delivery_handler({
            let c = completed.clone();
            move |_, _| {
                c.fetch_add(1, Ordering::SeqCst);
            }
        })
        .on_acknowledgement(move |d, o| a2.lock().unwrap().push((o, d.error.is_some(), d.offset)))
        .build()
        .unwrap();
    p.send_with_opaque(&ProducerRecord::new(&topic).value(b"a"), 7, true).unwrap();
    let cb_ran = Arc::new(AtomicUsize::new(0));
    let c3 = cb_ran.clone();
    p.send_with_callback(&ProducerRecord::new(&topic).value(b"b"), move |_| {
        c3.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    p.send(&ProducerRecord::new(&topic).value(b"c")).unwrap().wait_timeout(Duration::from_secs(30)).unwrap();
    p.flush(Duration::from_secs(30)).unwrap();
    let acks = acks.lock().unwrap().clone();
    // Successful records: no report under delivery.report.only.error, and still acknowledged;
    // the opaque for send_with_opaque, 0 for the others.
    assert_eq!(acks, vec![(7, false, 0), (0, false, 1), (0, false, 2)]);
    assert_eq!(completed.load(Ordering::SeqCst), 0);
    assert_eq!(cb_ran.load(Ordering::SeqCst), 0, "no callback for a success under delivery.report.only.error");
}

#[test]
fn partitioner_ignore_keys_spreads_one_key_over_partitions_as_if_keyless() {
    let topic = unique_topic("ignorekeys");
    create_topic(&topic, 4);
    let value = [b'v'; 100];
    // batch.size of about two records: the sticky choice moves on every couple of records.
    let partitions_of = |ignore: &str| -> std::collections::BTreeSet<i32> {
        let p = Producer::new(config(&[("partitioner.ignore.keys", ignore), ("batch.size", "250"), ("linger.ms", "0")])).unwrap();
        (0..60).map(|_| p.send(&ProducerRecord::new(&topic).key(b"one-key").value(&value)).unwrap().wait_timeout(Duration::from_secs(30)).unwrap().partition).collect()
    };
    let hashed = partitions_of("false");
    assert_eq!(hashed.len(), 1, "one key, one partition: {hashed:?}");
    let want = java_partitions(&[b"one-key".to_vec()], 4)[0] as i32;
    assert_eq!(hashed.into_iter().next(), Some(want), "where Java's murmur2 puts the key");
    let ignored = partitions_of("true");
    assert!(ignored.len() > 1, "with partitioner.ignore.keys the key does not pin a partition: {ignored:?}");
    // The broker stored each record with its key where the reports said.
    let stored = consume(&topic, 120);
    assert!(stored.iter().all(|c| c.key.as_deref() == Some(&b"one-key"[..])));
    assert!(stored.iter().map(|c| c.partition).collect::<std::collections::BTreeSet<_>>().len() > 1);
}

#[test]
fn compression_level_changes_how_small_the_batches_are_sent() {
    let topic = unique_topic("ziplevel");
    create_topic(&topic, 1);
    // Text from a small vocabulary: compressible, with room between a fast and a thorough level.
    let words = ["kafka", "record", "batch", "broker", "leader", "replica", "offset", "topic", "partition", "producer", "acks", "linger"];
    let mut x: u32 = 12345;
    let values: Vec<Vec<u8>> = (0..400)
        .map(|_| {
            let mut v = Vec::new();
            while v.len() < 1000 {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                v.extend_from_slice(words[(x >> 16) as usize % words.len()].as_bytes());
                v.push(b' ');
            }
            v
        })
        .collect();
    let ratio = |level: &str| -> f64 {
        let p = Producer::new(config(&[("compression.type", "zstd"), ("compression.level", level), ("batch.size", "1048576"), ("linger.ms", "1000")])).unwrap();
        let futures: Vec<_> = values.iter().map(|v| p.send(&ProducerRecord::new(&topic).value(v)).unwrap()).collect();
        p.flush(Duration::from_secs(30)).unwrap();
        for f in futures {
            f.wait_timeout(Duration::from_secs(30)).unwrap();
        }
        let c = p.counters(Duration::from_secs(10)).unwrap();
        let t = c.topics.iter().find(|t| t.topic == topic).expect("the topic's counters");
        assert_eq!(t.records_sent, values.len() as u64);
        t.compression_ratio_sum / t.batches_sent as f64
    };
    let fast = ratio("1");
    let thorough = ratio("19");
    assert!(thorough < fast * 0.97, "zstd level 19 sends smaller batches than level 1: ratio {thorough:.4} vs {fast:.4}");
    // Both read back as sent.
    let stored = consume(&topic, 2 * values.len());
    for (i, c) in stored.iter().enumerate() {
        assert_eq!(c.value.as_deref(), Some(&values[i % values.len()][..]), "record {i}");
    }
}

/// The socket options of this process's TCP connections to `port`, as
/// (SO_SNDBUF, SO_RCVBUF, SO_KEEPALIVE, TCP_NODELAY) per connection.
fn connections_to(port: u16) -> Vec<(i32, i32, i32, i32)> {
    let get = |fd: i32, level: i32, opt: i32| {
        let mut v: i32 = -1;
        let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
        // SAFETY: a buffer of the length given; a closed or non-socket fd only makes the call fail.
        let r = unsafe { libc::getsockopt(fd, level, opt, (&mut v as *mut i32).cast(), &mut len) };
        (r == 0).then_some(v)
    };
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(fd) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        if !std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().starts_with("socket:")) {
            continue;
        }
        // SAFETY: sockaddr_storage is large enough for any address; len says how much was written.
        let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        if unsafe { libc::getpeername(fd, (&mut addr as *mut libc::sockaddr_storage).cast(), &mut len) } != 0 {
            continue;
        }
        let peer_port = match addr.ss_family as i32 {
            // SAFETY: the family says which layout the kernel wrote.
            libc::AF_INET => u16::from_be(unsafe { (*(&addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>()).sin_port }),
            libc::AF_INET6 => u16::from_be(unsafe { (*(&addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()).sin6_port }),
            _ => continue,
        };
        if peer_port != port {
            continue;
        }
        let opts = (
            get(fd, libc::SOL_SOCKET, libc::SO_SNDBUF),
            get(fd, libc::SOL_SOCKET, libc::SO_RCVBUF),
            get(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE),
            get(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY),
        );
        if let (Some(a), Some(b), Some(c), Some(d)) = opts {
            out.push((a, b, c, d));
        }
    }
    out
}

#[test]
fn socket_buffer_keepalive_and_nagle_settings_are_those_of_the_brokers_connections() {
    let topic = unique_topic("socket-options");
    create_topic(&topic, 1);
    let port: u16 = bootstrap().rsplit(':').next().unwrap().parse().unwrap();
    // Two producers with opposite settings and buffer sizes no other test uses (Linux reports
    // twice the size asked for, its bookkeeping included).
    let a = Producer::new(config(&[
        ("socket.send.buffer.bytes", "70001"),
        ("socket.receive.buffer.bytes", "50001"),
        ("socket.keepalive.enable", "true"),
        ("socket.nagle.disable", "false"),
    ]))
    .unwrap();
    let b = Producer::new(config(&[
        ("send.buffer.bytes", "90001"),
        ("receive.buffer.bytes", "60001"),
        ("socket.keepalive.enable", "false"),
        ("socket.nagle.disable", "true"),
    ]))
    .unwrap();
    for p in [&a, &b] {
        p.send(&ProducerRecord::new(&topic).value(b"v")).unwrap().wait().unwrap();
    }
    let conns = connections_to(port);
    let of = |snd: i32| conns.iter().filter(|c| c.0 == snd).collect::<Vec<_>>();
    let (ca, cb) = (of(140_002), of(180_002));
    assert!(!ca.is_empty() && !cb.is_empty(), "each producer has a connection to the broker with its buffer size: {conns:?}");
    for c in &ca {
        assert_eq!((c.1, c.2 != 0, c.3 != 0), (100_002, true, false), "socket.receive.buffer.bytes, keepalive on, Nagle on: {conns:?}");
    }
    for c in &cb {
        assert_eq!((c.1, c.2 != 0, c.3 != 0), (120_002, false, true), "receive.buffer.bytes, keepalive off, Nagle off: {conns:?}");
    }
    a.close(Duration::from_secs(10)).unwrap();
    b.close(Duration::from_secs(10)).unwrap();
    assert!(connections_to(port).iter().all(|c| c.0 != 140_002 && c.0 != 180_002), "closed with the producers");
}

#[test]
fn batch_num_messages_caps_the_records_in_a_batch() {
    let topic = unique_topic("batch-num");
    create_topic(&topic, 1);
    let p = Producer::new(config(&[("batch.num.messages", "7"), ("linger.ms", "2000"), ("batch.size", "1000000")])).unwrap();
    let futures: Vec<_> = (0..50).map(|i| p.send(&ProducerRecord::new(&topic).value(format!("{i}").as_bytes())).unwrap()).collect();
    p.flush(Duration::from_secs(30)).unwrap();
    let offsets: Vec<i64> = futures.into_iter().map(|f| f.wait().unwrap().offset).collect();
    assert_eq!(offsets, (0..50).collect::<Vec<i64>>());
    let c = p.counters(Duration::from_secs(10)).unwrap();
    assert_eq!(c.batches, 8, "50 records in batches of at most 7: {c:?}");
    assert_eq!(c.produce_records, 50);
}

#[test]
fn queue_buffering_max_kbytes_is_the_buffer_memory_in_kib() {
    let topic = unique_topic("max-kbytes");
    create_topic(&topic, 1);
    let p = Producer::builder(config(&[("queue.buffering.max.kbytes", "8"), ("linger.ms", "60000"), ("batch.size", "1000000")]))
        .delivery_handler(|d, _| assert!(d.error.is_none(), "{:?}", d.error))
        .build()
        .unwrap();
    assert_eq!(p.counters(Duration::from_secs(10)).unwrap().buffer_total_bytes, 8192);
    let value = vec![b'v'; 1000];
    // Held by linger.ms: eight 1000-byte records (plus their bookkeeping) fill 8 KiB.
    let mut queued = 0;
    let err = loop {
        match p.send_with_opaque(&ProducerRecord::new(&topic).value(&value), queued, false) {
            Ok(()) => queued += 1,
            Err(e) => break e,
        }
        assert!(queued < 100, "8 KiB never filled");
    };
    assert!((4..=8).contains(&queued), "{queued} records of 1000 bytes fit in 8 KiB");
    assert!(err.is_local(LocalCode::QueueFull) && err.to_string().contains("8192"), "{err}");
    p.flush(Duration::from_secs(30)).unwrap();
    assert_eq!(consume(&topic, queued).len(), queued);
}

#[test]
fn topic_metadata_refresh_interval_ms_minus_one_stops_periodic_refreshes() {
    let topic = unique_topic("refresh-interval");
    create_topic(&topic, 1);
    let age_after_3s = |interval: &str| {
        let stats = Arc::new(Mutex::new(Vec::new()));
        let s = stats.clone();
        let p = Producer::builder(config(&[("topic.metadata.refresh.interval.ms", interval), ("statistics.interval.ms", "100")]))
            .stats_handler(move |json| s.lock().unwrap().push(json.to_string()))
            .build()
            .unwrap();
        p.send(&ProducerRecord::new(&topic).value(b"v")).unwrap().wait().unwrap();
        std::thread::sleep(Duration::from_secs(3));
        p.close(Duration::from_secs(10)).unwrap();
        let last = stats.lock().unwrap().last().cloned().expect("statistics documents");
        let doc: serde_json::Value = serde_json::from_str(&last).unwrap();
        doc["topics"][&topic]["metadata_age"].as_u64().unwrap_or_else(|| panic!("metadata_age: {doc}"))
    };
    let periodic = age_after_3s("300");
    let never = age_after_3s("-1");
    assert!(periodic < 1500, "refreshed every 300 ms: {periodic} ms old");
    assert!(never >= 2500, "-1: not refreshed after the first fetch: {never} ms old");
}

/// The reports an owned handler kept, each checked against the record sent with its opaque
/// (`i` for record i: key `k{i}`, value `value {i}`, one header `h` = `{i}`), after the producer
/// that made them is gone.
fn check_kept_reports(kept: &[(usize, rafka_core::OwnedDelivery)], topic: &str, opaques: &[usize]) {
    let got: Vec<usize> = kept.iter().map(|(o, _)| *o).collect();
    assert_eq!(got, opaques, "one report per record, in send order");
    let base = kept[0].1.offset;
    for (o, d) in kept {
        let i = *o;
        assert_eq!(&*d.topic, topic);
        assert_eq!(d.record.key(), Some(format!("k{i}").as_bytes()), "record {i}");
        if i == 99 {
            assert_eq!(d.record.value().map(<[u8]>::len), Some(5000));
            let e = d.error.as_ref().expect("the oversized record failed");
            assert!(e.to_string().contains("MESSAGE_TOO_LARGE") || e.to_string().contains("too large"), "{e}");
            assert_eq!(d.offset, -1);
        } else {
            assert_eq!(d.record.value(), Some(format!("value {i}").as_bytes()), "record {i}");
            assert!(d.error.is_none(), "record {i}: {:?}", d.error);
            assert_eq!(d.offset, base + i as i64 - 1, "record {i}: consecutive offsets");
            assert_eq!(d.partition, 0);
        }
        assert_eq!(d.record.headers(), vec![("h", Some(i.to_string().as_bytes()))], "record {i}");
    }
}

/// Sends records 1..=20 with opaques 1..=20 and then the oversized record 99, flushes and drops
/// the producer.
fn send_kept(p: Producer, topic: &str) {
    for i in 1..=20usize {
        let (key, value, h) = (format!("k{i}"), format!("value {i}"), i.to_string());
        p.send_with_opaque(&ProducerRecord::new(topic).key(key.as_bytes()).value(value.as_bytes()).header("h", Some(h.as_bytes())), i, true).unwrap();
    }
    // Larger than the topic's max.message.bytes: refused by the broker.
    p.send_with_opaque(&ProducerRecord::new(topic).key(b"k99").value(&[7u8; 5000]).header("h", Some(b"99")), 99, true).unwrap();
    p.flush(Duration::from_secs(30)).unwrap();
    p.close(Duration::from_secs(10)).unwrap();
    drop(p);
}

#[test]
fn an_owned_delivery_handler_keeps_each_records_key_value_and_headers_after_the_producer_is_gone() {
    let topic = unique_topic("owned");
    kafka(&["topic", "create", &topic, "--partitions", "1", "--config", "max.message.bytes=2000"]);
    await_topic(&bootstrap(), &topic);
    let all: Vec<usize> = (1..=20).chain([99]).collect();
    // The report is the record's last use: the handler is given the record itself.
    let kept = Arc::new(Mutex::new(Vec::new()));
    let k2 = kept.clone();
    let p = Producer::builder(config(&[("linger.ms", "5"), ("retries", "0"), ("enable.idempotence", "false")]))
        .owned_delivery_handler(move |d, o| k2.lock().unwrap().push((o, d)))
        .build()
        .unwrap();
    send_kept(p, &topic);
    check_kept_reports(&kept.lock().unwrap(), &topic, &all);

    // An on_acknowledgement hook sees the report first: the handler gets a copy, just as whole.
    let kept = Arc::new(Mutex::new(Vec::new()));
    let acked = Arc::new(AtomicUsize::new(0));
    let (k2, a2) = (kept.clone(), acked.clone());
    let p = Producer::builder(config(&[("linger.ms", "5"), ("retries", "0"), ("enable.idempotence", "false")]))
        .owned_delivery_handler(move |d, o| k2.lock().unwrap().push((o, d)))
        .on_acknowledgement(move |d, _| {
            assert!(d.key().is_some());
            a2.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    send_kept(p, &topic);
    assert_eq!(acked.load(Ordering::SeqCst), 21);
    check_kept_reports(&kept.lock().unwrap(), &topic, &all);

    // delivery.report.only.error: only the failure is handed over; the successes are announced.
    let kept = Arc::new(Mutex::new(Vec::new()));
    let suppressed = Arc::new(Mutex::new(Vec::new()));
    let (k2, s2) = (kept.clone(), suppressed.clone());
    let p = Producer::builder(config(&[("linger.ms", "5"), ("retries", "0"), ("enable.idempotence", "false"), ("delivery.report.only.error", "true")]))
        .owned_delivery_handler(move |d, o| k2.lock().unwrap().push((o, d)))
        .on_report_suppressed(move |o| s2.lock().unwrap().push(o))
        .build()
        .unwrap();
    send_kept(p, &topic);
    check_kept_reports(&kept.lock().unwrap(), &topic, &[99]);
    assert_eq!(*suppressed.lock().unwrap(), (1..=20).collect::<Vec<usize>>());

    // Stored once per good record, as reported (Kafka's own consumer).
    let stored = consume(&topic, 60);
    assert_eq!(stored.len(), 60);
    for (n, c) in stored.iter().enumerate() {
        let i = n % 20 + 1;
        assert_eq!(c.key.as_deref(), Some(format!("k{i}").as_bytes()));
        assert_eq!(c.value.as_deref(), Some(format!("value {i}").as_bytes()));
    }
}
