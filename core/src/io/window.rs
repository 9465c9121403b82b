//! A statistics window (librdkafka's `rtt`, `int_latency`, `throttle`, `batchsize`, ...): the
//! values seen since the previous statistics document, summarised as min, max, average, sum,
//! count, standard deviation and percentiles.
//!
//! Percentiles come from a fixed log-linear histogram: values below 16 each have a bucket, and
//! every power of two above is cut into 16 equal buckets, so a percentile is the upper edge of
//! the bucket it falls in, at most 1/16 (6.25%) above the true value (and never above `max`).
//! Recording a value is a few integer operations and one counter increment: no allocation,
//! no sorting. Values of 2^36 and above (19 hours in microseconds, 64 GiB in bytes) are counted
//! in `min`/`max`/`sum` but only as `outofrange` for the percentiles. Owned by the I/O thread.

use super::stats::Json;

/// Sub-buckets per power of two (and the values that each have their own bucket).
const SUB_BITS: u32 = 4;
const SUB: u64 = 1 << SUB_BITS;
/// Values from 2^MAX_BITS up are out of the histogram's range.
const MAX_BITS: u32 = 36;
const BUCKETS: usize = (SUB + (MAX_BITS - SUB_BITS) as u64 * SUB) as usize;

pub(crate) struct Window {
    counts: Box<[u32; BUCKETS]>,
    cnt: u64,
    sum: u64,
    /// Sum of squares, for the standard deviation (f64: squares of large values overflow u64).
    sum_sq: f64,
    min: u64,
    max: u64,
    outofrange: u64,
}

impl Default for Window {
    fn default() -> Self {
        Window { counts: Box::new([0; BUCKETS]), cnt: 0, sum: 0, sum_sq: 0.0, min: 0, max: 0, outofrange: 0 }
    }
}

/// The bucket of `v` (below 2^MAX_BITS).
fn bucket(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // >= SUB_BITS
    let shift = exp - SUB_BITS;
    let sub = (v >> shift) - SUB; // the 4 bits after the leading one
    (SUB + (shift as u64) * SUB + sub) as usize
}

/// The largest value that falls in bucket `i`.
fn bucket_top(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let shift = (i - SUB) / SUB;
    let sub = (i - SUB) % SUB;
    ((SUB + sub + 1) << shift) - 1
}

impl Window {
    pub fn record(&mut self, v: u64) {
        if self.cnt == 0 || v < self.min {
            self.min = v;
        }
        self.max = self.max.max(v);
        self.cnt += 1;
        self.sum = self.sum.saturating_add(v);
        self.sum_sq += (v as f64) * (v as f64);
        if v >> MAX_BITS != 0 {
            self.outofrange += 1;
        } else {
            self.counts[bucket(v)] += 1;
        }
    }

    /// The smallest value with at least `q` (0..1) of the in-range values at or below it.
    fn percentile(&self, q: f64) -> u64 {
        let in_range = self.cnt - self.outofrange;
        if in_range == 0 {
            return 0;
        }
        let want = ((q * in_range as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            seen += *c as u64;
            if seen >= want {
                return bucket_top(i).clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// Writes the window as a librdkafka window object under `key`, and starts a new window.
    pub fn emit(&mut self, j: &mut Json, key: &str) {
        j.key(key);
        j.open('{');
        let avg = self.sum.checked_div(self.cnt).unwrap_or(0);
        let stddev = if self.cnt == 0 {
            0.0
        } else {
            let mean = self.sum as f64 / self.cnt as f64;
            (self.sum_sq / self.cnt as f64 - mean * mean).max(0.0).sqrt()
        };
        j.num_field("min", self.min);
        j.num_field("max", self.max);
        j.num_field("avg", avg);
        j.num_field("sum", self.sum);
        j.num_field("cnt", self.cnt);
        j.num_field("stddev", stddev.round() as u64);
        for (name, q) in [("p50", 0.5), ("p75", 0.75), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99), ("p99_99", 0.9999)] {
            j.num_field(name, self.percentile(q));
        }
        j.num_field("outofrange", self.outofrange);
        j.close('}');
        self.reset();
    }

    /// Adds the values `other` holds to this window (as if each had been recorded here).
    pub fn absorb_copy(&mut self, other: &Window) {
        if other.cnt == 0 {
            return;
        }
        if self.cnt == 0 || other.min < self.min {
            self.min = other.min;
        }
        self.max = self.max.max(other.max);
        self.cnt += other.cnt;
        self.sum = self.sum.saturating_add(other.sum);
        self.sum_sq += other.sum_sq;
        self.outofrange += other.outofrange;
        if other.cnt > other.outofrange {
            for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
                *a += *b;
            }
        }
    }

    /// Moves the values `other` holds into this window; `other` starts anew.
    pub fn absorb(&mut self, other: &mut Window) {
        self.absorb_copy(other);
        other.reset();
    }

    pub fn reset(&mut self) {
        if self.cnt > self.outofrange {
            self.counts.fill(0);
        }
        self.cnt = 0;
        self.sum = 0;
        self.sum_sq = 0.0;
        self.min = 0;
        self.max = 0;
        self.outofrange = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_falls_in_a_bucket_whose_top_is_at_most_a_sixteenth_above_it() {
        let mut v = 0u64;
        while v < 1 << MAX_BITS {
            let b = bucket(v);
            assert!(b < BUCKETS, "{v}");
            let top = bucket_top(b);
            assert!(top >= v && (top - v) as f64 <= v as f64 / 16.0, "{v} -> bucket {b} top {top}");
            if b > 0 {
                assert!(bucket_top(b - 1) < v, "{v}: the bucket below also holds it");
            }
            v = v * 9 / 8 + 1;
        }
    }

    fn emitted(w: &mut Window) -> serde_json::Value {
        let mut j = Json::default();
        j.open('{');
        w.emit(&mut j, "w");
        j.close('}');
        serde_json::from_str::<serde_json::Value>(&j.out).unwrap()["w"].clone()
    }

    #[test]
    fn a_window_summarises_its_values_and_starts_empty_after_emitting() {
        let mut w = Window::default();
        for v in 1..=1000u64 {
            w.record(v);
        }
        w.record(1 << 40);
        let o = emitted(&mut w);
        assert_eq!(o["cnt"], 1001);
        assert_eq!(o["min"], 1);
        assert_eq!(o["max"], 1u64 << 40);
        assert_eq!(o["sum"], 500_500 + (1u64 << 40));
        assert_eq!(o["outofrange"], 1);
        let p50 = o["p50"].as_u64().unwrap();
        assert!((500..=532).contains(&p50), "{o}");
        let p99 = o["p99"].as_u64().unwrap();
        assert!((990..=1000 + 1000 / 16).contains(&p99), "{o}");
        assert!(o["stddev"].as_u64().unwrap() > 0);

        let o = emitted(&mut w);
        assert_eq!(o["cnt"], 0);
        assert_eq!(o["max"], 0);
        assert_eq!(o["p99"], 0);
        w.record(7);
        let o = emitted(&mut w);
        assert_eq!((o["min"].as_u64(), o["max"].as_u64(), o["p50"].as_u64(), o["stddev"].as_u64()), (Some(7), Some(7), Some(7), Some(0)));
    }
}
