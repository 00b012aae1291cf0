//! The check that a staging table holds exactly what was read from the lake: the row count and,
//! per column, the count of non-NULL values and a wrapping sum that both sides can compute —
//! integers, dates and booleans by value, strings and arrays by length. Computed on the Arrow
//! batches while loading, and by one `SELECT` on the staging table.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{
    ArrowNativeType, DataType, Date32Type, Int16Type, Int32Type, Int64Type, Int8Type, TimeUnit,
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
    match array.data_type() {
        DataType::Utf8 => span_sum(a, a.as_string::<i32>().value_offsets()),
        DataType::LargeUtf8 => span_sum(a, a.as_string::<i64>().value_offsets()),
        DataType::Binary => span_sum(a, a.as_binary::<i32>().value_offsets()),
        DataType::LargeBinary => span_sum(a, a.as_binary::<i64>().value_offsets()),
        DataType::List(_) => span_sum(a, a.as_list::<i32>().value_offsets()),
        DataType::LargeList(_) => span_sum(a, a.as_list::<i64>().value_offsets()),
        _ => 0,
    }
}

/// The total length of the valid slots of an offsets buffer.
fn span_sum<O: ArrowNativeType>(array: &dyn Array, offsets: &[O]) -> u64 {
    let (Some(first), Some(last)) = (offsets.first(), offsets.last()) else {
        return 0;
    };
    match array.logical_nulls() {
        None => (last.as_usize() - first.as_usize()) as u64,
        Some(nulls) => offsets
            .windows(2)
            .zip(nulls.iter())
            .filter(|(_, valid)| *valid)
            .map(|(pair, _)| (pair[1].as_usize() - pair[0].as_usize()) as u64)
            .sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, Source};
    use arrow::array::{Int32Array, ListArray, StringArray};
    use std::sync::Arc;

    fn schema() -> TableSchema {
        let column = |name: &str, ch_type| Column {
            name: name.into(),
            ch_type,
            source: Source::File,
        };
        TableSchema {
            table: "t".into(),
            columns: vec![
                column("n", ChType::Nullable(Box::new(ChType::Int32))),
                column("s", ChType::Nullable(Box::new(ChType::String))),
                column("l", ChType::Array(Box::new(ChType::Int32))),
            ],
            month_column: None,
            order_by: Vec::new(),
        }
    }

    #[test]
    fn arrow_side_matches_what_clickhouse_computes() {
        let schema = schema();
        let mut summary = Summary::new(3);
        let n: ArrayRef = Arc::new(Int32Array::from(vec![Some(-1), None, Some(3)]));
        let s: ArrayRef = Arc::new(StringArray::from(vec![Some("ab"), Some("é"), None]));
        let l: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1)]),
            None,
            Some(vec![Some(2), Some(3)]),
        ]));
        summary.add_array(0, &schema.columns[0].ch_type, &n);
        summary.add_array(1, &schema.columns[1].ch_type, &s);
        summary.add_array(2, &schema.columns[2].ch_type, &l);
        summary.rows = 3;
        // count(n) = 2, sum(toUInt64(n)) = 2 (wrapping); count(s) = 2, 4 bytes; 3 arrays, 3 items.
        assert_eq!(summary.columns, [(2, 2), (2, 4), (3, 3)]);
        let from_clickhouse = parse_summary("3\t2\t2\t2\t4\t3\t3\n", 3).unwrap();
        assert_eq!(from_clickhouse, summary);
        assert_eq!(summary.difference(&from_clickhouse, &schema), None);
        let off = parse_summary("3\t2\t2\t2\t5\t3\t3\n", 3).unwrap();
        let diff = off.difference(&summary, &schema).unwrap();
        assert!(diff.starts_with("column s:"), "{diff}");
        assert_eq!(
            parse_summary("0\t0\t\\N\t0\t\\N\t0\t\\N", 3).unwrap().rows,
            0
        );
        assert!(parse_summary("1\t2", 3).is_none());
        let sql = summary_sql(&schema, "db", "t");
        assert!(
            sql.contains("sum(toUInt64(`n`))") && sql.contains("sum(toUInt64(length(`l`)))"),
            "{sql}"
        );
    }
}
