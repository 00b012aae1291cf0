//! Reading Avro binary values from a record's body: a byte cursor (zigzag varints, lengths,
//! bytes), one value by its [`Read`] into a borrowed [`Slot`], and skipping a writer field the
//! bronze table does not have by its [`Skip`].

use std::sync::Arc;

use super::error::DecodeError;

/// Deepest nesting of writer types the plan compiler accepts and a skip follows.
pub(super) const MAX_DEPTH: usize = 32;

/// How one writer value becomes a column value.
#[derive(Debug, Clone)]
pub(super) enum Read {
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

/// How one writer value the bronze table does not have is skipped: by its encoding.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Skip {
    Null,
    Boolean,
    /// int, long, enum and their logical types: a zigzag varint.
    Varint,
    /// float, double, fixed and the logical types on a fixed: that many bytes.
    Fixed(usize),
    /// string, bytes and their logical types: length-prefixed bytes.
    Bytes,
    Record(Vec<Skip>),
    Union(Vec<Skip>),
    Array(Box<Skip>),
    Map(Box<Skip>),
    /// A named record, by its index in the plan's table of named records (which may refer to
    /// themselves).
    Named(usize),
}

/// A decoded value, borrowed from the body.
#[derive(Debug, Clone, Copy)]
pub(super) enum Slot<'a> {
    Unset,
    Null,
    Bool(bool),
    Long(i64),
    Double(f64),
    Bytes(&'a [u8]),
}

pub(super) struct Cursor<'a> {
    body: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `body`.
    #[inline(always)]
    pub(super) fn new(body: &'a [u8]) -> Self {
        Self { body, at: 0 }
    }

    /// Bytes not read yet.
    #[inline(always)]
    pub(super) fn remaining(&self) -> usize {
        self.body.len() - self.at
    }

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
    pub(super) fn long(&mut self, field: &str) -> Result<i64, DecodeError> {
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
pub(super) fn read_value<'a>(
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

/// Skips one value of type `ty`; `named` is the plan's table of named records.
#[inline]
pub(super) fn skip(
    cursor: &mut Cursor<'_>,
    ty: &Skip,
    named: &[Skip],
    depth: usize,
) -> Result<(), DecodeError> {
    const FIELD: &str = "(skipped writer field)";
    if depth > MAX_DEPTH {
        return Err(DecodeError::WrongType {
            field: FIELD.into(),
            detail: "nested too deeply".into(),
        });
    }
    match ty {
        Skip::Null => {}
        Skip::Boolean => {
            cursor.byte(FIELD)?;
        }
        Skip::Varint => {
            cursor.long(FIELD)?;
        }
        Skip::Fixed(n) => {
            cursor.take(*n, FIELD)?;
        }
        Skip::Bytes => {
            cursor.bytes(FIELD)?;
        }
        Skip::Record(fields) => {
            for f in fields {
                skip(cursor, f, named, depth + 1)?;
            }
        }
        Skip::Named(index) => {
            let record = named.get(*index).ok_or_else(|| DecodeError::WrongType {
                field: FIELD.into(),
                detail: format!("named type {index} is not in the plan"),
            })?;
            skip(cursor, record, named, depth + 1)?;
        }
        Skip::Union(branches) => {
            let (_, branch) = union_branch(cursor, branches, FIELD)?;
            skip(cursor, branch, named, depth + 1)?;
        }
        Skip::Array(items) | Skip::Map(items) => {
            let is_map = matches!(ty, Skip::Map(_));
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
                    skip(cursor, items, named, depth + 1)?;
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
