//! Configuration read once at start from the environment and the mounted
//! ConfigMap directory, validated so a bad value stops the service with one
//! line naming the variable instead of surfacing later as odd behaviour.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use contract::settings::ALL as SERVICE_SETTINGS;
pub use contract::{is_secret_name, LogLevel};

use crate::secrets::{mounted_files, SecretFiles};

/// Why the configuration was rejected; `Display` is the one line printed
/// before exiting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}={value:?} is invalid: expected {expected}")]
    Invalid {
        name: String,
        value: String,
        expected: String,
    },
    #[error("{name} is invalid: its value is not valid UTF-8")]
    NotUtf8 { name: String },
    #[error(
        "{name} is not a known service setting (known: {})",
        SERVICE_SETTINGS.join(", ")
    )]
    UnknownSetting { name: String },
    #[error("SERVICE_CONFIG_DIR={dir:?} cannot be read: {reason}")]
    ConfigDir { dir: PathBuf, reason: String },
    #[error("SERVICE_SECRETS_DIR={dir:?} cannot be read: {reason}")]
    SecretsDir { dir: PathBuf, reason: String },
}

/// How a configuration value is shown by `/configs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    Value(String),
    /// A secret: only whether it holds a non-empty value.
    Secret {
        set: bool,
    },
}

/// Everything the service reads from its environment, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen_address: IpAddr,
    pub port: u16,
    pub environment: String,
    pub pod_name: String,
    pub pod_namespace: String,
    pub log_level: LogLevel,
    pub access_log: bool,
    pub drain: Duration,
    pub shutdown_timeout: Duration,
    pub max_connections: usize,
    pub request_timeout: Duration,
    pub header_read_timeout: Duration,
    pub keepalive_timeout: Duration,
    pub max_header_bytes: usize,
    pub worker_threads: usize,
    pub config_dir: Option<PathBuf>,
    /// `APP_*` variables, secrets already reduced to set / not set.
    pub app: BTreeMap<String, Shown>,
    /// Files of the mounted ConfigMap, secret-looking keys reduced likewise.
    pub config_files: BTreeMap<String, Shown>,
    /// Files of the mounted Secret, watched while the service runs.
    pub secrets: Option<SecretFiles>,
    /// How often the secret files are read again.
    pub secrets_poll: Duration,
}

fn shown(name: &str, value: String) -> Shown {
    if is_secret_name(name) {
        Shown::Secret {
            set: !value.is_empty(),
        }
    } else {
        Shown::Value(value)
    }
}

/// Kubernetes injects `<SERVICE>_SERVICE_HOST`, `<SERVICE>_PORT_80_TCP` and
/// the like for every Service in the namespace; one named `service-...`
/// must not be mistaken for a misspelt setting.
fn is_service_link(name: &str) -> bool {
    name.contains("_SERVICE_HOST")
        || name.contains("_SERVICE_PORT")
        || name.ends_with("_PORT")
        || name.contains("_PORT_")
}

struct Vars(BTreeMap<String, String>);

impl Vars {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn invalid(&self, name: &str, expected: &str) -> ConfigError {
        ConfigError::Invalid {
            name: name.to_owned(),
            value: self.get(name).unwrap_or_default().to_owned(),
            expected: expected.to_owned(),
        }
    }

    fn number(&self, name: &str, default: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        match raw.trim().parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(self.invalid(name, &format!("a whole number from {min} to {max}"))),
        }
    }

    fn seconds(
        &self,
        name: &str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<Duration, ConfigError> {
        self.number(name, default, min, max)
            .map(Duration::from_secs)
    }
}

impl Config {
    /// Validates the given environment and reads the ConfigMap directory it
    /// names.
    pub fn from_env<I>(vars: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = (OsString, OsString)>,
    {
        let mut map = BTreeMap::new();
        for (name, value) in vars {
            let Ok(name) = name.into_string() else {
                continue;
            };
            let relevant = name.starts_with("APP_")
                || name.starts_with("SERVICE_")
                || matches!(
                    name.as_str(),
                    "PORT" | "POD_NAME" | "POD_NAMESPACE" | "HOSTNAME"
                );
            if !relevant {
                continue;
            }
            let value = value
                .into_string()
                .map_err(|_| ConfigError::NotUtf8 { name: name.clone() })?;
            map.insert(name, value);
        }
        let vars = Vars(map);

        if let Some(name) = vars.0.keys().find(|name| {
            name.starts_with("SERVICE_")
                && !SERVICE_SETTINGS.contains(&name.as_str())
                && !is_service_link(name)
        }) {
            return Err(ConfigError::UnknownSetting { name: name.clone() });
        }

        let listen_address = match vars.get("SERVICE_LISTEN_ADDRESS") {
            None => IpAddr::from([0, 0, 0, 0]),
            Some(raw) => raw
                .parse()
                .map_err(|_| vars.invalid("SERVICE_LISTEN_ADDRESS", "an IPv4 or IPv6 address"))?,
        };
        let port = u16::try_from(vars.number("PORT", 8080, 0, 65535)?)
            .map_err(|_| vars.invalid("PORT", "a TCP port from 0 to 65535"))?;
        let environment = match vars.get("APP_ENV") {
            None => "local".to_owned(),
            Some(env) if is_valid_environment(env) => env.to_owned(),
            Some(_) => {
                return Err(vars.invalid("APP_ENV", "1 to 63 letters, digits, '-', '_' or '.'"))
            }
        };
        let log_level = match vars.get("SERVICE_LOG_LEVEL").map(str::trim) {
            None => LogLevel::Info,
            Some(name) => name.parse().map_err(|_| {
                vars.invalid("SERVICE_LOG_LEVEL", "one of error, warn, info, debug")
            })?,
        };
        let access_log = match vars.get("SERVICE_ACCESS_LOG").map(str::trim) {
            None | Some("on") => true,
            Some("off") => false,
            Some(_) => return Err(vars.invalid("SERVICE_ACCESS_LOG", "on or off")),
        };
        let pod_name = vars
            .get("POD_NAME")
            .or_else(|| vars.get("HOSTNAME"))
            .filter(|name| !name.is_empty())
            .unwrap_or("unknown")
            .to_owned();
        let pod_namespace = vars
            .get("POD_NAMESPACE")
            .filter(|ns| !ns.is_empty())
            .unwrap_or("unknown")
            .to_owned();
        let config_dir = match vars.get("SERVICE_CONFIG_DIR") {
            None | Some("") => None,
            Some(dir) => Some(PathBuf::from(dir)),
        };
        let config_files = match &config_dir {
            Some(dir) => read_config_dir(dir)?,
            None => BTreeMap::new(),
        };
        let secrets = match vars.get("SERVICE_SECRETS_DIR") {
            None | Some("") => None,
            Some(dir) => Some(SecretFiles::read(Path::new(dir)).map_err(|reason| {
                ConfigError::SecretsDir {
                    dir: PathBuf::from(dir),
                    reason,
                }
            })?),
        };
        let app = vars
            .0
            .iter()
            .filter(|(name, _)| name.starts_with("APP_"))
            .map(|(name, value)| (name.clone(), shown(name, value.clone())))
            .collect();

        Ok(Config {
            listen_address,
            port,
            environment,
            pod_name,
            pod_namespace,
            log_level,
            access_log,
            drain: vars.seconds("SERVICE_DRAIN_SECONDS", 5, 0, 300)?,
            shutdown_timeout: vars.seconds("SERVICE_SHUTDOWN_TIMEOUT_SECONDS", 20, 1, 600)?,
            max_connections: usize::try_from(vars.number(
                "SERVICE_MAX_CONNECTIONS",
                1024,
                1,
                1_000_000,
            )?)
            .map_err(|_| vars.invalid("SERVICE_MAX_CONNECTIONS", "a smaller number"))?,
            request_timeout: vars.seconds("SERVICE_REQUEST_TIMEOUT_SECONDS", 30, 1, 3600)?,
            header_read_timeout: vars.seconds("SERVICE_HEADER_READ_TIMEOUT_SECONDS", 10, 1, 300)?,
            keepalive_timeout: vars.seconds("SERVICE_KEEPALIVE_TIMEOUT_SECONDS", 75, 1, 3600)?,
            max_header_bytes: usize::try_from(vars.number(
                "SERVICE_MAX_HEADER_BYTES",
                16 * 1024,
                8 * 1024,
                1024 * 1024,
            )?)
            .map_err(|_| vars.invalid("SERVICE_MAX_HEADER_BYTES", "a smaller number"))?,
            worker_threads: usize::try_from(vars.number("SERVICE_WORKER_THREADS", 1, 1, 256)?)
                .map_err(|_| vars.invalid("SERVICE_WORKER_THREADS", "a smaller number"))?,
            config_dir,
            app,
            config_files,
            secrets,
            secrets_poll: vars.seconds("SERVICE_SECRETS_POLL_SECONDS", 10, 1, 3600)?,
        })
    }

    /// The service settings as `/configs` shows them: the effective value of
    /// each, defaults included, keyed by the variable that sets it.
    pub fn service_settings(&self) -> Vec<(&'static str, String)> {
        let secs = |d: Duration| d.as_secs().to_string();
        vec![
            ("PORT", self.port.to_string()),
            ("SERVICE_LISTEN_ADDRESS", self.listen_address.to_string()),
            ("SERVICE_LOG_LEVEL", self.log_level.as_str().to_owned()),
            (
                "SERVICE_ACCESS_LOG",
                if self.access_log { "on" } else { "off" }.to_owned(),
            ),
            ("SERVICE_DRAIN_SECONDS", secs(self.drain)),
            (
                "SERVICE_SHUTDOWN_TIMEOUT_SECONDS",
                secs(self.shutdown_timeout),
            ),
            ("SERVICE_MAX_CONNECTIONS", self.max_connections.to_string()),
            (
                "SERVICE_REQUEST_TIMEOUT_SECONDS",
                secs(self.request_timeout),
            ),
            (
                "SERVICE_HEADER_READ_TIMEOUT_SECONDS",
                secs(self.header_read_timeout),
            ),
            (
                "SERVICE_KEEPALIVE_TIMEOUT_SECONDS",
                secs(self.keepalive_timeout),
            ),
            (
                "SERVICE_MAX_HEADER_BYTES",
                self.max_header_bytes.to_string(),
            ),
            ("SERVICE_WORKER_THREADS", self.worker_threads.to_string()),
            (
                "SERVICE_CONFIG_DIR",
                self.config_dir
                    .as_ref()
                    .map(|dir| dir.display().to_string())
                    .unwrap_or_default(),
            ),
            (
                "SERVICE_SECRETS_DIR",
                self.secrets
                    .as_ref()
                    .map(|files| files.dir().display().to_string())
                    .unwrap_or_default(),
            ),
            ("SERVICE_SECRETS_POLL_SECONDS", secs(self.secrets_poll)),
        ]
    }
}

fn is_valid_environment(env: &str) -> bool {
    (1..=63).contains(&env.len())
        && env
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Reads a mounted ConfigMap: one file per key, each UTF-8 text.
fn read_config_dir(dir: &Path) -> Result<BTreeMap<String, Shown>, ConfigError> {
    let fail = |reason: String| ConfigError::ConfigDir {
        dir: dir.to_owned(),
        reason,
    };
    let mut files = BTreeMap::new();
    for (name, bytes) in mounted_files(dir).map_err(fail)? {
        let value = String::from_utf8(bytes)
            .map_err(|_| fail(format!("{name}: content is not valid UTF-8")))?;
        let value = value.strip_suffix('\n').unwrap_or(&value).to_owned();
        let shown = shown(&name, value);
        files.insert(name, shown);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_env(
            vars.iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v))),
        )
    }

    #[test]
    fn empty_environment_gives_the_documented_defaults() {
        let config = config(&[]).expect("defaults are valid");
        assert_eq!(config.port, 8080);
        assert_eq!(config.environment, "local");
        assert_eq!(config.drain, Duration::from_secs(5));
        assert_eq!(config.shutdown_timeout, Duration::from_secs(20));
        assert_eq!(config.log_level, LogLevel::Info);
        assert_eq!(config.worker_threads, 1);
        assert!(config.app.is_empty());
    }

    #[test]
    fn secrets_are_reduced_to_set_or_not_set() {
        let config = config(&[
            ("APP_DB_PASSWORD", "hunter2"),
            ("APP_API_TOKEN", ""),
            ("APP_SIGNING_KEY", "k"),
            ("APP_GREETING", "hello"),
        ])
        .expect("valid");
        assert_eq!(config.app["APP_DB_PASSWORD"], Shown::Secret { set: true });
        assert_eq!(config.app["APP_API_TOKEN"], Shown::Secret { set: false });
        assert_eq!(config.app["APP_SIGNING_KEY"], Shown::Secret { set: true });
        assert_eq!(config.app["APP_GREETING"], Shown::Value("hello".into()));
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        for (name, value) in [
            ("PORT", "http"),
            ("PORT", "70000"),
            ("APP_ENV", "bad env"),
            ("SERVICE_LOG_LEVEL", "verbose"),
            ("SERVICE_ACCESS_LOG", "yes"),
            ("SERVICE_DRAIN_SECONDS", "-1"),
            ("SERVICE_SHUTDOWN_TIMEOUT_SECONDS", "0"),
            ("SERVICE_MAX_CONNECTIONS", "0"),
            ("SERVICE_REQUEST_TIMEOUT_SECONDS", "1.5"),
            ("SERVICE_HEADER_READ_TIMEOUT_SECONDS", ""),
            ("SERVICE_KEEPALIVE_TIMEOUT_SECONDS", "forever"),
            ("SERVICE_MAX_HEADER_BYTES", "100"),
            ("SERVICE_WORKER_THREADS", "0"),
            ("SERVICE_LISTEN_ADDRESS", "localhost"),
            ("SERVICE_CONFIG_DIR", "/nonexistent/webapp-config"),
            ("SERVICE_SECRETS_DIR", "/nonexistent/webapp-secrets"),
            ("SERVICE_SECRETS_POLL_SECONDS", "0"),
            ("SERVICE_DRAIN_SECOND", "5"),
        ] {
            let err = config(&[(name, value)]).expect_err(name).to_string();
            assert!(err.contains(name), "{err:?} does not name {name}");
            assert!(!err.contains('\n'), "{err:?} is more than one line");
        }
    }

    #[test]
    fn kubernetes_service_links_are_not_taken_for_settings() {
        let config = config(&[
            ("SERVICE_SERVICE_HOST", "10.0.0.1"),
            ("SERVICE_PORT", "tcp://10.0.0.1:80"),
            ("SERVICE_PORT_80_TCP_ADDR", "10.0.0.1"),
        ]);
        assert!(config.is_ok(), "{config:?}");
    }

    #[test]
    fn config_dir_files_become_values_and_skip_kubernetes_bookkeeping() {
        let dir = std::env::temp_dir().join(format!("webapp-config-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("..2026_01_01")).expect("mkdir");
        std::fs::write(dir.join("greeting"), "hello\n").expect("write");
        std::fs::write(dir.join("upstream_token"), "t0k").expect("write");
        let dir_str = dir.to_str().expect("utf-8 temp dir");
        let config = config(&[("SERVICE_CONFIG_DIR", dir_str)]).expect("valid");
        std::fs::remove_dir_all(&dir).expect("cleanup");
        assert_eq!(config.config_files.len(), 2);
        assert_eq!(
            config.config_files["greeting"],
            Shown::Value("hello".into())
        );
        assert_eq!(
            config.config_files["upstream_token"],
            Shown::Secret { set: true }
        );
    }
}
