//! The Kafka → bronze Parquet lander, as a library that the `soundlake-ingest` binary
//! and the tests use.
//!
//! Its modules in the order a record travels, from the Kafka poll to its offsets committed
//! (`DESIGN-exactly-once.md`):
//!
//! - [`lander`]: the poll loop that drives the rest (its consumer, rebalances, flushes);
//! - [`partition_reader`]: which assigned partition is read next, in event-time order;
//! - [`kafka_batch`]: messages taken from librdkafka many at a time;
//! - [`positions`]: whether a record is new, buffered, in flight or committed, per partition;
//! - [`decode_worker`]: the threads that decode records while the consumer polls;
//! - [`decode`]: Avro (Confluent wire format) straight into the column builders;
//! - [`decode_check`]: the decoder's promises checked on any input (fuzz and property tests);
//! - [`schema`]: the Arrow schema of each bronze table, from the topics' Avro schemas;
//! - [`batch_builder`]: column buffers per (topic, `event_date`, `hour`), one row at a time;
//! - [`offsets`]: the span of Kafka offsets a batch or a file holds of each partition;
//! - [`hold_back`]: a flush for size keeps the newest hour back for the next one;
//! - [`quarantine`]: records that cannot be landed, with their reason;
//! - [`flush`]: one flush's files written and committed, in the background;
//! - [`parquet_writer`]: zstd Parquet files streamed to the lake under a staging name;
//! - [`layout`]: where every file goes in the lake (`bronze/…`);
//! - [`commit_log`]: the `bronze/_commits/` log that commits files with their offset ranges;
//! - [`stats`]: the counters, their metrics and the summary printed at the end of a run;
//! - [`config`]: the settings (flags, environment, file, defaults).

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
