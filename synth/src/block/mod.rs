//! The blocks of a Terraform root module and their JSON rendering: managed
//! resources and data sources, providers, variables, outputs and the state
//! backend. Each builder keeps typed meta-arguments apart from ordinary
//! attributes so checks can reason about them.

mod backend;
mod lifecycle;
mod output;
mod provider;
mod resource;
mod variable;

pub use backend::Backend;
pub use lifecycle::Lifecycle;
pub use output::Output;
pub use provider::{Provider, ProviderRef, RequiredProvider};
pub use resource::{Handle, Resource};
pub use variable::Variable;

/// Whether a [`Resource`] is managed (`resource`) or read (`data`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Managed,
    Data,
}

/// The provider a block type belongs to by Terraform's convention: the
/// type's prefix before the first `_` (`aws_vpc` → `aws`).
pub(crate) fn type_provider(ty: &str) -> &str {
    ty.split('_').next().unwrap_or(ty)
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The `description` and `sensitive` setters that variables and outputs
/// share, for a type with fields of those names.
macro_rules! described {
    ($ty:ty) => {
        impl $ty {
            #[must_use]
            pub fn description(mut self, text: &str) -> Self {
                self.description = Some(text.to_owned());
                self
            }

            /// Terraform hides the value in plans and output.
            #[must_use]
            pub fn sensitive(mut self) -> Self {
                self.sensitive = true;
                self
            }
        }
    };
}
use described;
