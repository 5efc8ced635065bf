//! Helpers for the socket tests: start the real `webapp` binary on an
//! ephemeral loopback port, speak raw HTTP/1.1 to it, and read its log.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_webapp");

/// A running service; killed on drop if a test did not stop it.
pub struct Service {
    child: Child,
    pub addr: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl Service {
    /// Starts the binary with only `env` (plus loopback and port 0) set.
    pub fn start(env: &[(&str, &str)]) -> Service {
        let mut command = Command::new(BIN);
        command
            .env_clear()
            .env("PORT", "0")
            .env("SERVICE_LISTEN_ADDRESS", "127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start webapp");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("stdout piped");
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().expect("log lock").push(line);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("stderr piped");
        let err_sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err_pipe.read_to_string(&mut text);
            err_sink.lock().expect("stderr lock").push_str(&text);
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr = loop {
            let found = lines.lock().expect("log lock").iter().find_map(|line| {
                let entry: serde_json::Value = serde_json::from_str(line).ok()?;
                (entry["msg"] == "listening").then(|| entry["address"].as_str()?.parse().ok())?
            });
            if let Some(addr) = found {
                break addr;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "webapp exited with {status} before listening: {}",
                    stderr.lock().expect("stderr lock")
                );
            }
            assert!(Instant::now() < deadline, "webapp did not log its address");
            std::thread::sleep(Duration::from_millis(5));
        };
        Service {
            child,
            addr,
            lines,
            stderr,
        }
    }

    pub fn get(&self, path: &str) -> Response {
        send(
            self.addr,
            &format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"),
        )
        .expect("response")
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit, at most `limit`.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // The reader threads see EOF once the process is gone.
                std::thread::sleep(Duration::from_millis(50));
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "webapp still running after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Every stdout line so far, each parsed as JSON (which it must be).
    pub fn log(&self) -> Vec<serde_json::Value> {
        self.lines
            .lock()
            .expect("log lock")
            .iter()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
            .collect()
    }

    pub fn raw_output(&self) -> String {
        let mut text = self.lines.lock().expect("log lock").join("\n");
        text.push_str(&self.stderr.lock().expect("stderr lock"));
        text
    }

    /// Waits until a log line with `msg` appears.
    pub fn wait_for_log(&self, msg: &str, limit: Duration) -> serde_json::Value {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(entry) = self.log().into_iter().find(|e| e["msg"] == msg) {
                return entry;
            }
            assert!(
                Instant::now() < deadline,
                "no {msg:?} log line within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }
}

/// Sends `raw` on a new connection and reads one response.
pub fn send(addr: SocketAddr, raw: &str) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(raw.as_bytes())?;
    read_response(&mut stream, raw.starts_with("HEAD "))
}

/// Reads one response (headers, then `Content-Length` bytes of body) from
/// `stream`, leaving it open for another request.
pub fn read_response(stream: &mut TcpStream, head: bool) -> std::io::Result<Response> {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("connection closed after {} bytes", raw.len()),
            ));
        }
        raw.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    // A repeated field is joined with ", " as HTTP combines field lines, so
    // an exact-value assertion also catches a header sent twice.
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in lines.filter_map(|line| line.split_once(':')) {
        headers
            .entry(name.trim().to_ascii_lowercase())
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(value.trim());
            })
            .or_insert_with(|| value.trim().to_owned());
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; if head { 0 } else { length }];
    stream.read_exact(&mut body)?;
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// True when the peer closed `stream` (EOF or reset) within `limit`.
pub fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    stream
        .set_read_timeout(Some(limit))
        .expect("set read timeout");
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}
