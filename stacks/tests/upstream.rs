//! Every values key each helm_release passes to a pinned upstream chart is
//! one that chart version defines (stacks/upstream/charts/, derived from the
//! chart's own defaults and schema by `just upstream-facts`).

use std::path::{Path, PathBuf};

use synth::Expr;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn text(value: Option<&Expr>) -> Option<&str> {
    match value {
        Some(Expr::Str(s)) => Some(s),
        _ => None,
    }
}

/// The maps inside a release's `values = [yamlencode(...), ...]`.
fn documents(values: Option<&Expr>) -> Vec<&Expr> {
    let Some(Expr::List(items)) = values else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Expr::Call(name, args) if name == "yamlencode" => args.first(),
            _ => None,
        })
        .collect()
}

#[test]
fn every_upstream_release_passes_only_keys_its_chart_defines() {
    let mut checked = 0;
    for name in ["staging", "production"] {
        let env = stacks::load_environment(&repo_root(), name).expect("shipped config");
        let app = stacks::build(&env, &stacks::chart_dir(&repo_root())).expect("build");
        for stack in app.stacks() {
            for release in stack
                .resources()
                .iter()
                .filter(|r| r.ty() == "helm_release")
            {
                if release.get("repository").is_none() {
                    continue;
                }
                let chart = text(release.get("chart")).expect("a pinned chart name");
                let version = text(release.get("version")).expect("a pinned chart version");
                let facts = stacks::upstream::ChartFacts::load(&repo_root(), chart, version)
                    .unwrap_or_else(|e| panic!("{}: {e}", release.address()));
                let docs = documents(release.get("values"));
                assert!(
                    !docs.is_empty(),
                    "{}: no values documents",
                    release.address()
                );
                for doc in docs {
                    assert!(
                        matches!(doc, Expr::Map(_)),
                        "{}: values must be a literal map to be checked",
                        release.address()
                    );
                    let problems = facts.check(doc);
                    assert!(
                        problems.is_empty(),
                        "{name}: {}:\n{}",
                        release.address(),
                        problems.join("\n")
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 4, "only {checked} releases checked");
}
