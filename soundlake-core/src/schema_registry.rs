//! Avro schema ids for the Confluent wire format ([`crate::wire`]): from a schema registry that
//! speaks Confluent's REST API, or — with no registry — from the schema files of
//! `schema-registry/` and the fixed ids of `schema-registry/ids.json`.
//!
//! - The producer asks [`SchemaSource::id_for`] the id of a topic's current schema (registered
//!   under the subject `<kafka topic>-value` in registry mode; the file id otherwise).
//! - The consumer asks [`SchemaSource::writer_schema`] the schema text of an id it read from a
//!   record (fetched from the registry once, then cached; or looked up in the files).
//!
//! The schema files and `ids.json` are compiled in ([`FileSchemas::embedded`]), so a binary needs
//! no checkout; [`FileSchemas::load`] reads another copy of the folder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::event::Topic;
use crate::retry::RetryPolicy;

/// What `--schema-registry-url` (or a config) says to mean "no registry: use the schema files".
pub const NO_REGISTRY: &str = "none";
/// The local stack's registry (Apicurio's Confluent-compatible API).
pub const DEFAULT_REGISTRY_URL: &str = "http://127.0.0.1:8081/apis/ccompat/v7";

const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
const HTTP_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How often a registration is tried when the registry is briefly away (a timeout, a refused
/// connection, HTTP 5xx or 429), and the first pause between tries (doubling).
const REGISTER_ATTEMPTS: u32 = 5;
const REGISTER_RETRY: RetryPolicy =
    RetryPolicy::new(Duration::from_millis(500)).with_max_retries(REGISTER_ATTEMPTS - 1);
const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

const IDS_JSON: &str = include_str!("../../schema-registry/ids.json");

/// The schema text of `topic` as shipped in `schema-registry/<topic>.avsc` (compiled in).
pub const fn schema_text(topic: Topic) -> &'static str {
    match topic {
        Topic::Listen => include_str!("../../schema-registry/listen_events.avsc"),
        Topic::PageView => include_str!("../../schema-registry/page_view_events.avsc"),
        Topic::Auth => include_str!("../../schema-registry/auth_events.avsc"),
        Topic::StatusChange => include_str!("../../schema-registry/status_change_events.avsc"),
    }
}

/// The registry subject of a topic's values (Confluent's `TopicNameStrategy`).
pub fn value_subject(kafka_topic: &str) -> String {
    format!("{kafka_topic}-value")
}

/// Why a schema or an id could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("schema registry at {url} does not answer ({reason}): start it with `scripts/stack up schema-registry`, or pass --schema-registry-url none to use the schema files of schema-registry/ and their ids in ids.json")]
    Unreachable { url: String, reason: String },
    #[error("schema registry: {method} {url} answered HTTP {status}: {body}")]
    Http {
        method: &'static str,
        url: String,
        status: u16,
        body: String,
    },
    #[error("schema registry at {url} refuses the schema of subject {subject} as incompatible with the versions registered there ({reason}); if those are leftovers, delete the subject (curl -X DELETE {url}/subjects/{subject}, then again with ?permanent=true), or write to other topics (e.g. eventsim --topic-prefix)")]
    Incompatible {
        url: String,
        subject: String,
        reason: String,
    },
    #[error("schema registry: {url} answered something that is not {expected}: {reason}")]
    BadResponse {
        url: String,
        expected: &'static str,
        reason: String,
    },
    #[error("schema registry URL {url:?} is not an http:// URL ({reason}); give its base, e.g. {DEFAULT_REGISTRY_URL}, or `none`")]
    BadUrl { url: String, reason: String },
    #[error("schema id {id} is unknown to the schema registry at {url}: the record was written with a schema of another registry (check --schema-registry-url)")]
    UnknownId { id: u32, url: String },
    #[error("schema id {id} is none of the file ids in {where_} ({known}): the record was written with a registry's id; configure that registry instead of `none`")]
    UnknownFileId {
        id: u32,
        where_: String,
        known: String,
    },
    #[error("schema files {where_}: {reason}")]
    Files { where_: String, reason: String },
}

impl SchemaError {
    /// Whether asking again later may succeed: the registry did not answer in time, refused the
    /// connection, or answered HTTP 5xx or 429.
    pub fn is_transient(&self) -> bool {
        match self {
            SchemaError::Unreachable { .. } => true,
            SchemaError::Http { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

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

/// The no-registry mode: each topic's current schema is its `.avsc` file, with the fixed id
/// given in `ids.json` (`{"<topic>": <id>, …}`).
#[derive(Debug, Clone)]
pub struct FileSchemas {
    /// Where they come from, for messages.
    origin: String,
    ids: [u32; 4],
    texts: [Arc<str>; 4],
}

impl FileSchemas {
    /// The schema files and ids compiled into the binary (the repository's `schema-registry/`).
    pub fn embedded() -> FileSchemas {
        let ids = parse_ids(IDS_JSON, "schema-registry/ids.json (built in)")
            .unwrap_or_else(|e| panic!("the built-in schema-registry/ids.json is broken: {e}"));
        FileSchemas {
            origin: "schema-registry/ids.json (built in)".to_string(),
            ids,
            texts: Topic::ALL.map(|t| Arc::from(schema_text(t))),
        }
    }

    /// Reads `dir/ids.json` and `dir/<topic>.avsc` of every topic.
    pub fn load(dir: &Path) -> Result<FileSchemas, SchemaError> {
        let read = |path: PathBuf| {
            std::fs::read_to_string(&path).map_err(|e| SchemaError::Files {
                where_: path.display().to_string(),
                reason: format!("cannot read it: {e}"),
            })
        };
        let ids_path = dir.join("ids.json");
        let origin = ids_path.display().to_string();
        let ids = parse_ids(&read(ids_path)?, &origin)?;
        let mut texts = Topic::ALL.map(|_| Arc::<str>::from(""));
        for t in Topic::ALL {
            texts[t.index()] = Arc::from(read(dir.join(t.schema_file()))?);
        }
        Ok(FileSchemas { origin, ids, texts })
    }

    /// The fixed id of `topic`'s schema.
    pub fn id_of(&self, topic: Topic) -> u32 {
        self.ids[topic.index()]
    }

    /// The topic whose schema has this id.
    pub fn topic_of(&self, id: u32) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| self.ids[t.index()] == id)
    }

    /// The schema text of `topic`.
    pub fn text(&self, topic: Topic) -> Arc<str> {
        Arc::clone(&self.texts[topic.index()])
    }

    /// The schema text of `id`.
    pub fn schema(&self, id: u32) -> Result<Arc<str>, SchemaError> {
        self.topic_of(id)
            .map(|t| self.text(t))
            .ok_or_else(|| SchemaError::UnknownFileId {
                id,
                where_: self.origin.clone(),
                known: Topic::ALL
                    .iter()
                    .map(|t| format!("{t} {}", self.id_of(*t)))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

fn parse_ids(text: &str, origin: &str) -> Result<[u32; 4], SchemaError> {
    let err = |reason: String| SchemaError::Files {
        where_: origin.to_string(),
        reason,
    };
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| err(format!("not JSON: {e}")))?;
    let obj = json
        .as_object()
        .ok_or_else(|| err("expected an object {\"<topic>\": <id>, …}".to_string()))?;
    for key in obj.keys() {
        if Topic::from_name(key).is_none() {
            return Err(err(format!("{key:?} is not a topic")));
        }
    }
    let mut ids = [0u32; 4];
    for t in Topic::ALL {
        let v = obj
            .get(t.name())
            .ok_or_else(|| err(format!("no id for {t}")))?;
        ids[t.index()] = v
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .filter(|&v| v > 0)
            .ok_or_else(|| err(format!("{t}: expected a positive 32-bit id, found {v}")))?;
    }
    for t in Topic::ALL {
        if Topic::ALL
            .iter()
            .any(|u| u != &t && ids[u.index()] == ids[t.index()])
        {
            return Err(err(format!(
                "{t} shares its id {} with another topic",
                ids[t.index()]
            )));
        }
    }
    Ok(ids)
}

/// Where schema ids come from: a registry, or the schema files.
#[derive(Debug, Clone)]
pub enum SchemaSource {
    Registry(Arc<RegistryClient>),
    Files(Arc<FileSchemas>),
}

impl SchemaSource {
    /// From an option's value: `none` (any case) means the built-in files; anything else is
    /// the registry's base URL.
    pub fn from_option(value: &str) -> Result<SchemaSource, SchemaError> {
        let v = value.trim();
        if v.eq_ignore_ascii_case(NO_REGISTRY) {
            Ok(SchemaSource::Files(Arc::new(FileSchemas::embedded())))
        } else {
            Ok(SchemaSource::Registry(Arc::new(RegistryClient::new(v)?)))
        }
    }

    /// What to show in messages: the registry's URL, or `schema files`.
    pub fn describe(&self) -> String {
        match self {
            SchemaSource::Registry(r) => format!("schema registry {}", r.url()),
            SchemaSource::Files(f) => format!("schema files ({})", f.origin),
        }
    }

    /// The id of `topic`'s current schema on the Kafka topic `kafka_topic` (which may carry a
    /// prefix): registered under `<kafka_topic>-value` in registry mode, the file id otherwise.
    pub async fn id_for(&self, kafka_topic: &str, topic: Topic) -> Result<u32, SchemaError> {
        match self {
            SchemaSource::Registry(r) => {
                r.register(&value_subject(kafka_topic), schema_text(topic))
                    .await
            }
            SchemaSource::Files(f) => Ok(f.id_of(topic)),
        }
    }

    /// The writer schema of a record framed with `id` (see [`crate::wire::parse`]).
    pub async fn writer_schema(&self, id: u32) -> Result<Arc<str>, SchemaError> {
        match self {
            SchemaSource::Registry(r) => r.schema(id).await,
            SchemaSource::Files(f) => f.schema(id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_files_have_distinct_ids_and_their_topic_names() {
        let f = FileSchemas::embedded();
        for t in Topic::ALL {
            let id = f.id_of(t);
            assert_eq!(f.topic_of(id), Some(t));
            let text = f.schema(id).expect("schema");
            let json: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
            let fields: Vec<&str> = json["fields"]
                .as_array()
                .expect("fields")
                .iter()
                .map(|f| f["name"].as_str().expect("name"))
                .collect();
            assert_eq!(fields, t.fields(), "{t}");
        }
        let err = f.schema(1).expect_err("id 1 is no file id").to_string();
        assert!(err.contains("listen_events 1000001"), "{err}");
    }

    #[test]
    fn load_reads_the_folder_like_the_embedded_copy() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema-registry");
        let f = FileSchemas::load(&dir).expect("load");
        let e = FileSchemas::embedded();
        for t in Topic::ALL {
            assert_eq!(f.id_of(t), e.id_of(t));
            assert_eq!(f.text(t), e.text(t));
        }
        let missing = FileSchemas::load(Path::new("/nonexistent")).expect_err("missing");
        assert!(
            missing.to_string().contains("/nonexistent/ids.json"),
            "{missing}"
        );
    }

    #[test]
    fn bad_ids_files_are_rejected_with_the_reason() {
        let cases = [
            ("[]", "expected an object"),
            ("{\"x\": 1}", "\"x\" is not a topic"),
            ("{\"listen_events\": 1}", "no id for page_view_events"),
            (
                r#"{"listen_events": 1, "page_view_events": 1, "auth_events": 3, "status_change_events": 4}"#,
                "shares its id 1",
            ),
            (
                r#"{"listen_events": -1, "page_view_events": 2, "auth_events": 3, "status_change_events": 4}"#,
                "expected a positive 32-bit id",
            ),
        ];
        for (text, want) in cases {
            let err = parse_ids(text, "ids.json").expect_err(text).to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

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

    #[test]
    fn transient_errors() {
        let http = |status| SchemaError::Http {
            method: "POST",
            url: String::new(),
            status,
            body: String::new(),
        };
        assert!(http(500).is_transient());
        assert!(http(503).is_transient());
        assert!(http(429).is_transient());
        assert!(!http(404).is_transient());
        assert!(!http(409).is_transient());
        assert!(SchemaError::Unreachable {
            url: String::new(),
            reason: String::new()
        }
        .is_transient());
        assert!(!SchemaError::UnknownId {
            id: 1,
            url: String::new()
        }
        .is_transient());
    }

    #[test]
    fn option_values() {
        assert!(matches!(
            SchemaSource::from_option("None"),
            Ok(SchemaSource::Files(_))
        ));
        assert!(matches!(
            SchemaSource::from_option(DEFAULT_REGISTRY_URL),
            Ok(SchemaSource::Registry(_))
        ));
        let err = SchemaSource::from_option("https://example.invalid/")
            .expect_err("no TLS")
            .to_string();
        assert!(err.contains("only http://"), "{err}");
        assert!(SchemaSource::from_option("not a url").is_err());
        assert_eq!(value_subject("t"), "t-value");
    }
}
