//! Several landers in one consumer group against the real stack (Kafka, HDFS): members join,
//! stop gracefully (SIGTERM) and crash (SIGKILL) while eventsim keeps producing; the member
//! left takes their partitions over, and bronze holds every (topic, partition, offset)
//! exactly once. Needs `scripts/stack up kafka schema-registry hdfs`.

mod common;

use std::time::Duration;

use common::stack_run::{assigned, free_addr, sigterm, wait_for, wait_timeout, Run};

/// 4 topics × 3 partitions (eventsim's `--partitions 3`).
const PARTITIONS: u64 = 12;
/// The lander's session timeout is 10 s: a member that left (static membership) or died
/// gives its partitions up after at most that, plus a rebalance.
const TAKEOVER: Duration = Duration::from_secs(40);

#[tokio::test(flavor = "multi_thread")]
async fn a_member_stopped_or_killed_mid_stream_is_taken_over_exactly_once() {
    let Some(run) = Run::new("ingest_group").await else {
        return;
    };
    let run = tokio::task::spawn_blocking(move || {
        run.produce_eventsim_window("400", "2025-06-01T10:00:00", "2025-06-01T11:00:00", "1");
        let flags = ["--max-rows", "2000", "--flush-interval", "1"];
        let (addr_a, addr_b, addr_c) = (free_addr(), free_addr(), free_addr());
        let mut a = run.spawn_lander("w1", &addr_a, &flags);
        let mut b = run.spawn_lander("w2", &addr_b, &flags);
        std::thread::scope(|scope| {
            // Events keep flowing while members come and go.
            let producer = scope.spawn(|| {
                for hour in 11..=18 {
                    let (start, end) = (
                        format!("2025-06-01T{hour:02}:00:00"),
                        format!("2025-06-01T{:02}:00:00", hour + 1),
                    );
                    run.produce_eventsim_window("400", &start, &end, &hour.to_string());
                    std::thread::sleep(Duration::from_secs(2));
                }
            });

            let split = wait_for(TAKEOVER, || {
                matches!((assigned(&addr_a), assigned(&addr_b)),
                    (Some(x), Some(y)) if x > 0 && y > 0 && x + y == PARTITIONS)
            });
            assert!(
                split,
                "the two members never split the {PARTITIONS} partitions (w1: {:?}, w2: {:?})\n\
                 w1:\n{}\nw2:\n{}",
                assigned(&addr_a),
                assigned(&addr_b),
                run.log_tail("w1"),
                run.log_tail("w2")
            );
            std::thread::sleep(Duration::from_secs(3));

            // SIGTERM: w2 flushes, commits and exits 0; w1 takes its partitions.
            sigterm(&b);
            let status = wait_timeout(&mut b, Duration::from_secs(60));
            assert!(
                status.is_some_and(|s| s.success()),
                "w2 after SIGTERM: {status:?}\n{}",
                run.log_tail("w2")
            );
            assert!(
                wait_for(TAKEOVER, || assigned(&addr_a) == Some(PARTITIONS)),
                "w1 did not take w2's partitions over: {:?}\n{}",
                assigned(&addr_a),
                run.log_tail("w1")
            );

            // SIGKILL: w3 joins, gets partitions, dies; w1 takes them back.
            let mut c = run.spawn_lander("w3", &addr_c, &flags);
            let joined = wait_for(TAKEOVER, || assigned(&addr_c).is_some_and(|n| n > 0));
            assert!(joined, "w3 never got partitions\n{}", run.log_tail("w3"));
            std::thread::sleep(Duration::from_millis(2500));
            c.kill().expect("SIGKILL w3");
            c.wait().expect("reap w3");
            assert!(
                wait_for(TAKEOVER, || assigned(&addr_a) == Some(PARTITIONS)),
                "w1 did not take w3's partitions over: {:?}\n{}",
                assigned(&addr_a),
                run.log_tail("w1")
            );
            producer.join().expect("the producer thread");
        });

        // w1 alone lands the rest, then stops gracefully.
        let behind = run.wait_until_landed(Duration::from_secs(90));
        assert!(
            behind.is_empty(),
            "w1 did not land everything: {behind:?}\n{}",
            run.log_tail("w1")
        );
        sigterm(&a);
        let status = wait_timeout(&mut a, Duration::from_secs(60));
        assert!(
            status.is_some_and(|s| s.success()),
            "w1 after SIGTERM: {status:?}\n{}",
            run.log_tail("w1")
        );
        let writers = run.entry_writers();
        eprintln!("commit entries per writer: {writers:?}");
        for w in ["w1", "w2"] {
            assert!(
                writers.get(w).is_some_and(|n| *n > 0),
                "{w} committed nothing: {writers:?}"
            );
        }
        run
    })
    .await
    .expect("join");
    run.assert_exactly_once("after SIGTERM and SIGKILL of group members")
        .await;
    run.cleanup().await;
}
