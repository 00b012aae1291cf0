//! The lander: consumes the topics in a group, decodes records into bronze batches (bad ones
//! into quarantine), and at each flush writes the files and commits them with their offset
//! ranges in one commit-log entry (see `DESIGN-exactly-once.md`).
//!
//! Threading: one thread polls the consumer (each assigned partition from its own queue, so that
//! a topic's partitions stay together in event time: `partition_reader`) and hands the records
//! to decode threads
//! (`decode_worker`), which decode them into column buffers; a flush takes the buffers from the
//! decode threads and hands them to a task on a small tokio runtime that encodes, writes and
//! commits them (`flush`) while the decode threads fill fresh buffers. At most
//! [`MAX_IN_FLIGHT`] flushes are in flight. On
//! assignment and revocation (inside `poll`) the callback first waits for the flush in flight
//! to commit or fail; on assignment the commit log is then recovered and every assigned
//! partition starts at the log's next offset; on revocation everything still buffered is
//! dropped unflushed: its offsets are not committed, so the next owner reads them again from
//! the log's position (the safe choice — no flush can race a new owner).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use soundlake_core::lake::{LakeError, LakeStore, LakeUrl};
use soundlake_core::schema_registry::{SchemaError, SchemaSource};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::{oneshot, Mutex, Semaphore};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::batch_builder::{KafkaMeta, PartitionedBatches};
use crate::commit_log::{CommitError, CommitLog, OffsetRange};
use crate::config::{table_of, Config};
use crate::decode::{self, TopicDecoder};
use crate::decode_worker::{DecodeWorkers, PendingCounts, TopicInput};
use crate::flush::{FileNamer, FlushError, FlushItem, FlushJob, Flushed, MAX_IN_FLIGHT};
use crate::kafka_batch::Record;
use crate::parquet_writer::WriteError;
use crate::partition_reader::{PartitionReader, Polled};
use crate::quarantine::quarantine_schema;
use crate::schema::BronzeSchema;
use crate::stats::{LanderMetrics, Stats};

const KAFKA_TIMEOUT: Duration = Duration::from_secs(15);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Records handled between two checks of the rolling limits and of `--until-caught-up` (and
/// after every poll that returned nothing).
const CHECK_EVERY: u32 = 1024;
/// HDFS block size of bronze files: a flush writes up to [`flush::WRITE_CONCURRENCY`] files at
/// once and the NameNode reserves a block of DataNode space for each; bronze files are small
/// (a flush holds `--max-file-bytes` of all topics and hours), so most still fit one block.
const BLOCK_SIZE: u64 = 32 * 1024 * 1024;
/// How often the lag and assignment gauges are refreshed between commits.
const GAUGE_INTERVAL: Duration = Duration::from_secs(5);

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
    /// One permit per flush in flight, held until it has committed (or failed).
    flush_gate: Arc<Semaphore>,
    /// Bumped on every assignment and revocation: buffered data of an older generation is
    /// dropped.
    generation: AtomicU64,
    assigned: StdMutex<BTreeSet<(String, i32)>>,
    shutdown: Arc<AtomicBool>,
    /// The first fatal error (checked before every record: a lock-free read).
    fatal: OnceLock<String>,
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
        // The flushes in flight commit (or fail) before partitions change hands.
        drop(
            shared
                .rt
                .block_on(shared.flush_gate.acquire_many(MAX_IN_FLIGHT as u32)),
        );
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
        // The first one wins: later ones are consequences.
        let _ = self.fatal.set(message);
    }
}

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the poll loop keeps of one Kafka topic (its decoder and buffers are on a decode
/// thread).
struct TopicState {
    name: String,
    /// The writer schema ids already handed to the decode thread.
    known_ids: BTreeSet<u32>,
    /// Per Kafka partition: `[from, to)` consumed since the last flush started.
    ranges: BTreeMap<i32, (i64, i64)>,
    /// Per Kafka partition: where the last flush in flight ends (the log has not got it yet).
    flushing_to: BTreeMap<i32, i64>,
    /// Records read from Kafka since the start.
    consumed: u64,
}

/// What the poll loop needs to decode a record, besides the topic's state.
struct RecordContext<'a> {
    rt: &'a Runtime,
    schemas: &'a SchemaSource,
    shared: &'a Shared,
    /// The clock read for `_ingested_at` (refreshed every [`CHECK_EVERY`] records).
    now_us: i64,
}

/// The topics' buffers since the last flush started.
struct Buffers {
    topics: Vec<TopicState>,
    workers: DecodeWorkers,
    max_value_bytes: usize,
    first_buffered: Option<Instant>,
}

impl Buffers {
    fn is_empty(&self) -> bool {
        self.first_buffered.is_none()
    }

    /// Rows and bytes buffered (estimate).
    fn size(&self) -> (u64, u64) {
        self.workers.size()
    }

    /// Hands one record to its topic's decode thread (which decodes it into the topic's
    /// buffers or its quarantine).
    fn handle(
        &mut self,
        ctx: &RecordContext<'_>,
        message: &impl Record,
    ) -> Result<(), LanderError> {
        let topic = message.topic();
        let Some(index) = self.topics.iter().position(|t| t.name == topic) else {
            return Ok(());
        };
        let state = &mut self.topics[index];
        let (partition, offset) = (message.partition(), message.offset());
        let from = if let Some(&(from, to)) = state.ranges.get(&partition) {
            if offset < to {
                return Ok(()); // delivered twice
            }
            from
        } else if let Some(&to) = state.flushing_to.get(&partition) {
            if offset < to {
                return Ok(()); // in the flush in flight
            }
            to
        } else {
            let logged = ctx
                .rt
                .block_on(async { ctx.shared.log.lock().await.next_offset(topic, partition) });
            match logged {
                Some(next) if offset < next => return Ok(()), // committed already
                Some(next) => next,
                None => offset,
            }
        };
        state.consumed += 1;
        let value = message.payload();
        // Resolve a new schema id first (the registry is async; a registry outage waits).
        if let Ok(id) = decode::frame(value, self.max_value_bytes) {
            if state.known_ids.insert(id) {
                let writer = resolve_schema(ctx.rt, ctx.schemas, id, &ctx.shared.shutdown);
                self.workers.add_schema(index, id, writer);
            }
        }
        let meta = KafkaMeta {
            partition,
            offset,
            timestamp_ms: message.timestamp_ms(),
            schema_id: 0,
            ingested_at_us: ctx.now_us,
        };
        self.workers
            .push(index, &meta, value)
            .map_err(|e| LanderError::Batch(e.to_string()))?;
        state.ranges.insert(partition, (from, offset + 1));
        self.first_buffered.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Discards everything buffered (its offsets are read again from the log's positions).
    fn drop_all(&mut self) -> Result<(), LanderError> {
        let partitions: usize = self.topics.iter().map(|t| t.ranges.len()).sum();
        if partitions > 0 {
            info!(partitions, "dropping unflushed records");
        }
        self.workers
            .drop_all()
            .map_err(|e| LanderError::Batch(e.to_string()))?;
        for state in &mut self.topics {
            state.ranges.clear();
            state.flushing_to.clear();
        }
        self.first_buffered = None;
        Ok(())
    }

    /// The consumed ranges of every partition, as a flush commits them: up to where its rows
    /// are held back (`held_from`, per topic and Kafka partition), if they are. What is held
    /// back stays buffered, the start of the next flush's range; the rest is in flight.
    fn take_ranges(&mut self, held_from: &[BTreeMap<i32, i64>]) -> Vec<OffsetRange> {
        let mut ranges = Vec::new();
        for (t, held) in self.topics.iter_mut().zip(held_from) {
            for (partition, (from, to)) in std::mem::take(&mut t.ranges) {
                let end = match held.get(&partition) {
                    Some(&cut) => {
                        t.ranges.insert(partition, (cut, to));
                        cut
                    }
                    None => to,
                };
                if end > from {
                    t.flushing_to.insert(partition, end);
                    ranges.push(OffsetRange {
                        topic: t.name.clone(),
                        partition,
                        from,
                        to: end,
                    });
                }
            }
        }
        ranges
    }

    /// The consumed position of a partition, if it has buffered records.
    fn buffered_to(&self, topic: &str, partition: i32) -> Option<i64> {
        self.topics
            .iter()
            .find(|t| t.name == topic)
            .and_then(|t| t.ranges.get(&partition))
            .map(|(_, to)| *to)
    }
}

/// Why the buffers are flushed now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FlushDue {
    /// `--max-file-bytes` or `--max-rows` reached.
    Size,
    /// `--flush-interval` passed since the oldest buffered record.
    Age,
}

/// The flush being written and committed while the poll loop goes on.
struct InFlight {
    task: JoinHandle<Result<Flushed, FlushError>>,
    ranges: Vec<OffsetRange>,
    /// Per file of the flush: (topic index, quarantine?).
    kinds: Vec<(usize, bool)>,
    /// Per topic: the records the flush holds.
    pending: Vec<PendingCounts>,
    /// The rebalance generation the flush was started in.
    generation: u64,
    started: Instant,
}

/// The lander.
pub struct Lander {
    cfg: Config,
    rt: Runtime,
    store: LakeStore,
    shared: Arc<Shared>,
    consumer: Arc<BaseConsumer<LanderContext>>,
    /// Reads the assigned partitions, keeping each topic's partitions together in event time.
    reader: PartitionReader<LanderContext>,
    schemas: SchemaSource,
    buffers: Buffers,
    /// Oldest first.
    in_flight: VecDeque<InFlight>,
    /// The turn of the next flush: resolved when the last one started is done.
    next_turn: Option<oneshot::Receiver<bool>>,
    generation: u64,
    namer: FileNamer,
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
    /// The clock read for `_ingested_at`.
    now_us: i64,
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
        let store = LakeStore::open(&url)
            .map_err(LanderError::Lake)?
            .with_block_size(BLOCK_SIZE);
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
        let mut topics = Vec::new();
        let mut inputs = Vec::new();
        for name in &cfg.topics {
            let table = table_of(name).ok_or_else(|| LanderError::Kafka {
                brokers: cfg.brokers.clone(),
                reason: format!("{name} is no event topic"),
            })?;
            let bronze = Arc::new(
                BronzeSchema::for_topic(table).map_err(|e| LanderError::Batch(e.to_string()))?,
            );
            let avsc: Arc<str> = crate::schema::embedded_avsc(table).into();
            inputs.push(TopicInput {
                name: name.clone(),
                decoder: TopicDecoder::new(Arc::clone(&bronze), avsc, cfg.max_value_bytes),
                batches: PartitionedBatches::new(bronze),
            });
            topics.push(TopicState {
                name: name.clone(),
                known_ids: BTreeSet::new(),
                ranges: BTreeMap::new(),
                flushing_to: BTreeMap::new(),
                consumed: 0,
            });
        }
        let workers = DecodeWorkers::start(inputs, cfg.decode_threads)
            .map_err(|e| LanderError::Batch(e.to_string()))?;
        let shared = Arc::new(Shared {
            log: Arc::new(Mutex::new(log)),
            rt: rt.handle().clone(),
            flush_gate: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            generation: AtomicU64::new(0),
            assigned: StdMutex::new(BTreeSet::new()),
            shutdown,
            fatal: OnceLock::new(),
            high_watermarks: StdMutex::new(BTreeMap::new()),
        });
        let consumer = Arc::new(create_consumer(&cfg, Arc::clone(&shared))?);
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
        let max_value_bytes = cfg.max_value_bytes;
        let namer = FileNamer {
            writer_id: cfg.writer_id.clone(),
            started_ms: now_us() / 1000,
            counter: Arc::new(AtomicU64::new(0)),
        };
        let reader = PartitionReader::new(Arc::clone(&consumer), workers.event_hours());
        Ok(Self {
            cfg,
            rt,
            store,
            shared,
            consumer,
            reader,
            schemas,
            buffers: Buffers {
                topics,
                workers,
                max_value_bytes,
                first_buffered: None,
            },
            in_flight: VecDeque::new(),
            next_turn: None,
            generation: 0,
            namer,
            targets,
            stats: Stats {
                last_commit_unix_seconds: now_us() as f64 / 1e6,
                ..Stats::default()
            },
            metrics: None,
            last_gauges: Instant::now(),
            unchecked: 0,
            now_us: now_us(),
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
        for state in &self.buffers.topics {
            stats.topics.entry(state.name.clone()).or_default().consumed = state.consumed;
        }
        stats
    }

    /// Runs until shutdown (flushing and committing first), or with `--until-caught-up` until
    /// the end offsets seen at start are committed.
    pub fn run(&mut self) -> Result<(), LanderError> {
        loop {
            if let Some(message) = self.shared.fatal.get().cloned() {
                return Err(LanderError::Batch(message));
            }
            if self.shared.shutdown.load(Ordering::SeqCst) {
                info!("shutting down: flushing what is buffered");
                self.flush()?;
                break;
            }
            let (busy, reassigned) = {
                let polled = self.reader.poll();
                let generation = self.shared.generation.load(Ordering::SeqCst);
                let reassigned = generation != self.generation;
                if reassigned {
                    self.generation = generation;
                    self.buffers.drop_all()?;
                }
                if self.shared.fatal.get().is_some() {
                    continue;
                }
                let busy = match polled {
                    Polled::Message(Ok(message)) => {
                        let ctx = RecordContext {
                            rt: &self.rt,
                            schemas: &self.schemas,
                            shared: &self.shared,
                            now_us: self.now_us,
                        };
                        self.buffers.handle(&ctx, &message)?;
                        true
                    }
                    Polled::Empty => true,
                    Polled::Message(Err(KafkaError::PartitionEOF(_))) | Polled::Idle => false,
                    Polled::Message(Err(err)) => {
                        warn!(%err, "Kafka consumer error");
                        false
                    }
                };
                (busy, reassigned)
            };
            if reassigned {
                self.split_assigned();
            }
            // The checks below walk every buffer: not after every record of a busy stream.
            self.unchecked += 1;
            if busy && self.unchecked < CHECK_EVERY {
                continue;
            }
            self.unchecked = 0;
            self.now_us = now_us();
            // A quiet stream's records do not wait for a full chunk.
            self.buffers
                .workers
                .send_pending()
                .map_err(|e| LanderError::Batch(e.to_string()))?;
            while self.in_flight.front().is_some_and(|f| f.task.is_finished()) {
                self.settle_oldest()?;
            }
            if let Some(due) = self.flush_due() {
                // A flush for size keeps the newest hour back (hold_back.rs); one for age
                // writes everything, so an idle stream's records do not wait for more.
                self.start_flush(due == FlushDue::Size)?;
            }
            if self.last_gauges.elapsed() >= GAUGE_INTERVAL {
                self.publish();
            }
            if self.cfg.until_caught_up && self.caught_up() {
                self.flush()?;
                if self.caught_up_committed() {
                    info!("caught up with the end offsets seen at start");
                    break;
                }
            }
        }
        self.publish();
        let stats = self.stats();
        info!(
            landed = stats.landed(),
            quarantined = stats.quarantined(),
            files = stats.files(),
            bytes = stats.bytes(),
            commits = stats.commits,
            "lander stopped"
        );
        Ok(())
    }

    /// Gives each assigned partition its own queue (`partition_reader`).
    fn split_assigned(&mut self) {
        let assigned: Vec<(String, i32)> = lock(&self.shared.assigned).iter().cloned().collect();
        let parts: Vec<(usize, &str, i32)> = assigned
            .iter()
            .filter_map(|(topic, partition)| {
                let index = self.buffers.topics.iter().position(|t| &t.name == topic)?;
                Some((index, topic.as_str(), *partition))
            })
            .collect();
        self.reader.split(&parts);
    }

    fn flush_due(&self) -> Option<FlushDue> {
        let first = self.buffers.first_buffered?;
        let (rows, bytes) = self.buffers.size();
        if rows >= self.cfg.roll.max_rows || bytes >= self.cfg.roll.max_file_bytes {
            Some(FlushDue::Size)
        } else {
            (first.elapsed() >= self.cfg.flush_interval).then_some(FlushDue::Age)
        }
    }

    /// Writes and commits everything buffered, and waits for the commits.
    pub fn flush(&mut self) -> Result<(), LanderError> {
        self.start_flush(false)?;
        while !self.in_flight.is_empty() {
            self.settle_oldest()?;
        }
        Ok(())
    }

    /// Hands everything buffered to a flush task (once fewer than [`MAX_IN_FLIGHT`] are in
    /// flight) and goes on with empty buffers, or with `hold_back` with the newest hour of each
    /// topic (its offsets belong to the next flush's ranges).
    fn start_flush(&mut self, hold_back: bool) -> Result<(), LanderError> {
        while self.in_flight.len() >= MAX_IN_FLIGHT {
            self.settle_oldest()?;
        }
        if self.buffers.is_empty() {
            return Ok(());
        }
        let drained = self
            .buffers
            .workers
            .drain(hold_back)
            .map_err(|e| LanderError::Batch(e.to_string()))?;
        let mut held_from = vec![BTreeMap::new(); self.buffers.topics.len()];
        for topic in &drained {
            held_from[topic.topic_index].clone_from(&topic.held_from);
        }
        let ranges = self.buffers.take_ranges(&held_from);
        let mut items = Vec::new();
        let mut pending = Vec::with_capacity(self.buffers.topics.len());
        for topic in drained {
            let name = &self.buffers.topics[topic.topic_index].name;
            for finished in topic.batches {
                items.push(FlushItem {
                    topic_index: topic.topic_index,
                    topic: name.clone(),
                    schema: Arc::clone(&topic.schema),
                    batch: finished.batch,
                    spans: finished.spans,
                    dir: Some(finished.key.dir()),
                });
            }
            if let Some((batch, spans)) = topic.quarantine {
                items.push(FlushItem {
                    topic_index: topic.topic_index,
                    topic: name.clone(),
                    schema: quarantine_schema(),
                    batch,
                    spans,
                    dir: None,
                });
            }
            pending.push(topic.pending);
        }
        // Held-back rows start their age afresh (a flush for age writes them at the latest).
        let held = held_from.iter().any(|h| !h.is_empty());
        self.buffers.first_buffered = held.then(Instant::now);
        if ranges.is_empty() {
            return Ok(()); // everything was held back (cannot happen: at most half is)
        }
        let kinds = items
            .iter()
            .map(|i| (i.topic_index, i.dir.is_none()))
            .collect();
        // Fewer than MAX_IN_FLIGHT flushes are in flight (settled above): a permit is free.
        let gate = Arc::clone(&self.shared.flush_gate)
            .try_acquire_owned()
            .map_err(|_| LanderError::Batch("too many flushes in flight".into()))?;
        let (done, turn) = oneshot::channel();
        let job = FlushJob {
            items,
            ranges: ranges.clone(),
            namer: self.namer.clone(),
            turn: self.next_turn.replace(turn),
            done,
        };
        let task = self
            .rt
            .spawn(job.run(self.store.clone(), Arc::clone(&self.shared.log), gate));
        self.in_flight.push_back(InFlight {
            task,
            ranges,
            kinds,
            pending,
            generation: self.generation,
            started: Instant::now(),
        });
        Ok(())
    }

    /// Waits for the oldest flush in flight, if any, and takes its outcome into account:
    /// counts and Kafka offsets after a commit; after a refused commit, the later flushes give
    /// up too, then recovery and a fresh start from the log's positions (what is buffered is
    /// dropped: it follows the refused ranges).
    fn settle_oldest(&mut self) -> Result<(), LanderError> {
        let Some(mut flight) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let outcome = self.outcome(&mut flight.task);
        let took = flight.started.elapsed();
        if let Some(metrics) = &self.metrics {
            metrics.record_flush(took.as_secs_f64());
        }
        if self.in_flight.is_empty() {
            self.next_turn = None;
            for state in &mut self.buffers.topics {
                // Committed: the log has these positions; refused: they are read again.
                state.flushing_to.clear();
            }
        }
        match outcome {
            Ok(flushed) => {
                self.count_commit(&flight, &flushed);
                info!(
                    seq = flushed.seq,
                    files = flushed.files.len(),
                    bytes = flushed.files.iter().map(|f| f.bytes).sum::<u64>(),
                    ranges = flight.ranges.len(),
                    took_ms = took.as_millis() as u64,
                    write_ms = flushed.write_time.as_millis() as u64,
                    commit_ms = flushed.commit_time.as_millis() as u64,
                    "committed"
                );
                // After a rebalance the partitions may be another instance's: the lake's log
                // is the truth, Kafka's offsets only serve lag monitoring.
                if flight.generation == self.generation {
                    self.commit_kafka(&flight.ranges);
                }
            }
            Err(err @ (FlushError::Commit(_) | FlushError::Abandoned)) => {
                self.stats.commit_failures += 1;
                warn!(%err, "the commit did not go through as is; recovering and re-reading from the commit log's positions");
                // The later flushes give up (their turn says the previous one failed).
                while let Some(mut later) = self.in_flight.pop_front() {
                    if let Err(FlushError::Write(err)) = self.outcome(&mut later.task) {
                        return Err(LanderError::Write(err));
                    }
                }
                self.next_turn = None;
                self.reset_to_log()?;
            }
            Err(FlushError::Write(err)) => return Err(LanderError::Write(err)),
        }
        self.publish();
        Ok(())
    }

    /// Waits for a flush task's outcome. A panic in the task is a bug: it is propagated.
    fn outcome(
        &self,
        task: &mut JoinHandle<Result<Flushed, FlushError>>,
    ) -> Result<Flushed, FlushError> {
        self.rt
            .block_on(task)
            .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
    }

    /// Moves a committed flush's counts into the stats.
    fn count_commit(&mut self, flight: &InFlight, flushed: &Flushed) {
        self.stats.commits += 1;
        self.stats.last_commit_unix_seconds = now_us() as f64 / 1e6;
        for (state, pending) in self.buffers.topics.iter().zip(&flight.pending) {
            let stats = self.stats.topics.entry(state.name.clone()).or_default();
            stats.landed += pending.landed;
            for (reason, n) in &pending.quarantined {
                *stats.quarantined.entry(reason).or_default() += n;
            }
        }
        for ((topic_index, quarantine), file) in flight.kinds.iter().zip(&flushed.files) {
            let name = &self.buffers.topics[*topic_index].name;
            let stats = self.stats.topics.entry(name.clone()).or_default();
            if *quarantine {
                stats.quarantine_files += 1;
                stats.quarantine_bytes += file.bytes;
            } else {
                stats.data_files += 1;
                stats.data_bytes += file.bytes;
            }
        }
    }

    /// After a fenced or ambiguous commit: recover, drop everything, seek to the log.
    fn reset_to_log(&mut self) -> Result<(), LanderError> {
        self.buffers.drop_all()?;
        // Messages taken before the seek: librdkafka would not hand them out after it.
        self.reader.discard_taken();
        let assigned: Vec<(String, i32)> = lock(&self.shared.assigned).iter().cloned().collect();
        let positions = self.shared.recover_with_backoff(&assigned);
        for ((topic, partition), next) in assigned.iter().zip(positions) {
            let offset = next.map_or(Offset::Beginning, Offset::Offset);
            if let Err(err) = self.consumer.seek(topic, *partition, offset, KAFKA_TIMEOUT) {
                self.shared
                    .set_fatal(format!("cannot seek {topic}[{partition}]: {err}"));
            }
        }
        Ok(())
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
        self.in_flight.is_empty() && self.targets_met(false)
    }

    fn targets_met(&self, count_consumed: bool) -> bool {
        let log = self.rt.block_on(self.shared.log.lock());
        // The latest flush's end wins (collected oldest first).
        let in_flight: BTreeMap<(&str, i32), i64> = self
            .in_flight
            .iter()
            .flat_map(|f| &f.ranges)
            .map(|r| ((r.topic.as_str(), r.partition), r.to))
            .collect();
        self.targets
            .iter()
            .all(|((topic, partition), (low, high))| {
                if high <= low {
                    return true;
                }
                let mut position = log.next_offset(topic, *partition).unwrap_or(*low);
                if count_consumed {
                    let flushing = in_flight.get(&(topic.as_str(), *partition)).copied();
                    let buffered = self.buffers.buffered_to(topic, *partition);
                    position = position.max(flushing.unwrap_or(position));
                    position = position.max(buffered.unwrap_or(position));
                }
                position >= *high
            })
    }
}

impl Drop for Lander {
    fn drop(&mut self) {
        self.consumer.unsubscribe();
    }
}

/// The lander's librdkafka prefetch settings (the benchmark's bare consumer uses them too, so
/// that it is the ceiling of the same client with the same settings).
pub fn set_prefetch(config: &mut ClientConfig) {
    config
        // When a partition's prefetch queue is full, librdkafka waits this long before it
        // fetches again (its default, 1 s, left the lander idle two thirds of the time on a
        // backlog: docs/benchmarks.md).
        .set("fetch.queue.backoff.ms", "20")
        // librdkafka prefetches until a partition has 100 000 messages or the queue 64 MiB by
        // default: at peak that was ≈ 125 MB of the lander's heap (decompressed message sets
        // and one op per message). 20 000 and 16 MiB keep the decode threads just as busy
        // (docs/benchmarks.md).
        .set("queued.min.messages", "20000")
        .set("queued.max.messages.kbytes", "16384")
        // A fetch request leaves out the partitions whose queues are full; if it then holds
        // only partitions with nothing new (a small topic already read to its end), the broker
        // keeps it up to this long (librdkafka's default: 500 ms) and the other partitions wait
        // for it. The partition reader keeps partitions ahead in event time full on purpose:
        // with the default, a backfill stalled ~100 ms at a time, in all 2-3 s of 6 s.
        .set("fetch.wait.max.ms", "50");
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
        .set("enable.partition.eof", "false");
    set_prefetch(&mut config);
    config
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
            Err(err) if err.is_transient() => {
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
