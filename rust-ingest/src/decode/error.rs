//! Why a record cannot be decoded, with a stable reason code per kind.

use soundlake_core::wire::WireError;

use crate::batch_builder::BatchError;

/// Why a record could not be decoded into a bronze row.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty value (a tombstone or a producer bug)")]
    Empty,
    #[error("{0}")]
    Wire(WireError),
    #[error("value of {len} bytes is larger than the limit of {limit} bytes")]
    Oversized { len: usize, limit: usize },
    #[error("schema id {id}: {detail}")]
    UnknownSchemaId { id: u32, detail: String },
    #[error("writer schema {id} cannot be read as {topic}: {detail}; its records are quarantined: write them with a schema that Avro's schema resolution can read as schema-registry/{topic}.avsc")]
    Incompatible {
        id: u32,
        topic: String,
        detail: String,
    },
    #[error("body ends after {at} bytes while reading {field}")]
    Truncated { field: String, at: usize },
    #[error("field {field}: {detail}")]
    WrongType { field: String, detail: String },
    #[error("field {field}: union branch {index} does not exist (the union has {branches})")]
    BadUnionIndex {
        field: String,
        index: i64,
        branches: usize,
    },
    #[error("{count} byte(s) left after the last field")]
    TrailingBytes { count: usize },
    #[error("invalid event time: {0}")]
    InvalidTs(String),
    #[error("cannot append the row: {0}")]
    Batch(BatchError),
}

impl DecodeError {
    /// A short stable code for metrics and the quarantine's `reason` column.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Empty | DecodeError::Wire(WireError::Empty) => "empty_value",
            DecodeError::Wire(WireError::BadMagic { .. }) => "bad_magic",
            DecodeError::Wire(WireError::TooShort { .. }) => "short_header",
            DecodeError::Oversized { .. } => "oversized_value",
            DecodeError::UnknownSchemaId { .. } => "unknown_schema_id",
            DecodeError::Incompatible { .. } => "incompatible_schema",
            DecodeError::Truncated { .. } => "truncated_body",
            DecodeError::WrongType { .. } => "wrong_type",
            DecodeError::BadUnionIndex { .. } => "invalid_union_index",
            DecodeError::TrailingBytes { .. } => "trailing_bytes",
            DecodeError::InvalidTs(_) => "invalid_ts",
            DecodeError::Batch(_) => "invalid_row",
        }
    }
}
