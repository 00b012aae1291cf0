//! The run as the command line asks for it: options resolved against the config (command line
//! first, then the config file, then eventsim's defaults) and checked, into a [`Plan`].

use std::path::PathBuf;

use soundlake_core::schema_registry::SchemaSource;

use crate::cli::{format_time, parse_time, Cli, DEFAULT_OUTPUT_DIR};
use crate::config::SiteConfig;
use crate::error::AppError;
use crate::model::sessions::{MAX_SESSION_MS, MAX_SESSION_USER_ID};
use crate::model::timing::MS_PER_DAY;
use crate::model::users::{Arrivals, PopulationParams};
use crate::model::Model;
use crate::progress::ProgressMode;
use crate::run::RunParams;
use crate::settings::{DEFAULT_FIRST_USER_ID, DEFAULT_RATE, DEFAULT_SEED, DEFAULT_USERS};
use crate::sinks::kafka::KafkaOptions;

/// The most users in a run, initial and new.
pub const MAX_USERS: u64 = 1 << 30;
/// The most users growth may add in batch mode (their arrival times are kept: 8 bytes each).
pub const MAX_NEW_USERS: u64 = 100_000_000;

/// Where the records go.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Dir(PathBuf),
    Stdout,
    /// Avro records into Kafka, with schema ids from `schemas` (`--schema-registry-url`).
    Kafka {
        options: KafkaOptions,
        schemas: String,
    },
}

/// A checked, ready-to-run plan.
#[derive(Debug)]
pub struct Plan {
    pub model: Model,
    pub params: RunParams,
    pub continuous: bool,
    /// Batch output in global time order (one thread) rather than user by user.
    pub time_ordered: bool,
    pub output: Output,
    pub progress: ProgressMode,
    pub warnings: Vec<String>,
}

fn usage<T>(msg: impl Into<String>) -> Result<T, AppError> {
    Err(AppError::Usage(msg.into()))
}

fn time_option(name: &str, value: &str) -> Result<i64, AppError> {
    parse_time(value).ok_or_else(|| {
        AppError::Usage(format!(
            "{name}: cannot read {value:?} as a time; write it like 2015-06-01T00:00:00 (UTC)"
        ))
    })
}

fn rate_option(name: &str, value: Option<f64>) -> Result<f64, AppError> {
    match value {
        Some(r) if !r.is_finite() || r < 0.0 => {
            usage(format!("{name}: must be a number ≥ 0, found {r}"))
        }
        Some(r) => Ok(r),
        None => Ok(DEFAULT_RATE),
    }
}

/// Resolves the command line against the config file. `now_ms` anchors `--from`/`--to`.
pub fn plan(cli: &Cli, now_ms: i64) -> Result<Plan, AppError> {
    let loaded = SiteConfig::load(&cli.config)?;
    let cfg = loaded.config;
    let mut warnings = loaded.warnings;
    let file = cli.config.display().to_string();
    let model = Model::new(&cfg, &mut warnings).map_err(|error| AppError::Config {
        file: file.clone(),
        error,
    })?;

    let today = now_ms.div_euclid(1000) * 1000;
    for (name, days) in [("--from", cli.from), ("--to", cli.to)] {
        if days.unsigned_abs() > 1_000_000 {
            return usage(format!("{name}: {days} days is out of range"));
        }
    }
    let (start_name, start) = match (&cli.run.start, &cfg.run.start) {
        (Some(s), _) => ("--start-time".to_string(), time_option("--start-time", s)?),
        (None, Some(s)) => {
            let name = format!("{file}: start-date");
            let t = time_option(&name, s)?;
            (name, t)
        }
        (None, None) => ("--from".to_string(), today - cli.from * MS_PER_DAY),
    };
    let (end_name, end) = match (&cli.run.end, &cfg.run.end) {
        (Some(s), _) => (
            "--end-time".to_string(),
            Some(time_option("--end-time", s)?),
        ),
        (None, Some(s)) => {
            let name = format!("{file}: end-date");
            let t = time_option(&name, s)?;
            (name, Some(t))
        }
        (None, None) if cli.continuous => ("--end-time".to_string(), None),
        (None, None) => ("--to".to_string(), Some(today - cli.to * MS_PER_DAY)),
    };
    // Session ids carry the epoch second of a session's first event in 32 bits.
    if !(0..=MAX_SESSION_MS).contains(&start) {
        return usage(format!(
            "{start_name}: the start {} is outside 1970-01-01T00:00:00 .. {}, the times a session id can carry (epoch seconds in 32 bits); start within them",
            format_time(start),
            format_time(MAX_SESSION_MS)
        ));
    }
    if let Some(end) = end.filter(|&end| end > MAX_SESSION_MS + 1) {
        return usage(format!(
            "{end_name}: the end {} is after {}, the last time a session id can carry (epoch seconds in 32 bits); end at or before it",
            format_time(end),
            format_time(MAX_SESSION_MS + 1)
        ));
    }
    if let Some(end) = end {
        if start >= end {
            return usage(format!(
                "the start time {} is not before the end time {}; check --start-time/--end-time or --from/--to",
                format_time(start),
                format_time(end)
            ));
        }
    }
    // The command line's settings over the file's; where a message must say which gave a
    // value (the span, the first user id), both are looked at.
    let given = cli.run.clone().or(cfg.run.clone());
    let growth_rate = rate_option("--growth-rate", given.growth_rate)?;
    let attrition_rate = rate_option("--attrition-rate", given.attrition_rate)?;
    let initial_users = given.n_users.unwrap_or(DEFAULT_USERS);
    if initial_users > MAX_USERS {
        return usage(format!(
            "--nusers: {initial_users} is more than the {MAX_USERS} users a run can have"
        ));
    }
    let first_user_id = given.first_user_id.unwrap_or(DEFAULT_FIRST_USER_ID);
    let userid_name = match (cli.run.first_user_id, cfg.run.first_user_id) {
        (None, Some(_)) => format!("{file}: first-user-id"),
        _ => "--userid".to_string(),
    };
    // Session ids carry the user id in their high 31 bits.
    if !(1..=MAX_SESSION_USER_ID).contains(&first_user_id) {
        return usage(format!(
            "{userid_name}: {first_user_id} is out of range: user ids run from 1 to {MAX_SESSION_USER_ID}, the largest a session id can carry (31 bits); choose a first user id within them"
        ));
    }
    // Users left in the id space after the first user id: at most 2^31 - 1, exact in u64.
    let id_room = (MAX_SESSION_USER_ID - first_user_id + 1) as u64;
    if initial_users > id_room {
        return usage(format!(
            "--nusers {initial_users} from {userid_name} {first_user_id}: the last user id would be {}, above {MAX_SESSION_USER_ID}, the largest a session id can carry (31 bits); lower the first user id to at most {} or generate fewer users",
            first_user_id as u64 + initial_users - 1,
            (MAX_SESSION_USER_ID as u64 + 1).saturating_sub(initial_users).max(1)
        ));
    }
    model
        .site
        .check_starts(initial_users > 0, growth_rate > 0.0)
        .map_err(|error| AppError::Config {
            file: file.clone(),
            error,
        })?;
    let threads = match cli.threads {
        Some(0) => return usage("--threads: must be at least 1"),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let seed = given.seed.unwrap_or(DEFAULT_SEED);
    let population = PopulationParams {
        seed: seed as u64,
        initial_users,
        first_user_id,
        growth_rate,
        attrition_rate,
        start,
    };
    if let Some(end) = end.filter(|_| growth_rate > 0.0) {
        let size_limit = MAX_NEW_USERS.min(MAX_USERS - initial_users);
        let id_limit = id_room - initial_users;
        let limit = size_limit.min(id_limit);
        if Arrivals::new(&population).count_until(end, limit).is_none() {
            let why = if id_limit < size_limit {
                format!(
                    ", past user id {MAX_SESSION_USER_ID}, the largest a session id can carry (31 bits); lower it, shorten the span or lower {userid_name} ({first_user_id})"
                )
            } else {
                "; lower it or shorten the span".to_string()
            };
            return usage(format!(
                "--growth-rate {growth_rate} would add more than {limit} users between {} and {}{why}",
                format_time(start),
                format_time(end)
            ));
        }
    }
    let output = if let Some(brokers) = &cli.kafka_brokers {
        kafka_output(cli, brokers)?
    } else if cli.stdout {
        Output::Stdout
    } else {
        Output::Dir(
            cli.output_dir
                .clone()
                .or_else(|| cli.output_dir_arg.clone())
                .unwrap_or_else(|| PathBuf::from(DEFAULT_OUTPUT_DIR)),
        )
    };
    Ok(Plan {
        model,
        params: RunParams {
            population,
            start,
            end,
            tag: given.tag,
            threads,
        },
        continuous: cli.continuous,
        time_ordered: cli.time_ordered,
        output,
        progress: cli.progress,
        warnings,
    })
}

fn kafka_output(cli: &Cli, brokers: &str) -> Result<Output, AppError> {
    for broker in brokers.split(',').map(str::trim) {
        let ok = broker
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !ok {
            return usage(format!(
                "--kafka-brokers: {broker:?} is not HOST:PORT (e.g. 127.0.0.1:9092)"
            ));
        }
    }
    if !(1..=10_000).contains(&cli.partitions) {
        return usage(format!(
            "--partitions: must be between 1 and 10000, found {}",
            cli.partitions
        ));
    }
    let valid_topic = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if !cli.topic_prefix.chars().all(valid_topic) {
        return usage(format!(
            "--topic-prefix: {:?} may hold only ASCII letters, digits, '.', '_' and '-' (Kafka topic names)",
            cli.topic_prefix
        ));
    }
    let mut producer_config = Vec::new();
    for kv in &cli.producer_config {
        match kv.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                producer_config.push((k.trim().to_string(), v.trim().to_string()))
            }
            _ => {
                return usage(format!(
                    "--producer-config: {kv:?} is not KEY=VALUE (a librdkafka setting, e.g. linger.ms=20)"
                ))
            }
        }
    }
    // Checks the value now (exit code 2); the registry itself is asked when the run starts.
    SchemaSource::from_option(&cli.schema_registry_url).map_err(AppError::SchemaRegistryUrl)?;
    Ok(Output::Kafka {
        options: KafkaOptions {
            brokers: brokers.to_string(),
            topic_prefix: cli.topic_prefix.clone(),
            partitions: cli.partitions,
            producer_config,
        },
        schemas: cli.schema_registry_url.clone(),
    })
}
