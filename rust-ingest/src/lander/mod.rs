//! The lander: consumes the topics in a group, decodes records into bronze batches (bad ones
//! into quarantine), and at each flush writes the files and commits them with their offset
//! ranges in one commit-log entry (see `DESIGN-exactly-once.md`).
//!
//! Threading: one thread polls the consumer (each assigned partition from its own queue, so that
//! a topic's partitions stay together in event time: `partition_reader`) and hands the records
//! to decode threads (`decode_worker`), which decode them into column buffers; a flush takes the
//! buffers from the decode threads and hands them to a task on a small tokio runtime that
//! encodes, writes and commits them (`flush`) while the decode threads fill fresh buffers. At
//! most [`MAX_IN_FLIGHT`](crate::flush::MAX_IN_FLIGHT) flushes are in flight.
//!
//! - [`consumer`]: the librdkafka consumer and its settings;
//! - `rebalance`: what the poll loop shares with the consumer's callbacks, the rebalance
//!   callback and the commit log's recovery;
//! - `schemas`: writer schemas, waiting for the registry;
//! - `buffers`: the records since the last flush started, and their offset positions;
//! - `flushing`: starting flushes and settling their outcomes;
//! - `catch_up`: the end offsets of `--until-caught-up`;
//! - `gauges`: the counters and their publication;
//! - `error` ([`LanderError`]): why the lander stops.

mod buffers;
mod catch_up;
pub mod consumer;
mod error;
mod flushing;
mod gauges;
mod rebalance;
mod schemas;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use soundlake_core::lake::{LakeStore, LakeUrl};
use soundlake_core::schema_registry::{SchemaError, SchemaSource};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tracing::{info, warn};

use self::buffers::{Buffers, RecordContext, TopicState};
use self::catch_up::Targets;
use self::consumer::{create_consumer, GAUGE_INTERVAL};
pub use self::error::{Fatal, LanderError};
use self::flushing::{FlushDue, InFlight};
use self::rebalance::{LanderContext, Shared};
use crate::batch_builder::PartitionedBatches;
use crate::commit_log::{CommitError, CommitLog};
use crate::config::{table_of, Config};
use crate::decode::TopicDecoder;
use crate::decode_worker::{DecodeWorkers, TopicInput};
use crate::flush::FileNamer;
use crate::partition_reader::{PartitionReader, Polled};
use crate::schema::BronzeSchema;
use crate::stats::{LanderMetrics, Stats};

/// Records handled between two checks of the rolling limits and of `--until-caught-up` (and
/// after every poll that returned nothing).
const CHECK_EVERY: u32 = 1024;
/// HDFS block size of bronze files: a flush writes up to [`crate::flush::WRITE_CONCURRENCY`]
/// files at once and the NameNode reserves a block of DataNode space for each; bronze files are
/// small (a flush holds `--max-file-bytes` of all topics and hours), so most still fit one block.
const BLOCK_SIZE: u64 = 32 * 1024 * 1024;

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
    targets: Targets,
    /// Committed counts (consumed counts live in the topics' states).
    stats: Stats,
    /// Where the stats are published at each commit, with `--metrics-addr`.
    metrics: Option<LanderMetrics>,
    /// When the lag and assignment gauges were last refreshed.
    last_gauges: Instant,
    /// Records handled since the last check of the limits.
    unchecked: u32,
    /// The clock read for `_ingested_at` as records are decoded.
    now_us: i64,
    /// The `_ingested_at` of the last flush: each flush stamps a later one.
    last_ingested_at_us: i64,
}

impl Lander {
    /// Checks the lake, the registry and Kafka, opens the commit log, and subscribes.
    pub fn new(cfg: Config, shutdown: Arc<AtomicBool>) -> Result<Self, LanderError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(LanderError::Runtime)?;
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
            let bronze = Arc::new(BronzeSchema::for_topic(table).map_err(|source| {
                LanderError::BronzeSchema {
                    topic: name.clone(),
                    source,
                }
            })?);
            let avsc: Arc<str> = crate::schema::embedded_avsc(table).into();
            inputs.push(TopicInput {
                name: name.clone(),
                decoder: TopicDecoder::new(Arc::clone(&bronze), avsc, cfg.max_value_bytes),
                batches: PartitionedBatches::new(bronze),
            });
            topics.push(TopicState::new(name.clone()));
        }
        let workers = DecodeWorkers::start(inputs, cfg.decode_threads)?;
        let shared = Arc::new(Shared::new(log, rt.handle().clone(), shutdown));
        let consumer = Arc::new(create_consumer(&cfg, Arc::clone(&shared))?);
        let targets = Targets::at_start(&consumer, &cfg)?;
        let kafka_err = |reason: String| LanderError::Kafka {
            brokers: cfg.brokers.clone(),
            reason,
        };
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
            last_ingested_at_us: 0,
        })
    }

    /// Runs until shutdown (flushing and committing first), or with `--until-caught-up` until
    /// the end offsets seen at start are committed.
    pub fn run(&mut self) -> Result<(), LanderError> {
        loop {
            if let Some(fatal) = self.shared.fatal.get().cloned() {
                return Err(fatal.into());
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
            self.buffers.workers.send_pending()?;
            self.settle_finished()?;
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
        let assigned = self.shared.assigned();
        let parts: Vec<(usize, &str, i32)> = assigned
            .iter()
            .filter_map(|(topic, partition)| {
                let index = self.buffers.topic_index(topic)?;
                Some((index, topic.as_str(), *partition))
            })
            .collect();
        self.reader.split(&parts);
    }
}

impl Drop for Lander {
    fn drop(&mut self) {
        self.consumer.unsubscribe();
    }
}

/// The clock, epoch microseconds.
fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}
