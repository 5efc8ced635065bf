//! Customer-managed KMS keys.

use bindings::aws::kms_alias::KmsAlias;
use bindings::aws::kms_key::{KmsKey, KmsKeyRef};
use synth::{Expr, Stack};

use super::iam::{policy, Statement};
use super::names::{name_tags, Names};

/// A customer-managed KMS key with rotation on and an alias
/// (`alias/<prefix>-<purpose>`). Its policy keeps administration with the
/// account (so IAM policies decide who uses it) plus the given statements.
pub fn kms_key(
    stack: &mut Stack,
    names: &Names,
    purpose: &str,
    description: &str,
    account_root: Expr,
    statements: Vec<Statement>,
) -> KmsKeyRef {
    let id = purpose.replace('-', "_");
    let account = Statement::allow(["kms:*"])
        .sid("AccountAdministers")
        .principal("AWS", account_root)
        .on(["*"]);
    let key = stack.add(
        KmsKey::new(&id)
            .description(description)
            .enable_key_rotation(true)
            .deletion_window_in_days(30)
            .policy(policy(std::iter::once(account).chain(statements)))
            .tags(name_tags(&names.name(purpose), [])),
    );
    stack.add(KmsAlias::new(&id, key.key_id()).name(format!("alias/{}", names.name(purpose))));
    key
}
