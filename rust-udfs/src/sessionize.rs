//! `sessionize`: session numbers from one user's event times.
//!
//! Over event times sorted ascending (nulls last), a new session starts at the first event and
//! at every event that comes more than `gap` after the previous one; sessions are numbered
//! 1, 2, … in time order. A null time gets a null session number. The Python façade sorts each
//! user's events and calls this per group through Spark's `groupBy(...).applyInArrow`.

use std::sync::Arc;

use arrow_array::builder::Int64Builder;
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef};
use arrow_schema::ArrowError;

use crate::event_problems::epoch_millis;

/// Session numbers of sorted event times (integer epoch milliseconds or timestamps), where
/// a gap of more than `gap_ms` milliseconds starts a new session.
pub fn sessionize(ts: &dyn Array, gap_ms: i64) -> Result<ArrayRef, ArrowError> {
    if gap_ms < 0 {
        return Err(ArrowError::InvalidArgumentError(format!(
            "sessionize takes a gap of 0 or more, got {gap_ms} ms"
        )));
    }
    let millis = epoch_millis(ts)
        .map_err(|err| ArrowError::InvalidArgumentError(format!("sessionize: {err}")))?;
    let millis = millis.as_primitive::<Int64Type>();
    let mut out = Int64Builder::with_capacity(millis.len());
    let mut previous: Option<i64> = None;
    let mut session = 0_i64;
    for (i, value) in millis.iter().enumerate() {
        let Some(now) = value else {
            out.append_null();
            continue;
        };
        if i > 0 && millis.is_null(i - 1) {
            return Err(unsorted(format!("row {i} has a time after a null")));
        }
        match previous {
            Some(before) if now < before => {
                return Err(unsorted(format!(
                    "row {i} ({now} ms) comes before the previous row ({before} ms)"
                )))
            }
            Some(before) if now - before <= gap_ms => {}
            _ => session += 1,
        }
        previous = Some(now);
        out.append_value(session);
    }
    Ok(Arc::new(out.finish()))
}

fn unsorted(detail: String) -> ArrowError {
    ArrowError::InvalidArgumentError(format!(
        "sessionize takes times sorted ascending with nulls last: {detail}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, TimestampMicrosecondArray};

    fn sessions(ts: &[Option<i64>], gap_ms: i64) -> Vec<Option<i64>> {
        let out = sessionize(&Int64Array::from(ts.to_vec()), gap_ms).unwrap();
        out.as_primitive::<Int64Type>().iter().collect()
    }

    #[test]
    fn gaps_start_sessions() {
        let ts = [
            Some(0),
            Some(1_000),
            Some(2_000),
            Some(3_802),
            Some(3_900),
            None,
        ];
        assert_eq!(
            sessions(&ts, 1_800),
            [Some(1), Some(1), Some(1), Some(2), Some(2), None]
        );
        // exactly the gap stays in the session
        assert_eq!(sessions(&[Some(0), Some(1_800)], 1_800), [Some(1), Some(1)]);
        assert_eq!(sessions(&[Some(5), Some(5)], 0), [Some(1), Some(1)]);
        assert_eq!(sessions(&[], 10), []);
    }

    #[test]
    fn timestamps_are_converted() {
        let ts =
            TimestampMicrosecondArray::from(vec![0, 1_000_000, 5_000_000]).with_timezone("UTC");
        let out = sessionize(&ts, 2_000).unwrap();
        let out: Vec<_> = out.as_primitive::<Int64Type>().iter().collect();
        assert_eq!(out, [Some(1), Some(1), Some(2)]);
    }

    #[test]
    fn unsorted_input_and_negative_gaps_are_errors() {
        let unsorted = Int64Array::from(vec![Some(2), Some(1)]);
        assert!(sessionize(&unsorted, 10).is_err());
        let nulls_first = Int64Array::from(vec![None, Some(1)]);
        assert!(sessionize(&nulls_first, 10).is_err());
        assert!(sessionize(&Int64Array::from(vec![1]), -1).is_err());
    }
}
