//! Reading a gold table's Parquet files into Native blocks, on a blocking thread: one file in
//! memory at a time, record batches of bounded size, each encoded into one block and handed to
//! the inserting task through a bounded channel (so at most a few blocks wait in memory).

use std::sync::Arc;

use arrow::datatypes::Schema;
use bytes::Bytes;
use indicatif::ProgressBar;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use soundlake_core::lake::LakeStore;
use soundlake_core::retry::RetryPolicy;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use crate::checksum::Summary;
use crate::discover::GoldFile;
use crate::error::Error;
use crate::native::{self, ConstValue};
use crate::schema::{Source, TableSchema};
use crate::types::{map_field, Features};

/// One file to load and the values of its partition columns.
#[derive(Debug, Clone)]
pub struct FileJob {
    pub file: GoldFile,
    pub partition_values: Vec<ConstValue>,
}

/// An encoded Native block.
#[derive(Debug)]
pub struct Block {
    pub data: Bytes,
    pub rows: usize,
}

/// What the producer needs.
pub struct Producer {
    pub store: LakeStore,
    pub runtime: Handle,
    pub schema: Arc<TableSchema>,
    pub features: Features,
    pub batch_rows: usize,
    pub retry: RetryPolicy,
    pub progress: Option<ProgressBar>,
}

/// The Arrow schema of a Parquet file's bytes.
pub fn parquet_schema(url: &str, data: Bytes) -> Result<Arc<Schema>, Error> {
    ParquetRecordBatchReaderBuilder::try_new(data)
        .map(|builder| builder.schema().clone())
        .map_err(|e| Error::Parquet {
            url: url.to_owned(),
            reason: e.to_string(),
        })
}

impl Producer {
    /// Reads `files` in order, sends their blocks to `blocks`, and returns the summary of what
    /// it read. Runs on a blocking thread (it blocks on the lake's async reads).
    pub fn run(self, files: Vec<FileJob>, blocks: mpsc::Sender<Block>) -> Result<Summary, Error> {
        let mut summary = Summary::new(self.schema.columns.len());
        for job in files {
            let path = job.file.path.clone();
            let url = self.store.url_of(&path);
            let data = self.runtime.block_on(self.retry.retry(
                &format!("reading {url}"),
                Error::is_transient,
                || {
                    let store = self.store.clone();
                    let path = path.clone();
                    async move { store.read(&path).await.map_err(Error::from) }
                },
            ))?;
            self.file(&url, data, &job.partition_values, &mut summary, &blocks)?;
            if let Some(progress) = &self.progress {
                progress.inc(job.file.len);
            }
        }
        Ok(summary)
    }

    fn file(
        &self,
        url: &str,
        data: Bytes,
        partition_values: &[ConstValue],
        summary: &mut Summary,
        blocks: &mpsc::Sender<Block>,
    ) -> Result<(), Error> {
        let parquet_error = |e: &dyn std::fmt::Display| Error::Parquet {
            url: url.to_owned(),
            reason: e.to_string(),
        };
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(data).map_err(|e| parquet_error(&e))?;
        let file_schema = builder.schema().clone();
        let mut roots = Vec::new();
        for column in self
            .schema
            .columns
            .iter()
            .filter(|c| c.source == Source::File)
        {
            let (index, field) = file_schema.column_with_name(&column.name).ok_or_else(|| {
                Error::Layout(format!(
                    "gold table {}: file {url} lacks column {} that the table's first file has; rewrite the table",
                    self.schema.table, column.name
                ))
            })?;
            let file_type =
                map_field(field, self.features).map_err(|source| Error::Unmappable {
                    table: self.schema.table.clone(),
                    source,
                })?;
            if file_type != column.ch_type {
                return Err(Error::Layout(format!(
                    "gold table {}: file {url} has column {} as {file_type}, the table's first file as {}; rewrite the table",
                    self.schema.table, column.name, column.ch_type
                )));
            }
            roots.push(index);
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        let reader = builder
            .with_projection(mask)
            .with_batch_size(self.batch_rows)
            .build()
            .map_err(|e| parquet_error(&e))?;
        for batch in reader {
            let batch = batch.map_err(|e| parquet_error(&e))?;
            let rows = batch.num_rows();
            if rows == 0 {
                continue;
            }
            let mut out = Vec::with_capacity(batch.get_array_memory_size() + 1024);
            native::write_block_header(&mut out, self.schema.columns.len(), rows);
            let mut partition_index = 0;
            for (index, column) in self.schema.columns.iter().enumerate() {
                match column.source {
                    Source::File => {
                        let array =
                            batch
                                .column_by_name(&column.name)
                                .ok_or_else(|| Error::Batch {
                                    url: url.to_owned(),
                                    detail: format!("column {} vanished from a batch", column.name),
                                })?;
                        let array = native::normalize(&column.name, array)
                            .map_err(|source| self.encode_error(url, source))?;
                        summary.add_array(index, &column.ch_type, &array);
                        native::write_column(&mut out, &column.name, &column.ch_type, &array)
                            .map_err(|source| self.encode_error(url, source))?;
                    }
                    Source::Partition => {
                        let value =
                            partition_values
                                .get(partition_index)
                                .ok_or_else(|| Error::Batch {
                                    url: url.to_owned(),
                                    detail: format!(
                                        "no value for partition column {}",
                                        column.name
                                    ),
                                })?;
                        partition_index += 1;
                        summary.add_const(index, value, rows);
                        native::write_const_column(
                            &mut out,
                            &column.name,
                            &column.ch_type,
                            value,
                            rows,
                        );
                    }
                }
            }
            summary.rows += rows as u64;
            let block = Block {
                data: Bytes::from(out),
                rows,
            };
            if blocks.blocking_send(block).is_err() {
                return Err(Error::InsertStopped);
            }
        }
        Ok(())
    }

    fn encode_error(&self, url: &str, source: native::EncodeError) -> Error {
        Error::Encode {
            table: self.schema.table.clone(),
            url: url.to_owned(),
            source,
        }
    }
}
