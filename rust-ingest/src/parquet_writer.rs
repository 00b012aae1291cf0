//! zstd Parquet files of one bronze partition, streamed to the lake under a staging name.
//!
//! Arrow batches are encoded into an in-memory buffer that is handed to the lake every few
//! megabytes, so memory holds at most the row group being encoded plus one spill chunk, not
//! the whole file. The file is only complete after [`BronzeFileWriter::finish`]; it becomes
//! visible in bronze when the commit log renames it into place (see `commit_log`).

use std::collections::BTreeMap;

use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use soundlake_core::lake::{LakeError, LakeFileWriter, LakeStore};

use crate::offsets::{absorb_spans, OffsetSpan};
use crate::schema::{EVENT_TIME_FIELD, KAFKA_OFFSET};

/// How Parquet files are encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetOptions {
    /// zstd level (1–22; 3 is zstd's default: fast, a good ratio).
    pub zstd_level: i32,
    /// A row group is closed when its encoded size reaches this (it is held in memory).
    pub row_group_bytes: usize,
    /// Encoded bytes are handed to the lake in chunks of at least this size.
    pub spill_bytes: usize,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        Self {
            zstd_level: 3,
            row_group_bytes: 32 * 1024 * 1024,
            spill_bytes: 8 * 1024 * 1024,
        }
    }
}

/// When to close a file and start the next (age is the lander's: `--flush-interval`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollPolicy {
    /// `--max-file-bytes`: close once the file reaches this size (estimate, before the footer).
    pub max_file_bytes: u64,
    /// `--max-rows`: close once the file holds this many rows.
    pub max_rows: u64,
}

impl RollPolicy {
    /// The defaults of `--max-file-bytes` and `--max-rows`.
    pub const DEFAULT: Self = Self {
        max_file_bytes: 40 * 1024 * 1024,
        max_rows: 5_000_000,
    };
}

impl Default for RollPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why a Parquet file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("encoding Parquet for {path}: {source}")]
    Parquet { path: String, source: ParquetError },
    #[error(transparent)]
    Lake(#[from] LakeError),
}

/// A complete file under its staging name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedFile {
    /// Lake path of the staged file.
    pub staged_path: String,
    pub bytes: u64,
    pub rows: u64,
    /// Per Kafka partition, the offsets the file's rows cover.
    pub spans: BTreeMap<i32, OffsetSpan>,
}

/// One Parquet file being written.
pub struct BronzeFileWriter {
    writer: ArrowWriter<Vec<u8>>,
    out: LakeFileWriter,
    rows: u64,
    spans: BTreeMap<i32, OffsetSpan>,
    spill_bytes: usize,
}

impl BronzeFileWriter {
    /// Creates `staged_path` in the lake (it must not exist) for rows of `schema`.
    pub async fn create(
        store: &LakeStore,
        staged_path: &str,
        schema: SchemaRef,
        options: &ParquetOptions,
    ) -> Result<Self, WriteError> {
        let parquet_error = |source| WriteError::Parquet {
            path: store.url_of(staged_path),
            source,
        };
        let level = ZstdLevel::try_new(options.zstd_level).map_err(parquet_error)?;
        let properties = writer_properties(&schema, level, options.row_group_bytes);
        let writer =
            ArrowWriter::try_new(Vec::new(), schema, Some(properties)).map_err(parquet_error)?;
        let out = store.create(staged_path).await?;
        Ok(Self {
            writer,
            out,
            rows: 0,
            spans: BTreeMap::new(),
            spill_bytes: options.spill_bytes,
        })
    }

    /// Appends a batch whose rows cover `spans` of Kafka offsets.
    pub async fn write(
        &mut self,
        batch: &RecordBatch,
        spans: &BTreeMap<i32, OffsetSpan>,
    ) -> Result<(), WriteError> {
        self.writer
            .write(batch)
            .map_err(|source| self.parquet_error(source))?;
        self.rows += batch.num_rows() as u64;
        absorb_spans(&mut self.spans, spans);
        if self.writer.inner().len() >= self.spill_bytes {
            self.spill().await?;
        }
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The file's size so far: bytes in the lake, in the spill buffer and in the open row group
    /// (an estimate of its encoded size).
    pub fn size_estimate(&self) -> u64 {
        self.out.written() + (self.writer.inner().len() + self.writer.in_progress_size()) as u64
    }

    /// Whether the file is big enough to be closed under `policy`.
    pub fn should_roll(&self, policy: &RollPolicy) -> bool {
        self.rows >= policy.max_rows || self.size_estimate() >= policy.max_file_bytes
    }

    /// Writes the footer and closes the file.
    pub async fn finish(mut self) -> Result<StagedFile, WriteError> {
        self.writer
            .finish()
            .map_err(|source| self.parquet_error(source))?;
        self.spill().await?;
        let staged_path = self.out.path().to_owned();
        let bytes = self.out.close().await?;
        Ok(StagedFile {
            staged_path,
            bytes,
            rows: self.rows,
            spans: self.spans,
        })
    }

    async fn spill(&mut self) -> Result<(), WriteError> {
        let chunk = std::mem::take(self.writer.inner_mut());
        if !chunk.is_empty() {
            self.out.write(Bytes::from(chunk)).await?;
        }
        Ok(())
    }

    fn parquet_error(&self, source: ParquetError) -> WriteError {
        WriteError::Parquet {
            path: self.out.path().to_owned(),
            source,
        }
    }
}

/// Columns whose values are (nearly) all distinct and close to the previous one: a dictionary
/// only costs hashing every value, and DELTA_BINARY_PACKED stores the small differences.
const DELTA_COLUMNS: [&str; 2] = [EVENT_TIME_FIELD, KAFKA_OFFSET];

/// How bronze Parquet is encoded: zstd; delta encoding for `DELTA_COLUMNS`; dictionaries for
/// the rest; min/max statistics for every column but strings and bytes. Bronze is read by
/// partition folder, then by `_ingested_at` and offsets, never filtered on a string's
/// min/max, and comparing every string value to the page's bounds took a good part of the
/// encoding time (docs/benchmarks.md).
pub fn writer_properties(
    schema: &SchemaRef,
    level: ZstdLevel,
    row_group_bytes: usize,
) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_max_row_group_bytes(Some(row_group_bytes))
        .set_created_by(format!("soundlake-ingest {}", env!("CARGO_PKG_VERSION")));
    for field in schema.fields() {
        let path = ColumnPath::from(field.name().as_str());
        if DELTA_COLUMNS.contains(&field.name().as_str()) {
            builder = builder
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
        } else if matches!(field.data_type(), DataType::Utf8 | DataType::Binary) {
            builder = builder.set_column_statistics_enabled(path, EnabledStatistics::None);
        }
    }
    builder.build()
}
