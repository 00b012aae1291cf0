//! Where the lake lives: `hdfs://host:port/path` in production or `file:///path` for the
//! embedded default.

use std::fmt;
use std::path::PathBuf;

/// Why a lake URL was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LakeUrlError {
    #[error("lake URL {url:?} is not a URL ({reason}); use hdfs://host:port/path or file:///absolute/path")]
    Invalid { url: String, reason: String },
    #[error("lake URL {url:?} has scheme {scheme:?}; only hdfs:// and file:// are supported")]
    UnsupportedScheme { url: String, scheme: String },
    #[error("lake URL {url:?} has no NameNode host; use hdfs://host:port/path")]
    MissingHost { url: String },
    #[error("lake URL {url:?} must be an absolute local path: file:///absolute/path")]
    NotAbsolute { url: String },
}

/// A parsed lake location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LakeUrl {
    /// HDFS: the NameNode address (`hdfs://host:port`) and the lake's root path on it.
    Hdfs { namenode: String, root: String },
    /// The local file system.
    Local { root: PathBuf },
}

impl LakeUrl {
    /// Parse `hdfs://host[:port]/path` or `file:///path`. A trailing slash is ignored.
    pub fn parse(text: &str) -> Result<Self, LakeUrlError> {
        let url = url::Url::parse(text).map_err(|e| LakeUrlError::Invalid {
            url: text.to_owned(),
            reason: e.to_string(),
        })?;
        let path = url.path().trim_end_matches('/');
        match url.scheme() {
            "hdfs" | "viewfs" => {
                let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| {
                    LakeUrlError::MissingHost {
                        url: text.to_owned(),
                    }
                })?;
                let namenode = match url.port() {
                    Some(port) => format!("{}://{host}:{port}", url.scheme()),
                    None => format!("{}://{host}", url.scheme()),
                };
                let root = if path.is_empty() { "/" } else { path }.to_owned();
                Ok(LakeUrl::Hdfs { namenode, root })
            }
            "file" => {
                if url.host_str().is_some_and(|h| !h.is_empty()) {
                    return Err(LakeUrlError::NotAbsolute {
                        url: text.to_owned(),
                    });
                }
                let root = url.to_file_path().map_err(|()| LakeUrlError::NotAbsolute {
                    url: text.to_owned(),
                })?;
                Ok(LakeUrl::Local { root })
            }
            other => Err(LakeUrlError::UnsupportedScheme {
                url: text.to_owned(),
                scheme: other.to_owned(),
            }),
        }
    }

    /// The URL of `relative` (slash-separated) below the lake's root.
    pub fn join(&self, relative: &str) -> String {
        let relative = relative.trim_start_matches('/');
        match self {
            LakeUrl::Hdfs { namenode, root } => {
                let sep = if root.ends_with('/') { "" } else { "/" };
                format!("{namenode}{root}{sep}{relative}")
            }
            LakeUrl::Local { root } => format!("file://{}/{relative}", root.display()),
        }
    }
}

impl fmt::Display for LakeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LakeUrl::Hdfs { namenode, root } => write!(f, "{namenode}{root}"),
            LakeUrl::Local { root } => write!(f, "file://{}", root.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hdfs_with_port() {
        let lake = LakeUrl::parse("hdfs://127.0.0.1:8020/lake/").unwrap();
        assert_eq!(
            lake,
            LakeUrl::Hdfs {
                namenode: "hdfs://127.0.0.1:8020".into(),
                root: "/lake".into()
            }
        );
        assert_eq!(lake.join("bronze/x"), "hdfs://127.0.0.1:8020/lake/bronze/x");
        assert_eq!(lake.to_string(), "hdfs://127.0.0.1:8020/lake");
    }

    #[test]
    fn parses_hdfs_root_and_local() {
        let lake = LakeUrl::parse("hdfs://nn").unwrap();
        assert_eq!(lake.join("/a"), "hdfs://nn/a");
        let local = LakeUrl::parse("file:///tmp/lake").unwrap();
        assert_eq!(
            local,
            LakeUrl::Local {
                root: PathBuf::from("/tmp/lake")
            }
        );
        assert_eq!(local.join("bronze"), "file:///tmp/lake/bronze");
    }

    #[test]
    fn rejects_bad_urls_with_advice() {
        assert!(matches!(
            LakeUrl::parse("/tmp/lake"),
            Err(LakeUrlError::Invalid { .. })
        ));
        assert!(matches!(
            LakeUrl::parse("s3://bucket/x"),
            Err(LakeUrlError::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            LakeUrl::parse("hdfs:///lake"),
            Err(LakeUrlError::MissingHost { .. })
        ));
        assert!(matches!(
            LakeUrl::parse("file://host/lake"),
            Err(LakeUrlError::NotAbsolute { .. })
        ));
        let msg = LakeUrl::parse("s3://b/x").unwrap_err().to_string();
        assert!(msg.contains("hdfs://"), "{msg}");
    }
}
