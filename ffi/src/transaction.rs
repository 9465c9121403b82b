//! The transactional functions of `rafka_producer_t`, in librdkafka's shape: each returns NULL
//! on success or a `rafka_error_t` (`error_object.rs`) the caller destroys, which says whether to
//! retry the call (`rafka_error_is_retriable`), abort the transaction
//! (`rafka_error_txn_requires_abort`) or give the producer up (`rafka_error_is_fatal`). The
//! engine decides all of that (`rafka_core::Producer::init_transactions` and the rest,
//! docs/transactions.md); this module only translates arguments and errors.
//!
//! Threads: as every producer function (see `producer.rs`), callable from any thread; the
//! engine lets one transactional call run at a time and tells a second one it is busy.

use rafka_core::Error;

use crate::error_object::{guard_error, rafka_error_t};
use crate::group_metadata::rafka_consumer_group_metadata_t;
use crate::handle::rafka_producer_t;
use crate::producer::timeout;
use crate::ptr::try_ref;
use crate::topic_partition::rafka_topic_partition_list_t;

fn arg<T>(r: Result<T, crate::ptr::ArgError>) -> Result<T, *mut rafka_error_t> {
    r.map_err(rafka_error_t::from_arg)
}

fn engine(r: Result<(), Error>) -> Result<(), *mut rafka_error_t> {
    r.map_err(|e| rafka_error_t::from_engine(&e))
}

/// Registers the producer's `transactional.id` with its transaction coordinator: fences any
/// older producer with the same id and finishes what it left open. Call once, before the first
/// `rafka_begin_transaction()`; waits up to `timeout_ms` (-1: forever). A timeout is retriable:
/// call again to keep waiting for the same request. A producer without `transactional.id`
/// gets `_STATE`.
///
/// Returns NULL on success, else an error the caller frees with `rafka_error_destroy()`.
///
/// # Safety
/// `producer` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn rafka_init_transactions(producer: *mut rafka_producer_t, timeout_ms: i32) -> *mut rafka_error_t {
    guard_error(|| engine(arg(try_ref(producer, "producer"))?.producer.init_transactions(timeout(timeout_ms))))
}

/// Starts a transaction: every record produced until it is committed or aborted belongs to it.
/// Local (sends no request). Fails with `_STATE` before `rafka_init_transactions()` or while a
/// transaction is open.
///
/// Returns NULL on success, else an error the caller frees with `rafka_error_destroy()`.
///
/// # Safety
/// `producer` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn rafka_begin_transaction(producer: *mut rafka_producer_t) -> *mut rafka_error_t {
    guard_error(|| engine(arg(try_ref(producer, "producer"))?.producer.begin_transaction()))
}

/// Adds a consumer group's offsets to the open transaction: they are committed with it, and
/// only if it commits (exactly-once consume-transform-produce). `offsets` gives per topic and
/// partition the offset of the next record to consume; `cgmd` the group (see
/// `rafka_consumer_group_metadata_new_with_genid()`). Entries with a negative offset (a
/// position the consumer does not know yet) are skipped, as librdkafka does. Waits up to
/// `timeout_ms` (-1: forever).
/// The library keeps neither argument: the caller still owns and destroys them.
///
/// Returns NULL on success, else an error the caller frees with `rafka_error_destroy()`.
///
/// # Safety
/// `producer`, `offsets` and `cgmd` each NULL or live.
#[no_mangle]
pub unsafe extern "C" fn rafka_send_offsets_to_transaction(
    producer: *mut rafka_producer_t,
    offsets: *const rafka_topic_partition_list_t,
    cgmd: *const rafka_consumer_group_metadata_t,
    timeout_ms: i32,
) -> *mut rafka_error_t {
    guard_error(|| {
        let p = arg(try_ref(producer, "producer"))?;
        let o = arg(try_ref(offsets, "offsets"))?;
        let g = arg(try_ref(cgmd, "cgmd"))?;
        // librdkafka's contract: entries without a valid offset (a position not known yet) are
        // skipped; the engine itself refuses negative offsets, as the Java client does.
        let valid = o.offsets.iter().filter(|(_, v)| v.offset >= 0).map(|(k, v)| (k.clone(), v.clone())).collect();
        engine(p.producer.send_offsets_to_transaction(&valid, &g.metadata, timeout(timeout_ms)))
    })
}

/// Sends every record of the transaction, waits for them, then commits it; waits up to
/// `timeout_ms` (-1: forever) in all. If a record or request of the transaction failed, the
/// error says so and `rafka_error_txn_requires_abort()` is 1: call
/// `rafka_abort_transaction()`. A timeout is retriable: call again to keep waiting.
///
/// Returns NULL on success, else an error the caller frees with `rafka_error_destroy()`.
///
/// # Safety
/// `producer` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn rafka_commit_transaction(producer: *mut rafka_producer_t, timeout_ms: i32) -> *mut rafka_error_t {
    guard_error(|| engine(arg(try_ref(producer, "producer"))?.producer.commit_transaction(timeout(timeout_ms))))
}

/// Aborts the transaction: records not sent yet fail with `_PURGE_QUEUE` (in their delivery
/// reports), those in flight are awaited, and the broker discards what was written, so
/// read_committed consumers never see it. Waits up to `timeout_ms` (-1: forever). Also the way
/// out of an error with `rafka_error_txn_requires_abort()`; then a new transaction may begin.
///
/// Returns NULL on success, else an error the caller frees with `rafka_error_destroy()`.
///
/// # Safety
/// `producer` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn rafka_abort_transaction(producer: *mut rafka_producer_t, timeout_ms: i32) -> *mut rafka_error_t {
    guard_error(|| engine(arg(try_ref(producer, "producer"))?.producer.abort_transaction(timeout(timeout_ms))))
}
