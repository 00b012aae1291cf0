//! Shared code of the Soundlake Rust services.
//!
//! One small library that the binaries (`eventsim`, `soundlake-ingest`, `soundlake-loader`) use
//! instead of copying code between them.

pub mod event;
pub mod lake;
pub mod retry;
pub mod schema_registry;
pub mod settings;
pub mod telemetry;
pub mod text_table;
pub mod wire;
