//! Which partition a record goes to, once its topic's partitions are known: the configured
//! partitioner (or the application's), sticky lingering, adaptive load and unavailable
//! partitions. Called by `send()` on the hot path, and by the I/O thread for records that were
//! queued before their topic's metadata arrived (`parking.rs`).

use std::sync::atomic::Ordering;

use crate::accumulator::{PartitionQueue, TopicState};
use crate::clock;
use crate::config::ProducerConfig;
use crate::error::{Error, LocalCode, Result};
use crate::partitioner::{self, Partitioner};

/// The partition for a record of `body_len` encoded bytes with this key and value.
#[inline]
pub(crate) fn choose_partition(
    cfg: &ProducerConfig,
    custom: Option<&dyn Partitioner>,
    topic: &TopicState,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    body_len: usize,
) -> Result<u32> {
    let n = topic.partition_count();
    let key = if cfg.partitioner_ignore_keys { None } else { key };
    // Called when sticky partitioning moves on (once per batch), not per record.
    let load = |p: u32| partition_load(cfg, &topic.partitions[p as usize]);
    if let Some(linger) = cfg.sticky_linger {
        let keyless = key.is_none() || (cfg.partitioner == partitioner::PartitionerKind::ConsistentRandom && key == Some(&[]));
        if keyless && !linger.is_zero() && custom.is_none() {
            let load = if cfg.partitioner_adaptive { Some(&load as &dyn Fn(u32) -> usize) } else { None };
            return Ok(topic.sticky.partition_timed(clock::mono_ns(), linger.as_nanos() as u64, n, load));
        }
    }
    let p = partitioner::choose(
        cfg.partitioner,
        &topic.name,
        key,
        value,
        n,
        &topic.sticky,
        body_len,
        cfg.batch_size,
        custom,
        if cfg.partitioner_adaptive { Some(&load) } else { None },
    );
    if p >= n {
        // A custom partitioner (a C callback's int32_t, say) may answer a negative number.
        let (who, p) = match custom {
            Some(_) => ("the application's partitioner", p as i32 as i64),
            None => ("the partitioner", p as i64),
        };
        return Err(Error::local(LocalCode::UnknownPartition, format!("{who} chose partition {p} of topic {}, which has {n} partitions", topic.name)));
    }
    Ok(p)
}

/// What the adaptive partitioner weighs a partition by: its queued bytes, or
/// [`partitioner::UNAVAILABLE`] while `partitioner.availability.timeout.ms` excludes it.
pub(crate) fn partition_load(cfg: &ProducerConfig, pq: &PartitionQueue) -> usize {
    if !cfg.partitioner_availability_timeout.is_zero() && pq.unavailable_until_ns.load(Ordering::Relaxed) > clock::mono_ns() {
        return partitioner::UNAVAILABLE;
    }
    pq.queued_bytes.load(Ordering::Relaxed)
}

/// How a record's partition was chosen, for the partitioner metrics (`partitioner_*_msgs` in the
/// statistics, docs/observability.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placed {
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

/// How [`choose_partition`] places a record with this key (which it decides the same way).
pub(crate) fn how_placed(cfg: &ProducerConfig, custom: bool, key: Option<&[u8]>) -> Placed {
    use partitioner::PartitionerKind as K;
    if custom {
        return Placed::Custom;
    }
    let key = if cfg.partitioner_ignore_keys { None } else { key };
    let keyless = key.is_none() || (cfg.partitioner == K::ConsistentRandom && key == Some(&[]));
    if keyless && cfg.sticky_linger.is_some_and(|l| !l.is_zero()) {
        return Placed::Uniform;
    }
    match (cfg.partitioner, key) {
        (K::Murmur2 | K::Consistent | K::Fnv1a, _) => Placed::Key,
        (K::Default | K::Murmur2Random | K::Fnv1aRandom, Some(_)) => Placed::Key,
        (K::ConsistentRandom, Some(k)) if !k.is_empty() => Placed::Key,
        _ => Placed::Uniform,
    }
}

/// Counts a record placed in `pq` (with partitioner metrics on: statistics, or a binding that
/// asked for them). Out of line: `send()` only tests the flag.
#[cold]
#[inline(never)]
pub(crate) fn count_placed(cfg: &ProducerConfig, custom: bool, pq: &PartitionQueue, explicit: bool, key: Option<&[u8]>) {
    let how = if explicit { Placed::Explicit } else { how_placed(cfg, custom, key) };
    pq.placed[how as usize].fetch_add(1, Ordering::Relaxed);
}
