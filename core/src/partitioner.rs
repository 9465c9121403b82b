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
    /// librdkafka's `fnv1a`: FNV-1a of the key (as Sarama's hash partitioner); a null key hashes
    /// like an empty one (one fixed partition).
    Fnv1a,
    /// librdkafka's `fnv1a_random`: FNV-1a of the key; null keys random.
    Fnv1aRandom,
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

/// librdkafka's FNV-1a hash (32-bit FNV-1a, then the absolute value of the result taken as a
/// signed integer, to match Sarama's hash partitioner).
pub fn fnv1a(data: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in data {
        h ^= *b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    (h as i32).wrapping_abs() as u32
}

/// librdkafka's `fnv1a` placement: [`fnv1a`] of the key, modulo the partition count.
pub fn fnv1a_partition(key: &[u8], partition_count: u32) -> u32 {
    fnv1a(key) % partition_count
}

/// What a `load` function gives for a partition to avoid (`partitioner.availability.timeout.ms`).
pub const UNAVAILABLE: usize = usize::MAX;

/// Sticky partitioning for keyless records, shared by every thread sending to one topic.
///
/// One atomic word holds the current partition (+1, so 0 means none yet) in its high half and the
/// bytes sent to it in its low half. A sender adds its record's size with a CAS; the sender that
/// finds `batch.size` reached picks the next partition and installs it with a CAS, so exactly one
/// switch happens per batch however many threads race.
pub struct StickyPartitioner {
    state: AtomicU64,
    /// `sticky.partitioning.linger.ms`: when the current partition was chosen (monotonic ns).
    chosen_ns: AtomicU64,
    /// Partitioner metrics, counted once per switch (per batch, never per record): switches
    /// installed, and partitions left out of a switch's choice as unavailable.
    switches: AtomicU64,
    unavailable_skips: AtomicU64,
}

impl Default for StickyPartitioner {
    fn default() -> Self {
        Self::new()
    }
}

impl StickyPartitioner {
    pub fn new() -> Self {
        StickyPartitioner { state: AtomicU64::new(0), chosen_ns: AtomicU64::new(0), switches: AtomicU64::new(0), unavailable_skips: AtomicU64::new(0) }
    }

    /// librdkafka's `sticky.partitioning.linger.ms`: the partition for a keyless record, changed
    /// once `linger_ns` passed since it was chosen (whatever was sent to it meanwhile).
    pub fn partition_timed(&self, now_ns: u64, linger_ns: u64, partition_count: u32, load: Option<&dyn Fn(u32) -> usize>) -> u32 {
        let cur = self.state.load(Ordering::Acquire);
        let p1 = (cur >> 32) as u32;
        let valid = p1 != 0 && p1 - 1 < partition_count;
        if valid && now_ns.saturating_sub(self.chosen_ns.load(Ordering::Relaxed)) < linger_ns {
            return p1 - 1;
        }
        let np = next_partition(valid.then(|| p1 - 1), partition_count, load, &self.unavailable_skips);
        match self.state.compare_exchange(cur, (np as u64 + 1) << 32, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                self.chosen_ns.store(now_ns, Ordering::Relaxed);
                self.switches.fetch_add(1, Ordering::Relaxed);
                np
            }
            // Another sender switched first: take its choice.
            Err(actual) => match (actual >> 32) as u32 {
                p if p != 0 && p - 1 < partition_count => p - 1,
                _ => np,
            },
        }
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
            let (next, ret, switched) = if valid && (bytes as usize) < batch_size {
                (cur + size.min(u32::MAX as u64 - bytes), p1 - 1, false)
            } else {
                let np = next_partition(if valid { Some(p1 - 1) } else { None }, partition_count, load, &self.unavailable_skips);
                (((np as u64 + 1) << 32) | size, np, true)
            };
            match self.state.compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    if switched {
                        self.switches.fetch_add(1, Ordering::Relaxed);
                    }
                    return ret;
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// Sticky switches installed so far (a keyless record's partition moving on).
    pub fn switches(&self) -> u64 {
        self.switches.load(Ordering::Relaxed)
    }

    /// Partitions left out of switches' choices because they were unavailable
    /// (`partitioner.availability.timeout.ms`), one per partition per switch.
    pub fn unavailable_skips(&self) -> u64 {
        self.unavailable_skips.load(Ordering::Relaxed)
    }

    /// The partition keyless records go to now, if one was chosen yet.
    pub fn current(&self) -> Option<u32> {
        match (self.state.load(Ordering::Acquire) >> 32) as u32 {
            0 => None,
            p => Some(p - 1),
        }
    }
}

/// The adaptive weights (`partitioner.adaptive.partitioning.enable`): for each partition of
/// `queues` (queued bytes, or UNAVAILABLE), the weight a switch away from `current` gives it:
/// max_queue - queue + 1, so an idle partition is likeliest; 0 for the current partition and for
/// an unavailable one.
pub fn adaptive_weights(queues: &[usize], current: Option<u32>) -> Vec<u64> {
    let max = queues.iter().copied().filter(|q| *q != UNAVAILABLE).max().unwrap_or(0);
    queues.iter().enumerate().map(|(i, q)| if Some(i as u32) == current || *q == UNAVAILABLE { 0 } else { (max - q + 1) as u64 }).collect()
}

#[cold]
fn next_partition(current: Option<u32>, n: u32, load: Option<&dyn Fn(u32) -> usize>, skips: &AtomicU64) -> u32 {
    if n <= 1 {
        return 0;
    }
    let pick = match load {
        Some(load) => {
            // A partition the load reports as UNAVAILABLE (partitioner.availability.timeout.ms)
            // is excluded, unless every other one is too.
            let queues: Vec<usize> = (0..n).map(load).collect();
            let mut weights = adaptive_weights(&queues, current);
            if weights.iter().all(|w| *w == 0) {
                match current {
                    // The current partition is the only available one: stay.
                    Some(c) if queues[c as usize] != UNAVAILABLE => {
                        skips.fetch_add(queues.iter().filter(|q| **q == UNAVAILABLE).count() as u64, Ordering::Relaxed);
                        return c;
                    }
                    _ => weights = (0..n).map(|i| u64::from(Some(i) != current)).collect(),
                }
            } else {
                let skipped = queues.iter().enumerate().filter(|(i, q)| **q == UNAVAILABLE && Some(*i as u32) != current).count();
                skips.fetch_add(skipped as u64, Ordering::Relaxed);
            }
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

/// How a record's partition was chosen, for the partitioner metrics (`partitioner_*_msgs` in the
/// statistics, docs/observability.md); an index into `PartitionQueue::placed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placed {
    /// The partitioner hashed the key (a null key too, under the partitioners that hash it as
    /// an empty one).
    Key = 0,
    /// Sticky (or random) placement of a keyless record.
    Uniform = 1,
    /// The application named the partition.
    Explicit = 2,
    /// The application's partitioner chose.
    Custom = 3,
}

/// The partition for a record with no explicit partition, and how it was chosen (one decision,
/// so the metrics cannot disagree with it). Inlined into `send()`'s path, which saves passing
/// its ten arguments per record (13 of the sending thread's ~968 instructions).
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
) -> (u32, Placed) {
    use Placed::{Key, Uniform};
    if let Some(c) = custom {
        return (c.partition(topic, key, value, partition_count), Placed::Custom);
    }
    let n = partition_count;
    match (kind, key) {
        (PartitionerKind::Default, Some(k)) => (java_key_partition(k, n), Key),
        (PartitionerKind::Default, None) => (sticky.partition(record_size, batch_size, n, load), Uniform),
        (PartitionerKind::Murmur2, k) => (java_key_partition(k.unwrap_or(&[]), n), Key),
        (PartitionerKind::Murmur2Random, Some(k)) => (java_key_partition(k, n), Key),
        (PartitionerKind::Consistent, k) => (consistent_partition(k.unwrap_or(&[]), n), Key),
        (PartitionerKind::ConsistentRandom, Some(k)) if !k.is_empty() => (consistent_partition(k, n), Key),
        (PartitionerKind::Fnv1a, k) => (fnv1a_partition(k.unwrap_or(&[]), n), Key),
        (PartitionerKind::Fnv1aRandom, Some(k)) => (fnv1a_partition(k, n), Key),
        (PartitionerKind::Murmur2Random | PartitionerKind::ConsistentRandom | PartitionerKind::Fnv1aRandom | PartitionerKind::Random, _) => {
            (fastrand::u32(..n), Uniform)
        }
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
    fn fnv1a_matches_librdkafkas_published_values() {
        // The expected hashes of librdkafka's rdfnv1a.c unit test (computed there with Go's
        // hash/fnv, as Sarama uses it).
        let cases: &[(&[u8], u32)] = &[
            (b"kafka", 0x0d33_c4e1),
            (b"giberish123456789", 0x77a5_8295),
            (b"1234", 0x023b_dd03),
            (b"234", 0x2dea_3cd2),
            (b"34", 0x740f_a83e),
            (b"4", 0x310c_a263),
            (b"PreAmbleWillBeRemoved,ThePrePartThatIs", 0x65cb_d69c),
            (b"reAmbleWillBeRemoved,ThePrePartThatIs", 0x6e49_c79a),
            (b"eAmbleWillBeRemoved,ThePrePartThatIs", 0x69ee_d356),
            (b"AmbleWillBeRemoved,ThePrePartThatIs", 0x6abc_c023),
            (b"", 0x7ee3_623b),
        ];
        for (k, want) in cases {
            assert_eq!(fnv1a(k), *want, "fnv1a({:?})", String::from_utf8_lossy(k));
        }
        let s = StickyPartitioner::new();
        // A null key hashes as an empty one under fnv1a: one fixed partition.
        assert_eq!(choose(PartitionerKind::Fnv1a, "t", None, None, 7, &s, 10, 100, None, None).0, 0x7ee3_623b % 7);
        assert_eq!(choose(PartitionerKind::Fnv1a, "t", Some(b"kafka"), None, 7, &s, 10, 100, None, None).0, 0x0d33_c4e1 % 7);
        assert_eq!(choose(PartitionerKind::Fnv1aRandom, "t", Some(b"kafka"), None, 7, &s, 10, 100, None, None).0, 0x0d33_c4e1 % 7);
        // fnv1a_random: null keys spread over the partitions.
        let seen: std::collections::HashSet<u32> = (0..200).map(|_| choose(PartitionerKind::Fnv1aRandom, "t", None, None, 7, &s, 10, 100, None, None).0).collect();
        assert!(seen.len() > 1, "{seen:?}");
    }

    #[test]
    fn sticky_linger_keeps_a_partition_for_that_long_then_moves() {
        let s = StickyPartitioner::new();
        let ms = 1_000_000u64;
        let t0 = 1_000 * ms;
        let first = s.partition_timed(t0, 10 * ms, 6, None);
        for dt in [0, 1, 5, 9] {
            assert_eq!(s.partition_timed(t0 + dt * ms, 10 * ms, 6, None), first, "within sticky.partitioning.linger.ms");
        }
        let second = s.partition_timed(t0 + 10 * ms, 10 * ms, 6, None);
        assert_ne!(second, first, "moves on after sticky.partitioning.linger.ms");
        assert_eq!(s.partition_timed(t0 + 15 * ms, 10 * ms, 6, None), second);
    }

    #[test]
    fn unavailable_partitions_are_not_chosen_while_others_are() {
        let s = StickyPartitioner::new();
        let load = |p: u32| if p == 2 { 0 } else { UNAVAILABLE };
        for _ in 0..50 {
            // Each call moves on (batch size 1), so every choice goes through next_partition.
            assert_eq!(s.partition(10, 1, 4, Some(&load)), 2);
        }
        // All unavailable: any partition rather than none.
        let none = |_: u32| UNAVAILABLE;
        assert!(s.partition(10, 1, 4, Some(&none)) < 4);
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
        let c = |kind, key| choose(kind, "t", key, None, 10, &sticky, 10, 100, None, None).0;
        assert_eq!(c(PartitionerKind::Consistent, None), 0, "CRC-32 of nothing is 0");
        assert_eq!(c(PartitionerKind::Consistent, Some(b"")), 0);
        assert_eq!(c(PartitionerKind::Consistent, Some(b"key")), crc32fast::hash(b"key") % 10);
        assert_eq!(c(PartitionerKind::Murmur2, None), java_key_partition(b"", 10));
        assert_eq!(c(PartitionerKind::Murmur2Random, Some(b"k")), java_key_partition(b"k", 10));
    }

    #[test]
    fn choose_says_a_key_was_hashed_only_when_the_partitioner_hashed_it() {
        struct Third;
        impl Partitioner for Third {
            fn partition(&self, _: &str, _: Option<&[u8]>, _: Option<&[u8]>, _: u32) -> u32 {
                3
            }
        }
        let sticky = StickyPartitioner::new();
        let how = |kind, key, custom: Option<&dyn Partitioner>| choose(kind, "t", key, None, 10, &sticky, 10, 100, custom, None).1;
        use PartitionerKind as K;
        assert_eq!(how(K::Default, Some(b"k".as_slice()), None), Placed::Key);
        assert_eq!(how(K::Default, None, None), Placed::Uniform);
        assert_eq!(how(K::Murmur2, None, None), Placed::Key, "murmur2 hashes a null key as an empty one");
        assert_eq!(how(K::Consistent, None, None), Placed::Key);
        assert_eq!(how(K::ConsistentRandom, Some(b"".as_slice()), None), Placed::Uniform, "an empty key is random here");
        assert_eq!(how(K::ConsistentRandom, Some(b"k".as_slice()), None), Placed::Key);
        assert_eq!(how(K::Fnv1aRandom, None, None), Placed::Uniform);
        assert_eq!(how(K::Random, Some(b"k".as_slice()), None), Placed::Uniform);
        assert_eq!(choose(K::Default, "t", Some(b"k"), None, 10, &sticky, 10, 100, Some(&Third), None), (3, Placed::Custom));
    }
}
