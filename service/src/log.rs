//! JSON log lines on stdout, written by a dedicated thread so a request only
//! appends to a memory buffer: a slow or blocked stdout never stalls serving,
//! and at high request rates one write carries thousands of lines.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::LogLevel;
use crate::metrics::METRICS;

/// How long lines may wait in memory before the writer thread prints them.
const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// A buffer this full wakes the writer early.
const WAKE_AT_BYTES: usize = 64 * 1024;
/// Beyond this, stdout is not keeping up: lines are dropped (and counted)
/// rather than letting memory grow without bound.
const DROP_AT_BYTES: usize = 4 * 1024 * 1024;
/// Request paths are logged up to this many bytes.
const MAX_LOGGED_PATH: usize = 256;

static LOGGER: OnceLock<Logger> = OnceLock::new();

struct Buffer {
    pending: Vec<u8>,
    closed: bool,
    /// Whole second last formatted and its `YYYY-MM-DDTHH:MM:SS` text, so
    /// the date arithmetic runs once a second rather than once a line.
    stamp_second: u64,
    stamp_text: [u8; 19],
}

struct Shared {
    buffer: Mutex<Buffer>,
    wake: Condvar,
}

/// The process-wide log sink.
#[derive(Debug)]
pub struct Logger {
    level: LogLevel,
    access_log: bool,
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Shared")
    }
}

/// A log line under construction; fields are added with [`Line::str`] and
/// [`Line::num`] and the line is queued when it is dropped.
#[derive(Debug)]
pub struct Line<'a> {
    buffer: Option<MutexGuard<'a, Buffer>>,
    start: usize,
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Buffer")
            .field("pending", &self.pending.len())
            .finish()
    }
}

/// Starts the writer thread and makes the logger available to [`line`].
/// Later calls keep the first logger.
pub fn init(level: LogLevel, access_log: bool) {
    LOGGER.get_or_init(|| {
        let shared = Arc::new(Shared {
            buffer: Mutex::new(Buffer {
                pending: Vec::with_capacity(WAKE_AT_BYTES),
                closed: false,
                stamp_second: u64::MAX,
                stamp_text: [b'0'; 19],
            }),
            wake: Condvar::new(),
        });
        let for_writer = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || write_until_closed(&for_writer))
            .ok();
        Logger {
            level,
            access_log,
            shared,
            writer: Mutex::new(writer),
        }
    });
}

/// Prints everything still buffered and stops the writer thread.
pub fn shutdown() {
    let Some(logger) = LOGGER.get() else { return };
    if let Ok(mut buffer) = logger.shared.buffer.lock() {
        buffer.closed = true;
    }
    logger.shared.wake.notify_one();
    let handle = logger.writer.lock().ok().and_then(|mut w| w.take());
    if let Some(handle) = handle {
        let _ = handle.join();
    }
}

/// Whether access log lines are wanted (info level and not switched off).
pub fn access_enabled() -> bool {
    LOGGER
        .get()
        .is_some_and(|l| l.access_log && l.level >= LogLevel::Info)
}

/// Starts a line at `level` with message `msg`, or `None` when that level
/// is filtered out (or no logger was set up, as in unit tests).
pub fn line(level: LogLevel, msg: &str) -> Option<Line<'static>> {
    let logger = LOGGER.get()?;
    if level > logger.level {
        return None;
    }
    let mut buffer = logger.shared.buffer.lock().ok()?;
    if buffer.closed || buffer.pending.len() >= DROP_AT_BYTES {
        METRICS
            .log_lines_dropped
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return None;
    }
    let start = buffer.pending.len();
    buffer.pending.extend_from_slice(b"{\"ts\":\"");
    push_timestamp(&mut buffer);
    buffer.pending.extend_from_slice(b"\",\"level\":\"");
    buffer.pending.extend_from_slice(level.as_str().as_bytes());
    let mut line = Line {
        buffer: Some(buffer),
        start,
    };
    line.pending().extend_from_slice(b"\"");
    Some(line.plain("msg", msg))
}

// The field methods are forced inline: with the key a literal at the call
// site, its bytes and separators become a few stores instead of calls to
// memcpy, which callgrind put at about 240 instructions per access line.
impl Line<'_> {
    fn pending(&mut self) -> &mut Vec<u8> {
        match self.buffer.as_mut() {
            Some(buffer) => &mut buffer.pending,
            None => unreachable!("a line owns its buffer until dropped"),
        }
    }

    /// Adds a string field whose value needs no JSON escaping by
    /// construction: an HTTP method (a token, which excludes quotes,
    /// backslashes and control characters), a formatted socket address, a
    /// message from this code. Skipping the escape scan matters on the
    /// per-request path.
    #[inline(always)]
    pub fn plain(mut self, key: &str, value: &str) -> Self {
        debug_assert!(!needs_escape(value), "{value:?} needs escaping");
        let out = self.pending();
        push_key(out, key);
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
        self
    }

    /// Adds a string field, JSON-escaped.
    #[inline(always)]
    pub fn str(mut self, key: &str, value: &str) -> Self {
        let out = self.pending();
        push_key(out, key);
        push_json_string(out, value);
        self
    }

    /// Adds a request path: escaped and cut to a bounded length.
    #[inline(always)]
    pub fn path(self, key: &str, path: &str) -> Self {
        let mut end = path.len().min(MAX_LOGGED_PATH);
        while !path.is_char_boundary(end) {
            end -= 1;
        }
        self.str(key, &path[..end])
    }

    /// Adds an unsigned number field.
    #[inline(always)]
    pub fn num(mut self, key: &str, value: u64) -> Self {
        let out = self.pending();
        push_key(out, key);
        push_u64(out, value);
        self
    }

    /// Adds a duration in microseconds with nanosecond digits.
    #[inline(always)]
    pub fn micros(mut self, key: &str, elapsed: Duration) -> Self {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let out = self.pending();
        push_key(out, key);
        push_u64(out, nanos / 1000);
        let fraction = nanos % 1000;
        out.extend_from_slice(&[
            b'.',
            b'0' + (fraction / 100) as u8,
            b'0' + (fraction / 10 % 10) as u8,
            b'0' + (fraction % 10) as u8,
        ]);
        self
    }

    /// Adds a field whose value is already formatted by `Display` (addresses,
    /// error messages), escaped as a string.
    pub fn display(self, key: &str, value: impl std::fmt::Display) -> Self {
        self.str(key, &value.to_string())
    }
}

impl Drop for Line<'_> {
    fn drop(&mut self) {
        let Some(mut buffer) = self.buffer.take() else {
            return;
        };
        buffer.pending.extend_from_slice(b"}\n");
        let crossed = self.start < WAKE_AT_BYTES && buffer.pending.len() >= WAKE_AT_BYTES;
        drop(buffer);
        if crossed {
            if let Some(logger) = LOGGER.get() {
                logger.shared.wake.notify_one();
            }
        }
    }
}

fn write_until_closed(shared: &Shared) {
    let mut spare = Vec::with_capacity(WAKE_AT_BYTES);
    let mut stdout = std::io::stdout();
    loop {
        let closed = {
            let Ok(buffer) = shared.buffer.lock() else {
                return;
            };
            let Ok((mut buffer, _)) = shared.wake.wait_timeout(buffer, FLUSH_INTERVAL) else {
                return;
            };
            std::mem::swap(&mut buffer.pending, &mut spare);
            buffer.closed
        };
        if !spare.is_empty() {
            // A closed or full stdout leaves nothing useful to do with the
            // error: the lines are gone either way and serving continues.
            let _ = stdout.write_all(&spare).and_then(|()| stdout.flush());
            spare.clear();
            if spare.capacity() > 4 * WAKE_AT_BYTES {
                spare.shrink_to(WAKE_AT_BYTES);
            }
        }
        if closed {
            return;
        }
    }
}

#[inline(always)]
fn push_key(out: &mut Vec<u8>, key: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

fn push_u64(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Whether `value` has a character JSON strings must escape. Nearly every
/// logged value has none; a scan without early exit lets the compiler
/// vectorise the check.
fn needs_escape(value: &str) -> bool {
    value.bytes().fold(false, |found, b| {
        found | (b < 0x20 || b == b'"' || b == b'\\' || b == 0x7f)
    })
}

/// Appends `value` as a JSON string literal.
pub fn push_json_string(out: &mut Vec<u8>, value: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = value.as_bytes();
    if !needs_escape(value) {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut copied = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f | 0x7f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[copied..i]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        copied = i + 1;
    }
    out.extend_from_slice(&bytes[copied..]);
    out.push(b'"');
}

fn push_timestamp(buffer: &mut Buffer) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let second = now.as_secs();
    if second != buffer.stamp_second {
        buffer.stamp_second = second;
        buffer.stamp_text = format_utc_second(second);
    }
    let millis = now.subsec_millis();
    let stamp = buffer.stamp_text;
    buffer.pending.extend_from_slice(&stamp);
    buffer.pending.extend_from_slice(&[
        b'.',
        b'0' + (millis / 100) as u8,
        b'0' + (millis / 10 % 10) as u8,
        b'0' + (millis % 10) as u8,
        b'Z',
    ]);
}

/// `YYYY-MM-DDTHH:MM:SS` in UTC for a Unix time, by Howard Hinnant's
/// days-to-civil algorithm (the standard library has no calendar).
fn format_utc_second(unix_seconds: u64) -> [u8; 19] {
    let days = unix_seconds / 86_400;
    let second_of_day = unix_seconds % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    let mut text = [0u8; 19];
    let mut put = |at: usize, value: u64, width: usize| {
        let mut v = value;
        for i in (0..width).rev() {
            text[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year, 4);
    put(5, month, 2);
    put(8, day, 2);
    put(11, second_of_day / 3600, 2);
    put(14, second_of_day / 60 % 60, 2);
    put(17, second_of_day % 60, 2);
    text[4] = b'-';
    text[7] = b'-';
    text[10] = b'T';
    text[13] = b':';
    text[16] = b':';
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_seconds_format_as_calendar_time() {
        assert_eq!(&format_utc_second(0), b"1970-01-01T00:00:00");
        assert_eq!(&format_utc_second(951_782_400), b"2000-02-29T00:00:00");
        assert_eq!(&format_utc_second(1_798_761_599), b"2026-12-31T23:59:59");
    }

    #[test]
    fn json_strings_escape_quotes_and_control_characters() {
        let mut out = Vec::new();
        push_json_string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, "\"a\\\"b\\\\c\\nd\\u0001é\"".as_bytes());
        let parsed: String = serde_json::from_slice(&out).expect("valid JSON string");
        assert_eq!(parsed, "a\"b\\c\nd\u{1}é");
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        let mut out = Vec::new();
        push_u64(&mut out, 0);
        out.push(b' ');
        push_u64(&mut out, u64::MAX);
        assert_eq!(out, b"0 18446744073709551615");
    }
}
