//! Bad configuration stops the binary before it listens, with one line
//! naming the variable and a non-zero exit.

use std::process::Command;

use crate::support::{Service, BIN};

#[test]
fn each_bad_configuration_value_exits_2_with_one_line_naming_it() {
    for (name, value) in [
        ("PORT", "eighty"),
        ("PORT", "65536"),
        ("APP_ENV", "prod env"),
        ("SERVICE_LISTEN_ADDRESS", "example.com"),
        ("SERVICE_LOG_LEVEL", "trace"),
        ("SERVICE_ACCESS_LOG", "maybe"),
        ("SERVICE_DRAIN_SECONDS", "5s"),
        ("SERVICE_SHUTDOWN_TIMEOUT_SECONDS", "0"),
        ("SERVICE_MAX_CONNECTIONS", "-3"),
        ("SERVICE_REQUEST_TIMEOUT_SECONDS", "never"),
        ("SERVICE_HEADER_READ_TIMEOUT_SECONDS", "0"),
        ("SERVICE_KEEPALIVE_TIMEOUT_SECONDS", "1e3"),
        ("SERVICE_MAX_HEADER_BYTES", "1024"),
        ("SERVICE_WORKER_THREADS", "1000"),
        ("SERVICE_CONFIG_DIR", "/nonexistent/webapp"),
        ("SERVICE_DRAIN_SECS", "5"),
    ] {
        let output = Command::new(BIN)
            .env_clear()
            .env(name, value)
            .output()
            .expect("run webapp");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}={value}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}={value}: {stderr}");
        assert!(stderr.contains(name), "{name}={value}: {stderr}");
        assert!(output.stdout.is_empty(), "{name}={value} printed to stdout");
    }
}

#[test]
fn a_port_already_in_use_fails_with_a_logged_reason() {
    let first = Service::start(&[]);
    let output = Command::new(BIN)
        .env_clear()
        .env("SERVICE_LISTEN_ADDRESS", "127.0.0.1")
        .env("PORT", first.addr.port().to_string())
        .output()
        .expect("run webapp");
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(line["msg"], "cannot start");
    assert_eq!(line["level"], "error");
}

#[test]
fn healthcheck_subcommand_reports_the_running_service() {
    let service = Service::start(&[]);
    let probe = |port: u16| {
        Command::new(BIN)
            .env_clear()
            .env("SERVICE_LISTEN_ADDRESS", "127.0.0.1")
            .env("PORT", port.to_string())
            .arg("healthcheck")
            .output()
            .expect("run webapp healthcheck")
    };
    assert!(probe(service.addr.port()).status.success());
    drop(service);
    let down = probe(free_port());
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains("unhealthy"));
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}
