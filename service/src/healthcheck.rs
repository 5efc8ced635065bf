//! `webapp healthcheck`: asks the service on this host for `/healthz` and
//! exits 0 only on a 200. The image has no shell or curl, so a container
//! runtime's HEALTHCHECK (or an operator in `docker exec`) runs the binary.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use crate::config::Config;

const TIMEOUT: Duration = Duration::from_secs(2);

/// The address the running service answers on, from its configuration: a
/// wildcard listen address is reached over loopback.
pub fn target(config: &Config) -> SocketAddr {
    let ip = match config.listen_address {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::from([127, 0, 0, 1]),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::from([0, 0, 0, 0, 0, 0, 0, 1]),
        ip => ip,
    };
    SocketAddr::new(ip, config.port)
}

/// Requests `/healthz` from `addr`; `Err` says why it is not healthy.
pub fn check(addr: SocketAddr) -> Result<(), String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
        .and_then(|()| {
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        })
        .map_err(|e| format!("send to {addr}: {e}"))?;
    let mut head = [0u8; 12];
    stream
        .read_exact(&mut head)
        .map_err(|e| format!("read from {addr}: {e}"))?;
    match &head {
        b"HTTP/1.1 200" => Ok(()),
        other => Err(format!(
            "{addr}/healthz answered {:?}",
            String::from_utf8_lossy(other)
        )),
    }
}
