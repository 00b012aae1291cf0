//! The lander SIGKILLed at random instants against the real stack (Kafka, schema registry,
//! HDFS). A test binary of its own: its twenty kills and restarts keep both cores busy, and the
//! stack test of lander_backfill.rs that counts files per hour must not share them with it. Needs
//! `scripts/stack up kafka schema-registry hdfs`.

mod common;

use std::process::Command;
use std::time::Duration;

use common::stack_run::{Run, LANDER};

/// SIGKILLs the lander at random instants (20 times) while it lands, restarting it each time;
/// a new slice of events is produced before each run so that every run has work. A last run
/// catches up, and bronze must hold every produced offset exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn survives_sigkill_at_random_instants_exactly_once() {
    // scripts/soak-ingest runs this test with more kills.
    let kills: usize = std::env::var("SOUNDLAKE_INGEST_SOAK_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20)
        .max(20);
    let Some(run) = Run::new("ingest_crash").await else {
        return;
    };
    let run = tokio::task::spawn_blocking(move || {
        let mut seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        eprintln!("crash test seed {seed}");
        let hour = |n: usize| {
            let t = chrono::DateTime::from_timestamp(1_748_736_000 + 3600 * n as i64, 0)
                .expect("a time in range");
            t.format("%Y-%m-%dT%H:00:00").to_string()
        };
        let started = std::time::Instant::now();
        for round in 0..kills {
            let (start, end) = (hour(round), hour(round + 1));
            run.produce_eventsim_window("150", &start, &end, &round.to_string());
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let delay = Duration::from_millis(500 + seed % 7500);
            let mut child = Command::new(LANDER)
                .args(run.lander_args(&["--max-rows", "1000", "--flush-interval", "2"]))
                .stdout(std::process::Stdio::null())
                .stderr(
                    std::fs::File::create(
                        std::env::temp_dir().join(format!("{}crash-{round}.log", run.prefix)),
                    )
                    .map_or_else(|_| std::process::Stdio::null(), Into::into),
                )
                .spawn()
                .expect("spawn the lander");
            std::thread::sleep(delay);
            assert!(
                child.try_wait().expect("wait").is_none(),
                "the lander exited on its own"
            );
            child.kill().expect("SIGKILL");
            child.wait().expect("reap");
            eprintln!(
                "kill {}/{kills}: SIGKILL after {delay:?} ({:.0} s so far)",
                round + 1,
                started.elapsed().as_secs_f64()
            );
        }
        let entries = run.commit_entries();
        eprintln!("{entries} commit entries written by the {kills} killed runs");
        assert!(entries >= 2, "the killed runs made progress");
        let out = run.lander(&["--max-rows", "150"]);
        assert!(
            out.status.success(),
            "final lander run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        run
    })
    .await
    .expect("join");
    run.assert_exactly_once(&format!("after {kills} SIGKILLs"))
        .await;
    let staging = run.read_dir("bronze/_staging").await;
    assert!(
        staging.is_empty(),
        "no committed-looking leftovers in staging"
    );
    for round in 0..kills {
        let _ = std::fs::remove_file(
            std::env::temp_dir().join(format!("{}crash-{round}.log", run.prefix)),
        );
    }
    run.cleanup().await;
}
