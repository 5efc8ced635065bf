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

use synth::Expr;

/// An EC2 instance's `metadata_options`: IMDSv2 only, and one hop, so pods
/// cannot reach the instance's credentials (they get their own through
/// IRSA); no instance tags in the metadata.
pub fn imdsv2_only() -> Expr {
    Expr::object([
        ("http_endpoint", Expr::from("enabled")),
        ("http_tokens", Expr::from("required")),
        ("http_put_response_hop_limit", Expr::from(1)),
        ("instance_metadata_tags", Expr::from("disabled")),
    ])
}
