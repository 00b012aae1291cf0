//! The DataNode stopped mid-stream: the lander's writes fail after their files were created,
//! it backs off, resumes on its own when the DataNode is back, and leaves no staged file of the
//! failed writes behind (each would stay open on the NameNode, reserving a block of DataNode
//! space, while the lander runs). The fault is a private HDFS (the shared stack's is never
//! stopped); Kafka and the schema registry are the stack's. Needs `scripts/stack up kafka
//! schema-registry hdfs` (the private HDFS reuses the stack's jars).

mod common;

use std::time::Duration;

use common::private_hdfs::PrivateHdfs;
use common::stack_run::{commits, free_addr, sigterm, wait_for, wait_timeout, Run};
use soundlake_core::lake::{LakeEntry, LakeStore, LakeUrl};
use soundlake_ingest::layout::staging_dir;

/// The files in `writer`'s staging folder of the lake at `url`.
fn staged_files(url: &str, writer: &str) -> Vec<LakeEntry> {
    let store = LakeStore::open(&LakeUrl::parse(url).expect("lake url")).expect("store");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(store.list_or_empty(&staging_dir(writer), true))
        .expect("list the staging folder")
        .into_iter()
        .filter(|entry| !entry.is_dir)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_datanode_leaves_no_open_staged_file_behind() {
    let Some(mut run) = Run::new("ingest_write_fault").await else {
        return;
    };
    let hdfs = tokio::task::spawn_blocking({
        let label = run.prefix.clone();
        move || PrivateHdfs::start(label.trim_end_matches('_'))
    })
    .await
    .expect("join");
    run.lake_override = Some(hdfs.url("lake"));
    let (run, hdfs) = tokio::task::spawn_blocking(move || {
        run.produce_eventsim_window("400", "2025-06-01T10:00:00", "2025-06-01T11:00:00", "1");
        let addr = free_addr();
        let mut lander = run.spawn_lander(
            "w1",
            &addr,
            &["--max-rows", "2000", "--flush-interval", "1"],
        );
        assert!(
            wait_for(Duration::from_secs(60), || commits(&addr)
                .is_some_and(|n| n >= 1.0)),
            "no commit before the fault\n{}",
            run.log_tail("w1")
        );
        hdfs.stop_datanode();
        for hour in 11..=13 {
            let (start, end) = (
                format!("2025-06-01T{hour:02}:00:00"),
                format!("2025-06-01T{:02}:00:00", hour + 1),
            );
            run.produce_eventsim_window("400", &start, &end, &hour.to_string());
        }
        // Several failed attempts (the back-off doubles from half a second).
        std::thread::sleep(Duration::from_secs(15));
        let log = std::fs::read_to_string(run.log_path("w1")).unwrap_or_default();
        assert!(
            log.contains("the lake is away"),
            "no write failed while the DataNode was down\n{}",
            run.log_tail("w1")
        );
        assert!(
            lander.try_wait().expect("wait").is_none(),
            "the lander gave up while the DataNode was down\n{}",
            run.log_tail("w1")
        );
        let during = commits(&addr);
        hdfs.up();
        // The DataNode takes a while to serve reads again: wait for the lander's next commit.
        assert!(
            wait_for(Duration::from_secs(120), || commits(&addr) > during),
            "no commit after the DataNode came back\n{}",
            run.log_tail("w1")
        );
        let behind = run.wait_until_landed(Duration::from_secs(180));
        assert!(
            behind.is_empty(),
            "the lander did not resume after the DataNode came back: {behind:?}\n{}",
            run.log_tail("w1")
        );
        // Caught up and idle: no flush is writing, so staging holds nothing.
        let lake = run.lake_url();
        let mut left = staged_files(&lake, "w1");
        if !left.is_empty() {
            wait_for(Duration::from_secs(10), || {
                left = staged_files(&lake, "w1");
                left.is_empty()
            });
        }
        assert!(
            left.is_empty(),
            "{} staged files left behind by failed writes: {:?}\n{}",
            left.len(),
            left.iter().take(5).collect::<Vec<_>>(),
            run.log_tail("w1")
        );
        sigterm(&lander);
        let status = wait_timeout(&mut lander, Duration::from_secs(60));
        assert!(
            status.is_some_and(|s| s.success()),
            "the lander after SIGTERM: {status:?}\n{}",
            run.log_tail("w1")
        );
        (run, hdfs)
    })
    .await
    .expect("join");
    run.assert_exactly_once("after a DataNode fault").await;
    run.cleanup().await;
    tokio::task::spawn_blocking(move || drop(hdfs))
        .await
        .expect("join");
}
