//! Microbenchmarks of the hot path, each beside what it replaces or competes with:
//! - `append/*`: `send()`'s encode-and-push from 1, 2 and 4 threads onto one partition (the
//!   sticky partitioner sends every thread to the same one), rafka's lock-free queue against a
//!   mutex-guarded deque (the Java producer appends under a per-partition lock), with one thread
//!   draining concurrently as the I/O thread does;
//! - `batch_encode`: a 16 KiB batch of 100 B records, header and CRC-32C included;
//! - `murmur2`: the keyed partitioner's hash;
//! - `decode`: a Produce response (6 partitions) and a Metadata response (1,000 partitions).
//!
//! `cargo bench -p rafka-core --bench hot_path` (bench/micro runs it and writes the figures to
//! bench/results/microbench.md). Instruction counts that do not move with machine noise come
//! from bench/callgrind.

use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rafka_core::bench_support::AppendQueue;
use rafka_core::partitioner::murmur2;
use rafka_core::protocol::messages::metadata::{MetadataBroker, MetadataPartition, MetadataResponse, MetadataTopic};
use rafka_core::protocol::messages::produce::{ProducePartitionResponse, ProduceResponse, ProduceTopicResponse};
use rafka_core::protocol::record_batch::{
    begin_batch, encode_record_body, finish_batch, record_body_len, write_record, BatchHeader,
};
use rafka_core::protocol::Decoder;

const VALUE: [u8; 100] = [b'A'; 100];
const BATCH_SIZE: usize = 16384;

fn encode(value: &[u8]) -> Box<[u8]> {
    let mut body = vec![0; record_body_len(None, Some(value), &[])];
    encode_record_body(&mut body, None, Some(value), &[]);
    body.into_boxed_slice()
}

/// The baseline: one mutex per partition around a deque.
#[derive(Default)]
struct MutexQueue(Mutex<VecDeque<Box<[u8]>>>);

trait Queue: Sync {
    fn push(&self, body: Box<[u8]>);
    fn drain(&self) -> usize;
}

impl Queue for AppendQueue {
    fn push(&self, body: Box<[u8]>) {
        AppendQueue::push(self, body, BATCH_SIZE);
    }
    fn drain(&self) -> usize {
        AppendQueue::drain(self)
    }
}

impl Queue for MutexQueue {
    fn push(&self, body: Box<[u8]>) {
        self.0.lock().unwrap().push_back(body);
    }
    fn drain(&self) -> usize {
        let drained = std::mem::take(&mut *self.0.lock().unwrap());
        drained.len()
    }
}

/// `iters` records from `threads` senders while one drainer empties the queue; returns the time
/// until the last sender is done.
fn append_from(q: &dyn Queue, threads: u64, iters: u64) -> Duration {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                if q.drain() == 0 {
                    std::hint::spin_loop();
                }
            }
            q.drain();
        });
        let start = Instant::now();
        let senders: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..iters / threads {
                        q.push(encode(black_box(&VALUE)));
                    }
                })
            })
            .collect();
        senders.into_iter().for_each(|h| h.join().unwrap());
        let elapsed = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        elapsed
    })
}

fn append(c: &mut Criterion) {
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(1));
    for threads in [1u64, 2, 4] {
        g.bench_with_input(BenchmarkId::new("lock-free", threads), &threads, |b, &t| {
            b.iter_custom(|iters| append_from(&AppendQueue::default(), t, iters.max(t)))
        });
        g.bench_with_input(BenchmarkId::new("mutex", threads), &threads, |b, &t| {
            b.iter_custom(|iters| append_from(&MutexQueue::default(), t, iters.max(t)))
        });
    }
    g.finish();
}

fn batch_encode(c: &mut Criterion) {
    let body = encode(&VALUE);
    let per_batch = BATCH_SIZE / (body.len() + 8);
    let mut buf = Vec::with_capacity(BATCH_SIZE + 1024);
    let mut g = c.benchmark_group("batch_encode");
    g.throughput(Throughput::Elements(per_batch as u64));
    g.bench_function(format!("{per_batch}x100B+crc32c"), |b| {
        b.iter(|| {
            buf.clear();
            let start = begin_batch(&mut buf);
            for i in 0..per_batch {
                write_record(&mut buf, i as i64, i as i32, &body);
            }
            let h = BatchHeader {
                base_offset: 0,
                partition_leader_epoch: -1,
                attributes: 0,
                last_offset_delta: per_batch as i32 - 1,
                base_timestamp: 1_700_000_000_000,
                max_timestamp: 1_700_000_000_000 + per_batch as i64,
                producer_id: 7,
                producer_epoch: 0,
                base_sequence: 0,
                record_count: per_batch as i32,
            };
            finish_batch(&mut buf, start, &h);
            black_box(buf.len())
        })
    });
    g.finish();
}

fn murmur(c: &mut Criterion) {
    let mut g = c.benchmark_group("murmur2");
    for key in [&b"key-1234"[..], &[b'k'; 100][..]] {
        g.throughput(Throughput::Bytes(key.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(format!("{}B", key.len())), key, |b, k| {
            b.iter(|| murmur2(black_box(k)))
        });
    }
    g.finish();
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    let produce = ProduceResponse {
        topics: vec![ProduceTopicResponse {
            name: "bench-topic".into(),
            partitions: (0..6)
                .map(|i| ProducePartitionResponse {
                    index: i,
                    error_code: 0,
                    base_offset: 1_000_000 * i as i64,
                    log_append_time_ms: -1,
                    log_start_offset: 0,
                    record_errors: vec![],
                    error_message: None,
                    current_leader: None,
                })
                .collect(),
        }],
        throttle_time_ms: 0,
        node_endpoints: vec![],
    };
    let mut buf = Vec::new();
    produce.encode(&mut buf, 9);
    g.bench_function("produce_v9_6_partitions", |b| {
        b.iter(|| ProduceResponse::decode(&mut Decoder::new(black_box(&buf)), 9).unwrap())
    });
    let metadata = MetadataResponse {
        throttle_time_ms: 0,
        brokers: vec![MetadataBroker { node_id: 1, host: "127.0.0.1".into(), port: 9092, rack: None }],
        cluster_id: Some("c".into()),
        controller_id: 1,
        topics: vec![MetadataTopic {
            error_code: 0,
            name: Some("bench-topic".into()),
            topic_id: [1; 16],
            is_internal: false,
            partitions: (0..1000)
                .map(|p| MetadataPartition {
                    error_code: 0,
                    partition_index: p,
                    leader_id: 1,
                    leader_epoch: 0,
                    replica_nodes: vec![1],
                    isr_nodes: vec![1],
                    offline_replicas: vec![],
                })
                .collect(),
        }],
    };
    let mut buf = Vec::new();
    metadata.encode(&mut buf, 12);
    g.bench_function("metadata_v12_1000_partitions", |b| {
        b.iter(|| MetadataResponse::decode(&mut Decoder::new(black_box(&buf)), 12).unwrap())
    });
    g.finish();
}

/// The clock `send()` reads once per record, beside `quanta::Instant::now()` (what it read before:
/// a thread-local override lookup and the whole counter scaled on every call) and std's `Instant`.
fn clock(c: &mut Criterion) {
    let mut g = c.benchmark_group("clock");
    g.bench_function("mono_ns", |b| b.iter(rafka_core::bench_support::mono_ns));
    g.bench_function("quanta_instant_now", |b| b.iter(quanta::Instant::now));
    g.bench_function("std_instant_now", |b| b.iter(std::time::Instant::now));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = append, batch_encode, murmur, decode, clock
}
criterion_main!(benches);
