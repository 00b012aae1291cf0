//! Writer schemas of the records' ids, from the schema registry (or the schema files).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use soundlake_core::retry::RetryPolicy;
use soundlake_core::schema_registry::{SchemaError, SchemaSource};
use tokio::runtime::Runtime;
use tracing::warn;

/// How a writer schema waits for a registry that does not answer: without limit (its records
/// are never quarantined for an outage).
const REGISTRY_AWAY: RetryPolicy = RetryPolicy::new(Duration::from_millis(500));

/// The writer schema of `id`, or why it cannot be had. A registry that does not answer is
/// waited for (its records are not quarantined for an outage).
pub(super) fn resolve_schema(
    rt: &Runtime,
    schemas: &SchemaSource,
    id: u32,
    shutdown: &AtomicBool,
) -> Result<String, String> {
    let transient = |err: &SchemaError| {
        let transient = err.is_transient();
        // Never quarantine for an outage; SIGKILL still works, and nothing is lost.
        if transient && shutdown.load(Ordering::SeqCst) {
            warn!("shutdown requested while the registry is away: still waiting");
        }
        transient
    };
    REGISTRY_AWAY
        .retry_blocking(
            "asking for a writer schema (the schema registry is away; waiting)",
            transient,
            || rt.block_on(schemas.writer_schema(id)),
        )
        .map(|text| text.to_string())
        .map_err(|err| err.to_string())
}
