//! The ring buffer's reader: a thread of its own that only copies records out of the ring and
//! hands them on in batches through a bounded queue, so that decoding names, judging and writing
//! (the slow parts) never keep the ring from being emptied. When the consumer falls behind, the
//! queue fills, this thread waits, the ring fills and the kernel counts what it could not
//! deliver: a loss is always counted, never hidden in an ever-growing buffer.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc::{self, Receiver, RecvTimeoutError, SyncSender},
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
/// Batches in flight between the two threads: up to 256 Ki records, a quarter of a second of a
/// million events per second.
const QUEUE_BATCHES: usize = 64;

/// What the thread shares with its owner.
struct Shared {
    stop: AtomicBool,
    /// Records that did not decode (should stay 0).
    malformed: AtomicU64,
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
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            malformed: AtomicU64::new(0),
        });
        let (tx, batches) = mpsc::sync_channel(QUEUE_BATCHES);
        let thread = std::thread::Builder::new()
            .name("ring-drain".into())
            .spawn({
                let shared = shared.clone();
                move || run(ring, &shared, &tx)
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
            Ok(batch) => Ok(Next::Batch(batch)),
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

fn run(mut ring: RingBuf<MapData>, shared: &Shared, tx: &SyncSender<Vec<Record>>) {
    loop {
        // Read before the pass: a stop asked during it still gets this whole pass.
        let stopping = shared.stop.load(Ordering::Acquire);
        let mut read_any = false;
        let mut batch = Vec::new();
        while let Some(item) = ring.next() {
            read_any = true;
            match decode_record(&item) {
                Some(r) => batch.push(r),
                None => {
                    shared.malformed.fetch_add(1, Ordering::Relaxed);
                }
            }
            if batch.len() >= BATCH_RECORDS && tx.send(std::mem::take(&mut batch)).is_err() {
                return;
            }
        }
        if !batch.is_empty() && tx.send(batch).is_err() {
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
