//! Land listen events as zstd Parquet in bronze — on a `file://` lake and on the local stack's
//! real HDFS — through the staging folder and the commit log, then read the files back with the
//! parquet crate: the schema is the bronze schema, every row is there once.
//!
//! The HDFS test fails (never skips) when HDFS does not answer: `make stack-up` first.

mod common;

use std::collections::BTreeSet;

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use common::{append_listen, listen_batches, LocalLake};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding, Type};
use soundlake_core::lake::{LakeStore, LakeUrl};
use soundlake_ingest::commit_log::{CommitLog, CommittedFile, OffsetRange, PendingCommit};
use soundlake_ingest::layout::{bronze_path, data_file_name};
use soundlake_ingest::parquet_writer::{BronzeFileWriter, ParquetOptions, RollPolicy};
use soundlake_testkit::{require, Service, TestHdfsDir};

const TOPIC: &str = "listen_events";
const PARTITION: i32 = 4;
/// Offsets 0..ROWS, one event per second: 5000 s spans two hours (07 and 08).
const ROWS: i64 = 5000;

/// Builds the rows, writes one staged file per bronze partition (rolling by rows), commits
/// them, and returns the committed lake paths.
async fn land(store: &LakeStore, options: &ParquetOptions, policy: RollPolicy) -> Vec<String> {
    let mut log = CommitLog::open(store.clone(), "test-lander")
        .await
        .expect("open the commit log");
    log.recover().await.expect("recover");
    let mut batches = listen_batches();
    for offset in 0..ROWS {
        append_listen(&mut batches, PARTITION, offset).expect("append");
    }
    let schema = batches.schema().arrow_schema();
    let mut files = Vec::new();
    let mut n = 0;
    for finished in batches.finish_all().expect("finish") {
        // Write the partition's rows in slices, rolling files as the policy says.
        let mut writer: Option<BronzeFileWriter> = None;
        let mut start = 0;
        while start < finished.batch.num_rows() {
            let len = 700.min(finished.batch.num_rows() - start);
            let slice = finished.batch.slice(start, len);
            start += len;
            if writer.is_none() {
                n += 1;
                let staged = log.staging_path(&data_file_name("test-lander", 0, n));
                let created = BronzeFileWriter::create(store, &staged, schema.clone(), options)
                    .await
                    .expect("create a staged file");
                writer = Some(created);
            }
            if let Some(open) = writer.as_mut() {
                // The spans of a slice are not tracked separately here: the whole batch's
                // spans are attached to the first slice.
                let spans = if start == len {
                    finished.spans.clone()
                } else {
                    Default::default()
                };
                open.write(&slice, &spans).await.expect("write");
                if open.should_roll(&policy) {
                    if let Some(full) = writer.take() {
                        files.push((finished.key, full.finish().await.expect("finish")));
                    }
                }
            }
        }
        if let Some(last) = writer.take() {
            files.push((finished.key, last.finish().await.expect("finish")));
        }
    }
    let committed: Vec<CommittedFile> = files
        .iter()
        .map(|(key, staged)| {
            let name = staged
                .staged_path
                .rsplit('/')
                .next()
                .expect("a file name")
                .to_owned();
            CommittedFile::new(TOPIC, staged, bronze_path(TOPIC, &key.dir(), &name))
        })
        .collect();
    let entry = log
        .commit(PendingCommit {
            ranges: vec![OffsetRange {
                topic: TOPIC.into(),
                partition: PARTITION,
                from: 0,
                to: ROWS,
            }],
            files: committed,
            ingested_at_us: 1,
        })
        .await
        .expect("commit");
    assert_eq!(log.next_offset(TOPIC, PARTITION), Some(ROWS));
    entry.files.into_iter().map(|f| f.path).collect()
}

/// Reads every committed file back and checks schema, compression and offsets.
async fn check(store: &LakeStore, paths: &[String]) {
    let expected_schema = listen_batches().schema().arrow_schema();
    let mut offsets = BTreeSet::new();
    let mut hours = BTreeSet::new();
    for path in paths {
        assert!(path.starts_with("bronze/listen_events/event_date=2025-11-25/hour="));
        hours.insert(path.split('/').nth(3).expect("hour").to_owned());
        let bytes = store.read(path).await.expect("read back");
        let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).expect("a Parquet file");
        let metadata = builder.metadata().clone();
        assert_eq!(
            builder.schema().fields(),
            expected_schema.fields(),
            "{path}"
        );
        for row_group in metadata.row_groups() {
            for column in row_group.columns() {
                let name = column.column_path().string();
                assert!(
                    matches!(column.compression(), Compression::ZSTD(_)),
                    "{path}"
                );
                // ts and offsets: delta-encoded, no dictionary; the rest: dictionaries.
                let delta = name == "ts" || name == "_kafka_offset";
                assert_eq!(
                    column
                        .encodings()
                        .any(|e| e == Encoding::DELTA_BINARY_PACKED),
                    delta,
                    "{path} {name}: {:?}",
                    column.encodings().collect::<Vec<_>>()
                );
                assert_eq!(
                    column.dictionary_page_offset().is_some(),
                    !delta,
                    "{path} {name}"
                );
                // Statistics for every column but strings (never filtered on in bronze); a
                // column of nulls only has no bounds.
                let stats = column.statistics();
                if column.column_descr().physical_type() == Type::BYTE_ARRAY {
                    assert!(
                        stats.is_none_or(|s| s.min_bytes_opt().is_none()),
                        "{path} {name}: string bounds"
                    );
                } else {
                    assert!(stats.is_some(), "{path} {name}: no statistics");
                }
                if name == "_kafka_offset" {
                    assert!(
                        stats.is_some_and(|s| s.min_bytes_opt().is_some()),
                        "{path}: offset bounds"
                    );
                }
            }
        }
        let rows: i64 = metadata.row_groups().iter().map(|g| g.num_rows()).sum();
        let mut read = 0;
        for batch in builder.build().expect("reader") {
            let batch = batch.expect("a batch");
            read += batch.num_rows();
            let column = batch
                .column_by_name("_kafka_offset")
                .expect("_kafka_offset");
            for offset in column.as_primitive::<Int64Type>().values() {
                assert!(offsets.insert(*offset), "offset {offset} twice");
            }
        }
        assert_eq!(i64::try_from(read).expect("rows"), rows, "{path}");
    }
    assert_eq!(offsets.len(), usize::try_from(ROWS).expect("rows"));
    assert_eq!(offsets.first(), Some(&0));
    assert_eq!(offsets.last(), Some(&(ROWS - 1)));
    assert_eq!(
        hours.into_iter().collect::<Vec<_>>(),
        ["hour=07", "hour=08"]
    );
}

fn small_files() -> (ParquetOptions, RollPolicy) {
    // Tiny row groups and spill chunks so that files stream in several pieces.
    let options = ParquetOptions {
        row_group_bytes: 16 * 1024,
        spill_bytes: 8 * 1024,
        ..ParquetOptions::default()
    };
    let policy = RollPolicy {
        max_file_bytes: u64::MAX,
        max_rows: 2000,
    };
    (options, policy)
}

#[tokio::test]
async fn lands_parquet_in_a_local_lake() {
    let lake = LocalLake::new("bronze");
    let (options, policy) = small_files();
    let paths = land(&lake.store, &options, policy).await;
    // 3600 rows in hour 07 (2 files of ≤ 2000), 1400 in hour 08 (1 file).
    assert_eq!(paths.len(), 3, "{paths:?}");
    check(&lake.store, &paths).await;
}

#[tokio::test]
async fn lands_parquet_in_hdfs() {
    let Some(stack) = require(&[Service::Hdfs]).await else {
        return;
    };
    let dir = TestHdfsDir::create(&stack, "bronze")
        .await
        .expect("a test folder");
    let url = LakeUrl::parse(&dir.url()).expect("an hdfs URL");
    let store = LakeStore::open(&url).expect("an HDFS store");
    let (options, policy) = small_files();
    let paths = land(&store, &options, policy).await;
    assert_eq!(paths.len(), 3, "{paths:?}");
    check(&store, &paths).await;
    // Nothing is left in staging, and a restart sees the committed position.
    let log = CommitLog::open(store.clone(), "test-lander")
        .await
        .expect("reopen");
    assert_eq!(log.next_offset(TOPIC, PARTITION), Some(ROWS));
    assert!(store
        .list_or_empty(&log.staging_dir(), true)
        .await
        .expect("list staging")
        .is_empty());
    dir.cleanup().await.expect("clean up");
}
