//! Soundlake's user-defined functions for Spark, written in Rust over Arrow.
//!
//! The crate builds two things:
//! - the Rust functions themselves, plain `ArrayData -> ArrayData` code that `cargo test` covers;
//! - the CPython extension module `soundlake_udfs._native` (PyO3, abi3), which exchanges Arrow
//!   arrays with pyarrow through the Arrow C data interface: no value is copied on the way in
//!   or out, so a UDF pays only for its own work.
//!
//! The Python package `soundlake_udfs` (in `python/`) wraps the module and registers the UDFs
//! in a Spark session. The module's functions take their arguments as `pyarrow.compute` does
//! (arrays, chunked arrays, scalars broadcast to their length: `arguments.rs`).

pub mod agent_cache;
pub mod arguments;
pub mod event_problems;
pub mod h3_cell;
pub mod normalize_name;
pub mod parse_user_agent;
pub mod sessionize;

use arrow_data::ArrayData;
use arrow_pyarrow::PyArrowType;
use pyo3::prelude::*;

use crate::arguments::{call, Kernel};

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

/// `normalize_name` over pyarrow strings (see `normalize_name.rs`).
#[pyfunction]
#[pyo3(name = "normalize_name")]
fn py_normalize_name<'py>(texts: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    call(
        "normalize_name",
        [("texts", texts)],
        Kernel::Elementwise,
        |[texts]| normalize_name::normalize_name(texts),
    )
}

/// `h3_cell` over pyarrow latitudes, longitudes and resolutions (see `h3_cell.rs`).
#[pyfunction]
#[pyo3(name = "h3_cell")]
fn py_h3_cell<'py>(
    lat: &Bound<'py, PyAny>,
    lon: &Bound<'py, PyAny>,
    resolution: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    call(
        "h3_cell",
        [("lat", lat), ("lon", lon), ("resolution", resolution)],
        Kernel::Elementwise,
        |[lat, lon, resolution]| h3_cell::h3_cell(lat, lon, resolution),
    )
}

/// `event_problems` over pyarrow columns (see `event_problems.rs`).
#[pyfunction]
#[pyo3(name = "event_problems")]
#[allow(clippy::too_many_arguments)] // one argument per column, as in SQL
fn py_event_problems<'py>(
    ts: &Bound<'py, PyAny>,
    user_id: &Bound<'py, PyAny>,
    auth: &Bound<'py, PyAny>,
    level: &Bound<'py, PyAny>,
    lat: &Bound<'py, PyAny>,
    lon: &Bound<'py, PyAny>,
    zip: &Bound<'py, PyAny>,
    state: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    call(
        "event_problems",
        [
            ("ts", ts),
            ("user_id", user_id),
            ("auth", auth),
            ("level", level),
            ("lat", lat),
            ("lon", lon),
            ("zip", zip),
            ("state", state),
        ],
        Kernel::Elementwise,
        |[ts, user_id, auth, level, lat, lon, zip, state]| {
            event_problems::event_problems(&event_problems::EventColumns {
                ts,
                user_id,
                auth,
                level,
                lat,
                lon,
                zip,
                state,
            })
        },
    )
}

/// The codes of the data quality rules of `event_problems`, each with what it means, in order.
#[pyfunction]
fn event_problem_rules() -> Vec<(&'static str, &'static str)> {
    event_problems::RULES.to_vec()
}

/// `parse_user_agent` over pyarrow strings (see `parse_user_agent.rs`).
#[pyfunction]
#[pyo3(name = "parse_user_agent")]
fn py_parse_user_agent<'py>(agents: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    call(
        "parse_user_agent",
        [("agents", agents)],
        Kernel::Elementwise,
        |[agents]| parse_user_agent::parse_user_agent(agents),
    )
}

/// `sessionize` over pyarrow sorted event times (see `sessionize.rs`); chunks are combined, a
/// session may span them.
#[pyfunction]
#[pyo3(name = "sessionize")]
fn py_sessionize<'py>(ts: &Bound<'py, PyAny>, gap_ms: i64) -> PyResult<Bound<'py, PyAny>> {
    call("sessionize", [("ts", ts)], Kernel::WholeColumn, |[ts]| {
        sessionize::sessionize(ts, gap_ms)
    })
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
    use arrow_array::{Array, Int64Array, StringArray};

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
