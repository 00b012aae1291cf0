//! Soundlake's user-defined functions for Spark, written in Rust over Arrow.
//!
//! The crate builds two things:
//! - the Rust functions themselves, plain `ArrayData -> ArrayData` code that `cargo test` covers;
//! - the CPython extension module `soundlake_udfs._native` (PyO3, abi3), which exchanges Arrow
//!   arrays with pyarrow through the Arrow C data interface: no value is copied on the way in
//!   or out, so a UDF pays only for its own work.
//!
//! The Python package `soundlake_udfs` (in `python/`) wraps the module and registers the UDFs
//! in a Spark session.

use arrow::array::ArrayData;
use arrow_pyarrow::PyArrowType;
use pyo3::prelude::*;

/// The version of this crate, which is also the version of the Python package.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Returns its input unchanged: the same buffers, no copy.
///
/// It is the floor that every UDF is measured against: the cost of moving a batch from Spark's
/// JVM to Python, into Rust and back, with no work done.
pub fn identity(data: ArrayData) -> ArrayData {
    data
}

/// The version of the native module, to check that the Python package and the Rust build match.
#[pyfunction]
fn native_version() -> &'static str {
    VERSION
}

/// Returns the given pyarrow array unchanged, without copying its buffers.
///
/// The array arrives through the Arrow C data interface (pyarrow's `__arrow_c_array__`), is
/// validated, and is handed back the same way; the result shares the input's memory.
#[pyfunction]
fn arrow_identity(array: PyArrowType<ArrayData>) -> PyArrowType<ArrayData> {
    PyArrowType(identity(array.0))
}

/// The extension module `soundlake_udfs._native`.
#[pymodule]
#[pyo3(name = "_native")]
fn native_module(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", VERSION)?;
    module.add_function(wrap_pyfunction!(native_version, module)?)?;
    module.add_function(wrap_pyfunction!(arrow_identity, module)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, Int64Array, StringArray};

    #[test]
    fn identity_keeps_the_buffers() {
        let strings = StringArray::from(vec![Some("a"), None, Some("ccc")]);
        let data = strings.to_data();
        let values_ptr = data.buffers()[1].as_ptr();

        let out = identity(data.clone());

        assert_eq!(out, data);
        assert_eq!(
            out.buffers()[1].as_ptr(),
            values_ptr,
            "identity must not copy"
        );
        assert_eq!(out.null_count(), 1);
    }

    #[test]
    fn identity_keeps_a_slice() {
        let numbers = Int64Array::from(vec![1, 2, 3, 4]).slice(1, 2);
        let out = identity(numbers.to_data());
        assert_eq!(Int64Array::from(out), Int64Array::from(vec![2, 3]));
    }

    #[test]
    fn version_is_the_crate_version() {
        assert_eq!(native_version(), env!("CARGO_PKG_VERSION"));
    }
}
