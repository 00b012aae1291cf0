//! The one error type of the testkit: every variant says what was attempted and where.

use std::time::Duration;

use crate::service::Service;

/// What went wrong while attaching to the stack or managing a test resource.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// A stack service did not answer; the message tells how to start it.
    #[error(
        "{service} does not answer on {address}: start the stack with `make stack-up` \
         (or `scripts/stack up {}`) [{cause}]",
        .service.stack_services()
    )]
    NotAnswering {
        service: Service,
        address: String,
        cause: String,
    },

    /// An environment variable that names an endpoint holds something unusable.
    #[error("environment variable {var}={value:?} is invalid: {reason}")]
    InvalidEnv {
        var: &'static str,
        value: String,
        reason: String,
    },

    #[error("Kafka: {action} failed: {source}")]
    Kafka {
        action: String,
        #[source]
        source: rdkafka::error::KafkaError,
    },

    #[error("Kafka: {action} failed for {topic}: {code}")]
    KafkaTopic {
        action: String,
        topic: String,
        code: rdkafka::types::RDKafkaErrorCode,
    },

    #[error("HDFS: {action} failed: {source}")]
    Hdfs {
        action: String,
        #[source]
        source: hdfs_native::HdfsError,
    },

    #[error("ClickHouse: {action} failed: {source}")]
    ClickHouse {
        action: String,
        #[source]
        source: clickhouse::error::Error,
    },

    #[error("HTTP: {action} failed: {source}")]
    Http {
        action: String,
        #[source]
        source: reqwest::Error,
    },

    #[error("{action} did not finish within {timeout:?}")]
    Timeout { action: String, timeout: Duration },

    #[error("{action}: the blocking task failed: {source}")]
    Task {
        action: String,
        #[source]
        source: tokio::task::JoinError,
    },
}

impl TestkitError {
    pub(crate) fn kafka(action: impl Into<String>, source: rdkafka::error::KafkaError) -> Self {
        Self::Kafka {
            action: action.into(),
            source,
        }
    }

    pub(crate) fn hdfs(action: impl Into<String>, source: hdfs_native::HdfsError) -> Self {
        Self::Hdfs {
            action: action.into(),
            source,
        }
    }

    pub(crate) fn clickhouse(action: impl Into<String>, source: clickhouse::error::Error) -> Self {
        Self::ClickHouse {
            action: action.into(),
            source,
        }
    }

    pub(crate) fn http(action: impl Into<String>, source: reqwest::Error) -> Self {
        Self::Http {
            action: action.into(),
            source,
        }
    }
}
