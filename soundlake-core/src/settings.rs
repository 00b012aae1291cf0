//! What the services' configurations share: the TOML file of `--config` and `--metrics-addr`.
//!
//! Each service resolves a setting as its flag, then its `SOUNDLAKE_*` environment variable
//! (both through clap), then its key in the config file, then the default. A service lists its
//! settings once, in one struct of `Option` fields deriving both `clap::Args` and serde's
//! `Deserialize`/`Serialize`: [`layer`] puts the command line's over the file's, and
//! [`help_with_default`] shows each default (declared once, as a constant) in the help text.

use std::fmt::Display;
use std::net::SocketAddr;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// What `--metrics-addr` (or `metrics_addr` in a file) says to mean "no metrics endpoint".
pub const NO_METRICS: &str = "none";

/// Why the config file or a shared setting cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read the config file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("cannot combine the settings of the command line and of the config file: {reason}")]
    Layer { reason: String },
    #[error("--metrics-addr {value:?} is not HOST:PORT ({reason}); use e.g. {example}, or `none`")]
    MetricsAddr {
        value: String,
        reason: String,
        example: String,
    },
}

/// Reads the TOML file `path` into `T` (whose serde attributes decide what keys are allowed).
pub fn read_toml<T: DeserializeOwned>(path: &Path) -> Result<T, SettingsError> {
    let err = |reason: String| SettingsError::File {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    toml::from_str(&text).map_err(|e| err(e.to_string()))
}

/// The settings of `over` where it has them (a field that is not `None`), else those of
/// `under`: e.g. the command line and environment over the config file. `T` is a struct whose
/// fields are all `Option`s.
pub fn layer<T: Serialize + DeserializeOwned>(over: &T, under: &T) -> Result<T, SettingsError> {
    let fail = |e: serde_json::Error| SettingsError::Layer {
        reason: e.to_string(),
    };
    let mut merged = serde_json::to_value(under).map_err(fail)?;
    let over = serde_json::to_value(over).map_err(fail)?;
    if let (Some(merged), serde_json::Value::Object(over)) = (merged.as_object_mut(), over) {
        for (key, value) in over {
            if !value.is_null() {
                merged.insert(key, value);
            }
        }
    }
    serde_json::from_value(merged).map_err(fail)
}

/// A flag's help text ending with its default, as clap writes one: `text [default: value]`.
pub fn help_with_default(text: &str, default: impl Display) -> String {
    format!("{text} [default: {default}]")
}

/// The address to serve `/metrics` on: `value` as HOST:PORT, or None for `none` (any case).
/// `example` (the service's default) is shown when `value` is neither.
pub fn metrics_addr(value: &str, example: &str) -> Result<Option<SocketAddr>, SettingsError> {
    if value.eq_ignore_ascii_case(NO_METRICS) {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|e: std::net::AddrParseError| SettingsError::MetricsAddr {
            value: value.to_owned(),
            reason: e.to_string(),
            example: example.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, serde::Deserialize, serde::Serialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        name: Option<String>,
        count: Option<u32>,
        tags: Option<Vec<String>>,
    }

    #[test]
    fn layers_take_each_setting_from_the_first_that_has_it() {
        let flags = Sample {
            name: Some("flag".into()),
            ..Sample::default()
        };
        let file = Sample {
            name: Some("file".into()),
            count: Some(3),
            tags: None,
        };
        let merged = layer(&flags, &file).expect("layered");
        assert_eq!(
            merged,
            Sample {
                name: Some("flag".into()),
                count: Some(3),
                tags: None,
            }
        );
        assert_eq!(
            layer(&Sample::default(), &Sample::default()).expect("layered"),
            Sample::default()
        );
        assert_eq!(help_with_default("Users", 1), "Users [default: 1]");
    }

    #[test]
    fn metrics_addresses() {
        let addr = metrics_addr("127.0.0.1:9464", "x").expect("an address");
        assert_eq!(addr, Some("127.0.0.1:9464".parse().expect("literal")));
        assert_eq!(metrics_addr("None", "x").expect("none"), None);
        let err = metrics_addr("localhost", "127.0.0.1:9464")
            .expect_err("no port")
            .to_string();
        assert!(
            err.starts_with("--metrics-addr \"localhost\" is not HOST:PORT"),
            "{err}"
        );
        assert!(err.ends_with("use e.g. 127.0.0.1:9464, or `none`"), "{err}");
    }

    #[test]
    fn toml_files_are_read_or_refused_with_the_path() {
        let dir = std::env::temp_dir().join(format!("soundlake-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let good = dir.join("good.toml");
        std::fs::write(&good, "name = \"a\"\n").expect("write");
        let sample: Sample = read_toml(&good).expect("read");
        assert_eq!(sample.name.as_deref(), Some("a"));

        let unknown = dir.join("unknown.toml");
        std::fs::write(&unknown, "nmae = \"a\"\n").expect("write");
        let err = read_toml::<Sample>(&unknown)
            .expect_err("unknown key")
            .to_string();
        assert!(err.contains(&unknown.display().to_string()), "{err}");
        assert!(err.contains("nmae"), "{err}");

        let missing = dir.join("missing.toml");
        let err = read_toml::<Sample>(&missing)
            .expect_err("missing")
            .to_string();
        assert!(err.starts_with("cannot read the config file"), "{err}");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
