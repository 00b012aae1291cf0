//! The lake on HDFS (`hdfs://`, through hdfs-native): every call is bounded by a timeout, and a
//! timeout is told apart from a NameNode that refuses connections.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use hdfs_native::{Client, HdfsError, WriteOptions};

use super::error::Failure;
use super::{LakeEntry, LakeErrorKind};

/// How long one HDFS call may take before it fails with [`LakeErrorKind::Timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

const DIR_PERMISSION: u32 = 0o755;
const FILE_PERMISSION: u32 = 0o644;
const CONNECT_PROBE_TIMEOUT: Duration = Duration::from_secs(3);
const DEFAULT_NAMENODE_PORT: u16 = 8020;
/// Settings of the HDFS client. When a DataNode of a write's pipeline fails and the NameNode has
/// no other to replace it (one of three DataNodes died, and the NameNode has not declared it
/// dead yet, which takes minutes), the write goes on with the DataNodes left, as the Java
/// client's default policy does, and the NameNode re-replicates the block later; hdfs-native's
/// default fails the write, so every write whose pipeline held the dead DataNode failed.
const CLIENT_CONFIG: [(&str, &str); 1] = [(
    "dfs.client.block.write.replace-datanode-on-failure.best-effort",
    "true",
)];

/// A lake below `root` on the HDFS of `namenode`. Paths given to it are checked lake paths
/// (relative, slash-separated, without `.` or `..`).
#[derive(Clone)]
pub(super) struct HdfsLake {
    client: Client,
    namenode: String,
    root: String,
    pub timeout: Duration,
    /// Block size of the files it creates (None: the NameNode's default).
    pub block_size: Option<u64>,
}

impl fmt::Debug for HdfsLake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HdfsLake")
            .field("namenode", &self.namenode)
            .field("root", &self.root)
            .field("timeout", &self.timeout)
            .field("block_size", &self.block_size)
            .finish()
    }
}

impl HdfsLake {
    /// Builds the client; sends no RPC yet.
    pub fn new(namenode: &str, root: &str) -> Result<Self, Failure> {
        let client = hdfs_native::ClientBuilder::new()
            .with_url(namenode)
            .with_config(CLIENT_CONFIG)
            .build()
            .map_err(|err| Failure::new(LakeErrorKind::Other, err.to_string()))?;
        Ok(Self {
            client,
            namenode: namenode.to_owned(),
            root: root.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            block_size: None,
        })
    }

    fn path(&self, rel: &str) -> String {
        join_hdfs(&self.root, rel)
    }

    pub fn advice(&self, kind: LakeErrorKind) -> String {
        let namenode = &self.namenode;
        match kind {
            LakeErrorKind::Unreachable => format!(
                ": the HDFS NameNode at {namenode} (or a DataNode) cannot be reached; is HDFS up? \
                 Locally: `scripts/stack up hdfs-namenode hdfs-datanode`"
            ),
            LakeErrorKind::Timeout => format!(
                ": the HDFS NameNode at {namenode} did not answer within {:?}; is HDFS up and \
                 healthy? (`scripts/stack status`)",
                self.timeout
            ),
            LakeErrorKind::SafeMode => {
                ": the NameNode is in safe mode (starting up, or too few DataNodes reported); \
                 wait, or check `hdfs dfsadmin -safemode get`"
                    .into()
            }
            LakeErrorKind::NoDataNode => {
                ": no DataNode can take a new block (down, too busy, or short of free space: each \
                 open file reserves a whole block); check `hdfs dfsadmin -report`"
                    .into()
            }
            LakeErrorKind::PermissionDenied => {
                ": permission denied; run as a user that may write the lake (HADOOP_USER_NAME) \
                 or grant it with `hdfs dfs -chown`/`-chmod`"
                    .into()
            }
            _ => String::new(),
        }
    }

    pub async fn mkdirs(&self, rel: &str) -> Result<(), Failure> {
        let path = self.path(rel);
        self.call(self.client.mkdirs(&path, DIR_PERMISSION, true))
            .await
    }

    pub async fn create(&self, rel: &str) -> Result<HdfsWriter, Failure> {
        let path = self.path(rel);
        let mut options = WriteOptions::default()
            .overwrite(false)
            .create_parent(true)
            .permission(FILE_PERMISSION);
        if let Some(bytes) = self.block_size {
            options = options.block_size(bytes);
        }
        let writer = self.call(self.client.create(&path, options)).await?;
        Ok(HdfsWriter {
            lake: self.clone(),
            writer: Box::new(writer),
        })
    }

    pub async fn rename_no_replace(&self, from: &str, to: &str) -> Result<(), Failure> {
        let (src, dst) = (self.path(from), self.path(to));
        self.call(self.client.rename(&src, &dst, false)).await
    }

    pub async fn read(&self, rel: &str) -> Result<Bytes, Failure> {
        let path = self.path(rel);
        let read = async {
            let reader = self.client.read(&path).await?;
            let len = reader.file_length();
            reader.read_range(0, len).await
        };
        self.call(read).await
    }

    pub async fn stat(&self, rel: &str) -> Result<LakeEntry, Failure> {
        let path = self.path(rel);
        self.call(self.client.get_file_info(&path))
            .await
            .map(|status| self.entry(status))
    }

    pub async fn list(&self, rel: &str, recursive: bool) -> Result<Vec<LakeEntry>, Failure> {
        let path = self.path(rel);
        // Look first: listing a file would list the file itself.
        let status = self.call(self.client.get_file_info(&path)).await?;
        if !status.isdir {
            return Err(Failure::new(LakeErrorKind::Other, "not a folder"));
        }
        Ok(self
            .call(self.client.list_status(&path, recursive))
            .await?
            .into_iter()
            .map(|status| self.entry(status))
            .collect())
    }

    /// Whether something was deleted.
    pub async fn delete(&self, rel: &str, recursive: bool) -> Result<bool, Failure> {
        let path = self.path(rel);
        self.call(self.client.delete(&path, recursive)).await
    }

    fn entry(&self, status: hdfs_native::client::FileStatus) -> LakeEntry {
        LakeEntry {
            path: relative_to(&self.root, &status.path),
            len: status.length as u64,
            is_dir: status.isdir,
            modified_ms: status.modification_time,
        }
    }

    async fn call<T>(
        &self,
        call: impl Future<Output = Result<T, HdfsError>>,
    ) -> Result<T, Failure> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result.map_err(Failure::from),
            Err(_) => Err(self.timed_out().await),
        }
    }

    /// hdfs-native retries a refused connection until the call times out: tell the two apart
    /// with a plain TCP connect to the NameNode.
    async fn timed_out(&self) -> Failure {
        let waited = format!("no answer within {:?}", self.timeout);
        let address = namenode_address(&self.namenode);
        let connect = tokio::net::TcpStream::connect(address.as_str());
        match tokio::time::timeout(CONNECT_PROBE_TIMEOUT, connect).await {
            Ok(Ok(_)) => Failure::new(LakeErrorKind::Timeout, waited),
            Ok(Err(err)) => Failure::new(
                LakeErrorKind::Unreachable,
                format!("{waited}; the NameNode at {address} refused the connection ({err})"),
            ),
            Err(_) => Failure::new(
                LakeErrorKind::Unreachable,
                format!("{waited}; the NameNode at {address} does not accept connections"),
            ),
        }
    }
}

/// An HDFS file being written.
pub(super) struct HdfsWriter {
    lake: HdfsLake,
    writer: Box<hdfs_native::file::FileWriter>,
}

impl HdfsWriter {
    pub async fn write(&mut self, data: Bytes) -> Result<(), Failure> {
        self.lake
            .call(self.writer.write_bytes(data))
            .await
            .map(drop)
    }

    pub async fn close(&mut self) -> Result<(), Failure> {
        self.lake.call(self.writer.close()).await
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

#[cfg(test)]
mod tests {
    use super::*;

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
