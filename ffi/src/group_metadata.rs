//! `rafka_consumer_group_metadata_t`: the consumer group a transaction commits offsets for
//! (`rafka_send_offsets_to_transaction()`), as librdkafka's type of the same name. rafka has no
//! consumer: the application builds it from what its consumer reports (librdkafka's
//! `rd_kafka_consumer_group_metadata()` fields, or the Java consumer's `groupMetadata()`).

use std::ffi::c_char;

use rafka_core::ConsumerGroupMetadata;

use crate::last_error::set_last_error;
use crate::ptr::{guard, try_str, ArgError};

/// A consumer group's metadata. Created by `rafka_consumer_group_metadata_new()` or
/// `rafka_consumer_group_metadata_new_with_genid()`, owned by the caller, freed by
/// `rafka_consumer_group_metadata_destroy()`; the library never keeps it. Immutable: may be read
/// from any thread.
pub struct rafka_consumer_group_metadata_t {
    pub(crate) metadata: ConsumerGroupMetadata,
}

fn boxed(metadata: Result<ConsumerGroupMetadata, ArgError>) -> *mut rafka_consumer_group_metadata_t {
    match metadata {
        Ok(metadata) => Box::into_raw(Box::new(rafka_consumer_group_metadata_t { metadata })),
        Err(e) => {
            set_last_error(crate::error::RAFKA_RESP_ERR__INVALID_ARG, &e.to_string());
            std::ptr::null_mut()
        }
    }
}

/// Metadata with only the group id (NUL-terminated UTF-8, copied): works with every broker, but
/// the group coordinator cannot then refuse offsets from a consumer that lost its partitions in
/// a rebalance (KIP-447); prefer `rafka_consumer_group_metadata_new_with_genid()`. The caller
/// owns the result. NULL when `group_id` is NULL or not UTF-8 (`rafka_last_error_message()`
/// says which).
///
/// # Safety
/// `group_id` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn rafka_consumer_group_metadata_new(group_id: *const c_char) -> *mut rafka_consumer_group_metadata_t {
    guard(std::ptr::null_mut(), || boxed(try_str(group_id, "group_id").map(ConsumerGroupMetadata::new)))
}

/// Metadata as a group member sees it: `group_id`, the group's `generation_id` (-1 when
/// unknown), this consumer's `member_id` (NULL or "" when unknown) and its static
/// `group_instance_id` (NULL when it has none). The strings are NUL-terminated UTF-8 and copied.
/// The caller owns the result. NULL when `group_id` is NULL or a string is not UTF-8
/// (`rafka_last_error_message()` says which).
///
/// # Safety
/// Each string NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rafka_consumer_group_metadata_new_with_genid(
    group_id: *const c_char,
    generation_id: i32,
    member_id: *const c_char,
    group_instance_id: *const c_char,
) -> *mut rafka_consumer_group_metadata_t {
    guard(std::ptr::null_mut(), || {
        let optional = |s: *const c_char, name| if s.is_null() { Ok(None) } else { try_str(s, name).map(Some) };
        boxed((|| {
            Ok(ConsumerGroupMetadata {
                group_id: try_str(group_id, "group_id")?.to_string(),
                generation_id,
                member_id: optional(member_id, "member_id")?.unwrap_or_default().to_string(),
                group_instance_id: optional(group_instance_id, "group_instance_id")?.map(str::to_string),
            })
        })())
    })
}

/// Frees group metadata. NULL is a no-op.
///
/// # Safety
/// `cgmd` NULL or live, not used again afterwards.
#[no_mangle]
pub unsafe extern "C" fn rafka_consumer_group_metadata_destroy(cgmd: *mut rafka_consumer_group_metadata_t) {
    guard((), || {
        if !cgmd.is_null() {
            drop(Box::from_raw(cgmd));
        }
    })
}
