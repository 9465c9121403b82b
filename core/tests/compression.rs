//! Compressed batches against the real broker, read back byte for byte by Kafka's own Java
//! consumer and by kcat (librdkafka); the broker's log files are read with Kafka's
//! DumpLogSegments to check which codec the batches were stored with.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rafka_core::{Code, Producer, ProducerRecord};

type Rec = (Option<Vec<u8>>, Option<Vec<u8>>);
/// Each record's index and its outcome (the offset, or the error), as the callbacks saw them.
type Reports = Arc<Mutex<Vec<(usize, Result<i64, rafka_core::Error>)>>>;

fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    fastrand::fill(&mut v);
    v
}

/// Text-like bytes that compress well: JSON-ish lines with repeated field names.
fn text_bytes(n: usize, seed: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n + 64);
    let mut i = seed;
    while v.len() < n {
        v.extend_from_slice(format!("{{\"user\":\"user-{}\",\"event\":\"click\",\"n\":{i}}}\n", i % 113).as_bytes());
        i += 1;
    }
    v.truncate(n);
    v
}

/// Many small records, three 1 MiB values (text, random, zeros), incompressible random values,
/// empty keys and values, and tombstones.
fn mixed_records() -> Vec<Rec> {
    let mut recs: Vec<Rec> = Vec::new();
    for i in 0..3000 {
        recs.push((Some(format!("key-{}", i % 50).into_bytes()), Some(text_bytes(20 + i % 80, i))));
    }
    recs.push((Some(b"big-text".to_vec()), Some(text_bytes(1 << 20, 7))));
    recs.push((None, Some(random_bytes(1 << 20))));
    recs.push((Some(random_bytes(16)), Some(vec![0u8; 1 << 20])));
    for _ in 0..300 {
        recs.push((Some(random_bytes(8)), Some(random_bytes(700))));
    }
    for i in 0..50 {
        recs.push((Some(Vec::new()), Some(Vec::new())));
        recs.push((Some(format!("tomb-{i}").into_bytes()), None));
        recs.push((None, Some(Vec::new())));
    }
    recs
}

/// Sends `recs` to partition 0 of `topic` and checks every report.
fn produce_all(p: &Producer, topic: &str, recs: &[Rec]) {
    let futures: Vec<_> = recs
        .iter()
        .map(|(k, v)| {
            let mut r = ProducerRecord::new(topic).partition(0);
            r.key = k.as_deref();
            r.value = v.as_deref();
            p.send(&r).unwrap()
        })
        .collect();
    for (i, f) in futures.into_iter().enumerate() {
        f.wait().unwrap_or_else(|e| panic!("record {i} failed: {e}"));
    }
}

/// Both consumers read exactly `recs`, in order, from partition 0.
fn assert_read_back_exactly(topic: &str, recs: &[Rec]) {
    let mut java = consume(topic, recs.len());
    java.sort_by_key(|c| c.offset);
    assert_eq!(java.len(), recs.len(), "the Java consumer read {} of {} records", java.len(), recs.len());
    let mut kcat = kcat_consume(topic, recs.len());
    kcat.sort_by_key(|c| c.offset);
    assert_eq!(kcat.len(), recs.len(), "kcat read {} of {} records", kcat.len(), recs.len());
    for (i, (k, v)) in recs.iter().enumerate() {
        let (j, c) = (&java[i], &kcat[i]);
        assert_eq!((j.partition, j.offset, c.partition, c.offset), (0, i as i64, 0, i as i64), "offsets of record {i}");
        assert!(j.key == *k && j.value == *v, "Java consumer: record {i} differs (key {:?}, value length {:?} vs {:?})", j.key.as_ref().map(|x| x.len()), j.value.as_ref().map(|x| x.len()), v.as_ref().map(|x| x.len()));
        assert!(c.key == *k && c.value == *v, "kcat: record {i} differs (key {:?}, value length {:?} vs {:?})", c.key.as_ref().map(|x| x.len()), c.value.as_ref().map(|x| x.len()), v.as_ref().map(|x| x.len()));
    }
}

/// A topic that takes 1 MiB of random data in one batch.
fn big_topic(prefix: &str, extra: &[&str]) -> String {
    let topic = unique_topic(prefix);
    let mut args = vec!["topic", "create", &topic, "--partitions", "1", "--config", "max.message.bytes=4194304"];
    for e in extra {
        args.extend(["--config", e]);
    }
    kafka(&args);
    topic
}

fn round_trip(codec: &str, level: Option<(&str, &str)>) {
    let topic = big_topic(&format!("codec-{codec}"), &[]);
    let mut cfg = vec![("compression.type", codec), ("max.request.size", "4194304")];
    cfg.extend(level);
    let p = Producer::new(config(&cfg)).unwrap();
    let recs = mixed_records();
    produce_all(&p, &topic, &recs);
    assert_read_back_exactly(&topic, &recs);
    let codecs = broker_batch_codecs(&topic, 0);
    assert!(codecs.len() >= 5, "several batches stored: {codecs:?}");
    assert!(codecs.iter().all(|c| c == codec), "the broker stored the batches as sent, with {codec}: {codecs:?}");
}

#[test]
fn gzip_batches_read_back_byte_for_byte_by_java_and_kcat() {
    round_trip("gzip", None);
}

#[test]
fn snappy_batches_read_back_byte_for_byte_by_java_and_kcat() {
    round_trip("snappy", None);
}

#[test]
fn lz4_batches_read_back_byte_for_byte_by_java_and_kcat() {
    round_trip("lz4", None);
}

#[test]
fn zstd_batches_read_back_byte_for_byte_by_java_and_kcat() {
    round_trip("zstd", None);
}

#[test]
fn non_default_levels_read_back_byte_for_byte() {
    // lz4 at a level other than 9 uses liblz4's high-compression path; zstd negative levels
    // its fast one; gzip 1 and 9 the ends of zlib's range.
    round_trip("lz4", Some(("compression.lz4.level", "12")));
    round_trip("zstd", Some(("compression.zstd.level", "-3")));
    round_trip("gzip", Some(("compression.gzip.level", "9")));
}

#[test]
fn compression_threads_off_compresses_on_the_io_thread_and_reads_back() {
    let topic = big_topic("codec-inline", &[]);
    let p = Producer::new(config(&[("compression.type", "zstd"), ("max.request.size", "4194304"), ("compression.threads", "0")])).unwrap();
    let recs = mixed_records();
    produce_all(&p, &topic, &recs);
    assert_read_back_exactly(&topic, &recs);
    assert!(broker_batch_codecs(&topic, 0).iter().all(|c| c == "zstd"));
}

#[test]
fn a_topic_with_another_compression_type_recompresses_and_reads_back_exactly() {
    for (producer_codec, topic_codec) in [("lz4", "gzip"), ("snappy", "zstd"), ("zstd", "uncompressed"), ("none", "lz4")] {
        let topic = big_topic(&format!("recompress-{producer_codec}"), &[&format!("compression.type={topic_codec}")]);
        let p = Producer::new(config(&[("compression.type", producer_codec), ("max.request.size", "4194304")])).unwrap();
        let recs = mixed_records();
        produce_all(&p, &topic, &recs);
        assert_read_back_exactly(&topic, &recs);
        let stored = if topic_codec == "uncompressed" { "none" } else { topic_codec };
        let codecs = broker_batch_codecs(&topic, 0);
        assert!(codecs.iter().all(|c| c == stored), "topic compression.type={topic_codec}, producer {producer_codec}: {codecs:?}");
    }
}

/// A topic whose batches may not exceed 64 KiB (`max.message.bytes`).
fn topic_of_64k_messages(prefix: &str, partitions: u32) -> String {
    let topic = unique_topic(prefix);
    kafka(&["topic", "create", &topic, "--partitions", &partitions.to_string(), "--config", "max.message.bytes=65536"]);
    topic
}

/// Records of 2 KiB that carry their index, random otherwise (so compression cannot make a
/// 1 MiB batch fit 64 KiB).
fn indexed_random(i: usize) -> Vec<u8> {
    let mut v = format!("{i:08}").into_bytes();
    v.extend(random_bytes(2040));
    v
}

#[test]
fn batches_larger_than_max_message_bytes_are_split_and_every_record_arrives_once_in_order() {
    for codec in ["none", "lz4"] {
        let topic = topic_of_64k_messages(&format!("split-{codec}"), 2);
        let p = Producer::new(config(&[("compression.type", codec), ("batch.size", "1048576"), ("linger.ms", "300")])).unwrap();
        let n = 1200;
        let values: Vec<Vec<u8>> = (0..n).map(indexed_random).collect();
        let futures: Vec<_> = values.iter().enumerate().map(|(i, v)| p.send(&ProducerRecord::new(&topic).partition(i as i32 % 2).value(v)).unwrap()).collect();
        let metas: Vec<_> = futures.into_iter().enumerate().map(|(i, f)| f.wait().unwrap_or_else(|e| panic!("{codec}: record {i} failed: {e}"))).collect();
        for part in 0..2 {
            let offsets: Vec<i64> = metas.iter().enumerate().filter(|(i, _)| *i as i32 % 2 == part).map(|(_, m)| m.offset).collect();
            assert!(offsets.windows(2).all(|w| w[1] == w[0] + 1), "{codec}: partition {part} offsets follow send order");
        }
        let got = consume(&topic, n);
        assert_eq!(got.len(), n, "{codec}: every record stored once");
        for part in 0..2 {
            let mut mine: Vec<_> = got.iter().filter(|c| c.partition == part).collect();
            mine.sort_by_key(|c| c.offset);
            let expected: Vec<&Vec<u8>> = values.iter().enumerate().filter(|(i, _)| *i as i32 % 2 == part).map(|(_, v)| v).collect();
            assert_eq!(mine.len(), expected.len(), "{codec}: partition {part} holds each of its records once");
            for (c, v) in mine.iter().zip(expected) {
                assert!(c.value.as_ref() == Some(v), "{codec}: partition {part} offset {} holds the wrong record", c.offset);
            }
        }
    }
}

#[test]
fn a_record_larger_than_max_message_bytes_fails_clearly_and_the_records_after_it_are_delivered() {
    for codec in ["none", "zstd"] {
        let topic = topic_of_64k_messages(&format!("too-large-{codec}"), 1);
        let p = Producer::new(config(&[("compression.type", codec), ("batch.size", "1048576"), ("linger.ms", "100")])).unwrap();
        let results: Reports = Arc::default();
        let big = random_bytes(100_000);
        let small: Vec<Vec<u8>> = (0..40).map(|i| format!("small-{i}").into_bytes()).collect();
        for i in 0..41 {
            let r = results.clone();
            let value = if i == 20 { &big } else { &small[if i < 20 { i } else { i - 1 }] };
            p.send_with_callback(&ProducerRecord::new(&topic).partition(0).value(value), move |d| {
                r.lock().unwrap().push((i, d.to_result().map(|m| m.offset)));
            })
            .unwrap();
        }
        p.flush(Duration::from_secs(60)).unwrap();
        let results = results.lock().unwrap();
        assert_eq!(results.len(), 41, "{codec}: one report per record");
        for (i, r) in results.iter() {
            if *i == 20 {
                let e = r.as_ref().expect_err("the 100 kB record cannot be stored");
                assert_eq!(e.code(), Code::Kafka(rafka_core::protocol::error_codes::KafkaCode::MESSAGE_TOO_LARGE), "{codec}: {e}");
                assert!(e.to_string().contains("too large") && e.to_string().contains("max.message.bytes"), "{codec}: {e}");
            } else {
                assert!(r.is_ok(), "{codec}: record {i} failed: {r:?}");
            }
        }
        let got = consume(&topic, 40);
        let values: Vec<Vec<u8>> = got.iter().map(|c| c.value.clone().unwrap()).collect();
        assert_eq!(values, small, "{codec}: the other records, each once, in order");
    }
}
