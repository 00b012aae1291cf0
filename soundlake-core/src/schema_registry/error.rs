//! Why a schema or an id could not be had, and which failures are worth a retry.

use super::DEFAULT_REGISTRY_URL;

/// Why a schema or an id could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("schema registry at {url} does not answer ({reason}): start it with `scripts/stack up schema-registry`, or pass --schema-registry-url none to use the schema files of schema-registry/ and their ids in ids.json")]
    Unreachable { url: String, reason: String },
    #[error("schema registry: {method} {url} answered HTTP {status}: {body}")]
    Http {
        method: &'static str,
        url: String,
        status: u16,
        body: String,
    },
    #[error("schema registry at {url} refuses the schema of subject {subject} as incompatible with the versions registered there ({reason}); if those are leftovers, delete the subject (curl -X DELETE {url}/subjects/{subject}, then again with ?permanent=true), or write to other topics (e.g. eventsim --topic-prefix)")]
    Incompatible {
        url: String,
        subject: String,
        reason: String,
    },
    #[error("schema registry: {url} answered something that is not {expected}: {reason}")]
    BadResponse {
        url: String,
        expected: &'static str,
        reason: String,
    },
    #[error("schema registry URL {url:?} is not an http:// URL ({reason}); give its base, e.g. {DEFAULT_REGISTRY_URL}, or `none`")]
    BadUrl { url: String, reason: String },
    #[error("schema id {id} is unknown to the schema registry at {url}: the record was written with a schema of another registry (check --schema-registry-url)")]
    UnknownId { id: u32, url: String },
    #[error("schema id {id} is none of the file ids in {where_} ({known}): the record was written with a registry's id; configure that registry instead of `none`")]
    UnknownFileId {
        id: u32,
        where_: String,
        known: String,
    },
    #[error("schema files {where_}: {reason}")]
    Files { where_: String, reason: String },
}

impl SchemaError {
    /// Whether asking again later may succeed: the registry did not answer in time, refused the
    /// connection, or answered HTTP 5xx or 429.
    pub fn is_transient(&self) -> bool {
        match self {
            SchemaError::Unreachable { .. } => true,
            SchemaError::Http { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_errors() {
        let http = |status| SchemaError::Http {
            method: "POST",
            url: String::new(),
            status,
            body: String::new(),
        };
        assert!(http(500).is_transient());
        assert!(http(503).is_transient());
        assert!(http(429).is_transient());
        assert!(!http(404).is_transient());
        assert!(!http(409).is_transient());
        assert!(SchemaError::Unreachable {
            url: String::new(),
            reason: String::new()
        }
        .is_transient());
        assert!(!SchemaError::UnknownId {
            id: 1,
            url: String::new()
        }
        .is_transient());
    }
}
