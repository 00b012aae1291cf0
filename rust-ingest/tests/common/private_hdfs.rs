//! A private HDFS (NameNode + DataNode) for tests that stop and restart it: started by the
//! stack manager (`scripts/stack`) in a temporary stack folder on free ports, sharing the
//! main stack's jars (`SOUNDLAKE_STACK_LIB_DIR`), stopped and removed when dropped. The
//! shared stack's HDFS is never touched.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The port names of the HDFS services in `stack/stack.toml` (names not there are ignored).
const PORTS: [&str; 7] = [
    "HDFS_NAMENODE_RPC",
    "HDFS_NAMENODE_HTTP",
    "HDFS_DATANODE",
    "HDFS_DATANODE_HTTP",
    "HDFS_DATANODE_IPC",
    "HDFS_NAMENODE_JMX_METRICS",
    "HDFS_DATANODE_JMX_METRICS",
];

pub struct PrivateHdfs {
    dir: PathBuf,
    env: Vec<(String, String)>,
    rpc_port: u16,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Ports free at this moment (all held until every one is picked, so they differ).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect()
}

impl PrivateHdfs {
    /// Formats and starts a NameNode and a DataNode (slow: tens of seconds on a busy machine).
    pub fn start(label: &str) -> PrivateHdfs {
        let dir = std::env::temp_dir().join(format!("{label}-private-hdfs"));
        let _ = std::fs::remove_dir_all(&dir);
        let main_stack = std::env::var_os("SOUNDLAKE_STACK_DIR")
            .map_or_else(|| repo_root().join(".stack"), PathBuf::from);
        let ports = free_ports(PORTS.len());
        let mut env: Vec<(String, String)> = PORTS
            .iter()
            .zip(&ports)
            .map(|(name, port)| (format!("SOUNDLAKE_PORT_{name}"), port.to_string()))
            .collect();
        env.extend([
            ("SOUNDLAKE_STACK_DIR".into(), dir.display().to_string()),
            (
                "SOUNDLAKE_STACK_LIB_DIR".into(),
                main_stack.join("lib").display().to_string(),
            ),
            ("SOUNDLAKE_HEAP_HDFS_NAMENODE".into(), "256m".into()),
            ("SOUNDLAKE_HEAP_HDFS_DATANODE".into(), "256m".into()),
        ]);
        let hdfs = PrivateHdfs {
            dir,
            env,
            rpc_port: ports[0],
        };
        hdfs.up();
        hdfs
    }

    /// `hdfs://127.0.0.1:<port>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("hdfs://127.0.0.1:{}/{path}", self.rpc_port)
    }

    /// Starts whatever of the two is not running, and waits until HDFS is writable.
    pub fn up(&self) {
        let out = self.stack(&["up", "hdfs"]);
        assert!(
            out.status.success(),
            "starting a private HDFS in {} failed (are the main stack's jars installed? \
             `scripts/stack install hdfs`):\n{}{}",
            self.dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the NameNode (the DataNode keeps running and re-registers when it is back).
    pub fn stop_namenode(&self) {
        let out = self.stack(&["down", "hdfs-namenode"]);
        assert!(
            out.status.success(),
            "stopping the private NameNode failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the DataNode (the NameNode still counts it live for minutes and places blocks on
    /// it, whose writes then fail).
    pub fn stop_datanode(&self) {
        let out = self.stack(&["down", "hdfs-datanode"]);
        assert!(
            out.status.success(),
            "stopping the private DataNode failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn stack(&self, args: &[&str]) -> Output {
        Command::new(repo_root().join("scripts/stack"))
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("run scripts/stack")
    }
}

impl Drop for PrivateHdfs {
    fn drop(&mut self) {
        let _ = self.stack(&["down", "hdfs"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
