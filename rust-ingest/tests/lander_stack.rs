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
use soundlake_core::event::Topic;
use soundlake_core::lake::{LakeStore, LakeUrl};

use common::stack_run::{bronze_rows, Records, Run, LANDER};

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

/// A run whose topics hold ten users' day of eventsim, its listen topic, and that topic's
/// records read back from Kafka; `None` without the stack.
async fn run_with_listens(label: &str) -> Option<(Run, String, Records)> {
    let run = Run::new(label).await?;
    let run = tokio::task::spawn_blocking(move || {
        run.produce_eventsim("10");
        run
    })
    .await
    .expect("join");
    let topic = run.topic(Topic::Listen);
    let listens = tokio::task::block_in_place(|| run.kafka_records(&topic));
    Some((run, topic, listens))
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

/// A time-ordered backfill whose Kafka partitions are uneven — partition 0 has three times the
/// listens per hour of the others, so librdkafka, which fetches fairly in bytes, would let the
/// others run hours ahead in event time — is landed over several flushes with about one file per
/// hour (`partition_reader` keeps the partitions in the same hour, `hold_back` keeps the newest
/// hour for the next flush), and exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn an_uneven_time_ordered_backfill_gets_one_file_per_hour() {
    const HOURS: i64 = 12;
    const PER_HOUR: [(i32, i64); 3] = [(0, 6000), (1, 2000), (2, 2000)];
    const START_MS: i64 = 1_751_328_000_000; // 2025-07-01T00:00:00Z
                                             // Ten users' day gives a good listen record to copy (their rows land in 2025-06-01, away
                                             // from the hours checked below).
    let Some((run, topic, listens)) = run_with_listens("ingest_align").await else {
        return;
    };
    let sample = listens
        .into_values()
        .flatten()
        .next()
        .expect("a listen record");
    let producer: BaseProducer = run.stack.kafka_config().create().expect("producer");
    for hour in 0..HOURS {
        for (partition, per_hour) in PER_HOUR {
            for i in 0..per_hour {
                let ts = START_MS + hour * 3_600_000 + i * 3_600_000 / per_hour;
                let value = with_ts(&sample, ts);
                let mut record = BaseRecord::<(), [u8]>::to(&topic)
                    .partition(partition)
                    .payload(value.as_slice());
                while let Err((err, back)) = producer.send(record) {
                    assert!(
                        matches!(
                            err.rdkafka_error_code(),
                            Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                        ),
                        "send: {err}"
                    );
                    producer.poll(Duration::from_millis(50));
                    record = back;
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
    let (run, commits) = tokio::task::spawn_blocking(move || {
        // 8 MiB flushes hold 1-2 hours of these listens (an hour that does not fit in one
        // flush is rightly written as several files): the 120 000 listens take six to eight.
        let out = run.lander(&["--max-file-bytes", "8388608"]);
        assert!(
            out.status.success(),
            "lander failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let commits = run.commit_entries();
        (run, commits)
    })
    .await
    .expect("join");
    assert!(
        commits >= 6,
        "the landing took {commits} commits: too few flushes to test anything"
    );
    let url = LakeUrl::parse(&run.lake_url()).expect("lake url");
    let store = LakeStore::open(&url).expect("store");
    let day = format!("bronze/{topic}/event_date=2025-07-01");
    let mut files_per_hour: BTreeMap<String, i64> = BTreeMap::new();
    for entry in store.list_or_empty(&day, true).await.expect("list") {
        if entry.path.ends_with(".parquet") {
            let hour = entry.path.rsplit('/').nth(1).unwrap_or_default().to_owned();
            *files_per_hour.entry(hour).or_insert(0) += 1;
        }
    }
    let hours: Vec<String> = (0..HOURS).map(|h| format!("hour={h:02}")).collect();
    assert_eq!(
        files_per_hour.keys().cloned().collect::<Vec<_>>(),
        hours,
        "hours of {day}"
    );
    // Not exactly one file per hour: the decode threads publish how far a partition got after
    // each chunk of 1 024 records, so a partition can be read a little past an hour before the
    // reader knows (13-14 files in 4 runs). Without the reader the same backfill made 23-28.
    let files: i64 = files_per_hour.values().sum();
    assert!(
        files <= HOURS * 3 / 2,
        "{files} data files for {HOURS} hours: {files_per_hour:?}"
    );
    run.assert_exactly_once("an uneven backfill").await;
    run.cleanup().await;
}

/// `value` (a record in the Confluent wire format whose body starts with the `ts` long, as
/// every event schema does) with `ts` in place of its own.
fn with_ts(value: &[u8], ts: i64) -> Vec<u8> {
    let body = &value[5..];
    let old_len = body.iter().position(|b| b & 0x80 == 0).expect("a varint") + 1;
    let mut out = value[..5].to_vec();
    let mut zigzag = ((ts << 1) ^ (ts >> 63)) as u64;
    while zigzag >= 0x80 {
        out.push((zigzag as u8 & 0x7f) | 0x80);
        zigzag >>= 7;
    }
    out.push(zigzag as u8);
    out.extend_from_slice(&body[old_len..]);
    out
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
