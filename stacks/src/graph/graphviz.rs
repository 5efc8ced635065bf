//! SVG from DOT through Graphviz's `dot`, where it is installed (Debian
//! package `graphviz`). The report does not need it: it draws its own
//! picture ([`super::svg`]).

use std::io::Write as _;
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum GraphvizError {
    #[error(
        "Graphviz's `dot` is not installed (apt-get install graphviz); \
         --format box-svg draws a picture without it"
    )]
    Missing(#[source] std::io::Error),
    #[error("running Graphviz's `dot`")]
    Run(#[source] std::io::Error),
    #[error("Graphviz's `dot` failed: {0}")]
    Failed(String),
}

/// `dot -Tsvg` of `dot_text`.
pub fn graphviz_svg(dot_text: &str) -> Result<String, GraphvizError> {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => GraphvizError::Missing(e),
            _ => GraphvizError::Run(e),
        })?;
    // Write from another thread: dot may fill its stdout pipe before it has
    // read all of its input.
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| GraphvizError::Run(std::io::Error::other("no stdin pipe to dot")))?;
    let input = dot_text.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().map_err(GraphvizError::Run)?;
    writer
        .join()
        .map_err(|_| GraphvizError::Run(std::io::Error::other("writing to dot panicked")))?
        .map_err(GraphvizError::Run)?;
    if !output.status.success() {
        return Err(GraphvizError::Failed(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    String::from_utf8(output.stdout)
        .map_err(|_| GraphvizError::Failed("its SVG is not UTF-8".into()))
}
