//! Writes stdin to an HDFS file through hdfs-native, creating parent folders and overwriting.
//!
//! ```text
//! cargo run -p soundlake-testkit --example hdfs_put -- hdfs://127.0.0.1:8020/some/path.csv < file
//! ```

use std::io::Read;
use std::process::ExitCode;

use bytes::Bytes;
use hdfs_native::{ClientBuilder, WriteOptions};
use url::Url;

const USAGE: &str = "usage: hdfs_put hdfs://HOST:PORT/PATH < FILE";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(message) => {
            eprintln!("{message}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("hdfs_put: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<String, String> {
    let (namenode, path) = parse_target(std::env::args().skip(1).collect())?;
    let mut data = Vec::new();
    std::io::stdin()
        .read_to_end(&mut data)
        .map_err(|err| format!("reading stdin: {err}"))?;
    let size = data.len();

    let client = ClientBuilder::new()
        .with_url(&namenode)
        .build()
        .map_err(|err| format!("connecting to {namenode}: {err}"))?;
    let options = WriteOptions::default().overwrite(true).create_parent(true);
    let mut writer = client
        .create(&path, options)
        .await
        .map_err(|err| format!("creating {path} on {namenode}: {err}"))?;
    writer
        .write_bytes(Bytes::from(data))
        .await
        .map_err(|err| format!("writing {path} on {namenode}: {err}"))?;
    writer
        .close()
        .await
        .map_err(|err| format!("closing {path} on {namenode}: {err}"))?;
    Ok(format!("wrote {size} bytes to {namenode}{path}"))
}

/// `hdfs://host:port/path` → (`hdfs://host:port`, `/path`).
fn parse_target(args: Vec<String>) -> Result<(String, String), String> {
    let [target] = args.as_slice() else {
        return Err(format!(
            "expected one argument, got {}\n{USAGE}",
            args.len()
        ));
    };
    let url = Url::parse(target).map_err(|err| format!("{target:?}: {err}\n{USAGE}"))?;
    let host = url.host_str().unwrap_or_default();
    if url.scheme() != "hdfs" || host.is_empty() {
        return Err(format!(
            "{target:?} is not an hdfs://HOST:PORT/PATH URL\n{USAGE}"
        ));
    }
    let path = url.path();
    if path.is_empty() || path.ends_with('/') {
        return Err(format!("{target:?} names no file\n{USAGE}"));
    }
    let namenode = match url.port() {
        Some(port) => format!("hdfs://{host}:{port}"),
        None => format!("hdfs://{host}"),
    };
    Ok((namenode, path.to_string()))
}
