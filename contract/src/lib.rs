//! The contract between the deployed service (`service/`) and the program
//! that configures it (`stacks/`, through the Helm chart): the settings'
//! names, their log levels, and which names are secrets. Written once here,
//! so the two sides cannot drift apart; it depends on nothing the service
//! or the stacks would not want (serde only behind a feature).

use std::fmt;
use std::str::FromStr;

/// Prefix of the application's own variables, shown by `/configs`.
pub const APP_PREFIX: &str = "APP_";

/// The environment's name, as the service reports it.
pub const APP_ENV: &str = "APP_ENV";

/// Suffixes that mark an `APP_*` variable (or a ConfigMap key) as a secret:
/// the service shows such values only as set or not set, and the stacks
/// refuse them in plain config.
pub const SECRET_SUFFIXES: [&str; 4] = ["_SECRET", "_PASSWORD", "_TOKEN", "_KEY"];

/// True when `name` denotes a secret by the naming convention (any case).
pub fn is_secret_name(name: &str) -> bool {
    secret_suffix(name).is_some()
}

/// The secret suffix `name` ends with, if any (any case).
pub fn secret_suffix(name: &str) -> Option<&'static str> {
    let upper = name.to_ascii_uppercase();
    SECRET_SUFFIXES
        .iter()
        .find(|suffix| upper.ends_with(*suffix))
        .copied()
}

/// The service settings the binary understands; any other `SERVICE_*`
/// variable is a typo that the service refuses rather than ignores.
pub mod settings {
    pub const LISTEN_ADDRESS: &str = "SERVICE_LISTEN_ADDRESS";
    pub const LOG_LEVEL: &str = "SERVICE_LOG_LEVEL";
    pub const DRAIN_SECONDS: &str = "SERVICE_DRAIN_SECONDS";
    pub const SHUTDOWN_TIMEOUT_SECONDS: &str = "SERVICE_SHUTDOWN_TIMEOUT_SECONDS";
    pub const MAX_CONNECTIONS: &str = "SERVICE_MAX_CONNECTIONS";
    pub const REQUEST_TIMEOUT_SECONDS: &str = "SERVICE_REQUEST_TIMEOUT_SECONDS";
    pub const HEADER_READ_TIMEOUT_SECONDS: &str = "SERVICE_HEADER_READ_TIMEOUT_SECONDS";
    pub const KEEPALIVE_TIMEOUT_SECONDS: &str = "SERVICE_KEEPALIVE_TIMEOUT_SECONDS";
    pub const MAX_HEADER_BYTES: &str = "SERVICE_MAX_HEADER_BYTES";
    pub const WORKER_THREADS: &str = "SERVICE_WORKER_THREADS";
    pub const CONFIG_DIR: &str = "SERVICE_CONFIG_DIR";
    pub const ACCESS_LOG: &str = "SERVICE_ACCESS_LOG";
    pub const SECRETS_DIR: &str = "SERVICE_SECRETS_DIR";
    pub const SECRETS_POLL_SECONDS: &str = "SERVICE_SECRETS_POLL_SECONDS";

    /// Every setting, for "known settings" messages and checks.
    pub const ALL: [&str; 14] = [
        LISTEN_ADDRESS,
        LOG_LEVEL,
        DRAIN_SECONDS,
        SHUTDOWN_TIMEOUT_SECONDS,
        MAX_CONNECTIONS,
        REQUEST_TIMEOUT_SECONDS,
        HEADER_READ_TIMEOUT_SECONDS,
        KEEPALIVE_TIMEOUT_SECONDS,
        MAX_HEADER_BYTES,
        WORKER_THREADS,
        CONFIG_DIR,
        ACCESS_LOG,
        SECRETS_DIR,
        SECRETS_POLL_SECONDS,
    ];
}

/// Severity threshold for log lines; access logs are `info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

impl LogLevel {
    pub const ALL: [LogLevel; 4] = [Self::Error, Self::Warn, Self::Info, Self::Debug];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not one of `error`, `warn`, `info`, `debug`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownLogLevel;

impl FromStr for LogLevel {
    type Err = UnknownLogLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|level| level.as_str() == s)
            .ok_or(UnknownLogLevel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels_round_trip_through_their_names() {
        for level in LogLevel::ALL {
            assert_eq!(level.as_str().parse(), Ok(level));
        }
        assert_eq!("INFO".parse::<LogLevel>(), Err(UnknownLogLevel));
    }

    #[test]
    fn secrets_are_named_by_suffix_in_any_case() {
        assert!(is_secret_name("APP_DB_PASSWORD"));
        assert!(is_secret_name("api_token"));
        assert_eq!(secret_suffix("APP_SIGNING_KEY"), Some("_KEY"));
        assert!(!is_secret_name("APP_GREETING"));
        assert!(!is_secret_name("APP_KEYS_ENABLED"));
    }

    #[test]
    fn every_setting_is_a_service_variable_listed_once() {
        let mut names = settings::ALL.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), settings::ALL.len());
        assert!(settings::ALL.iter().all(|n| n.starts_with("SERVICE_")));
    }
}
