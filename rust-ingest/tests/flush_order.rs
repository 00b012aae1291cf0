//! Flushes in flight on a `file://` lake: a flush commits only after the one before it (even
//! when its files are written first), and gives up when that one was refused — its staged
//! files are orphans that recovery removes (rust-ingest/DESIGN-exactly-once.md, "Flushes in
//! flight").

mod common;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::{DataType, Field, Schema};
use common::LocalLake;
use soundlake_ingest::commit_log::{CommitError, CommitLog, OffsetRange};
use soundlake_ingest::flush::{Destination, FileNamer, FlushError, FlushItem, FlushJob, Flushed};
use soundlake_ingest::parquet_writer::WriteError;
use soundlake_ingest::quarantine::{quarantine_schema, QuarantineBuffer, QuarantinedRecord};
use tokio::sync::{oneshot, Mutex, Semaphore};
use tokio::task::JoinHandle;

const TOPIC: &str = "listen_events";
const WRITER: &str = "w1";

/// What the tests need: the lake, its log, and the flushes' permits.
struct Fixture {
    lake: LocalLake,
    log: Arc<Mutex<CommitLog>>,
    gate: Arc<Semaphore>,
    namer: FileNamer,
}

impl Fixture {
    async fn new(prefix: &str) -> Self {
        let lake = LocalLake::new(prefix);
        let log = CommitLog::open(lake.store.clone(), WRITER)
            .await
            .expect("open the log");
        Self {
            lake,
            log: Arc::new(Mutex::new(log)),
            gate: Arc::new(Semaphore::new(2)),
            namer: FileNamer {
                writer_id: WRITER.into(),
                started_ms: 1,
                counter: Arc::new(AtomicU64::new(0)),
            },
        }
    }

    /// Starts a flush of partition 0's offsets `from..to` (one quarantine file holding them).
    fn start(
        &self,
        from: i64,
        to: i64,
        turn: Option<oneshot::Receiver<bool>>,
    ) -> (
        JoinHandle<Result<Flushed, FlushError>>,
        oneshot::Receiver<bool>,
    ) {
        self.start_items(vec![quarantine_item(from, to)], from, to, turn)
    }

    /// Starts a flush of `items`, committing partition 0's offsets `from..to`.
    fn start_items(
        &self,
        items: Vec<FlushItem>,
        from: i64,
        to: i64,
        turn: Option<oneshot::Receiver<bool>>,
    ) -> (
        JoinHandle<Result<Flushed, FlushError>>,
        oneshot::Receiver<bool>,
    ) {
        let (done, next_turn) = oneshot::channel();
        let job = FlushJob {
            items,
            ranges: vec![OffsetRange {
                topic: TOPIC.into(),
                partition: 0,
                from,
                to,
            }],
            ingested_at_us: to,
            namer: self.namer.clone(),
            turn,
            done,
        };
        let permit = Arc::clone(&self.gate)
            .try_acquire_owned()
            .expect("a free permit");
        let task = tokio::spawn(job.run(self.lake.store.clone(), Arc::clone(&self.log), permit));
        (task, next_turn)
    }

    async fn staged_files(&self) -> usize {
        let dir = self.log.lock().await.staging_dir();
        self.lake
            .store
            .list_or_empty(&dir, true)
            .await
            .expect("list staging")
            .iter()
            .filter(|e| !e.is_dir)
            .count()
    }
}

/// One quarantine file holding partition 0's offsets `from..to`.
fn quarantine_item(from: i64, to: i64) -> FlushItem {
    let mut buffer = QuarantineBuffer::default();
    for offset in from..to {
        buffer.push(QuarantinedRecord {
            value: Some(vec![0]),
            partition: 0,
            offset,
            timestamp_ms: None,
            reason: "bad_magic",
            detail: "test".into(),
            ingested_at_us: 0,
        });
    }
    FlushItem {
        topic_index: 0,
        topic: TOPIC.into(),
        schema: quarantine_schema(),
        batch: buffer.to_batch(TOPIC).expect("a quarantine batch"),
        spans: buffer.spans(),
        destination: Destination::Quarantine,
    }
}

#[tokio::test]
async fn a_flush_commits_after_the_one_before_it() {
    let f = Fixture::new("flush-order").await;
    let (first_done, second_turn) = oneshot::channel::<bool>();
    // The second flush starts first and writes its file; it must wait for its turn.
    let (second, _third_turn) = f.start(10, 20, Some(second_turn));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !second.is_finished(),
        "the second flush committed before the first"
    );
    assert_eq!(f.log.lock().await.next_offset(TOPIC, 0), None);

    // The first flush, chained by hand: its outcome is the second one's turn.
    let (first, first_outcome) = f.start(0, 10, None);
    let first = first.await.expect("no panic").expect("the first commits");
    first_done
        .send(first_outcome.await.expect("an outcome"))
        .expect("the second waits");
    let second = second.await.expect("no panic").expect("the second commits");
    assert_eq!((first.seq, second.seq), (0, 1));
    assert_eq!(f.log.lock().await.next_offset(TOPIC, 0), Some(20));
    assert_eq!(f.staged_files().await, 0, "committed files left staging");
}

#[tokio::test]
async fn a_flush_after_a_refused_one_gives_up_and_recovery_cleans_its_files() {
    let f = Fixture::new("flush-refused").await;
    let (first, first_outcome) = f.start(0, 10, None);
    first.await.expect("no panic").expect("the first commits");
    assert!(first_outcome.await.expect("an outcome"));

    // A zombie's flush from offset 5 is fenced; the flush chained after it gives up.
    let (fenced, fenced_outcome) = f.start(5, 15, None);
    let (later, _) = f.start(15, 25, Some(fenced_outcome));
    match fenced.await.expect("no panic") {
        Err(FlushError::Commit(CommitError::Fenced { expected, .. })) => assert_eq!(expected, 10),
        Err(other) => panic!("expected a fenced commit, got {other}"),
        Ok(flushed) => panic!("a fenced range committed as entry {}", flushed.seq),
    }
    assert!(matches!(
        later.await.expect("no panic"),
        Err(FlushError::Abandoned)
    ));
    assert_eq!(f.log.lock().await.next_offset(TOPIC, 0), Some(10));

    // Both left their staged files; recovery removes them, and nothing else moved.
    assert_eq!(f.staged_files().await, 2);
    f.log.lock().await.recover().await.expect("recover");
    assert_eq!(f.staged_files().await, 0);
    assert_eq!(f.log.lock().await.next_offset(TOPIC, 0), Some(10));
}

#[tokio::test]
async fn a_flush_that_fails_mid_write_leaves_no_staged_file() {
    let f = Fixture::new("flush-failed-write").await;
    // The second file's batch does not match its file's schema: the file is created, then its
    // first write fails (for good: the flush gives up, the first file written or not).
    let mut broken = quarantine_item(10, 20);
    let mut fields: Vec<Field> = broken
        .schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields[0] = Field::new(fields[0].name(), DataType::Int64, true);
    broken.schema = Arc::new(Schema::new(fields));
    let (flush, outcome) = f.start_items(vec![quarantine_item(0, 10), broken], 0, 20, None);
    match flush.await.expect("no panic") {
        Err(FlushError::Write(WriteError::Parquet { .. })) => {}
        Err(other) => panic!("expected a Parquet error, got {other}"),
        Ok(flushed) => panic!("a broken file committed as entry {}", flushed.seq),
    }
    assert!(!outcome.await.expect("an outcome"));
    assert_eq!(f.log.lock().await.next_offset(TOPIC, 0), None);
    assert_eq!(
        f.staged_files().await,
        0,
        "the flush that gave up left staged files (the failed one still open)"
    );
}
