//! The Arrow schema of each bronze table, derived from the topic's Avro schema
//! (`schema-registry/<topic>.avsc`, embedded at build time) plus the Kafka metadata columns of
//! the bronze contract.
//!
//! Avro → Arrow: `boolean` → Boolean, `int` → Int32, `long` → Int64, `float` → Float32,
//! `double` → Float64, `string` and `enum` → Utf8, `bytes` → Binary, `long` with logical type
//! `timestamp-millis`/`timestamp-micros` → Timestamp (UTC); a union `["null", T]` is a nullable
//! `T`. Event fields keep their Avro names (`sessionId`, `itemInSession`, …); `ts` stays epoch
//! milliseconds (Int64), as in the events.

use std::sync::Arc;

use arrow::array::{ArrayRef, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use serde_json::Value;
use soundlake_core::event::Topic;

/// `_kafka_partition` (Int32): the record's Kafka partition.
pub const KAFKA_PARTITION: &str = "_kafka_partition";
/// `_kafka_offset` (Int64): the record's offset in its partition.
pub const KAFKA_OFFSET: &str = "_kafka_offset";
/// `_kafka_timestamp` (Timestamp ms, UTC, nullable): the record's Kafka timestamp.
pub const KAFKA_TIMESTAMP: &str = "_kafka_timestamp";
/// `_schema_id` (Int32): the writer schema id from the record's wire-format header.
pub const SCHEMA_ID: &str = "_schema_id";
/// `_ingested_at` (Timestamp µs, UTC): when the flush that wrote the record started. One value
/// per flush and commit, increasing from commit to commit of a writer, so that a reader can take
/// the lake as of a commit (`_ingested_at <=` that commit's `ingested_at_us`): see
/// [`stamp_ingested_at`].
pub const INGESTED_AT: &str = "_ingested_at";

/// The name of the event-time field: it decides a row's `event_date`/`hour` partition.
pub const EVENT_TIME_FIELD: &str = "ts";

/// The time zone of every timestamp column.
pub const UTC: &str = "UTC";

/// The types a bronze column can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Boolean,
    Int32,
    Int64,
    Float32,
    Float64,
    Utf8,
    Binary,
    /// Epoch milliseconds, UTC.
    TimestampMillis,
    /// Epoch microseconds, UTC.
    TimestampMicros,
}

impl ColumnType {
    /// The Arrow type of the column.
    pub fn arrow_type(self) -> DataType {
        match self {
            ColumnType::Boolean => DataType::Boolean,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Float32 => DataType::Float32,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Utf8 => DataType::Utf8,
            ColumnType::Binary => DataType::Binary,
            ColumnType::TimestampMillis => {
                DataType::Timestamp(TimeUnit::Millisecond, Some(UTC.into()))
            }
            ColumnType::TimestampMicros => {
                DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
            }
        }
    }
}

/// One column of a bronze table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    pub name: String,
    pub ty: ColumnType,
    pub nullable: bool,
}

/// Why a schema could not be turned into a bronze table schema.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("the Avro schema of {topic} is not valid JSON: {source}")]
    Json {
        topic: String,
        source: serde_json::Error,
    },
    #[error("the Avro schema of {topic} is not a record with a `fields` array")]
    NotARecord { topic: String },
    #[error("field {field:?} of {topic} has Avro type {avro} which bronze cannot store; use a primitive type, an enum or [\"null\", T]")]
    Unsupported {
        topic: String,
        field: String,
        avro: String,
    },
    #[error("the Avro schema of {topic} has no required long field `ts` (event time, epoch ms)")]
    NoEventTime { topic: String },
    #[error("field {field:?} of {topic} clashes with a Kafka metadata column; rename it")]
    ReservedName { topic: String, field: String },
}

/// The columns of one bronze table: the topic's event fields in Avro order, then the five
/// metadata columns.
#[derive(Debug, Clone)]
pub struct BronzeSchema {
    topic: String,
    columns: Vec<ColumnSpec>,
    event_fields: usize,
    ts: usize,
    arrow: SchemaRef,
}

impl BronzeSchema {
    /// The schema of one of the four topics, from its embedded `.avsc`.
    pub fn for_topic(topic: Topic) -> Result<Self, SchemaError> {
        Self::from_avsc(topic.name(), embedded_avsc(topic))
    }

    /// The schema of `topic` from Avro schema JSON.
    pub fn from_avsc(topic: &str, avsc: &str) -> Result<Self, SchemaError> {
        let json: Value = serde_json::from_str(avsc).map_err(|source| SchemaError::Json {
            topic: topic.to_owned(),
            source,
        })?;
        let fields = json
            .get("fields")
            .and_then(Value::as_array)
            .filter(|_| json.get("type").and_then(Value::as_str) == Some("record"))
            .ok_or_else(|| SchemaError::NotARecord {
                topic: topic.to_owned(),
            })?;
        let mut columns = Vec::with_capacity(fields.len() + METADATA.len());
        for field in fields {
            columns.push(event_column(topic, field)?);
        }
        let event_fields = columns.len();
        let ts = columns
            .iter()
            .position(|c| c.name == EVENT_TIME_FIELD && c.ty == ColumnType::Int64 && !c.nullable)
            .ok_or_else(|| SchemaError::NoEventTime {
                topic: topic.to_owned(),
            })?;
        if let Some(clash) = columns.iter().find(|c| {
            c.name.starts_with("_kafka_") || METADATA.iter().any(|(name, _, _)| *name == c.name)
        }) {
            return Err(SchemaError::ReservedName {
                topic: topic.to_owned(),
                field: clash.name.clone(),
            });
        }
        columns.extend(METADATA.iter().map(|(name, ty, nullable)| ColumnSpec {
            name: (*name).to_owned(),
            ty: *ty,
            nullable: *nullable,
        }));
        let arrow = Arc::new(Schema::new(
            columns
                .iter()
                .map(|c| Field::new(&c.name, c.ty.arrow_type(), c.nullable))
                .collect::<Vec<_>>(),
        ));
        Ok(Self {
            topic: topic.to_owned(),
            columns,
            event_fields,
            ts,
            arrow,
        })
    }

    /// The topic (and bronze table) name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Every column, event fields first, then the metadata columns.
    pub fn columns(&self) -> &[ColumnSpec] {
        &self.columns
    }

    /// The event-field columns only (in Avro field order).
    pub fn event_columns(&self) -> &[ColumnSpec] {
        &self.columns[..self.event_fields]
    }

    /// The index of the column named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The index of the `ts` column.
    pub fn ts_index(&self) -> usize {
        self.ts
    }

    /// The index of the first metadata column (`_kafka_partition`); the others follow in the
    /// order of [`METADATA`].
    pub fn metadata_start(&self) -> usize {
        self.event_fields
    }

    /// The Arrow schema of the table's Parquet files.
    pub fn arrow_schema(&self) -> SchemaRef {
        Arc::clone(&self.arrow)
    }
}

/// The metadata columns, in order: name, type, nullable.
pub const METADATA: [(&str, ColumnType, bool); 5] = [
    (KAFKA_PARTITION, ColumnType::Int32, false),
    (KAFKA_OFFSET, ColumnType::Int64, false),
    (KAFKA_TIMESTAMP, ColumnType::TimestampMillis, true),
    (SCHEMA_ID, ColumnType::Int32, false),
    (INGESTED_AT, ColumnType::TimestampMicros, false),
];

/// `batch` (a bronze or quarantine batch) with every row's `_ingested_at` set to `at_us`, the
/// start of the flush that writes it. The decode threads fill the column as they decode, but a
/// flush may hold the newest hour's rows back for the next one (`hold_back`), and those rows
/// would then be older than rows already committed: stamping at the flush keeps `_ingested_at`
/// in commit order, which the incremental models' watermarks and a run's snapshot rely on.
pub fn stamp_ingested_at(batch: &RecordBatch, at_us: i64) -> Result<RecordBatch, ArrowError> {
    let schema = batch.schema();
    let (index, _) = schema.column_with_name(INGESTED_AT).ok_or_else(|| {
        ArrowError::SchemaError(format!("a flushed batch has no {INGESTED_AT} column"))
    })?;
    let stamp: ArrayRef =
        Arc::new(TimestampMicrosecondArray::from_value(at_us, batch.num_rows()).with_timezone(UTC));
    let mut columns = batch.columns().to_vec();
    columns[index] = stamp;
    RecordBatch::try_new(schema, columns)
}

/// The `.avsc` of a topic as shipped in `schema-registry/`.
pub fn embedded_avsc(topic: Topic) -> &'static str {
    match topic {
        Topic::Listen => include_str!("../../schema-registry/listen_events.avsc"),
        Topic::PageView => include_str!("../../schema-registry/page_view_events.avsc"),
        Topic::Auth => include_str!("../../schema-registry/auth_events.avsc"),
        Topic::StatusChange => include_str!("../../schema-registry/status_change_events.avsc"),
    }
}

fn event_column(topic: &str, field: &Value) -> Result<ColumnSpec, SchemaError> {
    let name = field
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let unsupported = || SchemaError::Unsupported {
        topic: topic.to_owned(),
        field: name.to_owned(),
        avro: field.get("type").map_or("(none)".into(), Value::to_string),
    };
    if name.is_empty() {
        return Err(unsupported());
    }
    let avro = field.get("type").ok_or_else(unsupported)?;
    let (avro, nullable) = match avro {
        Value::Array(branches) => {
            let mut non_null = branches.iter().filter(|b| b.as_str() != Some("null"));
            match (non_null.next(), non_null.next(), branches.len()) {
                (Some(only), None, 2) => (only, true),
                _ => return Err(unsupported()),
            }
        }
        other => (other, false),
    };
    let ty = column_type(avro).ok_or_else(unsupported)?;
    Ok(ColumnSpec {
        name: name.to_owned(),
        ty,
        nullable,
    })
}

fn column_type(avro: &Value) -> Option<ColumnType> {
    match avro {
        Value::String(name) => primitive(name),
        Value::Object(object) => {
            let base = object.get("type").and_then(Value::as_str)?;
            match (base, object.get("logicalType").and_then(Value::as_str)) {
                ("long", Some("timestamp-millis")) => Some(ColumnType::TimestampMillis),
                ("long", Some("timestamp-micros")) => Some(ColumnType::TimestampMicros),
                ("enum", _) => Some(ColumnType::Utf8),
                (other, _) => primitive(other),
            }
        }
        _ => None,
    }
}

fn primitive(name: &str) -> Option<ColumnType> {
    Some(match name {
        "boolean" => ColumnType::Boolean,
        "int" => ColumnType::Int32,
        "long" => ColumnType::Int64,
        "float" => ColumnType::Float32,
        "double" => ColumnType::Float64,
        "string" => ColumnType::Utf8,
        "bytes" => ColumnType::Binary,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_replaces_the_ingestion_time_of_every_row_and_nothing_else() {
        use arrow::array::{AsArray, Int64Array};
        use arrow::datatypes::TimestampMicrosecondType;
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new(
                INGESTED_AT,
                DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
                false,
            ),
        ]));
        let decoded: ArrayRef =
            Arc::new(TimestampMicrosecondArray::from(vec![3, 1, 2]).with_timezone(UTC));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(Int64Array::from(vec![7, 8, 9])), decoded],
        )
        .expect("batch");
        let stamped = stamp_ingested_at(&batch, 42).expect("stamp");
        assert_eq!(stamped.schema(), schema);
        assert_eq!(stamped.column(0), batch.column(0));
        let times = stamped.column(1).as_primitive::<TimestampMicrosecondType>();
        assert_eq!(times.values().to_vec(), vec![42, 42, 42]);

        let without = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)])),
            vec![Arc::new(Int64Array::from(vec![1]))],
        )
        .expect("batch");
        let err = stamp_ingested_at(&without, 42).expect_err("no column");
        assert!(err.to_string().contains(INGESTED_AT), "{err}");
    }

    #[test]
    fn every_topic_has_its_fields_then_metadata() {
        for topic in Topic::ALL {
            let schema = BronzeSchema::for_topic(topic).expect("embedded schema");
            let names: Vec<&str> = schema
                .event_columns()
                .iter()
                .map(|c| c.name.as_str())
                .collect();
            assert_eq!(names, topic.fields(), "{topic}");
            for column in schema.event_columns() {
                assert_eq!(
                    column.nullable,
                    topic.is_nullable(&column.name),
                    "{topic}.{}",
                    column.name
                );
            }
            let arrow = schema.arrow_schema();
            let tail: Vec<(&str, &DataType, bool)> = arrow.fields()[schema.metadata_start()..]
                .iter()
                .map(|f| (f.name().as_str(), f.data_type(), f.is_nullable()))
                .collect();
            assert_eq!(
                tail,
                [
                    (KAFKA_PARTITION, &DataType::Int32, false),
                    (KAFKA_OFFSET, &DataType::Int64, false),
                    (
                        KAFKA_TIMESTAMP,
                        &DataType::Timestamp(TimeUnit::Millisecond, Some(UTC.into())),
                        true
                    ),
                    (SCHEMA_ID, &DataType::Int32, false),
                    (
                        INGESTED_AT,
                        &DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
                        false
                    ),
                ]
            );
            assert_eq!(schema.columns()[schema.ts_index()].name, "ts");
        }
    }

    #[test]
    fn maps_avro_types() {
        let listen = BronzeSchema::for_topic(Topic::Listen).expect("listen");
        let ty = |name: &str| listen.columns()[listen.index_of(name).expect(name)].ty;
        assert_eq!(ty("ts"), ColumnType::Int64);
        assert_eq!(ty("itemInSession"), ColumnType::Int32);
        assert_eq!(ty("lon"), ColumnType::Float64);
        assert_eq!(ty("userId"), ColumnType::Int64);
        assert_eq!(ty("artist"), ColumnType::Utf8);
        let auth = BronzeSchema::for_topic(Topic::Auth).expect("auth");
        assert_eq!(
            auth.columns()[auth.index_of("success").expect("success")].ty,
            ColumnType::Boolean
        );
    }

    #[test]
    fn rejects_what_bronze_cannot_store() {
        let nested = r#"{"type":"record","name":"x","fields":[
            {"name":"ts","type":"long"},{"name":"tags","type":{"type":"array","items":"string"}}]}"#;
        assert!(matches!(
            BronzeSchema::from_avsc("t", nested),
            Err(SchemaError::Unsupported { field, .. }) if field == "tags"
        ));
        let no_ts = r#"{"type":"record","name":"x","fields":[{"name":"a","type":"int"}]}"#;
        assert!(matches!(
            BronzeSchema::from_avsc("t", no_ts),
            Err(SchemaError::NoEventTime { .. })
        ));
        let reserved = r#"{"type":"record","name":"x","fields":[
            {"name":"ts","type":"long"},{"name":"_kafka_offset","type":"long"}]}"#;
        assert!(matches!(
            BronzeSchema::from_avsc("t", reserved),
            Err(SchemaError::ReservedName { .. })
        ));
        assert!(matches!(
            BronzeSchema::from_avsc("t", "{"),
            Err(SchemaError::Json { .. })
        ));
        let millis = r#"{"type":"record","name":"x","fields":[{"name":"ts","type":"long"},
            {"name":"at","type":["null",{"type":"long","logicalType":"timestamp-millis"}]}]}"#;
        let schema = BronzeSchema::from_avsc("t", millis).expect("logical types");
        assert_eq!(schema.columns()[1].ty, ColumnType::TimestampMillis);
        assert!(schema.columns()[1].nullable);
    }
}
