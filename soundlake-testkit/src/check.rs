//! Does each service answer? Stack tests call [`require`] first.
//!
//! Without the stack (`cargo test` on a bare clone) a stack test is skipped, and the test binary
//! says so on one line. With `SOUNDLAKE_STACK_TESTS=required` (set by `make test` and CI) a
//! service that does not answer fails the test instead, so that a missing stack can never pass
//! for a green run.

use std::io::Write;
use std::sync::{Arc, Once};
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use tokio::net::TcpStream;

use crate::endpoints::StackEndpoints;
use crate::error::TestkitError;
use crate::service::Service;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const KAFKA_METADATA_TIMEOUT: Duration = Duration::from_secs(10);
const HDFS_RPC_TIMEOUT: Duration = Duration::from_secs(15);

/// The environment variable that turns a skipped stack test into a failed one.
pub const STACK_TESTS_VAR: &str = "SOUNDLAKE_STACK_TESTS";

/// Reads the endpoints from the environment and checks that every stack service answers.
///
/// Returns `None` when one does not and [`STACK_TESTS_VAR`] is not `required`: the caller
/// skips its test (`let Some(stack) = require_stack().await else { return };`), and the first
/// skip of the process prints one line naming the services and how to start them.
///
/// # Panics
///
/// When an environment variable is invalid, or a service does not answer while
/// [`STACK_TESTS_VAR`] is `required`, with a message that names each such service and how to
/// start it.
pub async fn require_stack() -> Option<StackEndpoints> {
    require(&Service::ALL).await
}

/// Like [`require_stack`], for the given services only.
///
/// # Panics
///
/// See [`require_stack`].
pub async fn require(services: &[Service]) -> Option<StackEndpoints> {
    let endpoints = match StackEndpoints::from_env() {
        Ok(endpoints) => endpoints,
        Err(err) => panic!("{err}"),
    };
    let failures = endpoints.failures(services).await;
    if failures.is_empty() {
        return Some(endpoints);
    }
    let message = describe(&failures);
    if stack_tests_required() {
        panic!("{message}");
    }
    announce_skip(&message);
    None
}

fn stack_tests_required() -> bool {
    std::env::var(STACK_TESTS_VAR).is_ok_and(|value| value.trim() == "required")
}

/// One line per test binary, written past the test harness's output capture.
fn announce_skip(message: &str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let first = message.lines().next().unwrap_or_default();
        let _ = writeln!(
            std::io::stderr(),
            "skipping the stack tests of this binary: {first} \
             ({STACK_TESTS_VAR}=required makes this fail)"
        );
    });
}

fn describe(failures: &[String]) -> String {
    match failures {
        [one] => one.clone(),
        many => format!(
            "{} stack services do not answer:\n  - {}",
            many.len(),
            many.join("\n  - ")
        ),
    }
}

impl StackEndpoints {
    /// Checks that `service` answers: Kafka serves metadata, the NameNode answers an RPC,
    /// the HTTP services answer their health endpoint.
    pub async fn check(&self, service: Service) -> Result<(), TestkitError> {
        let result = match service {
            Service::Kafka => self.probe_kafka().await,
            Service::Hdfs => self.probe_hdfs().await,
            Service::SchemaRegistry => {
                self.probe_http(&self.schema_registry_endpoint("subjects"))
                    .await
            }
            Service::ClickHouse => self.probe_clickhouse().await,
            Service::Prometheus => self.probe_http(&self.prometheus_endpoint("-/ready")).await,
        };
        result.map_err(|cause| TestkitError::NotAnswering {
            service,
            address: self.address_of(service),
            cause,
        })
    }

    /// Checks every service in `services`: one message per service that does not answer.
    async fn failures(&self, services: &[Service]) -> Vec<String> {
        let mut failures = Vec::new();
        for service in services {
            if let Err(err) = self.check(*service).await {
                failures.push(err.to_string());
            }
        }
        failures
    }

    async fn probe_kafka(&self) -> Result<(), String> {
        for broker in self.kafka_broker_list() {
            connect(broker).await?;
        }
        let admin: AdminClient<DefaultClientContext> = self
            .kafka_config()
            .create()
            .map_err(|err| format!("cannot create a Kafka client: {err}"))?;
        let admin = Arc::new(admin);
        let brokers = tokio::task::spawn_blocking(move || {
            admin
                .inner()
                .fetch_metadata(None, KAFKA_METADATA_TIMEOUT)
                .map(|metadata| metadata.brokers().len())
        })
        .await
        .map_err(|err| format!("the metadata request did not complete: {err}"))?
        .map_err(|err| format!("no metadata: {err}"))?;
        if brokers == 0 {
            return Err("the cluster reports no brokers".to_string());
        }
        Ok(())
    }

    async fn probe_hdfs(&self) -> Result<(), String> {
        connect(&self.hdfs_address()).await?;
        let client = self.hdfs_client().map_err(|err| err.to_string())?;
        let rpc = async {
            client
                .get_file_info("/")
                .await
                .map_err(|err| TestkitError::hdfs("reading the status of /", err))
        };
        within("the NameNode RPC `getFileInfo /`", HDFS_RPC_TIMEOUT, rpc)
            .await
            .map(drop)
            .map_err(|err| err.to_string())
    }

    async fn probe_clickhouse(&self) -> Result<(), String> {
        let body = self
            .http_get_text(&self.clickhouse_endpoint("ping"))
            .await?;
        if body.trim() != "Ok." {
            return Err(format!("/ping answered {body:?} instead of \"Ok.\""));
        }
        Ok(())
    }

    async fn probe_http(&self, url: &str) -> Result<(), String> {
        self.http_get_text(url).await.map(drop)
    }

    async fn http_get_text(&self, url: &str) -> Result<String, String> {
        let client = self.http_client().map_err(|err| err.to_string())?;
        let response = client
            .get(url)
            .send()
            .await
            .map_err(|err| format!("GET {url}: {}", error_chain(&err)))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|err| format!("GET {url}: reading the body: {}", error_chain(&err)))?;
        if !status.is_success() {
            return Err(format!(
                "GET {url} answered {status}: {}",
                first_line(&body)
            ));
        }
        Ok(body)
    }
}

async fn connect(address: &str) -> Result<(), String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await {
        Ok(Ok(_stream)) => Ok(()),
        Ok(Err(err)) => Err(format!("TCP connect to {address}: {err}")),
        Err(_) => Err(format!(
            "TCP connect to {address} timed out after {CONNECT_TIMEOUT:?}"
        )),
    }
}

/// An error and its causes on one line (reqwest hides "connection refused" in its sources).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn first_line(body: &str) -> &str {
    body.lines().next().unwrap_or_default()
}

/// Runs `future`, turning "took longer than `timeout`" into [`TestkitError::Timeout`].
async fn within<T>(
    action: impl Into<String>,
    timeout: Duration,
    future: impl std::future::Future<Output = Result<T, TestkitError>>,
) -> Result<T, TestkitError> {
    match tokio::time::timeout(timeout, future).await {
        Ok(result) => result,
        Err(_) => Err(TestkitError::Timeout {
            action: action.into(),
            timeout,
        }),
    }
}
