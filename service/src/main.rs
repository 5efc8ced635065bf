//! `webapp`: reads and validates its configuration, listens, serves until
//! SIGTERM or SIGINT, drains, and exits 0 when every connection finished in
//! time (1 otherwise, 2 for a configuration error or unknown argument).
//! `webapp healthcheck` probes a running instance instead.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use service::app::{App, REVISION, VERSION};
use service::config::{Config, LogLevel};
use service::healthcheck;
use service::log;
use service::secrets;
use service::server::{self, Limits, Shutdown};
use tokio::signal::unix::{signal, SignalKind};

fn main() -> ExitCode {
    let started = Instant::now();
    let config = match Config::from_env(std::env::vars_os()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("webapp: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    match std::env::args_os().nth(1) {
        None => {}
        Some(arg) if arg == "healthcheck" => {
            return match healthcheck::check(healthcheck::target(&config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(reason) => {
                    eprintln!("webapp: unhealthy: {reason}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(arg) => {
            eprintln!("webapp: unknown argument {arg:?} (usage: webapp [healthcheck])");
            return ExitCode::from(2);
        }
    }
    log::init(config.log_level, config.access_log);
    let code = match run(&config, started) {
        Ok(Shutdown::Clean) => {
            if let Some(line) = log::line(LogLevel::Info, "shutdown complete") {
                drop(line);
            }
            ExitCode::SUCCESS
        }
        Ok(Shutdown::TimedOut) => ExitCode::FAILURE,
        Err(err) => {
            if let Some(line) = log::line(LogLevel::Error, "cannot start") {
                drop(line.display("error", err));
            }
            ExitCode::FAILURE
        }
    };
    log::shutdown();
    code
}

fn run(config: &Config, started: Instant) -> std::io::Result<Shutdown> {
    let runtime = if config.worker_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(async {
        // Handlers go in before the port opens, so a signal that arrives as
        // soon as the service is reachable still drains it properly.
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let address = SocketAddr::new(config.listen_address, config.port);
        let listener = tokio::net::TcpListener::bind(address).await?;
        let start_time_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default()
            - started.elapsed().as_secs_f64();
        let app = Arc::new(App::new(config, start_time_unix));
        if let Some(files) = &config.secrets {
            tokio::spawn(secrets::watch(
                Arc::clone(&app),
                files.clone(),
                config.secrets_poll,
            ));
        }
        if let Some(line) = log::line(LogLevel::Info, "listening") {
            drop(
                line.display("address", listener.local_addr()?)
                    .str("version", VERSION)
                    .str("revision", REVISION)
                    .str("environment", &config.environment)
                    .str("pod", &config.pod_name)
                    .micros("startup_us", started.elapsed()),
            );
        }
        let signal = async move {
            tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
            }
        };
        Ok(server::serve(listener, app, Limits::from_config(config), signal).await)
    })
}
