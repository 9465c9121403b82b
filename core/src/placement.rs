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
pub(crate) use crate::partitioner::Placed;

/// The partition for a record of `body_len` encoded bytes with this key and value, and how it
/// was chosen (for the partitioner metrics). `now_ns`: `clock::mono_ns()` as the caller read it
/// for the record (timed sticky partitioning compares it; `send()` reads the clock once).
#[inline]
pub(crate) fn choose_partition(
    cfg: &ProducerConfig,
    custom: Option<&dyn Partitioner>,
    topic: &TopicState,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    body_len: usize,
    now_ns: u64,
) -> Result<(u32, Placed)> {
    let n = topic.partition_count();
    let key = if cfg.partitioner_ignore_keys { None } else { key };
    // Called when sticky partitioning moves on (once per batch), not per record.
    let load = |p: u32| partition_load(cfg, &topic.partitions[p as usize]);
    if let Some(linger) = cfg.sticky_linger {
        let keyless = key.is_none() || (cfg.partitioner == partitioner::PartitionerKind::ConsistentRandom && key == Some(&[]));
        if keyless && !linger.is_zero() && custom.is_none() {
            let load = if cfg.partitioner_adaptive { Some(&load as &dyn Fn(u32) -> usize) } else { None };
            return Ok((topic.sticky.partition_timed(now_ns, linger.as_nanos() as u64, n, load), Placed::Uniform));
        }
    }
    let (p, how) = partitioner::choose(
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
    Ok((p, how))
}

/// What the adaptive partitioner weighs a partition by: its queued bytes, or
/// [`partitioner::UNAVAILABLE`] while `partitioner.availability.timeout.ms` excludes it.
pub(crate) fn partition_load(cfg: &ProducerConfig, pq: &PartitionQueue) -> usize {
    if !cfg.partitioner_availability_timeout.is_zero() && pq.unavailable_until_ns.load(Ordering::Relaxed) > clock::mono_ns() {
        return partitioner::UNAVAILABLE;
    }
    pq.queued_bytes.load(Ordering::Relaxed)
}

/// Counts a record placed in `pq` (with partitioner metrics on: statistics, or a binding that
/// asked for them): one relaxed increment.
#[inline]
pub(crate) fn count_placed(pq: &PartitionQueue, how: Placed) {
    pq.placed[how as usize].fetch_add(1, Ordering::Relaxed);
}
