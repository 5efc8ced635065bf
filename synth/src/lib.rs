//! A construct library that synthesizes typed Terraform blocks into
//! deterministic Terraform JSON, in the spirit of the CDK for Terraform.
//!
//! An [`App`] holds [`Stack`]s; a stack holds resources, data sources,
//! variables, locals and outputs built from [`Expr`] values. [`App::synth`]
//! checks the whole module (duplicate addresses, dangling references,
//! cycles, undeclared providers, provider schemas, policies) and renders it;
//! [`output::write_module`] puts it on disk without disturbing terraform.
//! Nothing here knows about any particular provider.

mod app;
mod asset;
mod block;
mod construct;
pub mod diff;
mod error;
mod expr;
mod json;
pub mod output;
mod policy;
pub mod schema;
mod stack;
mod typed;

pub use app::{
    App, Module, StackSummary, SynthOptions, MANIFEST_FILE, PROVIDERS_FILE, TERRAFORM_FILE,
    VARIABLES_FILE,
};
pub use block::{
    Backend, Handle, Lifecycle, Mode, Output, Provider, ProviderRef, RequiredProvider, Resource,
    Variable,
};
pub use construct::{
    block_map, BlockBody, BlockRef, Blocks, Body, ProviderConfig, ResourceBuilder,
};
pub use error::{Diagnostic, SynthError};
pub use expr::{escape_template, Address, Expr, Step};
pub use json::to_canonical_string;
pub use policy::{ModuleView, Policy, ResourceView, Violation};
pub use schema::{BlockKind, Schemas};
pub use stack::{AssetInfo, Stack};
pub use typed::{jsonencode, read_attr, ty, yamlencode, ObjectRef, TfType, Value, VariableType};
