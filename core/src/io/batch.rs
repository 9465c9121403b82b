//! A producer batch: records drained from one partition queue, numbered and sent together.
//! Owned by the I/O thread from the drain until its report goes to the delivery thread.

use std::sync::Arc;

use crate::accumulator::{PartitionQueue, PendingRecord};
use crate::compression::Compression;
use crate::protocol::record_batch::{self, BatchHeader, RECORD_BATCH_OVERHEAD};

pub(crate) struct ProducerBatch {
    pub pq: Arc<PartitionQueue>,
    pub records: Vec<PendingRecord>,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    /// The encoded batch's size in bytes, header included (compressed, once `payload` is set).
    pub encoded_len: usize,
    /// The records section as it goes on the wire when the batch is compressed: set once, when
    /// the batch is sealed, and sent as is by every attempt (only the header changes).
    pub payload: Option<Vec<u8>>,
    /// The batch's `attributes`: the codec of `payload` (0 while uncompressed).
    pub attributes: i16,
    /// Bytes of the records section uncompressed: what `batch.size` bounds.
    pub records_len: usize,
    /// Per partition, the order batches were sealed in: a compressed batch is sent only after
    /// every batch sealed before it (compression threads may finish out of order).
    pub seal_no: u64,
    /// Idempotence: the producer id, epoch and first sequence this batch carries (-1 when off).
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    /// `clock::mono_ns()` of the oldest record: the start of `delivery.timeout.ms`.
    pub created_ns: u64,
    /// How many times it was sent.
    pub attempts: u32,
    /// Whether an earlier attempt may have been written (an unanswered request): a timeout
    /// report then says the records may have been stored.
    pub maybe_written: bool,
    /// Why the last attempt failed, for the report if `delivery.timeout.ms` runs out while it
    /// waits for a retry.
    pub last_error: Option<Arc<str>>,
    /// Part of a transaction: the batch's attributes carry the transactional bit.
    pub transactional: bool,
}

impl ProducerBatch {
    pub fn new(pq: Arc<PartitionQueue>, records: Vec<PendingRecord>) -> ProducerBatch {
        let base_timestamp = records[0].timestamp();
        let mut max_timestamp = base_timestamp;
        let mut len = record_batch::RECORD_BATCH_OVERHEAD;
        for (i, r) in records.iter().enumerate() {
            max_timestamp = max_timestamp.max(r.timestamp());
            len += record_batch::record_len(r.timestamp() - base_timestamp, i as i32, r.body().len());
        }
        let created_ns = records.iter().map(|r| r.enqueued_ns()).min().unwrap_or(0);
        Self::with_totals(pq, records, len, max_timestamp, created_ns)
    }

    /// [`ProducerBatch::new`] for a caller that has already walked the records: `len` is the
    /// encoded batch length (header included), the others as `new` computes them.
    pub fn with_totals(pq: Arc<PartitionQueue>, records: Vec<PendingRecord>, len: usize, max_timestamp: i64, created_ns: u64) -> ProducerBatch {
        let base_timestamp = records[0].timestamp();
        debug_assert_eq!(len, Self::new_len(&records), "with_totals: wrong length");
        ProducerBatch {
            pq,
            records,
            base_timestamp,
            max_timestamp,
            encoded_len: len,
            payload: None,
            attributes: 0,
            records_len: len - RECORD_BATCH_OVERHEAD,
            seal_no: 0,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            created_ns,
            attempts: 0,
            maybe_written: false,
            last_error: None,
            transactional: false,
        }
    }

    fn new_len(records: &[PendingRecord]) -> usize {
        let base = records[0].timestamp();
        let body: usize = records.iter().enumerate().map(|(i, r)| record_batch::record_len(r.timestamp() - base, i as i32, r.body().len())).sum();
        record_batch::RECORD_BATCH_OVERHEAD + body
    }

    pub fn record_count(&self) -> i32 {
        self.records.len() as i32
    }

    fn write_records(&self, buf: &mut Vec<u8>) {
        for (i, r) in self.records.iter().enumerate() {
            record_batch::write_record(buf, r.timestamp() - self.base_timestamp, i as i32, r.body());
        }
    }

    /// Compresses the records section once, when the batch is sealed; `encoded_len` becomes the
    /// compressed size. Runs on a compression thread or the I/O thread (whichever seals).
    /// If the codec fails (it has no reason to), the batch stays uncompressed, which every
    /// broker and consumer accept just as well.
    pub fn compress(&mut self, compression: &Compression) {
        if compression.is_none() || self.payload.is_some() {
            return;
        }
        let mut raw = Vec::with_capacity(self.records_len);
        self.write_records(&mut raw);
        let mut out = Vec::with_capacity(raw.len() / 2 + 64);
        match compression.compress(&raw, &mut out) {
            Ok(()) => {
                self.encoded_len = RECORD_BATCH_OVERHEAD + out.len();
                self.payload = Some(out);
                self.attributes = compression.codec.attribute();
            }
            Err(e) => log::error!("{} compression of a batch for {}-{} failed ({e}); sending it uncompressed", compression.codec, self.pq.topic, self.pq.partition),
        }
    }

    /// Splits a batch the broker found too large into batches of at most `max_records_len`
    /// uncompressed record bytes each (at least one record each), in record order. Like the Java
    /// client they keep the producer id and epoch and take the original's sequence numbers in
    /// order, so the range the broker expects next is still the range that comes next. They are
    /// uncompressed: compress each before sending.
    pub fn split(self, max_records_len: usize) -> Vec<ProducerBatch> {
        let mut out = Vec::new();
        let mut current: Vec<PendingRecord> = Vec::new();
        let mut size = 0usize;
        let mut base_ts = 0i64;
        for r in self.records {
            if current.is_empty() {
                base_ts = r.timestamp();
            }
            let len = record_batch::record_len(r.timestamp() - base_ts, current.len() as i32, r.body().len());
            if !current.is_empty() && size + len > max_records_len {
                out.push(ProducerBatch::new(self.pq.clone(), std::mem::take(&mut current)));
                size = 0;
                base_ts = r.timestamp();
            }
            size += record_batch::record_len(r.timestamp() - base_ts, current.len() as i32, r.body().len());
            current.push(r);
        }
        if !current.is_empty() {
            out.push(ProducerBatch::new(self.pq.clone(), current));
        }
        let mut seq = self.base_sequence;
        for b in out.iter_mut() {
            b.producer_id = self.producer_id;
            b.producer_epoch = self.producer_epoch;
            b.maybe_written = self.maybe_written;
            b.transactional = self.transactional;
            if seq >= 0 {
                b.base_sequence = seq;
                seq = seq.wrapping_add(b.record_count()) & i32::MAX;
            }
        }
        out
    }

    /// Appends the RecordBatch v2 to `buf`: exactly `encoded_len` bytes.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        let start = record_batch::begin_batch(buf);
        match &self.payload {
            Some(p) => buf.extend_from_slice(p),
            None => self.write_records(buf),
        }
        record_batch::finish_batch(
            buf,
            start,
            &BatchHeader {
                base_offset: 0,
                partition_leader_epoch: -1,
                attributes: self.attributes | if self.transactional { record_batch::ATTR_TRANSACTIONAL } else { 0 },
                last_offset_delta: self.records.len() as i32 - 1,
                base_timestamp: self.base_timestamp,
                max_timestamp: self.max_timestamp,
                producer_id: self.producer_id,
                producer_epoch: self.producer_epoch,
                base_sequence: self.base_sequence,
                record_count: self.records.len() as i32,
            },
        );
        debug_assert_eq!(buf.len() - start, self.encoded_len);
    }
}
