//! Every block of the golden files (what the stacks synthesize today with
//! `Resource::set`) is something the generated builders render the same way:
//! each nested block has the JSON shape the builders' convention gives it
//! (`BlockShape`: one block an object, several a list), each attribute a
//! value its typed setter accepts, each required argument is there for the
//! constructor, and every reference has the type its setter takes. Where
//! only one of terraform's own conversions bridges the types, the spot is
//! listed in `CONVERSIONS`, so porting a stack meets no surprise.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use bindings_gen::model::{BlockShape, FieldKind, Module, ModuleKind, Type};
use serde_json::{Map, Value as Json};
use synth::schema::META_ARGUMENTS;

/// Golden values a typed setter takes only through an explicit conversion
/// (`Value::from_bool`, `Value::from_number`): (block path, what is given).
const CONVERSIONS: &[(&str, &str)] = &[
    (
        "aws_eks_node_group.launch_template.version",
        "a number reference (aws_launch_template.latest_version): Value::from_number",
    ),
    (
        "aws_launch_template.block_device_mappings.ebs.delete_on_termination",
        "a bool literal: Value::from_bool",
    ),
    (
        "aws_launch_template.block_device_mappings.ebs.encrypted",
        "a bool literal: Value::from_bool",
    ),
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every planned module by (kind, terraform type or provider name).
fn modules() -> BTreeMap<(&'static str, String), Module> {
    let schemas = bindings_gen::load_schemas(&repo().join("stacks/schemas"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut out = BTreeMap::new();
    for (provider, schema) in schemas.providers() {
        for module in bindings_gen::plan_provider(provider, schema).expect("plans") {
            let kind = match module.kind {
                ModuleKind::Resource => "resource",
                ModuleKind::DataSource => "data",
                ModuleKind::Provider => "provider",
            };
            out.insert((kind, module.tf_type.clone()), module);
        }
    }
    out
}

struct Checker<'a> {
    modules: &'a BTreeMap<(&'static str, String), Module>,
    /// Declared variable types (`variables.tf.json`), by name.
    variables: BTreeMap<String, String>,
    problems: Vec<String>,
    conversions: BTreeSet<(String, String)>,
    blocks_seen: usize,
}

/// `${...}` around an expression, `$${` being an escaped literal.
fn interpolates(s: &str) -> bool {
    s.match_indices("${")
        .any(|(i, _)| i == 0 || s.as_bytes()[i - 1] != b'$')
}

/// A plain reference: `${[data.]type.name.attr[0].attr}`, `${var.x}`, `${local.x}`.
enum Reference {
    Block(&'static str, String, Vec<String>),
    Variable(String),
    Local(String),
}

fn reference(s: &str) -> Option<Reference> {
    let inner = s.strip_prefix("${")?.strip_suffix('}')?;
    if !inner
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.[]".contains(c))
    {
        return None;
    }
    if let Some(name) = inner.strip_prefix("var.") {
        return Some(Reference::Variable(name.to_owned()));
    }
    if let Some(name) = inner.strip_prefix("local.") {
        return Some(Reference::Local(name.to_owned()));
    }
    let (kind, rest) = match inner.strip_prefix("data.") {
        Some(rest) => ("data", rest),
        None => ("resource", inner),
    };
    let mut parts = rest.split('.');
    let ty = parts.next()?.to_owned();
    parts.next()?;
    let steps = parts
        .flat_map(|p| p.split('['))
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches(']').to_owned())
        .collect();
    Some(Reference::Block(kind, ty, steps))
}

/// The type's shape without object identities (they are per module).
fn shape(ty: &Type) -> String {
    match ty {
        Type::String => "string".into(),
        Type::Number => "number".into(),
        Type::Bool => "bool".into(),
        Type::Dynamic => "dynamic".into(),
        Type::List(t) => format!("list({})", shape(t)),
        Type::Set(t) => format!("set({})", shape(t)),
        Type::Map(t) => format!("map({})", shape(t)),
        Type::Object(_) => "object".into(),
    }
}

impl<'a> Checker<'a> {
    fn new(modules: &'a BTreeMap<(&'static str, String), Module>) -> Self {
        Self {
            modules,
            variables: BTreeMap::new(),
            problems: Vec::new(),
            conversions: BTreeSet::new(),
            blocks_seen: 0,
        }
    }

    /// What a reference reads, through the referenced module's own accessors.
    fn resolve(&self, kind: &'static str, ty: &str, steps: &[String]) -> Option<Type> {
        let module = self.modules.get(&(kind, ty.to_owned()))?;
        let mut current = Type::Object(0);
        for step in steps {
            current = match current {
                Type::List(inner) | Type::Map(inner) => *inner,
                Type::Object(item) => {
                    let field = module.items[item]
                        .fields
                        .iter()
                        .find(|f| &f.tf_name == step)?;
                    match &field.kind {
                        FieldKind::Attribute(t) => t.clone(),
                        FieldKind::Block { read, .. } => read.clone(),
                    }
                }
                _ => return None,
            };
        }
        Some(current)
    }

    fn block(&mut self, module: &Module, item: usize, body: &Json, path: &str, top: bool) {
        self.blocks_seen += 1;
        let Json::Object(map) = body else {
            self.problems
                .push(format!("{path}: a block must be an object, found {body}"));
            return;
        };
        for (key, value) in map {
            if top && (META_ARGUMENTS.contains(&key.as_str()) || key == "alias") {
                continue;
            }
            let here = format!("{path}.{key}");
            let Some(field) = module.items[item].fields.iter().find(|f| &f.tf_name == key) else {
                self.problems
                    .push(format!("{here}: no setter of that name"));
                continue;
            };
            if !field.settable {
                self.problems.push(format!("{here}: read-only, no setter"));
                continue;
            }
            match &field.kind {
                FieldKind::Block { shape, item, .. } => {
                    self.blocks(module, *shape, *item, value, &here)
                }
                FieldKind::Attribute(ty) => self.value(module, ty, value, &here),
            }
        }
        for field in module.items[item].fields.iter().filter(|f| f.required) {
            if !map.contains_key(&field.tf_name) {
                self.problems.push(format!(
                    "{path}: lacks `{}`, which the typed constructor requires",
                    field.tf_name
                ));
            }
        }
    }

    fn blocks(
        &mut self,
        module: &Module,
        shape: BlockShape,
        item: usize,
        value: &Json,
        path: &str,
    ) {
        match (shape, value) {
            (BlockShape::Single | BlockShape::Repeatable, Json::Object(_)) => {
                self.block(module, item, value, path, false);
            }
            (BlockShape::Repeatable, Json::Array(blocks)) => {
                for block in blocks {
                    self.block(module, item, block, path, false);
                }
            }
            (BlockShape::Map, Json::Object(blocks)) => {
                for block in blocks.values() {
                    self.block(module, item, block, path, false);
                }
            }
            (shape, other) => self.problems.push(format!(
                "{path}: the builders render a {shape:?} block, the golden file has {other}"
            )),
        }
    }

    fn value(&mut self, module: &Module, ty: &Type, value: &Json, path: &str) {
        if let Json::String(s) = value {
            match reference(s) {
                Some(Reference::Block(kind, target, steps)) => {
                    return self.reference(ty, kind, &target, &steps, path);
                }
                // `Stack::typed_variable` declares the variable with the type
                // it is used as; the golden files declare them all `string`.
                Some(Reference::Variable(name)) => {
                    match self.variables.get(&name).map(String::as_str) {
                        Some("string") if *ty == Type::String => {}
                        declared => self.problems.push(format!(
                            "{path}: var.{name} is declared {declared:?}, the setter takes {}",
                            shape(ty)
                        )),
                    }
                    return;
                }
                Some(Reference::Local(name)) => {
                    self.conversions
                        .insert((path.to_owned(), format!("local.{name}: Value::assume")));
                    return;
                }
                None => {}
            }
            if interpolates(s) && *ty != Type::String && *ty != Type::Dynamic {
                self.conversions
                    .insert((path.to_owned(), format!("an expression {s}: Value::assume")));
                return;
            }
        }
        match (ty, value) {
            (Type::Dynamic, _) | (Type::String, Json::String(_)) => {}
            (Type::Number, Json::Number(_)) | (Type::Bool, Json::Bool(_)) => {}
            (Type::String, Json::Bool(_)) => {
                self.conversions
                    .insert((path.to_owned(), "a bool literal: Value::from_bool".into()));
            }
            (Type::String, Json::Number(_)) => {
                self.conversions.insert((
                    path.to_owned(),
                    "a number literal: Value::from_number".into(),
                ));
            }
            (Type::List(inner) | Type::Set(inner), Json::Array(items)) => {
                for item in items {
                    self.value(module, inner, item, path);
                }
            }
            (Type::Map(inner), Json::Object(entries)) => {
                for entry in entries.values() {
                    self.value(module, inner, entry, path);
                }
            }
            (Type::Object(item), Json::Object(_)) => self.block(module, *item, value, path, false),
            (ty, other) => self.problems.push(format!(
                "{path}: a {} setter cannot render {other}",
                shape(ty)
            )),
        }
    }

    fn reference(
        &mut self,
        ty: &Type,
        kind: &'static str,
        target: &str,
        steps: &[String],
        path: &str,
    ) {
        let Some(read) = self.resolve(kind, target, steps) else {
            self.problems.push(format!(
                "{path}: references {target}.{}, which has no typed accessor",
                steps.join(".")
            ));
            return;
        };
        let (want, got) = (shape(ty), shape(&read));
        let converts = matches!(
            (ty, &read),
            (Type::Set(a), Type::List(b)) if shape(a) == shape(b)
        );
        if want == got || *ty == Type::Dynamic {
            return;
        }
        let fix = match (ty, &read) {
            (Type::String, Type::Number) => "Value::from_number",
            (Type::String, Type::Bool) => "Value::from_bool",
            _ if converts => ".into_set()",
            _ => {
                self.problems.push(format!(
                    "{path}: a {want} setter given a {got} reference ({target}.{})",
                    steps.join(".")
                ));
                return;
            }
        };
        self.conversions.insert((
            path.to_owned(),
            format!("a {got} reference ({target}.{}): {fix}", steps[0]),
        ));
    }
}

fn golden_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for env in std::fs::read_dir(repo().join("tests/golden")).expect("tests/golden") {
        for file in std::fs::read_dir(env.expect("entry").path()).expect("an environment") {
            let path = file.expect("entry").path();
            if path.to_string_lossy().ends_with(".tf.json") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn the_golden_files_are_what_the_typed_builders_render() {
    let modules = modules();
    let mut checker = Checker::new(&modules);
    let files: Vec<(PathBuf, Json)> = golden_files()
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).expect("golden file");
            (file, serde_json::from_str(&text).expect("golden JSON"))
        })
        .collect();
    for (_, doc) in &files {
        let variables = doc.get("variable").and_then(Json::as_object);
        for (name, variable) in variables.into_iter().flatten() {
            let ty = variable["type"].as_str().unwrap_or("any").to_owned();
            checker.variables.insert(name.clone(), ty);
        }
    }
    for (_, doc) in &files {
        let empty = Map::new();
        for kind in ["resource", "data"] {
            let section = doc.get(kind).and_then(Json::as_object).unwrap_or(&empty);
            for (ty, blocks) in section {
                let module = &modules[&(kind, ty.clone())];
                for body in blocks.as_object().expect("blocks by name").values() {
                    checker.block(module, 0, body, ty, true);
                }
            }
        }
        let providers = doc
            .get("provider")
            .and_then(Json::as_object)
            .unwrap_or(&empty);
        for (name, configs) in providers {
            let module = &modules[&("provider", name.clone())];
            // Terraform JSON allows one configuration object or a list of them.
            let configs = match configs {
                Json::Array(list) => list.iter().collect(),
                one => vec![one],
            };
            for body in configs {
                checker.block(module, 0, body, &format!("provider.{name}"), true);
            }
        }
    }
    assert!(
        checker.problems.is_empty(),
        "{}",
        checker.problems.join("\n")
    );
    assert!(checker.blocks_seen > 100, "the golden files were read");
    let expected: BTreeSet<(String, String)> = CONVERSIONS
        .iter()
        .map(|(path, what)| ((*path).to_owned(), (*what).to_owned()))
        .collect();
    assert_eq!(
        checker.conversions, expected,
        "the golden values a typed setter takes only through a conversion changed: \
         update CONVERSIONS (and the porting notes in docs/bindings.md)"
    );
}

#[test]
fn mismatched_shapes_are_reported() {
    let modules = modules();
    let mut checker = Checker::new(&modules);
    let cluster = &modules[&("resource", "aws_eks_cluster".to_owned())];
    let body = serde_json::json!({
        "name": "x",
        "role_arn": "${aws_iam_role.cluster.arn}",
        "vpc_config": [{"subnet_ids": ["a"]}],
        "version": "${aws_vpc.main.tags}",
        "arn": "x",
        "enabled_cluster_log_types": "api",
    });
    checker.block(cluster, 0, &body, "aws_eks_cluster", true);
    assert_eq!(
        checker.problems,
        [
            "aws_eks_cluster.arn: read-only, no setter",
            "aws_eks_cluster.enabled_cluster_log_types: a set(string) setter cannot render \"api\"",
            "aws_eks_cluster.version: a string setter given a map(string) reference (aws_vpc.tags)",
            "aws_eks_cluster.vpc_config: the builders render a Single block, the golden file has [{\"subnet_ids\":[\"a\"]}]",
        ]
    );
}
