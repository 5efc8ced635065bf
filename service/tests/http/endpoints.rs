//! Every endpoint over a real connection, the headers every response carries,
//! and secrets that must never be shown or logged.

use std::time::Duration;

use crate::support::{send, Response, Service};

/// What every response must carry: no caching, no sniffing, no framing, and
/// HTTPS only once a browser has seen the service over TLS.
const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("x-content-type-options", "nosniff"),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
    ("cache-control", "no-store"),
    (
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
    ),
];

/// What the HTML page, the one document a browser renders, adds.
const DOCUMENT_HEADERS: [(&str, &str); 4] = [
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
];

/// The HTML page's CSP, which replaces the API one: its inline style only.
const DOCUMENT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The API set, each exactly once, and none of the document headers.
fn assert_secure(response: &Response, what: &str) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(response.header(name), Some(value), "{what}: {name}");
    }
    for (name, _) in DOCUMENT_HEADERS {
        assert_eq!(response.header(name), None, "{what}: {name}");
    }
}

#[test]
fn every_endpoint_answers_as_documented() {
    let service = Service::start(&[
        ("APP_ENV", "staging"),
        ("POD_NAME", "webapp-5f7c9-abcde"),
        ("POD_NAMESPACE", "webapp"),
        ("APP_GREETING", "hello"),
    ]);

    let index = service.get("/");
    assert_eq!(index.status, 200);
    assert_eq!(index.header("content-type"), Some("application/json"));
    let body = index.json();
    assert_eq!(body["service"], "webapp");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["environment"], "staging");
    assert_eq!(body["pod"], "webapp-5f7c9-abcde");
    assert_secure(&index, "/");

    let html = send(
        service.addr,
        "GET / HTTP/1.1\r\nHost: t\r\nAccept: text/html,*/*;q=0.8\r\nConnection: close\r\n\r\n",
    )
    .expect("html response");
    assert_eq!(
        html.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(html.text().contains("webapp-5f7c9-abcde"));
    let document = SECURITY_HEADERS
        .into_iter()
        .filter(|(name, _)| *name != "content-security-policy")
        .chain(DOCUMENT_HEADERS)
        .chain([("content-security-policy", DOCUMENT_CSP)]);
    for (name, value) in document {
        assert_eq!(html.header(name), Some(value), "HTML page: {name}");
    }

    let configs = service.get("/configs");
    assert_eq!(configs.status, 200);
    assert_eq!(configs.json()["app"]["APP_GREETING"], "hello");
    assert_eq!(configs.json()["environment"], "staging");

    for (path, status) in [("/healthz", 200), ("/readyz", 200)] {
        let response = service.get(path);
        assert_eq!(response.status, status, "{path}");
        assert_secure(&response, path);
    }

    let head = send(
        service.addr,
        "HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .expect("head response");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());

    let missing = service.get("/wp-admin");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"]["status"], 404);
    assert_secure(&missing, "404");

    let wrong_method = send(
        service.addr,
        "DELETE /configs HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .expect("405 response");
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("allow"), Some("GET, HEAD"));
    assert_eq!(wrong_method.json()["error"]["status"], 405);
    assert_secure(&wrong_method, "405");

    let metrics = service.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")));
    let text = metrics.text();
    for expected in [
        "webapp_http_requests_total{route=\"/\",status=\"200\"} 3",
        "webapp_http_requests_total{route=\"unmatched\",status=\"404\"} 1",
        "webapp_http_requests_total{route=\"/configs\",status=\"405\"} 1",
        "webapp_http_request_duration_seconds_count{route=\"/\"} 3",
        "webapp_http_requests_in_flight 1",
        "webapp_build_info{version=\"",
        "webapp_ready 1",
    ] {
        assert!(
            text.contains(expected),
            "/metrics lacks {expected:?}:\n{text}"
        );
    }
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let service = Service::start(&[]);
    let mut stream = std::net::TcpStream::connect(service.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    for path in ["/healthz", "/", "/readyz"] {
        std::io::Write::write_all(
            &mut stream,
            format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
        )
        .expect("write");
        let response = crate::support::read_response(&mut stream, false).expect("response");
        assert_eq!(response.status, 200, "{path}");
    }
}

#[test]
fn secret_values_never_appear_in_responses_or_logs() {
    const SECRET: &str = "s3cr3t-Value-that-must-not-leak";
    let dir = std::env::temp_dir().join(format!("webapp-secret-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("config dir");
    std::fs::write(dir.join("log_format"), "json\n").expect("write");
    std::fs::write(dir.join("upstream_api_key"), SECRET).expect("write");
    let mut service = Service::start(&[
        ("APP_DB_PASSWORD", SECRET),
        ("APP_SESSION_SECRET", SECRET),
        ("APP_API_TOKEN", ""),
        ("APP_SIGNING_KEY", SECRET),
        ("SERVICE_CONFIG_DIR", dir.to_str().expect("utf-8 path")),
        ("SERVICE_LOG_LEVEL", "debug"),
        ("SERVICE_DRAIN_SECONDS", "0"),
    ]);
    let mut bodies = String::new();
    for path in ["/", "/configs", "/healthz", "/readyz", "/metrics", "/nope"] {
        let response = service.get(path);
        bodies.push_str(&format!("{:?}{}", response.headers, response.text()));
    }
    // A client may put a secret in a query string; only the path is logged.
    service.get(&format!("/?token={SECRET}"));
    let configs = service.get("/configs").json();
    assert_eq!(configs["secrets"]["APP_DB_PASSWORD"], "set");
    assert_eq!(configs["secrets"]["APP_SESSION_SECRET"], "set");
    assert_eq!(configs["secrets"]["APP_API_TOKEN"], "not set");
    assert_eq!(configs["config_files"]["upstream_api_key"], "set");
    assert_eq!(configs["config_files"]["log_format"], "json");

    service.signal("TERM");
    assert!(service.wait(Duration::from_secs(10)).success());
    std::fs::remove_dir_all(&dir).expect("cleanup");
    let output = service.raw_output();
    assert!(output.contains("\"msg\":\"request\""), "access log missing");
    assert!(!bodies.contains(SECRET), "a response shows the secret");
    assert!(!output.contains(SECRET), "the log shows the secret");
}
