//! The App: stacks plus root-module settings, and synthesis into files.
//!
//! [`App::synth`] runs every check before producing a single byte, and
//! reports all problems at once, each with the address of the block at fault.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::block::{
    type_provider, Backend, Mode, Provider, ProviderRef, RequiredProvider, Resource,
};
use crate::error::{Diagnostic, SynthError};
use crate::expr::{Address, Expr};
use crate::json::to_canonical_string;
use crate::manifest::Manifest;
use crate::policy::{ModuleView, Policy, ResourceView};
use crate::schema::{did_you_mean, BlockKind, Schemas};
use crate::stack::Stack;

/// File holding only the `terraform` block (security scanners need it alone).
pub const TERRAFORM_FILE: &str = "terraform.tf.json";
pub const PROVIDERS_FILE: &str = "providers.tf.json";
pub const VARIABLES_FILE: &str = "variables.tf.json";
pub const MANIFEST_FILE: &str = "manifest.json";

/// A whole program: the stacks of one environment and its root settings.
#[derive(Debug, Default)]
pub struct App {
    environment: String,
    required_version: Option<String>,
    backend: Option<Backend>,
    stacks: Vec<Stack>,
    schemas: Schemas,
    policies: Vec<Box<dyn Policy>>,
}

/// What to synthesize.
#[derive(Debug, Clone, Default)]
pub struct SynthOptions {
    /// A subset of stacks by name; `None` means all of them.
    pub stacks: Option<Vec<String>>,
    /// Recorded in the manifest (`infra 0.1.0`).
    pub tool: String,
}

/// The synthesized module: file names relative to the output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub environment: String,
    pub files: BTreeMap<String, Vec<u8>>,
    pub summary: Vec<StackSummary>,
}

/// Counts per synthesized stack, for the manifest and `list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSummary {
    pub name: String,
    pub description: String,
    pub resources: Vec<String>,
    pub data_sources: Vec<String>,
    pub outputs: Vec<String>,
}

impl App {
    pub fn new(environment: &str) -> Self {
        Self {
            environment: environment.to_owned(),
            ..Self::default()
        }
    }

    pub fn environment(&self) -> &str {
        &self.environment
    }

    pub fn required_version(&mut self, constraint: &str) -> &mut Self {
        self.required_version = Some(constraint.to_owned());
        self
    }

    pub fn backend(&mut self, backend: Backend) -> &mut Self {
        self.backend = Some(backend);
        self
    }

    pub fn backend_config(&self) -> Option<&Backend> {
        self.backend.as_ref()
    }

    /// Schemas every provider, resource and data block is checked against.
    pub fn set_schemas(&mut self, schemas: Schemas) -> &mut Self {
        self.schemas = schemas;
        self
    }

    pub fn add_policy(&mut self, policy: Box<dyn Policy>) -> &mut Self {
        self.policies.push(policy);
        self
    }

    /// Adds a stack (or returns the existing one of that name).
    pub fn stack(&mut self, name: &str, description: &str) -> &mut Stack {
        if let Some(i) = self.stacks.iter().position(|s| s.name() == name) {
            return &mut self.stacks[i];
        }
        self.stacks.push(Stack::new(name, description));
        self.stacks.last_mut().expect("just pushed")
    }

    pub fn stacks(&self) -> &[Stack] {
        &self.stacks
    }

    pub fn stacks_mut(&mut self) -> &mut [Stack] {
        &mut self.stacks
    }

    /// Applies a change to every resource and data source (an aspect).
    pub fn visit_resources_mut(&mut self, mut f: impl FnMut(&mut Resource)) {
        for stack in &mut self.stacks {
            stack.resources_mut().iter_mut().for_each(&mut f);
        }
    }

    /// Checks everything and renders the module; nothing is written here.
    pub fn synth(&self, options: &SynthOptions) -> Result<Module, SynthError> {
        let selected = self.select(options.stacks.as_deref())?;
        let mut diags = Vec::new();
        let index = Index::build(&self.stacks, &mut diags);
        let (providers, required) = self.merge_providers(&mut diags);

        let chosen: Vec<&Stack> = self
            .stacks
            .iter()
            .filter(|s| selected.contains(s.name()))
            .collect();

        // Providers used by the selected blocks decide what the module declares.
        let mut used_providers: BTreeSet<ProviderRef> = BTreeSet::new();
        for stack in &chosen {
            for r in &stack.resources {
                let p = r.provider_ref();
                if !required.contains_key(&p.name) {
                    diags.push(Diagnostic::new(
                        r.address(),
                        format!(
                            "uses provider `{}`, which no stack declares in required_providers",
                            p.name
                        ),
                    ));
                } else if p.alias.is_some() && !providers.contains_key(&p) {
                    diags.push(Diagnostic::new(
                        r.address(),
                        format!("uses provider configuration `{p}`, which is not declared"),
                    ));
                }
                used_providers.insert(p);
            }
        }
        let used_names: BTreeSet<&str> = used_providers.iter().map(|p| p.name.as_str()).collect();
        let included_providers: Vec<&Provider> = providers
            .iter()
            .filter(|(p, _)| used_names.contains(p.name.as_str()))
            .map(|(_, p)| *p)
            .collect();

        // References: every one must resolve inside the selection.
        let mut refs = RefCheck {
            app: self,
            index: &index,
            selected: &selected,
            diags: &mut diags,
            vars: BTreeSet::new(),
            missing_stacks: BTreeSet::new(),
        };
        for stack in &chosen {
            for r in &stack.resources {
                let owner = r.address().to_string();
                refs.check(&owner, r.attr_exprs());
                refs.check(
                    &owner,
                    r.overrides().iter().filter_map(|o| o.value.as_ref()),
                );
                refs.check_depends_on(&owner, r.explicit_depends_on());
            }
            for (name, value) in &stack.locals {
                refs.check(&format!("local.{name}"), std::iter::once(value));
            }
            for (name, output) in &stack.outputs {
                refs.check(&format!("output.{name}"), std::iter::once(output.value()));
            }
        }
        for p in &included_providers {
            refs.check(&format!("provider.{}", p.reference()), p.config_exprs());
        }
        let RefCheck {
            vars: referenced_vars,
            missing_stacks,
            ..
        } = refs;

        // One line saying which stacks a subset lacks reads better than a
        // dangling reference per block; both are reported.
        if !missing_stacks.is_empty() {
            let names: Vec<&str> = missing_stacks.iter().map(String::as_str).collect();
            diags.insert(
                0,
                Diagnostic::at(
                    "--stacks",
                    format!(
                        "the selected stacks depend on stack(s) {}; add them",
                        names.join(", ")
                    ),
                ),
            );
        }

        self.check_cycles(&chosen, &mut diags);

        // Render, then check the rendered JSON against schemas and policies.
        let mut rendered: Vec<(&Stack, &Resource, Value)> = Vec::new();
        for stack in &chosen {
            for r in &stack.resources {
                match r.to_json() {
                    Ok(body) => rendered.push((stack, r, body)),
                    Err(message) => diags.push(Diagnostic::new(r.address(), message)),
                }
            }
        }
        for (_, r, body) in &rendered {
            let kind = if r.mode() == Mode::Data {
                BlockKind::Data
            } else {
                BlockKind::Resource
            };
            let provider = type_provider(r.ty());
            if let Some(problems) = self.schemas.check(provider, kind, r.ty(), body) {
                diags.extend(
                    problems
                        .into_iter()
                        .map(|m| Diagnostic::new(r.address(), m)),
                );
            }
        }
        for p in &included_providers {
            if let Some(problems) =
                self.schemas
                    .check(p.name(), BlockKind::Provider, "", &p.to_json())
            {
                let at = format!("provider.{}", p.reference());
                diags.extend(problems.into_iter().map(|m| Diagnostic::at(&at, m)));
            }
        }
        let view = ModuleView {
            environment: &self.environment,
            resources: rendered
                .iter()
                .map(|(stack, r, body)| ResourceView {
                    stack: stack.name(),
                    address: r.address(),
                    mode: r.mode(),
                    ty: r.ty(),
                    body,
                })
                .collect(),
        };
        for policy in &self.policies {
            for v in policy.check(&view) {
                diags.push(Diagnostic::at(
                    &v.address,
                    format!("policy `{}` violated: {}", policy.name(), v.message),
                ));
            }
        }

        if !diags.is_empty() {
            return Err(SynthError::Invalid(diags));
        }

        let mut files = BTreeMap::new();
        let mut summary = Vec::new();
        files.insert(
            TERRAFORM_FILE.to_owned(),
            self.render_terraform_block(&required, &used_names),
        );
        if !included_providers.is_empty() {
            files.insert(
                PROVIDERS_FILE.to_owned(),
                render_providers(&included_providers),
            );
        }
        let variables: Vec<_> = self
            .stacks
            .iter()
            .flat_map(|s| s.variables.iter())
            .filter(|(name, _)| referenced_vars.contains(name))
            .collect();
        if !variables.is_empty() {
            let body: Map<String, Value> = variables
                .iter()
                .map(|(name, v)| (name.clone(), v.to_json()))
                .collect();
            files.insert(
                VARIABLES_FILE.to_owned(),
                to_canonical_string(&json!({ "variable": body })).into_bytes(),
            );
        }
        for stack in &chosen {
            let stack_rendered: Vec<(&Resource, &Value)> = rendered
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
        let manifest = Manifest::build(
            &self.environment,
            &options.tool,
            self.backend.as_ref(),
            &summary,
            &files,
        );
        files.insert(MANIFEST_FILE.to_owned(), manifest.to_bytes());
        Ok(Module {
            environment: self.environment.clone(),
            files,
            summary,
        })
    }

    fn select(&self, wanted: Option<&[String]>) -> Result<BTreeSet<String>, SynthError> {
        let known: Vec<String> = self.stacks.iter().map(|s| s.name().to_owned()).collect();
        let Some(wanted) = wanted else {
            return Ok(known.into_iter().collect());
        };
        if wanted.is_empty() {
            return Err(SynthError::UnknownStack {
                name: String::new(),
                known: known.join(", "),
            });
        }
        for name in wanted {
            if !known.contains(name) {
                return Err(SynthError::UnknownStack {
                    name: name.clone(),
                    known: known.join(", "),
                });
            }
        }
        Ok(wanted.iter().cloned().collect())
    }

    /// Merges provider declarations from all stacks; the same provider
    /// declared twice must be declared identically.
    fn merge_providers(
        &self,
        diags: &mut Vec<Diagnostic>,
    ) -> (
        BTreeMap<ProviderRef, &Provider>,
        BTreeMap<String, RequiredProvider>,
    ) {
        let mut providers: BTreeMap<ProviderRef, &Provider> = BTreeMap::new();
        let mut required: BTreeMap<String, RequiredProvider> = BTreeMap::new();
        for stack in &self.stacks {
            for p in &stack.providers {
                match providers.get(&p.reference()) {
                    Some(existing) if *existing != p => diags.push(Diagnostic::at(
                        &format!("provider.{}", p.reference()),
                        format!(
                            "declared again by stack `{}` with a different configuration",
                            stack.name()
                        ),
                    )),
                    _ => {
                        providers.insert(p.reference(), p);
                    }
                }
            }
            for (name, req) in &stack.required_providers {
                match required.get(name) {
                    Some(existing) if existing != req => diags.push(Diagnostic::at(
                        &format!("terraform.required_providers.{name}"),
                        format!(
                            "stack `{}` requires {} {}, another stack {} {}",
                            stack.name(),
                            req.source,
                            req.version,
                            existing.source,
                            existing.version
                        ),
                    )),
                    _ => {
                        required.insert(name.clone(), req.clone());
                    }
                }
            }
        }
        (providers, required)
    }

    /// What is wrong with a reference, if anything. A block of a stack left
    /// out of the selection is recorded in `missing_stacks`.
    fn check_reference(
        &self,
        index: &Index,
        selected: &BTreeSet<String>,
        missing_stacks: &mut BTreeSet<String>,
        address: &Address,
        attr: Option<&str>,
    ) -> Option<String> {
        let Some(stack) = index.owner.get(address) else {
            let candidates: Vec<String> = index.owner.keys().map(ToString::to_string).collect();
            return Some(format!(
                "references `{address}`, which does not exist{}",
                did_you_mean(&address.to_string(), candidates.iter().map(String::as_str))
            ));
        };
        // Variables are module-wide: they travel with any stack that uses them.
        if !matches!(address, Address::Var(_)) && !selected.contains(stack) {
            missing_stacks.insert(stack.clone());
            return Some(format!(
                "references `{address}` of stack `{stack}`, which is not being synthesized (add it to --stacks)"
            ));
        }
        let (kind, ty) = match address {
            Address::Resource { ty, .. } => (BlockKind::Resource, ty),
            Address::Data { ty, .. } => (BlockKind::Data, ty),
            _ => return None,
        };
        let attr = attr?;
        let provider = type_provider(ty);
        match self.schemas.has_attribute(provider, kind, ty, attr) {
            Some(false) => Some(format!(
                "references `{address}.{attr}`, but `{ty}` has no attribute `{attr}`{}",
                self.schemas.suggest_attribute(provider, kind, ty, attr)
            )),
            _ => None,
        }
    }

    fn check_cycles(&self, chosen: &[&Stack], diags: &mut Vec<Diagnostic>) {
        let mut graph: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for stack in chosen {
            for r in &stack.resources {
                let deps = r.dependencies().iter().map(|a| a.to_string()).collect();
                graph.insert(r.address().to_string(), deps);
            }
            for (name, value) in &stack.locals {
                let deps = value.references().iter().map(|a| a.to_string()).collect();
                graph.insert(format!("local.{name}"), deps);
            }
        }
        // Iterative three-colour DFS; the first back edge found names the cycle.
        let mut state: BTreeMap<&str, u8> = BTreeMap::new();
        for start in graph.keys() {
            if state.contains_key(start.as_str()) {
                continue;
            }
            let mut stack: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
            state.insert(start.as_str(), 1);
            while let Some((node, next)) = stack.last_mut() {
                let deps = graph.get(*node).map_or(&[][..], Vec::as_slice);
                if *next >= deps.len() {
                    state.insert(node, 2);
                    stack.pop();
                    continue;
                }
                let dep = deps[*next].as_str();
                *next += 1;
                if !graph.contains_key(dep) {
                    continue;
                }
                match state.get(dep) {
                    None => {
                        state.insert(dep, 1);
                        stack.push((dep, 0));
                    }
                    Some(1) => {
                        let from = stack.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                        let mut path: Vec<&str> = stack[from..].iter().map(|(n, _)| *n).collect();
                        path.push(dep);
                        diags.push(Diagnostic::at(
                            dep,
                            format!("dependency cycle: {}", path.join(" -> ")),
                        ));
                        return;
                    }
                    _ => {}
                }
            }
        }
    }

    fn render_terraform_block(
        &self,
        required: &BTreeMap<String, RequiredProvider>,
        used: &BTreeSet<&str>,
    ) -> Vec<u8> {
        let mut block = Map::new();
        if let Some(version) = &self.required_version {
            block.insert("required_version".into(), Value::String(version.clone()));
        }
        let providers: Map<String, Value> = required
            .iter()
            .filter(|(name, _)| used.contains(name.as_str()))
            .map(|(name, r)| {
                (
                    name.clone(),
                    json!({"source": r.source, "version": r.version}),
                )
            })
            .collect();
        if !providers.is_empty() {
            block.insert("required_providers".into(), Value::Object(providers));
        }
        if let Some(backend) = &self.backend {
            block.insert("backend".into(), backend.to_json());
        }
        to_canonical_string(&json!({ "terraform": block })).into_bytes()
    }
}

/// Checks the references of the selected blocks, collecting the variables
/// they use and the unselected stacks they reach into.
struct RefCheck<'a> {
    app: &'a App,
    index: &'a Index,
    selected: &'a BTreeSet<String>,
    diags: &'a mut Vec<Diagnostic>,
    vars: BTreeSet<String>,
    missing_stacks: BTreeSet<String>,
}

impl<'a> RefCheck<'a> {
    fn check(&mut self, owner: &str, exprs: impl Iterator<Item = &'a Expr>) {
        for expr in exprs {
            let mut refs = Vec::new();
            expr.references_with_attr(&mut refs);
            for (address, attr) in refs {
                if let Address::Var(name) = address {
                    self.vars.insert(name.clone());
                }
                if let Some(message) = self.app.check_reference(
                    self.index,
                    self.selected,
                    &mut self.missing_stacks,
                    address,
                    attr,
                ) {
                    self.diags.push(Diagnostic::at(owner, message));
                }
            }
        }
    }

    /// `depends_on` targets; one also referenced in an attribute is reported once.
    fn check_depends_on(&mut self, owner: &str, targets: &[Address]) {
        for target in targets {
            let Some(message) = self.app.check_reference(
                self.index,
                self.selected,
                &mut self.missing_stacks,
                target,
                None,
            ) else {
                continue;
            };
            if !self
                .diags
                .iter()
                .any(|d| d.address == owner && d.message == message)
            {
                self.diags.push(Diagnostic::at(owner, message));
            }
        }
    }
}

/// Every declared address, with the stack that declares it.
struct Index {
    owner: BTreeMap<Address, String>,
}

impl Index {
    fn build(stacks: &[Stack], diags: &mut Vec<Diagnostic>) -> Self {
        let mut owner: BTreeMap<Address, String> = BTreeMap::new();
        let mut outputs: BTreeMap<&str, &str> = BTreeMap::new();
        let mut declare = |address: Address, stack: &str, diags: &mut Vec<Diagnostic>| {
            if let Some(first) = owner.get(&address) {
                diags.push(Diagnostic::new(
                    address.clone(),
                    format!("duplicate address: declared in stack `{first}` and again in stack `{stack}`"),
                ));
            } else {
                owner.insert(address, stack.to_owned());
            }
        };
        for stack in stacks {
            for r in &stack.resources {
                declare(r.address(), stack.name(), diags);
            }
            for (name, _) in &stack.variables {
                declare(Address::Var(name.clone()), stack.name(), diags);
            }
            for (name, _) in &stack.locals {
                declare(Address::Local(name.clone()), stack.name(), diags);
            }
            for (name, _) in &stack.outputs {
                if let Some(first) = outputs.insert(name, stack.name()) {
                    diags.push(Diagnostic::at(
                        &format!("output.{name}"),
                        format!("duplicate address: declared in stack `{first}` and again in stack `{}`", stack.name()),
                    ));
                }
            }
        }
        Self { owner }
    }
}

fn addresses(stack: &Stack, mode: Mode) -> Vec<String> {
    stack
        .resources
        .iter()
        .filter(|r| r.mode() == mode)
        .map(|r| r.address().to_string())
        .collect()
}

fn render_providers(providers: &[&Provider]) -> Vec<u8> {
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
            .map(|(n, o)| (n.clone(), o.to_json()))
            .collect();
        root.insert("output".into(), Value::Object(outputs));
    }
    to_canonical_string(&Value::Object(root)).into_bytes()
}
