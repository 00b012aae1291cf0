//! `event_problems(ts, userId, auth, level, lat, lon, zip, state) -> array<string>`: the data
//! quality rules of the silver layer, in one place.
//!
//! Each row gets the codes of the rules it breaks, in the order of [`RULES`]; a clean row gets
//! an empty list (never null). The staging models count rows by code and quarantine the rows
//! whose list is not empty.

use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, StringArray};
use arrow_cast::cast;
use arrow_schema::ArrowError;
use arrow_schema::{DataType, TimeUnit};

/// The earliest valid event time: 2000-01-01T00:00:00Z, in epoch milliseconds.
pub const TS_MIN_MS: i64 = 946_684_800_000;
/// The end (excluded) of valid event times: 2100-01-01T00:00:00Z, in epoch milliseconds.
pub const TS_END_MS: i64 = 4_102_444_800_000;

/// The `auth` values of signed-in users, whose events must carry a user id.
const AUTH_WITH_USER: [&str; 2] = ["Logged In", "Cancelled"];
/// The `auth` values of anonymous visitors, whose events must not carry a user id.
const AUTH_WITHOUT_USER: [&str; 2] = ["Guest", "Logged Out"];
/// The subscription levels.
const LEVELS: [&str; 2] = ["free", "paid"];
/// The two-letter codes of the 50 US states and the District of Columbia, sorted.
const STATES: [&str; 51] = [
    "AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "HI", "IA", "ID", "IL", "IN",
    "KS", "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MS", "MT", "NC", "ND", "NE", "NH", "NJ",
    "NM", "NV", "NY", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VA", "VT", "WA",
    "WI", "WV", "WY",
];

/// Every rule: its code and what it means.
pub const RULES: [(&str, &str); 17] = [
    ("ts_missing", "the event time is null"),
    (
        "ts_out_of_range",
        "the event time is before 2000-01-01 or from 2100-01-01 on (UTC)",
    ),
    ("auth_missing", "auth is null"),
    (
        "auth_invalid",
        "auth is not one of Logged In, Logged Out, Guest, Cancelled",
    ),
    (
        "user_missing_for_logged_in",
        "auth is Logged In or Cancelled but there is no user id",
    ),
    (
        "guest_has_user",
        "auth is Guest or Logged Out but there is a user id",
    ),
    ("user_id_invalid", "the user id is not a positive integer"),
    ("level_missing", "level is null"),
    ("level_invalid", "level is not free or paid"),
    ("lat_missing", "the latitude is null"),
    (
        "lat_out_of_range",
        "the latitude is not a number in [-90, 90]",
    ),
    ("lon_missing", "the longitude is null"),
    (
        "lon_out_of_range",
        "the longitude is not a number in [-180, 180]",
    ),
    ("zip_missing", "the zip code is null"),
    ("zip_invalid", "the zip code is not 5 ASCII digits"),
    ("state_missing", "the state is null"),
    (
        "state_invalid",
        "the state is not the two-letter code of a US state or DC",
    ),
];

/// The user id of one row, as far as the rules care.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum UserId {
    Missing,
    Valid,
    Invalid,
}

/// The user-id column: integers, or strings (eventsim's JSON wrote "" for guests).
enum UserIds<'a> {
    Integers(&'a Int64Array),
    Strings(&'a StringArray),
}

impl UserIds<'_> {
    fn get(&self, i: usize) -> UserId {
        match self {
            UserIds::Integers(ids) if ids.is_valid(i) => match ids.value(i) > 0 {
                true => UserId::Valid,
                false => UserId::Invalid,
            },
            UserIds::Strings(ids) if ids.is_valid(i) => match ids.value(i).trim() {
                "" => UserId::Missing,
                id if id.parse::<i64>().is_ok_and(|n| n > 0) => UserId::Valid,
                _ => UserId::Invalid,
            },
            _ => UserId::Missing,
        }
    }
}

/// The columns `event_problems` reads, in its argument order.
pub struct EventColumns<'a> {
    pub ts: &'a dyn Array,
    pub user_id: &'a dyn Array,
    pub auth: &'a dyn Array,
    pub level: &'a dyn Array,
    pub lat: &'a dyn Array,
    pub lon: &'a dyn Array,
    pub zip: &'a dyn Array,
    pub state: &'a dyn Array,
}

/// `event_problems` over arrays of one length; the result is a `List<Utf8>` array with no nulls.
///
/// Types: `ts` integer epoch milliseconds or a timestamp; `user_id` integer or string; `auth`,
/// `level`, `zip`, `state` strings; `lat`, `lon` any numeric type. An all-null column may be of
/// the Arrow `Null` type.
pub fn event_problems(columns: &EventColumns<'_>) -> Result<ArrayRef, ArrowError> {
    let len = columns.ts.len();
    let named = [
        ("ts", columns.ts),
        ("userId", columns.user_id),
        ("auth", columns.auth),
        ("level", columns.level),
        ("lat", columns.lat),
        ("lon", columns.lon),
        ("zip", columns.zip),
        ("state", columns.state),
    ];
    if let Some((name, array)) = named.iter().find(|(_, array)| array.len() != len) {
        return Err(invalid(format!(
            "takes arrays of one length: ts has {len} rows, {name} {}",
            array.len()
        )));
    }
    let ts = epoch_millis(columns.ts)?;
    let ts = ts.as_primitive::<Int64Type>();
    let user_ids = user_ids(columns.user_id)?;
    let user_ids = match user_ids.data_type() {
        DataType::Int64 => UserIds::Integers(user_ids.as_primitive::<Int64Type>()),
        _ => UserIds::Strings(user_ids.as_string::<i32>()),
    };
    let auth = strings(columns.auth, "auth")?;
    let level = strings(columns.level, "level")?;
    let zip = strings(columns.zip, "zip")?;
    let state = strings(columns.state, "state")?;
    let lat = floats(columns.lat, "lat")?;
    let lon = floats(columns.lon, "lon")?;
    let (auth, level) = (auth.as_string::<i32>(), level.as_string::<i32>());
    let (zip, state) = (zip.as_string::<i32>(), state.as_string::<i32>());
    let (lat, lon) = (
        lat.as_primitive::<Float64Type>(),
        lon.as_primitive::<Float64Type>(),
    );

    // Most rows are clean: the codes' bytes need little room.
    let mut builder = ListBuilder::with_capacity(StringBuilder::with_capacity(len / 8, len), len);
    for i in 0..len {
        let codes = builder.values();
        match ts.is_valid(i).then(|| ts.value(i)) {
            None => codes.append_value("ts_missing"),
            Some(ms) if !(TS_MIN_MS..TS_END_MS).contains(&ms) => {
                codes.append_value("ts_out_of_range")
            }
            Some(_) => {}
        }
        let user = user_ids.get(i);
        match auth.is_valid(i).then(|| auth.value(i)) {
            None => codes.append_value("auth_missing"),
            Some(a) if AUTH_WITH_USER.contains(&a) => {
                if user == UserId::Missing {
                    codes.append_value("user_missing_for_logged_in");
                }
            }
            Some(a) if AUTH_WITHOUT_USER.contains(&a) => {
                if user != UserId::Missing {
                    codes.append_value("guest_has_user");
                }
            }
            Some(_) => codes.append_value("auth_invalid"),
        }
        if user == UserId::Invalid {
            codes.append_value("user_id_invalid");
        }
        check_text(codes, level, i, "level", |l| LEVELS.contains(&l));
        check_range(codes, lat, i, "lat", 90.0);
        check_range(codes, lon, i, "lon", 180.0);
        check_text(codes, zip, i, "zip", |z| {
            z.len() == 5 && z.bytes().all(|b| b.is_ascii_digit())
        });
        check_text(codes, state, i, "state", |s| {
            STATES.binary_search(&s).is_ok()
        });
        builder.append(true);
    }
    Ok(Arc::new(builder.finish()))
}

/// Appends `<name>_missing` for a null, `<name>_invalid` for a value `valid` refuses.
fn check_text(
    codes: &mut StringBuilder,
    values: &StringArray,
    i: usize,
    name: &str,
    valid: impl Fn(&str) -> bool,
) {
    if values.is_null(i) {
        append_code(codes, name, "_missing");
    } else if !valid(values.value(i)) {
        append_code(codes, name, "_invalid");
    }
}

/// Appends `<name>_missing` for a null, `<name>_out_of_range` outside [-limit, limit] or NaN.
fn check_range(codes: &mut StringBuilder, values: &Float64Array, i: usize, name: &str, limit: f64) {
    if values.is_null(i) {
        append_code(codes, name, "_missing");
    } else if !(-limit..=limit).contains(&values.value(i)) {
        append_code(codes, name, "_out_of_range");
    }
}

fn append_code(codes: &mut StringBuilder, name: &str, suffix: &str) {
    use std::fmt::Write;
    // Writes into the builder's buffer: no String per code.
    let _ = write!(codes, "{name}{suffix}");
    codes.append_value("");
}

fn invalid(message: String) -> ArrowError {
    ArrowError::InvalidArgumentError(format!("event_problems {message}"))
}

/// The event times in epoch milliseconds: integers as they are, timestamps converted.
pub(crate) fn epoch_millis(ts: &dyn Array) -> Result<ArrayRef, ArrowError> {
    match ts.data_type() {
        DataType::Timestamp(_, tz) => {
            let millis = cast(ts, &DataType::Timestamp(TimeUnit::Millisecond, tz.clone()))?;
            cast(&millis, &DataType::Int64)
        }
        t if t.is_integer() || *t == DataType::Null => cast(ts, &DataType::Int64),
        other => Err(invalid(format!(
            "takes ts as epoch milliseconds or a timestamp, got {other}"
        ))),
    }
}

fn user_ids(ids: &dyn Array) -> Result<ArrayRef, ArrowError> {
    match ids.data_type() {
        t if t.is_integer() || *t == DataType::Null => cast(ids, &DataType::Int64),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => cast(ids, &DataType::Utf8),
        other => Err(invalid(format!(
            "takes userId as an integer or a string, got {other}"
        ))),
    }
}

fn strings(values: &dyn Array, name: &str) -> Result<ArrayRef, ArrowError> {
    match values.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
            cast(values, &DataType::Utf8)
        }
        other => Err(invalid(format!("takes {name} as a string, got {other}"))),
    }
}

fn floats(values: &dyn Array, name: &str) -> Result<ArrayRef, ArrowError> {
    match values.data_type() {
        t if t.is_numeric() || *t == DataType::Null => cast(values, &DataType::Float64),
        other => Err(invalid(format!("takes {name} as a number, got {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{new_null_array, ListArray};

    const TS: i64 = 1_700_000_000_000;

    struct Row<'a> {
        ts: Option<i64>,
        user: Option<i64>,
        auth: Option<&'a str>,
        level: Option<&'a str>,
        lat: Option<f64>,
        lon: Option<f64>,
        zip: Option<&'a str>,
        state: Option<&'a str>,
    }

    const CLEAN: Row<'static> = Row {
        ts: Some(TS),
        user: Some(42),
        auth: Some("Logged In"),
        level: Some("paid"),
        lat: Some(40.7),
        lon: Some(-74.0),
        zip: Some("10001"),
        state: Some("NY"),
    };

    fn problems(rows: &[Row<'_>]) -> Vec<Vec<String>> {
        let ts = Int64Array::from_iter(rows.iter().map(|r| r.ts));
        let user = Int64Array::from_iter(rows.iter().map(|r| r.user));
        let auth = StringArray::from_iter(rows.iter().map(|r| r.auth));
        let level = StringArray::from_iter(rows.iter().map(|r| r.level));
        let lat = Float64Array::from_iter(rows.iter().map(|r| r.lat));
        let lon = Float64Array::from_iter(rows.iter().map(|r| r.lon));
        let zip = StringArray::from_iter(rows.iter().map(|r| r.zip));
        let state = StringArray::from_iter(rows.iter().map(|r| r.state));
        let columns = EventColumns {
            ts: &ts,
            user_id: &user,
            auth: &auth,
            level: &level,
            lat: &lat,
            lon: &lon,
            zip: &zip,
            state: &state,
        };
        lists(&event_problems(&columns).unwrap())
    }

    fn lists(out: &ArrayRef) -> Vec<Vec<String>> {
        let out = out.as_any().downcast_ref::<ListArray>().unwrap();
        assert_eq!(out.null_count(), 0);
        out.iter()
            .map(|codes| {
                let codes = codes.unwrap();
                let codes = codes.as_string::<i32>();
                codes.iter().map(|c| c.unwrap().to_owned()).collect()
            })
            .collect()
    }

    #[test]
    fn a_clean_row_has_no_problem() {
        assert_eq!(problems(&[CLEAN]), [Vec::<String>::new()]);
    }

    #[test]
    fn each_rule() {
        let cases: Vec<(Row<'_>, &[&str])> = vec![
            (Row { ts: None, ..CLEAN }, &["ts_missing"]),
            (
                Row {
                    ts: Some(0),
                    ..CLEAN
                },
                &["ts_out_of_range"],
            ),
            (
                Row {
                    ts: Some(TS_END_MS),
                    ..CLEAN
                },
                &["ts_out_of_range"],
            ),
            (
                Row {
                    auth: None,
                    ..CLEAN
                },
                &["auth_missing"],
            ),
            (
                Row {
                    auth: Some("logged in"),
                    ..CLEAN
                },
                &["auth_invalid"],
            ),
            (
                Row {
                    user: None,
                    ..CLEAN
                },
                &["user_missing_for_logged_in"],
            ),
            (
                Row {
                    auth: Some("Guest"),
                    ..CLEAN
                },
                &["guest_has_user"],
            ),
            (
                Row {
                    auth: Some("Logged Out"),
                    user: None,
                    ..CLEAN
                },
                &[],
            ),
            (
                Row {
                    user: Some(0),
                    ..CLEAN
                },
                &["user_id_invalid"],
            ),
            (
                Row {
                    level: None,
                    ..CLEAN
                },
                &["level_missing"],
            ),
            (
                Row {
                    level: Some("gold"),
                    ..CLEAN
                },
                &["level_invalid"],
            ),
            (Row { lat: None, ..CLEAN }, &["lat_missing"]),
            (
                Row {
                    lat: Some(f64::NAN),
                    ..CLEAN
                },
                &["lat_out_of_range"],
            ),
            (
                Row {
                    lon: Some(180.5),
                    ..CLEAN
                },
                &["lon_out_of_range"],
            ),
            (Row { lon: None, ..CLEAN }, &["lon_missing"]),
            (
                Row {
                    zip: Some("1234"),
                    ..CLEAN
                },
                &["zip_invalid"],
            ),
            (
                Row {
                    zip: Some("１２３４５"),
                    ..CLEAN
                },
                &["zip_invalid"],
            ),
            (Row { zip: None, ..CLEAN }, &["zip_missing"]),
            (
                Row {
                    state: Some("ny"),
                    ..CLEAN
                },
                &["state_invalid"],
            ),
            (
                Row {
                    state: None,
                    ..CLEAN
                },
                &["state_missing"],
            ),
        ];
        for (row, expected) in cases {
            let got = problems(&[row]);
            assert_eq!(got[0], expected, "expected {expected:?}");
        }
    }

    #[test]
    fn several_problems_in_rule_order() {
        let row = Row {
            ts: None,
            auth: Some("Guest"),
            zip: Some(""),
            state: Some(""),
            ..CLEAN
        };
        assert_eq!(
            problems(&[row]),
            [vec![
                "ts_missing",
                "guest_has_user",
                "zip_invalid",
                "state_invalid"
            ]]
        );
    }

    #[test]
    fn string_user_ids_timestamps_and_null_columns() {
        use arrow_array::TimestampMicrosecondArray;
        let ts = TimestampMicrosecondArray::from(vec![TS * 1000, 0]).with_timezone("UTC");
        let user = StringArray::from(vec!["", "x"]);
        let auth = StringArray::from(vec!["Guest", "Logged In"]);
        let level = StringArray::from(vec!["free", "free"]);
        let nulls = new_null_array(&DataType::Null, 2);
        let columns = EventColumns {
            ts: &ts,
            user_id: &user,
            auth: &auth,
            level: &level,
            lat: &nulls,
            lon: &nulls,
            zip: &nulls,
            state: &nulls,
        };
        let out = lists(&event_problems(&columns).unwrap());
        let missing = ["lat_missing", "lon_missing", "zip_missing", "state_missing"];
        assert_eq!(out[0], missing);
        let mut second = vec!["ts_out_of_range", "user_id_invalid"];
        second.extend(missing);
        assert_eq!(out[1], second);
    }

    #[test]
    fn rules_are_documented_once_and_states_sorted() {
        let mut codes: Vec<_> = RULES.iter().map(|(code, _)| *code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), RULES.len());
        assert!(STATES.windows(2).all(|w| w[0] < w[1]));
    }
}
