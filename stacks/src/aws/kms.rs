//! Customer-managed KMS keys.

use synth::{Expr, Handle, Stack};

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
) -> Handle {
    let id = purpose.replace('-', "_");
    let account = Statement::allow(["kms:*"])
        .sid("AccountAdministers")
        .principal("AWS", account_root)
        .on(["*"]);
    let key = stack
        .resource("aws_kms_key", &id)
        .set("description", description)
        .set("enable_key_rotation", true)
        .set("deletion_window_in_days", 30)
        .set("policy", policy(std::iter::once(account).chain(statements)))
        .set("tags", name_tags(&names.name(purpose), []))
        .handle();
    stack
        .resource("aws_kms_alias", &id)
        .set("name", format!("alias/{}", names.name(purpose)))
        .set("target_key_id", key.attr("key_id"));
    key
}
