//! The chart passes the service only settings the service understands (the
//! contract crate's list, which the service itself refuses anything outside
//! of): a setting renamed on one side fails here, not at pod start.

use std::fs;
use std::path::Path;

/// Every environment variable name the chart's templates set (`- name: X`).
fn chart_env_names() -> Vec<String> {
    let mut pending = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../helm-chart/templates")];
    let mut names = Vec::new();
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("chart templates") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let text = fs::read_to_string(&path).expect("template");
            names.extend(text.lines().filter_map(|line| {
                let name = line.trim().strip_prefix("- name: ")?;
                name.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                    .then(|| name.to_owned())
            }));
        }
    }
    names
}

#[test]
fn the_chart_sets_only_settings_the_service_knows() {
    let names = chart_env_names();
    let settings: Vec<&String> = names.iter().filter(|n| n.starts_with("SERVICE_")).collect();
    assert!(settings.len() >= 6, "found only {settings:?}");
    for name in settings {
        assert!(
            contract::settings::ALL.contains(&name.as_str()),
            "the chart sets {name}, which the service does not know"
        );
    }
    assert!(names.iter().any(|n| n == contract::APP_ENV));
    for name in names.iter().filter(|n| n.starts_with(contract::APP_PREFIX)) {
        assert!(
            !contract::is_secret_name(name),
            "the chart sets secret {name} in plain env; secrets come from the Secret"
        );
    }
}
