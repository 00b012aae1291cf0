//! Avro schema ids for the Confluent wire format ([`crate::wire`]): from a schema registry that
//! speaks Confluent's REST API, or — with no registry — from the schema files of
//! `schema-registry/` and the fixed ids of `schema-registry/ids.json`.
//!
//! - The producer asks [`SchemaSource::id_for`] the id of a topic's current schema (registered
//!   under the subject `<kafka topic>-value` in registry mode; the file id otherwise).
//! - The consumer asks [`SchemaSource::writer_schema`] the schema text of an id it read from a
//!   record (fetched from the registry once, then cached; or looked up in the files).
//!
//! The schema files and `ids.json` are compiled in ([`FileSchemas::embedded`]), so a binary needs
//! no checkout; [`FileSchemas::load`] reads another copy of the folder.
//!
//! - `client`: [`RegistryClient`], the registry's REST API (registering with retries).
//! - `files`: [`FileSchemas`], the schema files and their fixed ids.
//! - `error`: [`SchemaError`], and which failures are worth a retry.

mod client;
mod error;
mod files;

use std::sync::Arc;

use crate::event::Topic;

pub use client::RegistryClient;
pub use error::SchemaError;
pub use files::FileSchemas;

/// What `--schema-registry-url` (or a config) says to mean "no registry: use the schema files".
pub const NO_REGISTRY: &str = "none";
/// The local stack's registry (Apicurio's Confluent-compatible API).
pub const DEFAULT_REGISTRY_URL: &str = "http://127.0.0.1:8081/apis/ccompat/v7";

/// The schema text of `topic` as shipped in `schema-registry/<topic>.avsc` (compiled in).
pub const fn schema_text(topic: Topic) -> &'static str {
    match topic {
        Topic::Listen => include_str!("../../schema-registry/listen_events.avsc"),
        Topic::PageView => include_str!("../../schema-registry/page_view_events.avsc"),
        Topic::Auth => include_str!("../../schema-registry/auth_events.avsc"),
        Topic::StatusChange => include_str!("../../schema-registry/status_change_events.avsc"),
    }
}

/// The registry subject of a topic's values (Confluent's `TopicNameStrategy`).
pub fn value_subject(kafka_topic: &str) -> String {
    format!("{kafka_topic}-value")
}

#[derive(Debug, Clone)]
pub enum SchemaSource {
    Registry(Arc<RegistryClient>),
    Files(Arc<FileSchemas>),
}

impl SchemaSource {
    /// From an option's value: `none` (any case) means the built-in files; anything else is
    /// the registry's base URL.
    pub fn from_option(value: &str) -> Result<SchemaSource, SchemaError> {
        let v = value.trim();
        if v.eq_ignore_ascii_case(NO_REGISTRY) {
            Ok(SchemaSource::Files(Arc::new(FileSchemas::embedded())))
        } else {
            Ok(SchemaSource::Registry(Arc::new(RegistryClient::new(v)?)))
        }
    }

    /// What to show in messages: the registry's URL, or `schema files`.
    pub fn describe(&self) -> String {
        match self {
            SchemaSource::Registry(r) => format!("schema registry {}", r.url()),
            SchemaSource::Files(f) => format!("schema files ({})", f.origin()),
        }
    }

    /// The id of `topic`'s current schema on the Kafka topic `kafka_topic` (which may carry a
    /// prefix): registered under `<kafka_topic>-value` in registry mode, the file id otherwise.
    pub async fn id_for(&self, kafka_topic: &str, topic: Topic) -> Result<u32, SchemaError> {
        match self {
            SchemaSource::Registry(r) => {
                r.register(&value_subject(kafka_topic), schema_text(topic))
                    .await
            }
            SchemaSource::Files(f) => Ok(f.id_of(topic)),
        }
    }

    /// The writer schema of a record framed with `id` (see [`crate::wire::parse`]).
    pub async fn writer_schema(&self, id: u32) -> Result<Arc<str>, SchemaError> {
        match self {
            SchemaSource::Registry(r) => r.schema(id).await,
            SchemaSource::Files(f) => f.schema(id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_values() {
        assert!(matches!(
            SchemaSource::from_option("None"),
            Ok(SchemaSource::Files(_))
        ));
        assert!(matches!(
            SchemaSource::from_option(DEFAULT_REGISTRY_URL),
            Ok(SchemaSource::Registry(_))
        ));
        let err = SchemaSource::from_option("https://example.invalid/")
            .expect_err("no TLS")
            .to_string();
        assert!(err.contains("only http://"), "{err}");
        assert!(SchemaSource::from_option("not a url").is_err());
        assert_eq!(value_subject("t"), "t-value");
    }
}
