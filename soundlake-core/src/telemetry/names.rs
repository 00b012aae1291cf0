//! Metric names, built in one place so that the services cannot drift apart:
//! `soundlake_<service>_<what>_<unit>`, with `_total` after counters, plus the one
//! service-independent `soundlake_build_info`.

use std::fmt;

/// The prefix of every Soundlake metric.
pub const PREFIX: &str = "soundlake";

/// The build info gauge: `soundlake_build_info{service, version} 1`.
pub const BUILD_INFO: &str = "soundlake_build_info";

/// The unit a metric is measured in: the last part of its name (base units, as Prometheus
/// asks: seconds, not milliseconds; bytes, not megabytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unit {
    Seconds,
    Bytes,
    Events,
    Records,
    Messages,
    Files,
    Rows,
    Batches,
    Commits,
    Requests,
    /// Kafka partitions (e.g. how many a consumer is assigned).
    Partitions,
    /// A share between 0 and 1.
    Ratio,
    EventsPerSecond,
    RecordsPerSecond,
    BytesPerSecond,
}

impl Unit {
    /// The name suffix, e.g. `seconds`.
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Seconds => "seconds",
            Unit::Bytes => "bytes",
            Unit::Events => "events",
            Unit::Records => "records",
            Unit::Messages => "messages",
            Unit::Files => "files",
            Unit::Rows => "rows",
            Unit::Batches => "batches",
            Unit::Commits => "commits",
            Unit::Requests => "requests",
            Unit::Partitions => "partitions",
            Unit::Ratio => "ratio",
            Unit::EventsPerSecond => "events_per_second",
            Unit::RecordsPerSecond => "records_per_second",
            Unit::BytesPerSecond => "bytes_per_second",
        }
    }

    /// The UCUM unit OpenTelemetry records with the instrument (the exporter leaves names
    /// alone: the suffix above is already in them).
    pub fn ucum(self) -> &'static str {
        match self {
            Unit::Seconds => "s",
            Unit::Bytes => "By",
            Unit::Ratio => "1",
            Unit::EventsPerSecond => "{event}/s",
            Unit::RecordsPerSecond => "{record}/s",
            Unit::BytesPerSecond => "By/s",
            Unit::Events => "{event}",
            Unit::Records => "{record}",
            Unit::Messages => "{message}",
            Unit::Files => "{file}",
            Unit::Rows => "{row}",
            Unit::Batches => "{batch}",
            Unit::Commits => "{commit}",
            Unit::Requests => "{request}",
            Unit::Partitions => "{partition}",
        }
    }
}

/// What an instrument is, as far as its name goes: counters end in `_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// A name part that is not lowercase snake case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError {
    pub part: &'static str,
    pub value: String,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "metric {} {:?} is not a valid name part: use lowercase snake case \
             (a-z, 0-9 and single '_', starting with a letter, e.g. \"produced\"), \
             without the unit or a `_total` suffix",
            self.part, self.value
        )
    }
}

impl std::error::Error for NameError {}

/// Checks a service name (`eventsim`, `ingest`, `loader`, …).
pub fn check_service(service: &str) -> Result<(), NameError> {
    if is_snake(service) && service != "build" {
        Ok(())
    } else {
        Err(NameError {
            part: "service",
            value: service.to_string(),
        })
    }
}

/// `soundlake_<service>_<what>_<unit>`, and `_total` after it for counters.
pub fn metric_name(service: &str, what: &str, unit: Unit, kind: Kind) -> Result<String, NameError> {
    check_service(service)?;
    let repeats_unit = what == unit.suffix() || what.ends_with(&format!("_{}", unit.suffix()));
    if !is_snake(what) || repeats_unit || what.ends_with("_total") || what == "total" {
        return Err(NameError {
            part: "what",
            value: what.to_string(),
        });
    }
    let total = if kind == Kind::Counter { "_total" } else { "" };
    Ok(format!(
        "{PREFIX}_{service}_{what}_{}{total}",
        unit.suffix()
    ))
}

fn is_snake(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('_')
        && !s.contains("__")
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_scheme() {
        let name = |what, unit, kind| metric_name("eventsim", what, unit, kind).unwrap();
        assert_eq!(
            name("produced", Unit::Events, Kind::Counter),
            "soundlake_eventsim_produced_events_total"
        );
        assert_eq!(
            name("produced", Unit::EventsPerSecond, Kind::Gauge),
            "soundlake_eventsim_produced_events_per_second"
        );
        assert_eq!(
            name("write_duration", Unit::Seconds, Kind::Histogram),
            "soundlake_eventsim_write_duration_seconds"
        );
    }

    #[test]
    fn bad_parts_are_refused() {
        for service in ["", "Eventsim", "event-sim", "2sim", "sim_", "a__b", "build"] {
            let err = metric_name(service, "produced", Unit::Events, Kind::Counter).unwrap_err();
            assert_eq!(err.part, "service", "{service:?}");
        }
        for what in [
            "",
            "Produced",
            "produced_events",
            "events",
            "sent_total",
            "a b",
        ] {
            let err = metric_name("ingest", what, Unit::Events, Kind::Counter).unwrap_err();
            assert_eq!(err.part, "what", "{what:?}");
            assert!(err.to_string().contains("lowercase snake case"));
        }
    }
}
