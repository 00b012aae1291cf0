//! The decode path's promises, checked on any input: the fuzz target (`rust-ingest/fuzz`) and
//! the property test (`tests/decode_property.rs`) feed it raw Kafka values.
//!
//! Every topic's [`TopicDecoder`] knows its reader schema as writer schema id
//! [`DecodeCheck::schema_id`] (1–4); any other id is unknown. For any value, decoding must
//! not panic, must append exactly one row when it succeeds and nothing when it fails, and the
//! builders must still produce valid Arrow batches afterwards.

use std::sync::Arc;

use soundlake_core::event::Topic;

use crate::batch_builder::{KafkaMeta, PartitionedBatches};
use crate::decode::{TopicDecoder, DEFAULT_MAX_VALUE_BYTES};
use crate::schema::{embedded_avsc, BronzeSchema};

/// Rows buffered before the builders are finished (and checked) to bound memory.
const FINISH_EVERY: usize = 4096;

/// What the decoder made of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// One bronze row.
    Landed,
    /// Quarantined, with this reason.
    Quarantined(&'static str),
}

/// A broken promise of the decode path (a bug, never a property of the input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("decode path bug: {0}")]
pub struct Broken(pub String);

/// Each topic's decoder and batches.
pub struct DecodeCheck {
    topics: Vec<(Topic, TopicDecoder, PartitionedBatches)>,
    offset: i64,
}

impl std::fmt::Debug for DecodeCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodeCheck")
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl DecodeCheck {
    /// The decoders of the four topics, with [`DEFAULT_MAX_VALUE_BYTES`].
    ///
    /// # Errors
    /// When an embedded schema does not compile (a build defect).
    pub fn new() -> Result<Self, Broken> {
        let mut topics = Vec::with_capacity(Topic::ALL.len());
        for topic in Topic::ALL {
            let bronze = Arc::new(
                BronzeSchema::for_topic(topic).map_err(|e| Broken(format!("{topic}: {e}")))?,
            );
            let avsc: Arc<str> = embedded_avsc(topic).into();
            let mut decoder = TopicDecoder::new(
                Arc::clone(&bronze),
                Arc::clone(&avsc),
                DEFAULT_MAX_VALUE_BYTES,
            );
            decoder.add_schema(Self::schema_id(topic), Ok(&avsc));
            topics.push((topic, decoder, PartitionedBatches::new(bronze)));
        }
        Ok(Self { topics, offset: 0 })
    }

    /// The schema id whose writer schema is `topic`'s reader schema.
    pub fn schema_id(topic: Topic) -> u32 {
        u32::try_from(topic.index()).unwrap_or(0) + 1
    }

    /// Raw fuzz input: byte 0 chooses the topic, the rest is the Kafka value (an empty rest
    /// is a null value).
    ///
    /// # Errors
    /// [`Broken`] when a promise is broken.
    pub fn check_bytes(&mut self, data: &[u8]) -> Result<Outcome, Broken> {
        let Some((&first, value)) = data.split_first() else {
            return Ok(Outcome::Quarantined("empty_input"));
        };
        let topic = Topic::ALL[usize::from(first) % Topic::ALL.len()];
        self.check(topic, (!value.is_empty()).then_some(value))
    }

    /// Decodes `value` as a record of `topic` and checks the promises.
    ///
    /// # Errors
    /// [`Broken`] when a promise is broken.
    pub fn check(&mut self, topic: Topic, value: Option<&[u8]>) -> Result<Outcome, Broken> {
        self.offset += 1;
        let meta = KafkaMeta {
            partition: 0,
            offset: self.offset,
            timestamp_ms: Some(1_700_000_000_000),
            schema_id: 0,
            ingested_at_us: 1_700_000_000_000_000,
        };
        let (_, decoder, batches) = &mut self.topics[topic.index()];
        let before = batches.rows();
        let result = decoder.decode(value, batches, &meta);
        let after = batches.rows();
        let outcome = match result {
            Ok(()) if after == before + 1 => Outcome::Landed,
            Ok(()) => {
                return Err(Broken(format!(
                    "{topic}: a success appended {} rows",
                    after.abs_diff(before)
                )))
            }
            Err(err) if after == before => Outcome::Quarantined(err.reason()),
            Err(err) => {
                return Err(Broken(format!(
                    "{topic}: a failure ({err}) left {} rows behind",
                    after.abs_diff(before)
                )))
            }
        };
        if after >= FINISH_EVERY {
            self.finish(topic)?;
        }
        Ok(outcome)
    }

    /// Finishes every topic's builders: the batches must be valid and hold every row.
    ///
    /// # Errors
    /// [`Broken`] when they do not.
    pub fn finish_all(&mut self) -> Result<(), Broken> {
        for topic in Topic::ALL {
            self.finish(topic)?;
        }
        Ok(())
    }

    fn finish(&mut self, topic: Topic) -> Result<(), Broken> {
        let (_, _, batches) = &mut self.topics[topic.index()];
        let rows = batches.rows();
        let finished = batches
            .finish_all()
            .map_err(|e| Broken(format!("{topic}: finishing the batches: {e}")))?;
        let total: usize = finished.iter().map(|f| f.batch.num_rows()).sum();
        if total != rows {
            return Err(Broken(format!(
                "{topic}: {rows} rows appended, {total} in the batches"
            )));
        }
        Ok(())
    }
}
