//! Process-wide counters kept in atomics (one relaxed add per event, nothing
//! allocated per request) and their rendering in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// The routes requests are counted under; unknown paths share one label so a
/// scanner cannot blow up the number of series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Index,
    Configs,
    Healthz,
    Readyz,
    Metrics,
    Unmatched,
}

impl Route {
    const ALL: [Route; 6] = [
        Route::Index,
        Route::Configs,
        Route::Healthz,
        Route::Readyz,
        Route::Metrics,
        Route::Unmatched,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Route::Index => "/",
            Route::Configs => "/configs",
            Route::Healthz => "/healthz",
            Route::Readyz => "/readyz",
            Route::Metrics => "/metrics",
            Route::Unmatched => "unmatched",
        }
    }
}

/// Every status the handlers answer with.
const STATUSES: [u16; 5] = [200, 400, 404, 405, 503];

/// Upper bounds of the latency histogram buckets, in nanoseconds.
const BUCKETS_NS: [u64; 12] = [
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    5_000_000,
    10_000_000,
    50_000_000,
    100_000_000,
    1_000_000_000,
];

const ROUTES: usize = Route::ALL.len();

/// Kinds of connection failure, counted so that rejected slow or malformed
/// clients are visible even though no handler saw them.
#[derive(Debug, Clone, Copy)]
pub enum ConnectionError {
    /// Malformed request line or headers (answered 400 by hyper).
    Parse,
    /// Headers larger than the configured limit (answered 431).
    TooLarge,
    /// Header read or response send took longer than allowed.
    Timeout,
    /// Anything else: resets, broken pipes.
    Other,
}

impl ConnectionError {
    const ALL: [ConnectionError; 4] = [
        ConnectionError::Parse,
        ConnectionError::TooLarge,
        ConnectionError::Timeout,
        ConnectionError::Other,
    ];

    fn label(self) -> &'static str {
        match self {
            ConnectionError::Parse => "parse",
            ConnectionError::TooLarge => "too_large",
            ConnectionError::Timeout => "timeout",
            ConnectionError::Other => "other",
        }
    }
}

/// All counters of the process.
#[derive(Debug)]
pub struct Metrics {
    requests: [[AtomicU64; STATUSES.len()]; ROUTES],
    buckets: [[AtomicU64; BUCKETS_NS.len()]; ROUTES],
    duration_ns: [AtomicU64; ROUTES],
    pub in_flight: AtomicI64,
    pub connections_open: AtomicI64,
    pub connections_total: AtomicU64,
    /// Idle connections closed to make room for new clients at the limit.
    pub connections_shed: AtomicU64,
    connection_errors: [AtomicU64; ConnectionError::ALL.len()],
    pub log_lines_dropped: AtomicU64,
    /// Changes of the mounted secret files seen while running.
    pub secret_reloads: AtomicU64,
    /// Polls of the secret files that failed (the last good read stays).
    pub secret_read_errors: AtomicU64,
}

pub static METRICS: Metrics = Metrics::new();

/// What `/metrics` needs besides the counters.
#[derive(Debug, Clone, Copy)]
pub struct ProcessInfo<'a> {
    pub version: &'a str,
    pub revision: &'a str,
    pub environment: &'a str,
    pub ready: bool,
    pub start_time_unix: f64,
}

impl Metrics {
    const fn new() -> Metrics {
        Metrics {
            requests: [const { [const { AtomicU64::new(0) }; STATUSES.len()] }; ROUTES],
            buckets: [const { [const { AtomicU64::new(0) }; BUCKETS_NS.len()] }; ROUTES],
            duration_ns: [const { AtomicU64::new(0) }; ROUTES],
            in_flight: AtomicI64::new(0),
            connections_open: AtomicI64::new(0),
            connections_total: AtomicU64::new(0),
            connections_shed: AtomicU64::new(0),
            connection_errors: [const { AtomicU64::new(0) }; ConnectionError::ALL.len()],
            log_lines_dropped: AtomicU64::new(0),
            secret_reloads: AtomicU64::new(0),
            secret_read_errors: AtomicU64::new(0),
        }
    }

    /// Counts one answered request.
    pub fn record(&self, route: Route, status: u16, elapsed: Duration) {
        let r = route as usize;
        if let Some(s) = STATUSES.iter().position(|&known| known == status) {
            self.requests[r][s].fetch_add(1, Relaxed);
        }
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        // Buckets are stored non-cumulative (one add per request) and summed
        // when rendered.
        if let Some(b) = BUCKETS_NS.iter().position(|&bound| ns <= bound) {
            self.buckets[r][b].fetch_add(1, Relaxed);
        }
        self.duration_ns[r].fetch_add(ns, Relaxed);
    }

    pub fn connection_error(&self, kind: ConnectionError) {
        self.connection_errors[kind as usize].fetch_add(1, Relaxed);
    }

    /// The Prometheus text exposition (format 0.0.4) of every series.
    pub fn render(&self, info: &ProcessInfo<'_>) -> String {
        let mut out = String::with_capacity(8 * 1024);
        self.render_requests(&mut out);
        self.render_latency(&mut out);
        let _ = write!(
            out,
            "# HELP webapp_http_requests_in_flight Requests being answered.\n\
             # TYPE webapp_http_requests_in_flight gauge\n\
             webapp_http_requests_in_flight {}\n\
             # HELP webapp_http_connections_open Client connections currently open.\n\
             # TYPE webapp_http_connections_open gauge\n\
             webapp_http_connections_open {}\n\
             # HELP webapp_http_connections_total Client connections accepted.\n\
             # TYPE webapp_http_connections_total counter\n\
             webapp_http_connections_total {}\n\
             # HELP webapp_http_connections_shed_total Idle connections closed to make room for new clients at the connection limit.\n\
             # TYPE webapp_http_connections_shed_total counter\n\
             webapp_http_connections_shed_total {}\n",
            self.in_flight.load(Relaxed),
            self.connections_open.load(Relaxed),
            self.connections_total.load(Relaxed),
            self.connections_shed.load(Relaxed),
        );
        out.push_str(
            "# HELP webapp_http_connection_errors_total Connections closed on a client error, by kind.\n\
             # TYPE webapp_http_connection_errors_total counter\n",
        );
        for kind in ConnectionError::ALL {
            let _ = writeln!(
                out,
                "webapp_http_connection_errors_total{{kind=\"{}\"}} {}",
                kind.label(),
                self.connection_errors[kind as usize].load(Relaxed)
            );
        }
        let _ = write!(
            out,
            "# HELP webapp_log_lines_dropped_total Log lines dropped because stdout did not keep up.\n\
             # TYPE webapp_log_lines_dropped_total counter\n\
             webapp_log_lines_dropped_total {}\n\
             # HELP webapp_secrets_reloads_total Changes of the mounted secret files taken in while running.\n\
             # TYPE webapp_secrets_reloads_total counter\n\
             webapp_secrets_reloads_total {}\n\
             # HELP webapp_secrets_read_errors_total Reads of the mounted secret files that failed (the last good read stays in use).\n\
             # TYPE webapp_secrets_read_errors_total counter\n\
             webapp_secrets_read_errors_total {}\n\
             # HELP webapp_ready Whether the service reports ready (0 while draining).\n\
             # TYPE webapp_ready gauge\n\
             webapp_ready {}\n\
             # HELP webapp_build_info Build of the running service.\n\
             # TYPE webapp_build_info gauge\n\
             webapp_build_info{{version=\"{}\",revision=\"{}\",environment=\"{}\"}} 1\n\
             # HELP process_start_time_seconds Start time of the process since the Unix epoch.\n\
             # TYPE process_start_time_seconds gauge\n\
             process_start_time_seconds {:.3}\n",
            self.log_lines_dropped.load(Relaxed),
            self.secret_reloads.load(Relaxed),
            self.secret_read_errors.load(Relaxed),
            u8::from(info.ready),
            label_value(info.version),
            label_value(info.revision),
            label_value(info.environment),
            info.start_time_unix,
        );
        out
    }

    fn render_requests(&self, out: &mut String) {
        out.push_str(
            "# HELP webapp_http_requests_total HTTP requests answered, by route and status.\n\
             # TYPE webapp_http_requests_total counter\n",
        );
        for route in Route::ALL {
            for (s, status) in STATUSES.iter().enumerate() {
                let count = self.requests[route as usize][s].load(Relaxed);
                if count > 0 {
                    let _ = writeln!(
                        out,
                        "webapp_http_requests_total{{route=\"{}\",status=\"{status}\"}} {count}",
                        route.label()
                    );
                }
            }
        }
    }

    fn render_latency(&self, out: &mut String) {
        out.push_str(
            "# HELP webapp_http_request_duration_seconds Time from parsed request headers to a ready response.\n\
             # TYPE webapp_http_request_duration_seconds histogram\n",
        );
        for route in Route::ALL {
            let r = route as usize;
            let label = route.label();
            let count: u64 = self.requests[r].iter().map(|c| c.load(Relaxed)).sum();
            let mut cumulative = 0;
            for (b, bound) in BUCKETS_NS.iter().enumerate() {
                cumulative += self.buckets[r][b].load(Relaxed);
                let _ = writeln!(
                    out,
                    "webapp_http_request_duration_seconds_bucket{{route=\"{label}\",le=\"{}\"}} {cumulative}",
                    *bound as f64 / 1e9
                );
            }
            let _ = write!(
                out,
                "webapp_http_request_duration_seconds_bucket{{route=\"{label}\",le=\"+Inf\"}} {count}\n\
                 webapp_http_request_duration_seconds_sum{{route=\"{label}\"}} {:.9}\n\
                 webapp_http_request_duration_seconds_count{{route=\"{label}\"}} {count}\n",
                self.duration_ns[r].load(Relaxed) as f64 / 1e9
            );
        }
    }
}

/// Escapes a label value as the exposition format requires.
fn label_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: ProcessInfo<'static> = ProcessInfo {
        version: "1.2.3",
        revision: "abc",
        environment: "st\"aging",
        ready: true,
        start_time_unix: 1.5,
    };

    #[test]
    fn histogram_buckets_are_cumulative_and_match_the_count() {
        let metrics = Metrics::new();
        metrics.record(Route::Index, 200, Duration::from_micros(5));
        metrics.record(Route::Index, 200, Duration::from_micros(30));
        metrics.record(Route::Index, 404, Duration::from_secs(2));
        let text = metrics.render(&INFO);
        for expected in [
            "webapp_http_requests_total{route=\"/\",status=\"200\"} 2\n",
            "webapp_http_requests_total{route=\"/\",status=\"404\"} 1\n",
            "webapp_http_request_duration_seconds_bucket{route=\"/\",le=\"0.00001\"} 1\n",
            "webapp_http_request_duration_seconds_bucket{route=\"/\",le=\"0.00005\"} 2\n",
            "webapp_http_request_duration_seconds_bucket{route=\"/\",le=\"1\"} 2\n",
            "webapp_http_request_duration_seconds_bucket{route=\"/\",le=\"+Inf\"} 3\n",
            "webapp_http_request_duration_seconds_count{route=\"/\"} 3\n",
            "webapp_build_info{version=\"1.2.3\",revision=\"abc\",environment=\"st\\\"aging\"} 1\n",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }

    #[test]
    fn every_sample_line_has_a_declared_type() {
        let metrics = Metrics::new();
        metrics.record(Route::Unmatched, 404, Duration::from_micros(1));
        let text = metrics.render(&INFO);
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            let family = name
                .trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count");
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "{name} has no TYPE line"
            );
        }
    }
}
