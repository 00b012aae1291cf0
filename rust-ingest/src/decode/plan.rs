//! The plan of one writer schema: its fields in writer order, each read into a bronze column
//! (with Avro's promotions) or skipped, and the defaults of the reader fields it lacks;
//! compiled once per schema id, then run on every record of that id.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value as Json;

use super::cursor::{read_value, skip, Cursor, Read, Slot};
use super::error::DecodeError;
use super::schema::{parse_type, AvroType};
use crate::batch_builder::{BatchError, KafkaMeta, PartitionedBatches, RowWriter};
use crate::schema::{BronzeSchema, ColumnType, EVENT_TIME_FIELD};

/// One writer field: read into a column, or skipped.
#[derive(Debug, Clone)]
enum Step {
    Column { column: usize, read: Read },
    Skip(AvroType),
}

/// A default for a reader field the writer lacks.
#[derive(Debug, Clone)]
enum FieldDefault {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

/// How records of one writer schema are decoded into one bronze table.
#[derive(Debug)]
pub struct DecodePlan {
    schema_id: u32,
    bronze: Arc<BronzeSchema>,
    steps: Vec<Step>,
    defaults: Vec<(usize, FieldDefault)>,
    names: Vec<String>,
}

impl DecodePlan {
    /// Compiles the plan of writer schema `writer` (Avro JSON) against the bronze table
    /// `bronze` whose reader schema is `reader_avsc`.
    pub fn compile(
        schema_id: u32,
        writer: &str,
        bronze: Arc<BronzeSchema>,
        reader_avsc: &str,
    ) -> Result<Self, DecodeError> {
        let incompatible = |detail: String| DecodeError::Incompatible {
            id: schema_id,
            topic: bronze.topic().to_owned(),
            detail,
        };
        let json: Json =
            serde_json::from_str(writer).map_err(|e| incompatible(format!("not JSON: {e}")))?;
        let mut names = HashMap::new();
        let AvroType::Record(fields) = parse_type(&json, &mut names, 0).map_err(incompatible)?
        else {
            return Err(incompatible("the writer schema is not a record".into()));
        };
        let mut steps = Vec::with_capacity(fields.len());
        let mut seen = vec![false; bronze.metadata_start()];
        for (name, ty) in &fields {
            let Some(column) = bronze
                .index_of(name)
                .filter(|i| *i < bronze.metadata_start())
            else {
                steps.push(Step::Skip(ty.clone()));
                continue;
            };
            let spec = &bronze.columns()[column];
            let read = resolve(ty, spec.ty, spec.nullable).ok_or_else(|| {
                incompatible(format!(
                    "field {name}: {ty:?} cannot be read as {:?}{}",
                    spec.ty,
                    if spec.nullable { " (nullable)" } else { "" }
                ))
            })?;
            seen[column] = true;
            steps.push(Step::Column { column, read });
        }
        let reader_json: Json = serde_json::from_str(reader_avsc)
            .map_err(|e| incompatible(format!("reader schema: {e}")))?;
        let mut defaults = Vec::new();
        for (column, seen) in seen.iter().enumerate() {
            if *seen {
                continue;
            }
            let spec = &bronze.columns()[column];
            if spec.name == EVENT_TIME_FIELD {
                return Err(incompatible("the writer schema has no `ts`".into()));
            }
            let default = reader_default(&reader_json, &spec.name);
            let default = match (default, spec.nullable) {
                (Some(Json::Null), true) | (None, true) => FieldDefault::Null,
                (Some(Json::Bool(b)), _) => FieldDefault::Bool(b),
                (Some(Json::Number(n)), _) if n.is_i64() => {
                    FieldDefault::Int(n.as_i64().unwrap_or(0))
                }
                (Some(Json::Number(n)), _) => FieldDefault::Float(n.as_f64().unwrap_or(0.0)),
                (Some(Json::String(s)), _) => FieldDefault::Str(s),
                _ => {
                    return Err(incompatible(format!(
                        "required field {} is missing and has no default",
                        spec.name
                    )))
                }
            };
            defaults.push((column, default));
        }
        Ok(Self {
            schema_id,
            names: bronze.columns().iter().map(|c| c.name.clone()).collect(),
            bronze,
            steps,
            defaults,
        })
    }

    /// The writer schema id.
    pub fn schema_id(&self) -> u32 {
        self.schema_id
    }

    /// The bronze table the plan decodes into.
    pub fn bronze(&self) -> &Arc<BronzeSchema> {
        &self.bronze
    }

    /// Decodes the Avro body of one record and appends it to `batches` (nothing is appended
    /// on error).
    #[inline]
    pub fn decode_into(
        &self,
        body: &[u8],
        batches: &mut PartitionedBatches,
        meta: &KafkaMeta,
    ) -> Result<(), DecodeError> {
        // The event's values, on the stack for every topic of the contract (no allocation per
        // record); a wider table would take the heap.
        let width = self.bronze.metadata_start();
        let mut inline = [Slot::Unset; INLINE_SLOTS];
        let mut heap = Vec::new();
        let slots: &mut [Slot<'_>] = if width <= INLINE_SLOTS {
            &mut inline[..width]
        } else {
            heap.resize(width, Slot::Unset);
            &mut heap
        };
        let mut cursor = Cursor::new(body);
        for step in &self.steps {
            match step {
                Step::Column { column, read } => {
                    let name = &self.names[*column];
                    slots[*column] = read_value(&mut cursor, read, name)?;
                }
                Step::Skip(ty) => skip(&mut cursor, ty, 0)?,
            }
        }
        if cursor.remaining() != 0 {
            return Err(DecodeError::TrailingBytes {
                count: cursor.remaining(),
            });
        }
        let ts_index = self.bronze.ts_index();
        let ts = match slots[ts_index] {
            Slot::Long(ts) => ts,
            _ => return Err(DecodeError::InvalidTs("`ts` is not a long".into())),
        };
        let mut row = batches.row(ts).map_err(|err| match err {
            BatchError::BadEventTime { .. } => DecodeError::InvalidTs(err.to_string()),
            other => DecodeError::Batch(other),
        })?;
        for (column, slot) in slots.iter().enumerate() {
            if column != ts_index {
                self.set(&mut row, column, slot)?;
            }
        }
        for (column, default) in &self.defaults {
            match default {
                FieldDefault::Null => row.set_null(*column).map_err(DecodeError::Batch)?,
                FieldDefault::Bool(b) => row.set_bool(*column, *b).map_err(DecodeError::Batch)?,
                FieldDefault::Int(i) => self.set(&mut row, *column, &Slot::Long(*i))?,
                FieldDefault::Float(f) => self.set(&mut row, *column, &Slot::Double(*f))?,
                FieldDefault::Str(s) => self.set(&mut row, *column, &Slot::Bytes(s.as_bytes()))?,
            }
        }
        row.finish(meta).map_err(DecodeError::Batch)
    }

    #[inline(always)]
    fn set(
        &self,
        row: &mut RowWriter<'_>,
        column: usize,
        slot: &Slot<'_>,
    ) -> Result<(), DecodeError> {
        let spec = &self.bronze.columns()[column];
        let wrong = |detail: &str| DecodeError::WrongType {
            field: spec.name.clone(),
            detail: detail.to_owned(),
        };
        let result = match (slot, spec.ty) {
            (Slot::Unset, _) => return Ok(()),
            (Slot::Null, _) if spec.nullable => row.set_null(column),
            (Slot::Null, _) => return Err(wrong("null for a required field")),
            (Slot::Bool(v), ColumnType::Boolean) => row.set_bool(column, *v),
            (Slot::Long(v), ColumnType::Int32) => {
                let v = i32::try_from(*v).map_err(|_| wrong("does not fit an int"))?;
                row.set_i32(column, v)
            }
            (
                Slot::Long(v),
                ColumnType::Int64 | ColumnType::TimestampMillis | ColumnType::TimestampMicros,
            ) => row.set_i64(column, *v),
            #[allow(clippy::cast_precision_loss)]
            (Slot::Long(v), ColumnType::Float32) => row.set_f32(column, *v as f32),
            #[allow(clippy::cast_precision_loss)]
            (Slot::Long(v), ColumnType::Float64) => row.set_f64(column, *v as f64),
            #[allow(clippy::cast_possible_truncation)]
            (Slot::Double(v), ColumnType::Float32) => row.set_f32(column, *v as f32),
            (Slot::Double(v), ColumnType::Float64) => row.set_f64(column, *v),
            (Slot::Bytes(v), ColumnType::Utf8) => {
                // ASCII (nearly every value) is checked word by word, inline.
                if !v.is_ascii() && std::str::from_utf8(v).is_err() {
                    return Err(wrong("a string that is not UTF-8"));
                }
                row.set_checked_utf8(column, v)
            }
            (Slot::Bytes(v), ColumnType::Binary) => row.set_bytes(column, v),
            _ => return Err(wrong("a value of another type")),
        };
        result.map_err(DecodeError::Batch)
    }
}

/// The `default` of reader field `name`, if it declares one.
fn reader_default(reader: &Json, name: &str) -> Option<Json> {
    reader
        .get("fields")?
        .as_array()?
        .iter()
        .find(|f| f.get("name").and_then(Json::as_str) == Some(name))?
        .get("default")
        .cloned()
}

/// How writer type `ty` is read into a column of type `column` (None: not allowed by Avro's
/// resolution rules).
fn resolve(ty: &AvroType, column: ColumnType, nullable: bool) -> Option<Read> {
    use ColumnType as C;
    Some(match (ty, column) {
        (AvroType::Null, _) if nullable => Read::Null,
        (AvroType::Boolean, C::Boolean) => Read::Boolean,
        (
            AvroType::Int,
            C::Int32 | C::Int64 | C::Float32 | C::Float64 | C::TimestampMillis | C::TimestampMicros,
        ) => Read::Int,
        (
            AvroType::Long,
            C::Int64 | C::Float32 | C::Float64 | C::TimestampMillis | C::TimestampMicros,
        ) => Read::Long,
        (AvroType::Float, C::Float32 | C::Float64) => Read::Float,
        (AvroType::Double, C::Float64) => Read::Double,
        (AvroType::String | AvroType::Bytes, C::Utf8 | C::Binary) => Read::Bytes,
        (AvroType::Enum(symbols), C::Utf8) => Read::Enum(Arc::clone(symbols)),
        (AvroType::Union(branches), _) => {
            // Branches that cannot be read fail at decode time (as Avro does), not here, but at
            // least one must be readable.
            let reads: Vec<Read> = branches
                .iter()
                .map(|b| resolve(b, column, nullable).unwrap_or(Read::Union(Vec::new())))
                .collect();
            if reads
                .iter()
                .all(|r| matches!(r, Read::Union(v) if v.is_empty()))
            {
                return None;
            }
            Read::Union(reads)
        }
        _ => return None,
    })
}

/// Event columns whose decoded values [`DecodePlan::decode_into`] keeps on the stack.
const INLINE_SLOTS: usize = 32;
