//! A TCP stream that enforces the per-request deadlines hyper does not:
//! request headers must arrive within the header-read timeout of their first
//! byte (or of the accept, for a new connection), and a response must be
//! taken by the client within the request timeout. Keeping these apart from
//! hyper's own timer lets an idle keep-alive connection live longer than a
//! slow client is allowed to take over its headers.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant, Sleep};

/// Set by the request handler when hyper has parsed a request head, which
/// ends the header deadline of that request.
#[derive(Debug, Default)]
pub struct HeadSignal {
    received: AtomicBool,
}

impl HeadSignal {
    pub fn head_received(&self) {
        self.received.store(true, Ordering::Relaxed);
    }

    fn take(&self) -> bool {
        self.received.load(Ordering::Relaxed) && self.received.swap(false, Ordering::Relaxed)
    }
}

/// A client connection with header and send deadlines.
#[derive(Debug)]
pub struct GuardedStream {
    stream: TcpStream,
    header_timeout: Duration,
    send_timeout: Duration,
    header_deadline: Option<Instant>,
    send_deadline: Option<Instant>,
    // Timers are only allocated once a read or write actually has to wait,
    // which a well-behaved client on a fast network rarely causes.
    read_timer: Option<Pin<Box<Sleep>>>,
    write_timer: Option<Pin<Box<Sleep>>>,
    signal: Arc<HeadSignal>,
}

impl GuardedStream {
    pub fn new(
        stream: TcpStream,
        header_timeout: Duration,
        send_timeout: Duration,
        signal: Arc<HeadSignal>,
    ) -> GuardedStream {
        GuardedStream {
            stream,
            header_timeout,
            send_timeout,
            header_deadline: Some(Instant::now() + header_timeout),
            send_deadline: None,
            read_timer: None,
            write_timer: None,
            signal,
        }
    }

    fn write_with_deadline<T>(
        &mut self,
        cx: &mut Context<'_>,
        attempt: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match attempt(Pin::new(&mut self.stream), cx) {
            Poll::Pending => {
                let send_timeout = self.send_timeout;
                let deadline = *self
                    .send_deadline
                    .get_or_insert_with(|| Instant::now() + send_timeout);
                wait_for(
                    &mut self.write_timer,
                    deadline,
                    cx,
                    "client did not take the response in time",
                )
            }
            ready => {
                self.send_deadline = None;
                ready
            }
        }
    }
}

/// Pending until `deadline`, then a `TimedOut` error; the timer is re-armed
/// rather than reallocated when the deadline moves.
fn wait_for<T>(
    timer: &mut Option<Pin<Box<Sleep>>>,
    deadline: Instant,
    cx: &mut Context<'_>,
    what: &'static str,
) -> Poll<io::Result<T>> {
    let timer = match timer {
        Some(timer) => {
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            timer
        }
        None => timer.insert(Box::pin(sleep_until(deadline))),
    };
    match timer.as_mut().poll(cx) {
        Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what))),
        Poll::Pending => Poll::Pending,
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.signal.take() {
            this.header_deadline = None;
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before && this.header_deadline.is_none() {
                    this.header_deadline = Some(Instant::now() + this.header_timeout);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match this.header_deadline {
                Some(deadline) => wait_for(
                    &mut this.read_timer,
                    deadline,
                    cx,
                    "request headers not received in time",
                ),
                None => Poll::Pending,
            },
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
        }
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .write_with_deadline(cx, |stream, cx| stream.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .write_with_deadline(cx, |stream, cx| stream.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut()
            .write_with_deadline(cx, |stream, cx| stream.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut()
            .write_with_deadline(cx, |stream, cx| stream.poll_shutdown(cx))
    }
}
