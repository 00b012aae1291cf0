//! Why a run cannot be planned or fails, and the exit code that says so.

use soundlake_core::schema_registry::SchemaError;
use soundlake_core::telemetry::TelemetryError;

use crate::config::{ConfigError, LoadError};
use crate::sinks::SinkError;

/// Why eventsim stops with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Load(#[from] LoadError),
    #[error("config file {file}: {error}")]
    Config { file: String, error: ConfigError },
    #[error("{0}")]
    Usage(String),
    /// `--schema-registry-url` names no usable registry (a bad command line, unlike a
    /// registry that fails while running).
    #[error("{0}")]
    SchemaRegistryUrl(#[source] SchemaError),
    #[error("{0}")]
    Sink(#[from] SinkError),
    #[error("{0}")]
    Schema(#[from] SchemaError),
    #[error("{0}")]
    Telemetry(#[from] TelemetryError),
}

impl AppError {
    /// The process exit code: 2 for bad input, 1 for failures while running.
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Sink(_) | AppError::Schema(_) => 1,
            // Address in use and the like: the command line has to change (--metrics-addr).
            _ => 2,
        }
    }
}
