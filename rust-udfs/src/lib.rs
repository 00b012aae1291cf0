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

pub mod agent_cache;
pub mod event_problems;
pub mod h3_cell;
pub mod normalize_name;
pub mod parse_user_agent;
pub mod sessionize;

use arrow::array::{make_array, ArrayData, ArrayRef};
use arrow::error::ArrowError;
use arrow_pyarrow::PyArrowType;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// An array handed back to pyarrow, or the kernel's error as a Python `ValueError`.
fn to_python(result: Result<ArrayRef, ArrowError>) -> PyResult<PyArrowType<ArrayData>> {
    result
        .map(|array| PyArrowType(array.to_data()))
        .map_err(|err| PyValueError::new_err(err.to_string()))
}

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

/// `normalize_name` over a pyarrow string array (see `normalize_name.rs`).
#[pyfunction]
#[pyo3(name = "normalize_name")]
fn py_normalize_name(texts: PyArrowType<ArrayData>) -> PyResult<PyArrowType<ArrayData>> {
    to_python(normalize_name::normalize_name(&make_array(texts.0)))
}

/// `h3_cell` over pyarrow arrays of latitudes, longitudes and resolutions (see `h3_cell.rs`).
#[pyfunction]
#[pyo3(name = "h3_cell")]
fn py_h3_cell(
    lat: PyArrowType<ArrayData>,
    lon: PyArrowType<ArrayData>,
    resolution: PyArrowType<ArrayData>,
) -> PyResult<PyArrowType<ArrayData>> {
    let (lat, lon, resolution) = (
        make_array(lat.0),
        make_array(lon.0),
        make_array(resolution.0),
    );
    to_python(h3_cell::h3_cell(&lat, &lon, &resolution))
}

/// `event_problems` over pyarrow arrays (see `event_problems.rs`).
#[pyfunction]
#[pyo3(name = "event_problems")]
#[allow(clippy::too_many_arguments)] // one argument per column, as in SQL
fn py_event_problems(
    ts: PyArrowType<ArrayData>,
    user_id: PyArrowType<ArrayData>,
    auth: PyArrowType<ArrayData>,
    level: PyArrowType<ArrayData>,
    lat: PyArrowType<ArrayData>,
    lon: PyArrowType<ArrayData>,
    zip: PyArrowType<ArrayData>,
    state: PyArrowType<ArrayData>,
) -> PyResult<PyArrowType<ArrayData>> {
    let arrays = [ts, user_id, auth, level, lat, lon, zip, state].map(|a| make_array(a.0));
    let [ts, user_id, auth, level, lat, lon, zip, state] = &arrays;
    let columns = event_problems::EventColumns {
        ts,
        user_id,
        auth,
        level,
        lat,
        lon,
        zip,
        state,
    };
    to_python(event_problems::event_problems(&columns))
}

/// The codes of the data quality rules of `event_problems`, each with what it means, in order.
#[pyfunction]
fn event_problem_rules() -> Vec<(&'static str, &'static str)> {
    event_problems::RULES.to_vec()
}

/// `parse_user_agent` over a pyarrow string array (see `parse_user_agent.rs`).
#[pyfunction]
#[pyo3(name = "parse_user_agent")]
fn py_parse_user_agent(agents: PyArrowType<ArrayData>) -> PyResult<PyArrowType<ArrayData>> {
    to_python(parse_user_agent::parse_user_agent(&make_array(agents.0)))
}

/// `sessionize` over a pyarrow array of sorted event times (see `sessionize.rs`).
#[pyfunction]
#[pyo3(name = "sessionize")]
fn py_sessionize(ts: PyArrowType<ArrayData>, gap_ms: i64) -> PyResult<PyArrowType<ArrayData>> {
    to_python(sessionize::sessionize(&make_array(ts.0), gap_ms))
}

/// The extension module `soundlake_udfs._native`.
#[pymodule]
#[pyo3(name = "_native")]
fn native_module(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", VERSION)?;
    module.add_function(wrap_pyfunction!(native_version, module)?)?;
    module.add_function(wrap_pyfunction!(arrow_identity, module)?)?;
    module.add_function(wrap_pyfunction!(py_normalize_name, module)?)?;
    module.add_function(wrap_pyfunction!(py_h3_cell, module)?)?;
    module.add_function(wrap_pyfunction!(py_event_problems, module)?)?;
    module.add_function(wrap_pyfunction!(event_problem_rules, module)?)?;
    module.add_function(wrap_pyfunction!(py_parse_user_agent, module)?)?;
    module.add_function(wrap_pyfunction!(py_sessionize, module)?)?;
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
