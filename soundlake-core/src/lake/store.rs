//! Storage of the lake: the few file operations an exactly-once lander and the loaders need,
//! over the local file system (`file://`) or HDFS (`hdfs://`, through hdfs-native).
//!
//! Every path is relative to the lake's root and slash-separated (`bronze/_commits/…`); `..` is
//! refused so that nothing escapes the lake. The operations that make a file visible never
//! overwrite: [`LakeStore::rename_no_replace`] and [`LakeStore::create_exclusive`] fail with
//! [`LakeErrorKind::AlreadyExists`] when the target exists, which is what a commit protocol
//! builds on.
//!
//! All operations are async; call them inside a tokio runtime. Local operations run on tokio's
//! blocking pool; HDFS operations are bounded by [`LakeStore::with_timeout`].

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use hdfs_native::{Client, HdfsError, WriteOptions};

use super::LakeUrl;

/// How long one HDFS call may take before it fails with [`LakeErrorKind::Timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

const DIR_PERMISSION: u32 = 0o755;
const CONNECT_PROBE_TIMEOUT: Duration = Duration::from_secs(3);
const DEFAULT_NAMENODE_PORT: u16 = 8020;
const FILE_PERMISSION: u32 = 0o644;

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

    fn new(
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

    fn with_target(mut self, target: String) -> Self {
        self.0.target = format!(" to {target}");
        self
    }
}

/// A file or folder found by [`LakeStore::list`] or [`LakeStore::stat`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeEntry {
    /// The path relative to the lake's root, slash-separated.
    pub path: String,
    /// Size in bytes (0 for folders).
    pub len: u64,
    pub is_dir: bool,
    /// Last modification, epoch milliseconds.
    pub modified_ms: u64,
}

impl LakeEntry {
    /// The last path component.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// The lake's storage: the local file system or HDFS.
#[derive(Clone)]
pub struct LakeStore {
    url: LakeUrl,
    backend: Backend,
    timeout: Duration,
    /// HDFS block size of the files it creates (None: the NameNode's default).
    block_size: Option<u64>,
}

#[derive(Clone)]
enum Backend {
    Local { root: PathBuf },
    Hdfs { client: Client, root: String },
}

impl fmt::Debug for LakeStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LakeStore")
            .field("url", &self.url.to_string())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl LakeStore {
    /// A store for `url`. For HDFS this builds the client but sends no RPC yet; use
    /// [`LakeStore::probe`] to check that the NameNode answers.
    pub fn open(url: &LakeUrl) -> Result<Self, LakeError> {
        let backend = match url {
            LakeUrl::Local { root } => Backend::Local { root: root.clone() },
            LakeUrl::Hdfs { namenode, root } => {
                let client = hdfs_native::ClientBuilder::new()
                    .with_url(namenode.as_str())
                    .build()
                    .map_err(|err| {
                        LakeError::new(
                            LakeErrorKind::Other,
                            "connecting an HDFS client to",
                            namenode.clone(),
                            err.to_string(),
                            " (check the lake URL: hdfs://host:port/path)".into(),
                        )
                    })?;
                Backend::Hdfs {
                    client,
                    root: root.clone(),
                }
            }
        };
        Ok(Self {
            url: url.clone(),
            backend,
            timeout: DEFAULT_TIMEOUT,
            block_size: None,
        })
    }

    /// The same store with another per-call timeout for HDFS.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The same store creating HDFS files with blocks of `bytes` (the NameNode reserves a
    /// whole block of a DataNode's free space for every file being written, so a writer of
    /// many small files at once asks for less with smaller blocks). No effect on file://.
    pub fn with_block_size(mut self, bytes: u64) -> Self {
        self.block_size = Some(bytes);
        self
    }

    /// The lake's URL.
    pub fn url(&self) -> &LakeUrl {
        &self.url
    }

    /// The full URL of a lake path, as shown in messages and given to Spark.
    pub fn url_of(&self, path: &str) -> String {
        self.url.join(path)
    }

    /// Checks that the lake answers: its root folder exists (or, locally, can be created).
    pub async fn probe(&self) -> Result<(), LakeError> {
        match &self.backend {
            Backend::Local { .. } => self.mkdirs("").await,
            Backend::Hdfs { .. } => self.stat("").await.map(drop),
        }
    }

    /// Creates the folder `path` and any missing parents. An existing folder is fine.
    pub async fn mkdirs(&self, path: &str) -> Result<(), LakeError> {
        const OP: &str = "creating the folder";
        match &self.backend {
            Backend::Local { .. } => {
                let local = self.local_path(OP, path)?;
                self.blocking(OP, path, move || fs::create_dir_all(&local))
                    .await
            }
            Backend::Hdfs { client, .. } => {
                let hdfs = self.hdfs_path(OP, path)?;
                self.hdfs_call(OP, path, client.mkdirs(&hdfs, DIR_PERMISSION, true))
                    .await
            }
        }
    }

    /// Writes a whole new file. Fails with [`LakeErrorKind::AlreadyExists`] if `path` exists.
    /// The file is visible while it is written: write to a temporary name and
    /// [`rename_no_replace`](Self::rename_no_replace) it, or use
    /// [`create_exclusive`](Self::create_exclusive).
    pub async fn write_new(&self, path: &str, data: Bytes) -> Result<u64, LakeError> {
        let mut writer = self.create(path).await?;
        writer.write(data).await?;
        writer.close().await
    }

    /// Opens a new file for streaming writes (parent folders are created). Fails with
    /// [`LakeErrorKind::AlreadyExists`] if `path` exists.
    pub async fn create(&self, path: &str) -> Result<LakeFileWriter, LakeError> {
        const OP: &str = "creating the file";
        let inner = match &self.backend {
            Backend::Local { .. } => {
                let local = self.local_path(OP, path)?;
                let file = self
                    .blocking(OP, path, move || {
                        if let Some(parent) = local.parent() {
                            fs::create_dir_all(parent)?;
                        }
                        OpenOptions::new().write(true).create_new(true).open(&local)
                    })
                    .await?;
                WriterInner::Local(Some(file))
            }
            Backend::Hdfs { client, .. } => {
                let hdfs = self.hdfs_path(OP, path)?;
                let mut options = WriteOptions::default()
                    .overwrite(false)
                    .create_parent(true)
                    .permission(FILE_PERMISSION);
                if let Some(bytes) = self.block_size {
                    options = options.block_size(bytes);
                }
                let writer = self
                    .hdfs_call(OP, path, client.create(&hdfs, options))
                    .await?;
                WriterInner::Hdfs(Box::new(writer))
            }
        };
        Ok(LakeFileWriter {
            store: self.clone(),
            path: path.to_owned(),
            inner,
            written: 0,
        })
    }

    /// Renames the file `from` to `to`, creating `to`'s parent folders, atomically and without
    /// overwriting: fails with [`LakeErrorKind::AlreadyExists`] if `to` exists, and with
    /// [`LakeErrorKind::NotFound`] if `from` does not. Files only.
    pub async fn rename_no_replace(&self, from: &str, to: &str) -> Result<(), LakeError> {
        const OP: &str = "renaming";
        if let Some((parent, _)) = to.trim_matches('/').rsplit_once('/') {
            self.mkdirs(parent).await?;
        }
        match &self.backend {
            Backend::Local { .. } => {
                let src = self.local_path(OP, from)?;
                let dst = self.local_path(OP, to)?;
                // A hard link fails if the target exists, then the old name goes: the file
                // appears at `to` atomically and is never overwritten. A crash in between
                // leaves both names, which the caller's recovery sees as "rename done".
                self.blocking(OP, from, move || {
                    fs::hard_link(&src, &dst)?;
                    fs::remove_file(&src)?;
                    sync_parent(&dst)
                })
                .await
                .map_err(|err| err.with_target(self.url_of(to)))
            }
            Backend::Hdfs { client, .. } => {
                let src = self.hdfs_path(OP, from)?;
                let dst = self.hdfs_path(OP, to)?;
                self.hdfs_call(OP, from, client.rename(&src, &dst, false))
                    .await
                    .map_err(|err| err.with_target(self.url_of(to)))
            }
        }
    }

    /// Writes a small file that appears complete or not at all, and only if `path` does not
    /// exist yet: `data` goes to `temp_path` (which must not exist), then is renamed to `path`
    /// without overwriting. On [`LakeErrorKind::AlreadyExists`] the temporary file is removed.
    pub async fn create_exclusive(
        &self,
        path: &str,
        temp_path: &str,
        data: Bytes,
    ) -> Result<u64, LakeError> {
        let len = self.write_new(temp_path, data).await?;
        match self.rename_no_replace(temp_path, path).await {
            Ok(()) => Ok(len),
            Err(err) => {
                // Best effort: a leftover temporary file is an orphan that cleanup removes.
                let _ = self.delete(temp_path, false).await;
                Err(err)
            }
        }
    }

    /// Reads a whole file.
    pub async fn read(&self, path: &str) -> Result<Bytes, LakeError> {
        const OP: &str = "reading";
        match &self.backend {
            Backend::Local { .. } => {
                let local = self.local_path(OP, path)?;
                self.blocking(OP, path, move || fs::read(&local))
                    .await
                    .map(Bytes::from)
            }
            Backend::Hdfs { client, .. } => {
                let hdfs = self.hdfs_path(OP, path)?;
                let read = async {
                    let reader = client.read(&hdfs).await?;
                    let len = reader.file_length();
                    reader.read_range(0, len).await
                };
                self.hdfs_call(OP, path, read).await
            }
        }
    }

    /// The entry at `path`, or `None` if nothing is there.
    pub async fn stat(&self, path: &str) -> Result<Option<LakeEntry>, LakeError> {
        const OP: &str = "reading the status of";
        let result = match &self.backend {
            Backend::Local { .. } => {
                let local = self.local_path(OP, path)?;
                let rel = normalize(path);
                self.blocking(OP, path, move || {
                    fs::metadata(&local).map(|meta| local_entry(rel, &meta))
                })
                .await
            }
            Backend::Hdfs { client, root } => {
                let hdfs = self.hdfs_path(OP, path)?;
                self.hdfs_call(OP, path, client.get_file_info(&hdfs))
                    .await
                    .map(|status| hdfs_entry(root, status))
            }
        };
        match result {
            Ok(entry) => Ok(Some(entry)),
            Err(err) if err.kind() == LakeErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Whether something exists at `path`.
    pub async fn exists(&self, path: &str) -> Result<bool, LakeError> {
        self.stat(path).await.map(|entry| entry.is_some())
    }

    /// The entries of the folder `path` (with `recursive`, of all its subfolders too, folders
    /// included), sorted by path. Fails with [`LakeErrorKind::NotFound`] if it does not exist;
    /// see [`list_or_empty`](Self::list_or_empty).
    pub async fn list(&self, path: &str, recursive: bool) -> Result<Vec<LakeEntry>, LakeError> {
        const OP: &str = "listing";
        let mut entries = match &self.backend {
            Backend::Local { .. } => {
                let local = self.local_path(OP, path)?;
                let rel = normalize(path);
                self.blocking(OP, path, move || list_local(&local, &rel, recursive))
                    .await?
            }
            Backend::Hdfs { client, root } => {
                let hdfs = self.hdfs_path(OP, path)?;
                // Look first: listing a file would list the file itself.
                let status = self
                    .hdfs_call(OP, path, client.get_file_info(&hdfs))
                    .await?;
                if !status.isdir {
                    return Err(self.error(LakeErrorKind::Other, OP, path, "not a folder".into()));
                }
                self.hdfs_call(OP, path, client.list_status(&hdfs, recursive))
                    .await?
                    .into_iter()
                    .map(|status| hdfs_entry(root, status))
                    .collect()
            }
        };
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(entries)
    }

    /// Like [`list`](Self::list), with a missing folder listed as empty.
    pub async fn list_or_empty(
        &self,
        path: &str,
        recursive: bool,
    ) -> Result<Vec<LakeEntry>, LakeError> {
        match self.list(path, recursive).await {
            Err(err) if err.kind() == LakeErrorKind::NotFound => Ok(Vec::new()),
            other => other,
        }
    }

    /// Deletes the file or folder at `path` (a non-empty folder only with `recursive`).
    /// Returns whether something was deleted; a missing path is not an error.
    pub async fn delete(&self, path: &str, recursive: bool) -> Result<bool, LakeError> {
        const OP: &str = "deleting";
        if normalize(path).is_empty() {
            return Err(self.error(
                LakeErrorKind::InvalidPath,
                OP,
                path,
                "refusing to delete the lake's root".into(),
            ));
        }
        match &self.backend {
            Backend::Local { .. } => {
                let local = self.local_path(OP, path)?;
                let result = self
                    .blocking(OP, path, move || {
                        let meta = fs::symlink_metadata(&local)?;
                        if !meta.is_dir() {
                            fs::remove_file(&local)
                        } else if recursive {
                            fs::remove_dir_all(&local)
                        } else {
                            fs::remove_dir(&local)
                        }
                    })
                    .await;
                match result {
                    Ok(()) => Ok(true),
                    Err(err) if err.kind() == LakeErrorKind::NotFound => Ok(false),
                    Err(err) => Err(err),
                }
            }
            Backend::Hdfs { client, .. } => {
                let hdfs = self.hdfs_path(OP, path)?;
                match self
                    .hdfs_call(OP, path, client.delete(&hdfs, recursive))
                    .await
                {
                    Err(err) if err.kind() == LakeErrorKind::NotFound => Ok(false),
                    other => other,
                }
            }
        }
    }

    fn local_path(&self, op: &'static str, path: &str) -> Result<PathBuf, LakeError> {
        let rel = self.checked(op, path)?;
        match &self.backend {
            Backend::Local { root } if rel.is_empty() => Ok(root.clone()),
            Backend::Local { root } => Ok(root.join(rel)),
            Backend::Hdfs { .. } => Err(self.error(
                LakeErrorKind::Other,
                op,
                path,
                "internal error: a local path of an HDFS lake".into(),
            )),
        }
    }

    fn hdfs_path(&self, op: &'static str, path: &str) -> Result<String, LakeError> {
        let rel = self.checked(op, path)?;
        match &self.backend {
            Backend::Hdfs { root, .. } => Ok(join_hdfs(root, &rel)),
            Backend::Local { .. } => Err(self.error(
                LakeErrorKind::Other,
                op,
                path,
                "internal error: an HDFS path of a local lake".into(),
            )),
        }
    }

    fn checked(&self, op: &'static str, path: &str) -> Result<String, LakeError> {
        let rel = normalize(path);
        if rel.split('/').any(|part| part == ".." || part == ".") {
            return Err(self.error(
                LakeErrorKind::InvalidPath,
                op,
                path,
                "lake paths may not contain `.` or `..`".into(),
            ));
        }
        Ok(rel)
    }

    fn error(&self, kind: LakeErrorKind, op: &'static str, path: &str, cause: String) -> LakeError {
        LakeError::new(kind, op, self.url_of(path), cause, self.advice(kind))
    }

    fn advice(&self, kind: LakeErrorKind) -> String {
        match (&self.url, kind) {
            (LakeUrl::Hdfs { namenode, .. }, LakeErrorKind::Unreachable) => format!(
                ": the HDFS NameNode at {namenode} (or a DataNode) cannot be reached; is HDFS up? \
                 Locally: `scripts/stack up hdfs-namenode hdfs-datanode`"
            ),
            (LakeUrl::Hdfs { namenode, .. }, LakeErrorKind::Timeout) => format!(
                ": the HDFS NameNode at {namenode} did not answer within {:?}; is HDFS up and \
                 healthy? (`scripts/stack status`)",
                self.timeout
            ),
            (LakeUrl::Hdfs { .. }, LakeErrorKind::SafeMode) => {
                ": the NameNode is in safe mode (starting up, or too few DataNodes reported); \
                 wait, or check `hdfs dfsadmin -safemode get`"
                    .into()
            }
            (LakeUrl::Hdfs { .. }, LakeErrorKind::NoDataNode) => {
                ": no DataNode can take a new block (down, too busy, or short of free space: each \
                 open file reserves a whole block); check `hdfs dfsadmin -report`"
                    .into()
            }
            (LakeUrl::Hdfs { .. }, LakeErrorKind::PermissionDenied) => {
                ": permission denied; run as a user that may write the lake (HADOOP_USER_NAME) \
                 or grant it with `hdfs dfs -chown`/`-chmod`"
                    .into()
            }
            (LakeUrl::Local { .. }, LakeErrorKind::PermissionDenied) => {
                ": permission denied; check the owner and mode of the lake folder".into()
            }
            _ => String::new(),
        }
    }

    async fn blocking<T, F>(&self, op: &'static str, path: &str, work: F) -> Result<T, LakeError>
    where
        F: FnOnce() -> io::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        match tokio::task::spawn_blocking(work).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(self.error(io_kind(&err), op, path, err.to_string())),
            Err(join) => Err(self.error(
                LakeErrorKind::Other,
                op,
                path,
                format!("the blocking task failed: {join}"),
            )),
        }
    }

    async fn hdfs_call<T>(
        &self,
        op: &'static str,
        path: &str,
        call: impl std::future::Future<Output = Result<T, HdfsError>>,
    ) -> Result<T, LakeError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(self.error(hdfs_kind(&err), op, path, hdfs_cause(&err))),
            Err(_) => Err(self.timed_out(op, path).await),
        }
    }

    /// hdfs-native retries a refused connection until the call times out: tell the two apart
    /// with a plain TCP connect to the NameNode.
    async fn timed_out(&self, op: &'static str, path: &str) -> LakeError {
        let waited = format!("no answer within {:?}", self.timeout);
        let LakeUrl::Hdfs { namenode, .. } = &self.url else {
            return self.error(LakeErrorKind::Timeout, op, path, waited);
        };
        let address = namenode_address(namenode);
        let connect = tokio::net::TcpStream::connect(address.as_str());
        match tokio::time::timeout(CONNECT_PROBE_TIMEOUT, connect).await {
            Ok(Ok(_)) => self.error(LakeErrorKind::Timeout, op, path, waited),
            Ok(Err(err)) => self.error(
                LakeErrorKind::Unreachable,
                op,
                path,
                format!("{waited}; the NameNode at {address} refused the connection ({err})"),
            ),
            Err(_) => self.error(
                LakeErrorKind::Unreachable,
                op,
                path,
                format!("{waited}; the NameNode at {address} does not accept connections"),
            ),
        }
    }
}

/// `host:port` of an `hdfs://host[:port]` NameNode URL (8020 when it names no port).
fn namenode_address(namenode: &str) -> String {
    let authority = namenode
        .split_once("://")
        .map_or(namenode, |(_, rest)| rest)
        .trim_end_matches('/');
    if authority
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
    {
        authority.to_owned()
    } else {
        format!("{authority}:{DEFAULT_NAMENODE_PORT}")
    }
}

/// A file being written by [`LakeStore::create`]. Call [`close`](Self::close): a writer dropped
/// without it leaves an incomplete file behind (an orphan that the lander's cleanup removes).
pub struct LakeFileWriter {
    store: LakeStore,
    path: String,
    inner: WriterInner,
    written: u64,
}

enum WriterInner {
    Local(Option<File>),
    Hdfs(Box<hdfs_native::file::FileWriter>),
}

impl LakeFileWriter {
    /// The lake path being written.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Appends `data`.
    pub async fn write(&mut self, data: Bytes) -> Result<(), LakeError> {
        const OP: &str = "writing";
        let len = data.len() as u64;
        match &mut self.inner {
            WriterInner::Local(slot) => {
                let mut file = slot.take().ok_or_else(|| {
                    self.store.error(
                        LakeErrorKind::Other,
                        OP,
                        &self.path,
                        "an earlier write failed; the file is incomplete".into(),
                    )
                })?;
                let file = self
                    .store
                    .blocking(OP, &self.path, move || file.write_all(&data).map(|()| file))
                    .await?;
                *slot = Some(file);
            }
            WriterInner::Hdfs(writer) => {
                self.store
                    .hdfs_call(OP, &self.path, writer.write_bytes(data))
                    .await?;
            }
        }
        self.written += len;
        Ok(())
    }

    /// Makes the file durable and closes it. Returns its length.
    pub async fn close(mut self) -> Result<u64, LakeError> {
        const OP: &str = "closing";
        match &mut self.inner {
            WriterInner::Local(slot) => {
                let file = slot.take().ok_or_else(|| {
                    self.store.error(
                        LakeErrorKind::Other,
                        OP,
                        &self.path,
                        "an earlier write failed; the file is incomplete".into(),
                    )
                })?;
                self.store
                    .blocking(OP, &self.path, move || file.sync_all())
                    .await?;
            }
            WriterInner::Hdfs(writer) => {
                self.store.hdfs_call(OP, &self.path, writer.close()).await?;
            }
        }
        Ok(self.written)
    }
}

fn normalize(path: &str) -> String {
    path.trim_matches('/').to_owned()
}

fn join_hdfs(root: &str, rel: &str) -> String {
    let root = root.trim_end_matches('/');
    if rel.is_empty() {
        if root.is_empty() { "/" } else { root }.to_owned()
    } else {
        format!("{root}/{rel}")
    }
}

/// The lake-relative path of an absolute HDFS path below `root`.
fn relative_to(root: &str, absolute: &str) -> String {
    let root = root.trim_end_matches('/');
    absolute
        .strip_prefix(root)
        .unwrap_or(absolute)
        .trim_matches('/')
        .to_owned()
}

fn hdfs_entry(root: &str, status: hdfs_native::client::FileStatus) -> LakeEntry {
    LakeEntry {
        path: relative_to(root, &status.path),
        len: status.length as u64,
        is_dir: status.isdir,
        modified_ms: status.modification_time,
    }
}

fn local_entry(path: String, meta: &fs::Metadata) -> LakeEntry {
    let modified_ms = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    LakeEntry {
        path,
        len: if meta.is_dir() { 0 } else { meta.len() },
        is_dir: meta.is_dir(),
        modified_ms,
    }
}

fn list_local(dir: &Path, rel: &str, recursive: bool) -> io::Result<Vec<LakeEntry>> {
    let mut out = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), rel.to_owned())];
    while let Some((dir, rel)) = pending.pop() {
        for item in fs::read_dir(&dir)? {
            let item = item?;
            let name = item.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let meta = item.metadata()?;
            if recursive && meta.is_dir() {
                pending.push((item.path(), path.clone()));
            }
            out.push(local_entry(path, &meta));
        }
    }
    Ok(out)
}

/// fsync the folder holding `path`, so that a rename survives a power loss.
fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) => File::open(parent)?.sync_all(),
        None => Ok(()),
    }
}

fn io_kind(err: &io::Error) -> LakeErrorKind {
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

fn hdfs_kind(err: &HdfsError) -> LakeErrorKind {
    match err {
        HdfsError::FileNotFound(_) => LakeErrorKind::NotFound,
        HdfsError::AlreadyExists(_) => LakeErrorKind::AlreadyExists,
        HdfsError::IOError(io) => io_kind(io),
        HdfsError::DataTransferError(_) | HdfsError::BlocksNotFound(_) => {
            LakeErrorKind::Unreachable
        }
        HdfsError::InvalidPath(_) => LakeErrorKind::InvalidPath,
        HdfsError::RPCError(class, msg) | HdfsError::FatalRPCError(class, msg) => {
            rpc_kind(class, msg)
        }
        _ => LakeErrorKind::Other,
    }
}

/// Classifies a Java exception sent back by the NameNode.
fn rpc_kind(class: &str, msg: &str) -> LakeErrorKind {
    let simple = class.rsplit('.').next().unwrap_or(class);
    match simple {
        "FileNotFoundException" => LakeErrorKind::NotFound,
        "FileAlreadyExistsException" | "AlreadyBeingCreatedException" => {
            LakeErrorKind::AlreadyExists
        }
        "AccessControlException" => LakeErrorKind::PermissionDenied,
        "SafeModeException" => LakeErrorKind::SafeMode,
        "RetriableException" if msg.to_ascii_lowercase().contains("safe mode") => {
            LakeErrorKind::SafeMode
        }
        "StandbyException" | "RetriableException" => LakeErrorKind::Unreachable,
        // "File … could only be written to 0 of the 1 minReplication nodes. There are 1
        // datanode(s) running and 1 node(s) are excluded": no DataNode can take the block now.
        "IOException" if msg.contains("could only be written to 0 of the") => {
            LakeErrorKind::NoDataNode
        }
        _ => LakeErrorKind::Other,
    }
}

/// The NameNode's message without its Java stack trace (hdfs-native keeps it in the message).
fn hdfs_cause(err: &HdfsError) -> String {
    let text = match err {
        HdfsError::RPCError(class, msg) | HdfsError::FatalRPCError(class, msg) => {
            let simple = class.rsplit('.').next().unwrap_or(class);
            format!("{simple}: {msg}")
        }
        other => other.to_string(),
    };
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_namenode_exceptions() {
        assert_eq!(
            rpc_kind(
                "org.apache.hadoop.security.AccessControlException",
                "denied"
            ),
            LakeErrorKind::PermissionDenied
        );
        assert_eq!(
            rpc_kind(
                "org.apache.hadoop.hdfs.server.namenode.SafeModeException",
                "x"
            ),
            LakeErrorKind::SafeMode
        );
        assert_eq!(
            rpc_kind(
                "org.apache.hadoop.ipc.RetriableException",
                "NameNode still not started: Safe mode is ON"
            ),
            LakeErrorKind::SafeMode
        );
        assert_eq!(
            rpc_kind(
                "java.io.IOException",
                "File /a could only be written to 0 of the 1 minReplication nodes. There are 1 \
                 datanode(s) running and 1 node(s) are excluded in this operation."
            ),
            LakeErrorKind::NoDataNode
        );
        assert!(LakeErrorKind::NoDataNode.is_transient());
        assert_eq!(
            rpc_kind("java.io.FileNotFoundException", "x"),
            LakeErrorKind::NotFound
        );
        assert_eq!(
            rpc_kind("org.apache.hadoop.fs.FileAlreadyExistsException", "x"),
            LakeErrorKind::AlreadyExists
        );
        assert!(LakeErrorKind::Unreachable.is_transient());
        assert!(!LakeErrorKind::AlreadyExists.is_transient());
    }

    #[test]
    fn hdfs_paths_join_and_relativize() {
        assert_eq!(join_hdfs("/", ""), "/");
        assert_eq!(join_hdfs("/", "a/b"), "/a/b");
        assert_eq!(join_hdfs("/lake", "a"), "/lake/a");
        assert_eq!(relative_to("/lake", "/lake/a/b"), "a/b");
        assert_eq!(relative_to("/", "/a/b"), "a/b");
        assert_eq!(namenode_address("hdfs://nn:9000"), "nn:9000");
        assert_eq!(namenode_address("hdfs://nn"), "nn:8020");
    }
}
