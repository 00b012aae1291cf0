//! Avro binary (Confluent wire format) straight into the bronze column builders, without an
//! intermediate `apache_avro::types::Value` (far slower: docs/benchmarks.md).
//!
//! Per writer schema id a [`DecodePlan`] is compiled once: the writer's fields in writer order,
//! each either read into a bronze column (with the promotions Avro schema resolution allows:
//! int → long/float/double, long → float/double, float → double, string ↔ bytes; and enum →
//! string, which the lander adds) or skipped; reader fields the writer lacks take their default (null for `["null", T]`).
//! Decoding a record reads its fields into a small scratch of borrowed slots, then appends one
//! row to the partition of its `ts`. Every failure is a [`DecodeError`] with a stable
//! [`reason`](DecodeError::reason); no input panics.
//!
//! A record's path through this module: `record` checks a value's size and framing and finds
//! the `plan` of its schema id, compiled from the writer's `schema` (parsed, resolved and checked
//! readable as the topic's reader schema by `apache_avro`); the plan reads each field with the
//! `cursor` and appends one row; every failure is an `error`.

mod cursor;
mod error;
mod plan;
mod record;
mod schema;
#[cfg(test)]
pub(crate) mod tests;

pub use self::error::DecodeError;
pub use self::plan::DecodePlan;
pub use self::record::{frame, peek_event_ms, TopicDecoder};

/// The default largest record value accepted (bytes); bigger ones are quarantined.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 1024 * 1024;
