//! How the lander's Parquet settings compare with the parquet crate's defaults (both zstd at
//! the lander's level), side by side on the same bronze data: reads every `.parquet` file
//! under a folder (a `file://` lake's `bronze/<topic>`), then encodes all its batches in memory
//! with each setting, alternating, a few rounds, and prints CPU time and size.
//!
//! ```text
//! cargo run --release -p soundlake-ingest --example parquet_encoding -- /tmp/lake/bronze
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use clap::Parser;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use soundlake_ingest::parquet_writer::{writer_properties, ParquetOptions};

/// The writer properties of a batch.
type Properties<'a> = dyn Fn(&RecordBatch) -> WriterProperties + 'a;

/// Encodes bronze batches with the lander's settings and with the crate's defaults.
#[derive(Debug, Parser)]
#[command(name = "parquet_encoding")]
struct Cli {
    /// A folder of bronze Parquet files (searched recursively).
    folder: PathBuf,
    /// Rounds (each encodes everything once per setting).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

fn main() -> ExitCode {
    match run(&Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("parquet_encoding: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), Box<dyn std::error::Error>> {
    let mut files = Vec::new();
    parquet_files(&cli.folder, &mut files)?;
    if files.is_empty() {
        return Err(format!("no .parquet files under {}", cli.folder.display()).into());
    }
    let mut batches = Vec::new();
    for file in &files {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file)?)?
            .with_batch_size(1 << 20)
            .build()?;
        for batch in reader {
            batches.push(batch?);
        }
    }
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    println!("{} files, {rows} rows", files.len());
    let options = ParquetOptions::default();
    let level = ZstdLevel::try_new(options.zstd_level)?;
    let settings: [(&str, &Properties<'_>); 2] = [
        ("parquet crate defaults", &|_| {
            WriterProperties::builder()
                .set_compression(Compression::ZSTD(level))
                .build()
        }),
        ("soundlake-ingest", &|b| {
            writer_properties(&b.schema(), level, options.row_group_bytes)
        }),
    ];
    let mut totals = [(Duration::ZERO, 0usize); 2];
    for _ in 0..cli.rounds {
        for ((_, properties), total) in settings.iter().zip(&mut totals) {
            let (took, bytes) = encode(&batches, properties)?;
            total.0 += took;
            total.1 = bytes;
        }
    }
    let (base_time, base_bytes) = totals[0];
    for ((name, _), (took, bytes)) in settings.iter().zip(totals) {
        println!(
            "{name:24} {:6.2} s per round ({:.2}x)  {:7.1} MB ({:.2}x)",
            took.as_secs_f64() / cli.rounds as f64,
            took.as_secs_f64() / base_time.as_secs_f64(),
            bytes as f64 / 1e6,
            bytes as f64 / base_bytes as f64,
        );
    }
    Ok(())
}

/// Encodes every batch into its own in-memory file; returns the time and the bytes.
fn encode(
    batches: &[RecordBatch],
    properties: &Properties<'_>,
) -> Result<(Duration, usize), parquet::errors::ParquetError> {
    let started = Instant::now();
    let mut bytes = 0;
    for batch in batches {
        let mut writer = ArrowWriter::try_new(Vec::new(), batch.schema(), Some(properties(batch)))?;
        writer.write(batch)?;
        bytes += writer.into_inner()?.len();
    }
    Ok((started.elapsed(), bytes))
}

fn parquet_files(folder: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(folder)? {
        let path = entry?.path();
        if path.is_dir() {
            parquet_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
    Ok(())
}
