//! Where the stack's services listen, read from the environment.

use std::time::Duration;

use rdkafka::ClientConfig;
use url::Url;

use crate::error::TestkitError;
use crate::service::Service;

pub(crate) const ENV_KAFKA: &str = "SOUNDLAKE_KAFKA_BROKERS";
pub(crate) const ENV_HDFS: &str = "SOUNDLAKE_HDFS_URL";
pub(crate) const ENV_CLICKHOUSE: &str = "SOUNDLAKE_CLICKHOUSE_URL";
pub(crate) const ENV_SCHEMA_REGISTRY: &str = "SOUNDLAKE_SCHEMA_REGISTRY_URL";
pub(crate) const ENV_PROMETHEUS: &str = "SOUNDLAKE_PROMETHEUS_URL";

const DEFAULT_KAFKA: &str = "127.0.0.1:9092";
const DEFAULT_HDFS: &str = "hdfs://127.0.0.1:8020";
const DEFAULT_CLICKHOUSE: &str = "http://127.0.0.1:8123";
const DEFAULT_SCHEMA_REGISTRY: &str = "http://127.0.0.1:8081/apis/ccompat/v7";
const DEFAULT_PROMETHEUS: &str = "http://127.0.0.1:9090";

/// The NameNode RPC port used when an `hdfs://` URL names none.
const HDFS_DEFAULT_PORT: u16 = 8020;

/// Timeout of one HTTP request made by the testkit.
pub(crate) const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
const HTTP_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The addresses of the stack's services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEndpoints {
    /// Kafka bootstrap servers, `host:port[,host:port…]`.
    pub kafka_brokers: String,
    /// HDFS NameNode, `hdfs://host:port` (no path).
    pub hdfs_url: Url,
    /// ClickHouse HTTP interface, e.g. `http://127.0.0.1:8123`.
    pub clickhouse_url: Url,
    /// Base URL of the Confluent-compatible schema registry API (`…/subjects` lives below it).
    pub schema_registry_url: Url,
    /// Prometheus server, e.g. `http://127.0.0.1:9090`.
    pub prometheus_url: Url,
}

impl Default for StackEndpoints {
    /// The addresses `scripts/stack` uses when no environment variable overrides them.
    fn default() -> Self {
        // The defaults are constants of this file; `from_values` accepts each of them.
        Self::from_values(|_| None).unwrap_or_else(|err| unreachable!("bad default: {err}"))
    }
}

impl StackEndpoints {
    /// Reads the endpoints from `SOUNDLAKE_KAFKA_BROKERS` (default `127.0.0.1:9092`),
    /// `SOUNDLAKE_HDFS_URL` (`hdfs://127.0.0.1:8020`), `SOUNDLAKE_CLICKHOUSE_URL`
    /// (`http://127.0.0.1:8123`), `SOUNDLAKE_SCHEMA_REGISTRY_URL`
    /// (`http://127.0.0.1:8081/apis/ccompat/v7`) and `SOUNDLAKE_PROMETHEUS_URL`
    /// (`http://127.0.0.1:9090`). An empty variable counts as unset.
    pub fn from_env() -> Result<Self, TestkitError> {
        Self::from_values(|var| std::env::var(var).ok())
    }

    /// Builds the endpoints from a lookup of the environment variables (`None` = default).
    pub fn from_values(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, TestkitError> {
        let value = |var: &'static str, default: &str| {
            lookup(var)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        Ok(Self {
            kafka_brokers: parse_brokers(ENV_KAFKA, &value(ENV_KAFKA, DEFAULT_KAFKA))?,
            hdfs_url: parse_hdfs_url(ENV_HDFS, &value(ENV_HDFS, DEFAULT_HDFS))?,
            clickhouse_url: parse_http_url(
                ENV_CLICKHOUSE,
                &value(ENV_CLICKHOUSE, DEFAULT_CLICKHOUSE),
            )?,
            schema_registry_url: parse_http_url(
                ENV_SCHEMA_REGISTRY,
                &value(ENV_SCHEMA_REGISTRY, DEFAULT_SCHEMA_REGISTRY),
            )?,
            prometheus_url: parse_http_url(
                ENV_PROMETHEUS,
                &value(ENV_PROMETHEUS, DEFAULT_PROMETHEUS),
            )?,
        })
    }

    /// The Kafka broker addresses, one `host:port` each.
    pub fn kafka_broker_list(&self) -> Vec<&str> {
        self.kafka_brokers.split(',').map(str::trim).collect()
    }

    /// An rdkafka configuration with `bootstrap.servers` set; add what the client needs.
    pub fn kafka_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.kafka_brokers)
            .set("socket.timeout.ms", "10000")
            .set("message.timeout.ms", "30000");
        config
    }

    /// `host:port` of the NameNode.
    pub fn hdfs_address(&self) -> String {
        format!(
            "{}:{}",
            self.hdfs_url.host_str().unwrap_or_default(),
            self.hdfs_url.port().unwrap_or(HDFS_DEFAULT_PORT)
        )
    }

    /// The NameNode URL as hdfs-native's `ClientBuilder::with_url` wants it (`hdfs://host:port`).
    pub fn hdfs_namenode(&self) -> String {
        format!("hdfs://{}", self.hdfs_address())
    }

    /// A fully qualified `hdfs://host:port/path` URL for an absolute HDFS `path`.
    pub fn hdfs_url_for(&self, path: &str) -> String {
        format!("{}/{}", self.hdfs_namenode(), path.trim_start_matches('/'))
    }

    /// A new hdfs-native client for the NameNode (call it inside a tokio runtime).
    pub fn hdfs_client(&self) -> Result<hdfs_native::Client, TestkitError> {
        hdfs_client(&self.hdfs_namenode())
    }

    /// A ClickHouse client for the server, bound to no database, with row validation off
    /// (the local ClickHouse 18.16 lacks `RowBinaryWithNamesAndTypes`).
    pub fn clickhouse_client(&self) -> clickhouse::Client {
        clickhouse_client(&self.clickhouse_url)
    }

    /// An HTTP client with short timeouts, for the registry, Prometheus and ClickHouse's HTTP API.
    pub fn http_client(&self) -> Result<reqwest::Client, TestkitError> {
        reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(HTTP_CONNECT_TIMEOUT)
            .build()
            .map_err(|err| TestkitError::http("building an HTTP client", err))
    }

    /// `path` below the schema registry's base URL, e.g. `schema_registry_endpoint("subjects")`.
    pub fn schema_registry_endpoint(&self, path: &str) -> String {
        join_url(&self.schema_registry_url, path)
    }

    /// `path` below Prometheus' base URL, e.g. `prometheus_endpoint("metrics")`.
    pub fn prometheus_endpoint(&self, path: &str) -> String {
        join_url(&self.prometheus_url, path)
    }

    /// `path` below ClickHouse's HTTP base URL, e.g. `clickhouse_endpoint("ping")`.
    pub fn clickhouse_endpoint(&self, path: &str) -> String {
        join_url(&self.clickhouse_url, path)
    }

    /// What to show as the address of `service` in messages.
    pub fn address_of(&self, service: Service) -> String {
        match service {
            Service::Kafka => self.kafka_brokers.clone(),
            Service::Hdfs => self.hdfs_address(),
            Service::SchemaRegistry => display_url(&self.schema_registry_url),
            Service::ClickHouse => display_url(&self.clickhouse_url),
            Service::Prometheus => display_url(&self.prometheus_url),
        }
    }
}

pub(crate) fn hdfs_client(namenode: &str) -> Result<hdfs_native::Client, TestkitError> {
    hdfs_native::ClientBuilder::new()
        .with_url(namenode)
        .build()
        .map_err(|err| TestkitError::hdfs(format!("connecting a client to {namenode}"), err))
}

pub(crate) fn clickhouse_client(url: &Url) -> clickhouse::Client {
    clickhouse::Client::default()
        .with_url(url.as_str().trim_end_matches('/'))
        .with_validation(false)
}

/// `base` + `/` + `path`, whatever slashes either side has.
pub(crate) fn join_url(base: &Url, path: &str) -> String {
    format!(
        "{}/{}",
        base.as_str().trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

fn display_url(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_string()
}

fn invalid(var: &'static str, value: &str, reason: impl Into<String>) -> TestkitError {
    TestkitError::InvalidEnv {
        var,
        value: value.to_string(),
        reason: reason.into(),
    }
}

fn parse_brokers(var: &'static str, value: &str) -> Result<String, TestkitError> {
    for broker in value.split(',').map(str::trim) {
        let (host, port) = broker
            .rsplit_once(':')
            .ok_or_else(|| invalid(var, value, format!("{broker:?} is not host:port")))?;
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(invalid(var, value, format!("{broker:?} is not host:port")));
        }
    }
    Ok(value.to_string())
}

fn parse_hdfs_url(var: &'static str, value: &str) -> Result<Url, TestkitError> {
    let url = Url::parse(value).map_err(|err| invalid(var, value, err.to_string()))?;
    if url.scheme() != "hdfs" {
        return Err(invalid(var, value, "the scheme must be hdfs://"));
    }
    if !url.has_host() {
        return Err(invalid(var, value, "the URL must name the NameNode host"));
    }
    if !matches!(url.path(), "" | "/") {
        return Err(invalid(var, value, "the URL must name no path"));
    }
    Ok(url)
}

fn parse_http_url(var: &'static str, value: &str) -> Result<Url, TestkitError> {
    let url = Url::parse(value).map_err(|err| invalid(var, value, err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(invalid(
            var,
            value,
            "expected an http:// or https:// URL with a host",
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_stack() {
        let stack = StackEndpoints::default();
        assert_eq!(stack.kafka_brokers, "127.0.0.1:9092");
        assert_eq!(stack.hdfs_namenode(), "hdfs://127.0.0.1:8020");
        assert_eq!(
            stack.clickhouse_endpoint("ping"),
            "http://127.0.0.1:8123/ping"
        );
        assert_eq!(
            stack.schema_registry_endpoint("/subjects"),
            "http://127.0.0.1:8081/apis/ccompat/v7/subjects"
        );
        assert_eq!(
            stack.prometheus_endpoint("metrics"),
            "http://127.0.0.1:9090/metrics"
        );
        assert_eq!(
            stack.hdfs_url_for("/a/b.csv"),
            "hdfs://127.0.0.1:8020/a/b.csv"
        );
    }

    #[test]
    fn variables_override_defaults() {
        let stack = StackEndpoints::from_values(|var| match var {
            ENV_KAFKA => Some("localhost:19092,localhost:19093".into()),
            ENV_HDFS => Some("hdfs://nn:9000".into()),
            ENV_PROMETHEUS => Some("  ".into()),
            _ => None,
        })
        .expect("valid values");
        assert_eq!(
            stack.kafka_broker_list(),
            ["localhost:19092", "localhost:19093"]
        );
        assert_eq!(stack.hdfs_address(), "nn:9000");
        assert_eq!(stack.prometheus_url.as_str(), "http://127.0.0.1:9090/");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let bad = [
            (ENV_KAFKA, "localhost"),
            (ENV_KAFKA, "localhost:port"),
            (ENV_HDFS, "http://nn:8020"),
            (ENV_HDFS, "hdfs://nn:8020/data"),
            (ENV_CLICKHOUSE, "127.0.0.1:8123"),
        ];
        for (bad_var, bad_value) in bad {
            let err = StackEndpoints::from_values(|var| (var == bad_var).then(|| bad_value.into()))
                .expect_err(bad_value);
            assert!(err.to_string().contains(bad_var), "{err}");
        }
    }

    #[test]
    fn not_answering_says_how_to_start() {
        let err = TestkitError::NotAnswering {
            service: Service::Kafka,
            address: "127.0.0.1:9092".into(),
            cause: "connection refused".into(),
        };
        assert_eq!(
            err.to_string(),
            "Kafka does not answer on 127.0.0.1:9092: start the stack with `make stack-up` \
             (or `scripts/stack up kafka`) [connection refused]"
        );
    }
}
