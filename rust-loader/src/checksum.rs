//! The check that a staging table holds exactly what was read from the lake: the row count and,
//! per column, the count of non-NULL values and a wrapping sum that both sides can compute —
//! integers, dates and booleans by value, strings and arrays by length. Computed on the Arrow
//! batches while loading, and by one `SELECT` on the staging table.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, Int16Type, Int32Type, Int64Type, Int8Type, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};

use crate::discover::Fnv;
use crate::native::ConstValue;
use crate::schema::{quote, TableSchema};
use crate::types::ChType;

/// What is summed for a column, beside its non-NULL count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SumOf {
    /// Integer, date, date-time (seconds) or boolean value, wrapped into u64.
    Value,
    /// Byte length of strings, element count of arrays.
    Length,
    /// Nothing (floats, decimals, tuples, fixed strings, DateTime64).
    Nothing,
}

fn sum_of(ty: &ChType) -> SumOf {
    match ty.non_null() {
        ChType::Int8
        | ChType::Int16
        | ChType::Int32
        | ChType::Int64
        | ChType::UInt8
        | ChType::UInt16
        | ChType::UInt32
        | ChType::UInt64
        | ChType::Date
        | ChType::DateTime => SumOf::Value,
        ChType::String | ChType::Array(_) => SumOf::Length,
        _ => SumOf::Nothing,
    }
}

/// Row count and per-column (non-NULL count, sum).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    pub rows: u64,
    pub columns: Vec<(u64, u64)>,
}

impl Summary {
    pub fn new(columns: usize) -> Self {
        Self {
            rows: 0,
            columns: vec![(0, 0); columns],
        }
    }

    /// Adds another summary (of more files).
    pub fn merge(&mut self, other: &Summary) {
        self.rows += other.rows;
        for (mine, theirs) in self.columns.iter_mut().zip(&other.columns) {
            mine.0 += theirs.0;
            mine.1 = mine.1.wrapping_add(theirs.1);
        }
    }

    /// A short hex digest, what the load log records.
    pub fn digest(&self) -> String {
        let mut hash = Fnv::default();
        hash.write(&self.rows.to_le_bytes());
        for (count, sum) in &self.columns {
            hash.write(&count.to_le_bytes());
            hash.write(&sum.to_le_bytes());
        }
        format!("{:016x}", hash.finish())
    }

    /// Adds a column read from a file.
    pub fn add_array(&mut self, index: usize, ty: &ChType, array: &ArrayRef) {
        // A column that cannot be NULL in ClickHouse (arrays, tuples) counts every row.
        let non_null = if ty.is_nullable() {
            (array.len() - array.logical_null_count()) as u64
        } else {
            array.len() as u64
        };
        let sum = match sum_of(ty) {
            SumOf::Nothing => 0,
            SumOf::Value => value_sum(array),
            SumOf::Length => length_sum(array),
        };
        let slot = &mut self.columns[index];
        slot.0 += non_null;
        slot.1 = slot.1.wrapping_add(sum);
    }

    /// Adds `rows` copies of a partition value.
    pub fn add_const(&mut self, index: usize, value: &ConstValue, rows: usize) {
        let one = match value {
            ConstValue::Date(days) => u64::from(*days),
            ConstValue::String(text) => text.len() as u64,
        };
        let slot = &mut self.columns[index];
        slot.0 += rows as u64;
        slot.1 = slot.1.wrapping_add(one.wrapping_mul(rows as u64));
    }

    /// Names the first column that differs from `other` (the lake's summary), if any.
    pub fn difference(&self, other: &Summary, schema: &TableSchema) -> Option<String> {
        if self.rows != other.rows {
            return Some(format!(
                "{} rows in ClickHouse, {} read from the lake",
                self.rows, other.rows
            ));
        }
        for ((column, mine), theirs) in schema.columns.iter().zip(&self.columns).zip(&other.columns)
        {
            if mine != theirs {
                return Some(format!(
                    "column {}: (non-NULL count, checksum) is {mine:?} in ClickHouse, {theirs:?} from the lake",
                    column.name
                ));
            }
        }
        None
    }
}

/// The `SELECT` computing a [`Summary`] of `db.table`, as tab-separated values.
pub fn summary_sql(schema: &TableSchema, database: &str, table: &str) -> String {
    let mut parts = vec!["count()".to_owned()];
    for column in &schema.columns {
        let name = quote(&column.name);
        parts.push(format!("count({name})"));
        parts.push(match sum_of(&column.ch_type) {
            SumOf::Value => format!("sum(toUInt64({name}))"),
            SumOf::Length => format!("sum(toUInt64(length({name})))"),
            SumOf::Nothing => "0".to_owned(),
        });
    }
    format!(
        "SELECT {} FROM {}.{} FORMAT TabSeparated",
        parts.join(", "),
        quote(database),
        quote(table)
    )
}

/// Parses the answer of [`summary_sql`] (`\N` — the sum of only NULLs — counts as 0).
pub fn parse_summary(text: &str, columns: usize) -> Option<Summary> {
    let values: Vec<u64> = text
        .trim_end()
        .split('\t')
        .map(|v| if v == "\\N" { Some(0) } else { v.parse().ok() })
        .collect::<Option<_>>()?;
    if values.len() != 1 + 2 * columns {
        return None;
    }
    Some(Summary {
        rows: values[0],
        columns: values[1..].chunks(2).map(|c| (c[0], c[1])).collect(),
    })
}

fn sum_valid<T: Copy>(values: &[T], array: &dyn Array, to_u64: impl Fn(T) -> u64) -> u64 {
    match array.logical_nulls() {
        None => values
            .iter()
            .fold(0u64, |acc, v| acc.wrapping_add(to_u64(*v))),
        Some(nulls) => values
            .iter()
            .zip(nulls.iter())
            .filter(|(_, valid)| *valid)
            .fold(0u64, |acc, (v, _)| acc.wrapping_add(to_u64(*v))),
    }
}

fn value_sum(array: &ArrayRef) -> u64 {
    let a = array.as_ref();
    match array.data_type() {
        DataType::Int8 => sum_valid(a.as_primitive::<Int8Type>().values(), a, |v| {
            v as i64 as u64
        }),
        DataType::Int16 => sum_valid(a.as_primitive::<Int16Type>().values(), a, |v| {
            v as i64 as u64
        }),
        DataType::Int32 => sum_valid(a.as_primitive::<Int32Type>().values(), a, |v| {
            v as i64 as u64
        }),
        DataType::Int64 => sum_valid(a.as_primitive::<Int64Type>().values(), a, |v| v as u64),
        DataType::UInt8 => sum_valid(a.as_primitive::<UInt8Type>().values(), a, u64::from),
        DataType::UInt16 => sum_valid(a.as_primitive::<UInt16Type>().values(), a, u64::from),
        DataType::UInt32 => sum_valid(a.as_primitive::<UInt32Type>().values(), a, u64::from),
        DataType::UInt64 => sum_valid(a.as_primitive::<UInt64Type>().values(), a, |v| v),
        DataType::Boolean => a.as_boolean().true_count() as u64,
        DataType::Date32 => sum_valid(a.as_primitive::<Date32Type>().values(), a, |v| v as u64),
        DataType::Timestamp(unit, _) => {
            let (values, per_second) = match unit {
                TimeUnit::Second => (a.as_primitive::<TimestampSecondType>().values(), 1),
                TimeUnit::Millisecond => {
                    (a.as_primitive::<TimestampMillisecondType>().values(), 1_000)
                }
                TimeUnit::Microsecond => (
                    a.as_primitive::<TimestampMicrosecondType>().values(),
                    1_000_000,
                ),
                TimeUnit::Nanosecond => (
                    a.as_primitive::<TimestampNanosecondType>().values(),
                    1_000_000_000,
                ),
            };
            sum_valid(values, a, |v: i64| v.div_euclid(per_second) as u64)
        }
        _ => 0,
    }
}

fn length_sum(array: &ArrayRef) -> u64 {
    let a = array.as_ref();
    let lengths = |offsets: Vec<usize>| -> u64 {
        let spans: Vec<u64> = offsets.windows(2).map(|w| (w[1] - w[0]) as u64).collect();
        sum_valid(&spans, a, |v| v)
    };
    match array.data_type() {
        DataType::Utf8 => lengths(
            a.as_string::<i32>()
                .value_offsets()
                .iter()
                .map(|o| *o as usize)
                .collect(),
        ),
        DataType::LargeUtf8 => lengths(
            a.as_string::<i64>()
                .value_offsets()
                .iter()
                .map(|o| *o as usize)
                .collect(),
        ),
        DataType::Binary => lengths(
            a.as_binary::<i32>()
                .value_offsets()
                .iter()
                .map(|o| *o as usize)
                .collect(),
        ),
        DataType::LargeBinary => lengths(
            a.as_binary::<i64>()
                .value_offsets()
                .iter()
                .map(|o| *o as usize)
                .collect(),
        ),
        DataType::List(_) => lengths(
            a.as_list::<i32>()
                .value_offsets()
                .iter()
                .map(|o| *o as usize)
                .collect(),
        ),
        DataType::LargeList(_) => lengths(
            a.as_list::<i64>()
                .value_offsets()
                .iter()
                .map(|o| *o as usize)
                .collect(),
        ),
        _ => 0,
    }
}
