//! The services of the local stack, as tests name them.

use std::fmt;

/// A service of the local stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Kafka,
    Hdfs,
    SchemaRegistry,
    ClickHouse,
    Prometheus,
}

impl Service {
    /// Every service, in the order `scripts/stack` starts them.
    pub const ALL: [Service; 5] = [
        Service::Hdfs,
        Service::Kafka,
        Service::SchemaRegistry,
        Service::ClickHouse,
        Service::Prometheus,
    ];

    /// The `scripts/stack` service name(s) that provide this service.
    pub fn stack_services(self) -> &'static str {
        match self {
            Service::Kafka => "kafka",
            Service::Hdfs => "hdfs-namenode hdfs-datanode",
            Service::SchemaRegistry => "schema-registry",
            Service::ClickHouse => "clickhouse",
            Service::Prometheus => "prometheus",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::Kafka => "Kafka",
            Service::Hdfs => "HDFS",
            Service::SchemaRegistry => "The schema registry",
            Service::ClickHouse => "ClickHouse",
            Service::Prometheus => "Prometheus",
        })
    }
}
