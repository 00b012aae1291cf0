//! `LakeStore` on the local file system and on the local stack's real HDFS: the operations an
//! exactly-once lander relies on behave the same on both.
//!
//! The HDFS tests fail (never skip) when HDFS does not answer: `make stack-up` first.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;
use soundlake_core::lake::{LakeErrorKind, LakeStore, LakeUrl};
use soundlake_testkit::{require, Service, TestHdfsDir};

/// A local folder for one test, removed when dropped.
struct LocalDir(PathBuf);

impl LocalDir {
    fn new(prefix: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("soundlake-{prefix}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }

    fn store(&self) -> LakeStore {
        let url = LakeUrl::parse(&format!("file://{}", self.0.display())).expect("a file URL");
        LakeStore::open(&url).expect("open a local store")
    }
}

impl Drop for LocalDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The same checks on any backend.
async fn exercise(store: &LakeStore) {
    store.probe().await.expect("probe");
    store.mkdirs("a/b").await.expect("mkdirs");
    store.mkdirs("a/b").await.expect("mkdirs is idempotent");

    // Write a file under a temporary name, rename it into place.
    let data = Bytes::from_static(b"hello lake");
    let len = store
        .write_new("_staging/x.tmp", data.clone())
        .await
        .expect("write_new");
    assert_eq!(len, data.len() as u64);
    let again = store.write_new("_staging/x.tmp", data.clone()).await;
    assert_eq!(
        again.map_err(|e| e.kind()),
        Err(LakeErrorKind::AlreadyExists),
        "write_new must not overwrite"
    );
    store
        .rename_no_replace("_staging/x.tmp", "a/b/c/x.parquet")
        .await
        .expect("rename into a new folder");
    assert!(!store.exists("_staging/x.tmp").await.expect("stat"));
    assert_eq!(store.read("a/b/c/x.parquet").await.expect("read"), data);

    // Renaming onto an existing file fails and changes nothing.
    store
        .write_new("_staging/y.tmp", Bytes::from_static(b"other"))
        .await
        .expect("write y");
    let err = store
        .rename_no_replace("_staging/y.tmp", "a/b/c/x.parquet")
        .await
        .expect_err("rename must not overwrite");
    assert_eq!(err.kind(), LakeErrorKind::AlreadyExists, "{err}");
    assert!(err.to_string().contains("x.parquet"), "{err}");
    assert!(
        !err.to_string().contains("\tat "),
        "no Java stack trace: {err}"
    );
    assert!(err.to_string().starts_with("renaming "), "{err}");
    assert!(err.to_string().contains("y.tmp to "), "{err}");
    eprintln!("{err}");
    assert_eq!(store.read("a/b/c/x.parquet").await.expect("read"), data);
    assert!(store.exists("_staging/y.tmp").await.expect("stat"));

    // Renaming a missing file is NotFound.
    let err = store
        .rename_no_replace("_staging/missing.tmp", "a/b/c/z.parquet")
        .await
        .expect_err("missing source");
    assert_eq!(err.kind(), LakeErrorKind::NotFound, "{err}");

    // Create-exclusive: the first wins, the second gets AlreadyExists and leaves no temp file.
    store
        .create_exclusive(
            "_commits/001.json",
            "_staging/c1.tmp",
            Bytes::from_static(b"{1}"),
        )
        .await
        .expect("first create_exclusive");
    let err = store
        .create_exclusive(
            "_commits/001.json",
            "_staging/c2.tmp",
            Bytes::from_static(b"{2}"),
        )
        .await
        .expect_err("second create_exclusive");
    assert_eq!(err.kind(), LakeErrorKind::AlreadyExists, "{err}");
    assert!(!store.exists("_staging/c2.tmp").await.expect("stat"));
    assert_eq!(
        store.read("_commits/001.json").await.expect("read"),
        Bytes::from_static(b"{1}")
    );

    // Streaming writes.
    let mut writer = store.create("big/file.bin").await.expect("create");
    for chunk in 0..4u8 {
        writer
            .write(Bytes::from(vec![chunk; 100_000]))
            .await
            .expect("write");
    }
    assert_eq!(writer.close().await.expect("close"), 400_000);
    let back = store.read("big/file.bin").await.expect("read big");
    assert_eq!(back.len(), 400_000);
    assert_eq!(back[399_999], 3);

    // Listing.
    let top: Vec<String> = store
        .list("", false)
        .await
        .expect("list root")
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(top, ["_commits", "_staging", "a", "big"]);
    let deep = store.list("a", true).await.expect("list a");
    let files: Vec<(&str, u64)> = deep
        .iter()
        .filter(|e| !e.is_dir)
        .map(|e| (e.path.as_str(), e.len))
        .collect();
    assert_eq!(files, [("a/b/c/x.parquet", 10)]);
    assert!(deep.iter().any(|e| e.is_dir && e.path == "a/b/c"));
    assert_eq!(
        deep.iter().find(|e| !e.is_dir).map(|e| e.name()),
        Some("x.parquet")
    );
    let err = store.list("nope", false).await.expect_err("missing folder");
    assert_eq!(err.kind(), LakeErrorKind::NotFound, "{err}");
    assert!(store
        .list_or_empty("nope", true)
        .await
        .expect("empty")
        .is_empty());
    assert!(store.stat("nope").await.expect("stat").is_none());

    // Deleting.
    assert!(store.delete("_staging/y.tmp", false).await.expect("delete"));
    assert!(!store
        .delete("_staging/y.tmp", false)
        .await
        .expect("delete again"));
    assert!(store.delete("a", true).await.expect("delete tree"));
    assert!(!store.exists("a/b/c/x.parquet").await.expect("stat"));
    let err = store.delete("", true).await.expect_err("root");
    assert_eq!(err.kind(), LakeErrorKind::InvalidPath);
    let err = store.read("../etc/passwd").await.expect_err("escape");
    assert_eq!(err.kind(), LakeErrorKind::InvalidPath);
}

#[tokio::test]
async fn local_store_operations() {
    let dir = LocalDir::new("lake-store");
    exercise(&dir.store()).await;
}

#[tokio::test]
async fn hdfs_store_operations() {
    let Some(stack) = require(&[Service::Hdfs]).await else {
        return;
    };
    let dir = TestHdfsDir::create(&stack, "lake_store")
        .await
        .expect("create a test folder");
    let url = LakeUrl::parse(&dir.url()).expect("an hdfs URL");
    let store = LakeStore::open(&url).expect("open an HDFS store");
    exercise(&store).await;
    dir.cleanup().await.expect("clean up");
}

#[tokio::test]
async fn hdfs_unreachable_says_what_to_do() {
    // Nothing listens on port 1.
    let url = LakeUrl::parse("hdfs://127.0.0.1:1/lake").expect("an hdfs URL");
    let store = LakeStore::open(&url)
        .expect("open")
        .with_timeout(std::time::Duration::from_secs(5));
    let err = store.probe().await.expect_err("nothing listens");
    let msg = err.to_string();
    assert!(err.kind().is_transient(), "{msg}");
    assert!(msg.contains("hdfs://127.0.0.1:1"), "{msg}");
    assert!(msg.contains("scripts/stack"), "{msg}");
    assert!(msg.contains("refused"), "{msg}");
    eprintln!("{msg}");
}

/// What hdfs-native 0.14 does on this HDFS (3.5.0), which `LakeStore` builds on.
#[tokio::test]
async fn hdfs_native_facts() {
    use soundlake_testkit::hdfs_native::{HdfsError, WriteOptions};
    let Some(stack) = require(&[Service::Hdfs]).await else {
        return;
    };
    let dir = TestHdfsDir::create(&stack, "hdfs_facts")
        .await
        .expect("dir");
    let client = dir.client();
    let missing = dir.path_of("missing");
    // Listing a missing folder is FileNotFound, recursive or not.
    for recursive in [false, true] {
        let listed = client.list_status(&missing, recursive).await;
        assert!(
            matches!(listed, Err(HdfsError::FileNotFound(_))),
            "{listed:?}"
        );
    }
    // A rename of a missing source, or to a missing parent, is the NameNode's
    // java.io.FileNotFoundException as a plain RPCError (with its Java stack trace).
    let renamed = client.rename(&missing, &dir.path_of("x"), false).await;
    assert!(
        matches!(&renamed, Err(HdfsError::RPCError(class, _)) if class == "java.io.FileNotFoundException"),
        "{renamed:?}"
    );
    let file = dir.path_of("f");
    let mut writer = client
        .create(&file, WriteOptions::default())
        .await
        .expect("create");
    writer.close().await.expect("close");
    let renamed = client.rename(&file, &dir.path_of("no/parent"), false).await;
    assert!(
        matches!(&renamed, Err(HdfsError::RPCError(_, msg)) if msg.contains("destination parent")),
        "{renamed:?}"
    );
    // Create without overwrite on an existing file: AlreadyExists (message with stack trace).
    let again = client
        .create(&file, WriteOptions::default())
        .await
        .map(drop);
    assert!(
        matches!(again, Err(HdfsError::AlreadyExists(_))),
        "{again:?}"
    );
    // Deleting a missing path is Ok(false).
    assert!(!client.delete(&missing, false).await.expect("delete"));
    dir.cleanup().await.expect("cleanup");
}
