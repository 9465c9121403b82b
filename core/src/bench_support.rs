//! Not API: the crate-private parts of the hot path that `core/benches` (criterion) measures on
//! their own. Hidden from the docs; may change with the engine at any time.

use std::sync::Arc;

use crate::accumulator::{PartitionQueue, PendingRecord};
use crate::completion::Completion;

/// One partition's record queue, as `send()` pushes onto it and the I/O thread drains it.
pub struct AppendQueue(PartitionQueue);

impl Default for AppendQueue {
    fn default() -> Self {
        AppendQueue(PartitionQueue::new(0, Arc::from("bench"), 0))
    }
}

impl AppendQueue {
    /// What `send()` does once it has encoded the record body: push it. Any thread.
    pub fn push(&self, body: Box<[u8]>, batch_size: usize) -> bool {
        let record = PendingRecord::from_body(&body, 0, 0, Completion::Opaque(0));
        self.0.push(record, batch_size).activated
    }

    /// What the I/O thread does when it drains the partition: pop everything there is and let it
    /// go. Returns the number of records. One thread at a time.
    pub fn drain(&self) -> usize {
        let mut n = 0;
        let mut c = self.0.consumer();
        while c.pop().is_some() {
            n += 1;
        }
        drop(c);
        if n > 0 {
            self.0.try_deactivate();
        }
        n
    }
}

/// `send()`'s one clock read per record: monotonic nanoseconds (`clock::mono_ns`).
pub fn mono_ns() -> u64 {
    crate::clock::mono_ns()
}
