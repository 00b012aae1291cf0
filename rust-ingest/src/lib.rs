//! The Kafka → bronze Parquet lander, as a library that the `soundlake-ingest` binary
//! and the tests use.
//!
//! - [`schema`]: the Arrow schema of each bronze table, from the topics' Avro schemas.
//! - [`batch_builder`]: column buffers per (topic, `event_date`, `hour`), appended field by field.
//! - [`parquet_writer`]: zstd Parquet files streamed to the lake under a staging name.
//! - [`commit_log`]: the `bronze/_commits/` log that makes landing exactly once
//!   (see `DESIGN-exactly-once.md`).
//! - [`decode`]: Avro (Confluent wire format) straight into the column builders;
//!   [`decode_check`]: its promises checked on any input (fuzz target, property test);
//!   [`decode_worker`]: the threads that decode while the consumer polls;
//!   [`hold_back`]: a flush for size keeps the newest hour back for the next one.
//! - [`quarantine`]: records that cannot be landed, with their reason.
//! - [`lander`]: the consumer loop; [`partition_reader`]: which partition is read next;
//!   [`kafka_batch`]: messages taken from librdkafka many at a time; [`flush`]: one flush's
//!   files and commit, in the background; [`config`]: its settings; [`stats`]: its counters and
//!   the summary printed at the end of a run.

pub mod batch_builder;
pub mod commit_log;
pub mod config;
pub mod decode;
pub mod decode_check;
pub mod decode_worker;
pub mod flush;
pub mod hold_back;
pub mod kafka_batch;
pub mod lander;
pub mod layout;
pub mod offsets;
pub mod parquet_writer;
pub mod partition_reader;
pub mod positions;
pub mod quarantine;
pub mod schema;
pub mod stats;
