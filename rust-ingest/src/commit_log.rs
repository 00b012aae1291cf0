//! The bronze commit log, `bronze/_commits/`: which Kafka offsets are in bronze, and which files
//! hold them. It is what makes landing exactly once; the protocol and why each crash is safe
//! are in `rust-ingest/DESIGN-exactly-once.md`.
//!
//! Its folders and file names are in [`crate::layout`]: an entry is written create-exclusive and
//! never rewritten; a checkpoint holds the log's state after every [`CHECKPOINT_EVERY`] entries.
//!
//! Entries are numbered 0, 1, 2, … without gaps; an entry is written under a staging name and
//! renamed to its number without overwriting, so each number is taken once, by one writer, with
//! complete content. A writer commits entry `n` only after reading entries `0..n`, and only if
//! every offset range it commits starts where the log says the partition's next offset is: a
//! zombie (an instance that lost its partitions) or a second instance cannot commit the same
//! offsets twice.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use soundlake_core::lake::{LakeError, LakeErrorKind, LakeStore};
use tracing::{info, warn};

use crate::layout::{
    self, checkpoint_path, entry_path, parse_checkpoint_name, parse_entry_name, COMMITS,
    COMPACTIONS,
};
use crate::offsets::OffsetSpan;
use crate::parquet_writer::StagedFile;

/// Format version written into entries and checkpoints.
pub const FORMAT: u32 = 1;
/// A checkpoint is written after every this many entries.
pub const CHECKPOINT_EVERY: u64 = 100;

/// Renames of one commit sent to the lake at the same time (each is a NameNode round trip, and
/// a backfill's flush publishes hundreds of files).
const PUBLISH_CONCURRENCY: usize = 16;

/// A half-open range `[from, to)` of a Kafka partition's offsets that a commit covers: every
/// record in it is in the commit's files or in quarantine (offsets may have gaps).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetRange {
    pub topic: String,
    pub partition: i32,
    /// The consumer position the range starts at: the log's next offset for the partition.
    pub from: i64,
    /// The next offset to consume after this commit.
    pub to: i64,
}

/// What one file holds of one Kafka partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSpan {
    pub partition: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub rows: u64,
}

/// A file a commit makes visible: renamed from `staged` to `path` after the entry is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedFile {
    pub topic: String,
    pub staged: String,
    pub path: String,
    pub bytes: u64,
    pub rows: u64,
    pub spans: Vec<FileSpan>,
}

impl CommittedFile {
    /// The entry of a staged file that goes to `path`.
    pub fn new(topic: &str, staged: &StagedFile, path: String) -> Self {
        Self {
            topic: topic.to_owned(),
            staged: staged.staged_path.clone(),
            path,
            bytes: staged.bytes,
            rows: staged.rows,
            spans: spans_of(&staged.spans),
        }
    }
}

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitEntry {
    pub format: u32,
    pub seq: u64,
    pub writer: String,
    /// Unique per commit attempt: tells a writer whether an entry it may have written is its.
    pub nonce: String,
    pub committed_at_ms: i64,
    /// The `_ingested_at` of every row the entry commits (the start of its flush): the lake as
    /// of this entry is its files and those before, `_ingested_at <=` this for one writer.
    /// Absent in entries of writers from before it was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingested_at_us: Option<i64>,
    pub ranges: Vec<OffsetRange>,
    pub files: Vec<CommittedFile>,
}

/// The state of the log after some entry, as written every [`CHECKPOINT_EVERY`] entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub format: u32,
    /// The number of entries the checkpoint covers (the next entry's number).
    pub next_seq: u64,
    pub positions: Vec<Position>,
    /// Each writer's last entry: the only one of its entries whose renames may be unfinished.
    pub last_by_writer: BTreeMap<String, u64>,
}

/// The next offset to consume of one Kafka partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub topic: String,
    pub partition: i32,
    pub next: i64,
}

/// What to commit: the offset ranges consumed and the staged files holding their records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingCommit {
    pub ranges: Vec<OffsetRange>,
    pub files: Vec<CommittedFile>,
    /// The `_ingested_at` stamped on the files' rows (`schema::stamp_ingested_at`).
    pub ingested_at_us: i64,
}

/// Why a commit or a recovery failed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("{topic}[{partition}]: this writer consumed from offset {from} but the commit log says the next offset is {expected}: another instance committed these offsets (rebalance or zombie); drop the pending files and seek to {expected}")]
    Fenced {
        topic: String,
        partition: i32,
        from: i64,
        expected: i64,
    },
    #[error("commit entry {seq} may or may not have been written ({source}); call refresh() and recover(), then seek to the log's positions before going on")]
    Unknown { seq: u64, source: LakeError },
    #[error("commit log entry {url} is unreadable: {reason}; the log is append-only and entries are written atomically, so this needs a person: inspect or restore it from a backup")]
    Corrupt { url: String, reason: String },
    #[error("commit log {url} has entry {found} but not {missing}; entries must be numbered without gaps: inspect the folder")]
    Gap {
        url: String,
        found: u64,
        missing: u64,
    },
    #[error("committed file {staged} → {path} is missing under both names; it was deleted by something other than the lander: restore it, or accept the loss of its rows")]
    MissingFile { staged: String, path: String },
    #[error("commit log entry {url} is missing (archived after a checkpoint?): finding unreferenced files needs the whole log; restore the archived entries first")]
    Incomplete { url: String },
    #[error("the writer id {0:?} must be 1–64 characters of A–Z, a–z, 0–9, `-`, `_`, `.`")]
    BadWriterId(String),
    #[error("a commit must cover at least one offset range")]
    Empty,
    #[error("cannot encode a commit log entry: {0}")]
    Encode(String),
}

/// What [`CommitLog::recover`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Committed files renamed into place by this recovery (their writer died before).
    pub published: usize,
    /// Staged files of this writer that no entry references, deleted.
    pub orphans_deleted: usize,
    /// Committed files found under neither name (deleted by something else): reported, not
    /// fatal, so that a lost file cannot block every later start.
    pub missing: Vec<String>,
}

/// The log, as read by one writer. The writer id must be unique among running instances
/// (use the consumer's `group.instance.id`): a writer deletes its own staging folder's orphans.
pub struct CommitLog {
    store: LakeStore,
    writer: String,
    state: LogState,
    /// An entry of this writer whose renames have not all succeeded yet.
    unpublished: Option<CommitEntry>,
    attempts: u64,
    started_ms: i64,
}

#[derive(Debug, Clone, Default)]
struct LogState {
    next_seq: u64,
    positions: BTreeMap<(String, i32), i64>,
    last_by_writer: BTreeMap<String, u64>,
}

impl LogState {
    fn apply(&mut self, entry: &CommitEntry) {
        for range in &entry.ranges {
            self.positions
                .insert((range.topic.clone(), range.partition), range.to);
        }
        self.last_by_writer.insert(entry.writer.clone(), entry.seq);
        self.next_seq = entry.seq + 1;
    }

    fn from_checkpoint(checkpoint: Checkpoint) -> Self {
        Self {
            next_seq: checkpoint.next_seq,
            positions: checkpoint
                .positions
                .into_iter()
                .map(|p| ((p.topic, p.partition), p.next))
                .collect(),
            last_by_writer: checkpoint.last_by_writer,
        }
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            format: FORMAT,
            next_seq: self.next_seq,
            positions: self
                .positions
                .iter()
                .map(|((topic, partition), next)| Position {
                    topic: topic.clone(),
                    partition: *partition,
                    next: *next,
                })
                .collect(),
            last_by_writer: self.last_by_writer.clone(),
        }
    }
}

impl CommitLog {
    /// Reads the log (latest checkpoint, then the entries after it).
    pub async fn open(store: LakeStore, writer: &str) -> Result<Self, CommitError> {
        if writer.is_empty()
            || writer.len() > 64
            || !writer
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(CommitError::BadWriterId(writer.to_owned()));
        }
        let mut log = Self {
            store,
            writer: writer.to_owned(),
            state: LogState::default(),
            unpublished: None,
            attempts: 0,
            started_ms: now_ms(),
        };
        let listing = log.store.list_or_empty(COMMITS, false).await?;
        let mut last_entry = None;
        let mut last_checkpoint = None;
        for item in listing.iter().filter(|e| !e.is_dir) {
            if let Some(seq) = parse_entry_name(item.name()) {
                last_entry = last_entry.max(Some(seq));
            } else if let Some(next) = parse_checkpoint_name(item.name()) {
                last_checkpoint = last_checkpoint.max(Some(next));
            }
        }
        if let Some(next) = last_checkpoint {
            let path = checkpoint_path(next);
            let checkpoint: Checkpoint = log.read_json(&path).await?;
            log.state = LogState::from_checkpoint(checkpoint);
        }
        log.refresh().await?;
        if let Some(found) = last_entry.filter(|found| *found >= log.state.next_seq) {
            return Err(CommitError::Gap {
                url: log.store.url_of(COMMITS),
                found,
                missing: log.state.next_seq,
            });
        }
        Ok(log)
    }

    /// Reads the entries other writers added since the last read.
    pub async fn refresh(&mut self) -> Result<usize, CommitError> {
        let mut read = 0;
        while let Some(entry) = self.read_entry(self.state.next_seq).await? {
            self.state.apply(&entry);
            read += 1;
        }
        Ok(read)
    }

    /// This writer's id.
    pub fn writer(&self) -> &str {
        &self.writer
    }

    /// The number the next entry will get.
    pub fn next_seq(&self) -> u64 {
        self.state.next_seq
    }

    /// The next offset to consume of a partition, if the log has ever committed it.
    pub fn next_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        self.state
            .positions
            .get(&(topic.to_owned(), partition))
            .copied()
    }

    /// Every committed partition's next offset.
    pub fn positions(&self) -> impl Iterator<Item = (&str, i32, i64)> {
        self.state
            .positions
            .iter()
            .map(|((topic, partition), next)| (topic.as_str(), *partition, *next))
    }

    /// This writer's staging folder: data files are written below it, then committed.
    pub fn staging_dir(&self) -> String {
        layout::staging_dir(&self.writer)
    }

    /// A fresh staging path for a file named `name`.
    pub fn staging_path(&self, name: &str) -> String {
        format!("{}/{name}", self.staging_dir())
    }

    /// Commits `pending`: writes the next entry (create-exclusive), then renames its files into
    /// place. Returns the entry. On [`CommitError::Fenced`] nothing was committed: delete the
    /// staged files and seek to the log's position. On [`CommitError::Unknown`], refresh and
    /// recover before going on.
    pub async fn commit(&mut self, pending: PendingCommit) -> Result<CommitEntry, CommitError> {
        if pending.ranges.is_empty() {
            return Err(CommitError::Empty);
        }
        self.publish_unfinished().await?;
        let entry = loop {
            self.check_ranges(&pending.ranges)?;
            let entry = self.entry_for(&pending);
            let json = serde_json::to_vec_pretty(&entry)
                .map_err(|err| CommitError::Encode(err.to_string()))?;
            match self.write_entry(&entry, Bytes::from(json)).await {
                Ok(()) => break entry,
                Err(err) if err.kind() == LakeErrorKind::AlreadyExists => {
                    // Another writer took this number: read what it committed and try again.
                    self.refresh().await?;
                }
                Err(source) => {
                    return Err(CommitError::Unknown {
                        seq: entry.seq,
                        source,
                    })
                }
            }
        };
        self.state.apply(&entry);
        self.unpublished = Some(entry.clone());
        self.publish_unfinished().await?;
        if entry.seq > 0 && (entry.seq + 1) % CHECKPOINT_EVERY == 0 {
            self.write_checkpoint().await;
        }
        Ok(entry)
    }

    /// Finishes what crashed writers left: renames the files of every writer's last entry into
    /// place (idempotent) and deletes this writer's staged files that no entry references.
    /// Call it on start and after [`CommitError::Unknown`].
    pub async fn recover(&mut self) -> Result<Recovery, CommitError> {
        self.refresh().await?;
        let mut report = Recovery::default();
        let last: Vec<u64> = self.state.last_by_writer.values().copied().collect();
        for seq in last {
            if let Some(entry) = self.read_entry(seq).await? {
                match self.publish(&entry).await {
                    Ok(renamed) => report.published += renamed,
                    Err(CommitError::MissingFile { path, .. }) => {
                        warn!(%path, seq, "a committed file is missing");
                        report.missing.push(path);
                    }
                    Err(err) => return Err(err),
                }
            }
        }
        self.unpublished = None;
        for item in self.store.list_or_empty(&self.staging_dir(), true).await? {
            if !item.is_dir {
                info!(path = %item.path, "deleting an uncommitted staged file");
                if self.store.delete(&item.path, false).await? {
                    report.orphans_deleted += 1;
                }
            }
        }
        Ok(report)
    }

    /// Files under `bronze/<topic>/` that no entry references (written by something other
    /// than this protocol, or left by a bug): with `move_to_orphans`, moved to
    /// `bronze/_orphans/<topic>/…` so that readers stop seeing them. Reads the whole log.
    pub async fn unreferenced_files(
        &self,
        topic: &str,
        move_to_orphans: bool,
    ) -> Result<Vec<String>, CommitError> {
        let mut referenced = BTreeSet::new();
        let mut seq = 0;
        while let Some(entry) = self.read_entry(seq).await? {
            referenced.extend(entry.files.into_iter().map(|f| f.path));
            seq += 1;
        }
        if seq < self.state.next_seq {
            // Entries were archived after a checkpoint: their files would look unreferenced.
            return Err(CommitError::Incomplete {
                url: self.store.url_of(&entry_path(seq)),
            });
        }
        referenced.extend(self.compacted_files().await?);
        let mut unreferenced = Vec::new();
        let dir = layout::topic_dir(topic);
        for item in self.store.list_or_empty(&dir, true).await? {
            if item.is_dir || referenced.contains(&item.path) {
                continue;
            }
            if move_to_orphans {
                let target = layout::orphan_path(&item.path);
                warn!(path = %item.path, %target, "moving an unreferenced file out of bronze");
                self.store.rename_no_replace(&item.path, &target).await?;
            }
            unreferenced.push(item.path);
        }
        Ok(unreferenced)
    }

    /// The files that committed compactions wrote (`outputs[].path` of every
    /// `bronze/_compactions/*.json`): referenced by the compaction record, not by this log.
    async fn compacted_files(&self) -> Result<BTreeSet<String>, CommitError> {
        #[derive(Deserialize)]
        struct Output {
            path: String,
        }
        #[derive(Deserialize)]
        struct Record {
            outputs: Vec<Output>,
        }
        let mut files = BTreeSet::new();
        for item in self.store.list_or_empty(COMPACTIONS, false).await? {
            if item.is_dir || !item.path.ends_with(".json") {
                continue;
            }
            let body = self.store.read(&item.path).await?;
            let record: Record =
                serde_json::from_slice(&body).map_err(|err| CommitError::Corrupt {
                    url: self.store.url_of(&item.path),
                    reason: format!("not a compaction record: {err}"),
                })?;
            files.extend(record.outputs.into_iter().map(|output| output.path));
        }
        Ok(files)
    }

    fn check_ranges(&self, ranges: &[OffsetRange]) -> Result<(), CommitError> {
        for range in ranges {
            if let Some(expected) = self.next_offset(&range.topic, range.partition) {
                if expected != range.from {
                    return Err(CommitError::Fenced {
                        topic: range.topic.clone(),
                        partition: range.partition,
                        from: range.from,
                        expected,
                    });
                }
            }
        }
        Ok(())
    }

    fn entry_for(&mut self, pending: &PendingCommit) -> CommitEntry {
        self.attempts += 1;
        CommitEntry {
            format: FORMAT,
            seq: self.state.next_seq,
            writer: self.writer.clone(),
            nonce: format!("{}-{}-{}", self.writer, self.started_ms, self.attempts),
            committed_at_ms: now_ms(),
            ingested_at_us: Some(pending.ingested_at_us),
            ranges: pending.ranges.clone(),
            files: pending.files.clone(),
        }
    }

    async fn write_entry(&self, entry: &CommitEntry, json: Bytes) -> Result<(), LakeError> {
        let temp = self.staging_path(&format!("commit-{:020}-{}.json", entry.seq, entry.nonce));
        self.store
            .create_exclusive(&entry_path(entry.seq), &temp, json)
            .await
            .map(drop)
    }

    async fn write_checkpoint(&self) {
        let checkpoint = self.state.checkpoint();
        let path = checkpoint_path(checkpoint.next_seq);
        let temp = self.staging_path(&layout::staged_checkpoint_name(checkpoint.next_seq));
        let json = match serde_json::to_vec(&checkpoint) {
            Ok(json) => json,
            Err(err) => return warn!(%err, "could not encode a commit log checkpoint"),
        };
        match self
            .store
            .create_exclusive(&path, &temp, Bytes::from(json))
            .await
        {
            Ok(_) => info!(
                next_seq = checkpoint.next_seq,
                "wrote a commit log checkpoint"
            ),
            Err(err) if err.kind() == LakeErrorKind::AlreadyExists => {}
            // A missing checkpoint only makes the next start read more entries.
            Err(err) => warn!(%err, "could not write a commit log checkpoint"),
        }
    }

    async fn publish_unfinished(&mut self) -> Result<(), CommitError> {
        if let Some(entry) = self.unpublished.clone() {
            self.publish(&entry).await?;
            self.unpublished = None;
        }
        Ok(())
    }

    /// Renames an entry's files into place, [`PUBLISH_CONCURRENCY`] at a time (the entry is
    /// durable already, so their order does not matter); files already there count as done.
    /// Returns how many this call renamed.
    async fn publish(&self, entry: &CommitEntry) -> Result<usize, CommitError> {
        let mut renamed = 0;
        for chunk in entry.files.chunks(PUBLISH_CONCURRENCY) {
            let renames: Vec<_> = chunk.iter().map(|file| self.publish_file(file)).collect();
            for outcome in join_all(renames).await {
                if outcome? {
                    renamed += 1;
                }
            }
        }
        Ok(renamed)
    }

    /// Renames one file into place: `true` if this call renamed it, `false` if it was there.
    async fn publish_file(&self, file: &CommittedFile) -> Result<bool, CommitError> {
        match self.store.rename_no_replace(&file.staged, &file.path).await {
            Ok(()) => Ok(true),
            Err(err) if err.kind() == LakeErrorKind::NotFound => {
                if self.store.exists(&file.path).await? {
                    Ok(false)
                } else {
                    Err(CommitError::MissingFile {
                        staged: self.store.url_of(&file.staged),
                        path: self.store.url_of(&file.path),
                    })
                }
            }
            Err(err) if err.kind() == LakeErrorKind::AlreadyExists => {
                // Both names exist: a local rename (link, then unlink) was interrupted, or
                // another writer's recovery raced this one. The target is the file.
                self.store.delete(&file.staged, false).await?;
                Ok(false)
            }
            Err(err) => Err(err.into()),
        }
    }

    async fn read_entry(&self, seq: u64) -> Result<Option<CommitEntry>, CommitError> {
        let path = entry_path(seq);
        match self.store.read(&path).await {
            Ok(bytes) => {
                let entry: CommitEntry = self.parse(&path, &bytes)?;
                if entry.seq != seq {
                    return Err(CommitError::Corrupt {
                        url: self.store.url_of(&path),
                        reason: format!("it says it is entry {}", entry.seq),
                    });
                }
                Ok(Some(entry))
            }
            Err(err) if err.kind() == LakeErrorKind::NotFound => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    async fn read_json<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T, CommitError> {
        let bytes = self.store.read(path).await?;
        self.parse(path, &bytes)
    }

    fn parse<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        bytes: &[u8],
    ) -> Result<T, CommitError> {
        serde_json::from_slice(bytes).map_err(|err| CommitError::Corrupt {
            url: self.store.url_of(path),
            reason: err.to_string(),
        })
    }
}

fn spans_of(spans: &BTreeMap<i32, OffsetSpan>) -> Vec<FileSpan> {
    spans
        .iter()
        .map(|(partition, span)| FileSpan {
            partition: *partition,
            first_offset: span.first_offset,
            last_offset: span.last_offset,
            rows: span.rows,
        })
        .collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
