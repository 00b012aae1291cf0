//! A lander test against the real stack: unique topics filled by eventsim, a unique HDFS lake
//! folder, the lander binary, and the checks that bronze holds every offset exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use arrow::array::AsArray;
use arrow::datatypes::{Int32Type, Int64Type};
use arrow::record_batch::RecordBatch;
use clap::Parser;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use soundlake_core::event::Topic;
use soundlake_core::lake::{LakeStore, LakeUrl};
use soundlake_ingest::commit_log::{CommitEntry, CommitLog};
use soundlake_testkit::{require, unique_name, Service, StackEndpoints, TestHdfsDir};

pub const LANDER: &str = env!("CARGO_BIN_EXE_soundlake-ingest");

/// (partition, offset) → raw value, of one Kafka topic.
pub type Records = BTreeMap<(i32, i64), Option<Vec<u8>>>;

pub struct Run {
    pub stack: StackEndpoints,
    pub prefix: String,
    pub lake: TestHdfsDir,
    /// Another lake than `lake` (e.g. a private HDFS), when set.
    pub lake_override: Option<String>,
}

impl Run {
    /// A run on the local stack; `None` (the test skips) when the stack is not running.
    pub async fn new(label: &str) -> Option<Run> {
        let stack = require(&[Service::Kafka, Service::SchemaRegistry, Service::Hdfs]).await?;
        let lake = TestHdfsDir::create(&stack, label).await.expect("HDFS dir");
        Some(Run {
            prefix: format!("{}_", unique_name(label)),
            stack,
            lake,
            lake_override: None,
        })
    }

    pub fn topic(&self, t: Topic) -> String {
        format!("{}{}", self.prefix, t.name())
    }

    pub fn topics(&self) -> Vec<String> {
        Topic::ALL.iter().map(|t| self.topic(*t)).collect()
    }

    /// eventsim into the run's topics (blocking; call off the runtime).
    pub fn produce_eventsim(&self, users: &str) -> eventsim::run::Summary {
        self.produce_eventsim_until(users, "2025-06-02T00:00:00")
    }

    /// eventsim from 2025-06-01T00:00 to `end` (fewer hours: fewer bronze partitions per flush).
    pub fn produce_eventsim_until(&self, users: &str, end: &str) -> eventsim::run::Summary {
        self.produce_eventsim_window(users, "2025-06-01T00:00:00", end, "11")
    }

    /// eventsim from `start` to `end` with `seed`.
    pub fn produce_eventsim_window(
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
        let plan = eventsim::plan::plan(&cli, 1_700_000_000_000).expect("plan");
        eventsim::app::execute(&plan, &AtomicBool::new(false)).expect("eventsim run")
    }

    pub fn lander_args(&self, extra: &[&str]) -> Vec<String> {
        self.lander_args_for("w1", "none", extra)
    }

    /// The lander's arguments as group member `writer`, serving metrics on `metrics_addr`.
    pub fn lander_args_for(&self, writer: &str, metrics_addr: &str, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = [
            "--brokers",
            &self.stack.kafka_broker_list().join(","),
            "--group",
            &format!("{}group", self.prefix),
            "--writer-id",
            writer,
            "--topics",
            &self.topics().join(","),
            "--lake-url",
            &self.lake_url(),
            "--metrics-addr",
            metrics_addr,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    }

    pub fn lander(&self, extra: &[&str]) -> std::process::Output {
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

    /// The lake the lander writes to.
    pub fn lake_url(&self) -> String {
        self.lake_override
            .clone()
            .unwrap_or_else(|| self.lake.url())
    }

    fn store(&self) -> LakeStore {
        let url = LakeUrl::parse(&self.lake_url()).expect("lake url");
        LakeStore::open(&url).expect("store")
    }

    /// Where a spawned lander's log goes (removed by [`Run::cleanup`]).
    pub fn log_path(&self, name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("{}{name}.log", self.prefix))
    }

    /// Starts a lander that runs until stopped, as group member `writer`, its log in
    /// [`Run::log_path`]`(writer)`.
    pub fn spawn_lander(&self, writer: &str, metrics_addr: &str, extra: &[&str]) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(writer))
            .map_or_else(|_| Stdio::null(), Into::into);
        Command::new(LANDER)
            .args(self.lander_args_for(writer, metrics_addr, extra))
            .env_remove("SOUNDLAKE_SCHEMA_REGISTRY_URL")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn the lander")
    }

    /// The last lines of a spawned lander's log, for failure messages.
    pub fn log_tail(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.log_path(name)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// The high watermark of every partition of the run's topics (blocking).
    pub fn high_watermarks(&self) -> BTreeMap<(String, i32), i64> {
        let consumer: BaseConsumer = self.stack.kafka_config().create().expect("consumer");
        let mut out = BTreeMap::new();
        for topic in self.topics() {
            let metadata = consumer
                .fetch_metadata(Some(&topic), Duration::from_secs(10))
                .expect("metadata");
            for p in metadata.topics()[0].partitions() {
                let (_, high) = consumer
                    .fetch_watermarks(&topic, p.id(), Duration::from_secs(10))
                    .expect("watermarks");
                out.insert((topic.clone(), p.id()), high);
            }
        }
        out
    }

    /// Partitions whose commit-log position is behind the high watermark (blocking).
    pub fn unlanded(&self) -> BTreeMap<(String, i32), (Option<i64>, i64)> {
        let marks = self.high_watermarks();
        let log = tokio::runtime::Runtime::new()
            .expect("runtime")
            .block_on(CommitLog::open(self.store(), "test-observer"))
            .expect("the commit log");
        marks
            .into_iter()
            .filter_map(|(key, high)| {
                let next = log.next_offset(&key.0, key.1);
                (next.unwrap_or(0) < high).then_some((key, (next, high)))
            })
            .collect()
    }

    /// Waits until the commit log covers every high watermark; the partitions still behind
    /// when `timeout` passes (blocking).
    pub fn wait_until_landed(
        &self,
        timeout: Duration,
    ) -> BTreeMap<(String, i32), (Option<i64>, i64)> {
        let deadline = Instant::now() + timeout;
        loop {
            let behind = self.unlanded();
            if behind.is_empty() || Instant::now() > deadline {
                return behind;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// The writer of every commit-log entry (blocking).
    pub fn entry_writers(&self) -> BTreeMap<String, usize> {
        let store = self.store();
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let mut out = BTreeMap::new();
        for e in rt
            .block_on(store.list_or_empty("bronze/_commits", false))
            .expect("list")
        {
            if e.is_dir || !e.path.ends_with(".json") || e.name().starts_with("checkpoint") {
                continue;
            }
            let bytes = rt.block_on(store.read(&e.path)).expect("read an entry");
            let entry: CommitEntry = serde_json::from_slice(&bytes).expect("an entry");
            *out.entry(entry.writer).or_default() += 1;
        }
        out
    }

    /// Bronze (data and quarantine) holds every offset of every topic in Kafka exactly once.
    pub async fn assert_exactly_once(&self, context: &str) {
        for t in Topic::ALL {
            let topic = self.topic(t);
            let kafka = tokio::task::block_in_place(|| self.kafka_records(&topic));
            let bronze = bronze_rows(&self.read_dir(&format!("bronze/{topic}")).await);
            let quarantined = self.read_dir(&format!("bronze/_quarantine/{topic}")).await;
            assert!(
                quarantined.is_empty(),
                "{context}: {topic}: nothing is quarantined"
            );
            let kafka_keys: BTreeSet<_> = kafka.keys().copied().collect();
            let bronze_keys: BTreeSet<_> = bronze.keys().copied().collect();
            let missing: Vec<_> = kafka_keys.difference(&bronze_keys).take(10).collect();
            let extra: Vec<_> = bronze_keys.difference(&kafka_keys).take(10).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{context}: {topic}: {} offsets in Kafka, {} in bronze; missing {missing:?}, \
                 not in Kafka {extra:?}",
                kafka_keys.len(),
                bronze_keys.len()
            );
            for (key, value) in &kafka {
                let value = value.as_deref().expect("a value");
                assert_eq!(
                    bronze[key],
                    ts_and_session(value),
                    "{context}: {topic} {key:?}: bronze holds the record's own ts and sessionId"
                );
            }
        }
    }

    /// How many commit-log entries exist (blocking).
    pub fn commit_entries(&self) -> usize {
        let url = LakeUrl::parse(&self.lake_url()).expect("lake url");
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
    pub fn kafka_records(&self, topic: &str) -> Records {
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
    pub async fn read_dir(&self, dir: &str) -> Vec<RecordBatch> {
        let url = LakeUrl::parse(&self.lake_url()).expect("lake url");
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

    pub async fn cleanup(self) {
        let admin: AdminClient<DefaultClientContext> =
            self.stack.kafka_config().create().expect("admin");
        let names = self.topics();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let _ = admin.delete_topics(&refs, &AdminOptions::new()).await;
        for writer in ["w1", "w2", "w3", "w4"] {
            let _ = std::fs::remove_file(self.log_path(writer));
        }
        let _ = self.lake.cleanup().await;
    }
}

/// (partition, offset) → (ts, sessionId) of a bronze table's rows; panics on a duplicate.
pub fn bronze_rows(batches: &[RecordBatch]) -> BTreeMap<(i32, i64), (i64, i64)> {
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
pub fn ts_and_session(value: &[u8]) -> (i64, i64) {
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

/// Sends SIGTERM to a spawned lander.
pub fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM {}", child.id());
}

/// Waits up to `timeout` for a child to exit.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A loopback address with a port that was free a moment ago (for `--metrics-addr`).
pub fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").to_string()
}

/// `GET /metrics` of a lander (None while it does not answer).
pub fn scrape(addr: &str) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

/// The sum of every sample of metric `name` in a scrape.
pub fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Partitions a lander serving metrics on `addr` has assigned (None while it does not
/// answer).
pub fn assigned(addr: &str) -> Option<u64> {
    scrape(addr).map(|t| metric_sum(&t, "soundlake_ingest_assigned_partitions") as u64)
}

/// Polls `what` every 250 ms until it holds or `timeout` passes.
pub fn wait_for(timeout: Duration, mut what: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if what() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A run whose topics hold ten users' day of eventsim, its listen topic, and that topic's
/// records read back from Kafka; `None` without the stack.
pub async fn run_with_listens(label: &str) -> Option<(Run, String, Records)> {
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

/// Commit-log entries a lander wrote, from its metrics at `addr`.
pub fn commits(addr: &str) -> Option<f64> {
    scrape(addr).map(|t| metric_sum(&t, "soundlake_ingest_succeeded_commits_total"))
}
