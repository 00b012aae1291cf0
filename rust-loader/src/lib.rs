//! The gold → ClickHouse loader, as a library that the `soundlake-loader` binary, its
//! tests and its benchmark use.
//!
//! In the order a run goes:
//!
//! - [`config`]: the settings; [`run`]: one run over every table, with its [`metrics`].
//! - [`discover`]: the gold tables on the lake, their Hive partitions and fingerprints.
//! - [`types`]: the Arrow → ClickHouse type mapping; [`schema`]: a table's columns, key, DDL.
//! - [`plan`]: unchanged, full or incremental (which months).
//! - [`source`]: Parquet files → Native blocks ([`native`]) on a blocking thread, summed up by
//!   [`checksum`] (the row count and per-column checksums a staging table must match).
//! - [`load`]: staging, check, swap or `REPLACE PARTITION`, through [`server`] (the ClickHouse
//!   client, version and features); [`load_log`]: the `_load_log` table.
//! - [`error`]: the loader's errors, and which of them are worth a retry.

pub mod config;
pub mod run;

pub mod metrics;

pub mod discover;

pub mod schema;
pub mod types;

pub mod plan;

pub mod source;

pub mod native;

pub mod checksum;

pub mod load;

pub mod server;

pub mod load_log;

pub mod error;

pub use error::Error;
