//! A Kafka topic that exists for one test.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;

use crate::cleanup::run_blocking;
use crate::endpoints::StackEndpoints;
use crate::error::TestkitError;
use crate::names::unique_name;

type Admin = AdminClient<DefaultClientContext>;

const ADMIN_TIMEOUT: Duration = Duration::from_secs(15);
const METADATA_WAIT: Duration = Duration::from_secs(30);
const METADATA_POLL: Duration = Duration::from_millis(200);

/// A topic with a unique name, created with N partitions (replication factor 1) and deleted by
/// [`TestTopic::cleanup`] — or, as a fallback, when dropped.
pub struct TestTopic {
    name: String,
    partitions: i32,
    config: ClientConfig,
    admin: Arc<Admin>,
    cleaned_up: bool,
}

impl TestTopic {
    /// Creates `<prefix>_<pid>_<millis>_<n>` with `partitions` partitions and waits until the
    /// cluster's metadata shows every partition with a leader.
    pub async fn create(
        endpoints: &StackEndpoints,
        prefix: &str,
        partitions: i32,
    ) -> Result<Self, TestkitError> {
        Self::create_with_config(endpoints, prefix, partitions, &[]).await
    }

    /// Like [`TestTopic::create`], with topic configs such as `("retention.ms", "-1")`.
    pub async fn create_with_config(
        endpoints: &StackEndpoints,
        prefix: &str,
        partitions: i32,
        topic_config: &[(&str, &str)],
    ) -> Result<Self, TestkitError> {
        let name = unique_name(prefix);
        let config = endpoints.kafka_config();
        let admin = Arc::new(new_admin(&config)?);
        let mut new_topic = NewTopic::new(&name, partitions, TopicReplication::Fixed(1));
        for (key, value) in topic_config {
            new_topic = new_topic.set(key, value);
        }
        let results = admin
            .create_topics([&new_topic], &admin_options())
            .await
            .map_err(|err| TestkitError::kafka(format!("creating topic {name}"), err))?;
        for result in results {
            result.map_err(|(topic, code)| TestkitError::KafkaTopic {
                action: "creating the topic".to_string(),
                topic,
                code,
            })?;
        }
        // From here on, Drop deletes the topic if waiting fails.
        let topic = Self {
            name,
            partitions,
            config,
            admin,
            cleaned_up: false,
        };
        topic.wait_until_visible().await?;
        Ok(topic)
    }

    /// The topic's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The number of partitions it was created with.
    pub fn partitions(&self) -> i32 {
        self.partitions
    }

    /// The client configuration used for it (`bootstrap.servers` set), to build producers and
    /// consumers from.
    pub fn client_config(&self) -> ClientConfig {
        self.config.clone()
    }

    /// Deletes the topic. A topic already gone counts as deleted.
    pub async fn cleanup(mut self) -> Result<(), TestkitError> {
        self.cleaned_up = true;
        delete_topic(&self.admin, &self.name).await
    }

    async fn wait_until_visible(&self) -> Result<(), TestkitError> {
        let deadline = Instant::now() + METADATA_WAIT;
        loop {
            let ready = self.partitions_with_leader().await?;
            if ready == Some(self.partitions) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(TestkitError::Timeout {
                    action: format!(
                        "waiting for topic {} to show {} partitions with leaders (last seen: {ready:?})",
                        self.name, self.partitions
                    ),
                    timeout: METADATA_WAIT,
                });
            }
            tokio::time::sleep(METADATA_POLL).await;
        }
    }

    /// How many partitions the metadata shows with a leader; `None` while the topic is unknown.
    async fn partitions_with_leader(&self) -> Result<Option<i32>, TestkitError> {
        let admin = Arc::clone(&self.admin);
        let name = self.name.clone();
        let fetched = tokio::task::spawn_blocking(move || {
            let metadata = admin.inner().fetch_metadata(Some(&name), ADMIN_TIMEOUT)?;
            let ready = metadata
                .topics()
                .iter()
                .find(|topic| topic.name() == name && topic.error().is_none())
                .map(|topic| {
                    topic
                        .partitions()
                        .iter()
                        .filter(|p| p.error().is_none() && p.leader() >= 0)
                        .count()
                });
            Ok(ready)
        })
        .await
        .map_err(|source| TestkitError::Task {
            action: format!("reading the metadata of topic {}", self.name),
            source,
        })?
        .map_err(|err| {
            TestkitError::kafka(format!("reading the metadata of topic {}", self.name), err)
        })?;
        Ok(fetched.map(|count| i32::try_from(count).unwrap_or(i32::MAX)))
    }
}

impl Drop for TestTopic {
    fn drop(&mut self) {
        if self.cleaned_up {
            return;
        }
        let name = self.name.clone();
        let config = self.config.clone();
        run_blocking(format!("Kafka topic {name}"), move || async move {
            let admin = new_admin(&config)?;
            delete_topic(&admin, &name).await
        });
    }
}

fn new_admin(config: &ClientConfig) -> Result<Admin, TestkitError> {
    config
        .create()
        .map_err(|err| TestkitError::kafka("creating a Kafka admin client", err))
}

fn admin_options() -> AdminOptions {
    AdminOptions::new()
        .operation_timeout(Some(ADMIN_TIMEOUT))
        .request_timeout(Some(ADMIN_TIMEOUT))
}

async fn delete_topic(admin: &Admin, name: &str) -> Result<(), TestkitError> {
    let results = admin
        .delete_topics(&[name], &admin_options())
        .await
        .map_err(|err| TestkitError::kafka(format!("deleting topic {name}"), err))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
            Err((topic, code)) => {
                return Err(TestkitError::KafkaTopic {
                    action: "deleting the topic".to_string(),
                    topic,
                    code,
                })
            }
        }
    }
    Ok(())
}
