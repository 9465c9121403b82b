//! Compression threads (`compression.threads`, default in `config::DEFAULT_COMPRESSION_THREADS`):
//! the I/O thread seals a batch and hands it over; a compression thread compresses its records
//! section and hands it back, then wakes the I/O thread. So compressing a stream does not take
//! turns with serving sockets on the one I/O thread, and several batches (of one partition or
//! many) compress at once. docs/compression.md has the measurements behind this.
//!
//! Threads: the pool owns its workers; only the I/O thread submits and collects. A batch belongs
//! to exactly one thread at a time (moved through the channels). Batches may come back out of
//! order; the I/O thread restores each partition's order with `ProducerBatch::seal_no`.
//! Dropping the pool closes the job channel and joins the workers.

use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use super::batch::ProducerBatch;
use crate::compression::Compression;
use crate::shared::Inner;

pub(crate) struct CompressorPool {
    jobs: Option<Sender<ProducerBatch>>,
    done: Receiver<ProducerBatch>,
    workers: Vec<JoinHandle<()>>,
}

impl CompressorPool {
    /// Starts `threads` workers compressing with `compression`; each wakes the I/O thread through
    /// `inner` when a batch is done.
    pub fn start(threads: usize, compression: Compression, inner: Arc<Inner>) -> std::io::Result<CompressorPool> {
        let (jobs, job_rx) = crossbeam_channel::unbounded::<ProducerBatch>();
        let (done_tx, done) = crossbeam_channel::unbounded();
        let mut workers = Vec::with_capacity(threads);
        for i in 0..threads {
            let (rx, tx, inner) = (job_rx.clone(), done_tx.clone(), inner.clone());
            let w = std::thread::Builder::new().name(format!("rafka-compress-{i}")).spawn(move || {
                while let Ok(mut b) = rx.recv() {
                    b.compress(&compression);
                    if tx.send(b).is_err() {
                        break;
                    }
                    inner.wake_io();
                }
            })?;
            workers.push(w);
        }
        Ok(CompressorPool { jobs: Some(jobs), done, workers })
    }

    /// Hands a sealed batch to a worker. (I/O thread)
    pub fn submit(&self, b: ProducerBatch) {
        if let Some(j) = &self.jobs {
            // The workers outlive every submit: they stop only when the pool is dropped.
            let _ = j.send(b);
        }
    }

    /// A compressed batch, if one is ready. (I/O thread)
    pub fn try_collect(&self) -> Option<ProducerBatch> {
        self.done.try_recv().ok()
    }
}

impl Drop for CompressorPool {
    fn drop(&mut self) {
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}
