//! The web service deployed to each environment: a small hyper server with
//! probes, metrics, a drain-aware shutdown and per-connection limits. The
//! binary (`webapp`) wires these together; the modules are a library so the
//! handlers can be tested without sockets.

pub mod app;
pub mod config;
pub mod healthcheck;
pub mod io;
pub mod log;
pub mod metrics;
pub mod secrets;
pub mod server;
pub mod slots;
