//! The lander against the real stack (Kafka, schema registry, HDFS): eventsim produces a known
//! set into unique topics, `soundlake-ingest --until-caught-up` lands them into a unique HDFS
//! folder, and bronze is read back with the parquet crate. Needs
//! `scripts/stack up kafka schema-registry hdfs`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use arrow::array::AsArray;
use arrow::datatypes::{Int32Type, Int64Type};
use arrow::record_batch::RecordBatch;
use clap::Parser;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use soundlake_core::event::Topic;
use soundlake_core::lake::{LakeStore, LakeUrl};
use soundlake_testkit::{require, unique_name, Service, StackEndpoints, TestHdfsDir};

const LANDER: &str = env!("CARGO_BIN_EXE_soundlake-ingest");

/// (partition, offset) → raw value, of one Kafka topic.
type Records = BTreeMap<(i32, i64), Option<Vec<u8>>>;

struct Run {
    stack: StackEndpoints,
    prefix: String,
    lake: TestHdfsDir,
}

impl Run {
    async fn new(label: &str) -> Run {
        let stack = require(&[Service::Kafka, Service::SchemaRegistry, Service::Hdfs]).await;
        let lake = TestHdfsDir::create(&stack, label).await.expect("HDFS dir");
        Run {
            prefix: format!("{}_", unique_name(label)),
            stack,
            lake,
        }
    }

    fn topic(&self, t: Topic) -> String {
        format!("{}{}", self.prefix, t.name())
    }

    fn topics(&self) -> Vec<String> {
        Topic::ALL.iter().map(|t| self.topic(*t)).collect()
    }

    /// eventsim into the run's topics (blocking; call off the runtime).
    fn produce_eventsim(&self, users: &str) -> eventsim::run::Summary {
        self.produce_eventsim_until(users, "2025-06-02T00:00:00")
    }

    /// eventsim from 2025-06-01T00:00 to `end` (fewer hours: fewer bronze partitions per flush).
    fn produce_eventsim_until(&self, users: &str, end: &str) -> eventsim::run::Summary {
        self.produce_eventsim_window(users, "2025-06-01T00:00:00", end, "11")
    }

    /// eventsim from `start` to `end` with `seed`.
    fn produce_eventsim_window(
        &self,
        users: &str,
        start: &str,
        end: &str,
        seed: &str,
    ) -> eventsim::run::Summary {
        let config = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../eventsim/configs/eventsim-config-example.json"
        );
        let brokers = self.stack.kafka_broker_list().join(",");
        let argv = [
            "eventsim",
            "-c",
            config,
            "--nusers",
            users,
            "--start-time",
            start,
            "--end-time",
            end,
            "--randomseed",
            seed,
            "--progress",
            "never",
            "--kafka-brokers",
            &brokers,
            "--topic-prefix",
            &self.prefix,
            "--partitions",
            "3",
        ];
        let cli = eventsim::cli::Cli::try_parse_from(argv).expect("eventsim command line");
        let plan = eventsim::app::plan(&cli, 1_700_000_000_000).expect("plan");
        eventsim::app::execute(&plan, &AtomicBool::new(false)).expect("eventsim run")
    }

    fn lander_args(&self, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = [
            "--brokers",
            &self.stack.kafka_broker_list().join(","),
            "--group",
            &format!("{}group", self.prefix),
            "--writer-id",
            "w1",
            "--topics",
            &self.topics().join(","),
            "--lake-url",
            &self.lake.url(),
            "--metrics-addr",
            "none",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    }

    fn lander(&self, extra: &[&str]) -> std::process::Output {
        let out = Command::new(LANDER)
            .args(self.lander_args(extra))
            .arg("--until-caught-up")
            .env_remove("SOUNDLAKE_SCHEMA_REGISTRY_URL")
            .output()
            .expect("run the lander");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains('\u{1b}'),
            "ANSI colours off a terminal: {stderr}"
        );
        out
    }

    /// How many commit-log entries exist (blocking).
    fn commit_entries(&self) -> usize {
        let url = LakeUrl::parse(&self.lake.url()).expect("lake url");
        let store = LakeStore::open(&url).expect("store");
        tokio::runtime::Runtime::new()
            .expect("runtime")
            .block_on(store.list_or_empty("bronze/_commits", false))
            .expect("list")
            .iter()
            .filter(|e| e.path.ends_with(".json") && !e.name().starts_with("checkpoint"))
            .count()
    }

    /// Every record of `topic`, read back from Kafka.
    fn kafka_records(&self, topic: &str) -> Records {
        let consumer: BaseConsumer = self
            .stack
            .kafka_config()
            .set("group.id", format!("{}check", self.prefix))
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("metadata");
        let mut tpl = TopicPartitionList::new();
        let mut remaining = 0;
        for p in metadata.topics()[0].partitions() {
            let (low, high) = consumer
                .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
                .expect("watermarks");
            remaining += high - low;
            tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
                .expect("tpl");
        }
        consumer.assign(&tpl).expect("assign");
        let mut out = Records::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while (out.len() as i64) < remaining && std::time::Instant::now() < deadline {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(500)) {
                out.insert((m.partition(), m.offset()), m.payload().map(<[u8]>::to_vec));
            }
        }
        assert_eq!(out.len() as i64, remaining, "{topic}: read back from Kafka");
        out
    }

    /// Every Parquet file below `dir` of the lake, as record batches.
    async fn read_dir(&self, dir: &str) -> Vec<RecordBatch> {
        let url = LakeUrl::parse(&self.lake.url()).expect("lake url");
        let store = LakeStore::open(&url).expect("store");
        let mut out = Vec::new();
        for entry in store.list_or_empty(dir, true).await.expect("list") {
            if entry.is_dir || !entry.path.ends_with(".parquet") {
                continue;
            }
            let bytes = store.read(&entry.path).await.expect("read");
            let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
                .expect("parquet")
                .build()
                .expect("reader");
            for batch in reader {
                out.push(batch.expect("batch"));
            }
        }
        out
    }

    async fn cleanup(self) {
        let admin: AdminClient<DefaultClientContext> =
            self.stack.kafka_config().create().expect("admin");
        let names = self.topics();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let _ = admin.delete_topics(&refs, &AdminOptions::new()).await;
        let _ = self.lake.cleanup().await;
    }
}

/// (partition, offset) → (ts, sessionId) of a bronze table's rows; panics on a duplicate.
fn bronze_rows(batches: &[RecordBatch]) -> BTreeMap<(i32, i64), (i64, i64)> {
    let mut out = BTreeMap::new();
    for b in batches {
        let col = |n: &str| b.column_by_name(n).expect(n).clone();
        let (p, o, ts, s) = (
            col("_kafka_partition"),
            col("_kafka_offset"),
            col("ts"),
            col("sessionId"),
        );
        let (p, o) = (p.as_primitive::<Int32Type>(), o.as_primitive::<Int64Type>());
        let (ts, s) = (
            ts.as_primitive::<Int64Type>(),
            s.as_primitive::<Int64Type>(),
        );
        for i in 0..b.num_rows() {
            let key = (p.value(i), o.value(i));
            assert!(
                out.insert(key, (ts.value(i), s.value(i))).is_none(),
                "{key:?} is in bronze twice"
            );
        }
    }
    out
}

/// ts and sessionId, the first two fields of every event schema, from a framed value.
fn ts_and_session(value: &[u8]) -> (i64, i64) {
    let mut at = 5;
    let mut next = || {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = value[at];
            at += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                break;
            }
        }
        ((v >> 1) as i64) ^ -((v & 1) as i64)
    };
    (next(), next())
}

#[tokio::test(flavor = "multi_thread")]
async fn lands_every_produced_record_exactly_once_on_hdfs() {
    let run = Run::new("ingest_e2e").await;
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
    for t in Topic::ALL {
        let topic = run.topic(t);
        let kafka = tokio::task::block_in_place(|| run.kafka_records(&topic));
        let bronze = bronze_rows(&run.read_dir(&format!("bronze/{topic}")).await);
        let quarantined = run.read_dir(&format!("bronze/_quarantine/{topic}")).await;
        assert!(quarantined.is_empty(), "{topic}: nothing is quarantined");
        let kafka_keys: BTreeSet<_> = kafka.keys().copied().collect();
        let bronze_keys: BTreeSet<_> = bronze.keys().copied().collect();
        assert_eq!(
            kafka_keys, bronze_keys,
            "{topic}: every offset exactly once"
        );
        for (key, value) in &kafka {
            let value = value.as_deref().expect("a value");
            assert_eq!(bronze[key], ts_and_session(value), "{topic} {key:?}");
        }
    }
    run.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn quarantines_poison_records_with_their_reason() {
    let run = Run::new("ingest_poison").await;
    let run = tokio::task::spawn_blocking(move || {
        run.produce_eventsim("10");
        run
    })
    .await
    .expect("join");
    let topic = run.topic(Topic::Listen);
    let good = tokio::task::block_in_place(|| run.kafka_records(&topic));
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

/// SIGKILLs the lander at random instants (20 times) while it lands, restarting it each time;
/// a new slice of events is produced before each run so that every run has work. A last run
/// catches up, and bronze must hold every produced offset exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn survives_sigkill_at_random_instants_exactly_once() {
    const KILLS: usize = 20;
    let run = Run::new("ingest_crash").await;
    let run = tokio::task::spawn_blocking(move || {
        let mut seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        eprintln!("crash test seed {seed}");
        for round in 0..KILLS {
            let (start, end) = (
                format!("2025-06-01T{round:02}:00:00"),
                format!("2025-06-01T{:02}:00:00", round + 1),
            );
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
        }
        let entries = run.commit_entries();
        eprintln!("{entries} commit entries written by the {KILLS} killed runs");
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
    for t in Topic::ALL {
        let topic = run.topic(t);
        let kafka = tokio::task::block_in_place(|| run.kafka_records(&topic));
        let bronze = bronze_rows(&run.read_dir(&format!("bronze/{topic}")).await);
        let kafka_keys: BTreeSet<_> = kafka.keys().copied().collect();
        let bronze_keys: BTreeSet<_> = bronze.keys().copied().collect();
        assert_eq!(
            kafka_keys, bronze_keys,
            "{topic}: every offset exactly once after crashes"
        );
        let staging = run.read_dir("bronze/_staging").await;
        assert!(
            staging.is_empty(),
            "no committed-looking leftovers in staging"
        );
    }
    for round in 0..20 {
        let _ = std::fs::remove_file(
            std::env::temp_dir().join(format!("{}crash-{round}.log", run.prefix)),
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
