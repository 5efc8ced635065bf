//! Shared by the output tests: small modules whose stacks, files and asset
//! directory differ from one version to the next, what terraform would read
//! in a directory, and what a settled directory looks like.
#![allow(dead_code)] // each test file uses its own part of this
#![allow(clippy::unwrap_used)] // a panic in a test helper is a failed test with its location

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use synth::{App, Backend, Expr, Module, Output, SynthOptions, Variable};

/// One version of a module.
#[derive(Debug, Clone, Copy)]
pub struct Version {
    pub env: &'static str,
    pub stacks: &'static [&'static str],
    /// Whether the first stack carries the `chart/` asset and an output that
    /// reads it at plan time.
    pub chart: bool,
    /// Changes every value, so two versions with the same stacks differ.
    pub marker: &'static str,
}

/// Blue with two stacks and the chart.
pub const A: Version = Version {
    env: "blue",
    stacks: &["one", "two"],
    chart: true,
    marker: "v1",
};
/// From A: drops a stack and the chart, adds a stack.
pub const B: Version = Version {
    env: "blue",
    stacks: &["two", "three"],
    chart: false,
    marker: "v2",
};
/// A's names, every value changed.
pub const A2: Version = Version {
    env: "blue",
    stacks: &["one", "two"],
    chart: true,
    marker: "v3",
};
/// Another environment.
pub const C: Version = Version {
    env: "green",
    stacks: &["one", "two", "three"],
    chart: true,
    marker: "v1",
};

/// A scratch directory, on tmpfs where there is one: the fault-injection
/// tests create thousands of small directories, and the semantics they rely
/// on (rename, symlinks, RENAME_EXCHANGE) are the same there.
pub fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = tempfile::tempdir_in(shm) {
            return dir;
        }
    }
    tempfile::tempdir().unwrap()
}

/// A directory with files for the `chart/` asset.
pub fn chart_source() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("templates")).unwrap();
    fs::write(dir.path().join("Chart.yaml"), "name: sample\n").unwrap();
    fs::write(dir.path().join("templates/a.yaml"), "kind: Thing\n").unwrap();
    dir
}

/// The module of `v`: per stack a local and an output naming the version,
/// so `terraform plan` shows which module it read; a variable in the first
/// stack; state in `terraform.<env>.tfstate`.
pub fn module(v: &Version, chart: &Path) -> Module {
    module_with(
        v,
        chart,
        Backend::local(&format!("terraform.{}.tfstate", v.env)),
    )
}

/// [`module`] with state in `backend`.
pub fn module_with(v: &Version, chart: &Path, backend: Backend) -> Module {
    let mut app = App::new(v.env);
    app.required_version(">= 1.9").backend(backend);
    for (i, name) in v.stacks.iter().enumerate() {
        let stack = app.stack(name, "a sample stack");
        let value = stack.local(
            &format!("{name}_value"),
            format!("{}-{name}-{}", v.env, v.marker),
        );
        stack.output(name, Output::new(value));
        if i == 0 {
            let suffix = stack.variable("suffix", Variable::new().ty("string").default(v.marker));
            stack.output("suffix", Output::new(suffix));
            if v.chart {
                stack.asset_dir("chart", chart).unwrap();
                stack.output(
                    "chart_sha",
                    Output::new(Expr::call(
                        "filesha256",
                        [Expr::template([
                            Expr::raw("path.module"),
                            Expr::from("/chart/Chart.yaml"),
                        ])],
                    )),
                );
            }
        }
    }
    app.synth(&SynthOptions {
        stacks: None,
        tool: "test 0".into(),
    })
    .unwrap()
}

/// Top-level names that are terraform's or the user's, never synth's.
pub fn not_synths(name: &str) -> bool {
    name.starts_with(".terraform") || name.contains(".tfstate") || name == "notes.txt"
}

/// What terraform reads in `dir`: every top-level entry but hidden ones,
/// terraform's, the user's and manifest.json, links followed, directories
/// walked. Stubs (`{}` files, empty directories) read as nothing, as they do
/// for terraform. A link that resolves to nothing fails the test.
pub fn view(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || not_synths(&name) || name == "manifest.json" {
            continue;
        }
        read_tree(&dir.join(&name), &name, &mut out);
    }
    out.retain(|_, bytes| bytes.as_slice() != b"{}\n");
    out
}

fn read_tree(path: &Path, rel: &str, out: &mut BTreeMap<String, Vec<u8>>) {
    let meta = fs::metadata(path)
        .unwrap_or_else(|e| panic!("{rel} does not resolve ({e}): terraform could not read it"));
    if meta.is_dir() {
        for entry in fs::read_dir(path).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            read_tree(&path.join(&name), &format!("{rel}/{name}"), out);
        }
    } else {
        out.insert(rel.to_owned(), fs::read(path).unwrap());
    }
}

/// Every entry under `dir`: files with their bytes, directories as `dir`,
/// links as their text.
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut pending = vec![std::path::PathBuf::new()];
    while let Some(rel) = pending.pop() {
        for entry in fs::read_dir(dir.join(&rel)).unwrap() {
            let entry = entry.unwrap();
            let child = rel.join(entry.file_name());
            let ty = entry.file_type().unwrap();
            let key = child.display().to_string();
            if ty.is_symlink() {
                let text = fs::read_link(entry.path()).unwrap();
                out.insert(key, format!("-> {}", text.display()).into_bytes());
            } else if ty.is_dir() {
                out.insert(key, b"dir".to_vec());
                pending.push(child);
            } else {
                out.insert(key, fs::read(entry.path()).unwrap());
            }
        }
    }
    out
}

/// Terraform's and the user's files, bytes and all (links as their text).
pub fn others(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut all = tree(dir);
    all.retain(|path, _| not_synths(path.split('/').next().unwrap_or(path)));
    all
}

/// A settled directory, or one with no generation at all (nothing synthesized
/// yet, or only the flat layout of older synths): nothing of this synth left
/// (an older synth's `.synth-tmp-*` may remain when this one failed first).
pub fn assert_no_leftovers(dir: &Path, when: &str) {
    if dir.join(".synth/current").exists() {
        assert_settled(dir);
        return;
    }
    let synth_dir = dir.join(".synth");
    if synth_dir.exists() {
        assert!(
            names(&synth_dir).is_empty(),
            "{when}: {:?}",
            names(&synth_dir)
        );
    }
    for name in names(dir) {
        let link = fs::read_link(dir.join(&name));
        assert!(
            !link.is_ok_and(|t| t.starts_with(".synth")),
            "{name}: a link of synth's without a generation"
        );
    }
}

/// A settled directory: one generation, current; a link for each of its
/// top-level names and nothing else of synth's; no temporaries.
pub fn assert_settled(dir: &Path) {
    if let Some(problem) = unsettled(dir) {
        panic!("{}: {problem}", dir.display());
    }
}

/// What keeps `dir` from being settled, if anything.
pub fn unsettled(dir: &Path) -> Option<String> {
    let synth_dir = dir.join(".synth");
    let Ok(current) = fs::read_link(synth_dir.join("current")) else {
        return Some("no current generation".into());
    };
    let mut inside: Vec<String> = names(&synth_dir);
    inside.sort();
    let mut expected = vec!["current".to_owned(), current.display().to_string()];
    expected.sort();
    if inside != expected {
        return Some(format!("leftovers in .synth: {inside:?}"));
    }
    let mut tops = names(&synth_dir.join(&current));
    tops.sort();
    let mut links = Vec::new();
    for name in names(dir) {
        if name == ".synth" || not_synths(&name) {
            continue;
        }
        if name.starts_with(".synth-tmp-") {
            return Some(format!("an old temporary directory {name} is left"));
        }
        match fs::read_link(dir.join(&name)) {
            Ok(text) if text == Path::new(".synth/current").join(&name) => links.push(name),
            _ => return Some(format!("{name} is not a link into .synth/current")),
        }
    }
    links.sort();
    (links != tops).then(|| format!("links {links:?} and the generation's entries {tops:?} differ"))
}

pub fn names(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Writes `module` as synths before generations did: plain files and a plain
/// manifest.json.
pub fn write_flat(dir: &Path, module: &Module) {
    for (name, bytes) in &module.files {
        let path = dir.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }
}

/// Copies a directory, keeping symlinks as symlinks.
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let ty = entry.file_type().unwrap();
        if ty.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if ty.is_dir() {
            copy_tree(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap();
        }
    }
}

/// Runs real terraform in `dir`, without its update check.
pub fn terraform(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("terraform")
        .arg(format!("-chdir={}", dir.display()))
        .args(args)
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("terraform on PATH")
}
