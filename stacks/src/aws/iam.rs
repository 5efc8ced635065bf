//! IAM policy documents and role helpers: statements are typed values whose
//! resources, principals and condition values are expressions, so ARNs of
//! resources being created stay references (and dependencies) rather than
//! strings glued by hand.

use std::collections::BTreeMap;

use bindings::aws::data_iam_policy_document::{
    self as document, DataIamPolicyDocument, Principals,
};
use bindings::aws::iam_openid_connect_provider::IamOpenidConnectProviderRef;
use bindings::aws::iam_role::{IamRole, IamRoleRef};
use bindings::aws::iam_role_policy::{IamRolePolicy, IamRolePolicyRef};
use bindings::aws::iam_role_policy_attachment::{
    IamRolePolicyAttachment, IamRolePolicyAttachmentRef,
};
use bindings::prelude::*;
use synth::{Expr, Stack};

use super::names::name_tags;
use super::provider::Partition;

/// One statement of an IAM policy document. Resources, principals and
/// condition values are expressions, so ARNs of resources being created stay
/// references (and dependencies) rather than strings glued by hand.
#[derive(Debug, Clone)]
pub struct Statement {
    deny: bool,
    sid: Option<String>,
    actions: Vec<String>,
    resources: Vec<Expr>,
    principal: Option<(String, Expr)>,
    conditions: BTreeMap<String, BTreeMap<String, Expr>>,
}

impl Statement {
    /// An `Allow` statement for these actions.
    pub fn allow<S: AsRef<str>>(actions: impl IntoIterator<Item = S>) -> Self {
        Self {
            deny: false,
            sid: None,
            actions: actions.into_iter().map(|a| a.as_ref().to_owned()).collect(),
            resources: Vec::new(),
            principal: None,
            conditions: BTreeMap::new(),
        }
    }

    /// A `Deny` statement for these actions (a bucket policy refusing plain
    /// HTTP, say): it wins over any `Allow`.
    pub fn deny<S: AsRef<str>>(actions: impl IntoIterator<Item = S>) -> Self {
        Self {
            deny: true,
            ..Self::allow(actions)
        }
    }

    #[must_use]
    pub fn sid(mut self, sid: &str) -> Self {
        self.sid = Some(sid.to_owned());
        self
    }

    #[must_use]
    pub fn on<E: Into<Expr>>(mut self, resources: impl IntoIterator<Item = E>) -> Self {
        self.resources.extend(resources.into_iter().map(Into::into));
        self
    }

    /// `Principal: { <kind>: <value> }` (kind `AWS`, `Service`, `Federated`).
    #[must_use]
    pub fn principal(mut self, kind: &str, value: impl Into<Expr>) -> Self {
        self.principal = Some((kind.to_owned(), value.into()));
        self
    }

    /// `Condition: { <test>: { <key>: <value> } }`.
    #[must_use]
    pub fn condition(mut self, test: &str, key: &str, value: impl Into<Expr>) -> Self {
        self.conditions
            .entry(test.to_owned())
            .or_default()
            .insert(key.to_owned(), value.into());
        self
    }

    fn to_expr(&self) -> Expr {
        let mut body: BTreeMap<String, Expr> = BTreeMap::new();
        body.insert(
            "Effect".into(),
            if self.deny { "Deny" } else { "Allow" }.into(),
        );
        body.insert(
            "Action".into(),
            Expr::list(self.actions.iter().map(String::as_str)),
        );
        if let Some(sid) = &self.sid {
            body.insert("Sid".into(), sid.as_str().into());
        }
        if !self.resources.is_empty() {
            body.insert("Resource".into(), Expr::list(self.resources.clone()));
        }
        if let Some((kind, value)) = &self.principal {
            body.insert(
                "Principal".into(),
                Expr::object([(kind.as_str(), value.clone())]),
            );
        }
        if !self.conditions.is_empty() {
            let conditions = self
                .conditions
                .iter()
                .map(|(test, entries)| (test.clone(), Expr::from(entries.clone())));
            body.insert("Condition".into(), Expr::object(conditions));
        }
        Expr::from(body)
    }
}

/// `jsonencode({Version = "2012-10-17", Statement = [...]})`: a string, so
/// it goes to a typed `policy` or `assume_role_policy` setter as it is.
pub fn policy(statements: impl IntoIterator<Item = Statement>) -> Value<ty::String> {
    jsonencode(Expr::object([
        ("Version", Expr::from("2012-10-17")),
        (
            "Statement",
            Expr::list(statements.into_iter().map(|s| s.to_expr())),
        ),
    ]))
}

/// `jsonencode(<value>)`: how every IAM policy reaches terraform.
pub use synth::jsonencode as json_encode;

/// A trust policy letting an AWS service assume a role.
pub fn service_trust(partition: &Partition, service: &str) -> Value<ty::String> {
    policy([Statement::allow(["sts:AssumeRole"]).principal("Service", partition.service(service))])
}

/// A role with a one-hour session limit, named and tagged.
pub fn role(
    stack: &mut Stack,
    id: &str,
    name: &str,
    trust: impl Into<Value<ty::String>>,
) -> IamRoleRef {
    stack.add(
        IamRole::new(id, trust)
            .name(name)
            .max_session_duration(3600)
            .tags(name_tags(name, [])),
    )
}

/// Attaches AWS managed policies to a role, one attachment each
/// (`<id>_<policy>`); returns the attachments, for `depends_on`.
pub fn attach(
    stack: &mut Stack,
    id: &str,
    role: &IamRoleRef,
    partition: &Partition,
    managed: &[&str],
) -> Vec<IamRolePolicyAttachmentRef> {
    managed
        .iter()
        .map(|policy_name| {
            stack.add(IamRolePolicyAttachment::new(
                &format!("{id}_{policy_name}"),
                partition.managed_policy(policy_name),
                role.name(),
            ))
        })
        .collect()
}

/// An inline policy of a role (`aws_iam_role_policy`).
pub fn inline_policy(
    stack: &mut Stack,
    id: &str,
    name: &str,
    role: &IamRoleRef,
    statements: impl IntoIterator<Item = Statement>,
) -> IamRolePolicyRef {
    stack.add(IamRolePolicy::new(id, policy(statements), role.id()).name(name))
}

/// The cluster's IAM OIDC provider, through which pods assume roles (IRSA).
#[derive(Debug, Clone)]
pub struct Irsa {
    pub provider: IamOpenidConnectProviderRef,
    /// The issuer URL without `https://`: the prefix of the token's claims.
    pub issuer_host: Value<ty::String>,
}

impl Irsa {
    /// A role (`aws_iam_role.<id>`) that only `namespace/service_account` of
    /// this cluster may assume.
    pub fn role(
        &self,
        stack: &mut Stack,
        id: &str,
        name: &str,
        namespace: &str,
        service_account: &str,
    ) -> IamRoleRef {
        let trust = irsa_trust(
            stack,
            id,
            &self.provider,
            &self.issuer_host,
            namespace,
            service_account,
        );
        role(stack, id, name, trust)
    }
}

/// The trust policy of an IRSA role: only this service account of this
/// cluster, with tokens meant for STS. Built as an `aws_iam_policy_document`
/// because the condition keys start with the issuer host, known only after
/// apply, and `jsonencode` cannot take a computed object key.
fn irsa_trust(
    stack: &mut Stack,
    id: &str,
    oidc: &IamOpenidConnectProviderRef,
    issuer_host: &Value<ty::String>,
    namespace: &str,
    service_account: &str,
) -> Value<ty::String> {
    let condition = |key: &str, value: String| {
        document::Condition::new(
            "StringEquals",
            [value],
            Value::template([Expr::from(issuer_host), Expr::from(format!(":{key}"))]),
        )
    };
    let statement = document::Statement::new()
        .effect("Allow")
        .actions(["sts:AssumeRoleWithWebIdentity"])
        .principals(vec![Principals::new([oidc.arn()], "Federated")])
        .condition(vec![
            condition("aud", "sts.amazonaws.com".to_owned()),
            condition(
                "sub",
                format!("system:serviceaccount:{namespace}:{service_account}"),
            ),
        ]);
    stack
        .add(DataIamPolicyDocument::new(&format!("{id}_trust")).statement(vec![statement]))
        .json()
}
