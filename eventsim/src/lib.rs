//! `eventsim`: a music service's click-stream generator that follows eventsim's statistical
//! model and reads eventsim's JSON configuration, written for speed and scale.
//!
//! In the order a run goes:
//!
//! - [`cli`]: the command line; [`settings`]: the run settings it shares with the config file,
//!   declared once with their defaults.
//! - [`config`]: eventsim's config file (unknown keys warned about, wrong types rejected).
//! - [`plan`]: the command line's options resolved against the config and checked.
//! - [`model`]: the state machine, users, sessions, timing, song catalog, shipped data.
//! - [`run`]: batch (parallel, deterministic order) and continuous (real-time) drivers, showing
//!   [`progress`].
//! - [`sinks`]: record encoding (JSON lines, Avro in the Confluent wire format) and destinations
//!   (files, stdout, Kafka).
//! - [`metrics`]: what `--metrics-addr` serves to Prometheus.
//! - [`app`]: a plan run into its output; [`summary`]: what is printed at the end of a run.
//! - [`error`]: why a run cannot be planned or fails, and its exit code.

pub mod cli;
pub mod settings;

pub mod config;

pub mod plan;

pub mod model;

pub mod run;

pub mod progress;

pub mod sinks;

pub mod metrics;

pub mod app;
pub mod summary;

pub mod error;
