//! HDFS stopped mid-stream: the lander backs off while the lake is away, commits nothing it
//! has not written, resumes on its own when the NameNode is back, and bronze holds every
//! offset exactly once. The outage is a private HDFS (the shared stack's is never stopped);
//! Kafka and the schema registry are the stack's. Needs `scripts/stack up kafka
//! schema-registry hdfs` (the private HDFS reuses the stack's jars).

mod common;

use std::time::Duration;

use common::private_hdfs::PrivateHdfs;
use common::stack_run::{commits, free_addr, sigterm, wait_for, wait_timeout, Run};

#[tokio::test(flavor = "multi_thread")]
async fn resumes_on_its_own_after_an_hdfs_outage_exactly_once() {
    let Some(mut run) = Run::new("ingest_outage").await else {
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
            "no commit before the outage\n{}",
            run.log_tail("w1")
        );
        std::thread::scope(|scope| {
            let producer = scope.spawn(|| {
                for hour in 11..=14 {
                    let (start, end) = (
                        format!("2025-06-01T{hour:02}:00:00"),
                        format!("2025-06-01T{:02}:00:00", hour + 1),
                    );
                    run.produce_eventsim_window("400", &start, &end, &hour.to_string());
                    std::thread::sleep(Duration::from_secs(2));
                }
            });
            std::thread::sleep(Duration::from_secs(1));
            hdfs.stop_namenode();
            std::thread::sleep(Duration::from_secs(3));
            let during = commits(&addr);
            std::thread::sleep(Duration::from_secs(7));
            assert_eq!(
                commits(&addr),
                during,
                "commits while the NameNode is down\n{}",
                run.log_tail("w1")
            );
            assert!(
                lander.try_wait().expect("wait").is_none(),
                "the lander gave up while HDFS was away\n{}",
                run.log_tail("w1")
            );
            hdfs.up();
            producer.join().expect("the producer thread");
        });
        let behind = run.wait_until_landed(Duration::from_secs(120));
        assert!(
            behind.is_empty(),
            "the lander did not resume after the outage: {behind:?}\n{}",
            run.log_tail("w1")
        );
        // A write that failed: either an attempt that wrote nothing (the back-off's line) or
        // one that wrote some files and went on with the rest at once (when the NameNode came
        // back in safe mode after the HDFS client had waited out the outage itself).
        let log = std::fs::read_to_string(run.log_path("w1")).unwrap_or_default();
        assert!(
            log.contains("the lake is away") || log.contains("files failed"),
            "the outage never reached the lander (no failed write in its log)\n{}",
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
    run.assert_exactly_once("after an HDFS outage").await;
    run.cleanup().await;
    tokio::task::spawn_blocking(move || drop(hdfs))
        .await
        .expect("join");
}
