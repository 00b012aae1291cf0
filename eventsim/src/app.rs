//! Running a [`Plan`] into its output (summed up by [`crate::summary`]), with telemetry if
//! asked for.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use soundlake_core::event::Topic;
use soundlake_core::schema_registry::SchemaSource;
use soundlake_core::telemetry::Telemetry;

use crate::cli::Cli;
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::plan::{Output, Plan};
use crate::progress::Progress;
use crate::run::{run_batch, run_time_ordered, Pacing, Summary};
use crate::sinks::avro::AvroEncoder;
use crate::sinks::files::FileSink;
use crate::sinks::json::{Fragments, JsonEncoder};
use crate::sinks::kafka::{ensure_topics, KafkaOptions, KafkaSink};
use crate::sinks::stdout::StdoutSink;
use crate::sinks::{Encoder, Sink, SinkError};

/// How records are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// JSON lines (files, stdout).
    Json,
    /// Avro in the Confluent wire format, with these schema ids (by `Topic::index`).
    Avro { schema_ids: [u32; 4] },
}

/// Serves eventsim's metrics on `--metrics-addr`, if given.
pub fn start_telemetry(cli: &Cli) -> Result<Option<Telemetry>, AppError> {
    match cli.metrics_addr {
        Some(addr) => Ok(Some(Telemetry::init("eventsim", Some(addr))?)),
        None => Ok(None),
    }
}

/// Runs a plan to completion (or until `stop` in continuous mode), into the plan's output.
pub fn execute(plan: &Plan, stop: &AtomicBool) -> Result<Summary, AppError> {
    execute_with_telemetry(plan, stop, None)
}

/// [`execute`], counting what is produced (and, with Kafka, delivered) into `telemetry`.
pub fn execute_with_telemetry(
    plan: &Plan,
    stop: &AtomicBool,
    telemetry: Option<&Telemetry>,
) -> Result<Summary, AppError> {
    let (mut sink, encoding, deliveries): (Box<dyn Sink>, Encoding, _) = match &plan.output {
        Output::Dir(dir) => (Box::new(FileSink::create(dir)?), Encoding::Json, None),
        Output::Stdout => (Box::new(StdoutSink::new()), Encoding::Json, None),
        Output::Kafka { options, schemas } => {
            let (sink, schema_ids) = connect_kafka(options, schemas)?;
            let deliveries = Some(sink.delivery_counts());
            (Box::new(sink), Encoding::Avro { schema_ids }, deliveries)
        }
    };
    match telemetry {
        Some(t) => {
            let metrics = Metrics::register(t, deliveries);
            execute_encoded(plan, encoding, &mut metrics.meter(sink.as_mut()), stop)
        }
        None => execute_encoded(plan, encoding, sink.as_mut(), stop),
    }
}

/// Connects to Kafka, creates the missing topics and gets the schema id of each topic.
pub fn connect_kafka(
    options: &KafkaOptions,
    schemas: &str,
) -> Result<(KafkaSink, [u32; 4]), AppError> {
    let source = SchemaSource::from_option(schemas)?;
    let sink = KafkaSink::connect(options)?;
    let topics = options.topic_names();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            AppError::Sink(SinkError {
                what: "cannot start an async runtime for the schema registry".to_string(),
                source: e,
            })
        })?;
    let schema_ids = runtime.block_on(async {
        ensure_topics(&options.brokers, &topics, options.partitions).await?;
        let mut ids = [0u32; 4];
        for t in Topic::ALL {
            ids[t.index()] = source.id_for(&topics[t.index()], t).await?;
        }
        Ok::<_, AppError>(ids)
    })?;
    Ok((sink, schema_ids))
}

/// Runs a plan into `sink` (JSON lines).
pub fn execute_into(
    plan: &Plan,
    sink: &mut dyn Sink,
    stop: &AtomicBool,
) -> Result<Summary, AppError> {
    execute_encoded(plan, Encoding::Json, sink, stop)
}

/// Runs a plan into `sink`, encoding records as `encoding` says.
pub fn execute_encoded(
    plan: &Plan,
    encoding: Encoding,
    sink: &mut dyn Sink,
    stop: &AtomicBool,
) -> Result<Summary, AppError> {
    let fragments = (encoding == Encoding::Json).then(|| Arc::new(Fragments::new(&plan.model)));
    let make_encoder = move || -> Box<dyn Encoder> {
        match (encoding, &fragments) {
            (Encoding::Avro { schema_ids }, _) => Box::new(AvroEncoder::new(schema_ids)),
            (Encoding::Json, Some(f)) => Box::new(JsonEncoder::with_fragments(Arc::clone(f))),
            (Encoding::Json, None) => Box::new(JsonEncoder::new()),
        }
    };
    let progress = Progress::new(plan.progress);
    let pacing = if plan.continuous {
        Some(Pacing::RealTime)
    } else if plan.time_ordered {
        Some(Pacing::AsFastAsPossible)
    } else {
        None
    };
    let summary = if let Some(pacing) = pacing {
        let (model, params) = (&plan.model, &plan.params);
        run_time_ordered(model, params, &make_encoder, sink, &progress, pacing, stop)?
    } else {
        run_batch(
            &plan.model,
            &plan.params,
            &make_encoder,
            sink,
            &progress,
            stop,
        )?
    };
    Ok(summary)
}
