//! Partitioners. Keyed records: the Java client's murmur2 by default, so a key lands on the same
//! partition as from a Java service; librdkafka's CRC-32 `consistent` placement for users moving
//! from it. Keyless records: sticky (KIP-794), one partition until `batch.size` bytes went to it.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionerKind {
    /// Java's: murmur2 of the key; keyless records sticky (KIP-794).
    Default,
    /// librdkafka's `murmur2`: murmur2 of the key; a null key hashes like an empty one (one fixed partition).
    Murmur2,
    /// librdkafka's `murmur2_random`: murmur2 of the key; null keys random.
    Murmur2Random,
    /// librdkafka's `consistent`: CRC-32 of the key; empty and null keys go to one fixed partition.
    Consistent,
    /// librdkafka's `consistent_random`: CRC-32 of the key; empty and null keys random.
    ConsistentRandom,
    /// A random partition per record.
    Random,
}

/// A custom partitioner (Rust API). Its answer must be below `partition_count`.
pub trait Partitioner: Send + Sync {
    fn partition(&self, topic: &str, key: Option<&[u8]>, value: Option<&[u8]>, partition_count: u32) -> u32;
}

/// Kafka's murmur2 (Java `Utils.murmur2`): 32-bit MurmurHash2 with seed 0x9747b28c.
pub fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= (tail[2] as u32) << 16;
    }
    if tail.len() >= 2 {
        h ^= (tail[1] as u32) << 8;
    }
    if !tail.is_empty() {
        h ^= tail[0] as u32;
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

pub fn to_positive(x: i32) -> i32 {
    x & 0x7fff_ffff
}

/// The partition the Java client assigns a key: `toPositive(murmur2(key)) % partitions`.
pub fn java_key_partition(key: &[u8], partition_count: u32) -> u32 {
    to_positive(murmur2(key)) as u32 % partition_count
}

/// librdkafka's `consistent` placement: CRC-32 (IEEE) of the key, modulo the partition count.
pub fn consistent_partition(key: &[u8], partition_count: u32) -> u32 {
    crc32fast::hash(key) % partition_count
}

/// Sticky partitioning for keyless records, shared by every thread sending to one topic.
///
/// One atomic word holds the current partition (+1, so 0 means none yet) in its high half and the
/// bytes sent to it in its low half. A sender adds its record's size with a CAS; the sender that
/// finds `batch.size` reached picks the next partition and installs it with a CAS, so exactly one
/// switch happens per batch however many threads race.
pub struct StickyPartitioner {
    state: AtomicU64,
}

impl Default for StickyPartitioner {
    fn default() -> Self {
        Self::new()
    }
}

impl StickyPartitioner {
    pub fn new() -> Self {
        StickyPartitioner { state: AtomicU64::new(0) }
    }

    /// The partition for a keyless record of `record_size` bytes. `load`, when given, is each
    /// partition's queued bytes: the next partition is then chosen with weights favouring the
    /// partitions whose brokers drain fastest (shortest queues), as KIP-794's adaptive mode does.
    #[inline]
    pub fn partition(&self, record_size: usize, batch_size: usize, partition_count: u32, load: Option<&dyn Fn(u32) -> usize>) -> u32 {
        let size = record_size.min(u32::MAX as usize) as u64;
        let mut cur = self.state.load(Ordering::Acquire);
        loop {
            let (p1, bytes) = ((cur >> 32) as u32, cur & 0xffff_ffff);
            let valid = p1 != 0 && p1 - 1 < partition_count;
            let (next, ret) = if valid && (bytes as usize) < batch_size {
                (cur + size.min(u32::MAX as u64 - bytes), p1 - 1)
            } else {
                let np = next_partition(if valid { Some(p1 - 1) } else { None }, partition_count, load);
                (((np as u64 + 1) << 32) | size, np)
            };
            match self.state.compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return ret,
                Err(actual) => cur = actual,
            }
        }
    }
}

#[cold]
fn next_partition(current: Option<u32>, n: u32, load: Option<&dyn Fn(u32) -> usize>) -> u32 {
    if n <= 1 {
        return 0;
    }
    let pick = match load {
        Some(load) => {
            // Weight max_queue - queue + 1: an idle partition is likeliest, none is excluded.
            let queues: Vec<usize> = (0..n).map(load).collect();
            let max = *queues.iter().max().unwrap_or(&0);
            let weights: Vec<u64> = queues.iter().enumerate().map(|(i, q)| if Some(i as u32) == current { 0 } else { (max - q + 1) as u64 }).collect();
            let total: u64 = weights.iter().sum();
            let mut r = fastrand::u64(..total.max(1));
            let mut chosen = 0;
            for (i, w) in weights.iter().enumerate() {
                if r < *w {
                    chosen = i as u32;
                    break;
                }
                r -= w;
            }
            chosen
        }
        None => {
            let r = fastrand::u32(..n - 1);
            match current {
                Some(c) if r >= c => r + 1,
                _ => r,
            }
        }
    };
    pick
}

/// The partition for a record with no explicit partition. Inlined into `send()`'s path, which
/// saves passing its ten arguments per record (13 of the sending thread's ~968 instructions).
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn choose(
    kind: PartitionerKind,
    topic: &str,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    partition_count: u32,
    sticky: &StickyPartitioner,
    record_size: usize,
    batch_size: usize,
    custom: Option<&dyn Partitioner>,
    load: Option<&dyn Fn(u32) -> usize>,
) -> u32 {
    if let Some(c) = custom {
        return c.partition(topic, key, value, partition_count);
    }
    let n = partition_count;
    match (kind, key) {
        (PartitionerKind::Default, Some(k)) => java_key_partition(k, n),
        (PartitionerKind::Default, None) => sticky.partition(record_size, batch_size, n, load),
        (PartitionerKind::Murmur2, k) => java_key_partition(k.unwrap_or(&[]), n),
        (PartitionerKind::Murmur2Random, Some(k)) => java_key_partition(k, n),
        (PartitionerKind::Consistent, k) => consistent_partition(k.unwrap_or(&[]), n),
        (PartitionerKind::ConsistentRandom, Some(k)) if !k.is_empty() => consistent_partition(k, n),
        (PartitionerKind::Murmur2Random | PartitionerKind::ConsistentRandom | PartitionerKind::Random, _) => fastrand::u32(..n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn murmur2_matches_values_from_kafkas_java_utils() {
        // Printed by org.apache.kafka.common.utils.Utils.murmur2 from the kafka-clients 4.3.1 jar
        // (a small Java program run against `scripts/kafka classpath`).
        let bin: Vec<u8> = (0..=255u8).collect();
        let cases: &[(&[u8], i32)] = &[
            (b"", 275646681),
            (b"a", -1563381124),
            (b"ab", 316155434),
            (b"abc", 479470107),
            (b"abcd", -1323649548),
            (b"user-1", 1404122828),
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
            (b"a-little-bit-longer-string", -1486304829),
            (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
            ("ключ-😀".as_bytes(), -2042508255),
            (&bin, -1948347274),
        ];
        for (k, want) in cases {
            assert_eq!(murmur2(k), *want, "murmur2({:?})", String::from_utf8_lossy(k));
        }
    }

    #[test]
    fn sticky_stays_for_a_batch_then_moves_to_another_partition() {
        let s = StickyPartitioner::new();
        let first = s.partition(100, 1000, 6, None);
        for _ in 0..9 {
            assert_eq!(s.partition(100, 1000, 6, None), first);
        }
        let next = s.partition(100, 1000, 6, None);
        assert_ne!(next, first);
    }

    #[test]
    fn adaptive_sticky_avoids_the_partition_with_the_longest_queue() {
        let s = StickyPartitioner::new();
        let load = |p: u32| if p == 3 { 0 } else { 1_000_000 };
        let mut hits = 0;
        for _ in 0..50 {
            let p = s.partition(2000, 1000, 6, Some(&load));
            hits += usize::from(p == 3);
            s.partition(2000, 1000, 6, Some(&load)); // forces a switch away again
        }
        assert!(hits > 20, "the idle partition was chosen {hits} times of 50");
    }

    #[test]
    fn sticky_switches_once_per_batch_under_eight_threads() {
        let s = Arc::new(StickyPartitioner::new());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || (0..10_000).map(|_| s.partition(100, 10_000, 12, None)).collect::<Vec<_>>())
            })
            .collect();
        let mut per_partition = [0usize; 12];
        for t in threads {
            for p in t.join().unwrap() {
                per_partition[p as usize] += 1;
            }
        }
        // 80,000 records of 100 bytes = 800 batches of 100 records spread over 12 partitions.
        assert_eq!(per_partition.iter().sum::<usize>(), 80_000);
        assert!(per_partition.iter().all(|n| *n > 0), "{per_partition:?}");
        assert!(per_partition.iter().all(|n| n % 100 == 0), "every switch after exactly batch.size bytes: {per_partition:?}");
    }

    #[test]
    fn librdkafka_placements_follow_its_rules_for_null_and_empty_keys() {
        let sticky = StickyPartitioner::new();
        let c = |kind, key| choose(kind, "t", key, None, 10, &sticky, 10, 100, None, None);
        assert_eq!(c(PartitionerKind::Consistent, None), 0, "CRC-32 of nothing is 0");
        assert_eq!(c(PartitionerKind::Consistent, Some(b"")), 0);
        assert_eq!(c(PartitionerKind::Consistent, Some(b"key")), crc32fast::hash(b"key") % 10);
        assert_eq!(c(PartitionerKind::Murmur2, None), java_key_partition(b"", 10));
        assert_eq!(c(PartitionerKind::Murmur2Random, Some(b"k")), java_key_partition(b"k", 10));
    }
}
