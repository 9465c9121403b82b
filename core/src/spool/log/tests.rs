//! The log's tests: format, recovery, damage, acknowledgements, the lock.

use super::*;
use std::os::unix::fs::FileExt;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rafka-spool-log-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn append(log: &mut SpoolLog, topic: &str, value: &[u8]) -> u64 {
    let h: [(&str, Option<&[u8]>); 2] = [("h1", Some(b"v1")), ("h2", None)];
    log.append(&SpoolRecordRef { topic, partition: Some(3), key: Some(b"k"), value: Some(value), headers: &h, timestamp: 42 }, false).unwrap().0
}

fn drain(log: &mut SpoolLog) -> Vec<SpooledRecord> {
    let mut v = Vec::new();
    while let Some((r, _)) = log.next_unsent().unwrap() {
        v.push(r);
    }
    v
}

#[test]
fn records_round_trip_with_every_field_and_ids_keep_growing_across_a_reopen() {
    let d = tmp("roundtrip");
    let (mut log, damage) = SpoolLog::open(&d, 1 << 20).unwrap();
    assert!(damage.is_empty());
    let a = append(&mut log, "t", b"one");
    let b = append(&mut log, "t", b"two");
    assert_eq!(b, a + 1);
    let got = drain(&mut log);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], SpooledRecord { id: a, topic: "t".into(), partition: Some(3), key: Some(b"k".to_vec()), value: Some(b"one".to_vec()), headers: vec![("h1".into(), Some(b"v1".to_vec())), ("h2".into(), None)], timestamp: 42 });
    drop(log);
    let (mut log, _) = SpoolLog::open(&d, 1 << 20).unwrap();
    let got = drain(&mut log);
    assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), [a, b], "unacked records come back after a reopen");
    assert!(append(&mut log, "t", b"three") > b);
}

#[test]
fn pages_faulted_in_ahead_of_the_appends_lie_past_them_and_every_record_reads_back() {
    let d = tmp("prefault");
    // Segments of 8 MiB; 3,000 records of 1 KiB cross several prefault ranges.
    let (mut log, _) = SpoolLog::open(&d, 64 << 20).unwrap();
    let value = vec![7u8; 1024];
    let (mut ids, mut ranges) = (Vec::new(), Vec::new());
    for _ in 0..3000 {
        ids.push(append(&mut log, "t", &value));
        if let Some(p) = log.prefault.take() {
            let tail = log.segments.values().next_back().unwrap();
            let (from, len) = p.range();
            assert!(from as u64 >= tail.len && from + len <= tail.map.len, "a range past the appends, inside the mapping");
            ranges.push((from, len));
            p.run();
        }
    }
    assert!(ranges.len() >= 3, "the appends reached past the ready pages a few times: {ranges:?}");
    assert!(ranges.windows(2).all(|w| w[0].0 + w[0].1 == w[1].0), "ranges follow each other: {ranges:?}");
    drop(log);
    let (mut log, damage) = SpoolLog::open(&d, 64 << 20).unwrap();
    assert!(damage.is_empty());
    let got = drain(&mut log);
    assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), ids);
    assert!(got.iter().all(|r| r.value.as_deref() == Some(&value[..])));
}

#[test]
fn acknowledged_records_are_not_recovered() {
    let d = tmp("acks");
    let (mut log, _) = SpoolLog::open(&d, 1 << 20).unwrap();
    let ids: Vec<u64> = (0..5).map(|i| append(&mut log, "t", format!("v{i}").as_bytes())).collect();
    log.ack(&[ids[0], ids[2]]).unwrap();
    log.ack(&[ids[4]]).unwrap();
    drop(log);
    let (mut log, _) = SpoolLog::open(&d, 1 << 20).unwrap();
    assert_eq!(log.unacked(), 2);
    let got: Vec<u64> = drain(&mut log).iter().map(|r| r.id).collect();
    assert_eq!(got, [ids[1], ids[3]]);
}

#[test]
fn a_torn_tail_is_truncated_and_the_records_before_it_kept() {
    let d = tmp("torn");
    let (mut log, _) = SpoolLog::open(&d, 1 << 20).unwrap();
    for i in 0..3 {
        append(&mut log, "t", format!("v{i}").as_bytes());
    }
    let seg = log.segments.values().next_back().unwrap().path.clone();
    drop(log);
    let len = std::fs::metadata(&seg).unwrap().len();
    // A power loss in the middle of the last entry.
    OpenOptions::new().write(true).open(&seg).unwrap().set_len(len - 5).unwrap();
    let (mut log, damage) = SpoolLog::open(&d, 1 << 20).unwrap();
    assert_eq!(damage.len(), 1, "{damage:?}");
    assert!(damage[0].reason.contains("torn"), "{}", damage[0].reason);
    assert_eq!(damage[0].dropped_bytes + damage[0].at, len - 5);
    let got: Vec<Vec<u8>> = drain(&mut log).into_iter().map(|r| r.value.unwrap()).collect();
    assert_eq!(got, [b"v0".to_vec(), b"v1".to_vec()]);
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), damage[0].at, "the file is truncated at the last good entry");
}

#[test]
fn a_corrupt_entry_ends_its_segment_and_later_segments_are_read_on() {
    let d = tmp("corrupt");
    // Small segments: a few records each.
    let (mut log, _) = SpoolLog::open(&d, 8 * 4096).unwrap();
    let big = vec![7u8; 1500];
    let mut ids = Vec::new();
    for _ in 0..9 {
        ids.push(append(&mut log, "t", &big));
    }
    assert!(log.segment_count() >= 3, "{}", log.segment_count());
    let first = log.segments.values().next().unwrap().path.clone();
    let in_first = ids.iter().filter(|&&id| log.segments.range(..=id).next_back().unwrap().0 == log.segments.keys().next().unwrap()).count();
    drop(log);
    // Flip a byte of the first record's value in the oldest segment.
    let f = OpenOptions::new().read(true).write(true).open(&first).unwrap();
    f.write_all_at(&[0xff], HEAD as u64 + 100).unwrap();
    let (mut log, damage) = SpoolLog::open(&d, 8 * 4096).unwrap();
    assert_eq!(damage.len(), 1);
    assert!(damage[0].reason.contains("CRC"), "{}", damage[0].reason);
    assert_eq!(damage[0].at, HEAD as u64);
    let got: Vec<u64> = drain(&mut log).iter().map(|r| r.id).collect();
    assert_eq!(got, ids[in_first..], "every record of the later segments is kept");
}

#[test]
fn garbage_in_a_segment_file_never_panics() {
    let d = tmp("garbage");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join(segment_name(1)), b"not a segment at all").unwrap();
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    bytes.extend_from_slice(&[1, 2, 3, 4, 5]);
    std::fs::write(d.join(segment_name(5)), &bytes).unwrap();
    let (mut log, damage) = SpoolLog::open(&d, 1 << 20).unwrap();
    assert_eq!(damage.len(), 2, "{damage:?}");
    assert!(drain(&mut log).is_empty());
    append(&mut log, "t", b"after");
    assert_eq!(drain(&mut log).len(), 1);
}

#[test]
fn a_segment_is_deleted_once_all_its_records_are_acknowledged() {
    let d = tmp("delete");
    let (mut log, _) = SpoolLog::open(&d, 8 * 4096).unwrap();
    let big = vec![1u8; 1500];
    let ids: Vec<u64> = (0..12).map(|_| append(&mut log, "t", &big)).collect();
    assert_eq!(drain(&mut log).len(), 12);
    let n = log.segment_count();
    assert!(n >= 3);
    let count = || std::fs::read_dir(&d).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "seg")).count();
    assert_eq!(count(), n);
    // Acking a later segment's records deletes nothing while the oldest has unacked ones.
    log.ack(&ids[6..]).unwrap();
    assert_eq!(count(), n);
    log.ack(&ids[..6]).unwrap();
    assert!(count() < n, "acknowledged segments are deleted");
    assert_eq!(log.unacked(), 0);
    drop(log);
    let (mut log, _) = SpoolLog::open(&d, 8 * 4096).unwrap();
    assert!(drain(&mut log).is_empty());
}

#[test]
fn records_taken_out_by_a_purge_are_skipped_by_the_cursor_and_not_recovered() {
    let d = tmp("purge");
    let (mut log, _) = SpoolLog::open(&d, 8 * 4096).unwrap();
    let big = vec![2u8; 1500];
    // Over several segments: topics a and b, partition 3 (append's) or none.
    let mut ids = Vec::new();
    for i in 0..12 {
        let topic = if i % 2 == 0 { "a" } else { "b" };
        let partition = (i % 3 != 0).then_some(3);
        ids.push(log.append(&SpoolRecordRef { topic, partition, key: None, value: Some(&big), headers: &[], timestamp: i }, false).unwrap().0);
    }
    assert!(log.segment_count() >= 3);
    let (first, _) = log.next_unsent().unwrap().unwrap();
    assert_eq!(first.id, ids[0]);
    // Topic a, partition 3 only: not the record the cursor read, not those without a partition.
    let taken = log.take_unread_matching(&|t, p| t == "a" && p == Some(3)).unwrap();
    let want: Vec<u64> = (1..12).filter(|i| i % 2 == 0 && i % 3 != 0).map(|i| ids[i]).collect();
    assert_eq!(taken.iter().map(|r| r.id).collect::<Vec<_>>(), want);
    assert_eq!(log.unread(), 11 - want.len() as u64);
    assert!(log.take_unread_matching(&|t, p| t == "a" && p == Some(3)).unwrap().is_empty(), "taken once");
    log.ack(&want).unwrap();
    let rest: Vec<u64> = drain(&mut log).iter().map(|r| r.id).collect();
    let expect: Vec<u64> = ids[1..].iter().copied().filter(|id| !want.contains(id)).collect();
    assert_eq!(rest, expect, "the cursor skips the purged records");
    drop(log);
    let (mut log, _) = SpoolLog::open(&d, 8 * 4096).unwrap();
    let again: Vec<u64> = drain(&mut log).iter().map(|r| r.id).collect();
    assert_eq!(again, ids.iter().copied().filter(|id| !want.contains(id)).collect::<Vec<_>>(), "purged records are not recovered");
}

#[test]
fn a_second_open_of_the_directory_is_refused_naming_it_and_the_holder() {
    let d = tmp("lock");
    let (log, _) = SpoolLog::open(&d, 1 << 20).unwrap();
    let e = SpoolLog::open(&d, 1 << 20).err().expect("second open refused");
    let msg = e.to_string();
    assert!(msg.contains(&d.display().to_string()), "{msg}");
    assert!(msg.contains(&format!("process {}", std::process::id())), "{msg}");
    drop(log);
    assert!(SpoolLog::open(&d, 1 << 20).is_ok(), "free again once the first is closed");
}

/// What a SIGKILL leaves: the log neither closed nor dropped (its mapping and its segment's
/// full size stay), the directory's lock let go as the kernel does for a dead process.
fn die(log: SpoolLog) {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on the log's own lock file descriptor.
    unsafe { libc::flock(log.lock_file().as_raw_fd(), libc::LOCK_UN) };
    std::mem::forget(log);
}

fn newest_segment(d: &Path) -> PathBuf {
    let mut v: Vec<PathBuf> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "seg")).collect();
    v.sort();
    v.pop().unwrap()
}

#[test]
fn records_appended_before_a_crash_are_read_back_and_the_zeros_after_them_are_not_damage() {
    let d = tmp("crash");
    let (mut log, _) = SpoolLog::open(&d, 1 << 20).unwrap();
    let ids: Vec<u64> = (0..3).map(|i| append(&mut log, "t", format!("v{i}").as_bytes())).collect();
    log.ack(&ids[..1]).unwrap();
    let seg = newest_segment(&d);
    let end = log.tail().len;
    die(log);
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), (1u64 << 20) / 8, "the segment file has its full size");
    let (mut log, damage) = SpoolLog::open(&d, 1 << 20).unwrap();
    assert!(damage.is_empty(), "{damage:?}");
    assert_eq!(drain(&mut log).iter().map(|r| r.id).collect::<Vec<_>>(), ids[1..]);
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), end, "cut back to its entries");
}

#[test]
fn an_entry_cut_short_by_a_crash_ends_its_segment_and_is_reported() {
    let d = tmp("cutshort");
    let (mut log, _) = SpoolLog::open(&d, 1 << 20).unwrap();
    for i in 0..2 {
        append(&mut log, "t", format!("v{i}").as_bytes());
    }
    let end = log.tail().len;
    let seg = newest_segment(&d);
    die(log);
    // A third entry whose payload was copied but not its length (the crash came between).
    OpenOptions::new().write(true).open(&seg).unwrap().write_all_at(&[0, 0, 0, 0, 9, 9, 9, 9, 1, 7, 7], end).unwrap();
    let (mut log, damage) = SpoolLog::open(&d, 1 << 20).unwrap();
    assert_eq!(damage.len(), 1, "{damage:?}");
    assert!(damage[0].reason.contains("cut short"), "{}", damage[0].reason);
    assert_eq!((damage[0].at, damage[0].dropped_bytes), (end, 11));
    assert_eq!(drain(&mut log).len(), 2);
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), end);
}

#[test]
fn a_format_1_segment_with_ack_markers_as_id_lists_is_still_read() {
    let d = tmp("v1");
    std::fs::create_dir_all(&d).unwrap();
    let mut bytes = MAGIC_V1.to_vec();
    let entry = |bytes: &mut Vec<u8>, payload: &[u8]| {
        bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
        bytes.extend_from_slice(payload);
    };
    for id in 7..10u64 {
        let r = SpoolRecordRef { topic: "t", partition: None, key: None, value: Some(b"old"), headers: &[], timestamp: 1 };
        let mut p = vec![0u8; r.payload_len()];
        r.write(id, &mut p);
        entry(&mut bytes, &p);
    }
    let mut ack = vec![KIND_ACK_IDS];
    ack.extend_from_slice(&8u64.to_le_bytes());
    entry(&mut bytes, &ack);
    std::fs::write(d.join(segment_name(7)), &bytes).unwrap();
    let (mut log, damage) = SpoolLog::open(&d, 1 << 20).unwrap();
    assert!(damage.is_empty(), "{damage:?}");
    assert_eq!(drain(&mut log).iter().map(|r| r.id).collect::<Vec<_>>(), [7, 9]);
    assert_eq!(log.next_id(), 10);
}

#[test]
fn ack_markers_of_runs_of_ids_across_segments_acknowledge_each_id_once() {
    let d = tmp("runs");
    let (mut log, _) = SpoolLog::open(&d, 8 * 4096).unwrap();
    let big = vec![3u8; 1500];
    let ids: Vec<u64> = (0..9).map(|_| append(&mut log, "t", &big)).collect();
    assert_eq!(runs(&[ids[0], ids[1], ids[2], ids[5], ids[4]]), [(ids[0], 3), (ids[5], 1), (ids[4], 1)]);
    // One marker spanning segments, and one of scattered ids.
    log.ack(&ids[1..7]).unwrap();
    assert_eq!(log.unacked(), 3);
    log.ack(&[ids[8], ids[0]]).unwrap();
    assert_eq!(log.unacked(), 1);
    drop(log);
    let (mut log, _) = SpoolLog::open(&d, 8 * 4096).unwrap();
    assert_eq!(drain(&mut log).iter().map(|r| r.id).collect::<Vec<_>>(), [ids[7]]);
}

#[test]
fn a_record_sent_directly_and_requeued_is_read_before_the_records_at_the_cursor() {
    let d = tmp("requeue");
    let (mut log, _) = SpoolLog::open(&d, 1 << 20).unwrap();
    let rec = |v: &'static [u8]| SpoolRecordRef { topic: "t", partition: Some(0), key: None, value: Some(v), headers: &[], timestamp: 5 };
    let (a, _) = log.append(&rec(b"a"), true).unwrap();
    let (b, pos_b) = log.append(&rec(b"b"), true).unwrap();
    assert_eq!(log.unread(), 0, "both sent directly");
    let (c, _) = log.append(&rec(b"c"), false).unwrap();
    log.requeue(b, pos_b);
    assert_eq!(log.unread(), 2);
    assert_eq!(log.read_at(pos_b).unwrap().value.as_deref(), Some(&b"b"[..]));
    assert_eq!(drain(&mut log).iter().map(|r| r.id).collect::<Vec<_>>(), [b, c]);
    let (d2, pos_d) = log.append(&rec(b"d"), true).unwrap();
    log.requeue(d2, pos_d);
    let taken = log.take_unread_matching(&|_, _| true).unwrap();
    assert_eq!(taken.iter().map(|r| r.id).collect::<Vec<_>>(), [d2], "a purge takes requeued records");
    assert_eq!(log.unread(), 0);
    assert!(a < b);
}
