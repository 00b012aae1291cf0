//! `eventsim`: a music service's click-stream generator that follows eventsim's statistical
//! model and reads eventsim's JSON configuration, written for speed and scale.
//!
//! - [`config`]: eventsim's config file (unknown keys warned about, wrong types rejected).
//! - [`model`]: the state machine, users, sessions, timing, song catalog, shipped data.
//! - [`sinks`]: record encoding (JSON lines, Avro in the Confluent wire format) and destinations
//!   (files, stdout, Kafka).
//! - [`run`]: batch (parallel, deterministic order) and continuous (real-time) drivers.
//! - [`metrics`]: what `--metrics-addr` serves to Prometheus.
//! - [`app`]: the command line's options resolved against the config, and the run.
//! - [`summary`]: what is printed at the end of a run.

pub mod app;
pub mod cli;
pub mod config;
pub mod metrics;
pub mod model;
pub mod progress;
pub mod run;
pub mod sinks;
pub mod summary;
