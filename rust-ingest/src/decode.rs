//! Avro binary (Confluent wire format) straight into the bronze column builders, without an
//! intermediate `apache_avro::types::Value` (which capped decoding at ~72k records/s).
//!
//! Per writer schema id a [`DecodePlan`] is compiled once: the writer's fields in writer order,
//! each either read into a bronze column (with the promotions Avro schema resolution allows:
//! int → long/float/double, long → float/double, float → double, string ↔ bytes, enum → string)
//! or skipped; reader fields the writer lacks take their default (null for `["null", T]`).
//! Decoding a record reads its fields into a small scratch of borrowed slots, then appends one
//! row to the partition of its `ts`. Every failure is a [`DecodeError`] with a stable
//! [`reason`](DecodeError::reason); no input panics.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value as Json;
use soundlake_core::wire::{self, WireError};

use crate::batch_builder::{BatchError, KafkaMeta, PartitionedBatches, RowWriter};
use crate::schema::{BronzeSchema, ColumnType, EVENT_TIME_FIELD};

/// The default largest record value accepted (bytes); bigger ones are quarantined.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 1024 * 1024;

/// Deepest nesting of writer types the plan compiler accepts.
const MAX_DEPTH: usize = 32;

/// Why a record could not be decoded into a bronze row.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty value (a tombstone or a producer bug)")]
    Empty,
    #[error("{0}")]
    Wire(WireError),
    #[error("value of {len} bytes is larger than the limit of {limit} bytes")]
    Oversized { len: usize, limit: usize },
    #[error("schema id {id}: {detail}")]
    UnknownSchemaId { id: u32, detail: String },
    #[error("writer schema {id} cannot be read as {topic}: {detail}")]
    Incompatible {
        id: u32,
        topic: String,
        detail: String,
    },
    #[error("body ends after {at} bytes while reading {field}")]
    Truncated { field: String, at: usize },
    #[error("field {field}: {detail}")]
    WrongType { field: String, detail: String },
    #[error("field {field}: union branch {index} does not exist (the union has {branches})")]
    BadUnionIndex {
        field: String,
        index: i64,
        branches: usize,
    },
    #[error("{count} byte(s) left after the last field")]
    TrailingBytes { count: usize },
    #[error("invalid event time: {0}")]
    InvalidTs(String),
    #[error("cannot append the row: {0}")]
    Batch(BatchError),
}

impl DecodeError {
    /// A short stable code for metrics and the quarantine's `reason` column.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Empty | DecodeError::Wire(WireError::Empty) => "empty_value",
            DecodeError::Wire(WireError::BadMagic { .. }) => "bad_magic",
            DecodeError::Wire(WireError::TooShort { .. }) => "short_header",
            DecodeError::Oversized { .. } => "oversized_value",
            DecodeError::UnknownSchemaId { .. } => "unknown_schema_id",
            DecodeError::Incompatible { .. } => "incompatible_schema",
            DecodeError::Truncated { .. } => "truncated_body",
            DecodeError::WrongType { .. } => "wrong_type",
            DecodeError::BadUnionIndex { .. } => "invalid_union_index",
            DecodeError::TrailingBytes { .. } => "trailing_bytes",
            DecodeError::InvalidTs(_) => "invalid_ts",
            DecodeError::Batch(_) => "invalid_row",
        }
    }
}

/// An Avro type of a writer schema, as far as decoding and skipping need it.
#[derive(Debug, Clone, PartialEq)]
enum AvroType {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Enum(Arc<[String]>),
    Fixed(usize),
    Array(Box<AvroType>),
    Map(Box<AvroType>),
    Record(Vec<(String, AvroType)>),
    Union(Vec<AvroType>),
}

/// Parses an Avro schema JSON into [`AvroType`]; named types may be referenced after their
/// definition.
fn parse_type(
    json: &Json,
    names: &mut HashMap<String, AvroType>,
    depth: usize,
) -> Result<AvroType, String> {
    if depth > MAX_DEPTH {
        return Err("the schema nests too deeply".into());
    }
    match json {
        Json::String(name) => primitive(name)
            .or_else(|| names.get(name.as_str()).cloned())
            .or_else(|| {
                let short = name.rsplit('.').next().unwrap_or(name);
                names.get(short).cloned()
            })
            .ok_or_else(|| format!("unknown type {name:?}")),
        Json::Array(branches) => branches
            .iter()
            .map(|b| parse_type(b, names, depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(AvroType::Union),
        Json::Object(object) => {
            let kind = object
                .get("type")
                .ok_or_else(|| "a type object without \"type\"".to_owned())?;
            let name = object.get("name").and_then(Json::as_str).map(str::to_owned);
            let parsed = match kind.as_str() {
                Some("enum") => AvroType::Enum(
                    object
                        .get("symbols")
                        .and_then(Json::as_array)
                        .ok_or("an enum without symbols")?
                        .iter()
                        .map(|s| s.as_str().map(str::to_owned).ok_or("a non-string symbol"))
                        .collect::<Result<Vec<_>, _>>()?
                        .into(),
                ),
                Some("fixed") => AvroType::Fixed(
                    object
                        .get("size")
                        .and_then(Json::as_u64)
                        .and_then(|s| usize::try_from(s).ok())
                        .ok_or("a fixed without a size")?,
                ),
                Some("array") => AvroType::Array(Box::new(parse_type(
                    object.get("items").ok_or("an array without items")?,
                    names,
                    depth + 1,
                )?)),
                Some("map") => AvroType::Map(Box::new(parse_type(
                    object.get("values").ok_or("a map without values")?,
                    names,
                    depth + 1,
                )?)),
                Some("record") | Some("error") => {
                    let fields = object
                        .get("fields")
                        .and_then(Json::as_array)
                        .ok_or("a record without fields")?;
                    let mut out = Vec::with_capacity(fields.len());
                    for field in fields {
                        let fname = field
                            .get("name")
                            .and_then(Json::as_str)
                            .ok_or("a field without a name")?;
                        let ftype = field.get("type").ok_or("a field without a type")?;
                        out.push((fname.to_owned(), parse_type(ftype, names, depth + 1)?));
                    }
                    AvroType::Record(out)
                }
                // A primitive with a logical type (timestamp-millis, …): its base type.
                _ => parse_type(kind, names, depth + 1)?,
            };
            if let Some(name) = name {
                let short = name.rsplit('.').next().unwrap_or(&name).to_owned();
                names.insert(short, parsed.clone());
                names.insert(name, parsed.clone());
            }
            Ok(parsed)
        }
        other => Err(format!("{other} is not an Avro type")),
    }
}

fn primitive(name: &str) -> Option<AvroType> {
    Some(match name {
        "null" => AvroType::Null,
        "boolean" => AvroType::Boolean,
        "int" => AvroType::Int,
        "long" => AvroType::Long,
        "float" => AvroType::Float,
        "double" => AvroType::Double,
        "bytes" => AvroType::Bytes,
        "string" => AvroType::String,
        _ => return None,
    })
}

/// How one writer value becomes a column value.
#[derive(Debug, Clone)]
enum Read {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    /// string or bytes (both are length-prefixed bytes).
    Bytes,
    Enum(Arc<[String]>),
    /// A union: one read per branch.
    Union(Vec<Read>),
}

/// One writer field: read into a column, or skipped.
#[derive(Debug, Clone)]
enum Step {
    Column { column: usize, read: Read },
    Skip(AvroType),
}

/// A default for a reader field the writer lacks.
#[derive(Debug, Clone)]
enum Default {
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
    defaults: Vec<(usize, Default)>,
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
                (Some(Json::Null), true) | (None, true) => Default::Null,
                (Some(Json::Bool(b)), _) => Default::Bool(b),
                (Some(Json::Number(n)), _) if n.is_i64() => Default::Int(n.as_i64().unwrap_or(0)),
                (Some(Json::Number(n)), _) => Default::Float(n.as_f64().unwrap_or(0.0)),
                (Some(Json::String(s)), _) => Default::Str(s),
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
        let mut cursor = Cursor { body, at: 0 };
        for step in &self.steps {
            match step {
                Step::Column { column, read } => {
                    let name = &self.names[*column];
                    slots[*column] = read_value(&mut cursor, read, name)?;
                }
                Step::Skip(ty) => skip(&mut cursor, ty, 0)?,
            }
        }
        if cursor.at != body.len() {
            return Err(DecodeError::TrailingBytes {
                count: body.len() - cursor.at,
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
                Default::Null => row.set_null(*column).map_err(DecodeError::Batch)?,
                Default::Bool(b) => row.set_bool(*column, *b).map_err(DecodeError::Batch)?,
                Default::Int(i) => self.set(&mut row, *column, &Slot::Long(*i))?,
                Default::Float(f) => self.set(&mut row, *column, &Slot::Double(*f))?,
                Default::Str(s) => self.set(&mut row, *column, &Slot::Bytes(s.as_bytes()))?,
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

/// A decoded value, borrowed from the body.
#[derive(Debug, Clone, Copy)]
enum Slot<'a> {
    Unset,
    Null,
    Bool(bool),
    Long(i64),
    Double(f64),
    Bytes(&'a [u8]),
}

struct Cursor<'a> {
    body: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn truncated(&self, field: &str) -> DecodeError {
        DecodeError::Truncated {
            field: field.to_owned(),
            at: self.at,
        }
    }

    #[inline(always)]
    fn byte(&mut self, field: &str) -> Result<u8, DecodeError> {
        let b = *self
            .body
            .get(self.at)
            .ok_or_else(|| self.truncated(field))?;
        self.at += 1;
        Ok(b)
    }

    #[inline(always)]
    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], DecodeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.body.len())
            .ok_or_else(|| self.truncated(field))?;
        let out = &self.body[self.at..end];
        self.at = end;
        Ok(out)
    }

    /// A zigzag varint long (at most 10 bytes).
    #[inline(always)]
    fn long(&mut self, field: &str) -> Result<i64, DecodeError> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let b = self.byte(field)?;
            if i == 9 && b > 1 {
                return Err(DecodeError::WrongType {
                    field: field.to_owned(),
                    detail: "a varint longer than 64 bits".into(),
                });
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                #[allow(clippy::cast_possible_wrap)]
                return Ok(((value >> 1) as i64) ^ -((value & 1) as i64));
            }
        }
        Err(DecodeError::WrongType {
            field: field.to_owned(),
            detail: "a varint longer than 10 bytes".into(),
        })
    }

    #[inline(always)]
    fn int(&mut self, field: &str) -> Result<i64, DecodeError> {
        let v = self.long(field)?;
        if i32::try_from(v).is_err() {
            return Err(DecodeError::WrongType {
                field: field.to_owned(),
                detail: format!("{v} is not a 32-bit int"),
            });
        }
        Ok(v)
    }

    #[inline(always)]
    fn len(&mut self, field: &str) -> Result<usize, DecodeError> {
        let n = self.long(field)?;
        usize::try_from(n).map_err(|_| DecodeError::WrongType {
            field: field.to_owned(),
            detail: format!("negative length {n}"),
        })
    }

    #[inline(always)]
    fn bytes(&mut self, field: &str) -> Result<&'a [u8], DecodeError> {
        let n = self.len(field)?;
        self.take(n, field)
    }
}

/// Reads one value. Avro unions do not contain unions directly, so a union's branch is read
/// by [`read_plain`]; both are inlined into the decode loop (a `Result` returned through memory
/// per value cost a store-forwarding stall each).
#[inline(always)]
fn read_value<'a>(
    cursor: &mut Cursor<'a>,
    read: &'a Read,
    field: &str,
) -> Result<Slot<'a>, DecodeError> {
    match read {
        Read::Union(branches) => {
            let (index, branch) = union_branch(cursor, branches, field)?;
            if matches!(branch, Read::Union(_)) {
                return Err(DecodeError::WrongType {
                    field: field.to_owned(),
                    detail: format!("union branch {index} has a type the column cannot hold"),
                });
            }
            read_plain(cursor, branch, field)
        }
        plain => read_plain(cursor, plain, field),
    }
}

/// Reads a value that is not a union.
#[inline(always)]
fn read_plain<'a>(
    cursor: &mut Cursor<'a>,
    read: &'a Read,
    field: &str,
) -> Result<Slot<'a>, DecodeError> {
    Ok(match read {
        Read::Null => Slot::Null,
        Read::Boolean => match cursor.byte(field)? {
            0 => Slot::Bool(false),
            1 => Slot::Bool(true),
            b => {
                return Err(DecodeError::WrongType {
                    field: field.to_owned(),
                    detail: format!("boolean byte {b}"),
                })
            }
        },
        Read::Int => Slot::Long(cursor.int(field)?),
        Read::Long => Slot::Long(cursor.long(field)?),
        Read::Float => {
            let b = cursor.take(4, field)?;
            Slot::Double(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
        }
        Read::Double => {
            let b = cursor.take(8, field)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            Slot::Double(f64::from_le_bytes(a))
        }
        Read::Bytes => Slot::Bytes(cursor.bytes(field)?),
        Read::Enum(symbols) => {
            let i = cursor.int(field)?;
            let symbol = usize::try_from(i)
                .ok()
                .and_then(|i| symbols.get(i))
                .ok_or_else(|| DecodeError::WrongType {
                    field: field.to_owned(),
                    detail: format!("enum index {i} out of {} symbols", symbols.len()),
                })?;
            Slot::Bytes(symbol.as_bytes())
        }
        Read::Union(_) => {
            return Err(DecodeError::WrongType {
                field: field.to_owned(),
                detail: "a union directly inside a union (Avro does not allow it)".into(),
            })
        }
    })
}

/// Read a union's branch index and return it with the branch it selects.
fn union_branch<'t, T>(
    cursor: &mut Cursor<'_>,
    branches: &'t [T],
    field: &str,
) -> Result<(i64, &'t T), DecodeError> {
    let index = cursor.long(field)?;
    let branch = usize::try_from(index)
        .ok()
        .and_then(|i| branches.get(i))
        .ok_or_else(|| DecodeError::BadUnionIndex {
            field: field.to_owned(),
            index,
            branches: branches.len(),
        })?;
    Ok((index, branch))
}

fn skip(cursor: &mut Cursor<'_>, ty: &AvroType, depth: usize) -> Result<(), DecodeError> {
    const FIELD: &str = "(skipped writer field)";
    if depth > MAX_DEPTH {
        return Err(DecodeError::WrongType {
            field: FIELD.into(),
            detail: "nested too deeply".into(),
        });
    }
    match ty {
        AvroType::Null => {}
        AvroType::Boolean => {
            cursor.byte(FIELD)?;
        }
        AvroType::Int | AvroType::Long | AvroType::Enum(_) => {
            cursor.long(FIELD)?;
        }
        AvroType::Float => {
            cursor.take(4, FIELD)?;
        }
        AvroType::Double => {
            cursor.take(8, FIELD)?;
        }
        AvroType::Bytes | AvroType::String => {
            cursor.bytes(FIELD)?;
        }
        AvroType::Fixed(n) => {
            cursor.take(*n, FIELD)?;
        }
        AvroType::Record(fields) => {
            for (_, f) in fields {
                skip(cursor, f, depth + 1)?;
            }
        }
        AvroType::Union(branches) => {
            let (_, branch) = union_branch(cursor, branches, FIELD)?;
            skip(cursor, branch, depth + 1)?;
        }
        AvroType::Array(items) | AvroType::Map(items) => {
            let is_map = matches!(ty, AvroType::Map(_));
            loop {
                let mut count = cursor.long(FIELD)?;
                if count == 0 {
                    break;
                }
                if count < 0 {
                    // A negative count is followed by the block's size in bytes.
                    let size = cursor.len(FIELD)?;
                    cursor.take(size, FIELD)?;
                    continue;
                }
                while count > 0 {
                    if is_map {
                        cursor.bytes(FIELD)?;
                    }
                    let before = cursor.at;
                    skip(cursor, items, depth + 1)?;
                    if cursor.at == before && count > 1_000_000 {
                        return Err(DecodeError::WrongType {
                            field: FIELD.into(),
                            detail: "an array of empty items too long".into(),
                        });
                    }
                    count -= 1;
                }
            }
        }
    }
    Ok(())
}

/// Checks a value's size (at most `max_value_bytes`) and framing; returns the schema id of a
/// value worth decoding.
pub fn frame(value: Option<&[u8]>, max_value_bytes: usize) -> Result<u32, DecodeError> {
    checked_frame(value, max_value_bytes).map(|f| f.schema_id)
}

/// [`frame`], with the body.
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use soundlake_core::event::Topic;

    use crate::schema::embedded_avsc;

    fn zigzag(out: &mut Vec<u8>, v: i64) {
        #[allow(clippy::cast_sign_loss)]
        let mut n = ((v << 1) ^ (v >> 63)) as u64;
        loop {
            #[allow(clippy::cast_possible_truncation)]
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn string(out: &mut Vec<u8>, s: &str) {
        zigzag(out, i64::try_from(s.len()).unwrap_or(0));
        out.extend_from_slice(s.as_bytes());
    }

    /// An auth event body in the reader schema's own layout.
    pub(crate) fn auth_body(ts: i64, user: Option<i64>) -> Vec<u8> {
        let mut b = Vec::new();
        zigzag(&mut b, ts);
        zigzag(&mut b, 42); // sessionId
        string(&mut b, "free");
        zigzag(&mut b, 3); // itemInSession
        for s in ["Boston", "02101", "MA", "ua"] {
            string(&mut b, s);
        }
        b.extend_from_slice(&(-71.0f64).to_le_bytes());
        b.extend_from_slice(&42.0f64.to_le_bytes());
        match user {
            Some(u) => {
                zigzag(&mut b, 1);
                zigzag(&mut b, u);
            }
            None => zigzag(&mut b, 0),
        }
        for _ in 0..3 {
            zigzag(&mut b, 0); // lastName, firstName, gender: null
        }
        zigzag(&mut b, 0); // registration
        b.push(1); // success
        zigzag(&mut b, 0); // tag
        b
    }

    fn decoder() -> TopicDecoder {
        let bronze = Arc::new(BronzeSchema::for_topic(Topic::Auth).expect("auth"));
        let avsc: Arc<str> = embedded_avsc(Topic::Auth).into();
        let mut d = TopicDecoder::new(bronze, Arc::clone(&avsc), 1000);
        d.add_schema(7, Ok(&avsc));
        d
    }

    pub(crate) fn framed(id: u32, body: &[u8]) -> Vec<u8> {
        let mut v = soundlake_core::wire::header(id).to_vec();
        v.extend_from_slice(body);
        v
    }

    const META: KafkaMeta = KafkaMeta {
        partition: 0,
        offset: 1,
        timestamp_ms: None,
        schema_id: 0,
        ingested_at_us: 0,
    };

    #[test]
    fn decodes_a_record_and_rejects_bad_ones_with_reasons() {
        let d = decoder();
        let mut batches = PartitionedBatches::new(Arc::clone(d.bronze()));
        let good = framed(7, &auth_body(1_700_000_000_000, Some(5)));
        d.decode(Some(&good), &mut batches, &META).expect("good");
        assert_eq!(batches.rows(), 1);
        let reason = |v: Option<&[u8]>, b: &mut PartitionedBatches| {
            d.decode(v, b, &META).expect_err("bad").reason()
        };
        assert_eq!(reason(None, &mut batches), "empty_value");
        assert_eq!(reason(Some(&[]), &mut batches), "empty_value");
        assert_eq!(reason(Some(&[1, 0, 0, 0, 7]), &mut batches), "bad_magic");
        assert_eq!(
            reason(Some(&framed(8, &auth_body(1, None))), &mut batches),
            "unknown_schema_id"
        );
        assert_eq!(
            reason(Some(&good[..good.len() - 3]), &mut batches),
            "truncated_body"
        );
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(reason(Some(&trailing), &mut batches), "trailing_bytes");
        assert_eq!(reason(Some(&[0u8; 2000]), &mut batches), "oversized_value");
        let mut bad_union = framed(7, &auth_body(1_700_000_000_000, None));
        let at = bad_union.len() - 7; // userId's branch index
        bad_union[at] = 8;
        assert!(d.decode(Some(&bad_union), &mut batches, &META).is_err());
        assert_eq!(
            reason(
                Some(&framed(7, &auth_body(i64::MAX / 2, None))),
                &mut batches
            ),
            "invalid_ts"
        );
        assert_eq!(batches.rows(), 1, "no partial rows");
    }

    #[test]
    fn resolves_evolved_writer_schemas() {
        // The writer has an extra field, lacks a nullable one (tag), and writes itemInSession as int.
        let writer = r#"{"type":"record","name":"AuthEvent","fields":[
            {"name":"ts","type":"long"},{"name":"extra","type":{"type":"array","items":"string"}},
            {"name":"sessionId","type":"int"},{"name":"level","type":{"type":"enum","name":"L","symbols":["free","paid"]}},
            {"name":"itemInSession","type":"int"},{"name":"city","type":"string"},{"name":"zip","type":"string"},
            {"name":"state","type":"string"},{"name":"userAgent","type":"string"},{"name":"lon","type":"float"},
            {"name":"lat","type":"double"},{"name":"userId","type":["null","long"]},{"name":"lastName","type":["null","string"]},
            {"name":"firstName","type":["null","string"]},{"name":"gender","type":["null","string"]},
            {"name":"registration","type":["null","long"]},{"name":"success","type":"boolean"}]}"#;
        let mut d = decoder();
        d.add_schema(9, Ok(writer));
        let mut b = Vec::new();
        zigzag(&mut b, 1_700_000_000_000);
        zigzag(&mut b, 2); // array block of 2
        string(&mut b, "x");
        string(&mut b, "y");
        zigzag(&mut b, 0);
        zigzag(&mut b, 42);
        zigzag(&mut b, 1); // paid
        zigzag(&mut b, 3);
        for s in ["Boston", "02101", "MA", "ua"] {
            string(&mut b, s);
        }
        b.extend_from_slice(&1.5f32.to_le_bytes());
        b.extend_from_slice(&42.0f64.to_le_bytes());
        for _ in 0..5 {
            zigzag(&mut b, 0);
        }
        b.push(0);
        let mut batches = PartitionedBatches::new(Arc::clone(d.bronze()));
        d.decode(Some(&framed(9, &b)), &mut batches, &META)
            .expect("resolved");
        let out = batches.finish_all().expect("batch");
        let batch = &out[0].batch;
        let level = batch.column_by_name("level").and_then(|c| {
            c.as_any()
                .downcast_ref::<arrow::array::StringArray>()
                .map(|a| a.value(0).to_owned())
        });
        assert_eq!(level.as_deref(), Some("paid"));
        // A writer without a required field is incompatible.
        d.add_schema(
            10,
            Ok(r#"{"type":"record","name":"x","fields":[{"name":"ts","type":"long"}]}"#),
        );
        assert_eq!(
            d.decode(Some(&framed(10, &[2])), &mut batches, &META)
                .expect_err("incompatible")
                .reason(),
            "incompatible_schema"
        );
    }

    #[test]
    fn never_panics_on_noise() {
        let d = decoder();
        let mut batches = PartitionedBatches::new(Arc::clone(d.bronze()));
        let good = framed(7, &auth_body(1_700_000_000_000, Some(5)));
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut v = good.clone();
            #[allow(clippy::cast_possible_truncation)]
            let i = 5 + (seed as usize) % (v.len() - 5);
            #[allow(clippy::cast_possible_truncation)]
            {
                v[i] = (seed >> 32) as u8;
                v.truncate(5 + (seed >> 40) as usize % (v.len() - 4));
            }
            let _ = d.decode(Some(&v), &mut batches, &META);
        }
    }
}
