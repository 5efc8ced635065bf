//! The iam component: who may do what. The cluster and node roles with the
//! AWS managed policies EKS documents, the KMS key for Kubernetes secrets, a
//! role for the humans administering the cluster, the CI deployer role
//! assumable only from one GitHub repository and branch, and (once the
//! cluster exists) the cluster's IAM OIDC provider, through which each
//! add-on's own IRSA role (built beside the add-on) is assumed.
//!
//! It is built in two calls because the IRSA half needs the cluster's OIDC
//! issuer while the cluster needs the roles of the first half; both land in
//! the same `iam.tf.json`.

use bindings::aws::data_iam_openid_connect_provider::DataIamOpenidConnectProvider;
use bindings::aws::iam_openid_connect_provider::IamOpenidConnectProvider;
use bindings::aws::iam_role::IamRoleRef;
use bindings::aws::iam_role_policy::IamRolePolicyRef;
use bindings::prelude::*;
use synth::{Address, Expr, Stack};

use crate::aws::state::deployer_statements;
use crate::aws::{
    attach, aws_provider, inline_policy, kms_key, name_tags, policy, role, service_trust, Irsa,
    Names, Partition, Statement,
};
use crate::config::{CiConfig, Environment};
use crate::eks::Eks;
use crate::network::Network;

/// The GitHub Actions OIDC issuer.
pub const GITHUB_OIDC_HOST: &str = "token.actions.githubusercontent.com";

/// What the first half of the stack hands to the eks stack.
#[derive(Debug, Clone)]
pub struct ClusterIam {
    pub cluster_role_arn: Value<ty::String>,
    pub node_role_arn: Value<ty::String>,
    pub secrets_kms_key_arn: Value<ty::String>,
    pub admin_role_arn: Value<ty::String>,
    pub ci_deployer_role_arn: Value<ty::String>,
    /// Policy attachments the cluster and node groups must wait for, so
    /// their roles have permissions before EKS uses them (and until deleted).
    /// (Managed policy attachments and an inline policy: two resource
    /// types, so their addresses.)
    pub cluster_role_policies: Vec<Address>,
    pub node_role_policies: Vec<Address>,
    pub admin_role: IamRoleRef,
    pub ci_deployer_role: IamRoleRef,
}

/// Roles and keys the cluster needs before it can be created.
pub fn cluster_iam(stack: &mut Stack, env: &Environment, network: &Network) -> ClusterIam {
    aws_provider(stack, env);
    let names = Names::new(env);
    let partition = Partition::of(&env.config.region);
    let account_root = partition.account_root(&network.account_id);

    // The cluster role gets the key's use through its own IAM policy below.
    let secrets_key = kms_key(
        stack,
        &names,
        "eks-secrets",
        &format!("Kubernetes secrets of EKS cluster {}", names.cluster()),
        account_root.clone(),
        Vec::new(),
    );

    let cluster_role = role(
        stack,
        "cluster",
        &names.name("eks-cluster"),
        service_trust(&partition, "eks"),
    );
    let mut cluster_role_policies: Vec<Address> = attach(
        stack,
        "cluster",
        &cluster_role,
        &partition,
        &["AmazonEKSClusterPolicy", "AmazonEKSVPCResourceController"],
    )
    .iter()
    .map(Address::from)
    .collect();
    let encryption = inline_policy(
        stack,
        "cluster_encryption",
        "encrypt-secrets",
        &cluster_role,
        [Statement::allow([
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:ListGrants",
            "kms:DescribeKey",
        ])
        .on([secrets_key.arn()])],
    );
    cluster_role_policies.push(Address::from(&encryption));

    let node_role = role(
        stack,
        "node",
        &names.name("eks-node"),
        service_trust(&partition, "ec2"),
    );
    let node_role_policies = attach(
        stack,
        "node",
        &node_role,
        &partition,
        &[
            "AmazonEKSWorkerNodePolicy",
            "AmazonEC2ContainerRegistryReadOnly",
            "AmazonEKS_CNI_Policy",
        ],
    )
    .iter()
    .map(Address::from)
    .collect();

    // People administer the cluster through this role, never as themselves,
    // and only with MFA.
    let admin_role = role(
        stack,
        "admin",
        &names.name("eks-admin"),
        policy([Statement::allow(["sts:AssumeRole"])
            .principal("AWS", account_root)
            .condition("Bool", "aws:MultiFactorAuthPresent", "true")]),
    );

    let github_provider_arn = github_oidc_provider(stack, env);
    let ci = &env.config.ci;
    let ci_deployer_role = role(
        stack,
        "ci_deployer",
        &names.name("ci-deployer"),
        policy([Statement::allow(["sts:AssumeRoleWithWebIdentity"])
            .principal("Federated", github_provider_arn)
            .condition(
                "StringEquals",
                &format!("{GITHUB_OIDC_HOST}:aud"),
                "sts.amazonaws.com",
            )
            .condition(
                "StringEquals",
                &format!("{GITHUB_OIDC_HOST}:sub"),
                github_subject(ci),
            )]),
    );
    stack.export(
        "ci_deployer_role_arn",
        ci_deployer_role.arn().into(),
        "Role the CI pipeline assumes through GitHub OIDC to deploy.",
    );

    ClusterIam {
        cluster_role_arn: cluster_role.arn(),
        node_role_arn: node_role.arn(),
        secrets_kms_key_arn: secrets_key.arn(),
        admin_role_arn: admin_role.arn(),
        ci_deployer_role_arn: ci_deployer_role.arn(),
        cluster_role_policies,
        node_role_policies,
        admin_role,
        ci_deployer_role,
    }
}

/// The IRSA half: the cluster's OIDC provider, plus the permissions of the
/// humans' and the CI deployer's roles that name the cluster and repository.
pub fn workload_iam(stack: &mut Stack, env: &Environment, cluster: &ClusterIam, eks: &Eks) -> Irsa {
    let names = Names::new(env);
    let partition = Partition::of(&env.config.region);

    let oidc = stack.add(
        IamOpenidConnectProvider::new("eks", ["sts.amazonaws.com"], &eks.oidc_issuer_url)
            .tags(name_tags(&names.name("eks-irsa"), [])),
    );
    stack.export(
        "oidc_provider_arn",
        oidc.arn().into(),
        "IAM OIDC provider of the cluster, for IRSA roles.",
    );
    // `replace(..)` returns a string: the escape hatch for a function's result.
    let issuer_host: Value<ty::String> = Value::assume(Expr::call(
        "replace",
        [
            Expr::from(&eks.oidc_issuer_url),
            Expr::from("https://"),
            Expr::from(""),
        ],
    ));

    // What a deploy needs: push the image, then (without GitOps) reach the
    // cluster's API; the access entry in the eks stack decides what it may
    // do there. With GitOps a deploy is a commit: pushing the image is all.
    let gitops = env.config.gitops_enabled().is_some();
    let mut deploy = vec![
        // GetAuthorizationToken has no resource-level permissions.
        Statement::allow(["ecr:GetAuthorizationToken"])
            .sid("EcrLogin")
            .on(["*"]),
        Statement::allow([
            "ecr:BatchCheckLayerAvailability",
            "ecr:BatchGetImage",
            "ecr:CompleteLayerUpload",
            "ecr:DescribeImages",
            "ecr:GetDownloadUrlForLayer",
            "ecr:InitiateLayerUpload",
            "ecr:PutImage",
            "ecr:UploadLayerPart",
        ])
        .sid("PushServiceImage")
        .on([eks.ecr_repository_arn.clone()]),
    ];
    if !gitops {
        deploy.push(
            Statement::allow(["eks:DescribeCluster"])
                .sid("ReachCluster")
                .on([eks.cluster_arn.clone()]),
        );
    }
    inline_policy(
        stack,
        "ci_deployer",
        if gitops {
            "push-image"
        } else {
            "push-image-and-deploy"
        },
        &cluster.ci_deployer_role,
        deploy,
    );
    // A deploy applies the whole root module, so terraform refreshes the AWS
    // stacks too: the deployer may read them, never change them. Infrastructure
    // changes are applied by an administrator; from CI they fail by design.
    // With GitOps, CI runs no terraform at all.
    if !gitops {
        let mut refresh = vec![terraform_refresh_statement()];
        if let Some(bucket) = &env.config.ci.state_bucket {
            refresh.extend(deployer_statements(&partition, bucket, &env.name));
        }
        inline_policy(
            stack,
            "ci_deployer_refresh",
            "refresh-and-state",
            &cluster.ci_deployer_role,
            refresh,
        );
    }
    inline_policy(
        stack,
        "admin",
        "reach-cluster",
        &cluster.admin_role,
        [
            Statement::allow(["eks:DescribeCluster", "eks:AccessKubernetesApi"])
                .on([eks.cluster_arn.clone()]),
        ],
    );

    Irsa {
        provider: oidc,
        issuer_host,
    }
}

/// Read rights a component adds to the CI deployer for the AWS resources it
/// brings. Without GitOps a deploy applies the whole root module, so
/// terraform refreshes those resources with the deployer's credentials; with
/// GitOps CI runs no terraform, and the deployer gets nothing (`None`).
pub fn deployer_refresh(
    stack: &mut Stack,
    env: &Environment,
    cluster: &ClusterIam,
    id: &str,
    name: &str,
    statements: impl IntoIterator<Item = Statement>,
) -> Option<IamRolePolicyRef> {
    env.config.gitops_enabled().is_none().then(|| {
        inline_policy(
            stack,
            &format!("ci_deployer_{id}"),
            name,
            &cluster.ci_deployer_role,
            statements,
        )
    })
}

/// The `sub` claim the deployer role accepts: the deploy job's GitHub
/// environment when there is one, else pushes to the one branch.
fn github_subject(ci: &CiConfig) -> String {
    match &ci.github_environment {
        Some(environment) => format!("repo:{}:environment:{environment}", ci.github_repository),
        None => format!("repo:{}:ref:refs/heads/{}", ci.github_repository, ci.branch),
    }
}

/// Read-only calls terraform makes to refresh the network, iam and eks stacks
/// (and the load balancer lookup of the app stack). Describe, Get and List
/// calls of these services take no resource ARNs here; none reads a secret's
/// value.
fn terraform_refresh_statement() -> Statement {
    Statement::allow([
        "acm:DescribeCertificate",
        "acm:ListTagsForCertificate",
        "ec2:Describe*",
        "ecr:DescribeRepositories",
        "ecr:GetLifecyclePolicy",
        "ecr:GetRepositoryPolicy",
        "ecr:ListTagsForResource",
        "eks:Describe*",
        "eks:List*",
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeTags",
        "iam:GetOpenIDConnectProvider",
        "iam:ListOpenIDConnectProviders",
        "iam:GetPolicy",
        "iam:GetPolicyVersion",
        "iam:GetRole",
        "iam:GetRolePolicy",
        "iam:ListAttachedRolePolicies",
        "iam:ListPolicyVersions",
        "iam:ListRolePolicies",
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
        "kms:GetKeyRotationStatus",
        "kms:ListAliases",
        "kms:ListResourceTags",
        "lambda:GetFunction",
        "lambda:GetFunctionCodeSigningConfig",
        "lambda:GetFunctionConcurrency",
        "lambda:GetPolicy",
        "lambda:ListVersionsByFunction",
        "logs:DescribeLogGroups",
        "logs:DescribeResourcePolicies",
        "logs:ListTagsForResource",
        "logs:ListTagsLogGroup",
        "route53:GetChange",
        "route53:GetHostedZone",
        "route53:ListHostedZones",
        "route53:ListHostedZonesByName",
        "route53:ListResourceRecordSets",
        "route53:ListTagsForResource",
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetResourcePolicy",
        "wafv2:GetLoggingConfiguration",
        "wafv2:GetWebACL",
        "wafv2:ListTagsForResource",
    ])
    .sid("RefreshPlatformStacks")
    .on(["*"])
}

/// The account's GitHub Actions OIDC provider: created here, or (where
/// another stack owns it, there being one per account) looked up.
fn github_oidc_provider(stack: &mut Stack, env: &Environment) -> Value<ty::String> {
    let url = format!("https://{GITHUB_OIDC_HOST}");
    if env.config.ci.create_github_oidc_provider {
        stack
            .add(
                IamOpenidConnectProvider::new("github", ["sts.amazonaws.com"], url)
                    .tags(name_tags(&Names::new(env).name("github-actions"), [])),
            )
            .arn()
    } else {
        stack
            .add(DataIamOpenidConnectProvider::new("github").url(url))
            .arn()
    }
}
