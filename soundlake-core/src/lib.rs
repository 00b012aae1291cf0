//! Shared code of the Soundlake Rust services.
//!
//! One small library that the binaries (`eventsim`, `soundlake-ingest`, `soundlake-loader`) use
//! instead of copying code between them.
//!
//! In the order a record travels, then what every service shares:
//!
//! - [`event`]: the events and their topics; [`wire`]: a record's Confluent wire framing;
//!   [`schema_registry`]: the schema ids that framing carries.
//! - [`lake`]: where records land, and the file operations on it.
//! - [`retry`]: one retry policy; [`settings`]: flags over env over config file over defaults;
//!   [`telemetry`]: metrics on `/metrics`; [`text_table`]: the summaries' tables.

pub mod event;
pub mod wire;

pub mod schema_registry;

pub mod lake;

pub mod retry;
pub mod settings;
pub mod telemetry;
pub mod text_table;
