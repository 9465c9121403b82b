//! The application's partitioner (`rafka_partitioner_cb_t`, librdkafka's `partitioner_cb` shape)
//! and librdkafka's built-in partitioners as functions of that shape
//! (`rafka_msg_partitioner_murmur2()`, ...), which a callback may call or which may be set as the
//! callback themselves.

use std::cell::RefCell;
use std::ffi::{c_char, c_void, CString};

use rafka_core::partitioner::{self, Partitioner, PartitionerKind, StickyPartitioner};

use crate::ptr::as_bytes;

/// A partitioner: returns the partition, in `0..partition_cnt`, for a record of `topic`
/// (NUL-terminated) with this key (`key` NULL and `keylen` 0 when the record has none).
/// `opaque` is the configuration's global opaque (`rafka_conf_set_opaque()`). A value out of
/// range fails the record with RAFKA_RESP_ERR__UNKNOWN_PARTITION ("the application's partitioner
/// chose partition ..."): from `rafka_produce()` when the topic's partitions are known, else in
/// its delivery report.
///
/// Called only for records produced with RAFKA_PARTITION_UA, on the thread that calls
/// `rafka_produce()`, or on the producer's I/O thread for records produced before their topic's
/// partitions were known; so from several threads at once. It must be thread-safe, quick (it
/// delays every record of the producer behind it) and must not call back into the producer.
/// The pointers are valid only during the call.
pub type rafka_partitioner_cb_t = Option<
    unsafe extern "C" fn(
        topic: *const c_char,
        key: *const c_void,
        keylen: usize,
        partition_cnt: i32,
        opaque: *mut c_void,
    ) -> i32,
>;

/// The engine's `Partitioner` for a C callback.
pub(crate) struct CPartitioner {
    pub(crate) cb: unsafe extern "C" fn(*const c_char, *const c_void, usize, i32, *mut c_void) -> i32,
    pub(crate) opaque: usize,
}

thread_local! {
    /// The last topic name this thread handed a partitioner, NUL-terminated: records mostly go to
    /// the same topic in a row, so the name is copied once rather than per record.
    static TOPIC_C: RefCell<CString> = RefCell::new(CString::default());
}

impl Partitioner for CPartitioner {
    fn partition(&self, topic: &str, key: Option<&[u8]>, _value: Option<&[u8]>, partition_count: u32) -> u32 {
        TOPIC_C.with(|t| {
            let mut t = t.borrow_mut();
            if t.as_bytes() != topic.as_bytes() {
                // A topic name has no NUL (the engine refuses one).
                *t = CString::new(topic.replace('\0', "")).unwrap_or_default();
            }
            let (k, klen) = key.map_or((std::ptr::null(), 0), |k| (k.as_ptr().cast(), k.len()));
            let n = partition_count.min(i32::MAX as u32) as i32;
            // SAFETY: the application gave `cb` for this signature; the pointers live during the call.
            let p = unsafe { (self.cb)(t.as_ptr(), k, klen, n, self.opaque as *mut c_void) };
            // A negative answer becomes a number >= partition_count: the engine refuses it.
            p as u32
        })
    }
}

/// One of librdkafka's built-in partitioners on a C key. The functions below have the shape of
/// `rafka_partitioner_cb_t` (`topic` and `opaque` are not used), so they can be set with
/// `rafka_conf_set_partitioner_cb()` or called from one; they return -1 when `partition_cnt` is
/// not positive.
///
/// # Safety
/// `key` NULL or valid for `keylen` bytes.
unsafe fn builtin(kind: PartitionerKind, _topic: *const c_char, key: *const c_void, keylen: usize, partition_cnt: i32, _opaque: *mut c_void) -> i32 {
    crate::ptr::guard(-1, || builtin_on(kind, key, keylen, partition_cnt))
}

unsafe fn builtin_on(kind: PartitionerKind, key: *const c_void, keylen: usize, partition_cnt: i32) -> i32 {
    if partition_cnt <= 0 {
        return -1;
    }
    // librdkafka passes a NULL key as (NULL, 0); as_bytes gives None for it.
    let key = as_bytes(key, keylen);
    // Only the Default kind uses the sticky state, which these functions never ask for.
    let unused = StickyPartitioner::new();
    partitioner::choose(kind, "", key, None, partition_cnt as u32, &unused, 0, 0, None, None).0 as i32
}

// Written out rather than by a macro: cbindgen does not expand macros.

/// librdkafka's `murmur2` partitioner (the Java client's placement of a key): a NULL key
/// hashes like an empty one.
/// In the shape of `rafka_partitioner_cb_t` (`topic` and `opaque` unused), so it can be set as the
/// partitioner or called from one; -1 when `partition_cnt` is not positive.
///
/// # Safety
/// `key` NULL or valid for `keylen` bytes.
#[no_mangle]
pub unsafe extern "C" fn rafka_msg_partitioner_murmur2(topic: *const c_char, key: *const c_void, keylen: usize, partition_cnt: i32, opaque: *mut c_void) -> i32 {
    builtin(PartitionerKind::Murmur2, topic, key, keylen, partition_cnt, opaque)
}

/// librdkafka's `murmur2_random`: murmur2 of the key; a NULL key gets a random partition.
/// In the shape of `rafka_partitioner_cb_t` (`topic` and `opaque` unused), so it can be set as the
/// partitioner or called from one; -1 when `partition_cnt` is not positive.
///
/// # Safety
/// `key` NULL or valid for `keylen` bytes.
#[no_mangle]
pub unsafe extern "C" fn rafka_msg_partitioner_murmur2_random(topic: *const c_char, key: *const c_void, keylen: usize, partition_cnt: i32, opaque: *mut c_void) -> i32 {
    builtin(PartitionerKind::Murmur2Random, topic, key, keylen, partition_cnt, opaque)
}

/// librdkafka's `consistent`: CRC-32 of the key; NULL and empty keys go to one partition.
/// In the shape of `rafka_partitioner_cb_t` (`topic` and `opaque` unused), so it can be set as the
/// partitioner or called from one; -1 when `partition_cnt` is not positive.
///
/// # Safety
/// `key` NULL or valid for `keylen` bytes.
#[no_mangle]
pub unsafe extern "C" fn rafka_msg_partitioner_consistent(topic: *const c_char, key: *const c_void, keylen: usize, partition_cnt: i32, opaque: *mut c_void) -> i32 {
    builtin(PartitionerKind::Consistent, topic, key, keylen, partition_cnt, opaque)
}

/// librdkafka's `consistent_random`: CRC-32 of the key; NULL and empty keys random.
/// In the shape of `rafka_partitioner_cb_t` (`topic` and `opaque` unused), so it can be set as the
/// partitioner or called from one; -1 when `partition_cnt` is not positive.
///
/// # Safety
/// `key` NULL or valid for `keylen` bytes.
#[no_mangle]
pub unsafe extern "C" fn rafka_msg_partitioner_consistent_random(topic: *const c_char, key: *const c_void, keylen: usize, partition_cnt: i32, opaque: *mut c_void) -> i32 {
    builtin(PartitionerKind::ConsistentRandom, topic, key, keylen, partition_cnt, opaque)
}

/// librdkafka's `fnv1a` (Sarama's hash partitioner): a NULL key hashes like an empty one.
/// In the shape of `rafka_partitioner_cb_t` (`topic` and `opaque` unused), so it can be set as the
/// partitioner or called from one; -1 when `partition_cnt` is not positive.
///
/// # Safety
/// `key` NULL or valid for `keylen` bytes.
#[no_mangle]
pub unsafe extern "C" fn rafka_msg_partitioner_fnv1a(topic: *const c_char, key: *const c_void, keylen: usize, partition_cnt: i32, opaque: *mut c_void) -> i32 {
    builtin(PartitionerKind::Fnv1a, topic, key, keylen, partition_cnt, opaque)
}

/// librdkafka's `fnv1a_random`: FNV-1a of the key; a NULL key gets a random partition.
/// In the shape of `rafka_partitioner_cb_t` (`topic` and `opaque` unused), so it can be set as the
/// partitioner or called from one; -1 when `partition_cnt` is not positive.
///
/// # Safety
/// `key` NULL or valid for `keylen` bytes.
#[no_mangle]
pub unsafe extern "C" fn rafka_msg_partitioner_fnv1a_random(topic: *const c_char, key: *const c_void, keylen: usize, partition_cnt: i32, opaque: *mut c_void) -> i32 {
    builtin(PartitionerKind::Fnv1aRandom, topic, key, keylen, partition_cnt, opaque)
}

/// librdkafka's `random`: a random partition whatever the key.
/// In the shape of `rafka_partitioner_cb_t` (`topic` and `opaque` unused), so it can be set as the
/// partitioner or called from one; -1 when `partition_cnt` is not positive.
///
/// # Safety
/// `key` NULL or valid for `keylen` bytes.
#[no_mangle]
pub unsafe extern "C" fn rafka_msg_partitioner_random(topic: *const c_char, key: *const c_void, keylen: usize, partition_cnt: i32, opaque: *mut c_void) -> i32 {
    builtin(PartitionerKind::Random, topic, key, keylen, partition_cnt, opaque)
}
