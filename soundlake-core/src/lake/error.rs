//! What a failed lake operation says: its kind (for callers that react differently), what was
//! attempted, where, why, and what to do about it.

use std::fmt;
use std::io;

/// What kind of failure a [`LakeError`] is, for callers that react differently (a commit that
/// finds its target taken, a lander that backs off while HDFS is away).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LakeErrorKind {
    /// The path does not exist.
    NotFound,
    /// The target of a create or rename exists already.
    AlreadyExists,
    /// The lake refused the operation for lack of permission.
    PermissionDenied,
    /// The NameNode (or a DataNode) could not be reached.
    Unreachable,
    /// The NameNode is in safe mode and refuses writes.
    SafeMode,
    /// No DataNode can take a new block: all are down, busy, or out of space.
    NoDataNode,
    /// The call did not complete in time.
    Timeout,
    /// The path is not a valid lake path.
    InvalidPath,
    /// Anything else.
    Other,
}

impl LakeErrorKind {
    /// Whether retrying later may succeed (the lake is away or busy, not the request wrong).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Self::Unreachable | Self::SafeMode | Self::NoDataNode | Self::Timeout
        )
    }
}

/// A failed lake operation: what was attempted, where, why, and what to do about it.
/// (Boxed, so that results carrying it stay small.)
#[derive(Debug, Clone)]
pub struct LakeError(Box<Details>);

#[derive(Debug, Clone)]
struct Details {
    kind: LakeErrorKind,
    op: &'static str,
    url: String,
    /// ` to <url>` for renames.
    target: String,
    cause: String,
    advice: String,
}

impl fmt::Display for LakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        write!(f, "{} {}{}: {}{}", d.op, d.url, d.target, d.cause, d.advice)
    }
}

impl std::error::Error for LakeError {}

impl LakeError {
    /// The kind of failure.
    pub fn kind(&self) -> LakeErrorKind {
        self.0.kind
    }

    /// The URL the operation was about.
    pub fn url(&self) -> &str {
        &self.0.url
    }

    /// The operation, e.g. `renaming`.
    pub fn op(&self) -> &'static str {
        self.0.op
    }

    pub(super) fn new(
        kind: LakeErrorKind,
        op: &'static str,
        url: String,
        cause: String,
        advice: String,
    ) -> Self {
        Self(Box::new(Details {
            kind,
            op,
            url,
            target: String::new(),
            cause,
            advice,
        }))
    }

    pub(super) fn with_target(mut self, target: String) -> Self {
        self.0.target = format!(" to {target}");
        self
    }
}

/// What a backend reports of a failure: its kind and cause. [`super::LakeStore`] adds the
/// operation, the URL and the advice, making a [`LakeError`].
#[derive(Debug)]
pub(super) struct Failure {
    pub kind: LakeErrorKind,
    pub cause: String,
}

impl Failure {
    pub fn new(kind: LakeErrorKind, cause: impl Into<String>) -> Self {
        Self {
            kind,
            cause: cause.into(),
        }
    }
}

impl From<io::Error> for Failure {
    fn from(err: io::Error) -> Self {
        Failure::new(io_kind(&err), err.to_string())
    }
}

/// The kind of a file-system or socket error.
pub(super) fn io_kind(err: &io::Error) -> LakeErrorKind {
    match err.kind() {
        io::ErrorKind::NotFound => LakeErrorKind::NotFound,
        io::ErrorKind::AlreadyExists => LakeErrorKind::AlreadyExists,
        io::ErrorKind::PermissionDenied => LakeErrorKind::PermissionDenied,
        io::ErrorKind::ConnectionRefused
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::NotConnected
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof
        | io::ErrorKind::AddrNotAvailable => LakeErrorKind::Unreachable,
        io::ErrorKind::TimedOut => LakeErrorKind::Timeout,
        _ => LakeErrorKind::Other,
    }
}
