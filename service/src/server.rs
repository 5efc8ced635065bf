//! Accepting connections within the limit, and the shutdown sequence. At the
//! limit the service still accepts: the connection idle the longest makes
//! room ([`crate::slots`]), and only when every connection has a request in
//! flight does a new client wait, for the first to finish. On the signal the
//! service reports not ready, keeps serving for the drain delay (so load
//! balancers deregister it), stops accepting, lets open connections finish
//! their requests within the shutdown timeout, and returns.

use std::convert::Infallible;
use std::error::Error as _;
use std::future::{ready, Future, Ready};
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};

use crate::app::App;
use crate::config::{Config, LogLevel};
use crate::io::{Deadlines, Exchange, GuardedStream};
use crate::log;
use crate::metrics::{ConnectionError, METRICS};
use crate::slots::{Slot, Slots};

/// How the shutdown ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// Every connection finished within the shutdown timeout.
    Clean,
    /// Connections were still open when the shutdown timeout ran out.
    TimedOut,
}

/// Limits applied to each connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub deadlines: Deadlines,
    pub max_header_bytes: usize,
    pub max_connections: usize,
    pub drain: Duration,
    pub shutdown_timeout: Duration,
}

impl Limits {
    pub fn from_config(config: &Config) -> Limits {
        Limits {
            deadlines: Deadlines {
                header: config.header_read_timeout,
                send: config.request_timeout,
                keepalive: config.keepalive_timeout,
            },
            max_header_bytes: config.max_header_bytes,
            max_connections: config.max_connections,
            drain: config.drain,
            shutdown_timeout: config.shutdown_timeout,
        }
    }
}

/// Serves `listener` until `signal` resolves, then drains and shuts down.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    limits: Limits,
    signal: impl Future<Output = &'static str>,
) -> Shutdown {
    let mut builder = http1::Builder::new();
    // Header, idle and send deadlines are GuardedStream's; without a timer
    // hyper arms none of its own. Responses are small: copying the body
    // behind the head and sending both with one write costs less than
    // hyper's queue of buffers for writev (about 400 instructions per
    // request under callgrind; the system calls are the same).
    builder
        .keep_alive(true)
        .writev(false)
        .max_buf_size(limits.max_header_bytes);
    let (alive_tx, mut alive_rx) = tokio::sync::mpsc::channel::<()>(1);
    let connections = Connections {
        app: Arc::clone(&app),
        builder,
        limits,
        slots: Slots::new(limits.max_connections),
        graceful: GracefulShutdown::new(),
        alive: alive_tx,
    };

    app.set_ready();
    let mut signal = pin!(signal);
    let drain_end = tokio::time::sleep(Duration::MAX / 4);
    let mut drain_end = pin!(drain_end);
    let mut draining = false;
    // A client accepted at the limit, waiting for the room being made.
    let mut waiting: Option<(TcpStream, SocketAddr)> = None;
    loop {
        tokio::select! {
            biased;
            () = &mut drain_end, if draining => break,
            name = &mut signal, if !draining => {
                draining = true;
                app.start_draining();
                drain_end.as_mut().reset(tokio::time::Instant::now() + limits.drain);
                if let Some(line) = log::line(LogLevel::Info, "draining") {
                    drop(line.str("signal", name).num("drain_seconds", limits.drain.as_secs()));
                }
            }
            slot = connections.slots.take(), if waiting.is_some() => {
                connections.slots.settle();
                if let Some((stream, peer)) = waiting.take() {
                    connections.spawn(stream, peer, slot, !draining);
                }
            }
            accepted = accept(&listener), if waiting.is_none() => {
                if let Some((stream, peer)) = accepted {
                    match connections.slots.try_take() {
                        Some(slot) => connections.spawn(stream, peer, slot, !draining),
                        None => {
                            connections.slots.make_room();
                            waiting = Some((stream, peer));
                        }
                    }
                }
            }
        }
    }
    connections.accept_backlog(listener, waiting);
    let open = METRICS.connections_open.load(Relaxed);
    if let Some(line) = log::line(LogLevel::Info, "stopped accepting") {
        drop(line.num("open_connections", u64::try_from(open).unwrap_or(0)));
    }
    let Connections {
        graceful, alive, ..
    } = connections;
    drop(alive);
    let finished = async move {
        graceful.shutdown().await;
        // Every connection task holds a sender; `None` means all are done.
        let _ = alive_rx.recv().await;
    };
    match tokio::time::timeout(limits.shutdown_timeout, finished).await {
        Ok(()) => Shutdown::Clean,
        Err(_) => {
            let open = METRICS.connections_open.load(Relaxed);
            if let Some(line) = log::line(LogLevel::Error, "shutdown timeout reached") {
                drop(line.num("open_connections", u64::try_from(open).unwrap_or(0)));
            }
            Shutdown::TimedOut
        }
    }
}

struct Connections {
    app: Arc<App>,
    builder: http1::Builder,
    limits: Limits,
    slots: Arc<Slots>,
    /// Connections accepted before the drain: at its end, idle ones are
    /// closed and busy ones close after their current request.
    graceful: GracefulShutdown,
    alive: tokio::sync::mpsc::Sender<()>,
}

/// The next client. Past the limit, the serve loop holds one accepted
/// client while room is made; the rest wait in the kernel's accept queue.
async fn accept(listener: &TcpListener) -> Option<(TcpStream, SocketAddr)> {
    match listener.accept().await {
        Ok(accepted) => Some(accepted),
        Err(err) => {
            // Typically EMFILE: back off instead of spinning on accept.
            if let Some(line) = log::line(LogLevel::Error, "accept failed") {
                drop(line.display("error", err));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            None
        }
    }
}

impl Connections {
    /// Serves the client accepted while room was being made, then accepts
    /// the clients whose connections the kernel already completed, so
    /// closing the listener does not reset requests sent before the drain
    /// ended; both as far as free slots allow.
    fn accept_backlog(&self, listener: TcpListener, waiting: Option<(TcpStream, SocketAddr)>) {
        if let Some((stream, peer)) = waiting {
            match self.slots.try_take() {
                Some(slot) => self.spawn(stream, peer, slot, false),
                None => return,
            }
        }
        let Ok(listener) = listener.into_std() else {
            return;
        };
        while let Ok((stream, peer)) = listener.accept() {
            let Some(slot) = self.slots.try_take() else {
                break;
            };
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            if let Ok(stream) = TcpStream::from_std(stream) {
                self.spawn(stream, peer, slot, false);
            }
        }
    }

    /// Serves one connection. Connections accepted during the drain are not
    /// `watched`: each is answered with `Connection: close`, and hyper would
    /// close one whose request is still unread in the socket if told to shut
    /// down, failing a request sent before the drain ended.
    fn spawn(&self, stream: TcpStream, peer: SocketAddr, slot: Slot, watched: bool) {
        // Responses are written whole; Nagle would only delay pipelined ones.
        let _ = stream.set_nodelay(true);
        METRICS.connections_total.fetch_add(1, Relaxed);
        METRICS.connections_open.fetch_add(1, Relaxed);
        let exchange = Arc::new(Exchange::default());
        // The stream holds the slot: it is freed once the socket is closed.
        let io = GuardedStream::new(stream, self.limits.deadlines, Arc::clone(&exchange), slot);
        let handler = Handler {
            app: Arc::clone(&self.app),
            remote: peer.to_string(),
            exchange,
        };
        let connection = self.builder.serve_connection(TokioIo::new(io), handler);
        let alive = self.alive.clone();
        let finish = move |result: Result<(), hyper::Error>| {
            if let Err(err) = result {
                record_connection_error(&err, peer);
            }
            METRICS.connections_open.fetch_sub(1, Relaxed);
            drop(alive);
        };
        if watched {
            let connection = self.graceful.watch(connection);
            tokio::spawn(async move { finish(connection.await) });
        } else {
            tokio::spawn(async move { finish(connection.await) });
        }
    }
}

fn record_connection_error(err: &hyper::Error, peer: SocketAddr) {
    let timed_out = err.is_timeout()
        || err
            .source()
            .and_then(|source| source.downcast_ref::<std::io::Error>())
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut);
    let kind = if timed_out {
        ConnectionError::Timeout
    } else if err.is_parse_too_large() {
        ConnectionError::TooLarge
    } else if err.is_parse() {
        ConnectionError::Parse
    } else {
        ConnectionError::Other
    };
    METRICS.connection_error(kind);
    if let Some(line) = log::line(LogLevel::Debug, "connection error") {
        drop(line.display("error", err).display("remote", peer));
    }
}

/// Answers the requests of one connection.
#[derive(Debug)]
struct Handler {
    app: Arc<App>,
    /// The client address as logged, formatted once per connection.
    remote: String,
    exchange: Arc<Exchange>,
}

impl Service<Request<Incoming>> for Handler {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let started = Instant::now();
        self.exchange.head_received();
        METRICS.in_flight.fetch_add(1, Relaxed);
        let (route, response) = self.app.respond(&request);
        let elapsed = started.elapsed();
        let status = response.status().as_u16();
        METRICS.record(route, status, elapsed);
        if log::access_enabled() {
            if let Some(line) = log::line(LogLevel::Info, "request") {
                drop(
                    line.plain("method", request.method().as_str())
                        .path("path", request.uri().path())
                        .num("status", u64::from(status))
                        .micros("duration_us", elapsed)
                        .plain("remote", &self.remote),
                );
            }
        }
        ready(Ok(response.map(|data| {
            ResponseBody::new(data, Arc::clone(&self.exchange))
        })))
    }
}

/// A response body held in memory. It counts as in flight until hyper has
/// taken all of it and dropped it, which it then tells the connection.
#[derive(Debug)]
pub struct ResponseBody {
    data: Option<Bytes>,
    exchange: Arc<Exchange>,
}

impl ResponseBody {
    fn new(data: Bytes, exchange: Arc<Exchange>) -> ResponseBody {
        ResponseBody {
            data: (!data.is_empty()).then_some(data),
            exchange,
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        METRICS.in_flight.fetch_sub(1, Relaxed);
        self.exchange.response_taken();
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().data.take().map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |data| data.len() as u64))
    }
}
