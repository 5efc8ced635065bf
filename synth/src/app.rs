//! The App: stacks plus root-module settings, and synthesis into files.
//!
//! [`App::synth`] runs every check before producing a single byte, and
//! reports all problems at once, each with the address of the block at fault.

use std::collections::{BTreeMap, BTreeSet};

use crate::block::{Backend, Mode, Provider};
use crate::check::{self, Index, RefCheck};
use crate::error::{Diagnostic, SynthError};
use crate::expr::Address;
use crate::policy::{ModuleView, Policy, ResourceView};
use crate::refactor::{self, Protection};
use crate::render::{self, Parts, Rendered};
use crate::schema::{BlockKind, Schemas};
use crate::stack::Stack;

/// File holding only the `terraform` block (security scanners need it alone).
pub const TERRAFORM_FILE: &str = "terraform.tf.json";
pub const PROVIDERS_FILE: &str = "providers.tf.json";
pub const VARIABLES_FILE: &str = "variables.tf.json";
/// The module's `moved` and `import` blocks: statements about state, with
/// no configuration for a scanner to judge (and top-level arrays, which
/// checkov's JSON parser refuses), so they live apart from the stacks.
pub const REFACTOR_FILE: &str = "refactor.tf.json";
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
    metadata: BTreeMap<String, serde_json::Value>,
    protection: Protection,
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
    /// What the module may not take out of a directory's state; the writer
    /// checks it (see [`crate::refactor`]).
    pub protection: Protection,
}

impl Module {
    /// A module of plain files the program made, with no stacks and no
    /// backend (a tree of manifests meant for git, say): its manifest lists
    /// the files, so [`crate::output::write_module`] writes and replaces it
    /// as safely as a terraform module.
    pub fn from_files(environment: &str, tool: &str, files: BTreeMap<String, Vec<u8>>) -> Self {
        let mut manifest = crate::manifest::Manifest::build(environment, tool, None, &[], &files);
        manifest.backend = None;
        let mut files = files;
        files.insert(MANIFEST_FILE.to_owned(), manifest.to_bytes());
        Self {
            environment: environment.to_owned(),
            files,
            summary: Vec::new(),
            // No state lives beside such a tree: nothing to protect.
            protection: Protection::default(),
        }
    }
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

    /// Records a fact about the module that terraform does not read (the
    /// floors an environment was checked against, say): it goes into the
    /// manifest, and `diff` shows a change of it like a block's.
    pub fn metadata(&mut self, key: &str, value: serde_json::Value) -> &mut Self {
        self.metadata.insert(key.to_owned(), value);
        self
    }

    pub fn add_policy(&mut self, policy: Box<dyn Policy>) -> &mut Self {
        self.policies.push(policy);
        self
    }

    /// Declares every resource of type `ty` stateful: destroying one loses
    /// `loses` (say, "objects stored in it"). Writing a module that would
    /// take one out of a directory's state is refused (see
    /// [`crate::refactor`]).
    pub fn stateful(&mut self, ty: &str, loses: &str) -> &mut Self {
        self.protection
            .stateful
            .insert(ty.to_owned(), loses.to_owned());
        self
    }

    /// Lets this synthesis take the stateful resource at `address` out of
    /// the state: terraform destroys it on the next apply.
    pub fn allow_destroy(&mut self, address: &Address) -> &mut Self {
        self.protection.allow_destroy.insert(address.to_string());
        self
    }

    /// Renames the block at `from` to `name`, and every reference to it in
    /// every stack, as CDKTF's `overrideLogicalId` does; returns the new
    /// address. Terraform then sees a new address: to keep the object, call
    /// [`crate::Resource::moved_from`] on the renamed block too.
    pub fn rename_resource(&mut self, from: &Address, name: &str) -> Result<Address, SynthError> {
        refactor::rename(&mut self.stacks, from, name)
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
    pub fn visit_resources_mut(&mut self, mut f: impl FnMut(&mut crate::Resource)) {
        for stack in &mut self.stacks {
            stack.resources_mut().iter_mut().for_each(&mut f);
        }
    }

    /// Checks everything and renders the module; nothing is written here.
    pub fn synth(&self, options: &SynthOptions) -> Result<Module, SynthError> {
        let selected = check::select(&self.stacks, options.stacks.as_deref())?;
        let chosen: Vec<&Stack> = self
            .stacks
            .iter()
            .filter(|s| selected.contains(s.name()))
            .collect();
        let mut diags = Vec::new();
        check::stack_names(&self.stacks, &mut diags);
        let index = Index::build(&self.stacks, &mut diags);
        let providers = check::merge_providers(&self.stacks, &mut diags);
        let used_providers = providers.used_by(&chosen, &mut diags);
        let included = providers.included(&used_providers);
        let referenced_vars =
            self.check_references(&index, &selected, &chosen, &included, &mut diags);
        refactor::check(&self.stacks, &index, &mut diags);
        check::cycles(&chosen, &mut diags);
        let rendered = render_blocks(&chosen, &mut diags);
        self.check_schemas(&rendered, &included, &mut diags);
        self.check_policies(&rendered, &chosen, &mut diags);
        if !diags.is_empty() {
            return Err(SynthError::Invalid(diags));
        }

        let variables = self
            .stacks
            .iter()
            .flat_map(|s| s.variables.iter())
            .filter(|(name, _)| referenced_vars.contains(name))
            .collect();
        let (files, summary) = render::files(&Parts {
            environment: &self.environment,
            tool: &options.tool,
            required_version: self.required_version.as_deref(),
            backend: self.backend.as_ref(),
            required: &providers.required,
            used_providers: &used_providers,
            providers: &included,
            variables,
            chosen: &chosen,
            rendered: &rendered,
            metadata: &self.metadata,
        });
        Ok(Module {
            environment: self.environment.clone(),
            files,
            summary,
            protection: Protection {
                unselected: self.unselected(&selected),
                ..self.protection.clone()
            },
        })
    }

    /// Managed resources of the stacks left out of the selection.
    fn unselected(&self, selected: &BTreeSet<String>) -> BTreeMap<String, String> {
        self.stacks
            .iter()
            .filter(|s| !selected.contains(s.name()))
            .flat_map(|s| {
                s.resources
                    .iter()
                    .filter(|r| r.mode() == Mode::Managed)
                    .map(|r| (r.address().to_string(), s.name().to_owned()))
            })
            .collect()
    }

    /// Every reference of the chosen blocks resolves inside the selection;
    /// returns the variables they use.
    fn check_references(
        &self,
        index: &Index,
        selected: &BTreeSet<String>,
        chosen: &[&Stack],
        providers: &[&Provider],
        diags: &mut Vec<Diagnostic>,
    ) -> BTreeSet<String> {
        let mut refs = RefCheck {
            schemas: &self.schemas,
            index,
            selected,
            diags,
            vars: BTreeSet::new(),
            missing_stacks: BTreeSet::new(),
            reported: BTreeSet::new(),
        };
        for stack in chosen {
            for r in &stack.resources {
                let owner = r.address().to_string();
                refs.check(&owner, r.attr_exprs());
                refs.check(
                    &owner,
                    r.overrides().iter().filter_map(|o| o.value.as_ref()),
                );
                refs.check_depends_on(&owner, r.explicit_depends_on());
                refs.check(&owner, r.import_id().into_iter());
            }
            for (name, value) in &stack.locals {
                refs.check(&format!("local.{name}"), std::iter::once(value));
            }
            for (name, output) in &stack.outputs {
                refs.check(&format!("output.{name}"), std::iter::once(output.value()));
            }
        }
        for p in providers {
            refs.check(&format!("provider.{}", p.reference()), p.config_exprs());
        }
        let RefCheck {
            vars,
            missing_stacks,
            diags,
            ..
        } = refs;
        // One line saying which stacks a subset lacks reads better than a
        // dangling reference per block; both are reported.
        if !missing_stacks.is_empty() {
            let names: Vec<&str> = missing_stacks.iter().map(String::as_str).collect();
            diags.insert(
                0,
                Diagnostic::new(
                    "--stacks",
                    format!(
                        "the selected stacks depend on stack(s) {}; add them",
                        names.join(", ")
                    ),
                ),
            );
        }
        vars
    }

    /// Rendered blocks and used providers against the provider schemas.
    fn check_schemas(
        &self,
        rendered: &[Rendered<'_>],
        providers: &[&Provider],
        diags: &mut Vec<Diagnostic>,
    ) {
        for (_, r, body) in rendered {
            let kind = match r.mode() {
                Mode::Data => BlockKind::Data,
                Mode::Managed => BlockKind::Resource,
            };
            let provider = crate::block::type_provider(r.ty());
            if let Some(problems) = self.schemas.check(provider, kind, r.ty(), body) {
                diags.extend(
                    problems
                        .into_iter()
                        .map(|m| Diagnostic::new(r.address(), m)),
                );
            }
        }
        for p in providers {
            if let Some(problems) =
                self.schemas
                    .check(p.name(), BlockKind::Provider, "", &p.to_json())
            {
                let at = format!("provider.{}", p.reference());
                diags.extend(problems.into_iter().map(|m| Diagnostic::new(&at, m)));
            }
        }
    }

    fn check_policies(
        &self,
        rendered: &[Rendered<'_>],
        chosen: &[&Stack],
        diags: &mut Vec<Diagnostic>,
    ) {
        let view = ModuleView {
            environment: &self.environment,
            locals: chosen
                .iter()
                .flat_map(|s| s.locals.iter())
                .map(|(name, value)| (name.as_str(), value.to_json()))
                .collect(),
            resources: rendered
                .iter()
                .map(|(stack, r, body)| ResourceView {
                    stack: stack.name(),
                    address: r.address(),
                    mode: r.mode(),
                    ty: r.ty(),
                    body,
                    block: Some(r),
                })
                .collect(),
        };
        for policy in &self.policies {
            for v in policy.check(&view) {
                diags.push(Diagnostic::new(
                    &v.at,
                    format!("policy `{}` violated: {}", policy.name(), v.message),
                ));
            }
        }
    }
}

/// Each chosen block's JSON body, overrides applied.
fn render_blocks<'a>(chosen: &[&'a Stack], diags: &mut Vec<Diagnostic>) -> Vec<Rendered<'a>> {
    let mut rendered = Vec::new();
    for stack in chosen {
        for r in &stack.resources {
            match r.to_json() {
                Ok(body) => rendered.push((*stack, r, body)),
                Err(e) => diags.push(Diagnostic::new(r.address(), e.to_string())),
            }
        }
    }
    rendered
}
