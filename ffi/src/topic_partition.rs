//! `rafka_topic_partition_list_t`: offsets per topic and partition, the argument of
//! `rafka_send_offsets_to_transaction()`. librdkafka's `rd_kafka_topic_partition_list_t` cut
//! down to what that call reads, and opaque: entries are added through a function that checks
//! its arguments, never written through a pointer into the list.

use std::collections::HashMap;
use std::ffi::c_char;

use rafka_core::OffsetAndMetadata;

use crate::error::{rafka_resp_err_t, RAFKA_RESP_ERR__INTERNAL};
use crate::ptr::{guard, guard_result, try_mut, try_ref, try_str};

/// Offsets per (topic, partition). Created by `rafka_topic_partition_list_new()`, owned by the
/// caller, freed by `rafka_topic_partition_list_destroy()`; the library never keeps it. Not
/// thread-safe: one thread at a time.
pub struct rafka_topic_partition_list_t {
    pub(crate) offsets: HashMap<(String, i32), OffsetAndMetadata>,
}

/// A new, empty list with room for `size` entries (a hint; 0 or negative for none). The caller
/// owns it. NULL only if a panic was caught.
#[no_mangle]
pub extern "C" fn rafka_topic_partition_list_new(size: i32) -> *mut rafka_topic_partition_list_t {
    guard(std::ptr::null_mut(), || {
        let offsets = HashMap::with_capacity(usize::try_from(size).unwrap_or(0).min(1 << 16));
        Box::into_raw(Box::new(rafka_topic_partition_list_t { offsets }))
    })
}

/// Sets the offset of `topic` (NUL-terminated UTF-8, copied) / `partition` in the list: the
/// offset of the next record to consume, i.e. the last one processed plus one. Setting a
/// partition that is already in the list replaces its offset. Returns 0, or
/// RAFKA_RESP_ERR__INVALID_ARG for a NULL or non-UTF-8 argument (`rafka_last_error_message()`
/// says which); topics, partitions and offsets themselves are checked by
/// `rafka_send_offsets_to_transaction()`.
///
/// # Safety
/// `list` NULL or a live list; `topic` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rafka_topic_partition_list_add_offset(
    list: *mut rafka_topic_partition_list_t,
    topic: *const c_char,
    partition: i32,
    offset: i64,
) -> rafka_resp_err_t {
    guard_result(RAFKA_RESP_ERR__INTERNAL, || {
        let (l, t) = (try_mut(list, "list")?, try_str(topic, "topic")?);
        l.offsets.insert((t.to_string(), partition), OffsetAndMetadata::new(offset));
        Ok(0)
    })
}

/// The number of (topic, partition) entries in the list, or -1 when `list` is NULL.
///
/// # Safety
/// `list` NULL or a live list.
#[no_mangle]
pub unsafe extern "C" fn rafka_topic_partition_list_cnt(list: *const rafka_topic_partition_list_t) -> i32 {
    guard(-1, || try_ref(list, "list").map_or(-1, |l| l.offsets.len().min(i32::MAX as usize) as i32))
}

/// Frees a list. NULL is a no-op.
///
/// # Safety
/// `list` NULL or a live list, not used again afterwards.
#[no_mangle]
pub unsafe extern "C" fn rafka_topic_partition_list_destroy(list: *mut rafka_topic_partition_list_t) {
    guard((), || {
        if !list.is_null() {
            drop(Box::from_raw(list));
        }
    })
}
