//! The shutdown sequence as the platform relies on it during a rollout:
//! readiness drops at once, requests keep succeeding through the drain, work
//! in flight finishes, and the process exits 0 in bounded time.

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{read_response, Service};

/// One request made by the load clients.
#[derive(Debug)]
struct Attempt {
    started: Instant,
    status: Result<u16, String>,
}

/// Requests `/` in a loop on a kept-alive connection, reconnecting whenever
/// the service asks to close or the connection fails, until `stop` is set.
fn load_client(addr: std::net::SocketAddr, stop: &AtomicBool) -> Vec<Attempt> {
    let mut attempts = Vec::new();
    let mut connection: Option<TcpStream> = None;
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let reused = connection.is_some();
        let result = (|| {
            let stream = match connection.as_mut() {
                Some(stream) => stream,
                None => {
                    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
                    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
                    connection.insert(stream)
                }
            };
            stream.write_all(b"GET / HTTP/1.1\r\nHost: load\r\n\r\n")?;
            read_response(stream, false)
        })();
        let status = match result {
            Ok(response) => {
                if response.header("connection") == Some("close") {
                    connection = None;
                }
                Ok(response.status)
            }
            Err(err) => {
                connection = None;
                std::thread::sleep(Duration::from_millis(5));
                Err(format!("{err} (reused: {reused})"))
            }
        };
        attempts.push(Attempt { started, status });
    }
    attempts
}

#[test]
fn sigterm_under_load_fails_no_request_started_before_the_drain_ended() {
    let drain = Duration::from_secs(1);
    let mut service = Service::start(&[("SERVICE_DRAIN_SECONDS", "1")]);
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let stop = Arc::clone(&stop);
            let addr = service.addr;
            std::thread::spawn(move || load_client(addr, &stop))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));

    let signalled = Instant::now();
    service.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    let readiness = service.get("/readyz");
    assert_eq!(readiness.status, 503, "ready while draining");
    assert_eq!(
        service.get("/healthz").status,
        200,
        "not live while draining"
    );
    std::thread::sleep(drain + Duration::from_millis(500) - signalled.elapsed());
    stop.store(true, Ordering::Relaxed);
    let attempts: Vec<Attempt> = clients
        .into_iter()
        .flat_map(|client| client.join().expect("load client"))
        .collect();

    let status = service.wait(Duration::from_secs(10));
    assert!(status.success(), "exit status {status}");

    // The signal reached the service after `signalled`, so the drain ended
    // no earlier than `signalled + drain`.
    let before_drain_end: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.started < signalled + drain)
        .collect();
    let during_drain = before_drain_end
        .iter()
        .filter(|a| a.started > signalled)
        .count();
    let failed: Vec<String> = before_drain_end
        .iter()
        .filter(|a| a.status != Ok(200))
        .map(|a| {
            format!(
                "{:?} after the signal: {:?}",
                a.started - signalled,
                a.status
            )
        })
        .collect();
    assert!(
        during_drain > 20,
        "only {during_drain} requests during the drain"
    );
    assert!(
        failed.is_empty(),
        "of {} requests started before the drain ended, these failed: {failed:#?}",
        before_drain_end.len()
    );
    let log = service.log();
    assert!(log
        .iter()
        .any(|e| e["msg"] == "draining" && e["signal"] == "SIGTERM"));
    assert!(log.iter().any(|e| e["msg"] == "shutdown complete"));
}

#[test]
fn requests_in_flight_when_the_drain_ends_are_finished() {
    let mut service = Service::start(&[("SERVICE_DRAIN_SECONDS", "1")]);
    let mut kept_alive = TcpStream::connect(service.addr).expect("connect");
    kept_alive
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let request = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    kept_alive.write_all(request).expect("request");
    let before = read_response(&mut kept_alive, false).expect("response");
    assert_eq!(before.header("connection"), None);

    service.signal("INT");
    service.wait_for_log("draining", Duration::from_secs(5));
    // Kept-alive clients are told to reconnect elsewhere during the drain.
    kept_alive
        .write_all(request)
        .expect("request while draining");
    let during = read_response(&mut kept_alive, false).expect("response while draining");
    assert_eq!(during.status, 200);
    assert_eq!(during.header("connection"), Some("close"));

    let mut in_flight = TcpStream::connect(service.addr).expect("connect during drain");
    in_flight
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    in_flight
        .write_all(b"GET /configs HTTP/1.1\r\nHost: t\r\n")
        .expect("first half");
    service.wait_for_log("stopped accepting", Duration::from_secs(5));
    assert!(
        TcpStream::connect_timeout(&service.addr, Duration::from_secs(1)).is_err(),
        "still accepting after the drain"
    );
    in_flight.write_all(b"\r\n").expect("second half");
    let finished = read_response(&mut in_flight, false).expect("in-flight response");
    assert_eq!(finished.status, 200);

    let status = service.wait(Duration::from_secs(10));
    assert!(status.success(), "exit status {status}");
}

#[test]
fn shutdown_gives_up_after_the_shutdown_timeout_with_a_failure_status() {
    let mut service = Service::start(&[
        ("SERVICE_DRAIN_SECONDS", "0"),
        ("SERVICE_SHUTDOWN_TIMEOUT_SECONDS", "1"),
        ("SERVICE_HEADER_READ_TIMEOUT_SECONDS", "30"),
    ]);
    let mut stuck = TcpStream::connect(service.addr).expect("connect");
    stuck
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n")
        .expect("headers that never end");
    std::thread::sleep(Duration::from_millis(100));
    let signalled = Instant::now();
    service.signal("TERM");
    let status = service.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1));
    assert!(signalled.elapsed() < Duration::from_secs(5));
    assert!(service
        .log()
        .iter()
        .any(|e| e["msg"] == "shutdown timeout reached" && e["open_connections"] == 1));
}
