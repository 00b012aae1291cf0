//! The lake: where it lives ([`LakeUrl`]) and the file operations on it ([`LakeStore`]).
//!
//! - `url`: the lake's URL, `hdfs://host:port/path` or `file:///path`.
//! - `store`: [`LakeStore`], the operations callers use, checking lake paths and dispatching
//!   to one backend: `local` (the local file system) or `hdfs` (HDFS through hdfs-native,
//!   whose failures `hdfs_exceptions` reads).
//! - `error`: [`LakeError`] and its [`LakeErrorKind`].

mod url;

mod store;

mod hdfs;
mod hdfs_exceptions;
mod local;

mod error;

pub use error::{LakeError, LakeErrorKind};
pub use hdfs::DEFAULT_TIMEOUT;
pub use store::{LakeEntry, LakeFileWriter, LakeStore};
pub use url::{LakeUrl, LakeUrlError};
