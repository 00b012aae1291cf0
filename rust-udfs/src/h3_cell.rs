//! `h3_cell(lat, lon, resolution) -> bigint`: the H3 cell that contains a point.
//!
//! The cell id is the one the H3 C library (and so the Python `h3` package's
//! `latlng_to_cell`) gives, as a signed 64-bit integer (an H3 index never sets the top bit).
//! It is computed by `h3o`, a pure-Rust port of H3.
//!
//! The result is null when any input is null, when a coordinate is not finite, when the
//! latitude is outside [-90, 90] or the longitude outside [-180, 180] (H3 itself would wrap
//! such points around the globe; for event data they are errors), or when the resolution is
//! not in 0..=15.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Builder};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use arrow::error::ArrowError;
use h3o::{LatLng, Resolution};

/// The cell of one point, or `None` when the point or the resolution is invalid.
pub fn cell(lat: f64, lon: f64, resolution: i64) -> Option<i64> {
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return None; // also rejects NaN
    }
    let resolution = Resolution::try_from(u8::try_from(resolution).ok()?).ok()?;
    let point = LatLng::new(lat, lon).ok()?;
    let index = u64::from(point.to_cell(resolution));
    i64::try_from(index).ok()
}

/// `h3_cell` over three arrays of one length: any numeric type for the coordinates (cast to
/// `Float64`) and for the resolution (cast to `Int64`).
pub fn h3_cell(
    lat: &dyn Array,
    lon: &dyn Array,
    resolution: &dyn Array,
) -> Result<ArrayRef, ArrowError> {
    let len = lat.len();
    if lon.len() != len || resolution.len() != len {
        return Err(ArrowError::InvalidArgumentError(format!(
            "h3_cell takes arrays of one length, got lat {len}, lon {}, resolution {}",
            lon.len(),
            resolution.len()
        )));
    }
    let lat = numeric(lat, &DataType::Float64, "lat")?;
    let lon = numeric(lon, &DataType::Float64, "lon")?;
    let resolution = numeric(resolution, &DataType::Int64, "resolution")?;
    let (lat, lon) = (
        lat.as_primitive::<Float64Type>(),
        lon.as_primitive::<Float64Type>(),
    );
    let resolution = resolution.as_primitive::<Int64Type>();

    let mut builder = Int64Builder::with_capacity(len);
    for i in 0..len {
        let valid = lat.is_valid(i) && lon.is_valid(i) && resolution.is_valid(i);
        let value = valid
            .then(|| cell(lat.value(i), lon.value(i), resolution.value(i)))
            .flatten();
        builder.append_option(value);
    }
    Ok(Arc::new(builder.finish()))
}

/// `array` as `to` (no copy when it already is), or an error naming the argument.
fn numeric(array: &dyn Array, to: &DataType, name: &str) -> Result<ArrayRef, ArrowError> {
    let from = array.data_type();
    if !(from.is_numeric() || *from == DataType::Null) {
        return Err(ArrowError::InvalidArgumentError(format!(
            "h3_cell: {name} must be numeric, got an array of {from}"
        )));
    }
    cast(array, to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float32Array, Float64Array, Int32Array, Int64Array};

    #[test]
    fn a_known_cell() {
        // h3.str_to_int(h3.latlng_to_cell(37.77, -122.4, 7))
        assert_eq!(cell(37.77, -122.4, 7), Some(608692970819944447));
    }

    #[test]
    fn invalid_inputs_give_none() {
        assert_eq!(cell(f64::NAN, 0.0, 7), None);
        assert_eq!(cell(0.0, f64::INFINITY, 7), None);
        assert_eq!(cell(91.0, 0.0, 7), None);
        assert_eq!(cell(0.0, -180.5, 7), None);
        assert_eq!(cell(0.0, 0.0, 16), None);
        assert_eq!(cell(0.0, 0.0, -1), None);
        assert!(cell(-90.0, 180.0, 15).is_some());
    }

    #[test]
    fn arrays_with_nulls_and_casts() {
        let lat = Float32Array::from(vec![Some(37.77), None, Some(0.0), Some(0.0)]);
        let lon = Float64Array::from(vec![Some(-122.4), Some(0.0), Some(0.0), Some(0.0)]);
        let res = Int32Array::from(vec![Some(7), Some(7), None, Some(99)]);
        let out = h3_cell(&lat, &lon, &res).unwrap();
        let out = out.as_primitive::<Int64Type>();
        assert!(out.is_valid(0));
        assert_eq!(out.null_count(), 3);
    }

    #[test]
    fn length_mismatch_and_strings_are_errors() {
        let one = Int64Array::from(vec![1]);
        let two = Int64Array::from(vec![1, 2]);
        assert!(h3_cell(&one, &two, &one).is_err());
        let text = arrow::array::StringArray::from(vec!["1"]);
        assert!(h3_cell(&text, &one, &one).is_err());
    }
}
