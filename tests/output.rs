//! The output directory under attack, through the real `infra` binary: SIGKILL
//! at random points of a synth's write, a rename that fails on an immutable
//! file, manifests that point outside the directory, symlinks planted in it,
//! terraform state of another environment, and `--out` mistakes.
#![allow(clippy::unwrap_used)] // a panic in a test helper is a failed test with its location

#[path = "../synth/tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use common::{assert_settled, copy_tree, others, tree, unsettled, view};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn infra(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_infra"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

fn synth(env: &str, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["synth", env, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    infra(&args)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) {
    assert!(o.status.success(), "{}", stderr(o));
}

/// Refused with exit status 2 and an error containing every one of `needles`.
fn refused(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "not refused: {err}");
    for needle in needles {
        assert!(
            err.contains(needle),
            "error does not mention `{needle}`:\n{err}"
        );
    }
}

/// Where a killed synth stopped, read from what it left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stop {
    /// Exited before the kill.
    Finished,
    /// Killed before its first change.
    BeforeWriting,
    /// Killed while writing the new generation: the old one still current.
    Writing,
    /// Killed after the switch, before its clean-up was done.
    CleaningUp,
    /// Killed after its last change, before exiting.
    AfterCleanUp,
}

/// Where `.synth/current` points, if anywhere.
fn current(dir: &Path) -> Option<PathBuf> {
    fs::read_link(dir.join(".synth/current")).ok()
}

/// Top-level `.synth-tmp-*` directories: what synths before generations
/// left behind when they were killed.
fn old_temporaries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".synth-tmp-"))
        .collect()
}

/// A simple deterministic generator, seeded per run (the seed is printed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn spawn_production(dir: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_infra"))
        .args(["synth", "production", "--out", dir.to_str().unwrap()])
        .current_dir(repo())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The issue's trial: `synth production` over a staging module, killed with
/// SIGKILL at random points of its write window, 100 times (or more, below).
/// After each kill terraform must read the whole staging module or the whole
/// production one (the user's files untouched), and the next synth must
/// recover to the whole production module with nothing left over.
#[test]
fn synth_killed_at_random_points_of_its_write_leaves_a_whole_module() {
    let work = tempfile::tempdir().unwrap();
    let template = work.path().join("staging");
    ok(&synth("staging", &template, &[]));
    fs::write(template.join("notes.txt"), "mine").unwrap();
    let reference = work.path().join("production");
    ok(&synth("production", &reference, &[]));
    let (old_view, new_view) = (view(&template), view(&reference));
    let user_files = others(&template);
    let template_tree = tree(&template);
    let old_generation = current(&template);

    // How long a whole run takes here and now, to start aiming from.
    let mut runs = Vec::new();
    for i in 0..5 {
        let dir = work.path().join(format!("calibrate-{i}"));
        copy_tree(&template, &dir);
        let started = Instant::now();
        spawn_production(&dir).wait().unwrap();
        runs.push(started.elapsed());
    }
    runs.sort();
    let whole = runs[runs.len() / 2];
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    // The write window is the last few milliseconds of a run, and where it
    // falls moves with the machine's load: kills are uniform around an aim
    // that follows what each kill found (earlier after a run that finished,
    // later after one killed before its first change).
    let width = whole.mul_f64(0.15);
    let mut aim = whole.mul_f64(0.85);
    let mut stops: BTreeMap<Stop, usize> = BTreeMap::new();
    let mut delays = Vec::new();
    // 100 kills; on a machine so loaded that fewer than 20 of them landed
    // inside the write window, up to 100 more.
    let mut inside = 0;
    let mut kills = 0;
    while kills < 100 || (inside < 20 && kills < 200) {
        let i = kills;
        kills += 1;
        let dir = work.path().join(format!("kill-{i}"));
        copy_tree(&template, &dir);
        let delay = (aim + width.mul_f64(rng.next())).saturating_sub(width / 2);
        let mut child = spawn_production(&dir);
        std::thread::sleep(delay);
        let _ = child.kill();
        let status = child.wait().unwrap();
        let stop = if status.signal().is_none() {
            assert!(status.success(), "run {i}: synth failed on its own");
            Stop::Finished
        } else if tree(&dir) == template_tree {
            Stop::BeforeWriting
        } else if current(&dir) == old_generation {
            Stop::Writing
        } else if view(&dir) == new_view && unsettled(&dir).is_none() {
            Stop::AfterCleanUp
        } else {
            Stop::CleaningUp
        };
        *stops.entry(stop).or_default() += 1;
        match stop {
            Stop::Finished | Stop::AfterCleanUp => aim = aim.saturating_sub(width / 4),
            Stop::BeforeWriting => aim += width / 4,
            Stop::Writing | Stop::CleaningUp => inside += 1,
        }
        delays.push((delay.as_secs_f64() * 1000.0, stop));

        let now = view(&dir);
        assert!(
            now == old_view || now == new_view,
            "run {i} ({stop:?}, killed at {delay:?}): terraform would read a mix of staging and production"
        );
        assert_eq!(
            others(&dir),
            user_files,
            "run {i}: the user's files changed"
        );
        let again = synth("production", &dir, &[]);
        ok(&again);
        assert!(
            view(&dir) == new_view,
            "run {i}: not recovered to production"
        );
        assert_eq!(
            old_temporaries(&dir),
            Vec::<String>::new(),
            "run {i}: temporaries left"
        );
        assert_settled(&dir);
        assert_eq!(
            others(&dir),
            user_files,
            "run {i}: the user's files changed"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
    eprintln!(
        "a whole run takes {whole:?} (median of 5); kills uniform over {width:?} around a moving \
         aim, seed {seed}"
    );
    eprintln!("where the {kills} kills stopped the synth: {stops:?}");
    delays.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (ms, stop) in &delays {
        eprintln!("  {ms:7.2} ms  {stop:?}");
    }
    assert!(
        inside >= 20,
        "only {inside} of {kills} kills landed inside the write window ({stops:?}); the test did \
         not test"
    );
}

/// `dir` written as synths before generations wrote it: plain files and a
/// plain manifest.json (a copy of `from` with links followed).
fn flat_copy(from: &Path, dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    for (name, bytes) in view(from).into_iter().chain([(
        "manifest.json".to_owned(),
        fs::read(from.join("manifest.json")).unwrap(),
    )]) {
        let path = dir.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }
}

/// Removes a file, a link or a directory tree.
fn remove_entry(path: &Path) {
    if fs::symlink_metadata(path).unwrap().is_dir() {
        fs::remove_dir_all(path).unwrap();
    } else {
        fs::remove_file(path).unwrap();
    }
}

/// Sets or clears the immutable attribute; false where this machine cannot
/// (not root, or a filesystem without it).
fn immutable(path: &Path, on: bool) -> bool {
    Command::new("chattr")
        .arg(if on { "+i" } else { "-i" })
        .arg(path)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The issue's failing rename: a staging module as older synths wrote it,
/// one of its files immutable. `synth production` cannot rename over it: it
/// must fail, naming it, with terraform still reading the whole staging
/// module and no temporary left; once the file is writable again, the next
/// synth finishes the job.
#[test]
fn a_rename_that_fails_on_an_immutable_file_leaves_the_old_module_whole() {
    let work = tempfile::tempdir().unwrap();
    let reference = work.path().join("staging-reference");
    ok(&synth("staging", &reference, &[]));
    let dir = work.path().join("out");
    flat_copy(&reference, &dir);
    // Older synths also left their staging directories behind.
    fs::create_dir_all(dir.join(".synth-tmp-4242-1/chart")).unwrap();
    let old_view = view(&dir);
    let stuck = dir.join("iam.tf.json");
    if !immutable(&stuck, true) {
        eprintln!("SKIPPED: chattr +i is not available here (needs root and ext4 or similar)");
        return;
    }
    let o = synth("production", &dir, &[]);
    let unstuck = immutable(&stuck, false);
    refused(&o, &["iam.tf.json", "Operation not permitted"]);
    assert!(unstuck);
    assert!(
        view(&dir) == old_view,
        "terraform would no longer read the staging module"
    );
    assert_eq!(old_temporaries(&dir), Vec::<String>::new());
    let synth_dir = dir.join(".synth");
    let inside: Vec<String> = fs::read_dir(&synth_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        inside.len() == 2 && inside.contains(&"current".to_owned()),
        "leftovers in .synth: {inside:?}"
    );

    // The same with synth's own directory immutable, in the generation layout.
    ok(&synth("production", &dir, &[]));
    let production = view(&dir);
    assert_settled(&dir);
    assert!(immutable(&synth_dir, true));
    let o = synth("staging", &dir, &[]);
    assert!(immutable(&synth_dir, false));
    refused(&o, &[".synth/gen-", "Operation not permitted"]);
    assert!(view(&dir) == production);
    assert_settled(&dir);
    ok(&synth("staging", &dir, &[]));
    assert!(view(&dir) == old_view);
    assert_settled(&dir);
}

/// Edits the manifest synth reads back (through its link, as a user would).
fn edit_manifest(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("manifest.json");
    let mut doc: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    edit(&mut doc);
    fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
}

#[test]
fn a_manifest_entry_outside_the_directory_is_refused_and_nothing_is_deleted() {
    let work = tempfile::tempdir().unwrap();
    let victim = work.path().join("victim.txt");
    for entry in [
        victim.to_str().unwrap().to_owned(),
        "../victim.txt".to_owned(),
        "chart/../../victim.txt".to_owned(),
    ] {
        fs::write(&victim, "precious").unwrap();
        let dir = work.path().join("out");
        ok(&synth("staging", &dir, &[]));
        edit_manifest(&dir, |doc| {
            doc["files"]
                .as_array_mut()
                .unwrap()
                .push(entry.clone().into());
        });
        // A subset no longer has the entry, so a synth would remove it.
        let o = synth("staging", &dir, &["--stacks", "network,iam,eks"]);
        refused(
            &o,
            &[
                &format!("lists `{entry}`"),
                "plain files inside the output directory",
            ],
        );
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious", "{entry}");
        let o = infra(&["diff", "staging", "--out", dir.to_str().unwrap()]);
        refused(&o, &[&format!("lists `{entry}`")]);
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_symlinked_chart_folder_is_never_written_through() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("out");
    ok(&synth("staging", &dir, &[]));
    // The module's folder of charts (with GitOps on, the local chart of
    // Argo CD's projects and root Application).
    let elsewhere = work.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    fs::write(elsewhere.join("Chart.yaml"), "theirs").unwrap();
    remove_entry(&dir.join("charts"));
    std::os::unix::fs::symlink(&elsewhere, dir.join("charts")).unwrap();
    let o = synth("staging", &dir, &[]);
    refused(
        &o,
        &[&format!(
            "{}/charts is a symlink to {}",
            dir.display(),
            elsewhere.display()
        )],
    );
    assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 1);
    assert_eq!(
        fs::read_to_string(elsewhere.join("Chart.yaml")).unwrap(),
        "theirs"
    );

    // The same in a directory older synths wrote: the manifest lists the
    // chart's files, but the folder is a link.
    let reference = work.path().join("reference");
    ok(&synth("staging", &reference, &[]));
    let flat = work.path().join("flat");
    flat_copy(&reference, &flat);
    fs::remove_dir_all(flat.join("charts")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, flat.join("charts")).unwrap();
    let o = synth("staging", &flat, &[]);
    refused(
        &o,
        &[
            "lists `charts/",
            "passes through the symlink",
            "never writes through",
        ],
    );
    assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 1);
    assert_eq!(
        fs::read_to_string(elsewhere.join("Chart.yaml")).unwrap(),
        "theirs"
    );
}

#[test]
fn a_symlinked_file_is_never_written_through_or_removed() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("out");
    ok(&synth("staging", &dir, &[]));
    let theirs = work.path().join("theirs.tf.json");
    fs::write(&theirs, "{}").unwrap();
    fs::remove_file(dir.join("network.tf.json")).unwrap();
    std::os::unix::fs::symlink(&theirs, dir.join("network.tf.json")).unwrap();
    for stacks in ["network,iam,eks,app", "iam"] {
        let o = synth("staging", &dir, &["--stacks", stacks]);
        assert_eq!(o.status.code(), Some(2), "{stacks}: {}", stderr(&o));
        assert_eq!(fs::read_to_string(&theirs).unwrap(), "{}");
        assert_eq!(fs::read_link(dir.join("network.tf.json")).unwrap(), theirs);
    }
    refused(
        &synth("staging", &dir, &[]),
        &[&format!(
            "network.tf.json is a symlink to {}",
            theirs.display()
        )],
    );
}

/// `.terraform/terraform.tfstate` as `terraform init` writes it.
fn initialised(dir: &Path, kind: &str, config: serde_json::Value) {
    fs::create_dir_all(dir.join(".terraform")).unwrap();
    let record = serde_json::json!({
        "version": 3,
        "terraform_version": "1.11.4",
        "backend": {"type": kind, "config": config, "hash": 1}
    });
    fs::write(dir.join(".terraform/terraform.tfstate"), record.to_string()).unwrap();
}

/// The issue's third finding: production's state in a directory with no
/// manifest, or a corrupt one, is overwritten by `synth staging`. Every trace
/// terraform leaves must stop it, named in the error.
#[test]
fn production_state_is_never_overwritten_whatever_the_manifest_says() {
    let work = tempfile::tempdir().unwrap();
    let bucket = "example-org-tfstate";
    type Setup = fn(&Path);
    let cases: [(&str, Setup, &[&str], &[&str]); 5] = [
        (
            "a production state file, no manifest",
            |d| fs::write(d.join("terraform.production.tfstate"), "{\"serial\": 3}").unwrap(),
            &[],
            &["terraform.production.tfstate: a local state file", "no manifest.json"],
        ),
        (
            "initialised for production's local state, no manifest",
            |d| initialised(d, "local", serde_json::json!({"path": "terraform.production.tfstate", "workspace_dir": null})),
            &[],
            &[".terraform/terraform.tfstate: initialised for the local state file terraform.production.tfstate, not terraform.staging.tfstate"],
        ),
        (
            "initialised for production's S3 key, no manifest",
            |d| initialised(d, "s3", serde_json::json!({"bucket": "example-org-tfstate", "key": "production/terraform.tfstate", "region": "eu-west-1", "encrypt": true, "use_lockfile": true, "access_key": null})),
            &["--state-bucket", bucket],
            &[r#"initialised for backend "s3" with key = "production/terraform.tfstate", not "staging/terraform.tfstate""#],
        ),
        (
            "initialised for production's S3 key, synthesizing local state",
            |d| initialised(d, "s3", serde_json::json!({"bucket": "example-org-tfstate", "key": "production/terraform.tfstate", "region": "eu-west-1"})),
            &[],
            &[r#"initialised for backend "s3" (bucket = "example-org-tfstate", key = "production/terraform.tfstate", region = "eu-west-1")"#],
        ),
        (
            "production's module and state, its manifest corrupt",
            |d| {
                ok(&synth("production", d, &[]));
                fs::write(d.join("terraform.production.tfstate"), "{\"serial\": 3}").unwrap();
                fs::write(d.join("manifest.json"), "{ not json").unwrap();
            },
            &[],
            &["terraform.production.tfstate: a local state file", "manifest.json is unreadable"],
        ),
    ];
    for (what, setup, extra, needles) in cases {
        let dir = work.path().join("out");
        fs::create_dir(&dir).unwrap();
        setup(&dir);
        let before = tree(&dir);
        let o = synth("staging", &dir, extra);
        let mut all = vec!["refusing to write `staging`", "Use another --out directory"];
        all.extend_from_slice(needles);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{what}: not refused: {err}");
        for needle in all {
            assert!(
                err.contains(needle),
                "{what}: error does not mention `{needle}`:\n{err}"
            );
        }
        assert_eq!(tree(&dir), before, "{what}: the directory changed");
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn an_environments_own_state_is_no_reason_to_refuse() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("out");
    fs::create_dir(&dir).unwrap();
    // State of staging, and terraform initialised for it, before any synth.
    fs::write(dir.join("terraform.staging.tfstate"), "{\"serial\": 3}").unwrap();
    initialised(
        &dir,
        "local",
        serde_json::json!({"path": "terraform.staging.tfstate", "workspace_dir": null}),
    );
    ok(&synth("staging", &dir, &[]));
    // Moving staging's state to S3: the manifest vouches for the local state,
    // which `terraform init -migrate-state` then carries over.
    ok(&synth(
        "staging",
        &dir,
        &["--state-bucket", "example-org-tfstate"],
    ));
    assert_eq!(
        fs::read_to_string(dir.join("terraform.staging.tfstate")).unwrap(),
        "{\"serial\": 3}"
    );
    // Another environment's module is still refused there.
    refused(
        &synth("production", &dir, &[]),
        &[
            "initialised for environment `staging`; refusing to write `production`",
            "terraform.staging.tfstate",
        ],
    );
}

#[test]
fn out_naming_a_regular_file_says_it_is_not_a_directory() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("cdktf.out");
    fs::write(&file, "mine").unwrap();
    let o = synth("staging", &file, &[]);
    refused(&o, &[&format!("{} is not a directory", file.display())]);
    assert!(!stderr(&o).contains("File exists"), "{}", stderr(&o));
    let o = infra(&["diff", "staging", "--out", file.to_str().unwrap()]);
    refused(&o, &[&format!("{} is not a directory", file.display())]);
    assert_eq!(fs::read_to_string(&file).unwrap(), "mine");
}

#[test]
fn diff_without_output_says_how_to_make_some() {
    let work = tempfile::tempdir().unwrap();
    for dir in [work.path().join("missing"), work.path().to_owned()] {
        let d = dir.to_str().unwrap();
        let o = infra(&["diff", "staging", "--out", d]);
        refused(
            &o,
            &[&format!(
                "there is no synthesized output in {d} yet; make one with `infra synth staging --out {d}`"
            )],
        );
    }
}
