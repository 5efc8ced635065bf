//! What the components' unit tests share: the shipped environments, and
//! their whole program synthesized into parsed JSON files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use synth::{App, SynthOptions};

use crate::config::{load_environment, Environment};

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A shipped environment (`stacks/config/<name>.toml`).
pub fn environment(name: &str) -> Environment {
    load_environment(&crate_dir().join(".."), name).expect("the committed config is valid")
}

/// The whole program of an environment, with `chart_dir` as the service's chart.
pub fn program(env: &Environment, chart_dir: &Path) -> App {
    crate::build(env, chart_dir).unwrap_or_else(|e| panic!("{}: {e}", env.name))
}

/// The environment's module: its JSON files parsed, and the module itself.
pub fn synth_json(env: &Environment) -> (BTreeMap<String, Value>, synth::Module) {
    let module = program(env, &crate_dir().join("../helm-chart"))
        .synth(&SynthOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let files = module
        .files
        .iter()
        .filter(|(name, _)| name.ends_with(".json"))
        .map(|(name, bytes)| {
            (
                name.clone(),
                serde_json::from_slice(bytes).expect("JSON output"),
            )
        })
        .collect();
    (files, module)
}

/// Block `<ty>.<name>` (managed or data) of the program.
pub fn block<'a>(app: &'a App, ty: &str, name: &str) -> &'a synth::Resource {
    app.stacks()
        .iter()
        .flat_map(|stack| stack.resources())
        .find(|r| r.ty() == ty && r.name() == name)
        .unwrap_or_else(|| panic!("no {ty}.{name}"))
}

/// An attribute of a block, evaluated with what terraform knows only at
/// apply time standing for itself (`"${aws_iam_role.x.arn}"`).
pub fn attr(app: &App, ty: &str, name: &str, attribute: &str) -> Value {
    block(app, ty, name)
        .get(attribute)
        .unwrap_or_else(|| panic!("{ty}.{name} has no {attribute}"))
        .evaluate_with_stand_ins()
}

/// A `jsonencode(...)` policy attribute, as the JSON document it encodes.
pub fn policy(app: &App, ty: &str, name: &str, attribute: &str) -> Value {
    match attr(app, ty, name, attribute) {
        Value::String(text) => serde_json::from_str(&text).expect("a JSON policy"),
        other => panic!("{ty}.{name}.{attribute} is not a policy: {other}"),
    }
}

/// The program of a shipped environment with the shipped chart.
pub fn shipped(name: &str) -> App {
    program(&environment(name), &crate_dir().join("../helm-chart"))
}
