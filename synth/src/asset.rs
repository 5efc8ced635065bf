//! Assets: directories copied into the output module (a Helm chart, say).
//!
//! Files are read once, at declaration, so synthesis itself is pure and the
//! content hash is computed from exactly the bytes that get written.

use std::fs;
use std::io;
use std::path::Path;

use sha2::{Digest, Sha256};

/// A directory's files, relative paths with `/` separators, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Asset {
    pub(crate) dest: String,
    pub(crate) files: Vec<(String, Vec<u8>)>,
    pub(crate) hash: String,
}

impl Asset {
    pub(crate) fn from_dir(dest: &str, source: &Path) -> io::Result<Self> {
        let mut files = Vec::new();
        collect(source, "", &mut files).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("reading asset directory {}: {e}", source.display()),
            )
        })?;
        Ok(Self::from_files(dest, files))
    }

    /// An asset made by the program itself (a generated chart, say).
    pub(crate) fn from_files(dest: &str, mut files: Vec<(String, Vec<u8>)>) -> Self {
        files.sort();
        let hash = hash_files(files.iter().map(|(n, b)| (n.as_str(), b.as_slice())));
        Self {
            dest: dest.trim_end_matches('/').to_owned(),
            files,
            hash,
        }
    }
}

fn collect(dir: &Path, prefix: &str, out: &mut Vec<(String, Vec<u8>)>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let ty = entry.file_type()?;
        if ty.is_dir() {
            collect(&entry.path(), &rel, out)?;
        } else if ty.is_file() {
            out.push((rel, fs::read(entry.path())?));
        }
    }
    Ok(())
}

/// Hex sha256 over named files. Names and lengths are framed in, so moving
/// bytes from one file to the next changes the hash.
pub(crate) fn hash_files<'a>(files: impl Iterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut hasher = Sha256::new();
    for (name, bytes) in files {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    hex(&hasher.finalize())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_follows_content_and_names() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("templates")).unwrap();
        fs::write(dir.path().join("Chart.yaml"), "name: x\n").unwrap();
        fs::write(dir.path().join("templates/a.yaml"), "a\n").unwrap();
        let first = Asset::from_dir("chart/", dir.path()).unwrap();
        assert_eq!(first.dest, "chart");
        let names: Vec<&str> = first.files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Chart.yaml", "templates/a.yaml"]);
        assert_eq!(first, Asset::from_dir("chart", dir.path()).unwrap());
        fs::write(dir.path().join("templates/a.yaml"), "b\n").unwrap();
        assert_ne!(
            first.hash,
            Asset::from_dir("chart", dir.path()).unwrap().hash
        );
    }

    #[test]
    fn a_missing_directory_is_named() {
        let err = Asset::from_dir("chart", Path::new("/no/such/dir")).unwrap_err();
        assert!(err.to_string().contains("/no/such/dir"));
    }
}
