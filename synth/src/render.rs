//! Rendering a checked selection of stacks into the files of one root
//! module: `terraform.tf.json`, `providers.tf.json`, `variables.tf.json`,
//! one `<stack>.tf.json` per stack, `refactor.tf.json` (the `moved` and
//! `import` blocks of the selected stacks' resources), the stacks' assets
//! and the manifest.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::app::{
    StackSummary, MANIFEST_FILE, PROVIDERS_FILE, REFACTOR_FILE, TERRAFORM_FILE, VARIABLES_FILE,
};
use crate::block::{Backend, Mode, Provider, RequiredProvider, Resource, Variable};
use crate::json::{to_canonical_string, to_value};
use crate::manifest::Manifest;
use crate::stack::Stack;

/// A resource with the stack it belongs to and its rendered body.
pub(crate) type Rendered<'a> = (&'a Stack, &'a Resource, Value);

/// What goes into the module's files besides the rendered blocks.
pub(crate) struct Parts<'a> {
    pub(crate) environment: &'a str,
    pub(crate) tool: &'a str,
    pub(crate) required_version: Option<&'a str>,
    pub(crate) backend: Option<&'a Backend>,
    pub(crate) required: &'a BTreeMap<String, RequiredProvider>,
    pub(crate) used_providers: &'a BTreeSet<String>,
    pub(crate) providers: &'a [&'a Provider],
    pub(crate) variables: Vec<&'a (String, Variable)>,
    pub(crate) chosen: &'a [&'a Stack],
    pub(crate) rendered: &'a [Rendered<'a>],
    pub(crate) metadata: &'a BTreeMap<String, Value>,
}

/// The module's files by relative name, and a summary per stack.
pub(crate) fn files(parts: &Parts<'_>) -> (BTreeMap<String, Vec<u8>>, Vec<StackSummary>) {
    let mut files = BTreeMap::new();
    let mut summary = Vec::new();
    files.insert(TERRAFORM_FILE.to_owned(), terraform_block(parts));
    if !parts.providers.is_empty() {
        files.insert(PROVIDERS_FILE.to_owned(), providers(parts.providers));
    }
    if !parts.variables.is_empty() {
        let body: BTreeMap<&String, &Variable> =
            parts.variables.iter().map(|(n, v)| (n, v)).collect();
        files.insert(
            VARIABLES_FILE.to_owned(),
            to_canonical_string(&json!({ "variable": to_value(&body) })).into_bytes(),
        );
    }
    for stack in parts.chosen {
        let stack_rendered: Vec<(&Resource, &Value)> = parts
            .rendered
            .iter()
            .filter(|(s, _, _)| s.name() == stack.name())
            .map(|(_, r, body)| (*r, body))
            .collect();
        files.insert(
            format!("{}.tf.json", stack.name()),
            render_stack(stack, &stack_rendered),
        );
        for asset in &stack.assets {
            for (name, bytes) in &asset.files {
                files.insert(format!("{}/{name}", asset.dest), bytes.clone());
            }
        }
        summary.push(StackSummary {
            name: stack.name().to_owned(),
            description: stack.description().to_owned(),
            resources: addresses(stack, Mode::Managed),
            data_sources: addresses(stack, Mode::Data),
            outputs: stack.outputs.iter().map(|(n, _)| n.clone()).collect(),
        });
    }
    if let Some(refactor) = refactor_file(parts.rendered) {
        files.insert(REFACTOR_FILE.to_owned(), refactor);
    }
    let manifest = manifest(parts, &summary, &files);
    files.insert(MANIFEST_FILE.to_owned(), manifest);
    (files, summary)
}

/// The `terraform` block alone: required version, the used providers'
/// requirements, the backend.
fn terraform_block(parts: &Parts<'_>) -> Vec<u8> {
    #[derive(Serialize)]
    struct Block<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        required_version: Option<&'a str>,
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        required_providers: BTreeMap<&'a String, &'a RequiredProvider>,
        #[serde(skip_serializing_if = "Option::is_none")]
        backend: Option<&'a Backend>,
    }
    let block = Block {
        required_version: parts.required_version,
        required_providers: parts
            .required
            .iter()
            .filter(|(name, _)| parts.used_providers.contains(*name))
            .collect(),
        backend: parts.backend,
    };
    to_canonical_string(&json!({ "terraform": to_value(&block) })).into_bytes()
}

fn addresses(stack: &Stack, mode: Mode) -> Vec<String> {
    stack
        .resources
        .iter()
        .filter(|r| r.mode() == mode)
        .map(|r| r.address().to_string())
        .collect()
}

fn providers(providers: &[&Provider]) -> Vec<u8> {
    let mut by_name: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for p in providers {
        by_name.entry(p.name()).or_default().push(p.to_json());
    }
    let body: Map<String, Value> = by_name
        .into_iter()
        .map(|(name, mut configs)| {
            let value = if configs.len() == 1 {
                configs.remove(0)
            } else {
                Value::Array(configs)
            };
            (name.to_owned(), value)
        })
        .collect();
    to_canonical_string(&json!({ "provider": body })).into_bytes()
}

fn render_stack(stack: &Stack, rendered: &[(&Resource, &Value)]) -> Vec<u8> {
    let mut root = Map::new();
    for (mode, key) in [(Mode::Managed, "resource"), (Mode::Data, "data")] {
        let mut by_type: Map<String, Value> = Map::new();
        for (r, body) in rendered.iter().filter(|(r, _)| r.mode() == mode) {
            let entry = by_type
                .entry(r.ty().to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(names) = entry {
                names.insert(r.name().to_owned(), (*body).clone());
            }
        }
        if !by_type.is_empty() {
            root.insert(key.into(), Value::Object(by_type));
        }
    }
    if !stack.locals.is_empty() {
        let locals: Map<String, Value> = stack
            .locals
            .iter()
            .map(|(n, v)| (n.clone(), v.to_json()))
            .collect();
        root.insert("locals".into(), Value::Object(locals));
    }
    if !stack.outputs.is_empty() {
        let outputs: Map<String, Value> = stack
            .outputs
            .iter()
            .map(|(n, o)| (n.clone(), to_value(o)))
            .collect();
        root.insert("output".into(), Value::Object(outputs));
    }
    to_canonical_string(&Value::Object(root)).into_bytes()
}

/// The `moved` and `import` blocks of the rendered resources, sorted by
/// resource address; `None` when there are none.
fn refactor_file(rendered: &[Rendered<'_>]) -> Option<Vec<u8>> {
    let mut refactored: Vec<&Resource> = rendered
        .iter()
        .map(|(_, r, _)| *r)
        .filter(|r| {
            r.mode() == Mode::Managed
                && (!r.former_addresses().is_empty() || r.import_id().is_some())
        })
        .collect();
    if refactored.is_empty() {
        return None;
    }
    refactored.sort_by_key(|r| r.address());
    let mut root = Map::new();
    let moved: Vec<Value> = refactored.iter().flat_map(|r| moved_blocks(r)).collect();
    if !moved.is_empty() {
        root.insert("moved".into(), Value::Array(moved));
    }
    let imports: Vec<Value> = refactored.iter().filter_map(|r| import_block(r)).collect();
    if !imports.is_empty() {
        root.insert("import".into(), Value::Array(imports));
    }
    Some(to_canonical_string(&Value::Object(root)).into_bytes())
}

/// The `moved` blocks of a resource: its former addresses chained, oldest
/// first, ending at its own.
fn moved_blocks(r: &Resource) -> Vec<Value> {
    let own = r.address();
    let formers = r.former_addresses();
    formers
        .iter()
        .zip(formers.iter().skip(1).chain(std::iter::once(&own)))
        .map(|(from, to)| json!({"from": from.to_string(), "to": to.to_string()}))
        .collect()
}

/// The `import` block of a resource that adopts an existing object.
fn import_block(r: &Resource) -> Option<Value> {
    let id = r.import_id()?;
    let mut block = Map::new();
    block.insert("to".into(), Value::String(r.address().to_string()));
    block.insert("id".into(), id.to_json());
    // An import goes through the provider configuration its resource uses.
    if let Some(provider) = r.explicit_provider() {
        block.insert("provider".into(), Value::String(provider.to_string()));
    }
    Some(Value::Object(block))
}

fn manifest(
    parts: &Parts<'_>,
    summary: &[StackSummary],
    files: &BTreeMap<String, Vec<u8>>,
) -> Vec<u8> {
    let mut manifest =
        Manifest::build(parts.environment, parts.tool, parts.backend, summary, files);
    manifest.metadata = parts.metadata.clone();
    manifest.to_bytes()
}
