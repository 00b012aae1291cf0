//! The lander: consumes the topics in a group, decodes records into bronze batches (bad ones
//! into quarantine), and at each flush writes the files and commits them with their offset
//! ranges in one commit-log entry (see `DESIGN-exactly-once.md`).
//!
//! Threading: one thread polls the consumer and runs the lake I/O with `block_on` on a small
//! tokio runtime, so flushing and polling never interleave. On assignment (inside `poll`) the
//! commit log is recovered and every assigned partition starts at the log's next offset; on
//! revocation everything buffered is dropped unflushed: its offsets are not committed, so the
//! next owner reads them again from the log's position (the safe choice — no flush can race
//! a new owner).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use soundlake_core::lake::{LakeError, LakeStore, LakeUrl};
use soundlake_core::schema_registry::{SchemaError, SchemaSource};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::Mutex;
use tracing::{debug, error, info, warn};

use crate::batch_builder::{KafkaMeta, PartitionedBatches};
use crate::commit_log::{CommitError, CommitLog, CommittedFile, OffsetRange, PendingCommit};
use crate::config::{table_of, Config};
use crate::decode::TopicDecoder;
use crate::parquet_writer::{
    bronze_path, data_file_name, BronzeFileWriter, ParquetOptions, WriteError,
};
use crate::quarantine::{quarantine_path, quarantine_schema, QuarantineBuffer, QuarantinedRecord};
use crate::schema::BronzeSchema;
use crate::stats::{LanderMetrics, Stats};

const POLL: Duration = Duration::from_millis(200);
const KAFKA_TIMEOUT: Duration = Duration::from_secs(15);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Records handled between two checks of the rolling limits and of `--until-caught-up` (and
/// after every poll that returned nothing).
const CHECK_EVERY: u32 = 1024;
/// How often the lag and assignment gauges are refreshed between commits.
const GAUGE_INTERVAL: Duration = Duration::from_secs(5);
/// Staged files written at the same time by one flush.
const WRITE_CONCURRENCY: usize = 8;

/// Why the lander stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum LanderError {
    #[error("{reason} (lake URL {url:?})")]
    LakeUrl { url: String, reason: String },
    #[error("the lake does not answer: {0}")]
    Lake(LakeError),
    #[error(
        "Kafka at {brokers}: {reason}; start it with `scripts/stack up kafka` or check --brokers"
    )]
    Kafka { brokers: String, reason: String },
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Commit(#[from] CommitError),
    #[error("writing a Parquet file: {0}")]
    Write(WriteError),
    #[error("building a batch: {0}")]
    Batch(String),
    #[error("the writer id {0:?} is not usable: {1}")]
    Writer(String, String),
}

/// Shared between the poll loop and the consumer's rebalance callback.
struct Shared {
    log: Arc<Mutex<CommitLog>>,
    rt: Handle,
    /// Bumped on every assignment and revocation: buffered data of an older generation is
    /// dropped.
    generation: AtomicU64,
    assigned: StdMutex<BTreeSet<(String, i32)>>,
    shutdown: Arc<AtomicBool>,
    fatal: StdMutex<Option<String>>,
    /// The high watermark of each partition, from librdkafka's statistics.
    high_watermarks: StdMutex<BTreeMap<(String, i32), i64>>,
}

struct LanderContext(Arc<Shared>);

impl ClientContext for LanderContext {
    /// librdkafka's statistics (every [`GAUGE_INTERVAL`]): keeps the high watermarks its
    /// fetcher saw, for the lag gauge, without asking the broker.
    fn stats(&self, statistics: Statistics) {
        let mut marks = lock(&self.0.high_watermarks);
        for (name, topic) in statistics.topics {
            for (partition, p) in topic.partitions {
                if partition >= 0 && p.hi_offset >= 0 {
                    marks.insert((name.clone(), partition), p.hi_offset);
                }
            }
        }
    }
}

impl ConsumerContext for LanderContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let shared = &self.0;
        shared.generation.fetch_add(1, Ordering::SeqCst);
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let parts: Vec<(String, i32)> = tpl
                    .elements()
                    .iter()
                    .map(|e| (e.topic().to_owned(), e.partition()))
                    .collect();
                let positions = shared.recover_with_backoff(&parts);
                for ((topic, partition), next) in parts.iter().zip(positions) {
                    let offset = next.map_or(Offset::Beginning, Offset::Offset);
                    if let Err(err) = tpl.set_partition_offset(topic, *partition, offset) {
                        warn!(%topic, partition, %err, "cannot set the start offset");
                    }
                }
                info!(partitions = ?parts, "assigned; starting at the commit log's positions");
                if let Err(err) = consumer.assign(tpl) {
                    shared.set_fatal(format!("assigning partitions failed: {err}"));
                }
                *lock(&shared.assigned) = parts.into_iter().collect();
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                info!("partitions revoked; dropping what is buffered (it is re-read by the next owner)");
                if let Err(err) = consumer.unassign() {
                    warn!(%err, "unassign failed");
                }
                lock(&shared.assigned).clear();
            }
            other => error!(?other, "rebalance error"),
        }
    }
}

impl Shared {
    /// Recovers the commit log (retrying while the lake is away) and returns the log's next
    /// offset of each partition.
    fn recover_with_backoff(&self, parts: &[(String, i32)]) -> Vec<Option<i64>> {
        let mut backoff = Duration::from_millis(500);
        loop {
            let result = self.rt.block_on(async {
                let mut log = self.log.lock().await;
                log.recover().await.map(|report| {
                    if report.published > 0 || report.orphans_deleted > 0 {
                        info!(?report, "recovered the commit log");
                    }
                    parts
                        .iter()
                        .map(|(t, p)| log.next_offset(t, *p))
                        .collect::<Vec<_>>()
                })
            });
            match result {
                Ok(positions) => return positions,
                Err(CommitError::Lake(err)) if err.kind().is_transient() => {
                    warn!(%err, ?backoff, "the lake is away; retrying the recovery");
                }
                Err(err) => {
                    self.set_fatal(format!("recovering the commit log: {err}"));
                    return vec![None; parts.len()];
                }
            }
            if self.shutdown.load(Ordering::SeqCst) {
                self.set_fatal("stopped while the lake was away".into());
                return vec![None; parts.len()];
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    fn set_fatal(&self, message: String) {
        error!(%message, "fatal");
        lock(&self.fatal).get_or_insert(message);
    }
}

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One Kafka topic's decoder and buffers.
struct TopicState {
    decoder: TopicDecoder,
    batches: PartitionedBatches,
    quarantine: QuarantineBuffer,
    /// Records read from Kafka since the start.
    consumed: u64,
    /// Buffered records, counted in the stats when their commit succeeds.
    pending_landed: u64,
    pending_quarantined: BTreeMap<&'static str, u64>,
}

impl TopicState {
    fn forget_pending(&mut self) {
        self.pending_landed = 0;
        self.pending_quarantined.clear();
    }
}

/// What one flush writes: the data batches and quarantine batch of each topic.
struct FlushWork {
    topic: String,
    dir: Option<String>,
    batch: arrow::record_batch::RecordBatch,
    spans: BTreeMap<i32, crate::batch_builder::OffsetSpan>,
}

/// The lander.
pub struct Lander {
    cfg: Config,
    rt: Runtime,
    store: LakeStore,
    shared: Arc<Shared>,
    consumer: BaseConsumer<LanderContext>,
    schemas: SchemaSource,
    topics: HashMap<String, TopicState>,
    /// Per (topic, partition): `[from, to)` consumed since the last commit.
    ranges: BTreeMap<(String, i32), (i64, i64)>,
    first_buffered: Option<Instant>,
    generation: u64,
    files: u64,
    started_ms: i64,
    /// `--until-caught-up`: the high watermarks (and low) seen at start.
    targets: BTreeMap<(String, i32), (i64, i64)>,
    /// Committed counts (consumed counts live in the topics' states).
    stats: Stats,
    /// Where the stats are published at each commit, with `--metrics-addr`.
    metrics: Option<LanderMetrics>,
    /// When the lag and assignment gauges were last refreshed.
    last_gauges: Instant,
    /// Records handled since the last check of the limits.
    unchecked: u32,
}

impl Lander {
    /// Checks the lake, the registry and Kafka, opens the commit log, and subscribes.
    pub fn new(cfg: Config, shutdown: Arc<AtomicBool>) -> Result<Self, LanderError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| LanderError::Batch(format!("cannot start the runtime: {e}")))?;
        let url = LakeUrl::parse(&cfg.lake_url).map_err(|e| LanderError::LakeUrl {
            url: cfg.lake_url.clone(),
            reason: e.to_string(),
        })?;
        let store = LakeStore::open(&url).map_err(LanderError::Lake)?;
        rt.block_on(store.probe()).map_err(LanderError::Lake)?;
        let log = rt
            .block_on(CommitLog::open(store.clone(), &cfg.writer_id))
            .map_err(|e| match e {
                CommitError::BadWriterId(ref id) => LanderError::Writer(id.clone(), e.to_string()),
                other => LanderError::Commit(other),
            })?;
        let schemas = SchemaSource::from_option(&cfg.schema_registry_url)?;
        if let SchemaSource::Registry(_) = &schemas {
            // Any answer but "unreachable" means the registry is there.
            if let Err(err @ SchemaError::Unreachable { .. }) =
                rt.block_on(schemas.writer_schema(1))
            {
                return Err(err.into());
            }
        }
        let mut topics = HashMap::new();
        for name in &cfg.topics {
            let table = table_of(name).ok_or_else(|| LanderError::Kafka {
                brokers: cfg.brokers.clone(),
                reason: format!("{name} is no event topic"),
            })?;
            let bronze = Arc::new(
                BronzeSchema::for_topic(table).map_err(|e| LanderError::Batch(e.to_string()))?,
            );
            let avsc: Arc<str> = crate::schema::embedded_avsc(table).into();
            topics.insert(
                name.clone(),
                TopicState {
                    decoder: TopicDecoder::new(Arc::clone(&bronze), avsc, cfg.max_value_bytes),
                    batches: PartitionedBatches::new(bronze),
                    quarantine: QuarantineBuffer::default(),
                    consumed: 0,
                    pending_landed: 0,
                    pending_quarantined: BTreeMap::new(),
                },
            );
        }
        let shared = Arc::new(Shared {
            log: Arc::new(Mutex::new(log)),
            rt: rt.handle().clone(),
            generation: AtomicU64::new(0),
            assigned: StdMutex::new(BTreeSet::new()),
            shutdown,
            fatal: StdMutex::new(None),
            high_watermarks: StdMutex::new(BTreeMap::new()),
        });
        let consumer = create_consumer(&cfg, Arc::clone(&shared))?;
        let kafka_err = |reason: String| LanderError::Kafka {
            brokers: cfg.brokers.clone(),
            reason,
        };
        let metadata = consumer
            .fetch_metadata(None, KAFKA_TIMEOUT)
            .map_err(|e| kafka_err(format!("no answer to a metadata request ({e})")))?;
        let mut targets = BTreeMap::new();
        for name in &cfg.topics {
            let topic = metadata.topics().iter().find(|t| t.name() == name);
            let Some(topic) = topic.filter(|t| t.error().is_none()) else {
                if cfg.until_caught_up {
                    return Err(kafka_err(format!("topic {name} does not exist")));
                }
                warn!(%name, "the topic does not exist (yet); waiting for it");
                continue;
            };
            if cfg.until_caught_up {
                for p in topic.partitions() {
                    let (low, high) = consumer
                        .fetch_watermarks(name, p.id(), KAFKA_TIMEOUT)
                        .map_err(|e| kafka_err(format!("watermarks of {name}[{}]: {e}", p.id())))?;
                    targets.insert((name.clone(), p.id()), (low, high));
                }
            }
        }
        let refs: Vec<&str> = cfg.topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&refs)
            .map_err(|e| kafka_err(format!("subscribing to {refs:?}: {e}")))?;
        info!(
            lake = %store.url(), schemas = %schemas.describe(), topics = ?cfg.topics,
            group = %cfg.group, writer = %cfg.writer_id, "lander started"
        );
        Ok(Self {
            cfg,
            rt,
            store,
            shared,
            consumer,
            schemas,
            topics,
            ranges: BTreeMap::new(),
            first_buffered: None,
            generation: 0,
            files: 0,
            started_ms: now_us() / 1000,
            targets,
            stats: Stats {
                last_commit_unix_seconds: now_us() as f64 / 1e6,
                ..Stats::default()
            },
            metrics: None,
            last_gauges: Instant::now(),
            unchecked: 0,
        })
    }

    /// Publishes the stats to `metrics` at each commit and every [`GAUGE_INTERVAL`] (and
    /// times the flushes).
    pub fn set_metrics(&mut self, metrics: LanderMetrics) {
        metrics.publish(&self.stats());
        self.metrics = Some(metrics);
    }

    /// Refreshes the lag and assignment gauges and publishes the stats.
    fn publish(&mut self) {
        self.last_gauges = Instant::now();
        if self.metrics.is_none() {
            return;
        }
        let assigned: Vec<(String, i32)> = lock(&self.shared.assigned).iter().cloned().collect();
        let mut lag = BTreeMap::new();
        let mut per_topic: BTreeMap<String, u64> = BTreeMap::new();
        {
            let marks = lock(&self.shared.high_watermarks).clone();
            let log = self.rt.block_on(self.shared.log.lock());
            for (topic, partition) in assigned {
                *per_topic.entry(topic.clone()).or_default() += 1;
                // The watermark the consumer's fetcher last saw: no request to the broker.
                let Some(&high) = marks.get(&(topic.clone(), partition)) else {
                    continue;
                };
                let next = log.next_offset(&topic, partition).unwrap_or(0);
                lag.insert((topic, partition), (high - next).max(0));
            }
        }
        for topic in &self.cfg.topics {
            per_topic.entry(topic.clone()).or_default();
        }
        self.stats.lag = lag;
        self.stats.assigned = per_topic;
        let stats = self.stats();
        if let Some(metrics) = &self.metrics {
            metrics.publish(&stats);
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        let mut stats = self.stats.clone();
        for (topic, state) in &self.topics {
            stats.topics.entry(topic.clone()).or_default().consumed = state.consumed;
        }
        stats
    }

    /// Runs until shutdown (flushing and committing first), or with `--until-caught-up` until
    /// the end offsets seen at start are committed.
    pub fn run(&mut self) -> Result<(), LanderError> {
        loop {
            if let Some(message) = lock(&self.shared.fatal).clone() {
                return Err(LanderError::Batch(message));
            }
            if self.shared.shutdown.load(Ordering::SeqCst) {
                info!("shutting down: flushing what is buffered");
                self.flush()?;
                break;
            }
            let polled = match self.consumer.poll(POLL) {
                Some(Ok(message)) => Some(Ok(OwnedRecord::from(&message))),
                Some(Err(err)) => Some(Err(err)),
                None => None,
            };
            let generation = self.shared.generation.load(Ordering::SeqCst);
            if generation != self.generation {
                self.generation = generation;
                self.drop_buffers();
            }
            if lock(&self.shared.fatal).is_some() {
                continue;
            }
            let busy = matches!(polled, Some(Ok(_)));
            match polled {
                Some(Ok(record)) => self.handle(record)?,
                Some(Err(KafkaError::PartitionEOF(_))) | None => {}
                Some(Err(err)) => warn!(%err, "Kafka consumer error"),
            }
            // The checks below walk every buffer: not after every record of a busy stream.
            self.unchecked += 1;
            if busy && self.unchecked < CHECK_EVERY {
                continue;
            }
            self.unchecked = 0;
            if self.should_flush() {
                self.flush()?;
            }
            if self.last_gauges.elapsed() >= GAUGE_INTERVAL {
                self.publish();
            }
            if self.cfg.until_caught_up && self.caught_up() {
                self.flush()?;
                if self.caught_up_committed() {
                    info!(stats = ?self.stats(), "caught up with the end offsets seen at start");
                    break;
                }
            }
        }
        self.publish();
        info!(stats = ?self.stats(), "lander stopped");
        Ok(())
    }

    fn handle(&mut self, record: OwnedRecord) -> Result<(), LanderError> {
        let key = (record.topic.clone(), record.partition);
        let from = match self.ranges.get(&key) {
            Some((_, to)) if record.offset < *to => return Ok(()), // delivered twice
            Some((from, _)) => *from,
            None => {
                let logged = self.rt.block_on(async {
                    self.shared
                        .log
                        .lock()
                        .await
                        .next_offset(&record.topic, record.partition)
                });
                match logged {
                    Some(next) if record.offset < next => return Ok(()), // committed already
                    Some(next) => next,
                    None => record.offset,
                }
            }
        };
        let Some(state) = self.topics.get_mut(&record.topic) else {
            return Ok(());
        };
        state.consumed += 1;
        // Resolve a new schema id first (the registry is async; a registry outage waits).
        if let Ok(id) = state.decoder.frame(record.value.as_deref()) {
            if !state.decoder.knows(id) {
                let writer = resolve_schema(&self.rt, &self.schemas, id, &self.shared.shutdown);
                state
                    .decoder
                    .add_schema(id, writer.as_deref().map_err(Clone::clone));
            }
        }
        let meta = KafkaMeta {
            partition: record.partition,
            offset: record.offset,
            timestamp_ms: record.timestamp_ms,
            schema_id: 0,
            ingested_at_us: now_us(),
        };
        match state
            .decoder
            .decode(record.value.as_deref(), &mut state.batches, &meta)
        {
            Ok(()) => state.pending_landed += 1,
            Err(err) => {
                debug!(topic = %record.topic, partition = record.partition, offset = record.offset, %err, "quarantined");
                *state.pending_quarantined.entry(err.reason()).or_default() += 1;
                state.quarantine.push(QuarantinedRecord {
                    value: record.value,
                    partition: record.partition,
                    offset: record.offset,
                    timestamp_ms: record.timestamp_ms,
                    reason: err.reason(),
                    detail: err.to_string(),
                    ingested_at_us: meta.ingested_at_us,
                });
            }
        }
        self.ranges.insert(key, (from, record.offset + 1));
        self.first_buffered.get_or_insert_with(Instant::now);
        Ok(())
    }

    fn buffered(&self) -> (u64, u64) {
        self.topics.values().fold((0, 0), |(rows, bytes), s| {
            (
                rows + (s.batches.rows() + s.quarantine.len()) as u64,
                bytes + (s.batches.buffered_bytes() + s.quarantine.buffered_bytes()) as u64,
            )
        })
    }

    fn should_flush(&self) -> bool {
        let Some(first) = self.first_buffered else {
            return false;
        };
        let (rows, bytes) = self.buffered();
        rows >= self.cfg.roll.max_rows
            || bytes >= self.cfg.roll.max_file_bytes
            || first.elapsed() >= self.cfg.flush_interval
    }

    fn drop_buffers(&mut self) {
        if !self.ranges.is_empty() {
            info!(
                partitions = self.ranges.len(),
                "dropping unflushed records after a rebalance"
            );
        }
        for state in self.topics.values_mut() {
            // Finishing empties the builders; the batches are discarded.
            drop(state.batches.finish_all());
            state.quarantine.clear();
            state.forget_pending();
        }
        self.ranges.clear();
        self.first_buffered = None;
    }

    /// Writes every buffered batch and commits them with their offset ranges.
    pub fn flush(&mut self) -> Result<(), LanderError> {
        if self.ranges.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let mut work = Vec::new();
        for (topic, state) in &mut self.topics {
            for finished in state
                .batches
                .finish_all()
                .map_err(|e| LanderError::Batch(e.to_string()))?
            {
                work.push(FlushWork {
                    topic: topic.clone(),
                    dir: Some(finished.key.dir()),
                    batch: finished.batch,
                    spans: finished.spans,
                });
            }
            if !state.quarantine.is_empty() {
                work.push(FlushWork {
                    topic: topic.clone(),
                    dir: None,
                    batch: state
                        .quarantine
                        .to_batch(topic)
                        .map_err(|e| LanderError::Batch(e.to_string()))?,
                    spans: state.quarantine.spans(),
                });
                state.quarantine.clear();
            }
        }
        let ranges: Vec<OffsetRange> = self
            .ranges
            .iter()
            .map(|((topic, partition), (from, to))| OffsetRange {
                topic: topic.clone(),
                partition: *partition,
                from: *from,
                to: *to,
            })
            .collect();
        let mut backoff = Duration::from_millis(500);
        let files = loop {
            match self.write_files(&work) {
                Ok(files) => break files,
                Err(WriteError::Lake(err)) if err.kind().is_transient() => {
                    warn!(%err, ?backoff, "the lake is away; retrying the flush (nothing committed)");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(err) => return Err(LanderError::Write(err)),
            }
        };
        let bytes: u64 = files.iter().map(|f| f.bytes).sum();
        let count = files.len();
        // (topic, quarantine?, bytes) of each file, counted if the commit succeeds.
        let written: Vec<(String, bool, u64)> = work
            .iter()
            .zip(&files)
            .map(|(item, file)| (item.topic.clone(), item.dir.is_none(), file.bytes))
            .collect();
        let pending = PendingCommit {
            ranges: ranges.clone(),
            files,
        };
        let result = self.rt.block_on(async {
            let mut log = self.shared.log.lock().await;
            log.commit(pending).await
        });
        self.ranges.clear();
        self.first_buffered = None;
        match result {
            Ok(entry) => {
                self.count_commit(&written);
                info!(
                    seq = entry.seq,
                    files = count,
                    bytes,
                    ranges = ranges.len(),
                    took_ms = started.elapsed().as_millis() as u64,
                    "committed"
                );
                self.commit_kafka(&ranges);
            }
            Err(err) => {
                self.stats.commit_failures += 1;
                for state in self.topics.values_mut() {
                    state.forget_pending();
                }
                warn!(%err, "the commit did not go through as is; recovering and re-reading from the commit log's positions");
                self.reset_to_log();
            }
        }
        if let Some(metrics) = &self.metrics {
            metrics.record_flush(started.elapsed().as_secs_f64());
        }
        self.publish();
        Ok(())
    }

    /// Moves the buffered counts into the stats after a successful commit of `written`.
    fn count_commit(&mut self, written: &[(String, bool, u64)]) {
        self.stats.commits += 1;
        self.stats.last_commit_unix_seconds = now_us() as f64 / 1e6;
        for (topic, state) in &mut self.topics {
            let stats = self.stats.topics.entry(topic.clone()).or_default();
            stats.landed += state.pending_landed;
            for (reason, n) in &state.pending_quarantined {
                *stats.quarantined.entry(reason).or_default() += n;
            }
            state.forget_pending();
        }
        for (topic, quarantine, bytes) in written {
            let stats = self.stats.topics.entry(topic.clone()).or_default();
            if *quarantine {
                stats.quarantine_files += 1;
                stats.quarantine_bytes += bytes;
            } else {
                stats.data_files += 1;
                stats.data_bytes += bytes;
            }
        }
    }

    /// Writes the flush's files to staging, up to [`WRITE_CONCURRENCY`] at a time (each HDFS
    /// file costs a few round trips to close, so one at a time is slow).
    fn write_files(&mut self, work: &[FlushWork]) -> Result<Vec<CommittedFile>, WriteError> {
        let mut jobs = Vec::with_capacity(work.len());
        for item in work {
            self.files += 1;
            let name = data_file_name(&self.cfg.writer_id, self.started_ms, self.files);
            let staged_path = self
                .rt
                .block_on(async { self.shared.log.lock().await.staging_path(&name) });
            let (schema, path) = match &item.dir {
                Some(dir) => (
                    self.topics[&item.topic].batches.schema().arrow_schema(),
                    bronze_path(&item.topic, dir, &name),
                ),
                None => (quarantine_schema(), quarantine_path(&item.topic, &name)),
            };
            jobs.push((item, staged_path, schema, path));
        }
        let mut out = Vec::with_capacity(work.len());
        for chunk in jobs.chunks(WRITE_CONCURRENCY) {
            let mut set = tokio::task::JoinSet::new();
            for (index, (item, staged_path, schema, _)) in chunk.iter().enumerate() {
                let store = self.store.clone();
                let (staged_path, schema) = (staged_path.clone(), Arc::clone(schema));
                let (batch, spans) = (item.batch.clone(), item.spans.clone());
                set.spawn_on(
                    async move {
                        let options = ParquetOptions::default();
                        let mut writer =
                            BronzeFileWriter::create(&store, &staged_path, schema, &options)
                                .await?;
                        writer.write(&batch, &spans).await?;
                        writer.finish().await.map(|staged| (index, staged))
                    },
                    self.rt.handle(),
                );
            }
            let mut staged = self.rt.block_on(async {
                let mut done = Vec::with_capacity(chunk.len());
                let mut first_error = None;
                while let Some(joined) = set.join_next().await {
                    match joined {
                        Ok(Ok(file)) => done.push(file),
                        Ok(Err(err)) => {
                            first_error.get_or_insert(err);
                        }
                        // A panic in a writer task is a bug: propagate it.
                        Err(join) => std::panic::resume_unwind(join.into_panic()),
                    }
                }
                first_error.map_or(Ok(done), Err)
            })?;
            staged.sort_by_key(|(index, _)| *index);
            for (index, file) in staged {
                let (item, _, _, path) = &chunk[index];
                out.push(CommittedFile::new(&item.topic, &file, path.clone()));
            }
        }
        Ok(out)
    }

    /// After a fenced or ambiguous commit: recover, drop everything, seek to the log.
    fn reset_to_log(&mut self) {
        self.drop_buffers();
        let assigned: Vec<(String, i32)> = lock(&self.shared.assigned).iter().cloned().collect();
        let positions = self.shared.recover_with_backoff(&assigned);
        for ((topic, partition), next) in assigned.iter().zip(positions) {
            let offset = next.map_or(Offset::Beginning, Offset::Offset);
            if let Err(err) = self.consumer.seek(topic, *partition, offset, KAFKA_TIMEOUT) {
                self.shared
                    .set_fatal(format!("cannot seek {topic}[{partition}]: {err}"));
            }
        }
    }

    fn commit_kafka(&self, ranges: &[OffsetRange]) {
        let mut tpl = TopicPartitionList::new();
        for r in ranges {
            if let Err(err) = tpl.add_partition_offset(&r.topic, r.partition, Offset::Offset(r.to))
            {
                warn!(%err, "cannot list an offset for Kafka");
            }
        }
        if let Err(err) = self.consumer.commit(&tpl, CommitMode::Async) {
            // Lag monitoring only: the lake's log is the truth.
            warn!(%err, "committing offsets to Kafka failed (only lag monitoring is affected)");
        }
    }

    /// Whether what is consumed reaches every end offset seen at start.
    fn caught_up(&self) -> bool {
        self.targets_met(true)
    }

    fn caught_up_committed(&self) -> bool {
        self.targets_met(false)
    }

    fn targets_met(&self, count_buffered: bool) -> bool {
        let log = self.rt.block_on(self.shared.log.lock());
        self.targets
            .iter()
            .all(|((topic, partition), (low, high))| {
                if high <= low {
                    return true;
                }
                let logged = log.next_offset(topic, *partition).unwrap_or(*low);
                let buffered = if count_buffered {
                    self.ranges
                        .get(&(topic.clone(), *partition))
                        .map_or(logged, |(_, to)| *to)
                } else {
                    logged
                };
                logged.max(buffered) >= *high
            })
    }
}

impl Drop for Lander {
    fn drop(&mut self) {
        self.consumer.unsubscribe();
    }
}

/// A consumed record, copied out of the consumer's buffer.
struct OwnedRecord {
    topic: String,
    partition: i32,
    offset: i64,
    timestamp_ms: Option<i64>,
    value: Option<Vec<u8>>,
}

impl From<&BorrowedMessage<'_>> for OwnedRecord {
    fn from(m: &BorrowedMessage<'_>) -> Self {
        Self {
            topic: m.topic().to_owned(),
            partition: m.partition(),
            offset: m.offset(),
            timestamp_ms: m.timestamp().to_millis(),
            value: m.payload().map(<[u8]>::to_vec),
        }
    }
}

fn create_consumer(
    cfg: &Config,
    shared: Arc<Shared>,
) -> Result<BaseConsumer<LanderContext>, LanderError> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &cfg.brokers)
        .set("group.id", &cfg.group)
        .set("group.instance.id", &cfg.writer_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        .set("enable.partition.eof", "false")
        .set(
            "statistics.interval.ms",
            GAUGE_INTERVAL.as_millis().to_string(),
        )
        .set("client.id", format!("soundlake-ingest-{}", cfg.writer_id));
    for (k, v) in &cfg.consumer_config {
        config.set(k, v);
    }
    config
        .create_with_context(LanderContext(shared))
        .map_err(|e| LanderError::Kafka {
            brokers: cfg.brokers.clone(),
            reason: format!("cannot create the consumer: {e}"),
        })
}

/// The writer schema of `id`, or why it cannot be had. A registry that does not answer is
/// waited for (its records are not quarantined for an outage).
fn resolve_schema(
    rt: &Runtime,
    schemas: &SchemaSource,
    id: u32,
    shutdown: &AtomicBool,
) -> Result<String, String> {
    let mut backoff = Duration::from_millis(500);
    loop {
        match rt.block_on(schemas.writer_schema(id)) {
            Ok(text) => return Ok(text.to_string()),
            Err(
                err @ (SchemaError::Unreachable { .. } | SchemaError::Http { status: 500.., .. }),
            ) => {
                // Never quarantine for an outage; SIGKILL still works, and nothing is lost.
                if shutdown.load(Ordering::SeqCst) {
                    warn!("shutdown requested while the registry is away: still waiting");
                }
                warn!(%err, ?backoff, "the schema registry is away; waiting");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(err) => return Err(err.to_string()),
        }
    }
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}
