//! The arguments of the native functions as `pyarrow.compute` takes them: arrays (anything with
//! `__arrow_c_array__`), `pyarrow.ChunkedArray`s, `pyarrow.Scalar`s and plain Python values
//! (made scalars by `pyarrow.scalar`; lists, tuples and NumPy arrays made arrays by
//! `pyarrow.array`).
//!
//! Scalars are broadcast to the length of the other arguments, which must all have one. The
//! result has the shape of the arguments: a `ChunkedArray` when one of them is chunked (an
//! elementwise function keeps their chunks when they all have the same, see [`Kernel`]), an
//! `Array` when one of them is an array, and a `Scalar` when all of them are scalars.

use std::sync::Arc;

use arrow_array::{make_array, Array, ArrayRef};
use arrow_data::ArrayData;
use arrow_pyarrow::{FromPyArrow, ToPyArrow};
use arrow_schema::ArrowError;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PyTuple, PyType};

/// How a kernel may be run on chunks of its columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Row by row: chunked arguments with the same chunks are computed chunk by chunk, and the
    /// result keeps those chunks.
    Elementwise,
    /// On the whole column (a row depends on the rows before it): chunks are combined first.
    WholeColumn,
}

/// One argument as given.
enum Given<'py> {
    Array(ArrayRef),
    Chunked {
        chunks: Vec<ArrayRef>,
        value: Bound<'py, PyAny>,
    },
    /// A `pyarrow.Scalar`.
    Scalar(Bound<'py, PyAny>),
}

impl Given<'_> {
    /// The number of values (None: a scalar, broadcast to any length).
    fn len(&self) -> Option<usize> {
        match self {
            Given::Array(array) => Some(array.len()),
            Given::Chunked { chunks, .. } => Some(chunks.iter().map(|c| c.len()).sum()),
            Given::Scalar(_) => None,
        }
    }
}

/// Runs `kernel` of the function `function` on its arguments `args` (each with its name) broadcast
/// to one length, and returns the result in the shape of the arguments (see the module). A
/// kernel's error is a `ValueError`; arguments of different lengths are one too.
pub fn call<'py, const N: usize>(
    function: &str,
    args: [(&str, &Bound<'py, PyAny>); N],
    kind: Kernel,
    kernel: impl Fn(&[ArrayRef; N]) -> Result<ArrayRef, ArrowError>,
) -> PyResult<Bound<'py, PyAny>> {
    let Some((_, first)) = args.first() else {
        return Err(PyTypeError::new_err(format!("{function} takes arguments")));
    };
    let py = first.py();
    let given = args
        .iter()
        .map(|(name, value)| classify(function, name, value))
        .collect::<PyResult<Vec<_>>>()?;
    let mut length: Option<(&str, usize)> = None;
    for ((name, _), arg) in args.iter().zip(&given) {
        match (arg.len(), length) {
            (Some(n), None) => length = Some((name, n)),
            (Some(n), Some((first, m))) if n != m => {
                return Err(PyValueError::new_err(format!(
                    "{function}: the arguments must have one length (or be scalars): {first} has \
                     {m} values, {name} has {n}"
                )))
            }
            _ => {}
        }
    }
    let all_scalars = length.is_none();
    let rows = length.map_or(1, |(_, n)| n);
    let chunked = given.iter().any(|g| matches!(g, Given::Chunked { .. }));
    let layout = shared_chunks(&given, kind).unwrap_or_else(|| vec![rows]);
    let columns = given
        .into_iter()
        .map(|arg| cut(py, arg, rows, &layout))
        .collect::<PyResult<Vec<_>>>()?;
    let mut results = (0..layout.len())
        .map(|chunk| {
            let arrays: [ArrayRef; N] = std::array::from_fn(|a| Arc::clone(&columns[a][chunk]));
            let result = kernel(&arrays).map_err(|err| PyValueError::new_err(err.to_string()))?;
            result.to_data().to_pyarrow(py)
        })
        .collect::<PyResult<Vec<_>>>()?;
    if chunked {
        return pyarrow(py)?.call_method1("chunked_array", (PyList::new(py, results)?,));
    }
    let Some(array) = results.pop() else {
        return Err(PyValueError::new_err(format!("{function}: no result")));
    };
    if all_scalars {
        array.get_item(0)
    } else {
        Ok(array)
    }
}

/// The module `pyarrow`.
fn pyarrow(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    py.import("pyarrow")
}

fn chunked_array_class(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    static TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    TYPE.import(py, "pyarrow", "ChunkedArray")
}

fn scalar_class(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    static TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    TYPE.import(py, "pyarrow", "Scalar")
}

/// An argument as an array, chunks or a scalar, as `pyarrow.compute` reads its arguments.
fn classify<'py>(function: &str, name: &str, value: &Bound<'py, PyAny>) -> PyResult<Given<'py>> {
    let py = value.py();
    // Arrays first: what Spark's arrow_udf passes, batch after batch.
    if value.hasattr(intern!(py, "__arrow_c_array__"))? {
        return Ok(Given::Array(make_array(ArrayData::from_pyarrow_bound(
            value,
        )?)));
    }
    if value.is_instance(chunked_array_class(py)?)? {
        let chunks = value
            .getattr("chunks")?
            .try_iter()?
            .map(|chunk| Ok(make_array(ArrayData::from_pyarrow_bound(&chunk?)?)))
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(Given::Chunked {
            chunks,
            value: value.clone(),
        });
    }
    if value.is_instance(scalar_class(py)?)? {
        return Ok(Given::Scalar(value.clone()));
    }
    if value.cast::<PyList>().is_ok()
        || value.cast::<PyTuple>().is_ok()
        || value.get_type().fully_qualified_name()? == "numpy.ndarray"
    {
        let array = pyarrow(py)?.call_method1("array", (value,))?;
        return Ok(Given::Array(make_array(ArrayData::from_pyarrow_bound(
            &array,
        )?)));
    }
    match pyarrow(py)?.call_method1("scalar", (value,)) {
        Ok(scalar) => Ok(Given::Scalar(scalar)),
        Err(err) => Err(PyTypeError::new_err(format!(
            "{function}: {name} must be a pyarrow Array, ChunkedArray or Scalar, or a Python \
             value pyarrow.scalar takes; got {} ({err})",
            value.get_type().fully_qualified_name()?
        ))),
    }
}

/// The chunk lengths of the chunked arguments when they all have the same and `kind` allows
/// keeping them.
fn shared_chunks(given: &[Given<'_>], kind: Kernel) -> Option<Vec<usize>> {
    if kind != Kernel::Elementwise {
        return None;
    }
    let mut layouts = given.iter().filter_map(|g| match g {
        Given::Chunked { chunks, .. } => Some(chunks.iter().map(|c| c.len()).collect::<Vec<_>>()),
        _ => None,
    });
    let first = layouts.next()?;
    (!first.is_empty() && layouts.all(|l| l == first)).then_some(first)
}

/// An argument of `rows` values cut into chunks of the lengths `layout`.
fn cut(py: Python<'_>, arg: Given<'_>, rows: usize, layout: &[usize]) -> PyResult<Vec<ArrayRef>> {
    let whole = match arg {
        Given::Chunked { chunks, .. }
            if chunks.iter().map(|c| c.len()).eq(layout.iter().copied()) =>
        {
            return Ok(chunks)
        }
        Given::Chunked { value, .. } => make_array(ArrayData::from_pyarrow_bound(
            &value.call_method0("combine_chunks")?,
        )?),
        Given::Array(array) => array,
        Given::Scalar(scalar) => make_array(ArrayData::from_pyarrow_bound(
            &pyarrow(py)?.call_method1("repeat", (scalar, rows))?,
        )?),
    };
    if let [_] = layout {
        return Ok(vec![whole]);
    }
    let mut offset = 0;
    Ok(layout
        .iter()
        .map(|len| {
            let chunk = whole.slice(offset, *len);
            offset += len;
            chunk
        })
        .collect())
}
