//! Secrets mounted as files reach the running process when they change: the
//! directory is laid out and switched the way the kubelet updates a Secret
//! volume, the real binary serves meanwhile, and no value ever shows.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::Service;

const FIRST: &str = "first-rotated-value-0123456789";
const SECOND: &str = "second-rotated-value-9876543210";

/// A Secret volume: `..<generation>/` directories, `..data` pointing at the
/// current one, and a link per key into `..data`.
struct Volume {
    dir: PathBuf,
    generation: u32,
}

impl Volume {
    fn new() -> Volume {
        let dir = std::env::temp_dir().join(format!("webapp-secret-volume-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("volume dir");
        Volume { dir, generation: 0 }
    }

    /// Writes a new generation and switches `..data` to it in one rename.
    fn publish(&mut self, files: &[(&str, &str)]) {
        self.generation += 1;
        let generation = format!(
            "..2026_01_01_00_00_{:02}.{}",
            self.generation, self.generation
        );
        std::fs::create_dir(self.dir.join(&generation)).expect("generation dir");
        for (name, value) in files {
            std::fs::write(self.dir.join(&generation).join(name), value).expect("write key");
            let link = self.dir.join(name);
            if std::fs::symlink_metadata(&link).is_err() {
                symlink(format!("..data/{name}"), &link).expect("key link");
            }
        }
        let staged = self.dir.join("..data_tmp");
        symlink(&generation, &staged).expect("staged link");
        std::fs::rename(&staged, self.dir.join("..data")).expect("switch ..data");
    }

    fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Volume {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn metric(service: &Service, name: &str) -> u64 {
    let text = service.get("/metrics").text();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

#[test]
fn a_rotated_secret_file_is_taken_in_without_a_restart() {
    let mut volume = Volume::new();
    volume.publish(&[("APP_SECRET", FIRST), ("APP_PARTNER_TOKEN", "")]);
    let dir = volume.path().to_str().expect("utf-8 path").to_owned();
    let mut service = Service::start(&[
        ("SERVICE_SECRETS_DIR", &dir),
        ("SERVICE_SECRETS_POLL_SECONDS", "1"),
        ("SERVICE_DRAIN_SECONDS", "0"),
    ]);
    let configs = service.get("/configs").json();
    assert_eq!(configs["secret_files"]["APP_SECRET"], "set");
    assert_eq!(configs["secret_files"]["APP_PARTNER_TOKEN"], "not set");
    assert_eq!(configs["secret_files_version"], 1);
    assert_eq!(configs["service"]["SERVICE_SECRETS_DIR"], dir.as_str());
    let pid_before = configs["pod"].clone();

    volume.publish(&[("APP_SECRET", SECOND), ("APP_PARTNER_TOKEN", "now-set")]);
    let reload = service.wait_for_log("secrets reloaded", Duration::from_secs(10));
    assert_eq!(reload["files"], "APP_PARTNER_TOKEN,APP_SECRET");
    assert_eq!(reload["version"], 2);
    let configs = service.get("/configs").json();
    assert_eq!(configs["secret_files"]["APP_PARTNER_TOKEN"], "set");
    assert_eq!(configs["secret_files_version"], 2);
    assert_eq!(configs["pod"], pid_before, "the same process serves");
    assert_eq!(metric(&service, "webapp_secrets_reloads_total"), 1);

    // An unreadable volume keeps the last good read and says so once.
    std::fs::remove_dir_all(volume.path()).expect("remove volume");
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&service, "webapp_secrets_read_errors_total") < 2 {
        assert!(
            Instant::now() < deadline,
            "the failed reads were not counted"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(service.get("/configs").json()["secret_files_version"], 2);
    let warnings = service
        .log()
        .into_iter()
        .filter(|line| line["msg"] == "secrets unreadable")
        .count();
    assert_eq!(warnings, 1, "one warning per failure streak");
    assert_eq!(service.get("/healthz").status, 200);

    service.signal("TERM");
    assert!(service.wait(Duration::from_secs(10)).success());
    let output = service.raw_output();
    for value in [FIRST, SECOND, "now-set"] {
        assert!(!output.contains(value), "the log shows a secret value");
    }
}

#[test]
fn an_unreadable_secrets_dir_stops_the_start_naming_it() {
    let output = std::process::Command::new(crate::support::BIN)
        .env_clear()
        .env("SERVICE_SECRETS_DIR", "/nonexistent/webapp-secrets")
        .output()
        .expect("run webapp");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("SERVICE_SECRETS_DIR=\"/nonexistent/webapp-secrets\" cannot be read"),
        "{stderr}"
    );
}
