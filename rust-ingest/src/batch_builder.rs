//! Column buffers that decoded records are appended to, one [`BatchBuilder`] per bronze
//! partition (topic, `event_date`, `hour`), turned into Arrow record batches at flush.
//!
//! Appending is field by field, so that a decoder can write each value straight into its
//! column without building a record first:
//!
//! ```
//! use std::sync::Arc;
//! use soundlake_core::event::Topic;
//! use soundlake_ingest::batch_builder::{KafkaMeta, PartitionedBatches};
//! use soundlake_ingest::schema::BronzeSchema;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let schema = Arc::new(BronzeSchema::for_topic(Topic::Auth)?);
//! let col = |name: &str| schema.index_of(name).ok_or(format!("no column {name}"));
//! let mut batches = PartitionedBatches::new(Arc::clone(&schema));
//! let mut row = batches.row(1_700_000_000_000)?; // picks the partition, sets `ts`
//! row.set_i64(col("sessionId")?, 42)?;
//! row.set_str(col("level")?, "free")?;
//! row.set_i32(col("itemInSession")?, 0)?;
//! for name in ["city", "zip", "state", "userAgent"] {
//!     row.set_str(col(name)?, "…")?;
//! }
//! row.set_f64(col("lon")?, -71.06)?;
//! row.set_f64(col("lat")?, 42.36)?;
//! row.set_bool(col("success")?, true)?;
//! // userId, lastName, … and tag are nullable: left unset, they are null.
//! let meta = KafkaMeta { partition: 0, offset: 7, timestamp_ms: None, schema_id: 1, ingested_at_us: 0 };
//! row.finish(&meta)?;
//! assert_eq!(batches.rows(), 1);
//! # Ok(())
//! # }
//! ```
//!
//! A row that is dropped before [`RowWriter::finish`] (a decode error half-way) is rolled
//! back: every column is truncated to the rows finished before it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array,
    StringArray, TimestampMicrosecondArray, TimestampMillisecondArray,
};
use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Datelike, NaiveDate, Timelike};

use crate::layout;
use crate::offsets::{add_offset, OffsetSpan};
use crate::schema::{BronzeSchema, ColumnType, UTC};

/// Largest total string/binary payload of one column in one batch (i32 offsets).
const MAX_VARIABLE_BYTES: usize = i32::MAX as usize;

/// The Kafka metadata of one record, written into the metadata columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KafkaMeta {
    pub partition: i32,
    pub offset: i64,
    /// The record's timestamp, epoch milliseconds, if it has one.
    pub timestamp_ms: Option<i64>,
    /// The writer schema id of the record's wire-format header.
    pub schema_id: i32,
    /// When the lander decoded the record, epoch microseconds (one clock reading per poll).
    pub ingested_at_us: i64,
}

/// Why a value or row could not be appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("{topic}: no column #{index}")]
    NoSuchColumn { topic: String, index: usize },
    #[error("{topic}.{column} is {expected:?}, not {given}")]
    WrongType {
        topic: String,
        column: String,
        expected: ColumnType,
        given: &'static str,
    },
    #[error("{topic}.{column} was set twice in one row")]
    AlreadySet { topic: String, column: String },
    #[error("{topic}.{column} is required but the record has no value for it")]
    Missing { topic: String, column: String },
    #[error("{topic}.{column} cannot be null")]
    NotNullable { topic: String, column: String },
    #[error("event time {ts_ms} ms is outside the years 0..=9999 and has no event_date")]
    BadEventTime { ts_ms: i64 },
    #[error("{topic}.{column} holds more than 2 GiB of text in one batch; flush earlier")]
    TooLarge { topic: String, column: String },
    #[error("{topic}: cannot build the Arrow batch: {reason}")]
    Arrow { topic: String, reason: String },
}

/// Milliseconds in an hour, the grain of the bronze partitions (event time div this).
pub const HOUR_MS: i64 = 3_600_000;

/// A bronze partition of a topic: `event_date=YYYY-MM-DD/hour=HH` of the event time (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    pub event_date: NaiveDate,
    pub hour: u8,
}

impl PartitionKey {
    /// The partition of an event time in epoch milliseconds.
    pub fn from_ts_ms(ts_ms: i64) -> Result<Self, BatchError> {
        let time = DateTime::from_timestamp_millis(ts_ms)
            .filter(|t| (0..=9999).contains(&t.year()))
            .ok_or(BatchError::BadEventTime { ts_ms })?;
        Ok(Self {
            event_date: time.date_naive(),
            // An hour is 0..=23: it fits.
            hour: u8::try_from(time.hour()).unwrap_or(u8::MAX),
        })
    }

    /// The Hive partition path below the topic's folder: `event_date=2026-11-25/hour=07`.
    pub fn dir(&self) -> String {
        self.to_string()
    }

    /// Hours since 1970-01-01T00 UTC.
    pub fn epoch_hour(&self) -> i64 {
        let days = self.event_date - NaiveDate::default();
        days.num_days() * 24 + i64::from(self.hour)
    }
}

impl fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&layout::partition_dir(self.event_date, self.hour))
    }
}

/// The rows of one bronze partition, column by column.
pub struct BatchBuilder {
    schema: Arc<BronzeSchema>,
    columns: Vec<Column>,
    rows: usize,
    spans: BTreeMap<i32, OffsetSpan>,
}

/// How much room to give a new builder's columns: the size of a batch finished before
/// (the next hour of a topic is about as large as the last), so that they do not grow by
/// doubling, copying what they hold each time.
#[derive(Debug, Clone, Default)]
struct Room {
    rows: usize,
    /// Per column: bytes of variable-length values.
    bytes: Vec<usize>,
}

impl Room {
    /// The mean size of what `builders` hold (None if there are none).
    fn mean<'a>(builders: impl Iterator<Item = &'a BatchBuilder>) -> Option<Room> {
        let mut sum = Room::default();
        let mut count = 0;
        for builder in builders {
            let room = builder.room();
            sum.rows += room.rows;
            sum.bytes.resize(room.bytes.len().max(sum.bytes.len()), 0);
            for (total, bytes) in sum.bytes.iter_mut().zip(room.bytes) {
                *total += bytes;
            }
            count += 1;
        }
        (count > 0).then(|| Room {
            rows: sum.rows / count,
            bytes: sum.bytes.iter().map(|b| b / count).collect(),
        })
    }
}

impl BatchBuilder {
    /// An empty builder for `schema`'s table.
    pub fn new(schema: Arc<BronzeSchema>) -> Self {
        Self::with_room(schema, &Room::default())
    }

    fn with_room(schema: Arc<BronzeSchema>, room: &Room) -> Self {
        let columns = schema
            .columns()
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let bytes = room.bytes.get(i).copied().unwrap_or(0);
                Column::with_room(c.ty, c.nullable, room.rows, bytes)
            })
            .collect();
        Self {
            schema,
            columns,
            rows: 0,
            spans: BTreeMap::new(),
        }
    }

    /// The size of what the builder holds, as room for another.
    fn room(&self) -> Room {
        Room {
            rows: self.rows,
            bytes: self.columns.iter().map(Column::variable_bytes).collect(),
        }
    }

    /// Starts a row. Set its fields, then [`RowWriter::finish`] it.
    pub fn row(&mut self) -> RowWriter<'_> {
        RowWriter {
            batch: self,
            finished: false,
            set: 0,
        }
    }

    /// Finished rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// An estimate of the memory the buffered rows take, in bytes.
    pub fn buffered_bytes(&self) -> usize {
        self.columns.iter().map(Column::bytes).sum()
    }

    /// Per Kafka partition: the offsets the buffered rows cover.
    pub fn spans(&self) -> &BTreeMap<i32, OffsetSpan> {
        &self.spans
    }

    /// The buffered rows as a record batch; the builder is empty afterwards.
    pub fn finish(&mut self) -> Result<RecordBatch, BatchError> {
        let schema = self.schema.arrow_schema();
        let arrays = self
            .columns
            .iter_mut()
            .map(Column::take_array)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| self.arrow_error(&err))?;
        self.rows = 0;
        self.spans.clear();
        RecordBatch::try_new(schema, arrays).map_err(|err| self.arrow_error(&err))
    }

    fn arrow_error(&self, err: &ArrowError) -> BatchError {
        BatchError::Arrow {
            topic: self.schema.topic().to_owned(),
            reason: err.to_string(),
        }
    }

    /// The column a row's value goes to (called for every value: the schema is only read to
    /// name a column in an error).
    #[inline(always)]
    fn column(&mut self, index: usize) -> Result<&mut Column, BatchError> {
        match self.columns.get(index) {
            Some(column) if column.len() <= self.rows => Ok(&mut self.columns[index]),
            _ => Err(self.column_error(index)),
        }
    }

    #[cold]
    #[inline(never)]
    fn column_error(&self, index: usize) -> BatchError {
        if index < self.columns.len() {
            BatchError::AlreadySet {
                topic: self.schema.topic().to_owned(),
                column: self.column_name(index),
            }
        } else {
            BatchError::NoSuchColumn {
                topic: self.schema.topic().to_owned(),
                index,
            }
        }
    }

    fn column_name(&self, index: usize) -> String {
        self.schema
            .columns()
            .get(index)
            .map(|c| c.name.clone())
            .unwrap_or_default()
    }

    #[cold]
    #[inline(never)]
    fn wrong_type(&self, index: usize, given: &'static str) -> BatchError {
        let spec = &self.schema.columns()[index];
        BatchError::WrongType {
            topic: self.schema.topic().to_owned(),
            column: spec.name.clone(),
            expected: spec.ty,
            given,
        }
    }

    fn rollback(&mut self) {
        let rows = self.rows;
        for column in &mut self.columns {
            column.truncate(rows);
        }
    }
}

/// One row being appended. Values are addressed by column index
/// ([`BronzeSchema::index_of`]); each column takes one value per row. Dropping the writer
/// without [`finish`](Self::finish) discards the row.
pub struct RowWriter<'a> {
    batch: &'a mut BatchBuilder,
    finished: bool,
    /// Values set so far (each column takes one): when every event column has one, `finish`
    /// need not look for unset ones.
    set: usize,
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident, $ty:ty, $given:literal, $($variant:ident)|+) => {
        $(#[$doc])*
        #[inline(always)]
        pub fn $name(&mut self, index: usize, value: $ty) -> Result<(), BatchError> {
            let column = self.batch.column(index)?;
            match &mut column.values {
                $(Values::$variant(values) => values.push(value),)+
                _ => return Err(self.batch.wrong_type(index, $given)),
            }
            column.push_valid();
            self.set += 1;
            Ok(())
        }
    };
}

impl RowWriter<'_> {
    setter!(
        /// Sets a Boolean column.
        set_bool, bool, "bool", Bool
    );
    setter!(
        /// Sets an Int32 column.
        set_i32, i32, "i32", I32
    );
    setter!(
        /// Sets an Int64 or timestamp column (epoch ms or µs as the column's unit).
        set_i64, i64, "i64", I64 | TimestampMillis | TimestampMicros
    );
    setter!(
        /// Sets a Float32 column.
        set_f32, f32, "f32", F32
    );
    setter!(
        /// Sets a Float64 column.
        set_f64, f64, "f64", F64
    );

    /// Sets a Utf8 column.
    pub fn set_str(&mut self, index: usize, value: &str) -> Result<(), BatchError> {
        self.set_variable(index, value.as_bytes(), true)
    }

    /// Sets a Utf8 column from bytes the caller has found to be UTF-8 (the decoder checks
    /// ASCII values inline, others with `from_utf8`). Arrow checks the column again when the
    /// batch is finished.
    #[inline(always)]
    pub(crate) fn set_checked_utf8(
        &mut self,
        index: usize,
        value: &[u8],
    ) -> Result<(), BatchError> {
        self.set_variable(index, value, true)
    }

    /// Sets a Binary column.
    #[inline(always)]
    pub fn set_bytes(&mut self, index: usize, value: &[u8]) -> Result<(), BatchError> {
        self.set_variable(index, value, false)
    }

    /// Sets a nullable column to null.
    #[inline(always)]
    pub fn set_null(&mut self, index: usize) -> Result<(), BatchError> {
        if !self.batch.column(index)?.push_null() {
            return Err(BatchError::NotNullable {
                topic: self.batch.schema.topic().to_owned(),
                column: self.batch.column_name(index),
            });
        }
        self.set += 1;
        Ok(())
    }

    /// Completes the row: writes the Kafka metadata columns, sets every unset nullable event
    /// field to null, and fails (discarding the row) if a required field is unset.
    pub fn finish(mut self, meta: &KafkaMeta) -> Result<(), BatchError> {
        let batch = &mut *self.batch;
        let start = batch.schema.metadata_start();
        let rows = batch.rows;
        let unset = if self.set < start { 0..start } else { 0..0 };
        for index in unset {
            if batch.columns[index].len() == rows && !batch.columns[index].push_null() {
                return Err(BatchError::Missing {
                    topic: batch.schema.topic().to_owned(),
                    column: batch.schema.columns()[index].name.clone(),
                });
            }
        }
        self.set_i32(start, meta.partition)?;
        self.set_i64(start + 1, meta.offset)?;
        match meta.timestamp_ms {
            Some(ts) => self.set_i64(start + 2, ts)?,
            None => self.set_null(start + 2)?,
        }
        self.set_i32(start + 3, meta.schema_id)?;
        self.set_i64(start + 4, meta.ingested_at_us)?;
        let batch = &mut *self.batch;
        batch.rows += 1;
        add_offset(&mut batch.spans, meta.partition, meta.offset);
        self.finished = true;
        Ok(())
    }

    #[inline(always)]
    fn set_variable(&mut self, index: usize, value: &[u8], utf8: bool) -> Result<(), BatchError> {
        let column = self.batch.column(index)?;
        let fits = match &mut column.values {
            Values::Utf8(var) if utf8 => var.push(value),
            Values::Binary(var) if !utf8 => var.push(value),
            _ => {
                return Err(self
                    .batch
                    .wrong_type(index, if utf8 { "str" } else { "bytes" }))
            }
        };
        if !fits {
            return Err(BatchError::TooLarge {
                topic: self.batch.schema.topic().to_owned(),
                column: self.batch.column_name(index),
            });
        }
        column.push_valid();
        self.set += 1;
        Ok(())
    }
}

impl Drop for RowWriter<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.batch.rollback();
        }
    }
}

/// The builders of one topic, one per bronze partition.
pub struct PartitionedBatches {
    schema: Arc<BronzeSchema>,
    builders: BTreeMap<PartitionKey, BatchBuilder>,
    /// The partition of the last row's hour (`ts_ms` div 3 600 000): consecutive events mostly
    /// fall into the same hour.
    last_hour: Option<(i64, PartitionKey)>,
    /// Room for a new partition's builder: the mean batch of the last flush.
    room: Room,
}

impl PartitionedBatches {
    pub fn new(schema: Arc<BronzeSchema>) -> Self {
        Self {
            schema,
            builders: BTreeMap::new(),
            last_hour: None,
            room: Room::default(),
        }
    }

    pub fn schema(&self) -> &Arc<BronzeSchema> {
        &self.schema
    }

    /// Starts a row of the event at `ts_ms` (epoch milliseconds): picks its partition and sets
    /// the `ts` column. The decoder reads `ts` first (it is the first field of every schema).
    pub fn row(&mut self, ts_ms: i64) -> Result<RowWriter<'_>, BatchError> {
        let hour = ts_ms.div_euclid(HOUR_MS);
        let key = match self.last_hour {
            Some((last, key)) if last == hour => key,
            _ => {
                let key = PartitionKey::from_ts_ms(ts_ms)?;
                self.last_hour = Some((hour, key));
                key
            }
        };
        let ts = self.schema.ts_index();
        let (schema, room) = (&self.schema, &self.room);
        let builder = self
            .builders
            .entry(key)
            .or_insert_with(|| BatchBuilder::with_room(Arc::clone(schema), room));
        let mut row = builder.row();
        row.set_i64(ts, ts_ms)?;
        Ok(row)
    }

    /// The partition of the last row started.
    pub fn last_key(&self) -> Option<PartitionKey> {
        self.last_hour.map(|(_, key)| key)
    }

    /// Rows buffered in all partitions.
    pub fn rows(&self) -> usize {
        self.builders.values().map(BatchBuilder::rows).sum()
    }

    /// Memory buffered in all partitions, in bytes (estimate).
    pub fn buffered_bytes(&self) -> usize {
        self.builders
            .values()
            .map(BatchBuilder::buffered_bytes)
            .sum()
    }

    /// The partitions and their builders.
    pub fn partitions(&self) -> impl Iterator<Item = (&PartitionKey, &BatchBuilder)> {
        self.builders.iter()
    }

    /// The builder of one partition, if it holds rows.
    pub fn get_mut(&mut self, key: &PartitionKey) -> Option<&mut BatchBuilder> {
        self.builders.get_mut(key)
    }

    /// Every non-empty partition's rows as a record batch, with the offsets each covers;
    /// the builders are emptied.
    pub fn finish_all(&mut self) -> Result<Vec<FinishedBatch>, BatchError> {
        let mut out = Vec::new();
        if let Some(room) = Room::mean(self.builders.values().filter(|b| !b.is_empty())) {
            self.room = room;
        }
        for (key, builder) in &mut self.builders {
            if builder.is_empty() {
                continue;
            }
            let spans = builder.spans().clone();
            out.push(FinishedBatch {
                key: *key,
                spans,
                batch: builder.finish()?,
            });
        }
        // A partition that received rows since the last flush probably receives more (the
        // current hour): its builder stays, with its buffers' room; the others go.
        let kept: BTreeSet<PartitionKey> = out.iter().map(|f| f.key).collect();
        self.builders.retain(|key, _| kept.contains(key));
        Ok(out)
    }
}

/// The rows of one partition, ready to be written.
#[derive(Debug, Clone)]
pub struct FinishedBatch {
    pub key: PartitionKey,
    pub spans: BTreeMap<i32, OffsetSpan>,
    pub batch: RecordBatch,
}

/// One column's values and validity.
struct Column {
    values: Values,
    /// `Some` for nullable columns: one flag per value, `false` = null.
    validity: Option<Vec<bool>>,
}

enum Values {
    Bool(Vec<bool>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Utf8(VarValues),
    Binary(VarValues),
    TimestampMillis(Vec<i64>),
    TimestampMicros(Vec<i64>),
}

/// Variable-length values: offsets into one data buffer.
struct VarValues {
    offsets: Vec<i32>,
    data: Vec<u8>,
}

impl VarValues {
    fn with_room(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Self {
            offsets,
            data: Vec::with_capacity(bytes),
        }
    }

    /// Appends a value; `false` if the column would outgrow i32 offsets.
    #[inline(always)]
    fn push(&mut self, value: &[u8]) -> bool {
        let end = self.data.len() + value.len();
        let Ok(end_offset) = i32::try_from(end) else {
            return false;
        };
        if end > MAX_VARIABLE_BYTES {
            return false;
        }
        self.data.extend_from_slice(value);
        self.offsets.push(end_offset);
        true
    }

    #[inline(always)]
    fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    fn truncate(&mut self, rows: usize) {
        if rows < self.len() {
            self.offsets.truncate(rows + 1);
            let end = self.offsets.last().copied().unwrap_or(0);
            self.data.truncate(usize::try_from(end).unwrap_or(0));
        }
    }

    /// The values as Arrow buffers; the column keeps room for as many again (the next batch
    /// of a partition is usually about as large).
    fn take(&mut self) -> (OffsetBuffer<i32>, Buffer) {
        let mut offsets = Vec::with_capacity(self.offsets.len());
        offsets.push(0);
        let empty = Self {
            offsets,
            data: Vec::with_capacity(self.data.len()),
        };
        let taken = std::mem::replace(self, empty);
        (
            OffsetBuffer::new(ScalarBuffer::from(taken.offsets)),
            Buffer::from_vec(taken.data),
        )
    }
}

impl Column {
    /// An empty column with room for `rows` values (and `bytes` of them if variable-length).
    fn with_room(ty: ColumnType, nullable: bool, rows: usize, bytes: usize) -> Self {
        let values = match ty {
            ColumnType::Boolean => Values::Bool(Vec::with_capacity(rows)),
            ColumnType::Int32 => Values::I32(Vec::with_capacity(rows)),
            ColumnType::Int64 => Values::I64(Vec::with_capacity(rows)),
            ColumnType::Float32 => Values::F32(Vec::with_capacity(rows)),
            ColumnType::Float64 => Values::F64(Vec::with_capacity(rows)),
            ColumnType::Utf8 => Values::Utf8(VarValues::with_room(rows, bytes)),
            ColumnType::Binary => Values::Binary(VarValues::with_room(rows, bytes)),
            ColumnType::TimestampMillis => Values::TimestampMillis(Vec::with_capacity(rows)),
            ColumnType::TimestampMicros => Values::TimestampMicros(Vec::with_capacity(rows)),
        };
        Self {
            values,
            validity: nullable.then(|| Vec::with_capacity(rows)),
        }
    }

    /// Bytes of variable-length values (0 for fixed-width columns).
    fn variable_bytes(&self) -> usize {
        match &self.values {
            Values::Utf8(v) | Values::Binary(v) => v.data.len(),
            _ => 0,
        }
    }

    #[inline(always)]
    fn len(&self) -> usize {
        match &self.values {
            Values::Bool(v) => v.len(),
            Values::I32(v) => v.len(),
            Values::I64(v) | Values::TimestampMillis(v) | Values::TimestampMicros(v) => v.len(),
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::Utf8(v) | Values::Binary(v) => v.len(),
        }
    }

    fn bytes(&self) -> usize {
        let values = match &self.values {
            Values::Bool(v) => v.len(),
            Values::I32(v) => v.len() * 4,
            Values::I64(v) | Values::TimestampMillis(v) | Values::TimestampMicros(v) => v.len() * 8,
            Values::F32(v) => v.len() * 4,
            Values::F64(v) => v.len() * 8,
            Values::Utf8(v) | Values::Binary(v) => v.offsets.len() * 4 + v.data.len(),
        };
        values + self.validity.as_ref().map_or(0, Vec::len)
    }

    #[inline(always)]
    fn push_valid(&mut self) {
        if let Some(validity) = &mut self.validity {
            validity.push(true);
        }
    }

    /// Appends a null; `false` if the column is not nullable.
    #[inline(always)]
    fn push_null(&mut self) -> bool {
        let Some(validity) = &mut self.validity else {
            return false;
        };
        validity.push(false);
        match &mut self.values {
            Values::Bool(v) => v.push(false),
            Values::I32(v) => v.push(0),
            Values::I64(v) | Values::TimestampMillis(v) | Values::TimestampMicros(v) => v.push(0),
            Values::F32(v) => v.push(0.0),
            Values::F64(v) => v.push(0.0),
            Values::Utf8(v) | Values::Binary(v) => {
                v.push(&[]);
            }
        }
        true
    }

    fn truncate(&mut self, rows: usize) {
        match &mut self.values {
            Values::Bool(v) => v.truncate(rows),
            Values::I32(v) => v.truncate(rows),
            Values::I64(v) | Values::TimestampMillis(v) | Values::TimestampMicros(v) => {
                v.truncate(rows)
            }
            Values::F32(v) => v.truncate(rows),
            Values::F64(v) => v.truncate(rows),
            Values::Utf8(v) | Values::Binary(v) => v.truncate(rows),
        }
        if let Some(validity) = &mut self.validity {
            validity.truncate(rows);
        }
    }

    /// The values as an Arrow array; the column is empty afterwards, with room for as many.
    fn take_array(&mut self) -> Result<ArrayRef, ArrowError> {
        let nulls = self
            .validity
            .as_mut()
            .map(take_keeping_capacity)
            .filter(|v| v.contains(&false))
            .map(NullBuffer::from);
        Ok(match &mut self.values {
            Values::Bool(v) => Arc::new(BooleanArray::new(take_keeping_capacity(v).into(), nulls)),
            Values::I32(v) => Arc::new(Int32Array::new(take_keeping_capacity(v).into(), nulls)),
            Values::I64(v) => Arc::new(Int64Array::new(take_keeping_capacity(v).into(), nulls)),
            Values::F32(v) => Arc::new(Float32Array::new(take_keeping_capacity(v).into(), nulls)),
            Values::F64(v) => Arc::new(Float64Array::new(take_keeping_capacity(v).into(), nulls)),
            Values::TimestampMillis(v) => Arc::new(
                TimestampMillisecondArray::new(take_keeping_capacity(v).into(), nulls)
                    .with_timezone(UTC),
            ),
            Values::TimestampMicros(v) => Arc::new(
                TimestampMicrosecondArray::new(take_keeping_capacity(v).into(), nulls)
                    .with_timezone(UTC),
            ),
            Values::Utf8(v) => {
                let (offsets, data) = v.take();
                Arc::new(StringArray::try_new(offsets, data, nulls)?)
            }
            Values::Binary(v) => {
                let (offsets, data) = v.take();
                Arc::new(BinaryArray::try_new(offsets, data, nulls)?)
            }
        })
    }
}

/// Empties `values`, returning them; `values` keeps room for as many.
fn take_keeping_capacity<T>(values: &mut Vec<T>) -> Vec<T> {
    let room = Vec::with_capacity(values.len());
    std::mem::replace(values, room)
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Int32Type, Int64Type, TimestampMillisecondType};
    use soundlake_core::event::Topic;

    use super::*;
    use crate::schema::KAFKA_TIMESTAMP;

    const TS: i64 = 1_764_054_000_000; // 2025-11-25T07:00:00Z

    fn meta(offset: i64) -> KafkaMeta {
        KafkaMeta {
            partition: 2,
            offset,
            timestamp_ms: Some(TS + 5),
            schema_id: 7,
            ingested_at_us: 1,
        }
    }

    fn schema() -> Arc<BronzeSchema> {
        Arc::new(BronzeSchema::for_topic(Topic::StatusChange).expect("schema"))
    }

    /// Appends a complete status change event (a guest unless `user_id`).
    fn append(
        batches: &mut PartitionedBatches,
        ts: i64,
        offset: i64,
        user_id: Option<i64>,
    ) -> Result<(), BatchError> {
        let schema = Arc::clone(batches.schema());
        let col = |name: &str| schema.index_of(name).expect(name);
        let mut row = batches.row(ts)?;
        row.set_i64(col("sessionId"), 10 + offset)?;
        row.set_str(col("auth"), "Logged In")?;
        row.set_str(col("level"), "paid")?;
        row.set_i32(col("itemInSession"), 3)?;
        for name in ["city", "zip", "state", "userAgent"] {
            row.set_str(col(name), name)?;
        }
        row.set_f64(col("lon"), -71.5)?;
        row.set_f64(col("lat"), 42.1)?;
        if let Some(id) = user_id {
            row.set_i64(col("userId"), id)?;
            row.set_str(col("lastName"), "Doe")?;
        }
        row.finish(&meta(offset))
    }

    #[test]
    fn partition_keys_follow_utc_event_time() {
        let key = PartitionKey::from_ts_ms(TS).expect("key");
        assert_eq!(key.to_string(), "event_date=2025-11-25/hour=07");
        let key = PartitionKey::from_ts_ms(TS - 7 * 3_600_000 - 1).expect("key");
        assert_eq!(key.dir(), "event_date=2025-11-24/hour=23");
        assert!(PartitionKey::from_ts_ms(i64::MAX).is_err());
        assert!(PartitionKey::from_ts_ms(-70_000_000_000_000).is_err());
    }

    #[test]
    fn epoch_hours_count_from_1970() {
        for ts in [0, TS, TS - 7 * 3_600_000 - 1, -1] {
            let key = PartitionKey::from_ts_ms(ts).expect("key");
            assert_eq!(key.epoch_hour(), ts.div_euclid(3_600_000), "{ts}");
        }
    }

    #[test]
    fn rows_land_in_their_hour_with_metadata() {
        let mut batches = PartitionedBatches::new(schema());
        append(&mut batches, TS, 100, Some(5)).expect("row 1");
        append(&mut batches, TS + 1000, 101, None).expect("row 2");
        append(&mut batches, TS + 3_600_000, 102, None).expect("row 3");
        assert_eq!(batches.rows(), 3);
        assert!(batches.buffered_bytes() > 0);
        let finished = batches.finish_all().expect("finish");
        assert_eq!(batches.rows(), 0);
        let keys: Vec<String> = finished.iter().map(|f| f.key.to_string()).collect();
        assert_eq!(
            keys,
            [
                "event_date=2025-11-25/hour=07",
                "event_date=2025-11-25/hour=08"
            ]
        );
        let first = &finished[0];
        assert_eq!(first.batch.num_rows(), 2);
        assert_eq!(
            first.spans.get(&2),
            Some(&OffsetSpan {
                first_offset: 100,
                last_offset: 101,
                rows: 2
            })
        );
        let schema = schema();
        let column = |name: &str| first.batch.column(schema.index_of(name).expect(name));
        let user = column("userId");
        assert_eq!(user.as_primitive::<Int64Type>().value(0), 5);
        assert!(user.is_null(1));
        assert!(column("tag").is_null(0), "unset nullable fields are null");
        assert_eq!(
            column("_kafka_offset").as_primitive::<Int64Type>().values(),
            &[100, 101]
        );
        assert_eq!(
            column("_kafka_partition")
                .as_primitive::<Int32Type>()
                .value(1),
            2
        );
        assert_eq!(
            column(KAFKA_TIMESTAMP)
                .as_primitive::<TimestampMillisecondType>()
                .value(0),
            TS + 5
        );
        assert_eq!(column("auth").as_string::<i32>().value(1), "Logged In");
        assert_eq!(column("ts").as_primitive::<Int64Type>().value(1), TS + 1000);
    }

    #[test]
    fn a_failed_row_leaves_no_trace() {
        let schema = schema();
        let mut batches = PartitionedBatches::new(Arc::clone(&schema));
        append(&mut batches, TS, 1, Some(1)).expect("good row");
        // Half a row, then the decoder gives up (the writer is dropped).
        {
            let mut row = batches.row(TS).expect("row");
            row.set_i64(schema.index_of("sessionId").expect("col"), 9)
                .expect("set");
            row.set_str(schema.index_of("city").expect("col"), "Boston")
                .expect("set");
        }
        // A row missing a required field fails at finish and is discarded too.
        let mut row = batches.row(TS).expect("row");
        row.set_i64(schema.index_of("sessionId").expect("col"), 9)
            .expect("set");
        let err = row.finish(&meta(2)).expect_err("missing fields");
        assert!(matches!(err, BatchError::Missing { ref column, .. } if column == "auth"));
        append(&mut batches, TS, 3, None).expect("good row");
        let finished = batches.finish_all().expect("finish");
        assert_eq!(finished.len(), 1);
        let batch = &finished[0].batch;
        assert_eq!(batch.num_rows(), 2);
        let city = batch.column(schema.index_of("city").expect("col"));
        assert_eq!(city.as_string::<i32>().value(1), "city");
        assert_eq!(finished[0].spans[&2].rows, 2);
    }

    #[test]
    fn misuse_is_an_error_not_a_panic() {
        let schema = schema();
        let mut builder = BatchBuilder::new(Arc::clone(&schema));
        let mut row = builder.row();
        let session = schema.index_of("sessionId").expect("col");
        assert!(matches!(
            row.set_str(session, "x"),
            Err(BatchError::WrongType { .. })
        ));
        row.set_i64(session, 1).expect("set");
        assert!(matches!(
            row.set_i64(session, 2),
            Err(BatchError::AlreadySet { .. })
        ));
        assert!(matches!(
            row.set_null(session),
            Err(BatchError::AlreadySet { .. })
        ));
        assert!(matches!(
            row.set_null(schema.index_of("city").expect("col")),
            Err(BatchError::NotNullable { .. })
        ));
        assert!(matches!(
            row.set_i32(999, 1),
            Err(BatchError::NoSuchColumn { .. })
        ));
        drop(row);
        assert!(builder.is_empty());
        let empty = builder.finish().expect("empty batch");
        assert_eq!(empty.num_rows(), 0);
    }
}
