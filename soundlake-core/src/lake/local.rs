//! The lake on the local file system (`file://`): each operation runs on tokio's blocking pool.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use bytes::Bytes;

use super::error::Failure;
use super::{LakeEntry, LakeErrorKind};

/// A lake rooted at a local folder. Paths given to it are checked lake paths (relative,
/// slash-separated, without `.` or `..`).
#[derive(Debug, Clone)]
pub(super) struct LocalLake {
    root: PathBuf,
}

impl LocalLake {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn path(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }

    pub fn advice(&self, kind: LakeErrorKind) -> String {
        match kind {
            LakeErrorKind::PermissionDenied => {
                ": permission denied; check the owner and mode of the lake folder".into()
            }
            _ => String::new(),
        }
    }

    pub async fn mkdirs(&self, rel: &str) -> Result<(), Failure> {
        let local = self.path(rel);
        blocking(move || fs::create_dir_all(&local)).await
    }

    pub async fn create(&self, rel: &str) -> Result<LocalWriter, Failure> {
        let local = self.path(rel);
        let file = blocking(move || {
            if let Some(parent) = local.parent() {
                fs::create_dir_all(parent)?;
            }
            OpenOptions::new().write(true).create_new(true).open(&local)
        })
        .await?;
        Ok(LocalWriter { file: Some(file) })
    }

    pub async fn rename_no_replace(&self, from: &str, to: &str) -> Result<(), Failure> {
        let (src, dst) = (self.path(from), self.path(to));
        // A hard link fails if the target exists, then the old name goes: the file appears at
        // `to` atomically and is never overwritten. A crash in between leaves both names, which
        // the caller's recovery sees as "rename done".
        blocking(move || {
            fs::hard_link(&src, &dst)?;
            fs::remove_file(&src)?;
            sync_parent(&dst)
        })
        .await
    }

    pub async fn read(&self, rel: &str) -> Result<Bytes, Failure> {
        let local = self.path(rel);
        blocking(move || fs::read(&local)).await.map(Bytes::from)
    }

    pub async fn stat(&self, rel: &str) -> Result<LakeEntry, Failure> {
        let local = self.path(rel);
        let rel = rel.to_owned();
        blocking(move || fs::metadata(&local).map(|meta| local_entry(rel, &meta))).await
    }

    pub async fn list(&self, rel: &str, recursive: bool) -> Result<Vec<LakeEntry>, Failure> {
        let local = self.path(rel);
        let rel = rel.to_owned();
        blocking(move || list_local(&local, &rel, recursive)).await
    }

    /// Whether something was deleted (always, unless it fails).
    pub async fn delete(&self, rel: &str, recursive: bool) -> Result<bool, Failure> {
        let local = self.path(rel);
        blocking(move || {
            let meta = fs::symlink_metadata(&local)?;
            if !meta.is_dir() {
                fs::remove_file(&local)
            } else if recursive {
                fs::remove_dir_all(&local)
            } else {
                fs::remove_dir(&local)
            }
        })
        .await
        .map(|()| true)
    }
}

/// A local file being written.
pub(super) struct LocalWriter {
    /// Taken while a write runs; `None` after a failed write.
    file: Option<File>,
}

impl LocalWriter {
    fn take(&mut self) -> Result<File, Failure> {
        self.file.take().ok_or_else(|| {
            Failure::new(
                LakeErrorKind::Other,
                "an earlier write failed; the file is incomplete",
            )
        })
    }

    pub async fn write(&mut self, data: Bytes) -> Result<(), Failure> {
        let mut file = self.take()?;
        let file = blocking(move || file.write_all(&data).map(|()| file)).await?;
        self.file = Some(file);
        Ok(())
    }

    pub async fn close(&mut self) -> Result<(), Failure> {
        let file = self.take()?;
        blocking(move || file.sync_all()).await
    }
}

async fn blocking<T, F>(work: F) -> Result<T, Failure>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(Failure::from),
        Err(join) => Err(Failure::new(
            LakeErrorKind::Other,
            format!("the blocking task failed: {join}"),
        )),
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
