//! The lander against the real stack (Kafka, schema registry, HDFS): eventsim produces a known
//! set into unique topics, `soundlake-ingest --until-caught-up` lands them into a unique HDFS
//! folder, and bronze is read back with the parquet crate. Needs
//! `scripts/stack up kafka schema-registry hdfs`.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use arrow::array::AsArray;
use arrow::datatypes::{Int32Type, Int64Type};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use common::stack_run::{bronze_rows, run_with_listens, Run, LANDER};

#[tokio::test(flavor = "multi_thread")]
async fn lands_every_produced_record_exactly_once_on_hdfs() {
    let Some(run) = Run::new("ingest_e2e").await else {
        return;
    };
    let run = tokio::task::spawn_blocking(move || {
        let summary = run.produce_eventsim("30");
        assert!(summary.records() > 0, "eventsim produced nothing");
        let out = run.lander(&["--max-rows", "500"]);
        assert!(
            out.status.success(),
            "lander failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        run
    })
    .await
    .expect("join");
    run.assert_exactly_once("one lander run").await;
    run.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn quarantines_poison_records_with_their_reason() {
    let Some((run, topic, good)) = run_with_listens("ingest_poison").await else {
        return;
    };
    let sample = good
        .values()
        .next()
        .and_then(Clone::clone)
        .expect("a good record");
    let mut unknown_id = sample.clone();
    unknown_id[1..5].copy_from_slice(&0x7fff_fff0u32.to_be_bytes());
    let mut bad_magic = sample.clone();
    bad_magic[0] = 7;
    let truncated = sample[..sample.len() / 2].to_vec();
    let mut wrong_type = sample[..5].to_vec();
    wrong_type.extend_from_slice(&[0x02, 0x02, 0x7f, 0x01]); // ts, sessionId, string length -64
    let oversized = {
        let mut v = sample[..5].to_vec();
        v.resize(5000, 0);
        v
    };
    let poison: Vec<(Option<Vec<u8>>, &[&str])> = vec![
        (Some(bad_magic), &["bad_magic"]),
        (Some(unknown_id), &["unknown_schema_id"]),
        (Some(truncated), &["truncated_body"]),
        (Some(wrong_type), &["wrong_type", "truncated_body"]),
        (Some(Vec::new()), &["empty_value"]),
        (None, &["empty_value"]),
        (Some(oversized), &["oversized_value"]),
    ];
    let producer: BaseProducer = run.stack.kafka_config().create().expect("producer");
    for (value, _) in &poison {
        let mut record = BaseRecord::<(), [u8]>::to(&topic).partition(0);
        if let Some(v) = value {
            record = record.payload(v.as_slice());
        }
        producer.send(record).map_err(|(e, _)| e).expect("send");
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
    // Good traffic after the poison, too.
    let run = tokio::task::spawn_blocking(move || {
        let out = run.lander(&["--max-value-bytes", "4096"]);
        assert!(
            out.status.success(),
            "lander failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        run
    })
    .await
    .expect("join");
    let all = tokio::task::block_in_place(|| run.kafka_records(&topic));
    let bronze = bronze_rows(&run.read_dir(&format!("bronze/{topic}")).await);
    let quarantine = run.read_dir(&format!("bronze/_quarantine/{topic}")).await;
    let mut reasons = BTreeMap::new();
    for b in &quarantine {
        let p = b
            .column_by_name("_kafka_partition")
            .expect("p")
            .as_primitive::<Int32Type>()
            .clone();
        let o = b
            .column_by_name("_kafka_offset")
            .expect("o")
            .as_primitive::<Int64Type>()
            .clone();
        let r = b
            .column_by_name("reason")
            .expect("reason")
            .as_string::<i32>()
            .clone();
        for i in 0..b.num_rows() {
            assert!(reasons
                .insert((p.value(i), o.value(i)), r.value(i).to_owned())
                .is_none());
        }
    }
    // Every good record is in bronze, every poison record in quarantine, nothing twice.
    for key in good.keys() {
        assert!(bronze.contains_key(key), "{key:?} landed");
    }
    assert_eq!(bronze.len(), good.len());
    assert_eq!(reasons.len(), poison.len(), "quarantined: {reasons:?}");
    assert_eq!(bronze.len() + reasons.len(), all.len());
    let poison_offsets: Vec<(i32, i64)> = all
        .keys()
        .filter(|k| !good.contains_key(k))
        .copied()
        .collect();
    for ((_, allowed), key) in poison.iter().zip(&poison_offsets) {
        let reason = &reasons[key];
        assert!(
            allowed.contains(&reason.as_str()),
            "{key:?}: {reason} not in {allowed:?}"
        );
    }
    run.cleanup().await;
}

/// `--metrics-addr` on a port another process holds: the telemetry module's error, exit 2,
/// before the lander touches Kafka or the lake.
#[test]
fn a_taken_metrics_address_exits_2() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let addr = holder.local_addr().expect("local addr").to_string();
    let out = Command::new(LANDER)
        .args(["--metrics-addr", &addr, "--until-caught-up"])
        .output()
        .expect("run the lander");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("metrics address {addr} is in use")),
        "{stderr}"
    );
    assert!(
        !stderr.contains("\u{1b}["),
        "no ANSI colours off a terminal: {stderr}"
    );
}
