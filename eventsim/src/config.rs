//! eventsim's JSON configuration file: reading and checking it.
//!
//! Every key eventsim's `ConfigFromFile` reads is accepted with eventsim's defaults. Unknown keys
//! are reported as warnings (with their path) and ignored; a value of the wrong type is an error
//! naming the key's path, e.g. `new-session[3].weight: expected a number, found "x"`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde_json::Value;

use crate::settings::RunSettings;

/// eventsim's `Constants` defaults.
pub mod defaults {
    pub const ALPHA: f64 = 60.0;
    pub const BETA: f64 = 3.0 * 86_400.0;
    pub const DAMPING: f64 = 0.0625;
    pub const WEEKEND_DAMPING: f64 = 0.5;
    pub const WEEKEND_DAMPING_OFFSET_MINUTES: i64 = 6;
    pub const WEEKEND_DAMPING_SCALE_MINUTES: i64 = 6;
    pub const SESSION_GAP_SECONDS: i64 = 30 * 60;
    pub const NEW_USER_AUTH: &str = "Guest";
    /// eventsim's constant says "Free", which matches no level of its own example configs; we use
    /// the lower-case level of those configs.
    pub const NEW_USER_LEVEL: &str = "free";
}

/// A configuration error: where (path in the file) and what.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

/// Why a configuration file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read config file {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("config file {file} is not valid JSON: {source}")]
    Json {
        file: String,
        source: serde_json::Error,
    },
    #[error("config file {file}: {error}")]
    Invalid { file: String, error: ConfigError },
}

/// A state of the site: eventsim's (page, auth, status, method, level) tuple.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateKey {
    pub page: String,
    pub auth: String,
    pub status: i32,
    pub method: String,
    pub level: String,
}

impl fmt::Display for StateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{page: {:?}, method: {:?}, status: {}, auth: {:?}, level: {:?}}}",
            self.page, self.method, self.status, self.auth, self.level
        )
    }
}

/// One `transitions` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub source: StateKey,
    pub dest: StateKey,
    pub p: f64,
}

/// The configuration file's content, with eventsim's defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteConfig {
    pub alpha: f64,
    pub beta: f64,
    pub damping: f64,
    pub weekend_damping: f64,
    pub weekend_damping_offset_minutes: i64,
    pub weekend_damping_scale_minutes: i64,
    pub session_gap_seconds: i64,
    pub churned_state: Option<String>,
    pub new_user_auth: String,
    pub new_user_level: String,
    /// The run settings the file gives (the command line's flags win over them).
    pub run: RunSettings,
    /// auth state → whether events in it carry user details.
    pub show_user_details: BTreeMap<String, bool>,
    pub levels: Vec<(String, f64)>,
    pub auths: Vec<(String, f64)>,
    pub new_session: Vec<(StateKey, f64)>,
    pub transitions: Vec<Transition>,
}

/// A loaded configuration plus the warnings (unknown keys and the like) met on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: SiteConfig,
    pub warnings: Vec<String>,
}

impl SiteConfig {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Loaded, LoadError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            file: file.clone(),
            source,
        })?;
        Self::parse(&text).map_err(|e| match e {
            ParseError::Json(source) => LoadError::Json { file, source },
            ParseError::Invalid(error) => LoadError::Invalid { file, error },
        })
    }

    /// Parses and checks a configuration from JSON text.
    pub fn parse(text: &str) -> Result<Loaded, ParseError> {
        let value: Value = serde_json::from_str(text).map_err(ParseError::Json)?;
        let mut reader = Reader::default();
        let config = reader.site(&value).map_err(ParseError::Invalid)?;
        Ok(Loaded {
            config,
            warnings: reader.warnings,
        })
    }
}

/// Why configuration text could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not valid JSON: {0}")]
    Json(serde_json::Error),
    #[error("{0}")]
    Invalid(ConfigError),
}

const TOP_KEYS: &[&str] = &[
    "seed",
    "alpha",
    "beta",
    "damping",
    "weekend-damping",
    "weekend-damping-offset",
    "weekend-damping-scale",
    "session-gap",
    "churned-state",
    "show-user-details",
    "levels",
    "auths",
    "new-session",
    "new-user-auth",
    "new-user-level",
    "upgrades",
    "downgrades",
    "transitions",
    "start-date",
    "end-date",
    "n-users",
    "first-user-id",
    "growth-rate",
    "attrition-rate",
    "tag",
];
const STATE_KEYS: &[&str] = &["page", "auth", "status", "method", "level"];

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "an object".to_string(),
        other => other.to_string(),
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

#[derive(Default)]
struct Reader {
    warnings: Vec<String>,
}

type Obj = serde_json::Map<String, Value>;

impl Reader {
    fn err<T>(path: &str, message: impl Into<String>) -> Result<T, ConfigError> {
        Err(ConfigError {
            path: if path.is_empty() {
                "(top level)".to_string()
            } else {
                path.to_string()
            },
            message: message.into(),
        })
    }

    fn object<'v>(
        &mut self,
        v: &'v Value,
        path: &str,
        known: &[&str],
    ) -> Result<&'v Obj, ConfigError> {
        let Value::Object(map) = v else {
            return Self::err(path, format!("expected an object, found {}", describe(v)));
        };
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                self.warnings
                    .push(format!("{}: unknown key, ignored", child(path, key)));
            }
        }
        Ok(map)
    }

    fn number(v: &Value, path: &str) -> Result<f64, ConfigError> {
        match v.as_f64() {
            Some(x) if x.is_finite() => Ok(x),
            _ => Self::err(path, format!("expected a number, found {}", describe(v))),
        }
    }

    fn integer(v: &Value, path: &str) -> Result<i64, ConfigError> {
        let x = Self::number(v, path)?;
        if x.fract() != 0.0 || x.abs() > 9.0e15 {
            return Self::err(path, format!("expected a whole number, found {x}"));
        }
        Ok(x as i64)
    }

    fn string(v: &Value, path: &str) -> Result<String, ConfigError> {
        match v {
            Value::String(s) => Ok(s.clone()),
            _ => Self::err(path, format!("expected a string, found {}", describe(v))),
        }
    }

    fn boolean(v: &Value, path: &str) -> Result<bool, ConfigError> {
        match v {
            Value::Bool(b) => Ok(*b),
            _ => Self::err(
                path,
                format!("expected true or false, found {}", describe(v)),
            ),
        }
    }

    fn list<'v>(v: &'v Value, path: &str) -> Result<&'v Vec<Value>, ConfigError> {
        match v {
            Value::Array(a) => Ok(a),
            _ => Self::err(path, format!("expected a list, found {}", describe(v))),
        }
    }

    fn opt<'v>(obj: &'v Obj, key: &str) -> Option<&'v Value> {
        obj.get(key).filter(|v| !v.is_null())
    }

    fn opt_number(obj: &Obj, key: &str, path: &str) -> Result<Option<f64>, ConfigError> {
        Self::opt(obj, key)
            .map(|v| Self::number(v, &child(path, key)))
            .transpose()
    }

    fn opt_integer(obj: &Obj, key: &str, path: &str) -> Result<Option<i64>, ConfigError> {
        Self::opt(obj, key)
            .map(|v| Self::integer(v, &child(path, key)))
            .transpose()
    }

    fn opt_string(obj: &Obj, key: &str, path: &str) -> Result<Option<String>, ConfigError> {
        Self::opt(obj, key)
            .map(|v| Self::string(v, &child(path, key)))
            .transpose()
    }

    fn required<'v>(obj: &'v Obj, key: &str, path: &str) -> Result<&'v Value, ConfigError> {
        match Self::opt(obj, key) {
            Some(v) => Ok(v),
            None => Self::err(&child(path, key), "missing (required)"),
        }
    }

    fn non_negative(x: f64, path: &str) -> Result<f64, ConfigError> {
        if x < 0.0 {
            return Self::err(path, format!("must not be negative, found {x}"));
        }
        Ok(x)
    }

    fn positive(x: f64, path: &str) -> Result<f64, ConfigError> {
        if x <= 0.0 {
            return Self::err(path, format!("must be greater than 0, found {x}"));
        }
        Ok(x)
    }

    fn site(&mut self, v: &Value) -> Result<SiteConfig, ConfigError> {
        let top = self.object(v, "", TOP_KEYS)?;
        let num = |key: &str, default: f64| -> Result<f64, ConfigError> {
            Ok(Self::opt_number(top, key, "")?.unwrap_or(default))
        };
        let int = |key: &str, default: i64| -> Result<i64, ConfigError> {
            Ok(Self::opt_integer(top, key, "")?.unwrap_or(default))
        };
        let alpha = Self::positive(num("alpha", defaults::ALPHA)?, "alpha")?;
        let beta = Self::positive(num("beta", defaults::BETA)?, "beta")?;
        let damping = num("damping", defaults::DAMPING)?;
        if !(0.0..0.5).contains(&damping) {
            return Self::err("damping", format!("must be in [0, 0.5), found {damping}"));
        }
        let weekend_damping = num("weekend-damping", defaults::WEEKEND_DAMPING)?;
        if !(0.0..=1.0).contains(&weekend_damping) {
            return Self::err(
                "weekend-damping",
                format!("must be in [0, 1], found {weekend_damping}"),
            );
        }
        let weekend_damping_scale_minutes = int(
            "weekend-damping-scale",
            defaults::WEEKEND_DAMPING_SCALE_MINUTES,
        )?;
        if weekend_damping_scale_minutes <= 0 {
            return Self::err(
                "weekend-damping-scale",
                format!("must be greater than 0, found {weekend_damping_scale_minutes}"),
            );
        }
        let session_gap_seconds = int("session-gap", defaults::SESSION_GAP_SECONDS)?;
        if session_gap_seconds < 0 {
            return Self::err(
                "session-gap",
                format!("must not be negative, found {session_gap_seconds}"),
            );
        }
        let n_users = match Self::opt_integer(top, "n-users", "")? {
            Some(n) if n < 0 => {
                return Self::err("n-users", format!("must not be negative, found {n}"))
            }
            other => other.map(|n| n as u64),
        };
        let growth_rate = Self::opt_number(top, "growth-rate", "")?
            .map(|x| Self::non_negative(x, "growth-rate"))
            .transpose()?;
        let attrition_rate = Self::opt_number(top, "attrition-rate", "")?
            .map(|x| Self::non_negative(x, "attrition-rate"))
            .transpose()?;

        let mut transitions = self.transitions(top, "transitions")?;
        for extra in ["upgrades", "downgrades"] {
            let more = self.transitions(top, extra)?;
            if !more.is_empty() {
                self.warnings.push(format!(
                    "{extra}: read as ordinary transitions ({} entries)",
                    more.len()
                ));
            }
            transitions.extend(more);
        }

        // In the order the keys were always read: the first bad one is reported.
        let seed = Self::opt_integer(top, "seed", "")?;
        let weekend_damping_offset_minutes = int(
            "weekend-damping-offset",
            defaults::WEEKEND_DAMPING_OFFSET_MINUTES,
        )?;
        let churned_state = Self::opt_string(top, "churned-state", "")?;
        let new_user_auth = Self::opt_string(top, "new-user-auth", "")?
            .unwrap_or_else(|| defaults::NEW_USER_AUTH.to_string());
        let new_user_level = Self::opt_string(top, "new-user-level", "")?
            .unwrap_or_else(|| defaults::NEW_USER_LEVEL.to_string());
        let start = Self::opt_string(top, "start-date", "")?;
        let end = Self::opt_string(top, "end-date", "")?;
        let first_user_id = Self::opt_integer(top, "first-user-id", "")?;
        let tag = Self::opt_string(top, "tag", "")?;
        Ok(SiteConfig {
            run: RunSettings {
                n_users,
                start,
                end,
                seed,
                growth_rate,
                attrition_rate,
                first_user_id,
                tag,
            },
            alpha,
            beta,
            damping,
            weekend_damping,
            weekend_damping_offset_minutes,
            weekend_damping_scale_minutes,
            session_gap_seconds,
            churned_state,
            new_user_auth,
            new_user_level,
            show_user_details: self.show_user_details(top)?,
            levels: self.weighted_names(top, "levels", "level")?,
            auths: self.weighted_names(top, "auths", "auth")?,
            new_session: self.new_session(top)?,
            transitions,
        })
    }

    fn state(&mut self, v: &Value, path: &str, extra: &[&str]) -> Result<StateKey, ConfigError> {
        let mut known: Vec<&str> = STATE_KEYS.to_vec();
        known.extend_from_slice(extra);
        let obj = self.object(v, path, &known)?;
        let page = Self::string(Self::required(obj, "page", path)?, &child(path, "page"))?;
        let auth = Self::string(Self::required(obj, "auth", path)?, &child(path, "auth"))?;
        let status = match Self::opt_integer(obj, "status", path)? {
            Some(s) if !(0..=999).contains(&s) => {
                return Self::err(
                    &child(path, "status"),
                    format!("expected an HTTP status, found {s}"),
                )
            }
            Some(s) => s as i32,
            None => 200,
        };
        let method = Self::opt_string(obj, "method", path)?.unwrap_or_default();
        let level = Self::opt_string(obj, "level", path)?.unwrap_or_default();
        Ok(StateKey {
            page,
            auth,
            status,
            method,
            level,
        })
    }

    fn transitions(&mut self, top: &Obj, key: &str) -> Result<Vec<Transition>, ConfigError> {
        let Some(v) = Self::opt(top, key) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (i, item) in Self::list(v, key)?.iter().enumerate() {
            let path = format!("{key}[{i}]");
            let obj = self.object(item, &path, &["source", "dest", "p"])?;
            let source = self.state(
                Self::required(obj, "source", &path)?,
                &child(&path, "source"),
                &[],
            )?;
            let dest = self.state(
                Self::required(obj, "dest", &path)?,
                &child(&path, "dest"),
                &[],
            )?;
            let p_path = child(&path, "p");
            let p = Self::number(Self::required(obj, "p", &path)?, &p_path)?;
            if !(0.0..=1.0).contains(&p) {
                return Self::err(
                    &p_path,
                    format!("must be a probability in [0, 1], found {p}"),
                );
            }
            out.push(Transition { source, dest, p });
        }
        Ok(out)
    }

    fn new_session(&mut self, top: &Obj) -> Result<Vec<(StateKey, f64)>, ConfigError> {
        let Some(v) = Self::opt(top, "new-session") else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (i, item) in Self::list(v, "new-session")?.iter().enumerate() {
            let path = format!("new-session[{i}]");
            let state = self.state(item, &path, &["weight"])?;
            let w_path = child(&path, "weight");
            let weight = match item.get("weight").filter(|w| !w.is_null()) {
                Some(w) => Self::non_negative(Self::number(w, &w_path)?, &w_path)?,
                None => return Self::err(&w_path, "missing (required)"),
            };
            out.push((state, weight));
        }
        Ok(out)
    }

    fn show_user_details(&mut self, top: &Obj) -> Result<BTreeMap<String, bool>, ConfigError> {
        let mut out = BTreeMap::new();
        let Some(v) = Self::opt(top, "show-user-details") else {
            return Ok(out);
        };
        for (i, item) in Self::list(v, "show-user-details")?.iter().enumerate() {
            let path = format!("show-user-details[{i}]");
            let obj = self.object(item, &path, &["auth", "show"])?;
            let auth = Self::string(Self::required(obj, "auth", &path)?, &child(&path, "auth"))?;
            let show = Self::boolean(Self::required(obj, "show", &path)?, &child(&path, "show"))?;
            out.insert(auth, show);
        }
        Ok(out)
    }

    fn weighted_names(
        &mut self,
        top: &Obj,
        key: &str,
        name_key: &str,
    ) -> Result<Vec<(String, f64)>, ConfigError> {
        let Some(v) = Self::opt(top, key) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (i, item) in Self::list(v, key)?.iter().enumerate() {
            let path = format!("{key}[{i}]");
            let obj = self.object(item, &path, &[name_key, "weight"])?;
            let name = Self::string(
                Self::required(obj, name_key, &path)?,
                &child(&path, name_key),
            )?;
            let w_path = child(&path, "weight");
            let weight = Self::non_negative(
                Self::opt_number(obj, "weight", &path)?.unwrap_or(0.0),
                &w_path,
            )?;
            out.push((name, weight));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_to_an_empty_config() {
        let loaded = SiteConfig::parse("{}").expect("empty config loads");
        assert_eq!(loaded.config.alpha, defaults::ALPHA);
        assert_eq!(loaded.config.session_gap_seconds, 1800);
        assert!(loaded.warnings.is_empty());
    }

    #[test]
    fn wrong_type_names_the_path() {
        let text = r#"{"new-session":[{"page":"Home","auth":"Guest","weight":"x"}]}"#;
        let err = SiteConfig::parse(text).expect_err("must fail").to_string();
        assert_eq!(
            err,
            r#"new-session[0].weight: expected a number, found "x""#
        );
    }

    #[test]
    fn unknown_keys_are_warnings() {
        let text =
            r#"{"alpha": 5, "colour": "blue", "levels":[{"level":"free","weight":1,"x":2}]}"#;
        let loaded = SiteConfig::parse(text).expect("loads");
        assert_eq!(
            loaded.warnings,
            vec![
                "colour: unknown key, ignored",
                "levels[0].x: unknown key, ignored"
            ]
        );
    }
}
