//! A TCP stream that enforces the connection deadlines: request headers must
//! arrive within the header-read timeout of their first byte (or of the
//! accept, for a new connection), a response must be taken by the client
//! within the request timeout, and a kept-alive connection may sit idle for
//! the keep-alive timeout. hyper's single header timer would make the idle
//! time and the header time one setting, and it allocates and arms a timer
//! for every request; here a timer is armed once per idle period at most.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::task::coop::has_budget_remaining;
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

/// The limits of [`GuardedStream`].
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    pub header: Duration,
    pub send: Duration,
    pub keepalive: Duration,
}

/// A client connection with header, send and idle deadlines.
#[derive(Debug)]
pub struct GuardedStream {
    stream: TcpStream,
    header_timeout: Duration,
    send_timeout: Duration,
    keepalive_timeout: Duration,
    /// Bytes of a request head have arrived and its headers are not
    /// complete: waiting now counts against the header deadline.
    in_head: bool,
    header_deadline: Option<Instant>,
    idle_deadline: Option<Instant>,
    send_deadline: Option<Instant>,
    // Their Sleep is allocated the first time a read or write has to wait.
    read_timer: Timer,
    write_timer: Timer,
    signal: Arc<HeadSignal>,
}

impl GuardedStream {
    pub fn new(stream: TcpStream, deadlines: Deadlines, signal: Arc<HeadSignal>) -> GuardedStream {
        GuardedStream {
            stream,
            header_timeout: deadlines.header,
            send_timeout: deadlines.send,
            keepalive_timeout: deadlines.keepalive,
            in_head: true,
            header_deadline: Some(Instant::now() + deadlines.header),
            idle_deadline: None,
            send_deadline: None,
            read_timer: Timer::default(),
            write_timer: Timer::default(),
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
        if this.signal.take() {
            this.in_head = false;
            this.header_deadline = None;
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.idle_deadline = None;
                    this.in_head = true;
                }
                Poll::Ready(Ok(()))
            }
            // The clock is read only when a read has to wait: a head that
            // arrives whole (the usual case) costs none. The header deadline
            // then counts from the first wait, microseconds after the first
            // byte.
            Poll::Pending if this.in_head => {
                let header_timeout = this.header_timeout;
                let deadline = *this
                    .header_deadline
                    .get_or_insert_with(|| Instant::now() + header_timeout);
                this.read_timer.wait_until(deadline, cx).map(|()| {
                    Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "request headers not received in time",
                    ))
                })
            }
            Poll::Pending => {
                let keepalive = this.keepalive_timeout;
                let deadline = *this
                    .idle_deadline
                    .get_or_insert_with(|| Instant::now() + keepalive);
                // An idle connection that times out ends like one the
                // client closed: no error, nothing half-read.
                this.read_timer.wait_until(deadline, cx).map(Ok)
            }
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
