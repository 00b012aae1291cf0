//! What the services' configurations share: the TOML file of `--config` and `--metrics-addr`.
//!
//! Each service resolves a setting as its flag, then its `SOUNDLAKE_*` environment variable
//! (both through clap), then its key in the config file, then the default. A service lists its
//! settings once, in one struct of `Option` fields (deriving `clap::Args` and, for a TOML file,
//! serde's `Deserialize`) declared with [`layered_settings!`](crate::layered_settings), whose `or` puts the command
//! line's over the file's; [`help_with_default`] shows each default (declared once, as a
//! constant) in the help text.

use std::fmt::Display;
use std::net::SocketAddr;
use std::path::Path;

use serde::de::DeserializeOwned;

/// What `--metrics-addr` (or `metrics_addr` in a file) says to mean "no metrics endpoint".
pub const NO_METRICS: &str = "none";

/// Why the config file or a shared setting cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read the config file {path}: {reason}")]
    File { path: String, reason: String },
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

/// Declares a struct of settings, every field an `Option` (`None`: not given there), and its
/// method `or(self, under: Self) -> Self`, which takes each setting from `self` when given,
/// else from `under`: e.g. the command line and environment over the config file. The struct
/// takes any attributes (`#[derive(clap::Args, serde::Deserialize)]`, `#[arg(...)]`, ...).
///
/// ```
/// soundlake_core::layered_settings! {
///     #[derive(Debug, Default, PartialEq)]
///     pub struct Sample {
///         pub name: Option<String>,
///         pub count: Option<u32>,
///     }
/// }
/// let flags = Sample { name: Some("flag".into()), count: None };
/// let file = Sample { name: Some("file".into()), count: Some(3) };
/// assert_eq!(flags.or(file), Sample { name: Some("flag".into()), count: Some(3) });
/// ```
#[macro_export]
macro_rules! layered_settings {
    (
        $(#[$struct_attr:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$field_attr:meta])*
                $field_vis:vis $field:ident: Option<$ty:ty>
            ),* $(,)?
        }
    ) => {
        $(#[$struct_attr])*
        $vis struct $name {
            $(
                $(#[$field_attr])*
                $field_vis $field: Option<$ty>,
            )*
        }

        impl $name {
            /// Each setting of `self` when given, else that of `under`.
            pub fn or(self, under: Self) -> Self {
                Self {
                    $($field: self.$field.or(under.$field),)*
                }
            }
        }
    };
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

    crate::layered_settings! {
        #[derive(Debug, Default, PartialEq, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Sample {
            name: Option<String>,
            count: Option<u32>,
            rate: Option<f64>,
        }
    }

    #[test]
    fn layers_take_each_setting_from_the_first_that_has_it() {
        let flags = Sample {
            name: Some("flag".into()),
            rate: Some(f64::NAN),
            ..Sample::default()
        };
        let file = Sample {
            name: Some("file".into()),
            count: Some(3),
            rate: Some(0.5),
        };
        let merged = flags.or(file);
        assert_eq!(merged.name.as_deref(), Some("flag"));
        assert_eq!(merged.count, Some(3));
        assert!(merged.rate.is_some_and(f64::is_nan), "taken as given");
        assert_eq!(Sample::default().or(Sample::default()), Sample::default());
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
