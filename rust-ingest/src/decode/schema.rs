//! The writer's Avro schema (JSON), parsed as far as decoding and skipping need it. A
//! hand-written parser of the subset the decoder reads.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value as Json;

/// Deepest nesting of writer types the plan compiler accepts.
pub(super) const MAX_DEPTH: usize = 32;

/// An Avro type of a writer schema, as far as decoding and skipping need it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum AvroType {
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
pub(super) fn parse_type(
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
