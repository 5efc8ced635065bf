//! Hostile and broken clients: each gets an error status or a closed
//! connection, and the service keeps serving everyone else.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::{closed_within, read_response, send, Service};

fn metric(service: &Service, series: &str) -> u64 {
    let text = service.get("/metrics").text();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in /metrics"))
}

#[test]
fn malformed_and_oversized_requests_are_rejected_and_serving_continues() {
    let service = Service::start(&[("SERVICE_MAX_HEADER_BYTES", "8192")]);

    for garbage in [
        "GARBAGE\r\n\r\n",
        "GET / HTTP/9.9\r\n\r\n",
        "GET /\0 HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Header Name: x\r\n\r\n",
    ] {
        let response = send(service.addr, garbage).expect("an answer to a malformed request");
        assert_eq!(response.status, 400, "{garbage:?}");
        assert_eq!(service.get("/healthz").status, 200, "after {garbage:?}");
    }

    let big = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(12_000)
    );
    let response = send(service.addr, &big).expect("an answer to oversize headers");
    assert_eq!(response.status, 431);
    assert_eq!(service.get("/").status, 200);

    assert!(
        metric(
            &service,
            "webapp_http_connection_errors_total{kind=\"parse\"}"
        ) >= 4
    );
    assert!(
        metric(
            &service,
            "webapp_http_connection_errors_total{kind=\"too_large\"}"
        ) >= 1
    );
}

#[test]
fn slow_and_silent_clients_are_cut_off_at_the_header_timeout() {
    let service = Service::start(&[("SERVICE_HEADER_READ_TIMEOUT_SECONDS", "2")]);
    let started = Instant::now();
    let mut silent = TcpStream::connect(service.addr).expect("connect");
    let mut slow = TcpStream::connect(service.addr).expect("connect");
    slow.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n")
        .expect("partial headers");
    std::thread::sleep(Duration::from_millis(300));
    slow.write_all(b"X-Drip: 1\r\n").expect("more headers");

    // Others are served while the slow ones hang on.
    assert_eq!(service.get("/healthz").status, 200);
    // Checked only up to 1.5 s, well inside the 2 s, however slow the host.
    let before_timeout = Duration::from_millis(1500).saturating_sub(started.elapsed());
    if !before_timeout.is_zero() {
        assert!(!closed_within(&mut slow, before_timeout), "cut off early");
    }

    assert!(
        closed_within(&mut slow, Duration::from_secs(4)),
        "slow client kept"
    );
    assert!(
        closed_within(&mut silent, Duration::from_secs(4)),
        "silent client kept"
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1900),
        "cut off early: {elapsed:?}"
    );
    assert_eq!(service.get("/").status, 200);
    assert!(
        metric(
            &service,
            "webapp_http_connection_errors_total{kind=\"timeout\"}"
        ) >= 1
    );
}

#[test]
fn idle_keep_alive_outlives_the_header_timeout_until_the_keepalive_timeout() {
    let service = Service::start(&[
        ("SERVICE_HEADER_READ_TIMEOUT_SECONDS", "1"),
        ("SERVICE_KEEPALIVE_TIMEOUT_SECONDS", "3"),
    ]);
    let mut stream = TcpStream::connect(service.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let request = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    stream.write_all(request).expect("first request");
    assert_eq!(
        read_response(&mut stream, false).expect("first").status,
        200
    );
    std::thread::sleep(Duration::from_millis(1600));
    stream.write_all(request).expect("second request");
    assert_eq!(
        read_response(&mut stream, false).expect("second").status,
        200
    );
    assert!(!closed_within(&mut stream, Duration::from_millis(1500)));
    assert!(
        closed_within(&mut stream, Duration::from_secs(3)),
        "idle kept"
    );
}

#[test]
fn a_client_that_stops_reading_is_disconnected_after_the_request_timeout() {
    let service = Service::start(&[("SERVICE_REQUEST_TIMEOUT_SECONDS", "1")]);
    let mut greedy = TcpStream::connect(service.addr).expect("connect");
    greedy
        .set_write_timeout(Some(Duration::from_secs(8)))
        .expect("timeout");
    let started = Instant::now();
    // Pipelined requests whose large responses are never read fill the
    // socket buffers until the service's writes stall.
    let request = b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n".repeat(256);
    let outcome = loop {
        if let Err(err) = greedy.write_all(&request) {
            break err;
        }
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "connection still open after 8 s"
        );
    };
    assert_ne!(
        outcome.kind(),
        std::io::ErrorKind::WouldBlock,
        "write blocked but the service never closed the connection"
    );
    assert_eq!(service.get("/healthz").status, 200);
    assert!(
        metric(
            &service,
            "webapp_http_connection_errors_total{kind=\"timeout\"}"
        ) >= 1
    );
}

#[test]
fn http_1_1_requests_need_exactly_one_valid_host_header() {
    let service = Service::start(&[]);
    for (request, status) in [
        ("GET /healthz HTTP/1.1\r\n\r\n", 400),
        ("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
        (
            "GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nhost: b\r\n\r\n",
            400,
        ),
        ("GET /healthz HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
        ("GET /healthz HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
        ("GET /healthz HTTP/1.1\r\nHost: a:80x\r\n\r\n", 400),
        ("GET /healthz HTTP/1.1\r\nHost: [::1\r\n\r\n", 400),
        // HTTP/1.0 predates Host (RFC 9112 section 3.2).
        ("GET /healthz HTTP/1.0\r\n\r\n", 200),
        (
            "GET /healthz HTTP/1.1\r\nHost: webapp.example:8080\r\n\r\n",
            200,
        ),
        ("GET /healthz HTTP/1.1\r\nHost: 10.0.3.7\r\n\r\n", 200),
        ("GET /healthz HTTP/1.1\r\nHost: [fe80::1]:80\r\n\r\n", 200),
        ("GET /healthz HTTP/1.1\r\nHost: \r\n\r\n", 200),
        ("GET http://a/healthz HTTP/1.1\r\nHost: a\r\n\r\n", 200),
    ] {
        let response = send(service.addr, request).expect("an answer");
        assert_eq!(response.status, status, "{request:?}");
        if status == 400 {
            assert_eq!(response.json()["error"]["status"], 400, "{request:?}");
            assert_eq!(
                response.header("x-content-type-options"),
                Some("nosniff"),
                "{request:?}"
            );
        }
    }
    assert!(
        service
            .get("/metrics")
            .text()
            .contains("webapp_http_requests_total{route=\"/healthz\",status=\"400\"} 8\n"),
        "the rejected requests are not counted"
    );
}

#[test]
fn more_than_100_header_fields_get_431_and_100_are_served() {
    let service = Service::start(&[]);
    let request = |fields: usize| {
        let mut request = String::from("GET /healthz HTTP/1.1\r\nHost: t\r\n");
        for n in 1..fields {
            request.push_str(&format!("X-F{n}: {n}\r\n"));
        }
        request.push_str("\r\n");
        request
    };
    let response = send(service.addr, &request(100)).expect("an answer to 100 fields");
    assert_eq!(response.status, 200);
    let response = send(service.addr, &request(101)).expect("an answer to 101 fields");
    assert_eq!(response.status, 431);
    assert_eq!(service.get("/healthz").status, 200);
}
