//! An HDFS folder that exists for one test.

use crate::cleanup::run_blocking;
use crate::endpoints::{hdfs_client, StackEndpoints};
use crate::error::TestkitError;
use crate::names::unique_name;

/// Every test folder lives below this HDFS folder.
pub const HDFS_TEST_ROOT: &str = "/soundlake-test";

const DIR_PERMISSION: u32 = 0o755;

/// A folder `/soundlake-test/<prefix>_<pid>_<millis>_<n>`, created empty and deleted with all it
/// holds by [`TestHdfsDir::cleanup`] — or, as a fallback, when dropped.
pub struct TestHdfsDir {
    client: hdfs_native::Client,
    namenode: String,
    path: String,
    cleaned_up: bool,
}

impl TestHdfsDir {
    /// Creates the folder (and [`HDFS_TEST_ROOT`] if missing).
    pub async fn create(endpoints: &StackEndpoints, prefix: &str) -> Result<Self, TestkitError> {
        let client = endpoints.hdfs_client()?;
        let path = format!("{HDFS_TEST_ROOT}/{}", unique_name(prefix));
        client
            .mkdirs(&path, DIR_PERMISSION, true)
            .await
            .map_err(|err| TestkitError::hdfs(format!("creating folder {path}"), err))?;
        Ok(Self {
            client,
            namenode: endpoints.hdfs_namenode(),
            path,
            cleaned_up: false,
        })
    }

    /// The folder's absolute path, e.g. `/soundlake-test/lander_123_1700000000000_0`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The absolute path of `relative` inside the folder.
    pub fn path_of(&self, relative: &str) -> String {
        format!("{}/{}", self.path, relative.trim_start_matches('/'))
    }

    /// The folder as a fully qualified URL, `hdfs://host:port/soundlake-test/…`.
    pub fn url(&self) -> String {
        format!("{}{}", self.namenode, self.path)
    }

    /// `relative` inside the folder as a fully qualified URL (what Spark or a loader is given).
    pub fn url_of(&self, relative: &str) -> String {
        format!("{}{}", self.namenode, self.path_of(relative))
    }

    /// The hdfs-native client the folder was created with.
    pub fn client(&self) -> &hdfs_native::Client {
        &self.client
    }

    /// Deletes the folder and everything in it. A folder already gone counts as deleted.
    pub async fn cleanup(mut self) -> Result<(), TestkitError> {
        self.cleaned_up = true;
        delete_dir(&self.client, &self.path).await
    }
}

impl Drop for TestHdfsDir {
    fn drop(&mut self) {
        if self.cleaned_up {
            return;
        }
        let namenode = self.namenode.clone();
        let path = self.path.clone();
        // A new client: the one in `self` may be bound to a runtime that is shutting down.
        run_blocking(format!("HDFS folder {path}"), move || async move {
            let client = hdfs_client(&namenode)?;
            delete_dir(&client, &path).await
        });
    }
}

async fn delete_dir(client: &hdfs_native::Client, path: &str) -> Result<(), TestkitError> {
    client
        .delete(path, true)
        .await
        .map(drop)
        .map_err(|err| TestkitError::hdfs(format!("deleting folder {path}"), err))
}
