//! Config loading: the reference config, wrong types, unknown keys, bad probabilities, and how
//! the binary reports bad input (clear message, non-zero exit, no panic).

mod common;

use std::process::Command;

use eventsim::config::SiteConfig;
use eventsim::model::Model;

#[test]
fn reference_config_loads_without_warnings() {
    let loaded = SiteConfig::load(&common::reference_config()).expect("reference config loads");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let c = &loaded.config;
    assert_eq!(c.run.seed, Some(101));
    assert_eq!(c.alpha, 90.0);
    assert_eq!(c.beta, 604_800.0);
    assert_eq!(c.session_gap_seconds, 1800);
    assert_eq!(c.weekend_damping_offset_minutes, 180);
    assert_eq!(c.churned_state.as_deref(), Some("Cancelled"));
    assert_eq!(c.new_session.len(), 25);
    assert_eq!(c.transitions.len(), 265);
    let mut warnings = Vec::new();
    let model = Model::new(c, &mut warnings).expect("model builds");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(model.site.states.len(), 50);
    model
        .site
        .check_starts(true, true)
        .expect("users can start sessions");
}

#[test]
fn wrong_type_is_rejected_with_its_path() {
    let err = SiteConfig::load(&common::test_data("bad-type.json"))
        .expect_err("bad type must fail")
        .to_string();
    assert!(
        err.ends_with(r#"new-session[3].weight: expected a number, found "x""#),
        "{err}"
    );
    assert!(err.contains("bad-type.json"), "{err}");
}

#[test]
fn unknown_keys_are_warned_about() {
    let loaded = SiteConfig::load(&common::test_data("unknown-key.json")).expect("loads");
    assert_eq!(
        loaded.warnings,
        vec![
            "colour: unknown key, ignored".to_string(),
            "new-session[0].comment: unknown key, ignored".to_string()
        ]
    );
}

#[test]
fn probabilities_over_one_are_rejected() {
    let loaded = SiteConfig::load(&common::test_data("too-likely.json")).expect("parses");
    let err = Model::new(&loaded.config, &mut Vec::new())
        .expect_err("must fail")
        .to_string();
    assert!(err.starts_with("transitions[1].p: "), "{err}");
    assert!(err.contains("more than 1"), "{err}");
}

#[test]
fn more_type_errors() {
    for (text, expected) in [
        (
            r#"{"alpha": "fast"}"#,
            r#"alpha: expected a number, found "fast""#,
        ),
        (
            r#"{"levels": {"free": 1}}"#,
            "levels: expected a list, found an object",
        ),
        (
            r#"{"show-user-details": [{"auth": "Guest", "show": "no"}]}"#,
            r#"show-user-details[0].show: expected true or false, found "no""#,
        ),
        (
            r#"{"transitions": [{"source": {"page": "A", "auth": 1}, "dest": {}, "p": 0.1}]}"#,
            "transitions[0].source.auth: expected a string, found 1",
        ),
        (
            r#"{"session-gap": 1.5}"#,
            "session-gap: expected a whole number, found 1.5",
        ),
        (r#"[1, 2]"#, "(top level): expected an object, found a list"),
    ] {
        let err = SiteConfig::parse(text).expect_err(text).to_string();
        assert_eq!(err, expected);
    }
}

fn run_binary(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_eventsim"))
        .args(args)
        .output()
        .expect("run eventsim");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("panicked"), "{stderr}");
    (out.status.code().unwrap_or(-1), stderr)
}

#[test]
fn binary_reports_bad_input() {
    let reference = common::reference_config();
    let reference = reference.to_str().expect("utf-8 path");
    let bad = common::test_data("bad-type.json");
    let bad = bad.to_str().expect("utf-8 path");
    let out = std::env::temp_dir().join("eventsim-bad-input-test");
    let out = out.to_str().expect("utf-8 path");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["-c", "/nonexistent/config.json"],
            "cannot read config file /nonexistent/config.json",
        ),
        (
            vec!["-c", bad],
            r#"new-session[3].weight: expected a number, found "x""#,
        ),
        (
            vec![
                "-c",
                reference,
                "--start-time",
                "tomorrow",
                "--output-dir",
                out,
            ],
            r#"--start-time: cannot read "tomorrow" as a time"#,
        ),
        (
            vec![
                "-c",
                reference,
                "--start-time",
                "2015-06-02T00:00:00",
                "--end-time",
                "2015-06-01T00:00:00",
                "--output-dir",
                out,
            ],
            "is not before the end time",
        ),
        (
            vec!["-c", reference, "--threads", "0", "--output-dir", out],
            "--threads: must be at least 1",
        ),
        (
            vec!["-c", reference, "--growth-rate", "-1", "--output-dir", out],
            "--growth-rate: must be a number",
        ),
        (
            vec![
                "-c",
                reference,
                "--growth-rate",
                "1e9",
                "--start-time",
                "2015-06-01",
                "--end-time",
                "2015-06-15",
                "--output-dir",
                out,
            ],
            "would add more than 100000000 users",
        ),
        (
            vec![
                "-c",
                reference,
                "--from",
                "99999999999",
                "--output-dir",
                out,
            ],
            "--from: 99999999999 days is out of range",
        ),
        (
            vec![
                "-c",
                reference,
                "--userid",
                "9223372036854775807",
                "--output-dir",
                out,
            ],
            "--userid: 9223372036854775807 is out of range",
        ),
    ];
    for (args, expected) in cases {
        let (code, stderr) = run_binary(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(stderr.starts_with("eventsim: error: "), "{stderr}");
    }
    let (code, stderr) = run_binary(&["-c", reference, "--nusers", "x"]);
    assert_eq!(code, 2, "{stderr}");
}
