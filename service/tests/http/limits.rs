//! The connection limit under a crowd of idle clients: at the limit a new
//! client is still served, because the connections idle the longest are
//! closed to make room, and a connection with a request in flight is never
//! the one closed. Every socket is on 127.0.0.1 and every wait is bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::{closed_within, read_response, Service};

/// Longer than a loaded 2-core host needs to answer, far shorter than the
/// keep-alive timeout (75 s) that is the only other way an idle slot frees.
const PROMPT: Duration = Duration::from_secs(3);

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";

/// A connection that made one request, had its answer and stays open.
fn kept_alive(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect_timeout(&addr, PROMPT).expect("connect");
    stream.set_read_timeout(Some(PROMPT)).expect("timeout");
    stream.write_all(HEALTHZ).expect("request");
    let response = read_response(&mut stream, false).expect("an answer");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("connection"), None, "not kept alive");
    stream
}

/// A connection whose request head is still arriving: busy, not idle.
fn head_arriving(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect_timeout(&addr, PROMPT).expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        .expect("part of a head");
    stream
}

/// Sends the rest of `head_arriving`'s request and reads its answer.
fn finish_head(stream: &mut TcpStream) -> u16 {
    stream.set_read_timeout(Some(PROMPT)).expect("timeout");
    stream.write_all(b"\r\n").expect("end of head");
    read_response(stream, false).expect("an answer").status
}

/// How many pipelined `/metrics` requests the stalled client sends: their
/// answers (about 9 KiB each, 13 MiB in all) are more than loopback's socket
/// buffers hold while the client reads nothing (about 4 MiB measured), so
/// the service is left writing one.
const PIPELINED: usize = 1500;

/// A connection that pipelines `PIPELINED` requests and reads nothing: the
/// service's write stalls in the middle of a response.
fn response_stalled(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect_timeout(&addr, PROMPT).expect("connect");
    stream
        .write_all(&b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n".repeat(PIPELINED))
        .expect("pipelined requests");
    stream
}

/// Reads every answer of `response_stalled`, each whole and 200.
fn read_all_pipelined(stream: TcpStream) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut reader = BufReader::new(stream);
    for n in 0..PIPELINED {
        let mut status = String::new();
        reader.read_line(&mut status).expect("status line");
        assert!(
            status.starts_with("HTTP/1.1 200 "),
            "answer {n} of {PIPELINED}: {status:?}"
        );
        let mut length = None;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("header line");
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                }
            }
        }
        let mut body = vec![0; length.expect("content-length")];
        reader
            .read_exact(&mut body)
            .unwrap_or_else(|e| panic!("answer {n} of {PIPELINED} cut short: {e}"));
    }
}

/// A new client's request, answered within `PROMPT`.
fn served_promptly(addr: SocketAddr) -> TcpStream {
    let started = Instant::now();
    let mut stream = TcpStream::connect_timeout(&addr, PROMPT).expect("connect");
    stream.set_read_timeout(Some(PROMPT)).expect("timeout");
    stream.write_all(HEALTHZ).expect("request");
    let response = read_response(&mut stream, false)
        .unwrap_or_else(|e| panic!("a new client at the limit was not served: {e}"));
    assert_eq!(response.status, 200);
    assert!(
        started.elapsed() < PROMPT,
        "served after {:?}",
        started.elapsed()
    );
    stream
}

#[test]
fn at_the_limit_the_longest_idle_connections_make_room_and_busy_ones_are_kept() {
    crowd_at_the_limit("1");
}

/// On the multi-threaded runtime a connection is marked idle by the thread
/// that wrote its last response, which the kernel may preempt just after
/// the write: which of the idle connections make room then follows the
/// marks, not the order the client saw its answers in.
#[test]
fn at_the_limit_idle_connections_make_room_on_the_multi_threaded_runtime_too() {
    crowd_at_the_limit("2");
}

fn crowd_at_the_limit(worker_threads: &str) {
    let service = Service::start(&[
        ("SERVICE_MAX_CONNECTIONS", "8"),
        ("SERVICE_WORKER_THREADS", worker_threads),
    ]);
    let mut head = head_arriving(service.addr);
    let stalled = response_stalled(service.addr);
    // Lets the service read the pipelined requests and stall writing.
    std::thread::sleep(Duration::from_millis(300));
    // Six kept-alive connections fill the limit, idle in this order.
    let mut idle: Vec<TcpStream> = (0..6).map(|_| kept_alive(service.addr)).collect();

    // Three new clients at the limit: each is served at once.
    let newcomers: Vec<TcpStream> = (0..3).map(|_| served_promptly(service.addr)).collect();

    // Three idle connections made room, cleanly (each was closed before
    // its slot went to a newcomer); the rest stay open.
    let closed: Vec<bool> = idle
        .iter_mut()
        .map(|stream| closed_within(stream, Duration::from_millis(300)))
        .collect();
    if worker_threads == "1" {
        assert_eq!(
            closed,
            [true, true, true, false, false, false],
            "not the three idle the longest"
        );
    } else {
        assert_eq!(closed.iter().filter(|&&c| c).count(), 3, "{closed:?}");
    }
    // The request whose head was still arriving is answered, and the one
    // being written when the crowd came is sent whole, with every one after.
    assert_eq!(finish_head(&mut head), 200);
    read_all_pipelined(stalled);
    for (stream, _) in idle.iter_mut().zip(&closed).filter(|(_, &c)| !c) {
        stream.write_all(HEALTHZ).expect("request");
        assert_eq!(read_response(stream, false).expect("an answer").status, 200);
    }
    drop((idle, newcomers, head));

    let metrics = service.get("/metrics").text();
    let shed: u64 = metrics
        .lines()
        .find_map(|line| {
            line.strip_prefix("webapp_http_connections_shed_total ")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no webapp_http_connections_shed_total in\n{metrics}"));
    assert!(shed >= 3, "{shed} connections counted as shed");
}

#[test]
fn a_connection_that_never_sent_a_byte_makes_room_too() {
    let service = Service::start(&[("SERVICE_MAX_CONNECTIONS", "2")]);
    let mut silent = TcpStream::connect(service.addr).expect("connect");
    let mut kept = kept_alive(service.addr);
    let _newcomer = served_promptly(service.addr);
    // The silent connection has waited longest: it goes, not the other.
    assert!(closed_within(&mut silent, PROMPT), "silent connection kept");
    assert!(!closed_within(&mut kept, Duration::from_millis(200)));
}

#[test]
fn when_every_connection_is_busy_a_new_client_waits_for_the_first_to_finish() {
    let service = Service::start(&[("SERVICE_MAX_CONNECTIONS", "2")]);
    let mut first = head_arriving(service.addr);
    let mut second = head_arriving(service.addr);
    std::thread::sleep(Duration::from_millis(100));

    let mut waiting = TcpStream::connect_timeout(&service.addr, PROMPT).expect("queued");
    waiting.write_all(HEALTHZ).expect("request");
    waiting
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    assert!(
        read_response(&mut waiting, false).is_err(),
        "a third connection was served while two requests were in flight at a limit of 2"
    );

    // The first request completes; its connection, idle now, makes room
    // for the waiting client instead of being kept alive.
    assert_eq!(finish_head(&mut first), 200);
    waiting.set_read_timeout(Some(PROMPT)).expect("timeout");
    assert_eq!(
        read_response(&mut waiting, false)
            .expect("served once a request finished")
            .status,
        200
    );
    assert!(
        closed_within(&mut first, PROMPT),
        "finished connection kept"
    );
    assert_eq!(finish_head(&mut second), 200);
}
