//! The gold → ClickHouse loader (issue 7), as a library that the `soundlake-loader` binary, its
//! tests and its benchmark use.
//!
//! - [`discover`]: the gold tables on the lake, their Hive partitions and fingerprints.
//! - [`types`]: the Arrow → ClickHouse type mapping; [`schema`]: a table's columns, key, DDL.
//! - [`source`]: Parquet files → Native blocks ([`native`]) on a blocking thread.
//! - [`checksum`]: the row count and per-column checksums that a staging table must match.
//! - [`plan`]: unchanged, full or incremental (which months); [`load`]: staging, check, swap
//!   or `REPLACE PARTITION`; [`load_log`]: the `_load_log` table.
//! - [`server`]: the ClickHouse client, version and features.
//! - [`run`]: one run over every table; [`config`]: its settings; [`metrics`]: its metrics.

pub mod checksum;
pub mod config;
pub mod discover;
pub mod error;
pub mod load;
pub mod load_log;
pub mod metrics;
pub mod native;
pub mod plan;
pub mod run;
pub mod schema;
pub mod server;
pub mod source;
pub mod types;

pub use error::Error;
