//! A construct library that synthesizes typed Terraform blocks into
//! deterministic Terraform JSON, in the spirit of the CDK for Terraform.
//!
//! An [`App`] holds [`Stack`]s; a stack holds resources, data sources,
//! variables, locals and outputs built from [`Expr`] values. [`App::synth`]
//! checks the whole module (duplicate addresses, dangling references,
//! cycles, undeclared providers, provider schemas, policies) and renders it;
//! [`output::write_module`] puts it on disk without disturbing terraform,
//! and refuses to take a stateful resource out of the state there
//! ([`refactor`]: `moved` and `import` blocks, renames, the destroy guard).
//! Nothing here knows about any particular provider.

mod app;
mod asset;
mod block;
mod check;
mod construct;
pub mod diff;
mod error;
mod eval;
mod expr;
mod json;
pub mod manifest;
pub mod output;
mod policy;
pub mod refactor;
mod render;
pub mod schema;
mod ser;
mod stack;
mod typed;

pub use app::{
    App, Module, StackSummary, SynthOptions, MANIFEST_FILE, PROVIDERS_FILE, REFACTOR_FILE,
    TERRAFORM_FILE, VARIABLES_FILE,
};
pub use block::{
    Backend, Handle, Lifecycle, Mode, Output, Provider, ProviderRef, RequiredProvider, Resource,
    Variable,
};
pub use construct::{
    block_map, BlockBody, BlockRef, Blocks, Body, ProviderConfig, ResourceBuilder,
};
pub use error::{list as list_diagnostics, Diagnostic, OverrideError, SynthError};
pub use expr::{escape_template, Address, Expr, Step};
pub use json::to_canonical_string;
pub use manifest::Manifest;
pub use policy::{ModuleView, Policy, ResourceView};
pub use schema::{did_you_mean, BlockKind, Schemas};
pub use ser::to_expr;
pub use stack::{AssetInfo, Stack};
pub use typed::{jsonencode, read_attr, ty, yamlencode, ObjectRef, TfType, Value, VariableType};
