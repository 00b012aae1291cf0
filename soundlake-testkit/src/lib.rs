//! Attach integration tests to the local Soundlake stack.
//!
//! The stack (`make stack-up`, or `scripts/stack up <service>`) runs real Kafka, HDFS, a schema
//! registry, ClickHouse and Prometheus as processes on 127.0.0.1. This crate finds them through
//! environment variables (see [`StackEndpoints::from_env`]), checks that they answer, and hands
//! out throw-away resources — a Kafka topic, an HDFS folder, a ClickHouse database — that clean
//! themselves up.
//!
//! Without the stack, `cargo test` skips the stack tests and each test binary says so on one
//! line. With `SOUNDLAKE_STACK_TESTS=required` (`make test` and CI set it) a service that does
//! not answer makes the test **fail** with a message that says how to start it.
//!
//! ```no_run
//! # async fn example() -> Result<(), soundlake_testkit::TestkitError> {
//! use soundlake_testkit::{require, Service, TestTopic};
//!
//! let Some(stack) = require(&[Service::Kafka]).await else { return Ok(()) };
//! let topic = TestTopic::create(&stack, "lander", 3).await?;
//! // ... produce to topic.name() with stack.kafka_config() ...
//! topic.cleanup().await?;
//! # Ok(()) }
//! ```

// The module map, in the order a test uses them.
// Which services there are, where they listen, whether they answer:
mod service;

mod endpoints;

mod check;

// Throw-away resources on them, with unique names, cleaned up from `Drop`:
mod clickhouse_db;
mod hdfs_dir;
mod kafka_topic;

mod cleanup;
mod names;

// The one error type:
mod error;

pub use check::{require, require_stack, STACK_TESTS_VAR};
pub use clickhouse_db::TestClickHouseDb;
pub use endpoints::StackEndpoints;
pub use error::TestkitError;
pub use hdfs_dir::{TestHdfsDir, HDFS_TEST_ROOT};
pub use kafka_topic::TestTopic;
pub use names::unique_name;
pub use service::Service;

/// The client crates the testkit speaks with, re-exported so that tests use the same versions.
pub use {clickhouse, hdfs_native, rdkafka, reqwest};
