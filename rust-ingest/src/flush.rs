//! One flush of the lander: the buffered batches of every topic written as staged Parquet
//! files, then committed with their offset ranges in one commit-log entry.
//!
//! A flush runs as a task on the lander's runtime while the poll loop goes on filling fresh
//! buffers (see `lander`): encoding and writing overlap with consuming and decoding, and with
//! the flushes before it (up to [`MAX_IN_FLIGHT`]). Commits happen in order: a flush's ranges
//! start where the previous one's end, so it commits only after the previous one did (its
//! turn), and gives up if that one failed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use soundlake_core::lake::LakeStore;
use soundlake_core::retry::RetryPolicy;
use tokio::sync::{oneshot, Mutex, OwnedSemaphorePermit, Semaphore};

use crate::commit_log::{CommitError, CommitLog, CommittedFile, OffsetRange, PendingCommit};
use crate::layout::{bronze_path, data_file_name, quarantine_path};
use crate::offsets::OffsetSpan;
use crate::parquet_writer::{BronzeFileWriter, ParquetOptions, WriteError};

/// Flushes written at the same time (each holds its buffers: memory grows with it).
pub const MAX_IN_FLIGHT: usize = 2;

/// Staged files written at the same time by one flush. Closing an HDFS file waits for the
/// NameNode to see the DataNode's block report (a retry of `complete`, 10 ms first with the
/// patched hdfs-native: vendor/README.md), so files are written many at a time; each also
/// reserves a block's worth of the DataNode's free space while it is open.
pub const WRITE_CONCURRENCY: usize = 32;
/// How a flush waits out a lake that is away: without limit (nothing is committed before every
/// file is written, and the commit log makes a retry safe).
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
/// attempt (the staged files of a failed attempt are orphans that recovery removes).
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
    /// file is written), waits for its turn, and commits them. `gate` is held until the commit
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
        let files = LAKE_AWAY
            .retry(
                "writing a flush's files (the lake is away; nothing committed)",
                |err| matches!(err, WriteError::Lake(err) if err.kind().is_transient()),
                || write_files(store, log, &items, namer),
            )
            .await
            .map_err(FlushError::Write)?;
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

/// Writes every item to staging, up to [`WRITE_CONCURRENCY`] at a time (an HDFS file costs a
/// few round trips to close, so one at a time is slow).
async fn write_files(
    store: &LakeStore,
    log: &Mutex<CommitLog>,
    items: &[FlushItem],
    namer: &FileNamer,
) -> Result<Vec<CommittedFile>, WriteError> {
    let names: Vec<String> = items.iter().map(|_| namer.next()).collect();
    let staged_paths: Vec<String> = {
        let log = log.lock().await;
        names.iter().map(|name| log.staging_path(name)).collect()
    };
    let permits = Arc::new(Semaphore::new(WRITE_CONCURRENCY));
    let mut set = tokio::task::JoinSet::new();
    for (index, (item, staged_path)) in items.iter().zip(&staged_paths).enumerate() {
        let store = store.clone();
        let permits = Arc::clone(&permits);
        let (staged_path, schema) = (staged_path.clone(), Arc::clone(&item.schema));
        let (batch, spans) = (item.batch.clone(), item.spans.clone());
        set.spawn(async move {
            // The semaphore is never closed.
            let _permit = permits.acquire_owned().await.ok();
            let options = ParquetOptions::default();
            let mut writer =
                BronzeFileWriter::create(&store, &staged_path, schema, &options).await?;
            writer.write(&batch, &spans).await?;
            writer.finish().await.map(|staged| (index, staged))
        });
    }
    let mut staged = Vec::with_capacity(items.len());
    let mut first_error = None;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok(file)) => staged.push(file),
            Ok(Err(err)) => {
                first_error.get_or_insert(err);
            }
            // A panic in a writer task is a bug: propagate it.
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }
    if let Some(err) = first_error {
        return Err(err);
    }
    staged.sort_by_key(|(index, _)| *index);
    Ok(staged
        .into_iter()
        .map(|(index, file)| {
            let (item, name) = (&items[index], &names[index]);
            let path = match &item.destination {
                Destination::Bronze { partition_dir } => {
                    bronze_path(&item.topic, partition_dir, name)
                }
                Destination::Quarantine => quarantine_path(&item.topic, name),
            };
            CommittedFile::new(&item.topic, &file, path)
        })
        .collect())
}
