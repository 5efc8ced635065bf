//! `bindings-gen SCHEMA_DIR OUT_DIR`: writes the typed builders of every
//! provider schema in SCHEMA_DIR into OUT_DIR (the bindings crate's `src/`),
//! and deletes the `.rs` files there it no longer generates. OUT_DIR is
//! wholly generated: nothing hand-written belongs in it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bindings-gen: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [schema_dir, out_dir] = args.as_slice() else {
        bail!("usage: bindings-gen SCHEMA_DIR OUT_DIR (e.g. stacks/schemas bindings/src)");
    };
    let (schema_dir, out_dir) = (Path::new(schema_dir), Path::new(out_dir));
    let schemas = bindings_gen::load_schemas(schema_dir)?;
    let files = bindings_gen::generate(&schemas)?;
    let mut written = 0;
    for (relative, source) in &files {
        let path = out_dir.join(relative);
        if std::fs::read_to_string(&path).is_ok_and(|current| &current == source) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, source).with_context(|| format!("writing {}", path.display()))?;
        written += 1;
    }
    let mut removed = 0;
    for stale in rust_files(out_dir)? {
        let relative = stale.strip_prefix(out_dir).unwrap_or(&stale);
        if !files.contains_key(relative) {
            std::fs::remove_file(&stale)
                .with_context(|| format!("removing {}", stale.display()))?;
            removed += 1;
        }
    }
    eprintln!(
        "bindings-gen: {} files from {} ({written} written, {removed} removed)",
        files.len(),
        schema_dir.display()
    );
    Ok(())
}

fn rust_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(err) => return Err(err).with_context(|| format!("listing {}", dir.display())),
    };
    for entry in entries {
        let path = entry
            .with_context(|| format!("listing {}", dir.display()))?
            .path();
        if path.is_dir() {
            out.extend(rust_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(out)
}
