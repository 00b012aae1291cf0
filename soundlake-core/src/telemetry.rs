//! Telemetry shared by every Soundlake service: OpenTelemetry metrics, exported in the
//! Prometheus text format on `http://ADDR/metrics` (with `/healthz` beside it).
//!
//! ```no_run
//! use soundlake_core::telemetry::{KeyValue, Telemetry, Unit};
//!
//! let telemetry = Telemetry::init("ingest", Some("127.0.0.1:9464".parse().unwrap()))?;
//! let consumed = telemetry.counter("consumed", Unit::Records, "Records read from Kafka");
//! consumed.add(500, &[KeyValue::new("topic", "listen_events")]);
//! // … soundlake_ingest_consumed_records_total{topic="listen_events"} 500
//! telemetry.shutdown()?;
//! # Ok::<(), soundlake_core::telemetry::TelemetryError>(())
//! ```
//!
//! Names are built here, never written by hand: `soundlake_<service>_<what>_<unit>` (counters
//! end in `_total`), see [`names`]. Every service also exports
//! `soundlake_build_info{service="…",version="…"} 1`, whose presence is what "up" means for
//! it. The exporter adds nothing else: no `target_info`, no `otel_scope_*` labels, no unit
//! suffixes of its own.
//!
//! Recording is cheap (an atomic add per call, after a lookup of the attribute set): services
//! still count per batch on hot paths, or register observable instruments that read counters
//! they keep anyway, which cost nothing until a scrape.

pub mod names;
mod server;

use std::net::{SocketAddr, TcpListener};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::Resource;

// What services need to record, so that they do not depend on opentelemetry themselves.
pub use opentelemetry::metrics::{
    AsyncInstrument, Counter, Gauge, Histogram, Meter, ObservableCounter, ObservableGauge,
};
pub use opentelemetry::KeyValue;

pub use names::{metric_name, Kind, NameError, Unit, BUILD_INFO};
pub use server::TEXT_FORMAT;

use server::Server;

/// The version every Soundlake service reports (the workspace's version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Histogram buckets for durations in seconds: 1 ms to 2 min.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// Histogram buckets for sizes in bytes: 1 KiB to 1 GiB, by 4×.
pub const BYTES_BUCKETS: &[f64] = &[
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
    67_108_864.0,
    268_435_456.0,
    1_073_741_824.0,
];

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("{0}")]
    Name(#[from] NameError),
    #[error("metrics address {addr} is in use: pass --metrics-addr or stop the other process")]
    AddrInUse { addr: SocketAddr },
    #[error("cannot serve metrics on {addr}: {source}; pass another --metrics-addr")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("OpenTelemetry metrics: building the Prometheus exporter: {0}")]
    Exporter(#[source] opentelemetry_sdk::error::OTelSdkError),
    #[error("OpenTelemetry metrics: shutting the meter provider down: {0}")]
    Shutdown(#[source] opentelemetry_sdk::error::OTelSdkError),
}

/// A service's metrics: the instruments it creates and, when an address was given, the HTTP
/// endpoint Prometheus scrapes. Dropping it stops the endpoint; [`Telemetry::shutdown`] also
/// shuts the meter provider down.
pub struct Telemetry {
    service: String,
    registry: prometheus::Registry,
    provider: SdkMeterProvider,
    meter: Meter,
    server: Option<Server>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("service", &self.service)
            .field("addr", &self.local_addr())
            .finish_non_exhaustive()
    }
}

impl Telemetry {
    /// Sets metrics up for `service` (lowercase snake case: `eventsim`, `ingest`, `loader`) and,
    /// with `addr`, serves them on `http://ADDR/metrics` (port 0 picks a free port: see
    /// [`Telemetry::local_addr`]). Without an address the instruments work and cost the same,
    /// and [`Telemetry::render`] shows what would be served.
    pub fn init(service: &str, addr: Option<SocketAddr>) -> Result<Telemetry, TelemetryError> {
        names::check_service(service)?;
        let registry = prometheus::Registry::new();
        let exporter = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .without_units()
            .without_counter_suffixes()
            .without_target_info()
            .scope_info_enabled(false)
            .build()
            .map_err(TelemetryError::Exporter)?;
        let resource = Resource::builder()
            .with_service_name(format!("soundlake-{service}"))
            .with_attribute(KeyValue::new("service.version", VERSION))
            .build();
        let provider = SdkMeterProvider::builder()
            .with_reader(exporter)
            .with_resource(resource)
            .build();
        let meter = provider.meter("soundlake");
        let mut telemetry = Telemetry {
            service: service.to_string(),
            registry,
            provider,
            meter,
            server: None,
        };
        telemetry.record_build_info();
        if let Some(addr) = addr {
            telemetry.server = Some(telemetry.serve(addr)?);
        }
        Ok(telemetry)
    }

    fn record_build_info(&self) {
        self.meter
            .u64_gauge(BUILD_INFO)
            .with_description("Build of a Soundlake service: 1 while it runs")
            .build()
            .record(
                1,
                &[
                    KeyValue::new("service", self.service.clone()),
                    KeyValue::new("version", VERSION),
                ],
            );
    }

    fn serve(&self, addr: SocketAddr) -> Result<Server, TelemetryError> {
        let listener = TcpListener::bind(addr).map_err(|source| match source.kind() {
            std::io::ErrorKind::AddrInUse => TelemetryError::AddrInUse { addr },
            _ => TelemetryError::Listen { addr, source },
        })?;
        let registry = self.registry.clone();
        Server::start(listener, Box::new(move || render(&registry)))
            .map_err(|source| TelemetryError::Listen { addr, source })
    }

    /// The service name the metrics are named after.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Where `/metrics` is served (the actual port when asked for port 0), if it is.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(Server::local_addr)
    }

    /// The metrics in the Prometheus text format, as `/metrics` serves them.
    pub fn render(&self) -> String {
        render(&self.registry)
    }

    /// The OpenTelemetry meter, for what the helpers below do not cover. Name instruments
    /// with [`Telemetry::name`].
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// `soundlake_<service>_<what>_<unit>` (`_total` after counters).
    ///
    /// # Panics
    /// When `what` is not lowercase snake case or repeats the unit: names are fixed in the
    /// code, so the service's first test that creates its instruments catches it.
    pub fn name(&self, what: &str, unit: Unit, kind: Kind) -> String {
        metric_name(&self.service, what, unit, kind).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A monotonic counter, `soundlake_<service>_<what>_<unit>_total`.
    pub fn counter(&self, what: &str, unit: Unit, help: &str) -> Counter<u64> {
        self.meter
            .u64_counter(self.name(what, unit, Kind::Counter))
            .with_description(help.to_string())
            .with_unit(unit.ucum())
            .build()
    }

    /// A gauge set to the latest value, `soundlake_<service>_<what>_<unit>`.
    pub fn gauge(&self, what: &str, unit: Unit, help: &str) -> Gauge<f64> {
        self.meter
            .f64_gauge(self.name(what, unit, Kind::Gauge))
            .with_description(help.to_string())
            .with_unit(unit.ucum())
            .build()
    }

    /// A histogram with these bucket upper bounds (e.g. [`SECONDS_BUCKETS`]),
    /// `soundlake_<service>_<what>_<unit>`.
    pub fn histogram(&self, what: &str, unit: Unit, help: &str, buckets: &[f64]) -> Histogram<f64> {
        self.meter
            .f64_histogram(self.name(what, unit, Kind::Histogram))
            .with_description(help.to_string())
            .with_unit(unit.ucum())
            .with_boundaries(buckets.to_vec())
            .build()
    }

    /// A counter read at each scrape by `observe` (which calls `observer.observe(total, attrs)`
    /// with running totals the service keeps anyway): nothing to do on the hot path.
    pub fn observable_counter<F>(
        &self,
        what: &str,
        unit: Unit,
        help: &str,
        observe: F,
    ) -> ObservableCounter<u64>
    where
        F: Fn(&dyn AsyncInstrument<u64>) + Send + Sync + 'static,
    {
        self.meter
            .u64_observable_counter(self.name(what, unit, Kind::Counter))
            .with_description(help.to_string())
            .with_unit(unit.ucum())
            .with_callback(observe)
            .build()
    }

    /// A gauge read at each scrape by `observe`.
    pub fn observable_gauge<F>(
        &self,
        what: &str,
        unit: Unit,
        help: &str,
        observe: F,
    ) -> ObservableGauge<f64>
    where
        F: Fn(&dyn AsyncInstrument<f64>) + Send + Sync + 'static,
    {
        self.meter
            .f64_observable_gauge(self.name(what, unit, Kind::Gauge))
            .with_description(help.to_string())
            .with_unit(unit.ucum())
            .with_callback(observe)
            .build()
    }

    /// Stops serving `/metrics` (answering the scrape in progress first) and shuts the meter
    /// provider down.
    pub fn shutdown(mut self) -> Result<(), TelemetryError> {
        if let Some(mut server) = self.server.take() {
            server.stop();
        }
        self.provider.shutdown().map_err(TelemetryError::Shutdown)
    }
}

fn render(registry: &prometheus::Registry) -> String {
    prometheus::TextEncoder::new()
        .encode_to_string(&registry.gather())
        .unwrap_or_else(|e| format!("# metrics could not be encoded: {e}\n"))
}
