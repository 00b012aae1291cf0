//! The same config, options and seed give the same output, whatever the number of threads.

mod common;

use std::process::Command;

use soundlake_core::event::Topic;

#[test]
fn in_process_runs_match_across_thread_counts() {
    let (_, one, s1) =
        common::run_reference("150", "2015-06-01T00:00:00", "2015-06-05T00:00:00", "1");
    let (_, two, s2) =
        common::run_reference("150", "2015-06-01T00:00:00", "2015-06-05T00:00:00", "2");
    let (_, three, _) =
        common::run_reference("150", "2015-06-01T00:00:00", "2015-06-05T00:00:00", "3");
    assert_eq!(s1.per_topic, s2.per_topic);
    assert!(s1.events() > 1000);
    for t in Topic::ALL {
        assert!(
            one.topics[t.index()] == two.topics[t.index()],
            "{t} differs (1 vs 2 threads)"
        );
        assert!(
            one.topics[t.index()] == three.topics[t.index()],
            "{t} differs (1 vs 3 threads)"
        );
    }
}

fn run_to_dir(dir: &std::path::Path, threads: &str, seed: &str) {
    let config = common::reference_config();
    let status = Command::new(env!("CARGO_BIN_EXE_eventsim"))
        .args(["-c", config.to_str().expect("utf-8 path")])
        .args([
            "--nusers",
            "120",
            "--randomseed",
            seed,
            "--threads",
            threads,
        ])
        .args([
            "--start-time",
            "2015-06-01T00:00:00",
            "--end-time",
            "2015-06-04T00:00:00",
        ])
        .args(["--growth-rate", "1", "--progress", "never", "--output-dir"])
        .arg(dir)
        .status()
        .expect("run eventsim");
    assert!(status.success());
}

#[test]
fn files_are_identical_for_one_and_two_threads() {
    let base = std::env::temp_dir().join(format!("eventsim-determinism-{}", std::process::id()));
    let (a, b, c) = (base.join("a"), base.join("b"), base.join("c"));
    run_to_dir(&a, "1", "7");
    run_to_dir(&b, "2", "7");
    run_to_dir(&c, "2", "8");
    let mut any_difference = false;
    for t in Topic::ALL {
        let name = format!("{}.jsonl", t.name());
        let fa = std::fs::read(a.join(&name)).expect("output a");
        let fb = std::fs::read(b.join(&name)).expect("output b");
        let fc = std::fs::read(c.join(&name)).expect("output c");
        assert!(fa == fb, "{name} differs between 1 and 2 threads");
        any_difference |= fa != fc;
    }
    assert!(any_difference, "another seed must give other events");
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn time_ordered_output_is_the_same_events_in_time_order() {
    use std::sync::atomic::AtomicBool;

    use eventsim::app::execute_into;
    use eventsim::sinks::memory::MemorySink;

    let config = common::reference_config();
    let args = |extra: &'static str| {
        let mut a = vec![
            "-c",
            config.to_str().expect("utf-8 path"),
            "--nusers",
            "100",
            "--growth-rate",
            "2",
            "--start-time",
            "2015-06-01T00:00:00",
            "--end-time",
            "2015-06-04T00:00:00",
        ];
        if !extra.is_empty() {
            a.push(extra);
        }
        a
    };
    let run = |extra| {
        let plan = common::plan_of(&args(extra));
        let mut sink = MemorySink::new();
        execute_into(&plan, &mut sink, &AtomicBool::new(false)).expect("run");
        sink
    };
    let (by_user, by_time) = (run(""), run("--time-ordered"));
    for t in Topic::ALL {
        let mut a: Vec<&str> = by_user.lines(t).collect();
        let b: Vec<&str> = by_time.lines(t).collect();
        let ts = |l: &str| -> i64 {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            v["ts"].as_i64().expect("ts")
        };
        assert!(
            b.windows(2).all(|w| ts(w[0]) <= ts(w[1])),
            "{t} in time order"
        );
        let mut b_sorted = b.clone();
        a.sort_unstable();
        b_sorted.sort_unstable();
        assert!(a == b_sorted, "{t}: the same events");
    }
}
