//! A client of a schema registry that speaks Confluent's REST API: registers a topic's schema
//! (asking again while the registry is briefly away) and fetches the schema of an id, caching
//! both.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::SchemaError;
use crate::retry::RetryPolicy;

const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
const HTTP_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How often a registration is tried when the registry is briefly away (a timeout, a refused
/// connection, HTTP 5xx or 429), and the first pause between tries (doubling).
const REGISTER_ATTEMPTS: u32 = 5;
const REGISTER_RETRY: RetryPolicy =
    RetryPolicy::new(Duration::from_millis(500)).with_max_retries(REGISTER_ATTEMPTS - 1);
const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

fn chain(err: &dyn std::error::Error) -> String {
    let mut s = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        s.push_str(": ");
        s.push_str(&e.to_string());
        cur = e.source();
    }
    s
}

/// A client of a Confluent-compatible schema registry, with in-memory caches (ids by subject
/// and schema, schemas by id). Cheap to share behind an `Arc`; methods take `&self`.
#[derive(Debug)]
pub struct RegistryClient {
    base: String,
    http: reqwest::Client,
    ids: Mutex<HashMap<(String, String), u32>>,
    schemas: Mutex<HashMap<u32, Arc<str>>>,
}

impl RegistryClient {
    /// A client for the registry whose API lives at `base_url` (`…/subjects` below it).
    pub fn new(base_url: &str) -> Result<RegistryClient, SchemaError> {
        let bad = |reason: &str| SchemaError::BadUrl {
            url: base_url.to_string(),
            reason: reason.to_string(),
        };
        let url = url::Url::parse(base_url).map_err(|e| bad(&e.to_string()))?;
        if url.scheme() != "http" {
            return Err(bad("only http:// is built in (no TLS)"));
        }
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(HTTP_CONNECT_TIMEOUT)
            .build()
            .map_err(|e| bad(&chain(&e)))?;
        Ok(RegistryClient {
            base: base_url.trim_end_matches('/').to_string(),
            http,
            ids: Mutex::new(HashMap::new()),
            schemas: Mutex::new(HashMap::new()),
        })
    }

    /// The registry's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Registers `schema` under `subject` (a no-op for the registry if it is already there) and
    /// returns its id.
    pub async fn register(&self, subject: &str, schema: &str) -> Result<u32, SchemaError> {
        let key = (subject.to_string(), schema.to_string());
        if let Some(&id) = lock(&self.ids).get(&key) {
            return Ok(id);
        }
        let url = format!("{}/subjects/{subject}/versions", self.base);
        let body = serde_json::json!({ "schema": schema, "schemaType": "AVRO" }).to_string();
        // Registering is idempotent, so a registry that is briefly away (busy, restarting) is
        // asked again a few times before the producer gives up.
        let json = REGISTER_RETRY
            .retry(
                &format!("registering the schema of {subject}"),
                SchemaError::is_transient,
                || {
                    let request = self
                        .http
                        .post(&url)
                        .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                        .body(body.clone());
                    self.call("POST", &url, request)
                },
            )
            .await
            .map_err(|err| match err {
                SchemaError::Http {
                    status: 409, body, ..
                } => SchemaError::Incompatible {
                    url: self.base.clone(),
                    subject: subject.to_string(),
                    reason: body,
                },
                other => other,
            })?;
        let id = read_id(&json).ok_or_else(|| SchemaError::BadResponse {
            url: url.clone(),
            expected: "{\"id\": <schema id>}",
            reason: json.to_string(),
        })?;
        lock(&self.ids).insert(key, id);
        lock(&self.schemas).insert(id, Arc::from(schema));
        Ok(id)
    }

    /// The schema text of `id` (asked once, then cached).
    pub async fn schema(&self, id: u32) -> Result<Arc<str>, SchemaError> {
        if let Some(s) = lock(&self.schemas).get(&id) {
            return Ok(Arc::clone(s));
        }
        let url = format!("{}/schemas/ids/{id}", self.base);
        let request = self
            .http
            .get(&url)
            .header(reqwest::header::ACCEPT, CONTENT_TYPE);
        let json = match self.call("GET", &url, request).await {
            Err(SchemaError::Http { status: 404, .. }) => {
                return Err(SchemaError::UnknownId {
                    id,
                    url: self.base.clone(),
                })
            }
            other => other?,
        };
        let text = json.get("schema").and_then(|s| s.as_str()).ok_or_else(|| {
            SchemaError::BadResponse {
                url: url.clone(),
                expected: "{\"schema\": <schema text>}",
                reason: json.to_string(),
            }
        })?;
        let text: Arc<str> = Arc::from(text);
        lock(&self.schemas).insert(id, Arc::clone(&text));
        Ok(text)
    }

    async fn call(
        &self,
        method: &'static str,
        url: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<serde_json::Value, SchemaError> {
        let response = request.send().await.map_err(|e| SchemaError::Unreachable {
            url: self.base.clone(),
            reason: chain(&e),
        })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| SchemaError::Unreachable {
                url: self.base.clone(),
                reason: chain(&e),
            })?;
        if !status.is_success() {
            return Err(SchemaError::Http {
                method,
                url: url.to_string(),
                status: status.as_u16(),
                body: text.chars().take(500).collect(),
            });
        }
        serde_json::from_str(&text).map_err(|e| SchemaError::BadResponse {
            url: url.to_string(),
            expected: "JSON",
            reason: e.to_string(),
        })
    }
}

fn read_id(json: &serde_json::Value) -> Option<u32> {
    json.get("id")
        .and_then(|v| v.as_u64())
        .and_then(|v| u32::try_from(v).ok())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A registry stand-in on 127.0.0.1 that answers its connections with `replies` (status,
    /// body) in turn, one request per connection; returns its base URL and the count of requests
    /// it has read. Only for the client's retry rules: the real registry is tested by the
    /// producer's and lander's stack tests.
    fn scripted_registry(
        replies: Vec<(u16, &'static str)>,
    ) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = Arc::clone(&served);
        std::thread::spawn(move || {
            for (status, body) in replies {
                let Ok((mut conn, _)) = listener.accept() else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // Read the head and the body the Content-Length announces.
                while let Ok(n @ 1..) = conn.read(&mut buf) {
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request);
                    if let Some(head_end) = text.find("\r\n\r\n") {
                        let length = text[..head_end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if request.len() >= head_end + 4 + length {
                            break;
                        }
                    }
                }
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(reply.as_bytes());
            }
        });
        (format!("http://{addr}/apis/ccompat/v7"), served)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn registration_tries_again_while_the_registry_is_briefly_away() {
        let (url, served) = scripted_registry(vec![
            (503, "{}"),
            (500, "{\"message\": \"busy\"}"),
            (200, "{\"id\": 42}"),
        ]);
        let client = RegistryClient::new(&url).expect("client");
        let id = block_on(client.register("t-value", "\"string\"")).expect("registered");
        assert_eq!(id, 42);
        assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 3);
        // Cached: no fourth request.
        let again = block_on(client.register("t-value", "\"string\"")).expect("cached");
        assert_eq!(again, 42);
        assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[test]
    fn registration_gives_up_after_its_attempts_and_never_retries_a_refusal() {
        let (url, served) = scripted_registry(vec![(503, "{}"); REGISTER_ATTEMPTS as usize + 1]);
        let client = RegistryClient::new(&url).expect("client");
        let err = block_on(client.register("t-value", "\"string\"")).expect_err("503s");
        assert!(
            matches!(err, SchemaError::Http { status: 503, .. }),
            "{err}"
        );
        assert_eq!(
            served.load(std::sync::atomic::Ordering::SeqCst),
            REGISTER_ATTEMPTS as usize
        );

        let (url, served) = scripted_registry(vec![(409, "{\"message\": \"incompatible\"}")]);
        let client = RegistryClient::new(&url).expect("client");
        let err = block_on(client.register("t-value", "\"string\"")).expect_err("409");
        assert!(matches!(err, SchemaError::Incompatible { .. }), "{err}");
        assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
