//! One flush of the lander: the buffered batches of every topic written as staged Parquet
//! files, then committed with their offset ranges in one commit-log entry.
//!
//! A flush runs as a task on the lander's runtime while the poll loop goes on filling fresh
//! buffers (see `lander`): encoding and writing overlap with consuming and decoding, and with
//! the flushes before it (up to [`MAX_IN_FLIGHT`]). Commits happen in order: a flush's ranges
//! start where the previous one's end, so it commits only after the previous one did (its
//! turn), and gives up if that one failed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use futures::StreamExt;
use soundlake_core::lake::{LakeError, LakeStore};
use soundlake_core::retry::RetryPolicy;
use tokio::sync::{oneshot, Mutex, OwnedSemaphorePermit, Semaphore};

use crate::commit_log::{CommitError, CommitLog, CommittedFile, OffsetRange, PendingCommit};
use crate::layout::{bronze_path, data_file_name, quarantine_path};
use crate::offsets::OffsetSpan;
use crate::parquet_writer::{BronzeFileWriter, ParquetOptions, StagedFile, WriteError};

/// Flushes written at the same time (each holds its buffers: memory grows with it).
pub const MAX_IN_FLIGHT: usize = 2;

/// Staged files written at the same time by one flush. Closing an HDFS file waits for the
/// NameNode to see the DataNode's block report (a retry of `complete`, 10 ms first with the
/// patched hdfs-native: vendor/README.md), so files are written many at a time; each also
/// reserves a block's worth of the DataNode's free space while it is open. A retry writes one
/// file alone before the others (see `write_rounds`).
pub const WRITE_CONCURRENCY: usize = 32;
/// How a flush waits out a lake that is away: without limit (nothing is committed before every
/// file is written, and the commit log makes a retry safe), backing off from half a second,
/// doubling up to [`soundlake_core::retry::MAX_DELAY`].
pub const LAKE_AWAY: RetryPolicy = RetryPolicy::new(Duration::from_millis(500));

/// One file of a flush: a batch of one bronze partition of a topic, or a topic's quarantine.
pub struct FlushItem {
    /// Index of the topic in the lander's topic list.
    pub topic_index: usize,
    pub topic: String,
    pub schema: SchemaRef,
    pub batch: RecordBatch,
    pub spans: BTreeMap<i32, OffsetSpan>,
    pub destination: Destination,
}

/// Where a flush's file goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The topic's bronze table, in this partition folder (`event_date=…/hour=…`).
    Bronze { partition_dir: String },
    /// The topic's quarantine.
    Quarantine,
}

/// Names the files of this lander: unique per writer, start and number, and fresh at every
/// attempt (a failed write's staged file is deleted, but its name may not be free yet).
#[derive(Clone)]
pub struct FileNamer {
    pub writer_id: String,
    pub started_ms: i64,
    pub counter: Arc<AtomicU64>,
}

impl FileNamer {
    fn next(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        data_file_name(&self.writer_id, self.started_ms, n)
    }
}

/// Everything one commit makes visible.
pub struct FlushJob {
    pub items: Vec<FlushItem>,
    pub ranges: Vec<OffsetRange>,
    /// The `_ingested_at` the items' rows are stamped with, recorded in the commit entry.
    pub ingested_at_us: i64,
    pub namer: FileNamer,
    /// Resolves when the previous flush is done: `true` if it committed. None: no previous.
    pub turn: Option<oneshot::Receiver<bool>>,
    /// Tells the next flush whether this one committed.
    pub done: oneshot::Sender<bool>,
}

/// Why a flush did not commit.
#[derive(Debug, thiserror::Error)]
pub enum FlushError {
    /// A file could not be written for a reason retrying does not mend: the lander stops.
    #[error(transparent)]
    Write(WriteError),
    /// The commit was refused (fenced) or its outcome is unknown: nothing of it counts; the
    /// lander recovers the log and reads again from its positions.
    #[error(transparent)]
    Commit(CommitError),
    /// The flush before this one did not commit, so neither does this one (its ranges follow
    /// the refused ones); its staged files are orphans that recovery removes.
    #[error("not committed: the flush before it failed")]
    Abandoned,
}

/// What a committed flush wrote.
pub struct Flushed {
    pub seq: u64,
    /// Time spent writing the files, then committing them.
    pub write_time: Duration,
    pub commit_time: Duration,
    /// Per item of the job, in its order.
    pub files: Vec<CommittedFile>,
}

impl FlushJob {
    /// Writes the files (waiting out a lake that is away: nothing is committed before every
    /// file is written; a retry writes only the files not written yet, after deleting those of
    /// the failed writes), waits for its turn, and commits them. `gate` is held until the commit
    /// is done: a rebalance waits for every flush's permit before it recovers the log.
    pub async fn run(
        self,
        store: LakeStore,
        log: Arc<Mutex<CommitLog>>,
        gate: OwnedSemaphorePermit,
    ) -> Result<Flushed, FlushError> {
        let done = self.done;
        let result = Self::write_and_commit(
            self.items,
            self.ranges,
            self.ingested_at_us,
            &self.namer,
            self.turn,
            &store,
            &log,
        )
        .await;
        // The next flush may go on (or must give up); a next flush that is gone does not care.
        let _ = done.send(result.is_ok());
        drop(gate);
        result
    }

    async fn write_and_commit(
        items: Vec<FlushItem>,
        ranges: Vec<OffsetRange>,
        ingested_at_us: i64,
        namer: &FileNamer,
        turn: Option<oneshot::Receiver<bool>>,
        store: &LakeStore,
        log: &Mutex<CommitLog>,
    ) -> Result<Flushed, FlushError> {
        let started = Instant::now();
        let staging = Mutex::new(Staging::new(&items));
        let shared = &staging;
        let written = LAKE_AWAY
            .retry(
                "writing a flush's files (the lake is away; nothing committed)",
                AttemptError::is_transient,
                move || async move { shared.lock().await.attempt(store, log, namer).await },
            )
            .await;
        let staging = staging.into_inner();
        if let Err(err) = written {
            staging.abandon(store).await;
            return Err(FlushError::Write(err.into_write_error()));
        }
        let files = staging.into_committed();
        let write_time = started.elapsed();
        if let Some(turn) = turn {
            // A previous flush that vanished (its task panicked) counts as failed.
            if !turn.await.unwrap_or(false) {
                return Err(FlushError::Abandoned);
            }
        }
        let entry = log
            .lock()
            .await
            .commit(PendingCommit {
                ranges,
                files,
                ingested_at_us,
            })
            .await
            .map_err(FlushError::Commit)?;
        Ok(Flushed {
            seq: entry.seq,
            write_time,
            commit_time: started.elapsed() - write_time,
            files: entry.files,
        })
    }
}

/// The staged files of one flush across its attempts: the files written and closed are kept for
/// the commit (a retry writes only the others), and the staged file of every write that failed
/// is deleted before anything else is written.
///
/// A failed write's file is still open on HDFS (under construction: its writer is dropped
/// without a close, its lease held by the lander's live client, its block reserving a
/// DataNode's space); deleting it makes the NameNode drop the file, its blocks and its lease.
/// Reusing the written files rather than rewriting them spares a sick cluster the writes; no
/// recovery deletes them meanwhile (recovery waits for every flush's permit, see `run`).
struct Staging<'a> {
    items: &'a [FlushItem],
    /// Per item: its file name and staged file, once written and closed.
    written: Vec<Option<(String, StagedFile)>>,
    /// Staged paths of failed writes that are not deleted yet.
    failed: Vec<String>,
    attempts: u32,
}

/// Why an attempt at writing a flush's files failed.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    /// Some writes failed: `cause` is a permanent failure if there is one (it ends the
    /// retries), else the first.
    #[error("{failed} of {tried} files failed ({written} of {total} written): {cause}")]
    Writes {
        failed: usize,
        tried: usize,
        written: usize,
        total: usize,
        cause: WriteError,
    },
    /// The staged files of failed writes could not be deleted (nothing new is written before).
    #[error("deleting the staged files of failed writes: {0}")]
    Release(LakeError),
}

impl AttemptError {
    fn is_transient(&self) -> bool {
        match self {
            Self::Writes { cause, .. } => is_transient(cause),
            Self::Release(err) => err.kind().is_transient(),
        }
    }

    fn into_write_error(self) -> WriteError {
        match self {
            Self::Writes { cause, .. } => cause,
            Self::Release(err) => WriteError::Lake(err),
        }
    }
}

/// Whether a write may succeed later (the lake is away or short of DataNodes).
fn is_transient(err: &WriteError) -> bool {
    matches!(err, WriteError::Lake(err) if err.kind().is_transient())
}

/// The rounds of an attempt that writes the items `pending` (indices), each with how many files
/// it writes at once: all at [`WRITE_CONCURRENCY`] at the first attempt; at a retry one file
/// alone first, so that a lake still sick costs one file's block and lease, not a flush's.
fn write_rounds(pending: &[usize], retry: bool) -> Vec<(&[usize], usize)> {
    let (probe, rest) = if retry && !pending.is_empty() {
        pending.split_at(1)
    } else {
        pending.split_at(0)
    };
    [(probe, 1), (rest, WRITE_CONCURRENCY)]
        .into_iter()
        .filter(|(round, _)| !round.is_empty())
        .collect()
}

impl<'a> Staging<'a> {
    fn new(items: &'a [FlushItem]) -> Self {
        Self {
            items,
            written: items.iter().map(|_| None).collect(),
            failed: Vec::new(),
            attempts: 0,
        }
    }

    /// One attempt: deletes the staged files of failed writes, then writes the items not written
    /// yet (see [`write_rounds`]). A round with a failure that still wrote files goes on at once
    /// with the rest (a lake that takes some writes is not away: the back-off is for attempts
    /// that write nothing).
    async fn attempt(
        &mut self,
        store: &LakeStore,
        log: &Mutex<CommitLog>,
        namer: &FileNamer,
    ) -> Result<(), AttemptError> {
        self.release(store).await.map_err(AttemptError::Release)?;
        let mut probe = self.attempts > 0;
        self.attempts += 1;
        loop {
            let pending: Vec<usize> = (0..self.items.len())
                .filter(|&index| self.written[index].is_none())
                .collect();
            let before = pending.len();
            let mut outcome = Ok(());
            for (round, concurrency) in write_rounds(&pending, probe) {
                outcome = self
                    .write_round(store, log, namer, round, concurrency)
                    .await;
                if outcome.is_err() {
                    break;
                }
            }
            let written = before - self.pending_count();
            match outcome {
                Err(err) if written > 0 && err.is_transient() => {
                    tracing::warn!("{err}; writing the rest at once");
                    self.release(store).await.map_err(AttemptError::Release)?;
                    probe = false;
                }
                outcome => return outcome,
            }
        }
    }

    /// Items not written yet.
    fn pending_count(&self) -> usize {
        self.written.iter().filter(|file| file.is_none()).count()
    }

    /// Writes the items `indices`, `concurrency` at a time (an HDFS file costs a few round trips
    /// to close, so one at a time is slow). After a failure no further write starts; the files
    /// of the failed writes are deleted (those that cannot be are deleted by the next attempt).
    async fn write_round(
        &mut self,
        store: &LakeStore,
        log: &Mutex<CommitLog>,
        namer: &FileNamer,
        indices: &[usize],
        concurrency: usize,
    ) -> Result<(), AttemptError> {
        // Fresh names at every attempt: a failed write's name may not be free yet.
        let names: Vec<String> = indices.iter().map(|_| namer.next()).collect();
        let staged_paths: Vec<String> = {
            let log = log.lock().await;
            names.iter().map(|name| log.staging_path(name)).collect()
        };
        let permits = Arc::new(Semaphore::new(concurrency));
        let stop = Arc::new(AtomicBool::new(false));
        let mut set = tokio::task::JoinSet::new();
        for ((&index, name), staged_path) in indices.iter().zip(names).zip(staged_paths) {
            let item = &self.items[index];
            let (store, permits, stop) = (store.clone(), Arc::clone(&permits), Arc::clone(&stop));
            let (schema, batch, spans) = (
                Arc::clone(&item.schema),
                item.batch.clone(),
                item.spans.clone(),
            );
            set.spawn(async move {
                // The semaphore is never closed.
                let _permit = permits.acquire_owned().await.ok();
                if stop.load(Ordering::Relaxed) {
                    return (index, name, staged_path, None);
                }
                let result = write_file(&store, &staged_path, schema, &batch, &spans).await;
                if result.is_err() {
                    stop.store(true, Ordering::Relaxed);
                }
                (index, name, staged_path, Some(result))
            });
        }
        let (mut failed, mut cause) = (0, None::<WriteError>);
        while let Some(joined) = set.join_next().await {
            let (index, name, staged_path, result) = match joined {
                Ok(done) => done,
                // A panic in a writer task is a bug: propagate it.
                Err(join) => std::panic::resume_unwind(join.into_panic()),
            };
            match result {
                // Not started: a write before it failed.
                None => {}
                Some(Ok(file)) => self.written[index] = Some((name, file)),
                Some(Err(err)) => {
                    failed += 1;
                    self.failed.push(staged_path);
                    if cause
                        .as_ref()
                        .is_none_or(|first| is_transient(first) && !is_transient(&err))
                    {
                        cause = Some(err);
                    }
                }
            }
        }
        let Some(cause) = cause else {
            return Ok(());
        };
        // Now rather than at the next attempt, which may be many seconds away.
        if let Err(err) = self.release(store).await {
            tracing::debug!("{err} (the next attempt deletes them first)");
        }
        Err(AttemptError::Writes {
            failed,
            tried: indices.len(),
            written: self.written.iter().filter(|file| file.is_some()).count(),
            total: self.items.len(),
            cause,
        })
    }

    /// Deletes the staged files of failed writes, [`WRITE_CONCURRENCY`] at a time; keeps the
    /// paths it could not delete and returns the first error.
    async fn release(&mut self, store: &LakeStore) -> Result<(), LakeError> {
        let failed = std::mem::take(&mut self.failed);
        let deletes = futures::stream::iter(failed)
            .map(|path| async move {
                let result = store.delete(&path, false).await;
                (path, result)
            })
            .buffer_unordered(WRITE_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        let mut first_error = None;
        for (path, result) in deletes {
            if let Err(err) = result {
                self.failed.push(path);
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// After a flush gives up writing: deletes every staged file of it (best effort: what is
    /// left is an orphan that recovery removes).
    async fn abandon(mut self, store: &LakeStore) {
        for (_, file) in self.written.iter_mut().filter_map(Option::take) {
            self.failed.push(file.staged_path);
        }
        if let Err(err) = self.release(store).await {
            tracing::warn!("{err} (left for recovery)");
        }
    }

    /// The written files as the commit lists them, in the items' order (once every item is
    /// written).
    fn into_committed(self) -> Vec<CommittedFile> {
        self.items
            .iter()
            .zip(self.written)
            .filter_map(|(item, written)| {
                let (name, file) = written?;
                let path = match &item.destination {
                    Destination::Bronze { partition_dir } => {
                        bronze_path(&item.topic, partition_dir, &name)
                    }
                    Destination::Quarantine => quarantine_path(&item.topic, &name),
                };
                Some(CommittedFile::new(&item.topic, &file, path))
            })
            .collect()
    }
}

/// Writes one staged file.
async fn write_file(
    store: &LakeStore,
    staged_path: &str,
    schema: SchemaRef,
    batch: &RecordBatch,
    spans: &BTreeMap<i32, OffsetSpan>,
) -> Result<StagedFile, WriteError> {
    let options = ParquetOptions::default();
    let mut writer = BronzeFileWriter::create(store, staged_path, schema, &options).await?;
    writer.write(batch, spans).await?;
    writer.finish().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_writes_one_file_alone_first() {
        let pending = [3, 5, 8];
        assert_eq!(
            write_rounds(&pending, false),
            vec![(&pending[..], WRITE_CONCURRENCY)]
        );
        assert_eq!(
            write_rounds(&pending, true),
            vec![(&pending[..1], 1), (&pending[1..], WRITE_CONCURRENCY)]
        );
        assert_eq!(write_rounds(&pending[..1], true), vec![(&pending[..1], 1)]);
        assert!(write_rounds(&[], true).is_empty());
        assert!(write_rounds(&[], false).is_empty());
    }
}
