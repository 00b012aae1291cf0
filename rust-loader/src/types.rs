//! The Arrow → ClickHouse type mapping (documented in the crate's README).
//!
//! A gold table's ClickHouse schema is derived from the Arrow schema of its Parquet files (plus
//! the Hive partition columns). Where ClickHouse versions differ, the mapping follows the
//! server's [`Features`]: timestamps become `DateTime('UTC')` (seconds) on 18.16 and
//! `DateTime64(p, 'UTC')` where the server has it.

use std::fmt;

use arrow::datatypes::{DataType, Field, TimeUnit};

/// What the connected server supports, where the mapping or the load path depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// `DateTime64` (ClickHouse ≥ 20.1).
    pub datetime64: bool,
    /// `EXCHANGE TABLES` (ClickHouse ≥ 21.8, in an `Atomic` database).
    pub exchange_tables: bool,
}

impl Features {
    /// What ClickHouse `major.minor` has (without `EXCHANGE TABLES`, which also needs an
    /// `Atomic` database: see [`Features::with_exchange`]).
    pub fn of_version(major: u32, minor: u32) -> Self {
        Self {
            datetime64: (major, minor) >= (20, 1),
            exchange_tables: false,
        }
    }

    /// The same, with `EXCHANGE TABLES` when the version (≥ 21.8) and the database engine
    /// (`Atomic`) allow it.
    pub fn with_exchange(mut self, major: u32, minor: u32, database_engine: &str) -> Self {
        self.exchange_tables = (major, minor) >= (21, 8) && database_engine == "Atomic";
        self
    }

    /// ClickHouse 18.16, the local stack's server.
    pub const LEGACY: Features = Features {
        datetime64: false,
        exchange_tables: false,
    };
}

/// A ClickHouse column type the loader creates and encodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChType {
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float32,
    Float64,
    /// `Decimal(precision, scale)`, stored in 4, 8 or 16 bytes by precision.
    Decimal {
        precision: u8,
        scale: i8,
    },
    String,
    FixedString(usize),
    /// Days since 1970-01-01, `UInt16`.
    Date,
    /// Seconds since the epoch, `UInt32`, shown in UTC.
    DateTime,
    /// Ticks of 10^-precision seconds since the epoch, `Int64`, shown in UTC.
    DateTime64 {
        precision: u8,
    },
    Nullable(Box<ChType>),
    Array(Box<ChType>),
    Tuple(Vec<ChType>),
}

impl ChType {
    /// Whether the type is `Nullable(…)`.
    pub fn is_nullable(&self) -> bool {
        matches!(self, ChType::Nullable(_))
    }

    /// The type without `Nullable`.
    pub fn non_null(&self) -> &ChType {
        match self {
            ChType::Nullable(inner) => inner,
            other => other,
        }
    }

    /// Whether a column of this type makes a sensible sort key part (a non-null scalar that
    /// is not a float).
    pub fn is_key_candidate(&self) -> bool {
        matches!(
            self,
            ChType::Int8
                | ChType::Int16
                | ChType::Int32
                | ChType::Int64
                | ChType::UInt8
                | ChType::UInt16
                | ChType::UInt32
                | ChType::UInt64
                | ChType::String
                | ChType::FixedString(_)
                | ChType::Date
                | ChType::DateTime
                | ChType::DateTime64 { .. }
        )
    }
}

impl fmt::Display for ChType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChType::Int8 => f.write_str("Int8"),
            ChType::Int16 => f.write_str("Int16"),
            ChType::Int32 => f.write_str("Int32"),
            ChType::Int64 => f.write_str("Int64"),
            ChType::UInt8 => f.write_str("UInt8"),
            ChType::UInt16 => f.write_str("UInt16"),
            ChType::UInt32 => f.write_str("UInt32"),
            ChType::UInt64 => f.write_str("UInt64"),
            ChType::Float32 => f.write_str("Float32"),
            ChType::Float64 => f.write_str("Float64"),
            ChType::Decimal { precision, scale } => write!(f, "Decimal({precision}, {scale})"),
            ChType::String => f.write_str("String"),
            ChType::FixedString(n) => write!(f, "FixedString({n})"),
            ChType::Date => f.write_str("Date"),
            ChType::DateTime => f.write_str("DateTime('UTC')"),
            ChType::DateTime64 { precision } => write!(f, "DateTime64({precision}, 'UTC')"),
            ChType::Nullable(inner) => write!(f, "Nullable({inner})"),
            ChType::Array(inner) => write!(f, "Array({inner})"),
            ChType::Tuple(items) => {
                f.write_str("Tuple(")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// An Arrow type that has no ClickHouse column type in the mapping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "column {column:?} has Arrow type {arrow_type} that the loader cannot map to ClickHouse \
     ({reason}); cast it in the gold model (see rust-loader/README.md for the supported types)"
)]
pub struct UnmappableType {
    pub column: String,
    pub arrow_type: String,
    pub reason: String,
}

/// The ClickHouse type of an Arrow field (its nullability included).
pub fn map_field(field: &Field, features: Features) -> Result<ChType, UnmappableType> {
    map_type(
        field.name(),
        field.data_type(),
        field.is_nullable(),
        features,
    )
}

fn map_type(
    column: &str,
    data_type: &DataType,
    nullable: bool,
    features: Features,
) -> Result<ChType, UnmappableType> {
    let unmappable = |reason: &str| UnmappableType {
        column: column.to_owned(),
        arrow_type: data_type.to_string(),
        reason: reason.to_owned(),
    };
    let base = match data_type {
        DataType::Int8 => ChType::Int8,
        DataType::Int16 => ChType::Int16,
        DataType::Int32 => ChType::Int32,
        DataType::Int64 => ChType::Int64,
        DataType::UInt8 => ChType::UInt8,
        DataType::UInt16 => ChType::UInt16,
        DataType::UInt32 => ChType::UInt32,
        DataType::UInt64 => ChType::UInt64,
        DataType::Float32 => ChType::Float32,
        DataType::Float64 => ChType::Float64,
        DataType::Boolean => ChType::UInt8,
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) | DataType::Decimal128(p, s) => {
            if *p > 38 || *s < 0 || (*s as u8) > *p {
                return Err(unmappable("precision above 38 or a negative scale"));
            }
            ChType::Decimal {
                precision: *p,
                scale: *s,
            }
        }
        DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView => ChType::String,
        DataType::FixedSizeBinary(n) => match usize::try_from(*n) {
            Ok(n) if n > 0 => ChType::FixedString(n),
            _ => return Err(unmappable("a fixed size of 0")),
        },
        DataType::Dictionary(_, value) => match value.as_ref() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ChType::String,
            _ => return Err(unmappable("only dictionaries of strings are supported")),
        },
        DataType::Date32 | DataType::Date64 => ChType::Date,
        DataType::Timestamp(unit, _) => {
            if features.datetime64 {
                ChType::DateTime64 {
                    precision: match unit {
                        TimeUnit::Second => 0,
                        TimeUnit::Millisecond => 3,
                        TimeUnit::Microsecond => 6,
                        TimeUnit::Nanosecond => 9,
                    },
                }
            } else {
                ChType::DateTime
            }
        }
        DataType::List(item) | DataType::LargeList(item) => {
            let inner = map_type(column, item.data_type(), item.is_nullable(), features)?;
            if matches!(inner.non_null(), ChType::Array(_) | ChType::Tuple(_))
                && inner.is_nullable()
            {
                return Err(unmappable(
                    "ClickHouse has no nullable arrays or tuples inside arrays",
                ));
            }
            // ClickHouse arrays cannot be NULL: a null list loads as an empty array.
            return Ok(ChType::Array(Box::new(inner)));
        }
        DataType::Struct(fields) => {
            if fields.is_empty() {
                return Err(unmappable("a struct without fields"));
            }
            let items = fields
                .iter()
                .map(|f| map_type(column, f.data_type(), f.is_nullable(), features))
                .collect::<Result<Vec<_>, _>>()?;
            if items.iter().any(|t| {
                t.is_nullable() && matches!(t.non_null(), ChType::Array(_) | ChType::Tuple(_))
            }) {
                return Err(unmappable("ClickHouse has no nullable arrays or tuples"));
            }
            // ClickHouse tuples cannot be NULL: a null struct loads as a tuple of its fields.
            return Ok(ChType::Tuple(items));
        }
        DataType::Null => return Err(unmappable("a column that is always NULL has no type")),
        DataType::Float16 => return Err(unmappable("ClickHouse has no 16-bit float")),
        DataType::Decimal256(..) => return Err(unmappable("precision above 38")),
        DataType::Map(..) => return Err(unmappable("maps are not supported")),
        DataType::Time32(_) | DataType::Time64(_) => {
            return Err(unmappable("ClickHouse has no time-of-day type"))
        }
        DataType::Duration(_) | DataType::Interval(_) => {
            return Err(unmappable(
                "ClickHouse has no duration or interval column type",
            ))
        }
        _ => return Err(unmappable("no ClickHouse equivalent")),
    };
    Ok(if nullable {
        ChType::Nullable(Box::new(base))
    } else {
        base
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn map(data_type: DataType, nullable: bool) -> Result<String, UnmappableType> {
        map_field(&Field::new("c", data_type, nullable), Features::LEGACY).map(|t| t.to_string())
    }

    #[test]
    fn scalars_and_nullables() {
        assert_eq!(map(DataType::Int64, false).unwrap(), "Int64");
        assert_eq!(map(DataType::Utf8, true).unwrap(), "Nullable(String)");
        assert_eq!(map(DataType::Boolean, false).unwrap(), "UInt8");
        assert_eq!(
            map(DataType::Decimal128(20, 4), true).unwrap(),
            "Nullable(Decimal(20, 4))"
        );
        assert_eq!(map(DataType::Date32, false).unwrap(), "Date");
    }

    #[test]
    fn timestamps_follow_the_server() {
        let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        assert_eq!(map(ts.clone(), false).unwrap(), "DateTime('UTC')");
        let modern = Features::of_version(24, 8);
        let field = Field::new("c", ts, true);
        assert_eq!(
            map_field(&field, modern).unwrap().to_string(),
            "Nullable(DateTime64(6, 'UTC'))"
        );
    }

    #[test]
    fn nested_types() {
        let list = DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)));
        assert_eq!(map(list, true).unwrap(), "Array(Nullable(String))");
        let st = DataType::Struct(
            vec![
                Field::new("a", DataType::Int32, false),
                Field::new("b", DataType::Float64, true),
            ]
            .into(),
        );
        assert_eq!(map(st, true).unwrap(), "Tuple(Int32, Nullable(Float64))");
    }

    #[test]
    fn unmappable_types_name_the_column() {
        let err = map_field(
            &Field::new("played_for", DataType::Duration(TimeUnit::Second), true),
            Features::LEGACY,
        )
        .unwrap_err();
        assert_eq!(err.column, "played_for");
        assert!(err.to_string().contains("played_for"), "{err}");
        assert!(err.to_string().contains("Duration"), "{err}");
    }

    #[test]
    fn exchange_needs_version_and_atomic() {
        assert!(
            !Features::of_version(24, 3)
                .with_exchange(24, 3, "Ordinary")
                .exchange_tables
        );
        assert!(
            Features::of_version(24, 3)
                .with_exchange(24, 3, "Atomic")
                .exchange_tables
        );
        assert!(
            !Features::of_version(18, 16)
                .with_exchange(18, 16, "Atomic")
                .exchange_tables
        );
    }
}
