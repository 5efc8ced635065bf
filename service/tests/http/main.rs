//! Tests of the `webapp` binary over real sockets on 127.0.0.1: what clients
//! and the platform rely on, from endpoints to hostile clients to shutdown.

mod config;
mod endpoints;
mod hardening;
mod limits;
mod secrets;
mod shutdown;
mod support;
