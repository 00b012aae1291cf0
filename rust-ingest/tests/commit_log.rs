//! The commit log on a `file://` lake: commits, fencing, and recovery from a crash at each step
//! of the write protocol (rust-ingest/DESIGN-exactly-once.md); concurrent writers also on the
//! local stack's HDFS (fails, never skips, when HDFS does not answer).

mod common;

use std::collections::BTreeMap;

use bytes::Bytes;
use common::LocalLake;
use soundlake_core::lake::{LakeStore, LakeUrl};
use soundlake_ingest::commit_log::{
    CommitError, CommitLog, CommittedFile, OffsetRange, PendingCommit, CHECKPOINT_EVERY,
};
use soundlake_ingest::layout::entry_path;
use soundlake_ingest::offsets::OffsetSpan;
use soundlake_ingest::parquet_writer::StagedFile;
use soundlake_testkit::{require, Service, TestHdfsDir};

const TOPIC: &str = "listen_events";

/// Stages a small file for `partition`'s offsets `from..to` and returns the commit for it.
async fn stage(
    lake: &LocalLake,
    log: &CommitLog,
    name: &str,
    partition: i32,
    from: i64,
    to: i64,
) -> PendingCommit {
    let staged_path = log.staging_path(name);
    let bytes = lake
        .store
        .write_new(
            &staged_path,
            Bytes::from(format!("{partition}:{from}..{to}")),
        )
        .await
        .expect("stage a file");
    let staged = StagedFile {
        staged_path,
        bytes,
        rows: u64::try_from(to - from).expect("rows"),
        spans: BTreeMap::from([(
            partition,
            OffsetSpan {
                first_offset: from,
                last_offset: to - 1,
                rows: u64::try_from(to - from).expect("rows"),
            },
        )]),
    };
    let path = format!("bronze/{TOPIC}/event_date=2025-11-25/hour=07/{name}");
    PendingCommit {
        ranges: vec![OffsetRange {
            topic: TOPIC.into(),
            partition,
            from,
            to,
        }],
        files: vec![CommittedFile::new(TOPIC, &staged, path)],
        ingested_at_us: to,
    }
}

fn bronze_files(lake: &LocalLake) -> Vec<String> {
    let mut out = Vec::new();
    let root = lake.dir.join("bronze").join(TOPIC);
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        let Ok(items) = std::fs::read_dir(&dir) else {
            continue;
        };
        for item in items.flatten() {
            let path = item.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Some(name) = path.file_name() {
                out.push(name.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "current_thread")]
async fn commits_are_visible_and_survive_a_restart() {
    let lake = LocalLake::new("commit");
    let mut log = CommitLog::open(lake.store.clone(), "lander-1")
        .await
        .expect("open");
    assert_eq!(log.next_seq(), 0);
    assert_eq!(log.next_offset(TOPIC, 0), None);

    let pending = stage(&lake, &log, "a.parquet", 0, 0, 10).await;
    let entry = log.commit(pending).await.expect("commit 0");
    assert_eq!(entry.seq, 0);
    // The entry records its rows' ingestion time: the lake as of an entry (readers' snapshots).
    let written: serde_json::Value = serde_json::from_slice(
        &std::fs::read(lake.dir.join(soundlake_ingest::layout::entry_path(0))).expect("entry"),
    )
    .expect("entry JSON");
    assert_eq!(written["ingested_at_us"], 10, "{written}");
    let pending = stage(&lake, &log, "b.parquet", 0, 10, 25).await;
    log.commit(pending).await.expect("commit 1");
    assert_eq!(log.next_offset(TOPIC, 0), Some(25));
    assert_eq!(bronze_files(&lake), ["a.parquet", "b.parquet"]);
    assert!(
        lake.store
            .list_or_empty(&log.staging_dir(), true)
            .await
            .expect("list")
            .is_empty(),
        "nothing left in staging"
    );

    let reopened = CommitLog::open(lake.store.clone(), "lander-1")
        .await
        .expect("reopen");
    assert_eq!(reopened.next_seq(), 2);
    let positions: Vec<(&str, i32, i64)> = reopened.positions().collect();
    assert_eq!(positions, [(TOPIC, 0, 25)]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_second_writer_cannot_commit_the_same_offsets() {
    let lake = LocalLake::new("fence");
    let mut a = CommitLog::open(lake.store.clone(), "a").await.expect("a");
    let mut b = CommitLog::open(lake.store.clone(), "b").await.expect("b");
    // Both consumed partition 3 from offset 0 (a rebalance, a zombie).
    let pending_a = stage(&lake, &a, "from-a.parquet", 3, 0, 5).await;
    let pending_b = stage(&lake, &b, "from-b.parquet", 3, 0, 7).await;
    a.commit(pending_a).await.expect("a commits first");
    let err = b.commit(pending_b).await.expect_err("b is fenced");
    assert!(
        matches!(
            err,
            CommitError::Fenced {
                expected: 5,
                from: 0,
                partition: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("seek to 5"), "{err}");
    // b saw a's entry while retrying; it can go on from the log's position.
    assert_eq!(b.next_offset(TOPIC, 3), Some(5));
    let pending_b = stage(&lake, &b, "from-b-2.parquet", 3, 5, 9).await;
    assert_eq!(b.commit(pending_b).await.expect("b from 5").seq, 1);
    // b's fenced staged file is an orphan that b's recovery removes.
    let report = b.recover().await.expect("recover");
    assert_eq!(report.orphans_deleted, 1);
    assert_eq!(bronze_files(&lake), ["from-a.parquet", "from-b-2.parquet"]);
}

#[tokio::test(flavor = "current_thread")]
async fn crash_before_the_entry_loses_nothing_and_leaves_nothing() {
    let lake = LocalLake::new("crash-staged");
    let mut log = CommitLog::open(lake.store.clone(), "w")
        .await
        .expect("open");
    let pending = stage(&lake, &log, "ok.parquet", 1, 0, 3).await;
    log.commit(pending).await.expect("commit");
    // Crash: a file staged (complete or not), no entry written.
    let _lost = stage(&lake, &log, "uncommitted.parquet", 1, 3, 8).await;
    drop(log);

    let mut log = CommitLog::open(lake.store.clone(), "w")
        .await
        .expect("restart");
    let report = log.recover().await.expect("recover");
    assert_eq!(report.orphans_deleted, 1);
    assert_eq!(report.published, 0);
    // The offsets were not committed: the lander consumes them again from 3.
    assert_eq!(log.next_offset("listen_events", 1), Some(3));
    assert_eq!(bronze_files(&lake), ["ok.parquet"]);
}

#[tokio::test(flavor = "current_thread")]
async fn crash_after_the_entry_is_finished_by_recovery() {
    let lake = LocalLake::new("crash-committed");
    let mut log = CommitLog::open(lake.store.clone(), "w")
        .await
        .expect("open");
    let pending = stage(&lake, &log, "x.parquet", 0, 0, 4).await;
    let entry = log.commit(pending).await.expect("commit");
    // Simulate a crash between writing the entry and renaming its file: put the file back.
    let file = &entry.files[0];
    lake.store
        .rename_no_replace(&file.path, &file.staged)
        .await
        .expect("un-rename");
    assert!(
        bronze_files(&lake).is_empty(),
        "not visible before recovery"
    );
    drop(log);

    // Another writer's recovery finishes it (the dead writer may never come back).
    let mut other = CommitLog::open(lake.store.clone(), "other")
        .await
        .expect("open");
    let report = other.recover().await.expect("recover");
    assert_eq!(report.published, 1);
    assert_eq!(bronze_files(&lake), ["x.parquet"]);
    assert_eq!(other.next_offset(TOPIC, 0), Some(4));
    // Recovering again changes nothing.
    let again = other.recover().await.expect("recover twice");
    assert_eq!(again.published, 0);
    assert!(again.missing.is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn an_interrupted_local_rename_counts_as_done() {
    // Locally a rename is link + unlink: a crash in between leaves both names.
    let lake = LocalLake::new("crash-link");
    let mut log = CommitLog::open(lake.store.clone(), "w")
        .await
        .expect("open");
    let pending = stage(&lake, &log, "y.parquet", 0, 0, 2).await;
    let entry = log.commit(pending).await.expect("commit");
    let file = &entry.files[0];
    std::fs::hard_link(lake.dir.join(&file.path), lake.dir.join(&file.staged)).expect("link");
    let report = log.recover().await.expect("recover");
    assert_eq!(report.published, 0);
    assert!(!lake.dir.join(&file.staged).exists());
    assert_eq!(bronze_files(&lake), ["y.parquet"]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_lost_committed_file_is_reported_not_blocking() {
    let lake = LocalLake::new("missing");
    let mut log = CommitLog::open(lake.store.clone(), "w")
        .await
        .expect("open");
    let pending = stage(&lake, &log, "gone.parquet", 0, 0, 2).await;
    let entry = log.commit(pending).await.expect("commit");
    std::fs::remove_file(lake.dir.join(&entry.files[0].path)).expect("delete");
    let report = log.recover().await.expect("recover");
    assert_eq!(report.missing.len(), 1);
    assert!(report.missing[0].ends_with("gone.parquet"));
}

#[tokio::test(flavor = "current_thread")]
async fn gaps_and_corrupt_entries_are_refused_loudly() {
    let lake = LocalLake::new("corrupt");
    let mut log = CommitLog::open(lake.store.clone(), "w")
        .await
        .expect("open");
    let pending = stage(&lake, &log, "a.parquet", 0, 0, 1).await;
    log.commit(pending).await.expect("commit");

    lake.store
        .write_new(&entry_path(2), Bytes::from_static(b"{}"))
        .await
        .expect("write entry 2");
    let err = CommitLog::open(lake.store.clone(), "w")
        .await
        .err()
        .expect("a gap");
    assert!(
        matches!(
            err,
            CommitError::Gap {
                found: 2,
                missing: 1,
                ..
            }
        ),
        "{err}"
    );

    lake.store
        .write_new(&entry_path(1), Bytes::from_static(b"not json"))
        .await
        .expect("write entry 1");
    let err = CommitLog::open(lake.store.clone(), "w")
        .await
        .err()
        .expect("corrupt");
    assert!(matches!(err, CommitError::Corrupt { .. }), "{err}");
    assert!(
        err.to_string().contains("00000000000000000001.json"),
        "{err}"
    );

    assert!(matches!(
        CommitLog::open(lake.store.clone(), "a/b").await.err(),
        Some(CommitError::BadWriterId(_))
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn checkpoints_bound_what_a_restart_reads() {
    let lake = LocalLake::new("checkpoint");
    let mut log = CommitLog::open(lake.store.clone(), "w")
        .await
        .expect("open");
    let n = i64::try_from(CHECKPOINT_EVERY).expect("n") + 3;
    for i in 0..n {
        let pending = stage(
            &lake,
            &log,
            &format!("f{i:04}.parquet"),
            0,
            i * 10,
            i * 10 + 10,
        )
        .await;
        log.commit(pending).await.expect("commit");
    }
    let commits = lake.dir.join("bronze/_commits");
    let checkpoint = commits.join(format!("checkpoint-{CHECKPOINT_EVERY:020}.json"));
    assert!(
        checkpoint.exists(),
        "checkpoint after {CHECKPOINT_EVERY} entries"
    );
    // Entries covered by the checkpoint may be archived away.
    for seq in 0..CHECKPOINT_EVERY - 1 {
        std::fs::remove_file(lake.dir.join(entry_path(seq))).expect("archive");
    }
    let reopened = CommitLog::open(lake.store.clone(), "w")
        .await
        .expect("reopen");
    assert_eq!(reopened.next_seq(), CHECKPOINT_EVERY + 3);
    assert_eq!(reopened.next_offset(TOPIC, 0), Some(n * 10));
    // Without the archived entries, no file may be called unreferenced.
    let err = reopened
        .unreferenced_files(TOPIC, true)
        .await
        .expect_err("the log is incomplete");
    assert!(matches!(err, CommitError::Incomplete { .. }), "{err}");
    assert_eq!(bronze_files(&lake).len(), usize::try_from(n).expect("n"));
}

#[tokio::test(flavor = "current_thread")]
async fn unreferenced_bronze_files_are_found_and_moved_aside() {
    let lake = LocalLake::new("unreferenced");
    let mut log = CommitLog::open(lake.store.clone(), "w")
        .await
        .expect("open");
    let pending = stage(&lake, &log, "good.parquet", 0, 0, 1).await;
    log.commit(pending).await.expect("commit");
    let stray = format!("bronze/{TOPIC}/event_date=2025-11-25/hour=07/stray.parquet");
    lake.store
        .write_new(&stray, Bytes::from_static(b"x"))
        .await
        .expect("stray file");
    let found = log.unreferenced_files(TOPIC, false).await.expect("scan");
    assert_eq!(found, std::slice::from_ref(&stray));
    let moved = log.unreferenced_files(TOPIC, true).await.expect("move");
    assert_eq!(moved, [stray]);
    assert_eq!(bronze_files(&lake), ["good.parquet"]);
    assert!(lake
        .dir
        .join(format!(
            "bronze/_orphans/{TOPIC}/event_date=2025-11-25/hour=07/stray.parquet"
        ))
        .exists());
}

/// Writers that each own a partition commit at the same time: they race for entry numbers
/// (create-exclusive), never fence, and the log ends up gap-free with every commit in it.
async fn concurrent_commits(lake: &LakeStore) {
    const WRITERS: i32 = 4;
    const COMMITS: i64 = 10;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = lake.clone();
        tasks.push(tokio::spawn(async move {
            let mut log = CommitLog::open(store.clone(), &format!("w{w}"))
                .await
                .expect("open");
            for i in 0..COMMITS {
                let name = format!("w{w}-{i}.parquet");
                let staged = log.staging_path(&name);
                let bytes = store
                    .write_new(&staged, Bytes::from(name.clone()))
                    .await
                    .expect("stage");
                let file = StagedFile {
                    staged_path: staged,
                    bytes,
                    rows: 1,
                    spans: BTreeMap::new(),
                };
                let path = format!("bronze/{TOPIC}/event_date=2025-11-25/hour=07/{name}");
                // Each writer owns one partition: commits never fence, only race for numbers.
                log.commit(PendingCommit {
                    ranges: vec![OffsetRange {
                        topic: TOPIC.into(),
                        partition: w,
                        from: i,
                        to: i + 1,
                    }],
                    files: vec![CommittedFile::new(TOPIC, &file, path)],
                    ingested_at_us: i,
                })
                .await
                .expect("commit");
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer task");
    }
    let log = CommitLog::open(lake.clone(), "reader").await.expect("open");
    assert_eq!(
        log.next_seq(),
        u64::try_from(i64::from(WRITERS) * COMMITS).expect("n")
    );
    for w in 0..WRITERS {
        assert_eq!(log.next_offset(TOPIC, w), Some(COMMITS));
    }
    let files = lake
        .list(&format!("bronze/{TOPIC}"), true)
        .await
        .expect("list bronze");
    assert_eq!(
        files.iter().filter(|f| !f.is_dir).count(),
        usize::try_from(i64::from(WRITERS) * COMMITS).expect("n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_share_one_gap_free_log() {
    let lake = LocalLake::new("concurrent");
    concurrent_commits(&lake.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_share_one_gap_free_log_on_hdfs() {
    let Some(stack) = require(&[Service::Hdfs]).await else {
        return;
    };
    let dir = TestHdfsDir::create(&stack, "commit_race")
        .await
        .expect("a test folder");
    let url = LakeUrl::parse(&dir.url()).expect("an hdfs URL");
    concurrent_commits(&LakeStore::open(&url).expect("an HDFS store")).await;
    dir.cleanup().await.expect("clean up");
}

#[tokio::test(flavor = "current_thread")]
async fn files_written_by_a_compaction_are_referenced() {
    let lake = LocalLake::new("compacted");
    let mut log = CommitLog::open(lake.store.clone(), "w")
        .await
        .expect("open");
    let pending = stage(&lake, &log, "good.parquet", 0, 0, 1).await;
    log.commit(pending).await.expect("commit");
    let compacted = format!("bronze/{TOPIC}/event_date=2025-11-25/hour=07/compacted-0.parquet");
    let stray = format!("bronze/{TOPIC}/event_date=2025-11-25/hour=07/stray.parquet");
    for path in [&compacted, &stray] {
        lake.store
            .write_new(path, Bytes::from_static(b"x"))
            .await
            .expect("file");
    }
    let record = format!(
        r#"{{"id": "c1", "inputs": [], "outputs": [{{"path": "{compacted}", "bytes": 1}}]}}"#
    );
    lake.store
        .write_new("bronze/_compactions/c1.json", Bytes::from(record))
        .await
        .expect("compaction record");
    let found = log.unreferenced_files(TOPIC, false).await.expect("scan");
    assert_eq!(found, std::slice::from_ref(&stray));

    lake.store
        .write_new(
            "bronze/_compactions/c2.json",
            Bytes::from_static(b"{not json"),
        )
        .await
        .expect("bad record");
    let err = log
        .unreferenced_files(TOPIC, false)
        .await
        .expect_err("a corrupt compaction record must stop the scan");
    assert!(matches!(err, CommitError::Corrupt { .. }), "{err}");
}
