//! Policies: checks over the rendered module, as Pulumi's policy packs and
//! CDKTF's aspects do. The library knows no policy; programs bring their own.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::block::Mode;
use crate::error::Diagnostic;
use crate::expr::Address;

/// One rendered resource or data source, as a policy sees it.
#[derive(Debug)]
pub struct ResourceView<'a> {
    pub stack: &'a str,
    pub address: Address,
    pub mode: Mode,
    pub ty: &'a str,
    /// The JSON body terraform will read, overrides applied.
    pub body: &'a Value,
    /// The block as built, for what the rendered JSON hides: a document
    /// inside `yamlencode(...)` is HCL text there, an expression here
    /// (see [`crate::Expr::evaluate`]). `None` in views made by hand.
    pub block: Option<&'a crate::block::Resource>,
}

/// Everything being synthesized.
#[derive(Debug)]
pub struct ModuleView<'a> {
    pub environment: &'a str,
    pub resources: Vec<ResourceView<'a>>,
    /// The locals of the chosen stacks as terraform reads them: structured
    /// documents (a release's values, custom resources) live there.
    pub locals: BTreeMap<&'a str, Value>,
}

impl ModuleView<'_> {
    pub fn managed(&self) -> impl Iterator<Item = &ResourceView<'_>> {
        self.resources.iter().filter(|r| r.mode == Mode::Managed)
    }

    pub fn of_type<'s>(&'s self, ty: &'s str) -> impl Iterator<Item = &'s ResourceView<'s>> + 's {
        self.managed().filter(move |r| r.ty == ty)
    }
}

/// A named rule over the module. Synthesis fails on any violation, each a
/// [`Diagnostic`] at the address of the block at fault.
pub trait Policy: std::fmt::Debug + Send + Sync {
    fn name(&self) -> &str;
    /// What the rule requires, in a sentence, for reports.
    fn description(&self) -> String {
        String::new()
    }
    fn check(&self, module: &ModuleView<'_>) -> Vec<Diagnostic>;
}
