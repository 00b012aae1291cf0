//! Why the lander stops with an error.

use std::sync::Arc;

use rdkafka::error::KafkaError;
use soundlake_core::lake::LakeError;
use soundlake_core::schema_registry::SchemaError;

use crate::commit_log::CommitError;
use crate::decode_worker::WorkerError;
use crate::flush::MAX_IN_FLIGHT;
use crate::parquet_writer::WriteError;

/// Why the lander stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum LanderError {
    #[error("cannot start the lander's async runtime: {0}")]
    Runtime(#[source] std::io::Error),
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
    #[error("the bronze schema of {topic}: {source}")]
    BronzeSchema {
        topic: String,
        #[source]
        source: crate::schema::SchemaError,
    },
    #[error(transparent)]
    Commit(#[from] CommitError),
    #[error("writing a Parquet file: {0}")]
    Write(WriteError),
    /// A flushed batch could not take its `_ingested_at` (a bug: every batch has the column).
    #[error("stamping a flush's rows with their ingestion time: {0}")]
    Stamp(arrow::error::ArrowError),
    #[error("the decode threads: {0}")]
    Workers(#[from] WorkerError),
    #[error(transparent)]
    Fatal(#[from] Fatal),
    /// A flush was started with [`MAX_IN_FLIGHT`] in flight (a bug: the oldest is settled
    /// first).
    #[error("a flush was started with {MAX_IN_FLIGHT} flushes in flight already")]
    TooManyFlushes,
    #[error("the writer id {0:?} is not usable: {1}")]
    Writer(String, String),
}

/// An error met outside the poll loop (in the rebalance callback, or while seeking), which
/// stops the lander at its next record.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Fatal {
    #[error("assigning partitions failed: {0}")]
    Assign(KafkaError),
    #[error("recovering the commit log: {0}")]
    Recover(Arc<CommitError>),
    #[error("stopped while the lake was away")]
    StoppedWhileLakeAway,
    #[error("cannot seek {topic}[{partition}]: {source}")]
    Seek {
        topic: String,
        partition: i32,
        #[source]
        source: KafkaError,
    },
}
