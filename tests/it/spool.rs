//! A model test of the spool (Vector's disk-buffer model tests): random
//! appends, reads, out-of-order acks, clean and crashing reopens with torn
//! tails, checked against a simple model.

use std::fs::OpenOptions;
use std::io::Write;

use auth0_ingest::event::Input;
use auth0_ingest::spool::{self, Append, Receipt};
use proptest::prelude::*;
use time::OffsetDateTime;

#[derive(Debug, Clone)]
enum Op {
    /// Append a batch of events with these sizes.
    Append(Vec<usize>),
    /// Read up to this many events.
    Read(usize),
    /// Acknowledge the outstanding receipt at this index (mod count).
    Ack(usize),
    /// Close (clean) or drop (crash, with torn garbage) and reopen.
    Reopen { clean: bool, garbage: Vec<u8> },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => prop::collection::vec(1usize..30_000, 1..20).prop_map(Op::Append),
        3 => (1usize..50).prop_map(Op::Read),
        3 => any::<usize>().prop_map(Op::Ack),
        1 => (any::<bool>(), prop::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(clean, garbage)| Op::Reopen { clean, garbage }),
    ]
}

/// Event `n` of `size` bytes: its number, then padding.
fn event(n: u64, size: usize) -> Vec<u8> {
    let mut bytes = format!("{n:020}").into_bytes();
    bytes.resize(size.max(20), b'x');
    bytes
}

fn number(bytes: &[u8]) -> u64 {
    std::str::from_utf8(&bytes[..20]).unwrap().parse().unwrap()
}

struct Model {
    /// Every event appended, in order.
    appended: Vec<u64>,
    /// Receipts handed out since the last open, in read order, with their events.
    receipts: Vec<(Receipt, Vec<u64>, bool)>,
    /// Events read since the last open.
    read: Vec<u64>,
    /// Events delivered before the current open's start (acked prefix).
    acked_prefix: usize,
}

impl Model {
    /// Events of the receipts acknowledged contiguously from the start of
    /// this open: what the watermark covers.
    fn delivered(&self) -> usize {
        self.receipts
            .iter()
            .take_while(|(_, _, acked)| *acked)
            .map(|(_, numbers, _)| numbers.len())
            .sum()
    }
}

fn run(ops: Vec<Op>) {
    // Small, so 1 MiB segments rotate often, mid-read, and appends can meet
    // a full spool.
    let (runtime, _dir, config) = small_spool();
    let mut open = spool::open(&config).unwrap();
    let mut model = Model {
        appended: Vec::new(),
        receipts: Vec::new(),
        read: Vec::new(),
        acked_prefix: 0,
    };
    let mut next = 0u64;
    let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
    for op in ops {
        match op {
            Op::Append(sizes) => {
                let mut append = Append::new();
                let mut numbers = Vec::new();
                for size in sizes {
                    append.push(Input::Webhook, at, &event(next, size));
                    numbers.push(next);
                    next += 1;
                }
                match runtime.block_on(open.writer.append(append)) {
                    Ok(()) => model.appended.extend(numbers),
                    // Refused whole: nothing of it may ever be read.
                    Err(spool::AppendError::Full) => {}
                    Err(error) => panic!("append failed: {error}"),
                }
            }
            Op::Read(max) => {
                if let Some(batch) = open.reader.read(max, usize::MAX).unwrap() {
                    let numbers: Vec<u64> = batch.events.iter().map(|e| number(&e.bytes)).collect();
                    model.read.extend(&numbers);
                    model.receipts.push((batch.receipt, numbers, false));
                }
                // Reads are in append order, right after what was delivered.
                let expected =
                    &model.appended[model.acked_prefix..model.acked_prefix + model.read.len()];
                assert_eq!(model.read, expected);
            }
            Op::Ack(index) => {
                if model.receipts.is_empty() {
                    continue;
                }
                let index = index % model.receipts.len();
                let (receipt, _, acked) = &mut model.receipts[index];
                open.acker.ack(*receipt).unwrap();
                *acked = true;
            }
            Op::Reopen { clean, garbage } => {
                {
                    // Move the whole spool so every part (lock included) is
                    // dropped before reopening.
                    let old = open;
                    let spool::Spool {
                        writer,
                        writer_thread,
                        acker,
                        ..
                    } = old;
                    drop(writer);
                    writer_thread.join().unwrap();
                    if clean {
                        acker.close().unwrap();
                    }
                    drop(acker);
                    if !garbage.is_empty() {
                        // A torn append at the end of the newest segment.
                        let mut segments: Vec<_> = std::fs::read_dir(&config.dir)
                            .unwrap()
                            .map(|entry| entry.unwrap().path())
                            .filter(|path| path.extension().is_some_and(|ext| ext == "seg"))
                            .collect();
                        segments.sort();
                        let mut file = OpenOptions::new()
                            .append(true)
                            .open(segments.last().unwrap())
                            .unwrap();
                        file.write_all(&garbage).unwrap();
                    }
                    model.acked_prefix += model.delivered();
                    model.receipts.clear();
                    model.read.clear();
                }
                open = reopen(&config);
            }
        }
    }
    // Final check: everything not in the acked prefix is delivered, in order.
    let rest = drain(open);
    let delivered = model.delivered();
    let unread_from = model.acked_prefix + model.read.len();
    assert_eq!(rest, model.appended[unread_from..]);
    // And a reopen now would start exactly after the acked prefix.
    let again = drain(spool::open(&config).unwrap());
    assert_eq!(again, model.appended[model.acked_prefix + delivered..]);
}

/// Stops the writer and reads everything left, dropping the whole spool.
fn drain(spool: spool::Spool) -> Vec<u64> {
    let spool::Spool {
        writer,
        writer_thread,
        mut reader,
        ..
    } = spool;
    drop(writer);
    writer_thread.join().unwrap();
    let mut numbers = Vec::new();
    while let Some(batch) = reader.read(usize::MAX, usize::MAX).unwrap() {
        numbers.extend(batch.events.iter().map(|e| number(&e.bytes)));
    }
    numbers
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn spool_matches_its_model(ops in prop::collection::vec(op(), 1..60)) {
        run(ops);
    }
}

#[test]
fn large_batches_rotate_segments_across_crashes() {
    let mut ops = Vec::new();
    for _ in 0..12 {
        // ~ 300 KB per append: 1 MiB segments rotate every few appends.
        ops.push(Op::Append(vec![3000; 100]));
        ops.push(Op::Read(1000));
        ops.push(Op::Ack(usize::MAX));
    }
    ops.push(Op::Reopen {
        clean: false,
        garbage: b"torn".to_vec(),
    });
    ops.push(Op::Append(vec![10; 3]));
    run(ops);
}

#[test]
fn acknowledged_segments_are_deleted() {
    let (runtime, dir, config) = small_spool();
    let mut open = spool::open(&config).unwrap();
    let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
    let segments = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|entry| {
                entry
                    .as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|ext| ext == "seg")
            })
            .count()
    };
    for round in 0..10u64 {
        let mut append = Append::new();
        for n in 0..100 {
            append.push(Input::Webhook, at, &event(round * 100 + n, 5000));
        }
        runtime.block_on(open.writer.append(append)).unwrap();
    }
    assert!(segments() >= 4, "5 MB in 1 MiB segments: {}", segments());
    while let Some(batch) = open.reader.read(150, usize::MAX).unwrap() {
        open.acker.ack(batch.receipt).unwrap();
    }
    assert_eq!(segments(), 1, "only the segment being written is left");
}

/// Regression (found by bench/webhook.sh): the reader took a segment's
/// length when it opened it, while it was still being written, and once the
/// writer moved on it skipped the rest of that segment and acknowledged
/// past it.
#[test]
fn r2_reader_reads_a_segment_to_its_end_after_the_writer_moves_on() {
    let (runtime, _dir, config) = small_spool();
    let mut open = spool::open(&config).unwrap();
    let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
    let mut next = 0;
    let mut append = |open: &spool::Spool, count: u64| {
        let mut batch = Append::new();
        for _ in 0..count {
            batch.push(Input::Webhook, at, &event(next, 10_000));
            next += 1;
        }
        runtime.block_on(open.writer.append(batch)).unwrap();
    };
    let mut read = Vec::new();
    append(&open, 40); // 400 KB into segment 1
    let batch = open.reader.read(usize::MAX, usize::MAX).unwrap().unwrap();
    read.extend(batch.events.iter().map(|e| number(&e.bytes)));
    append(&open, 40); // 800 KB: still segment 1, after the reader opened it
    append(&open, 40); // past 1 MiB: rotates to segment 2
    while let Some(batch) = open.reader.read(usize::MAX, usize::MAX).unwrap() {
        read.extend(batch.events.iter().map(|e| number(&e.bytes)));
    }
    assert_eq!(read, (0..120).collect::<Vec<u64>>());
}

/// A runtime and an 8 MiB spool config (1 MiB segments) in a fresh directory.
fn small_spool() -> (tokio::runtime::Runtime, tempfile::TempDir, spool::Config) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = spool::Config {
        dir: dir.path().to_owned(),
        max_bytes: 8 * 1024 * 1024,
        dead_letter_max_file_bytes: spool::dead_letter::DEFAULT_MAX_FILE_BYTES,
    };
    (runtime, dir, config)
}

/// Opens the spool again after the previous `Spool` was dropped. The
/// `flock` is released with the last descriptor of its open file, and a
/// process another test forks at that instant holds a copy until it execs:
/// under load that is long enough to see `Locked` once. Wait it out (a few
/// seconds at most) instead of failing on a sibling test's fork.
fn reopen(config: &spool::Config) -> spool::Spool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match spool::open(config) {
            Err(spool::Error::Locked { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            result => return result.unwrap(),
        }
    }
}
