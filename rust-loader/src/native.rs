//! ClickHouse's Native format, encoded straight from Arrow arrays: one block per record batch,
//! column after column, with no row-by-row conversion for fixed-width types.
//!
//! Layout of a block as `INSERT … FORMAT Native` over HTTP reads it: column count and row count
//! (LEB128), then for each column its name, its type name and its data. `Nullable(T)` is a byte
//! map (1 = NULL) followed by `T`'s column; `Array(T)` is the end offsets (UInt64) followed by
//! all the elements' column; `Tuple(…)` is each element's column in turn; strings are
//! length-prefixed; numbers little-endian.

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, GenericByteArray, GenericListArray, OffsetSizeTrait,
    PrimitiveArray,
};
use arrow::compute::cast;
use arrow::datatypes::{
    ArrowNativeType, ArrowPrimitiveType, ByteArrayType, DataType, Date32Type, Decimal128Type,
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};

use crate::types::ChType;

#[cfg(not(target_endian = "little"))]
compile_error!("the Native encoder copies Arrow buffers as they are: little-endian targets only");

/// A value the encoder cannot write: which column, which row, why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column:?}: {reason}")]
pub struct EncodeError {
    pub column: String,
    pub reason: String,
}

/// The value of a Hive partition column for every row of a file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConstValue {
    /// Days since 1970-01-01.
    Date(u16),
    String(String),
}

/// Appends LEB128 `value`.
pub fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Appends a length-prefixed string.
pub fn write_str(out: &mut Vec<u8>, bytes: &[u8]) {
    write_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Writes a block header: column and row counts.
pub fn write_block_header(out: &mut Vec<u8>, columns: usize, rows: usize) {
    write_varint(out, columns as u64);
    write_varint(out, rows as u64);
}

/// Writes one column of a block: name, type, data from `array`.
pub fn write_column(
    out: &mut Vec<u8>,
    name: &str,
    ty: &ChType,
    array: &ArrayRef,
) -> Result<(), EncodeError> {
    write_str(out, name.as_bytes());
    write_str(out, ty.to_string().as_bytes());
    let array = normalize(name, array)?;
    encode(out, name, ty, array.as_ref())
}

/// Writes one column of `rows` copies of a partition value.
pub fn write_const_column(
    out: &mut Vec<u8>,
    name: &str,
    ty: &ChType,
    value: &ConstValue,
    rows: usize,
) {
    write_str(out, name.as_bytes());
    write_str(out, ty.to_string().as_bytes());
    match value {
        ConstValue::Date(days) => {
            let bytes = days.to_le_bytes();
            out.reserve(rows * 2);
            for _ in 0..rows {
                out.extend_from_slice(&bytes);
            }
        }
        ConstValue::String(text) => {
            let mut one = Vec::with_capacity(text.len() + 4);
            write_str(&mut one, text.as_bytes());
            out.reserve(rows * one.len());
            for _ in 0..rows {
                out.extend_from_slice(&one);
            }
        }
    }
}

/// Casts the Arrow types the encoder does not read directly to ones it does.
pub fn normalize(column: &str, array: &ArrayRef) -> Result<ArrayRef, EncodeError> {
    let target = match array.data_type() {
        DataType::Dictionary(_, value) => Some(match value.as_ref() {
            DataType::LargeUtf8 => DataType::LargeUtf8,
            _ => DataType::Utf8,
        }),
        DataType::Utf8View => Some(DataType::Utf8),
        DataType::BinaryView => Some(DataType::Binary),
        DataType::Date64 => Some(DataType::Date32),
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => Some(DataType::Decimal128(*p, *s)),
        _ => None,
    };
    match target {
        None => Ok(array.clone()),
        Some(target) => cast(array, &target).map_err(|e| EncodeError {
            column: column.to_owned(),
            reason: format!("converting {} to {target}: {e}", array.data_type()),
        }),
    }
}

fn mismatch(column: &str, ty: &ChType, array: &dyn Array) -> EncodeError {
    EncodeError {
        column: column.to_owned(),
        reason: format!(
            "Arrow type {} does not match the table's ClickHouse type {ty} (the files of this table disagree on its schema?)",
            array.data_type()
        ),
    }
}

fn encode(
    out: &mut Vec<u8>,
    column: &str,
    ty: &ChType,
    array: &dyn Array,
) -> Result<(), EncodeError> {
    match ty {
        ChType::Nullable(inner) => {
            match array.logical_nulls() {
                None => out.resize(out.len() + array.len(), 0),
                Some(nulls) => out.extend(nulls.iter().map(|valid| u8::from(!valid))),
            }
            encode(out, column, inner, array)
        }
        ChType::Int8 => copy_values::<Int8Type>(out, column, ty, array),
        ChType::Int16 => copy_values::<Int16Type>(out, column, ty, array),
        ChType::Int32 => copy_values::<Int32Type>(out, column, ty, array),
        ChType::Int64 => copy_values::<Int64Type>(out, column, ty, array),
        ChType::UInt8 => match array.data_type() {
            DataType::Boolean => {
                let bools: &BooleanArray = array.as_boolean();
                out.extend(bools.values().iter().map(u8::from));
                Ok(())
            }
            _ => copy_values::<UInt8Type>(out, column, ty, array),
        },
        ChType::UInt16 => copy_values::<UInt16Type>(out, column, ty, array),
        ChType::UInt32 => copy_values::<UInt32Type>(out, column, ty, array),
        ChType::UInt64 => copy_values::<UInt64Type>(out, column, ty, array),
        ChType::Float32 => copy_values::<Float32Type>(out, column, ty, array),
        ChType::Float64 => copy_values::<Float64Type>(out, column, ty, array),
        ChType::Decimal { precision, .. } => {
            let values = array
                .as_primitive_opt::<Decimal128Type>()
                .ok_or_else(|| mismatch(column, ty, array))?
                .values();
            match precision {
                0..=9 => values
                    .iter()
                    .for_each(|v| out.extend_from_slice(&(*v as i32).to_le_bytes())),
                10..=18 => values
                    .iter()
                    .for_each(|v| out.extend_from_slice(&(*v as i64).to_le_bytes())),
                _ => out.extend_from_slice(values.inner().as_slice()),
            }
            Ok(())
        }
        ChType::String => match array.data_type() {
            DataType::Utf8 => {
                write_bytes(out, array.as_string::<i32>());
                Ok(())
            }
            DataType::LargeUtf8 => {
                write_bytes(out, array.as_string::<i64>());
                Ok(())
            }
            DataType::Binary => {
                write_bytes(out, array.as_binary::<i32>());
                Ok(())
            }
            DataType::LargeBinary => {
                write_bytes(out, array.as_binary::<i64>());
                Ok(())
            }
            _ => Err(mismatch(column, ty, array)),
        },
        ChType::FixedString(n) => {
            let fixed = array
                .as_fixed_size_binary_opt()
                .filter(|a| usize::try_from(a.value_length()).ok() == Some(*n))
                .ok_or_else(|| mismatch(column, ty, array))?;
            out.reserve(fixed.len() * n);
            for i in 0..fixed.len() {
                out.extend_from_slice(fixed.value(i));
            }
            Ok(())
        }
        ChType::Date => {
            let days = array
                .as_primitive_opt::<Date32Type>()
                .ok_or_else(|| mismatch(column, ty, array))?;
            out.reserve(days.len() * 2);
            for (i, day) in days.values().iter().enumerate() {
                let value = match u16::try_from(*day) {
                    Ok(value) => value,
                    Err(_) if days.is_null(i) => 0,
                    Err(_) => {
                        return Err(EncodeError {
                            column: column.to_owned(),
                            reason: format!(
                                "row {i}: date {day} days from 1970-01-01 is outside ClickHouse's Date range (1970-01-01 to 2149-06-06)"
                            ),
                        })
                    }
                };
                out.extend_from_slice(&value.to_le_bytes());
            }
            Ok(())
        }
        ChType::DateTime => {
            let (values, per_second) =
                timestamp_values(array).ok_or_else(|| mismatch(column, ty, array))?;
            out.reserve(values.len() * 4);
            for (i, ticks) in values.iter().enumerate() {
                let seconds = ticks.div_euclid(per_second);
                let value = match u32::try_from(seconds) {
                    Ok(value) => value,
                    Err(_) if array.is_null(i) => 0,
                    Err(_) => {
                        return Err(EncodeError {
                            column: column.to_owned(),
                            reason: format!(
                                "row {i}: timestamp {seconds} s from the epoch is outside ClickHouse's DateTime range (1970 to 2106)"
                            ),
                        })
                    }
                };
                out.extend_from_slice(&value.to_le_bytes());
            }
            Ok(())
        }
        ChType::DateTime64 { .. } => {
            let (values, _) = timestamp_values(array).ok_or_else(|| mismatch(column, ty, array))?;
            out.extend_from_slice(slice_bytes(values));
            Ok(())
        }
        ChType::Array(inner) => match array.data_type() {
            DataType::List(_) => encode_list(out, column, inner, array.as_list::<i32>()),
            DataType::LargeList(_) => encode_list(out, column, inner, array.as_list::<i64>()),
            _ => Err(mismatch(column, ty, array)),
        },
        ChType::Tuple(items) => {
            let fields = array
                .as_struct_opt()
                .ok_or_else(|| mismatch(column, ty, array))?;
            if fields.num_columns() != items.len() {
                return Err(mismatch(column, ty, array));
            }
            for (child, item) in fields.columns().iter().zip(items) {
                let child = normalize(column, child)?;
                encode(out, column, item, child.as_ref())?;
            }
            Ok(())
        }
    }
}

fn copy_values<T: ArrowPrimitiveType>(
    out: &mut Vec<u8>,
    column: &str,
    ty: &ChType,
    array: &dyn Array,
) -> Result<(), EncodeError> {
    let values: &PrimitiveArray<T> = array
        .as_primitive_opt::<T>()
        .ok_or_else(|| mismatch(column, ty, array))?;
    out.extend_from_slice(values.values().inner().as_slice());
    Ok(())
}

fn slice_bytes(values: &[i64]) -> &[u8] {
    // SAFETY: i64 has no padding and any byte pattern is a valid u8; the length is exact.
    unsafe {
        std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values))
    }
}

/// The raw tick values of a timestamp array and its ticks per second.
fn timestamp_values(array: &dyn Array) -> Option<(&[i64], i64)> {
    match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => {
            Some((array.as_primitive::<TimestampSecondType>().values(), 1))
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => Some((
            array.as_primitive::<TimestampMillisecondType>().values(),
            1_000,
        )),
        DataType::Timestamp(TimeUnit::Microsecond, _) => Some((
            array.as_primitive::<TimestampMicrosecondType>().values(),
            1_000_000,
        )),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => Some((
            array.as_primitive::<TimestampNanosecondType>().values(),
            1_000_000_000,
        )),
        _ => None,
    }
}

fn write_bytes<T: ByteArrayType>(out: &mut Vec<u8>, strings: &GenericByteArray<T>) {
    let offsets = strings.value_offsets();
    let data = strings.value_data();
    let first = offsets.first().map_or(0, |o| o.as_usize());
    let last = offsets.last().map_or(0, |o| o.as_usize());
    out.reserve(strings.len() + (last - first));
    for pair in offsets.windows(2) {
        let (start, end) = (pair[0].as_usize(), pair[1].as_usize());
        write_str(out, &data[start..end]);
    }
}

fn encode_list<O: OffsetSizeTrait>(
    out: &mut Vec<u8>,
    column: &str,
    inner: &ChType,
    list: &GenericListArray<O>,
) -> Result<(), EncodeError> {
    let offsets = list.value_offsets();
    let base = offsets.first().map_or(0, |o| o.as_usize());
    let end = offsets.last().map_or(0, |o| o.as_usize());
    out.reserve(list.len() * 8);
    // A NULL list is written as an empty array. Arrow normally gives it an empty range; when it
    // does not, its elements are dropped from the child column.
    let mut running: u64 = 0;
    let mut keep: Vec<(usize, usize)> = Vec::new();
    let has_null_ranges = list.null_count() > 0
        && offsets
            .windows(2)
            .enumerate()
            .any(|(i, p)| list.is_null(i) && p[1] > p[0]);
    for (i, pair) in offsets.windows(2).enumerate() {
        let (start, stop) = (pair[0].as_usize(), pair[1].as_usize());
        if has_null_ranges && list.is_null(i) {
            out.extend_from_slice(&running.to_le_bytes());
            continue;
        }
        running += (stop - start) as u64;
        out.extend_from_slice(&running.to_le_bytes());
        if has_null_ranges && stop > start {
            keep.push((start, stop));
        }
    }
    let values = list.values();
    if has_null_ranges {
        let parts: Vec<ArrayRef> = keep
            .iter()
            .map(|(start, stop)| values.slice(*start, stop - start))
            .collect();
        let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
        let joined = if refs.is_empty() {
            values.slice(0, 0)
        } else {
            arrow::compute::concat(&refs).map_err(|e| EncodeError {
                column: column.to_owned(),
                reason: format!("dropping the elements of NULL lists: {e}"),
            })?
        };
        let joined = normalize(column, &joined)?;
        return encode(out, column, inner, joined.as_ref());
    }
    let children = normalize(column, &values.slice(base, end - base))?;
    encode(out, column, inner, children.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, ListArray, StringArray};
    use arrow::datatypes::Int32Type;
    use std::sync::Arc;

    #[test]
    fn varints() {
        let mut out = Vec::new();
        write_varint(&mut out, 0);
        write_varint(&mut out, 127);
        write_varint(&mut out, 300);
        assert_eq!(out, [0, 127, 0xac, 0x02]);
    }

    #[test]
    fn nullable_int_column() {
        let array: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(-1)]));
        let mut out = Vec::new();
        let ty = ChType::Nullable(Box::new(ChType::Int64));
        encode(&mut out, "x", &ty, array.as_ref()).unwrap();
        assert_eq!(&out[..3], &[0, 1, 0]);
        assert_eq!(&out[3..11], &1i64.to_le_bytes());
        assert_eq!(&out[19..27], &(-1i64).to_le_bytes());
    }

    #[test]
    fn sliced_strings_and_lists() {
        let strings: ArrayRef = Arc::new(StringArray::from(vec!["a", "bc", "def"]).slice(1, 2));
        let mut out = Vec::new();
        encode(&mut out, "s", &ChType::String, strings.as_ref()).unwrap();
        assert_eq!(out, b"\x02bc\x03def");

        let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1)]),
            None,
            Some(vec![Some(2), Some(3)]),
        ]);
        let list: ArrayRef = Arc::new(list);
        let mut out = Vec::new();
        encode(
            &mut out,
            "l",
            &ChType::Array(Box::new(ChType::Int32)),
            list.as_ref(),
        )
        .unwrap();
        let offsets: Vec<u64> = out[..24]
            .chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(offsets, [1, 1, 3]);
        assert_eq!(out.len(), 24 + 12);
    }

    #[test]
    fn type_mismatch_is_an_error() {
        let array: ArrayRef = Arc::new(Int64Array::from(vec![1]));
        let err = encode(&mut Vec::new(), "x", &ChType::String, array.as_ref()).unwrap_err();
        assert!(err.to_string().contains("\"x\""), "{err}");
    }
}
