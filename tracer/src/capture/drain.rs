//! The ring buffer's reader: a thread of its own that only copies records out of the ring and
//! hands them on in batches, so that decoding names, judging and writing (the slow parts) never
//! keep the ring from being emptied. What is handed on and not yet taken is bounded in bytes,
//! not in batches (a reader that keeps up sends many small batches; one that is starved for a
//! second must still be able to park that second's records): when the consumer falls that far
//! behind, this thread stops reading, the ring fills and the kernel counts what it could not
//! deliver. A loss is always counted, never hidden in an ever-growing buffer.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        mpsc::{self, Receiver, RecvTimeoutError, Sender},
        Arc,
    },
    thread::JoinHandle,
    time::Duration,
};

use anyhow::{Context as _, Result};
use aya::maps::{MapData, RingBuf};

use super::{decode_record, Record};

/// How long the thread sleeps when the ring is empty (the kernel side never wakes it): the
/// longest an event waits, and the span of traffic the ring must hold (4 MiB: 10 ms of
/// ~400 MB/s of records).
pub const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// Records per batch at most: a full ring is handed on in pieces, so the consumer starts on
/// the first while the rest is copied.
const BATCH_RECORDS: usize = 4096;
/// Bytes of records handed on and not yet taken, at most: ~160,000 events without snapshots,
/// several seconds of a busy flow on a starved host (a TCP flow under TCG on seed 004's path is
/// ~13,000 events/s), and a bounded share of memory beside the workloads.
pub const QUEUE_BYTES: usize = 32 << 20;

/// What the thread shares with its owner.
struct Shared {
    stop: AtomicBool,
    /// Records that did not decode (should stay 0).
    malformed: AtomicU64,
    /// Bytes of records sent and not yet taken.
    queued: AtomicUsize,
}

/// What a record holds in memory while it waits.
fn footprint(r: &Record) -> usize {
    std::mem::size_of::<Record>() + r.snapshot.len()
}

fn footprint_of(batch: &[Record]) -> usize {
    batch.iter().map(footprint).sum()
}

pub struct Drain {
    shared: Arc<Shared>,
    batches: Receiver<Vec<Record>>,
    thread: Option<JoinHandle<()>>,
}

/// What [`Drain::next`] brought.
pub enum Next {
    Batch(Vec<Record>),
    /// Nothing within the wait.
    Idle,
}

impl Drain {
    pub fn spawn(ring: RingBuf<MapData>) -> Result<Self> {
        Self::spawn_from(ring)
    }

    fn spawn_from(source: impl Source + Send + 'static) -> Result<Self> {
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            malformed: AtomicU64::new(0),
            queued: AtomicUsize::new(0),
        });
        // Unbounded in batches, bounded in bytes by `run`.
        let (tx, batches) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ring-drain".into())
            .spawn({
                let shared = shared.clone();
                move || run(source, &shared, &tx)
            })
            .context("cannot start the ring buffer reader")?;
        Ok(Self {
            shared,
            batches,
            thread: Some(thread),
        })
    }

    /// The next batch, waiting at most `wait`.
    pub fn next(&self, wait: Duration) -> Result<Next> {
        match self.batches.recv_timeout(wait) {
            Ok(batch) => {
                self.shared
                    .queued
                    .fetch_sub(footprint_of(&batch), Ordering::AcqRel);
                Ok(Next::Batch(batch))
            }
            Err(RecvTimeoutError::Timeout) => Ok(Next::Idle),
            Err(RecvTimeoutError::Disconnected) => {
                anyhow::bail!("the ring buffer reader stopped")
            }
        }
    }

    /// Stops the thread after one last pass over the ring; returns every batch not yet taken,
    /// in order, and how many records did not decode over the whole run.
    pub fn finish(mut self) -> (Vec<Vec<Record>>, u64) {
        self.shared.stop.store(true, Ordering::Release);
        // Taking batches until the thread hangs up also unblocks it if the queue was full.
        let rest: Vec<Vec<Record>> = self.batches.iter().collect();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        (rest, self.shared.malformed.load(Ordering::Relaxed))
    }
}

impl Drop for Drain {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        // The receiver goes with `self`: a thread blocked on a full queue gets an error and ends.
    }
}

/// Where records come from: the ring buffer, or a test's endless supply.
trait Source {
    /// The next record (`Some(None)` for one that did not decode); `None` when empty.
    fn next_record(&mut self) -> Option<Option<Record>>;
}

impl Source for RingBuf<MapData> {
    fn next_record(&mut self) -> Option<Option<Record>> {
        self.next().map(|item| decode_record(&item))
    }
}

fn run(mut source: impl Source, shared: &Shared, tx: &Sender<Vec<Record>>) {
    let send = |batch: Vec<Record>| {
        shared
            .queued
            .fetch_add(footprint_of(&batch), Ordering::AcqRel);
        tx.send(batch).is_ok()
    };
    loop {
        // Read before the pass: a stop asked during it still gets this whole pass, whatever
        // the budget (the owner is taking everything by then).
        let stopping = shared.stop.load(Ordering::Acquire);
        let mut read_any = false;
        let mut batch = Vec::new();
        let mut batch_bytes = 0;
        loop {
            let room =
                stopping || shared.queued.load(Ordering::Acquire) + batch_bytes < QUEUE_BYTES;
            if !room {
                break;
            }
            let Some(item) = source.next_record() else {
                break;
            };
            read_any = true;
            match item {
                Some(r) => {
                    batch_bytes += footprint(&r);
                    batch.push(r);
                }
                None => {
                    shared.malformed.fetch_add(1, Ordering::Relaxed);
                }
            }
            if batch.len() >= BATCH_RECORDS {
                batch_bytes = 0;
                if !send(std::mem::take(&mut batch)) {
                    return;
                }
            }
        }
        if !batch.is_empty() && !send(batch) {
            return;
        }
        if stopping {
            return;
        }
        if !read_any {
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use tracer_common::PacketEvent;

    fn record(snapshot: usize) -> Record {
        Record {
            // SAFETY: PacketEvent is Pod.
            event: unsafe { std::mem::zeroed::<PacketEvent>() },
            snapshot: vec![0; snapshot],
        }
    }

    /// A ring that never runs dry, counting what was read from it.
    struct Endless(Arc<AtomicUsize>);

    impl Source for Endless {
        fn next_record(&mut self) -> Option<Option<Record>> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Some(Some(record(64)))
        }
    }

    /// Reads of the source once they stop growing.
    fn settled(reads: &AtomicUsize) -> usize {
        let start = Instant::now();
        let mut last = usize::MAX;
        loop {
            std::thread::sleep(POLL_INTERVAL * 5);
            let now = reads.load(Ordering::Relaxed);
            if now == last {
                return now;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "never stopped reading"
            );
            last = now;
        }
    }

    #[test]
    fn a_consumer_that_takes_nothing_stops_the_reader_at_the_byte_budget() {
        let reads = Arc::new(AtomicUsize::new(0));
        let drain = Drain::spawn_from(Endless(reads.clone())).unwrap();
        let parked = settled(&reads);
        let one = footprint(&record(64));
        // Everything read is parked: the budget, give or take the record that crossed it.
        assert!(parked * one >= QUEUE_BYTES, "{parked} records");
        assert!(parked * one <= QUEUE_BYTES + one, "{parked} records");
        // Taking a batch makes room, and reading resumes.
        let Next::Batch(batch) = drain.next(Duration::from_secs(1)).unwrap() else {
            panic!("nothing queued");
        };
        assert!(settled(&reads) >= parked + batch.len());
        drop(drain);
    }

    #[test]
    fn a_snapshot_counts_in_the_footprint() {
        assert_eq!(
            footprint_of(&[record(0), record(100)]),
            2 * std::mem::size_of::<Record>() + 100
        );
    }
}
