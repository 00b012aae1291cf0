//! Records that cannot be landed go to `bronze/_quarantine/<topic>/…` as Parquet, with their raw
//! bytes, Kafka coordinates and the reason. Quarantine files are committed in the same commit
//! entry as the good data of the same flush, so a bad record's offset is consumed exactly once
//! too: it is never dropped and never stops the stream.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray,
    TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use crate::offsets::{add_offset, OffsetSpan};
use crate::schema::{INGESTED_AT, UTC};

/// One record that could not be landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantinedRecord {
    /// The raw value (None for a tombstone).
    pub value: Option<Vec<u8>>,
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: Option<i64>,
    /// A short stable code (`bad_magic`, `truncated_body`, …).
    pub reason: &'static str,
    /// The full message.
    pub detail: String,
    pub ingested_at_us: i64,
}

/// The Arrow schema of a quarantine file.
pub fn quarantine_schema() -> SchemaRef {
    let ts = |unit| DataType::Timestamp(unit, Some(UTC.into()));
    Arc::new(Schema::new(vec![
        Field::new("value", DataType::Binary, true),
        Field::new("topic", DataType::Utf8, false),
        Field::new("_kafka_partition", DataType::Int32, false),
        Field::new("_kafka_offset", DataType::Int64, false),
        Field::new("_kafka_timestamp", ts(TimeUnit::Millisecond), true),
        Field::new("reason", DataType::Utf8, false),
        Field::new("detail", DataType::Utf8, false),
        Field::new(INGESTED_AT, ts(TimeUnit::Microsecond), false),
    ]))
}

/// The bad records of one Kafka topic, buffered until the next flush.
#[derive(Debug, Default)]
pub struct QuarantineBuffer {
    records: Vec<QuarantinedRecord>,
    bytes: usize,
}

impl QuarantineBuffer {
    pub fn push(&mut self, record: QuarantinedRecord) {
        self.bytes += record.value.as_ref().map_or(0, Vec::len) + record.detail.len() + 64;
        self.records.push(record);
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Memory held, in bytes (estimate).
    pub fn buffered_bytes(&self) -> usize {
        self.bytes
    }

    pub fn clear(&mut self) {
        self.records.clear();
        self.bytes = 0;
    }

    /// Per Kafka partition, the offsets the buffered records cover.
    pub fn spans(&self) -> BTreeMap<i32, OffsetSpan> {
        let mut spans = BTreeMap::new();
        for r in &self.records {
            add_offset(&mut spans, r.partition, r.offset);
        }
        spans
    }

    /// The buffered records as a batch of [`quarantine_schema`] (the buffer is kept).
    pub fn to_batch(&self, topic: &str) -> Result<RecordBatch, ArrowError> {
        let r = &self.records;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(BinaryArray::from_iter(r.iter().map(|x| x.value.as_deref()))),
            Arc::new(StringArray::from_iter_values(r.iter().map(|_| topic))),
            Arc::new(Int32Array::from_iter_values(r.iter().map(|x| x.partition))),
            Arc::new(Int64Array::from_iter_values(r.iter().map(|x| x.offset))),
            Arc::new(
                TimestampMillisecondArray::from_iter(r.iter().map(|x| x.timestamp_ms))
                    .with_timezone(UTC),
            ),
            Arc::new(StringArray::from_iter_values(r.iter().map(|x| x.reason))),
            Arc::new(StringArray::from_iter_values(
                r.iter().map(|x| x.detail.as_str()),
            )),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(r.iter().map(|x| x.ingested_at_us))
                    .with_timezone(UTC),
            ),
        ];
        RecordBatch::try_new(quarantine_schema(), columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::quarantine_path;

    #[test]
    fn builds_a_batch_with_spans() {
        let mut q = QuarantineBuffer::default();
        for (offset, value) in [(5, Some(vec![1u8])), (9, None)] {
            q.push(QuarantinedRecord {
                value,
                partition: 2,
                offset,
                timestamp_ms: Some(1),
                reason: "bad_magic",
                detail: "x".into(),
                ingested_at_us: 3,
            });
        }
        let batch = q.to_batch("t").expect("batch");
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(
            q.spans()[&2],
            OffsetSpan {
                first_offset: 5,
                last_offset: 9,
                rows: 2
            }
        );
        assert_eq!(quarantine_path("t", "f"), "bronze/_quarantine/t/f");
    }
}
