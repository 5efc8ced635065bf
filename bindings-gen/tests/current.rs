//! The committed bindings are what the committed schemas generate: a schema
//! change without `just bindings`, or a hand edit of a generated file, fails here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn committed(dir: &Path, relative: &Path, out: &mut BTreeMap<PathBuf, String>) {
    for entry in std::fs::read_dir(dir.join(relative)).expect("bindings/src is readable") {
        let entry = entry.expect("directory entry");
        let path = relative.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            committed(dir, &path, out);
        } else {
            let text = std::fs::read_to_string(entry.path()).expect("a text file");
            out.insert(path, text);
        }
    }
}

#[test]
fn committed_bindings_are_what_the_schemas_generate() {
    let schemas = bindings_gen::load_schemas(&repo().join("stacks/schemas"))
        .unwrap_or_else(|e| panic!("{e}"));
    let generated = bindings_gen::generate(&schemas).unwrap_or_else(|e| panic!("{e}"));
    let mut files = BTreeMap::new();
    committed(&repo().join("bindings/src"), Path::new(""), &mut files);

    let mut problems = Vec::new();
    for (path, source) in &generated {
        match files.get(path) {
            None => problems.push(format!("missing: bindings/src/{}", path.display())),
            Some(text) if text != source => {
                problems.push(format!("stale: bindings/src/{}", path.display()));
            }
            Some(_) => {}
        }
    }
    for path in files.keys().filter(|p| !generated.contains_key(*p)) {
        problems.push(format!("not generated: bindings/src/{}", path.display()));
    }
    assert!(
        problems.is_empty(),
        "bindings/ is not what stacks/schemas/ generates; run `just bindings`:\n  {}",
        problems.join("\n  ")
    );
}
