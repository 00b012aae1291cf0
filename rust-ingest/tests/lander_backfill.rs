//! A time-ordered backfill landed by the lander against the real stack (Kafka, schema registry,
//! HDFS), checked for its file layout: about one file per bronze hour. A test binary of its own:
//! how well the partitions keep together in event time depends on how fast each is fetched, so
//! the landing must not share the two cores with the other stack tests' landers (cargo runs one
//! test binary at a time). Needs `scripts/stack up kafka schema-registry hdfs`.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use soundlake_core::lake::{LakeStore, LakeUrl};

use common::stack_run::run_with_listens;

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
        // flush is rightly written as several files): the 120 000 listens take five to eight.
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
        commits >= 5,
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
    // Not exactly one file per hour: the reader learns how far a partition got from the last
    // message of each burst it takes, so a partition can be read up to a burst past an hour,
    // and a flush holds back at most half its rows. Without the reader the same backfill makes
    // about twice as many files.
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
