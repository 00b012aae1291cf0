//! One record's value: its size and Confluent wire-format framing checked, then its body
//! decoded by the plan of its schema id into the topic's batches.

use std::sync::Arc;

use soundlake_core::wire;

use super::error::DecodeError;
use super::plan::DecodePlan;
use crate::batch_builder::{KafkaMeta, PartitionedBatches};
use crate::schema::BronzeSchema;

/// Checks a value's size (at most `max_value_bytes`) and framing; returns the schema id of a
/// value worth decoding.
pub fn frame(value: Option<&[u8]>, max_value_bytes: usize) -> Result<u32, DecodeError> {
    checked_frame(value, max_value_bytes).map(|f| f.schema_id)
}

/// [`frame`], with the body.
#[inline]
fn checked_frame(
    value: Option<&[u8]>,
    max_value_bytes: usize,
) -> Result<wire::Framed<'_>, DecodeError> {
    let value = value.ok_or(DecodeError::Empty)?;
    if value.len() > max_value_bytes {
        return Err(DecodeError::Oversized {
            len: value.len(),
            limit: max_value_bytes,
        });
    }
    wire::parse(value).map_err(DecodeError::Wire)
}

/// The event time (epoch ms) of a value in the Confluent wire format, read from the first long
/// of its body without decoding the rest: every event schema starts with `ts`
/// (`schema::EVENT_TIME_FIELD`, schema-registry/*.avsc). A hint only, for the reader that keeps
/// partitions together in event time (`partition_reader`); the decoder is what lands the record.
/// `None` for a value that is not framed or does not start with a long.
pub fn peek_event_ms(value: &[u8]) -> Option<i64> {
    let framed = wire::parse(value).ok()?;
    super::cursor::Cursor::new(framed.body).long("ts").ok()
}

/// Decodes framed values of one topic into its batches, with a cache of compiled plans by
/// schema id. Plans are added by the caller (they may need the registry, which is async).
pub struct TopicDecoder {
    bronze: Arc<BronzeSchema>,
    reader_avsc: Arc<str>,
    /// By schema id (a topic has a handful: a short list beats hashing every record's id).
    plans: Vec<(u32, Result<Arc<DecodePlan>, DecodeError>)>,
    max_value_bytes: usize,
}

impl TopicDecoder {
    pub fn new(bronze: Arc<BronzeSchema>, reader_avsc: Arc<str>, max_value_bytes: usize) -> Self {
        Self {
            bronze,
            reader_avsc,
            plans: Vec::new(),
            max_value_bytes,
        }
    }

    /// The bronze table.
    pub fn bronze(&self) -> &Arc<BronzeSchema> {
        &self.bronze
    }

    /// Adds the writer schema of `id`, or the reason it cannot be had (quarantines its records).
    pub fn add_schema(&mut self, id: u32, writer: Result<&str, String>) {
        let plan = match writer {
            Ok(text) => DecodePlan::compile(id, text, Arc::clone(&self.bronze), &self.reader_avsc)
                .map(Arc::new),
            Err(detail) => Err(DecodeError::UnknownSchemaId { id, detail }),
        };
        match self.plans.iter_mut().find(|(known, _)| *known == id) {
            Some((_, known)) => *known = plan,
            None => self.plans.push((id, plan)),
        }
    }

    /// Checks size and framing; returns the schema id of a value worth decoding.
    pub fn frame(&self, value: Option<&[u8]>) -> Result<u32, DecodeError> {
        frame(value, self.max_value_bytes)
    }

    /// Decodes one value into `batches`. The plan of its schema id must have been added
    /// ([`Self::add_schema`]); an id never added is reported as unknown.
    pub fn decode(
        &self,
        value: Option<&[u8]>,
        batches: &mut PartitionedBatches,
        meta: &KafkaMeta,
    ) -> Result<(), DecodeError> {
        let framed = checked_frame(value, self.max_value_bytes)?;
        let plan = self
            .plans
            .iter()
            .find(|(id, _)| *id == framed.schema_id)
            .map(|(_, plan)| plan);
        let plan = match plan {
            Some(Ok(plan)) => plan,
            Some(Err(err)) => return Err(err.clone()),
            None => {
                return Err(DecodeError::UnknownSchemaId {
                    id: framed.schema_id,
                    detail: "not resolved".into(),
                })
            }
        };
        let meta = KafkaMeta {
            schema_id: i32::from_ne_bytes(framed.schema_id.to_ne_bytes()),
            ..*meta
        };
        plan.decode_into(framed.body, batches, &meta)
    }
}
