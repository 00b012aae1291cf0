//! Storage of the lake: the few file operations an exactly-once lander and the loaders need,
//! over the local file system (`file://`, [`super::local`]) or HDFS (`hdfs://`,
//! [`super::hdfs`]).
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
use std::time::Duration;

use bytes::Bytes;

use super::error::Failure;
use super::hdfs::{HdfsLake, HdfsWriter};
use super::local::{LocalLake, LocalWriter};
use super::{LakeError, LakeErrorKind, LakeUrl};

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
}

#[derive(Clone, Debug)]
enum Backend {
    Local(LocalLake),
    Hdfs(HdfsLake),
}

/// Runs `$call` with `$lake` bound to the store's backend, whichever it is: the one place that
/// dispatches on the backend.
macro_rules! on_backend {
    ($store:expr, $lake:ident => $call:expr) => {
        match &$store.backend {
            Backend::Local($lake) => $call,
            Backend::Hdfs($lake) => $call,
        }
    };
}

impl fmt::Debug for LakeStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LakeStore")
            .field("url", &self.url.to_string())
            .field("backend", &self.backend)
            .finish()
    }
}

impl LakeStore {
    /// A store for `url`. For HDFS this builds the client but sends no RPC yet; use
    /// [`LakeStore::probe`] to check that the NameNode answers.
    pub fn open(url: &LakeUrl) -> Result<Self, LakeError> {
        let backend = match url {
            LakeUrl::Local { root } => Backend::Local(LocalLake::new(root.clone())),
            LakeUrl::Hdfs { namenode, root } => {
                Backend::Hdfs(HdfsLake::new(namenode, root).map_err(|failure| {
                    LakeError::new(
                        failure.kind,
                        "connecting an HDFS client to",
                        namenode.clone(),
                        failure.cause,
                        " (check the lake URL: hdfs://host:port/path)".into(),
                    )
                })?)
            }
        };
        Ok(Self {
            url: url.clone(),
            backend,
        })
    }

    /// The same store with another per-call timeout for HDFS.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        if let Backend::Hdfs(hdfs) = &mut self.backend {
            hdfs.timeout = timeout;
        }
        self
    }

    /// The same store creating HDFS files with blocks of `bytes` (the NameNode reserves a
    /// whole block of a DataNode's free space for every file being written, so a writer of
    /// many small files at once asks for less with smaller blocks). No effect on file://.
    pub fn with_block_size(mut self, bytes: u64) -> Self {
        if let Backend::Hdfs(hdfs) = &mut self.backend {
            hdfs.block_size = Some(bytes);
        }
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
            Backend::Local(_) => self.mkdirs("").await,
            Backend::Hdfs(_) => self.stat("").await.map(drop),
        }
    }

    /// Creates the folder `path` and any missing parents. An existing folder is fine.
    pub async fn mkdirs(&self, path: &str) -> Result<(), LakeError> {
        const OP: &str = "creating the folder";
        let rel = self.checked(OP, path)?;
        on_backend!(self, lake => lake.mkdirs(&rel).await).map_err(|f| self.error(f, OP, path))
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
        let rel = self.checked(OP, path)?;
        let inner = match &self.backend {
            Backend::Local(lake) => lake.create(&rel).await.map(Writer::Local),
            Backend::Hdfs(lake) => lake.create(&rel).await.map(Writer::Hdfs),
        }
        .map_err(|f| self.error(f, OP, path))?;
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
        let src = self.checked(OP, from)?;
        let dst = self.checked(OP, to)?;
        on_backend!(self, lake => lake.rename_no_replace(&src, &dst).await)
            .map_err(|f| self.error(f, OP, from).with_target(self.url_of(to)))
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
        let rel = self.checked(OP, path)?;
        on_backend!(self, lake => lake.read(&rel).await).map_err(|f| self.error(f, OP, path))
    }

    /// The entry at `path`, or `None` if nothing is there.
    pub async fn stat(&self, path: &str) -> Result<Option<LakeEntry>, LakeError> {
        const OP: &str = "reading the status of";
        let rel = self.checked(OP, path)?;
        match on_backend!(self, lake => lake.stat(&rel).await) {
            Ok(entry) => Ok(Some(entry)),
            Err(failure) if failure.kind == LakeErrorKind::NotFound => Ok(None),
            Err(failure) => Err(self.error(failure, OP, path)),
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
        let rel = self.checked(OP, path)?;
        let mut entries = on_backend!(self, lake => lake.list(&rel, recursive).await)
            .map_err(|f| self.error(f, OP, path))?;
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
        let rel = self.checked(OP, path)?;
        if rel.is_empty() {
            return Err(self.error(
                Failure::new(
                    LakeErrorKind::InvalidPath,
                    "refusing to delete the lake's root",
                ),
                OP,
                path,
            ));
        }
        match on_backend!(self, lake => lake.delete(&rel, recursive).await) {
            Ok(deleted) => Ok(deleted),
            Err(failure) if failure.kind == LakeErrorKind::NotFound => Ok(false),
            Err(failure) => Err(self.error(failure, OP, path)),
        }
    }

    /// `path` as the backends take it: relative, without surrounding slashes, and refused if it
    /// has a `.` or `..` part.
    fn checked(&self, op: &'static str, path: &str) -> Result<String, LakeError> {
        let rel = path.trim_matches('/').to_owned();
        if rel.split('/').any(|part| part == ".." || part == ".") {
            return Err(self.error(
                Failure::new(
                    LakeErrorKind::InvalidPath,
                    "lake paths may not contain `.` or `..`",
                ),
                op,
                path,
            ));
        }
        Ok(rel)
    }

    /// A backend's failure of `op` on `path`, with the URL and the backend's advice.
    fn error(&self, failure: Failure, op: &'static str, path: &str) -> LakeError {
        let advice = on_backend!(self, lake => lake.advice(failure.kind));
        LakeError::new(failure.kind, op, self.url_of(path), failure.cause, advice)
    }
}

/// A file being written by [`LakeStore::create`]. Call [`close`](Self::close): a writer dropped
/// without it leaves an incomplete file behind (an orphan that the lander's cleanup removes).
pub struct LakeFileWriter {
    store: LakeStore,
    path: String,
    inner: Writer,
    written: u64,
}

enum Writer {
    Local(LocalWriter),
    Hdfs(HdfsWriter),
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
            Writer::Local(writer) => writer.write(data).await,
            Writer::Hdfs(writer) => writer.write(data).await,
        }
        .map_err(|f| self.store.error(f, OP, &self.path))?;
        self.written += len;
        Ok(())
    }

    /// Makes the file durable and closes it. Returns its length.
    pub async fn close(mut self) -> Result<u64, LakeError> {
        const OP: &str = "closing";
        match &mut self.inner {
            Writer::Local(writer) => writer.close().await,
            Writer::Hdfs(writer) => writer.close().await,
        }
        .map_err(|f| self.store.error(f, OP, &self.path))?;
        Ok(self.written)
    }
}
