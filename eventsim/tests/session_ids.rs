//! Session ids stay unique when several runs land in one lake (other `--userid` ranges, the
//! same users over other or overlapping windows), while a run stays reproducible from its seed.
//! A session id is the user id in the high bits and the epoch second of the session's first
//! event in the low 32 (eventsim/README.md, "Session ids").

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::AtomicBool;

use clap::Parser;
use eventsim::app::execute_into;
use eventsim::cli::Cli;
use eventsim::error::AppError;
use eventsim::plan::plan;
use eventsim::sinks::memory::MemorySink;
use serde_json::Value;
use soundlake_core::event::Topic;

const LOW_BITS: u32 = 32;
const MAX_USER_ID: i64 = (1 << 31) - 1;

/// What a run wrote, as far as session ids go.
struct Output {
    sink: MemorySink,
    /// Session id → the session's page views: (ts, userId if shown, Kafka key).
    sessions: BTreeMap<i64, Vec<(i64, Option<i64>, i64)>>,
}

impl Output {
    fn ids(&self) -> BTreeSet<i64> {
        self.sessions.keys().copied().collect()
    }

    /// Sessions with an event that shows no user (a guest, or a logged-out user).
    fn guest_ids(&self) -> BTreeSet<i64> {
        self.sessions
            .iter()
            .filter(|(_, evs)| evs.iter().any(|(_, user, _)| user.is_none()))
            .map(|(&id, _)| id)
            .collect()
    }
}

/// `extra`, with the reference config unless `-c` is in it, and defaults for what `extra` leaves out: 150 users,
/// growth and attrition, the first week of June 2015.
fn args_with(extra: &[&str]) -> Vec<String> {
    let config = common::reference_config();
    let mut args: Vec<&str> = vec!["--progress", "never"];
    if !extra.contains(&"-c") {
        args.extend_from_slice(&["-c", config.to_str().expect("utf-8 path")]);
    }
    let defaults: [&[&str]; 4] = [
        &["--nusers", "150"],
        &["--growth-rate", "0.5"],
        &["--attrition-rate", "0.2"],
        &WEEK_1,
    ];
    let given = |opt: &str| extra.iter().any(|a| a.starts_with(opt));
    for default in defaults {
        // --from gives the start as well as --start-time does.
        let window_given = default[0] == "--start-time" && given("--from");
        if !given(default[0]) && !window_given {
            args.extend_from_slice(default);
        }
    }
    args.extend_from_slice(extra);
    args.iter().map(|s| s.to_string()).collect()
}

fn plan_result(args: &[String]) -> Result<eventsim::plan::Plan, AppError> {
    let mut argv = vec!["eventsim".to_string()];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).expect("valid command line");
    plan(&cli, 1_500_000_000_000)
}

fn run(extra: &[&str]) -> Output {
    let p = plan_result(&args_with(extra)).expect("valid plan");
    let mut sink = MemorySink::new();
    execute_into(&p, &mut sink, &AtomicBool::new(false)).expect("run");
    let mut sessions: BTreeMap<i64, Vec<(i64, Option<i64>, i64)>> = BTreeMap::new();
    for (key, bytes) in sink.records(Topic::PageView) {
        let ev: serde_json::Map<String, Value> =
            serde_json::from_slice(bytes).expect("a JSON object");
        let num = |f: &str| ev.get(f).and_then(Value::as_i64);
        let id = num("sessionId").expect("sessionId");
        let ts = num("ts").expect("ts");
        sessions
            .entry(id)
            .or_default()
            .push((ts, num("userId"), key));
    }
    assert!(sessions.len() > 100, "{} sessions", sessions.len());
    Output { sink, sessions }
}

const WEEK_1: [&str; 4] = [
    "--start-time",
    "2015-06-01T00:00:00",
    "--end-time",
    "2015-06-08T00:00:00",
];

#[test]
fn runs_into_one_lake_share_no_session_id() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "other --userid range, same seed and window",
            &["--userid", "1", "--randomseed", "5"],
            &["--userid", "100001", "--randomseed", "5"],
        ),
        (
            "adjacent --userid ranges, other seeds",
            &["--userid", "1", "--randomseed", "5"],
            &["--userid", "301", "--randomseed", "6"],
        ),
        (
            "same users and seed, overlapping windows",
            &["--randomseed", "5"],
            &[
                "--randomseed",
                "5",
                "--start-time",
                "2015-06-04T00:00:00",
                "--end-time",
                "2015-06-11T00:00:00",
            ],
        ),
        (
            "same users, other seed, overlapping windows",
            &["--randomseed", "5"],
            &[
                "--randomseed",
                "6",
                "--start-time",
                "2015-06-03T12:00:00",
                "--end-time",
                "2015-06-10T00:00:00",
            ],
        ),
        (
            "same users, other seed, same window",
            &["--randomseed", "5"],
            &["--randomseed", "6"],
        ),
        (
            "same users and seed, the next window",
            &[
                "--randomseed",
                "5",
                "--start-time",
                "2015-05-25T00:00:00",
                "--end-time",
                "2015-06-01T00:00:00",
            ],
            &["--randomseed", "5"],
        ),
    ];
    let mut failures = Vec::new();
    for &(name, a, b) in cases {
        let (ra, rb) = (run(a), run(b));
        let shared: Vec<i64> = ra.ids().intersection(&rb.ids()).copied().collect();
        if !shared.is_empty() {
            let first: Vec<i64> = shared.iter().take(3).copied().collect();
            failures.push(format!(
                "{name}: {} shared ids, e.g. {first:?}",
                shared.len()
            ));
        }
        let (ga, gb) = (ra.guest_ids(), rb.guest_ids());
        assert!(
            !ga.is_empty() && !gb.is_empty(),
            "{name}: both runs have guests"
        );
        let shared = ga.intersection(&gb).count();
        if shared > 0 {
            failures.push(format!("{name}: guests share {shared} ids"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn ids_are_the_user_id_and_the_second_of_the_first_event() {
    let out = run(&["--userid", "4000", "--randomseed", "9"]);
    for (&id, evs) in &out.sessions {
        assert!(id > 0, "session id {id} not positive");
        let user = id >> LOW_BITS;
        assert!(
            (4000..=MAX_USER_ID).contains(&user),
            "session {id}: user {user}"
        );
        let first = evs.iter().map(|e| e.0).min().expect("an event");
        assert_eq!(
            id & 0xffff_ffff,
            first / 1000,
            "session {id}: first event {first}"
        );
        for &(_, user_id, key) in evs {
            match user_id {
                // The session belongs to the user its events show.
                Some(u) => {
                    assert_eq!(u, user, "session {id}");
                    assert_eq!(key, u, "a user's records are keyed by the user id");
                }
                // Guests are keyed by the session id, which no user id key can equal.
                None => {
                    assert_eq!(key, id, "a guest's records are keyed by the session id");
                    assert!(key > MAX_USER_ID);
                }
            }
        }
    }
    // Every topic carries the same ids as the page views.
    let ids = out.ids();
    for t in [Topic::Listen, Topic::Auth, Topic::StatusChange] {
        for line in out.sink.lines(t) {
            let ev: Value = serde_json::from_str(line).expect("JSON");
            let id = ev["sessionId"].as_i64().expect("sessionId");
            assert!(ids.contains(&id), "{t}: session {id} has no page view");
        }
    }
}

#[test]
fn a_seed_reproduces_the_same_ids_and_bytes() {
    let base = ["--userid", "77", "--randomseed", "3"];
    let one = run(&[&base[..], &["--threads", "1"][..]].concat());
    let again = run(&[&base[..], &["--threads", "3"][..]].concat());
    let ordered = run(&[&base[..], &["--time-ordered"][..]].concat());
    for t in Topic::ALL {
        assert!(
            one.sink.topics[t.index()] == again.sink.topics[t.index()],
            "{t}: another run of the same arguments differs"
        );
    }
    assert_eq!(one.ids(), again.ids());
    assert_eq!(
        one.ids(),
        ordered.ids(),
        "time-ordered output has other ids"
    );
    let other_seed = run(&["--userid", "77", "--randomseed", "4"]);
    assert_ne!(one.ids(), other_seed.ids());
}

#[test]
fn ids_a_session_id_cannot_carry_are_refused() {
    let cases: &[(&str, &[&str], Option<&str>)] = &[
        (
            "first user id 0",
            &["--userid", "0"],
            Some("--userid: 0 is out of range"),
        ),
        (
            "negative first user id",
            &["--userid=-5"],
            Some("--userid: -5 is out of range"),
        ),
        (
            "first user id past 31 bits",
            &["--userid", "2147483648"],
            Some("--userid: 2147483648 is out of range"),
        ),
        (
            "last user id past 31 bits",
            &["--userid", "2147483600", "--nusers", "100"],
            Some("the last user id would be 2147483699, above 2147483647"),
        ),
        (
            "growth past 31 bits",
            &[
                "--userid",
                "2147483600",
                "--nusers",
                "40",
                "--growth-rate",
                "500",
            ],
            Some("past user id 2147483647"),
        ),
        (
            "start before 1970",
            &[
                "--start-time",
                "1969-12-31T00:00:00",
                "--end-time",
                "1970-01-02T00:00:00",
            ],
            Some("--start-time: the start 1969-12-31T00:00:00 is outside"),
        ),
        (
            "--from before 1970",
            &["--from", "20000", "--to", "1"],
            Some("--from: the start"),
        ),
        (
            "end past 32 bits of seconds",
            &[
                "--start-time",
                "2106-02-01T00:00:00",
                "--end-time",
                "2106-02-08T00:00:00",
            ],
            Some("--end-time: the end 2106-02-08T00:00:00 is after 2106-02-07T06:28:16"),
        ),
        (
            "largest user id",
            &["--userid", "2147483647", "--nusers", "1"],
            None,
        ),
        (
            "last second",
            &[
                "--start-time",
                "2106-02-07T00:00:00",
                "--end-time",
                "2106-02-07T06:28:16",
            ],
            None,
        ),
    ];
    for &(name, extra, expected) in cases {
        let mut args = args_with(extra);
        args.extend(["--output-dir".to_string(), "unused".to_string()]);
        match (plan_result(&args), expected) {
            (Err(e), Some(text)) => {
                let msg = e.to_string();
                assert!(msg.contains(text), "{name}: {msg}");
                assert_eq!(e.exit_code(), 2, "{name}");
            }
            (Ok(_), None) => {}
            (Err(e), None) => panic!("{name}: refused: {e}"),
            (Ok(_), Some(text)) => panic!("{name}: accepted, expected {text:?}"),
        }
    }
}

#[test]
fn the_config_first_user_id_is_named_when_out_of_range() {
    let text = std::fs::read_to_string(common::reference_config()).expect("reference config");
    let mut cfg: Value = serde_json::from_str(&text).expect("JSON config");
    cfg["first-user-id"] = Value::from(3_000_000_000i64);
    let dir = std::env::temp_dir().join(format!("eventsim-session-ids-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("config.json");
    std::fs::write(&path, cfg.to_string()).expect("write config");
    let args: Vec<String> = ["-c", path_str(&path), "--output-dir", "unused"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let err = match plan_result(&args) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("first-user-id 3000000000 accepted"),
    };
    assert!(
        err.contains("config.json: first-user-id: 3000000000 is out of range"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn back_to_back_sessions_get_their_own_ids() {
    // Sessions half a second apart on average, no session gap and no daily warp: eventsim's
    // gap is often zero here, and the next session then starts a second after the last event.
    let text = std::fs::read_to_string(common::reference_config()).expect("reference config");
    let mut cfg: Value = serde_json::from_str(&text).expect("JSON config");
    cfg["beta"] = Value::from(0.5);
    cfg["session-gap"] = Value::from(0);
    cfg["damping"] = Value::from(0.0);
    cfg["weekend-damping"] = Value::from(0.0);
    let dir = std::env::temp_dir().join(format!("eventsim-back-to-back-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("config.json");
    std::fs::write(&path, cfg.to_string()).expect("write config");
    let out = run(&[
        "-c",
        path_str(&path),
        "--nusers",
        "100",
        "--start-time",
        "2015-06-01T00:00:00",
        "--end-time",
        "2015-06-01T06:00:00",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    // Each id is one session: its items count up by one, in the order the user made them.
    let mut items: BTreeMap<i64, i64> = BTreeMap::new();
    let (mut back_to_back, mut prev): (usize, Option<(i64, i64)>) = (0, None);
    for line in out.sink.lines(Topic::PageView) {
        let ev: Value = serde_json::from_str(line).expect("JSON");
        let id = ev["sessionId"].as_i64().expect("sessionId");
        let ts = ev["ts"].as_i64().expect("ts");
        let item = ev["itemInSession"].as_i64().expect("itemInSession");
        if let Some(before) = items.insert(id, item) {
            assert_eq!(item, before + 1, "session {id} holds two sessions");
        }
        // A session starting one second after the last event of the one before (users are
        // written one after the other, each in time order).
        if prev.is_some_and(|(p_id, p_ts)| p_id != id && ts - p_ts == 1000) {
            back_to_back += 1;
        }
        prev = Some((id, ts));
    }
    assert!(items.len() > 200, "{} sessions", items.len());
    assert!(
        back_to_back > 50,
        "{back_to_back} sessions right after another"
    );
}
