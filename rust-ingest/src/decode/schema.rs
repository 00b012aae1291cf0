//! The writer's Avro schema (from the schema registry or the schema files) and the topic's
//! reader schema (`schema-registry/<topic>.avsc`), parsed and their named types resolved by
//! `apache_avro`, and the writer checked readable as the reader with Avro's schema resolution
//! rules (`apache_avro::schema_compatibility`).

use apache_avro::error::CompatibilityError;
use apache_avro::schema::{NamesRef, RecordSchema, UnionSchema};
use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::Schema;

/// Parses an Avro schema (JSON text); `which` names it in the error ("the writer schema").
pub(super) fn parse(text: &str, which: &str) -> Result<Schema, String> {
    Schema::parse_str(text).map_err(|err| {
        let mut text = format!("{which} is not a valid Avro schema: {err}");
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            text.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        text
    })
}

/// The record at the root of a schema.
pub(super) fn record<'s>(schema: &'s Schema, which: &str) -> Result<&'s RecordSchema, String> {
    match schema {
        Schema::Record(record) => Ok(record),
        _ => Err(format!("{which} is not a record")),
    }
}

/// The definition a reference names (a schema that is not a reference is its own definition).
pub(super) fn definition<'s>(
    schema: &'s Schema,
    names: &NamesRef<'s>,
) -> Result<&'s Schema, String> {
    match schema {
        Schema::Ref { name } => names
            .get(name)
            .copied()
            .ok_or_else(|| format!("unknown type {}", name.fullname(None))),
        other => Ok(other),
    }
}

/// Checks that records written with `writer` can be read as `reader` by Avro's schema
/// resolution. The lander also reads an enum as its symbol into a string column, a promotion
/// Avro's resolution lacks: a writer field the reader reads as a string is checked with its
/// enums taken as strings.
pub(super) fn check_readable(
    writer: &RecordSchema,
    names: &NamesRef<'_>,
    reader: &RecordSchema,
) -> Result<(), String> {
    let mut view = writer.clone();
    for field in &mut view.fields {
        let Some(read_as) = reader.fields.iter().find(|r| r.name == field.name) else {
            continue;
        };
        let as_string = reads_string(&read_as.schema);
        field.schema = checked_form(&field.schema, names, as_string)
            .map_err(|err| format!("field {}: {err}", field.name))?;
    }
    SchemaCompatibility::can_read(&Schema::Record(view), &Schema::Record(reader.clone()))
        .map(|_| ())
        .map_err(|err| describe(&err, writer, reader))
}

/// Whether a reader field holds a string (or a nullable one).
fn reads_string(schema: &Schema) -> bool {
    match schema {
        Schema::String => true,
        Schema::Union(union) => union.variants().iter().any(reads_string),
        _ => false,
    }
}

/// A writer field's type as the compatibility check sees it: references replaced by their
/// definitions (the check does not follow them), and enums by strings when `as_string`.
fn checked_form(schema: &Schema, names: &NamesRef<'_>, as_string: bool) -> Result<Schema, String> {
    Ok(match definition(schema, names)? {
        Schema::Enum(_) if as_string => Schema::String,
        Schema::Union(union) => Schema::Union(
            UnionSchema::new(
                union
                    .variants()
                    .iter()
                    .map(|v| checked_form(v, names, as_string))
                    .collect::<Result<_, _>>()?,
            )
            .map_err(|err| err.to_string())?,
        ),
        other => other.clone(),
    })
}

/// The crate's compatibility error, with the types of the field it is about.
fn describe(err: &CompatibilityError, writer: &RecordSchema, reader: &RecordSchema) -> String {
    match err {
        CompatibilityError::FieldTypeMismatch(field, inner) => {
            let canonical = |record: &RecordSchema| {
                record
                    .fields
                    .iter()
                    .find(|f| &f.name == field)
                    .map_or_else(|| "(none)".to_owned(), |f| f.schema.canonical_form())
            };
            let inner = match inner.as_ref() {
                CompatibilityError::WrongType { .. } => "no resolution rule".to_owned(),
                other => other.to_string(),
            };
            format!(
                "field {field}: the writer's {} cannot be read as the reader's {} ({inner})",
                canonical(writer),
                canonical(reader)
            )
        }
        CompatibilityError::NameMismatch {
            writer_name,
            reader_name,
        } => format!(
            "the writer's record is named {writer_name}, the reader's {reader_name} (Avro's \
             resolution matches records by their name)"
        ),
        CompatibilityError::MissingDefaultValue(field) => {
            format!("required field {field} is missing and has no default")
        }
        other => other.to_string(),
    }
}
