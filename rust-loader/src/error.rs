//! The loader's errors, and which of them are worth a retry.

use soundlake_core::lake::{LakeError, LakeUrlError};

use crate::native::EncodeError;
use crate::types::UnmappableType;

/// ClickHouse error codes that a later attempt may not meet: timeouts, network trouble, a
/// server too busy (too many queries or parts, memory).
const TRANSIENT_CLICKHOUSE_CODES: &[u32] = &[
    3,   // UNEXPECTED_END_OF_FILE (connection cut mid-request)
    159, // TIMEOUT_EXCEEDED
    164, // READONLY (a replica catching up)
    202, // TOO_MANY_SIMULTANEOUS_QUERIES
    209, // SOCKET_TIMEOUT
    210, // NETWORK_ERROR
    241, // MEMORY_LIMIT_EXCEEDED
    252, // TOO_MANY_PARTS
    319, // UNKNOWN_STATUS_OF_INSERT
    425, // SYSTEM_ERROR
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("ClickHouse at {url}, {context}: {source}{advice}")]
    ClickHouse {
        url: String,
        context: String,
        #[source]
        source: clickhouse::error::Error,
        advice: &'static str,
    },
    #[error("{0}")]
    Lake(#[from] LakeError),
    #[error("reading the Parquet file {url}: {reason} (rewrite it: re-run the gold model)")]
    Parquet { url: String, reason: String },
    #[error("gold table {table}: {source}")]
    Unmappable {
        table: String,
        #[source]
        source: UnmappableType,
    },
    #[error("gold table {table}, file {url}: {source}")]
    Encode {
        table: String,
        url: String,
        #[source]
        source: EncodeError,
    },
    #[error("gold table {table}: the staging table does not match the lake after loading ({detail}); nothing was swapped in")]
    Verify { table: String, detail: String },
    #[error("{0}")]
    LakeUrl(#[from] LakeUrlError),
    /// A gold table on the lake is laid out in a way the loader cannot load (a rename or a
    /// rewrite of the table mends it); the text says where and what.
    #[error("{0}")]
    Layout(String),
    /// What the loader read from a Parquet file does not match what it planned (a bug).
    #[error("{url}: {detail}")]
    Batch { url: String, detail: String },
    #[error("ClickHouse at {url} reports version {version:?}, which the loader cannot read")]
    ServerVersion { url: String, version: String },
    #[error("encoding a load log entry: {0}")]
    LoadLogEncode(#[source] serde_json::Error),
    #[error("the load log {table} has a row the loader cannot read ({source}): was it created by another version? Rename it to start a new log")]
    LoadLogRow {
        table: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("the insert into ClickHouse stopped while reading the lake")]
    InsertStopped,
    #[error("{task} failed: {source}")]
    Task {
        task: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
}

impl Error {
    /// A ClickHouse failure, with advice when the server could not be reached.
    pub fn clickhouse(
        url: &str,
        context: impl Into<String>,
        source: clickhouse::error::Error,
    ) -> Self {
        let advice = match source {
            clickhouse::error::Error::Network(_) => {
                " (is ClickHouse running? `scripts/stack up clickhouse` for the local stack, or pass --clickhouse-url)"
            }
            _ => "",
        };
        Error::ClickHouse {
            url: url.to_owned(),
            context: context.into(),
            source,
            advice,
        }
    }

    /// Whether retrying the same load later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::ClickHouse { source, .. } => match source {
                clickhouse::error::Error::Network(_) | clickhouse::error::Error::TimedOut => true,
                clickhouse::error::Error::BadResponse(text) => clickhouse_code(text)
                    .is_some_and(|code| TRANSIENT_CLICKHOUSE_CODES.contains(&code)),
                _ => false,
            },
            Error::Lake(err) => err.kind().is_transient(),
            _ => false,
        }
    }
}

/// The `Code: N` of a ClickHouse exception text.
pub fn clickhouse_code(text: &str) -> Option<u32> {
    let rest = &text[text.find("Code: ")? + "Code: ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exception_codes() {
        assert_eq!(
            clickhouse_code("Code: 252, e.displayText() = DB::Exception: Too many parts"),
            Some(252)
        );
        assert_eq!(
            clickhouse_code("Code: 60. DB::Exception: Table x doesn't exist"),
            Some(60)
        );
        assert_eq!(clickhouse_code("no code"), None);
    }

    #[test]
    fn transient_classification() {
        let busy = Error::clickhouse(
            "http://x",
            "inserting",
            clickhouse::error::Error::BadResponse(
                "Code: 202, e.displayText() = DB::Exception: Too many simultaneous queries".into(),
            ),
        );
        assert!(busy.is_transient());
        let syntax = Error::clickhouse(
            "http://x",
            "creating",
            clickhouse::error::Error::BadResponse(
                "Code: 62, e.displayText() = DB::Exception: Syntax error".into(),
            ),
        );
        assert!(!syntax.is_transient());
        assert!(
            Error::clickhouse("http://x", "q", clickhouse::error::Error::TimedOut).is_transient()
        );
        assert!(!Error::Layout("x".into()).is_transient());
    }
}
