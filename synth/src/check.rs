//! The checks [`crate::App::synth`] runs over the construct tree before
//! anything is rendered: the stack selection, duplicate addresses, provider
//! declarations, references and dependency cycles. Each appends
//! [`Diagnostic`]s, so every problem is reported at once.

use std::collections::{BTreeMap, BTreeSet};

use crate::app::{PROVIDERS_FILE, REFACTOR_FILE, TERRAFORM_FILE, VARIABLES_FILE};
use crate::block::{type_provider, Provider, ProviderRef, RequiredProvider};
use crate::error::{Diagnostic, SynthError};
use crate::expr::{Address, Expr};
use crate::schema::{did_you_mean, BlockKind, Schemas};
use crate::stack::Stack;

/// The names of the stacks to synthesize: all of them, or the wanted subset
/// once every name in it is known.
pub(crate) fn select(
    stacks: &[Stack],
    wanted: Option<&[String]>,
) -> Result<BTreeSet<String>, SynthError> {
    let known: Vec<String> = stacks.iter().map(|s| s.name().to_owned()).collect();
    let Some(wanted) = wanted else {
        return Ok(known.into_iter().collect());
    };
    let unknown = if wanted.is_empty() {
        Some(String::new())
    } else {
        wanted.iter().find(|name| !known.contains(name)).cloned()
    };
    if let Some(name) = unknown {
        return Err(SynthError::UnknownStack {
            name,
            known: known.join(", "),
        });
    }
    Ok(wanted.iter().cloned().collect())
}

/// A stack's file must not be one of the module's own files.
pub(crate) fn stack_names(stacks: &[Stack], diags: &mut Vec<Diagnostic>) {
    let own = [
        TERRAFORM_FILE,
        PROVIDERS_FILE,
        VARIABLES_FILE,
        REFACTOR_FILE,
    ];
    for stack in stacks {
        let file = format!("{}.tf.json", stack.name());
        if own.contains(&file.as_str()) {
            diags.push(Diagnostic::new(
                format!("stack `{}`", stack.name()),
                format!("its file would be {file}, which is the module's own; name it otherwise"),
            ));
        }
    }
}

/// Provider declarations merged from all stacks; the same provider declared
/// twice must be declared identically.
pub(crate) struct Providers<'a> {
    pub(crate) configs: BTreeMap<ProviderRef, &'a Provider>,
    pub(crate) required: BTreeMap<String, RequiredProvider>,
}

pub(crate) fn merge_providers<'a>(
    stacks: &'a [Stack],
    diags: &mut Vec<Diagnostic>,
) -> Providers<'a> {
    let mut configs: BTreeMap<ProviderRef, &Provider> = BTreeMap::new();
    let mut required: BTreeMap<String, RequiredProvider> = BTreeMap::new();
    for stack in stacks {
        for p in &stack.providers {
            match configs.get(&p.reference()) {
                Some(existing) if *existing != p => diags.push(Diagnostic::new(
                    format!("provider.{}", p.reference()),
                    format!(
                        "declared again by stack `{}` with a different configuration",
                        stack.name()
                    ),
                )),
                _ => {
                    configs.insert(p.reference(), p);
                }
            }
        }
        for (name, req) in &stack.required_providers {
            match required.get(name) {
                Some(existing) if existing != req => diags.push(Diagnostic::new(
                    format!("terraform.required_providers.{name}"),
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
    Providers { configs, required }
}

impl<'a> Providers<'a> {
    /// The provider names the chosen blocks use (which decides what the
    /// module declares); a block using an undeclared provider or
    /// configuration is reported.
    pub(crate) fn used_by(
        &self,
        chosen: &[&Stack],
        diags: &mut Vec<Diagnostic>,
    ) -> BTreeSet<String> {
        let mut used = BTreeSet::new();
        for r in chosen.iter().flat_map(|s| s.resources.iter()) {
            let p = r.provider_ref();
            if !self.required.contains_key(&p.name) {
                diags.push(Diagnostic::new(
                    r.address(),
                    format!(
                        "uses provider `{}`, which no stack declares in required_providers",
                        p.name
                    ),
                ));
            } else if p.alias.is_some() && !self.configs.contains_key(&p) {
                diags.push(Diagnostic::new(
                    r.address(),
                    format!("uses provider configuration `{p}`, which is not declared"),
                ));
            }
            used.insert(p.name);
        }
        used
    }

    /// The configurations of the used providers, in declaration order.
    pub(crate) fn included(&self, used: &BTreeSet<String>) -> Vec<&'a Provider> {
        self.configs
            .iter()
            .filter(|(p, _)| used.contains(&p.name))
            .map(|(_, p)| *p)
            .collect()
    }
}

/// Every declared address, with the stack that declares it; duplicates are
/// reported.
pub(crate) struct Index {
    owner: BTreeMap<Address, String>,
}

impl Index {
    pub(crate) fn build(stacks: &[Stack], diags: &mut Vec<Diagnostic>) -> Self {
        let mut owner: BTreeMap<Address, String> = BTreeMap::new();
        let mut outputs: BTreeMap<&str, &str> = BTreeMap::new();
        let duplicate = |at: String, first: &str, stack: &str| {
            Diagnostic::new(
                at,
                format!(
                    "duplicate address: declared in stack `{first}` and again in stack `{stack}`"
                ),
            )
        };
        for stack in stacks {
            let declared = stack
                .resources
                .iter()
                .map(|r| r.address())
                .chain(stack.variables.iter().map(|(n, _)| Address::Var(n.clone())))
                .chain(stack.locals.iter().map(|(n, _)| Address::Local(n.clone())));
            for address in declared {
                match owner.get(&address) {
                    Some(first) => diags.push(duplicate(address.to_string(), first, stack.name())),
                    None => {
                        owner.insert(address, stack.name().to_owned());
                    }
                }
            }
            for (name, _) in &stack.outputs {
                if let Some(first) = outputs.insert(name, stack.name()) {
                    diags.push(duplicate(format!("output.{name}"), first, stack.name()));
                }
            }
        }
        Self { owner }
    }

    /// The stack that declares `address`, if any does.
    pub(crate) fn owner_of(&self, address: &Address) -> Option<&str> {
        self.owner.get(address).map(String::as_str)
    }
}

/// Checks the references of the selected blocks, collecting the variables
/// they use and the unselected stacks they reach into.
pub(crate) struct RefCheck<'a> {
    pub(crate) schemas: &'a Schemas,
    pub(crate) index: &'a Index,
    pub(crate) selected: &'a BTreeSet<String>,
    pub(crate) diags: &'a mut Vec<Diagnostic>,
    pub(crate) vars: BTreeSet<String>,
    pub(crate) missing_stacks: BTreeSet<String>,
    /// (owner, message) pairs already reported: a block that names the same
    /// missing thing twice is told once.
    pub(crate) reported: BTreeSet<(String, String)>,
}

impl<'a> RefCheck<'a> {
    fn report(&mut self, owner: &str, message: String) {
        if self.reported.insert((owner.to_owned(), message.clone())) {
            self.diags.push(Diagnostic::new(owner, message));
        }
    }

    /// References inside these expressions, reported against `owner`.
    pub(crate) fn check(&mut self, owner: &str, exprs: impl Iterator<Item = &'a Expr>) {
        for expr in exprs {
            let mut refs = Vec::new();
            expr.references_with_attr(&mut refs);
            for (address, attr) in refs {
                if let Address::Var(name) = address {
                    self.vars.insert(name.clone());
                }
                if let Some(message) = self.problem(address, attr) {
                    self.report(owner, message);
                }
            }
        }
    }

    /// `depends_on` targets; one also referenced in an attribute is reported once.
    pub(crate) fn check_depends_on(&mut self, owner: &str, targets: &[Address]) {
        for target in targets {
            if let Some(message) = self.problem(target, None) {
                self.report(owner, message);
            }
        }
    }

    /// What is wrong with a reference, if anything. A block of a stack left
    /// out of the selection is recorded in `missing_stacks`.
    fn problem(&mut self, address: &Address, attr: Option<&str>) -> Option<String> {
        let Some(stack) = self.index.owner.get(address) else {
            let candidates: Vec<String> =
                self.index.owner.keys().map(ToString::to_string).collect();
            return Some(format!(
                "references `{address}`, which does not exist{}",
                did_you_mean(&address.to_string(), candidates.iter().map(String::as_str))
            ));
        };
        // Variables are module-wide: they travel with any stack that uses them.
        if !matches!(address, Address::Var(_)) && !self.selected.contains(stack) {
            self.missing_stacks.insert(stack.clone());
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
}

/// Reports the first dependency cycle among the chosen blocks and locals.
pub(crate) fn cycles(chosen: &[&Stack], diags: &mut Vec<Diagnostic>) {
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
                    diags.push(Diagnostic::new(
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
