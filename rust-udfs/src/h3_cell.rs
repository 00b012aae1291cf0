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
//!
//! Event data repeats its points (eventsim gives every event of a user the coordinates of the
//! user's city), so each thread keeps the last cells it computed in a small direct-mapped
//! table ([`RECENT_CELLS`] slots, keyed by the exact bits of the inputs): a repeated point costs
//! a hash and a comparison instead of the spherical trigonometry of `h3o`. A miss adds only that
//! hash and comparison to the trigonometry, so points that never repeat lose nothing (measured
//! on repeating and unique points: docs/benchmarks.md, section rust-udfs).

use std::cell::RefCell;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Int64Array};
use arrow_buffer::{BooleanBuffer, NullBuffer, ScalarBuffer};
use arrow_cast::cast;
use arrow_schema::ArrowError;
use arrow_schema::DataType;
use h3o::{LatLng, Resolution};

/// The slots of each thread's table of recent cells (a power of two).
pub const RECENT_CELLS: usize = 4096;

/// One slot: the inputs (bits of lat and lon, resolution) and their cell (None: invalid).
#[derive(Clone, Copy)]
struct Slot {
    lat: u64,
    lon: u64,
    resolution: i64,
    cell: Option<i64>,
}

/// A slot that no lookup matches: resolutions outside 0..=15 are never cached.
const EMPTY: Slot = Slot {
    lat: 0,
    lon: 0,
    resolution: -1,
    cell: None,
};

thread_local! {
    static RECENT: RefCell<Box<[Slot]>> = RefCell::new(vec![EMPTY; RECENT_CELLS].into());
}

/// `cell`, through the thread's table of recent cells.
fn cached_cell(recent: &mut [Slot], lat: f64, lon: f64, resolution: i64) -> Option<i64> {
    if !(0..=15).contains(&resolution) {
        return None;
    }
    let (lat_bits, lon_bits) = (lat.to_bits(), lon.to_bits());
    let mixed = (lat_bits ^ lon_bits.rotate_left(29) ^ resolution as u64)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let slot = &mut recent[(mixed >> 52) as usize % RECENT_CELLS];
    if slot.lat == lat_bits && slot.lon == lon_bits && slot.resolution == resolution {
        return slot.cell;
    }
    let value = cell(lat, lon, resolution);
    *slot = Slot {
        lat: lat_bits,
        lon: lon_bits,
        resolution,
        cell: value,
    };
    value
}

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

    // The cells go straight into the values buffer; a row is valid when its three inputs are
    // and its cell exists.
    let inputs_valid = NullBuffer::union(
        NullBuffer::union(lat.nulls(), lon.nulls()).as_ref(),
        resolution.nulls(),
    );
    let (lat, lon, resolution) = (lat.values(), lon.values(), resolution.values());
    let mut values: Vec<i64> = Vec::with_capacity(len);
    let mut valid: Vec<bool> = Vec::with_capacity(len);
    RECENT.with_borrow_mut(|recent| {
        for i in 0..len {
            let value = match &inputs_valid {
                Some(nulls) if nulls.is_null(i) => None,
                _ => cached_cell(recent, lat[i], lon[i], resolution[i]),
            };
            values.push(value.unwrap_or(0));
            valid.push(value.is_some());
        }
    });
    let valid = BooleanBuffer::from(valid);
    let nulls = (valid.count_set_bits() < len).then(|| NullBuffer::new(valid));
    Ok(Arc::new(Int64Array::new(ScalarBuffer::from(values), nulls)))
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
    use arrow_array::{Float32Array, Float64Array, Int32Array, Int64Array};

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
    fn repeated_points_give_the_same_cells() {
        let points: Vec<f64> = (0..3 * RECENT_CELLS)
            .map(|i| (i % 700) as f64 / 10.0)
            .collect();
        let lat = Float64Array::from(points.clone());
        let lon = Float64Array::from(points.iter().map(|p| -p).collect::<Vec<_>>());
        let res = Int64Array::from(vec![9; points.len()]);
        let first = h3_cell(&lat, &lon, &res).unwrap();
        let again = h3_cell(&lat, &lon, &res).unwrap();
        assert_eq!(first.to_data(), again.to_data());
        let first = first.as_primitive::<Int64Type>();
        for (i, p) in points.iter().enumerate() {
            assert_eq!(first.value(i), cell(*p, -p, 9).unwrap());
        }
        // Same point, other resolution: not the cached cell.
        let res = Int64Array::from(vec![5; points.len()]);
        let coarse = h3_cell(&lat, &lon, &res).unwrap();
        assert_eq!(
            coarse.as_primitive::<Int64Type>().value(1),
            cell(0.1, -0.1, 5).unwrap()
        );
    }

    #[test]
    fn length_mismatch_and_strings_are_errors() {
        let one = Int64Array::from(vec![1]);
        let two = Int64Array::from(vec![1, 2]);
        assert!(h3_cell(&one, &two, &one).is_err());
        let text = arrow_array::StringArray::from(vec!["1"]);
        assert!(h3_cell(&text, &one, &one).is_err());
    }
}
