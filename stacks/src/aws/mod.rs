//! The AWS kit the components build with: names and tags, the provider and
//! partition, IAM statements and role helpers, KMS keys, where state lives,
//! which resource types hold data, and the end-to-end emulator overlay.
//! Nothing here is a component; every component uses it.

pub mod emulator;
pub mod iam;
pub mod kms;
pub mod names;
pub mod provider;
pub mod state;
pub mod stateful;

pub use iam::{attach, inline_policy, json_encode, policy, role, service_trust, Irsa, Statement};
pub use kms::kms_key;
pub use names::{default_tags, name_tags, Names, MANAGED_BY};
pub use provider::{aws_provider, Partition, AWS_PROVIDER_VERSION};
