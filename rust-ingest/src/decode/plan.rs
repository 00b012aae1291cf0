//! The plan of one writer schema: its fields in writer order, each read into a bronze column
//! (with Avro's promotions) or skipped, and the defaults of the reader fields it lacks;
//! compiled once per schema id, then run on every record of that id.

use std::collections::HashMap;
use std::sync::Arc;

use apache_avro::schema::{
    DecimalSchema, FixedSchema, InnerDecimalSchema, Name, NamesRef, ResolvedSchema, UuidSchema,
};
use apache_avro::Schema;
use serde_json::Value as Json;

use super::cursor::{read_value, skip, Cursor, Read, Skip, Slot, MAX_DEPTH};
use super::error::DecodeError;
use super::schema;
use crate::batch_builder::{BatchError, KafkaMeta, PartitionedBatches, RowWriter};
use crate::schema::{BronzeSchema, ColumnType, EVENT_TIME_FIELD};

/// One writer field: read into a column, or skipped.
#[derive(Debug, Clone)]
enum Step {
    Column { column: usize, read: Read },
    Skip(Skip),
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
    /// The writer's named records that skipped fields refer to ([`Skip::Named`]).
    named: Vec<Skip>,
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
        let writer = schema::parse(writer, "the writer schema").map_err(incompatible)?;
        let resolved = ResolvedSchema::new(&writer)
            .map_err(|e| incompatible(format!("the writer schema: {e}")))?;
        let names = resolved.get_names();
        let fields = &schema::record(&writer, "the writer schema")
            .map_err(incompatible)?
            .fields;
        let reader = schema::parse(reader_avsc, "the reader schema").map_err(incompatible)?;
        let reader = schema::record(&reader, "the reader schema").map_err(incompatible)?;
        schema::check_readable(
            schema::record(&writer, "the writer schema").map_err(incompatible)?,
            names,
            reader,
        )
        .map_err(incompatible)?;
        let mut skips = SkipCompiler::new(names);
        let mut steps = Vec::with_capacity(fields.len());
        let mut seen = vec![false; bronze.metadata_start()];
        for field in fields {
            let name = &field.name;
            let Some(column) = bronze
                .index_of(name)
                .filter(|i| *i < bronze.metadata_start())
            else {
                let skip = skips
                    .compile(&field.schema, 0)
                    .map_err(|e| incompatible(format!("field {name}: {e}")))?;
                steps.push(Step::Skip(skip));
                continue;
            };
            let spec = &bronze.columns()[column];
            let read = resolve(&field.schema, names, spec.ty, spec.nullable).ok_or_else(|| {
                incompatible(format!(
                    "field {name}: {} cannot be read as {:?}{}",
                    field.schema.canonical_form(),
                    spec.ty,
                    if spec.nullable { " (nullable)" } else { "" }
                ))
            })?;
            seen[column] = true;
            steps.push(Step::Column { column, read });
        }
        let mut defaults = Vec::new();
        for (column, seen) in seen.iter().enumerate() {
            if *seen {
                continue;
            }
            let spec = &bronze.columns()[column];
            if spec.name == EVENT_TIME_FIELD {
                return Err(incompatible("the writer schema has no `ts`".into()));
            }
            let default = reader
                .fields
                .iter()
                .find(|f| f.name == spec.name)
                .and_then(|f| f.default.clone());
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
            named: skips.named,
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
                Step::Skip(ty) => skip(&mut cursor, ty, &self.named, 0)?,
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

/// How writer type `ty` is read into a column of type `column` (None: not allowed by Avro's
/// resolution rules, to which the lander adds enum → string). A logical type is read as its
/// underlying type.
fn resolve(ty: &Schema, names: &NamesRef<'_>, column: ColumnType, nullable: bool) -> Option<Read> {
    use ColumnType as C;
    Some(match (schema::definition(ty, names).ok()?, column) {
        (Schema::Null, _) if nullable => Read::Null,
        (Schema::Boolean, C::Boolean) => Read::Boolean,
        (
            Schema::Int | Schema::Date | Schema::TimeMillis,
            C::Int32 | C::Int64 | C::Float32 | C::Float64 | C::TimestampMillis | C::TimestampMicros,
        ) => Read::Int,
        (
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos,
            C::Int64 | C::Float32 | C::Float64 | C::TimestampMillis | C::TimestampMicros,
        ) => Read::Long,
        (Schema::Float, C::Float32 | C::Float64) => Read::Float,
        (Schema::Double, C::Float64) => Read::Double,
        (
            Schema::String
            | Schema::Bytes
            | Schema::BigDecimal
            | Schema::Uuid(UuidSchema::String | UuidSchema::Bytes)
            | Schema::Decimal(DecimalSchema {
                inner: InnerDecimalSchema::Bytes,
                ..
            }),
            C::Utf8 | C::Binary,
        ) => Read::Bytes,
        (Schema::Enum(e), C::Utf8) => Read::Enum(e.symbols.clone().into()),
        (Schema::Union(union), _) => {
            // Branches that cannot be read fail at decode time (as Avro does), not here, but at
            // least one must be readable.
            let reads: Vec<Read> = union
                .variants()
                .iter()
                .map(|b| resolve(b, names, column, nullable).unwrap_or(Read::Union(Vec::new())))
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

/// Compiles the [`Skip`] of writer fields the bronze table does not have, and the table of the
/// named records they refer to (a record may refer to itself).
struct SkipCompiler<'n, 's> {
    names: &'n NamesRef<'s>,
    indices: HashMap<Name, usize>,
    named: Vec<Skip>,
}

impl<'n, 's> SkipCompiler<'n, 's> {
    fn new(names: &'n NamesRef<'s>) -> Self {
        Self {
            names,
            indices: HashMap::new(),
            named: Vec::new(),
        }
    }

    fn compile(&mut self, ty: &Schema, depth: usize) -> Result<Skip, String> {
        if depth > MAX_DEPTH {
            return Err("the schema nests too deeply".into());
        }
        Ok(match ty {
            Schema::Ref { name } => match self.indices.get(name) {
                Some(index) => Skip::Named(*index),
                None => self.compile(schema::definition(ty, self.names)?, depth + 1)?,
            },
            Schema::Null => Skip::Null,
            Schema::Boolean => Skip::Boolean,
            Schema::Int
            | Schema::Long
            | Schema::Enum(_)
            | Schema::Date
            | Schema::TimeMillis
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => Skip::Varint,
            Schema::Float => Skip::Fixed(4),
            Schema::Double => Skip::Fixed(8),
            Schema::Fixed(FixedSchema { size, .. })
            | Schema::Duration(FixedSchema { size, .. })
            | Schema::Uuid(UuidSchema::Fixed(FixedSchema { size, .. }))
            | Schema::Decimal(DecimalSchema {
                inner: InnerDecimalSchema::Fixed(FixedSchema { size, .. }),
                ..
            }) => Skip::Fixed(*size),
            Schema::Bytes
            | Schema::String
            | Schema::BigDecimal
            | Schema::Uuid(UuidSchema::String | UuidSchema::Bytes)
            | Schema::Decimal(DecimalSchema {
                inner: InnerDecimalSchema::Bytes,
                ..
            }) => Skip::Bytes,
            Schema::Array(array) => Skip::Array(Box::new(self.compile(&array.items, depth + 1)?)),
            Schema::Map(map) => Skip::Map(Box::new(self.compile(&map.types, depth + 1)?)),
            Schema::Union(union) => Skip::Union(
                union
                    .variants()
                    .iter()
                    .map(|b| self.compile(b, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            Schema::Record(record) => {
                // Registered before its fields, which may refer to it.
                let index = self.named.len();
                self.named.push(Skip::Null);
                self.indices.insert(record.name.clone(), index);
                let fields = record
                    .fields
                    .iter()
                    .map(|f| self.compile(&f.schema, depth + 1))
                    .collect::<Result<_, _>>()?;
                self.named[index] = Skip::Record(fields);
                Skip::Named(index)
            }
        })
    }
}

/// Event columns whose decoded values [`DecodePlan::decode_into`] keeps on the stack.
const INLINE_SLOTS: usize = 32;
