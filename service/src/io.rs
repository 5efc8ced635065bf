//! A TCP stream that enforces the connection deadlines and knows when its
//! connection is idle. Request headers must arrive within the header-read
//! timeout of their first byte (or of the accept, for a new connection), a
//! response must be taken by the client within the request timeout, and a
//! kept-alive connection may sit idle for the keep-alive timeout. hyper's
//! single header timer would make the idle time and the header time one
//! setting, and it allocates and arms a timer for every request; here a
//! timer is armed once per idle period at most.
//!
//! Idle means between requests: the last response is all written and no
//! byte of the next request has arrived (or, on a new connection, no byte
//! yet). Only then may the keep-alive timeout or the connection limit
//! ([`crate::slots`]) close the connection, and both close it the way a
//! client's close would end it: hyper reads end-of-stream and closes
//! cleanly. The decision is taken right after a read of the socket found
//! nothing, so a request that has arrived is read and served instead. One
//! case cannot be told from idle: a pipelined request whose first bytes
//! came in the same read as the previous request and whose rest has not
//! arrived (hyper holds those bytes); it is closed as idle, as hyper's own
//! graceful shutdown would close it, and pipelining clients retry requests
//! left unanswered by a close (RFC 9112 section 9.3.2).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::task::coop::has_budget_remaining;
use tokio::time::{sleep_until, Instant, Sleep};

use crate::metrics::METRICS;
use crate::slots::Slot;

/// Where the current request and response are, as the handler and the
/// response body see them.
const NO_EXCHANGE: u8 = 0;
/// hyper has parsed a request head and called the handler.
const HEAD_RECEIVED: u8 = 1;
/// hyper has taken the whole response body into its write buffer.
const RESPONSE_TAKEN: u8 = 2;

/// Tells the connection's stream what its handler and response bodies saw:
/// a request head parsed (which ends its header deadline), a response body
/// taken. A response is all written when the stream is next flushed after
/// its body was taken: hyper flushes the stream only once its write buffer
/// is empty. Handler, bodies and stream are all polled by the connection's
/// task, so relaxed loads and stores suffice.
#[derive(Debug, Default)]
pub struct Exchange {
    state: AtomicU8,
}

impl Exchange {
    pub fn head_received(&self) {
        self.state.store(HEAD_RECEIVED, Ordering::Relaxed);
    }

    pub fn response_taken(&self) {
        self.state.store(RESPONSE_TAKEN, Ordering::Relaxed);
    }

    fn state(&self) -> u8 {
        self.state.load(Ordering::Relaxed)
    }

    /// Whether a taken response has now been written; ends the exchange.
    #[inline]
    fn take_written(&self) -> bool {
        let written = self.state.load(Ordering::Relaxed) == RESPONSE_TAKEN;
        if written {
            self.state.store(NO_EXCHANGE, Ordering::Relaxed);
        }
        written
    }
}

/// The limits of [`GuardedStream`].
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    pub header: Duration,
    pub send: Duration,
    pub keepalive: Duration,
}

/// Where a connection is between two requests, with the deadline of its
/// reads there.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Accepted, no byte yet: the header deadline counts from the accept.
    /// Idle for the connection limit.
    New(Instant),
    /// Bytes of a request head arrived, the head is not complete. The
    /// header deadline is set when a read first has to wait, unless it was
    /// already running.
    Head(Option<Instant>),
    /// The handler has the request and its response is not all written:
    /// the send deadline bounds the writes, and hyper's reads (watching for
    /// the client's close) have no deadline of their own.
    Answering,
    /// The last response is written, no byte of the next request is here:
    /// the keep-alive deadline.
    Idle(Instant),
}

/// A client connection with header, send and idle deadlines.
#[derive(Debug)]
pub struct GuardedStream {
    // Declared first so the socket is closed before the slot is freed.
    stream: TcpStream,
    header_timeout: Duration,
    send_timeout: Duration,
    keepalive_timeout: Duration,
    phase: Phase,
    /// Bytes arrived while answering: the next request may be partly here
    /// (pipelined), so the connection is not idle after the response.
    carried: bool,
    /// The idle mark taken as the last write of the response began: the
    /// connection is idle from then on once the write completes. Taken
    /// before the write so that clients served later, on other threads, do
    /// not look idle longer if this thread is preempted after it.
    written_mark: u64,
    send_deadline: Option<Instant>,
    // Their Sleep is allocated the first time a read or write has to wait.
    read_timer: Timer,
    write_timer: Timer,
    exchange: Arc<Exchange>,
    slot: Slot,
}

impl GuardedStream {
    pub fn new(
        stream: TcpStream,
        deadlines: Deadlines,
        exchange: Arc<Exchange>,
        slot: Slot,
    ) -> GuardedStream {
        GuardedStream {
            stream,
            header_timeout: deadlines.header,
            send_timeout: deadlines.send,
            keepalive_timeout: deadlines.keepalive,
            phase: Phase::New(Instant::now() + deadlines.header),
            carried: false,
            written_mark: 0,
            send_deadline: None,
            read_timer: Timer::default(),
            write_timer: Timer::default(),
            exchange,
            slot,
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
                self.write_timer.wait_until(deadline, cx).map(|()| {
                    Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "client did not take the response in time",
                    ))
                })
            }
            ready => {
                self.send_deadline = None;
                ready
            }
        }
    }

    /// Called before each write. A write that carries the end of a response
    /// takes the mark the connection will be idle from once it completes.
    fn before_write(&mut self) {
        let state = self.note_exchange();
        if state == RESPONSE_TAKEN {
            self.written_mark = self.slot.tick();
        }
    }

    /// The handler has a request (maybe one hyper parsed from bytes it had
    /// already read, with no read of the socket since): the connection is
    /// busy until its response is written. Checked first in every read and
    /// write (a response is written before the flush that completes it), so
    /// no decision is taken on a stale phase. Returns the exchange state.
    fn note_exchange(&mut self) -> u8 {
        let state = self.exchange.state();
        if state != NO_EXCHANGE && !matches!(self.phase, Phase::Answering) {
            self.phase = Phase::Answering;
            self.slot.busy();
        }
        state
    }

    /// The last response is all written: the connection is idle, or reading
    /// a head if bytes of the next one came while answering. hyper does not
    /// read again until the socket has bytes, so the deadline is armed and
    /// the slot marked here, not at the next read.
    fn response_written(&mut self, cx: &mut Context<'_>) {
        let mark = std::mem::take(&mut self.written_mark);
        let deadline;
        if std::mem::take(&mut self.carried) {
            deadline = Instant::now() + self.header_timeout;
            self.phase = Phase::Head(Some(deadline));
        } else {
            deadline = Instant::now() + self.keepalive_timeout;
            self.phase = Phase::Idle(deadline);
            let mark = if mark == 0 { self.slot.tick() } else { mark };
            if self.slot.idle(cx.waker(), mark) {
                // Room is owed to a waiting client: the read this wake
                // brings closes the connection.
                cx.waker().wake_by_ref();
            }
        }
        // Pending: the deadline is ahead.
        let _ = self.read_timer.wait_until(deadline, cx);
    }

    /// A read found nothing on a new or idle connection: ends it if it was
    /// asked to make room, else waits until `deadline`.
    fn wait_idle(&mut self, deadline: Instant, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.slot.is_idle() {
            // A new connection's first wait.
            let mark = self.slot.tick();
            self.slot.idle(cx.waker(), mark);
        }
        if self.slot.is_shed() {
            METRICS.connections_shed.fetch_add(1, Ordering::Relaxed);
            return Poll::Ready(Ok(()));
        }
        let timed_out = self.read_timer.wait_until(deadline, cx);
        if let Phase::New(_) = self.phase {
            return timed_out.map(|()| {
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "request headers not received in time",
                ))
            });
        }
        // An idle connection that times out ends like one the client
        // closed: no error, nothing half-read.
        timed_out.map(Ok)
    }
}

/// A deadline timer kept across waits. The idle deadline moves on with
/// every request, and re-arming the timer, or even polling it again, would
/// cost a timer-wheel visit per request; an armed timer that fires no later
/// than the deadline wanted and wakes this same task is left alone instead.
/// When it fires early, the wait re-arms it for the deadline it was after.
#[derive(Debug, Default)]
struct Timer {
    sleep: Option<Pin<Box<Sleep>>>,
    /// The task the armed timer will wake; `None` while it is not armed.
    armed_for: Option<Waker>,
}

impl Timer {
    /// Pending until `deadline`.
    fn wait_until(&mut self, deadline: Instant, cx: &mut Context<'_>) -> Poll<()> {
        if let (Some(sleep), Some(task)) = (&self.sleep, &self.armed_for) {
            if sleep.deadline() <= deadline && !sleep.is_elapsed() && task.will_wake(cx.waker()) {
                return Poll::Pending;
            }
        }
        let sleep = match &mut self.sleep {
            Some(sleep) => {
                if sleep.deadline() > deadline {
                    sleep.as_mut().reset(deadline);
                }
                sleep
            }
            None => self.sleep.insert(Box::pin(sleep_until(deadline))),
        };
        loop {
            // With the task's cooperative budget spent, a poll returns
            // Pending without registering the timer: only a poll made with
            // budget left arms it.
            let registers = has_budget_remaining();
            match sleep.as_mut().poll(cx) {
                Poll::Pending if !registers => {
                    self.armed_for = None;
                    return Poll::Pending;
                }
                Poll::Pending => {
                    if !self
                        .armed_for
                        .as_ref()
                        .is_some_and(|task| task.will_wake(cx.waker()))
                    {
                        self.armed_for = Some(cx.waker().clone());
                    }
                    return Poll::Pending;
                }
                Poll::Ready(()) if sleep.deadline() >= deadline => {
                    self.armed_for = None;
                    return Poll::Ready(());
                }
                Poll::Ready(()) => sleep.as_mut().reset(deadline),
            }
        }
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.note_exchange();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    match this.phase {
                        // The header deadline still counts from the accept.
                        Phase::New(deadline) => this.phase = Phase::Head(Some(deadline)),
                        Phase::Idle(_) => this.phase = Phase::Head(None),
                        Phase::Answering => this.carried = true,
                        Phase::Head(_) => {}
                    }
                    this.slot.busy();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match this.phase {
                Phase::New(deadline) | Phase::Idle(deadline) => this.wait_idle(deadline, cx),
                // The clock is read only when a read has to wait: a head
                // that arrives whole (the usual case) costs none. The header
                // deadline then counts from the first wait, microseconds
                // after the first byte.
                Phase::Head(deadline) => {
                    let deadline = deadline.unwrap_or_else(|| Instant::now() + this.header_timeout);
                    this.phase = Phase::Head(Some(deadline));
                    this.read_timer.wait_until(deadline, cx).map(|()| {
                        Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "request headers not received in time",
                        ))
                    })
                }
                Phase::Answering => Poll::Pending,
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
        let this = self.get_mut();
        this.before_write();
        this.write_with_deadline(cx, |stream, cx| stream.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.before_write();
        this.write_with_deadline(cx, |stream, cx| stream.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    /// hyper flushes once its write buffer is empty: a response whose body
    /// it took before is then all written, and the connection is idle
    /// unless the next request has begun to arrive. hyper flushes several
    /// times a request, and a TCP stream has nothing to flush (it never
    /// waits): the usual call is one load.
    #[inline]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.exchange.take_written() {
            this.response_written(cx);
        }
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut()
            .write_with_deadline(cx, |stream, cx| stream.poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wait that starts when the task has spent its cooperative budget
    /// must still end at its deadline once the task runs again.
    #[tokio::test]
    async fn a_wait_begun_without_budget_still_ends_at_its_deadline() {
        let mut timer = Timer::default();
        let deadline = Instant::now() + Duration::from_millis(50);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        std::future::poll_fn(|cx| {
            while has_budget_remaining() {
                let _ = tx.send(());
                let _ = rx.poll_recv(cx);
            }
            assert!(timer.wait_until(deadline, cx).is_pending());
            Poll::Ready(())
        })
        .await;
        let waited = std::future::poll_fn(|cx| timer.wait_until(deadline, cx));
        assert!(
            tokio::time::timeout(Duration::from_secs(2), waited)
                .await
                .is_ok(),
            "the deadline never fired"
        );
    }

    /// An armed timer that would fire too late is moved to the earlier
    /// deadline (a new request head after an idle wait).
    #[tokio::test]
    async fn an_earlier_deadline_replaces_an_armed_later_one() {
        let mut timer = Timer::default();
        let late = Instant::now() + Duration::from_secs(60);
        std::future::poll_fn(|cx| {
            assert!(timer.wait_until(late, cx).is_pending());
            Poll::Ready(())
        })
        .await;
        let soon = Instant::now() + Duration::from_millis(50);
        let waited = std::future::poll_fn(|cx| timer.wait_until(soon, cx));
        assert!(tokio::time::timeout(Duration::from_secs(2), waited)
            .await
            .is_ok());
    }
}
