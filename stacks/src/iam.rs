//! The iam stack: who may do what. The cluster and node roles with the AWS
//! managed policies EKS documents, the KMS key for Kubernetes secrets, a role
//! for the humans administering the cluster, the CI deployer role assumable
//! only from one GitHub repository and branch, and (once the cluster exists)
//! the IAM OIDC provider for IRSA with the load balancer controller's and the
//! service's own roles.
//!
//! It is built in two calls because the IRSA half needs the cluster's OIDC
//! issuer while the cluster needs the roles of the first half; both land in
//! the same `iam.tf.json`.

use synth::{Expr, Handle, Output, Stack};

use crate::app::LB_CONTROLLER_SERVICE_ACCOUNT;
use crate::config::{CiConfig, Environment};
use crate::naming::{
    aws_provider, kms_key, name_tags, policy, service_trust, Names, Partition, Statement,
};
use crate::{Eks, Iam, Network};

/// The GitHub Actions OIDC issuer.
pub const GITHUB_OIDC_HOST: &str = "token.actions.githubusercontent.com";

/// Where the load balancer controller runs (the app stack installs it there).
pub const LB_CONTROLLER_NAMESPACE: &str = "kube-system";

/// What the first half of the stack hands to the eks stack.
#[derive(Debug, Clone)]
pub struct ClusterIam {
    pub cluster_role_arn: Expr,
    pub node_role_arn: Expr,
    pub secrets_kms_key_arn: Expr,
    pub admin_role_arn: Expr,
    pub ci_deployer_role_arn: Expr,
    /// Policy attachments the cluster and node groups must wait for, so
    /// their roles have permissions before EKS uses them (and until deleted).
    pub cluster_role_policies: Vec<Handle>,
    pub node_role_policies: Vec<Handle>,
    admin_role: Handle,
    ci_deployer_role: Handle,
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
    let mut cluster_role_policies = attach(
        stack,
        "cluster",
        &cluster_role,
        &partition,
        &["AmazonEKSClusterPolicy", "AmazonEKSVPCResourceController"],
    );
    let encryption = stack
        .resource("aws_iam_role_policy", "cluster_encryption")
        .set("name", "encrypt-secrets")
        .set("role", cluster_role.attr("id"))
        .set(
            "policy",
            policy([Statement::allow([
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ListGrants",
                "kms:DescribeKey",
            ])
            .on([secrets_key.attr("arn")])]),
        )
        .handle();
    cluster_role_policies.push(encryption);

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
    );

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
    stack.output(
        "ci_deployer_role_arn",
        Output::new(ci_deployer_role.attr("arn"))
            .description("Role the CI pipeline assumes through GitHub OIDC to deploy."),
    );

    ClusterIam {
        cluster_role_arn: cluster_role.attr("arn"),
        node_role_arn: node_role.attr("arn"),
        secrets_kms_key_arn: secrets_key.attr("arn"),
        admin_role_arn: admin_role.attr("arn"),
        ci_deployer_role_arn: ci_deployer_role.attr("arn"),
        cluster_role_policies,
        node_role_policies,
        admin_role,
        ci_deployer_role,
    }
}

/// The IRSA half: the cluster's OIDC provider and the roles pods assume
/// through it, plus the permissions that name the cluster and repository.
pub fn workload_iam(
    stack: &mut Stack,
    env: &Environment,
    network: &Network,
    cluster: ClusterIam,
    eks: &Eks,
) -> Iam {
    let names = Names::new(env);
    let partition = Partition::of(&env.config.region);

    let oidc = stack
        .resource("aws_iam_openid_connect_provider", "eks")
        .set("url", eks.oidc_issuer_url.clone())
        .set("client_id_list", Expr::list(["sts.amazonaws.com"]))
        .set("tags", name_tags(&names.name("eks-irsa"), []))
        .handle();
    stack.output(
        "oidc_provider_arn",
        Output::new(oidc.attr("arn"))
            .description("IAM OIDC provider of the cluster, for IRSA roles."),
    );
    let issuer_host = Expr::call(
        "replace",
        [
            eks.oidc_issuer_url.clone(),
            Expr::from("https://"),
            Expr::from(""),
        ],
    );

    let lb_trust = irsa_trust(
        stack,
        "lb_controller",
        &oidc,
        &issuer_host,
        LB_CONTROLLER_NAMESPACE,
        LB_CONTROLLER_SERVICE_ACCOUNT,
    );
    let lb_role = role(
        stack,
        "lb_controller",
        &names.name("load-balancer-controller"),
        lb_trust,
    );
    let lb_policy = stack
        .resource("aws_iam_policy", "lb_controller")
        .set("name", names.name("load-balancer-controller"))
        .set(
            "description",
            "Permissions the AWS Load Balancer Controller documents (docs/install/iam_policy.json, v2.13)",
        )
        .set("policy", policy(load_balancer_controller_statements(&partition)))
        .set("tags", name_tags(&names.name("load-balancer-controller"), []))
        .handle();
    stack
        .resource("aws_iam_role_policy_attachment", "lb_controller")
        .set("role", lb_role.attr("name"))
        .set("policy_arn", lb_policy.attr("arn"));

    let service = &env.config.service;
    let service_account_trust = irsa_trust(
        stack,
        "service",
        &oidc,
        &issuer_host,
        &service.namespace,
        &service.service_account,
    );
    let service_role = role(
        stack,
        "service",
        &names.name("service"),
        service_account_trust,
    );
    // The service reads its own parameters and nothing else.
    let parameters = partition.arn(
        "ssm",
        &env.config.region,
        &network.account_id,
        &format!("parameter/{}/{}/*", env.config.project, env.name),
    );
    stack
        .resource("aws_iam_role_policy", "service")
        .set("name", "read-own-parameters")
        .set("role", service_role.attr("id"))
        .set(
            "policy",
            policy([Statement::allow([
                "ssm:GetParameter",
                "ssm:GetParameters",
                "ssm:GetParametersByPath",
            ])
            .on([parameters])]),
        );

    // What a deploy needs: push the image, then reach the cluster's API
    // (the access entry in the eks stack decides what it may do there).
    stack
        .resource("aws_iam_role_policy", "ci_deployer")
        .set("name", "push-image-and-deploy")
        .set("role", cluster.ci_deployer_role.attr("id"))
        .set(
            "policy",
            policy([
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
                Statement::allow(["eks:DescribeCluster"])
                    .sid("ReachCluster")
                    .on([eks.cluster_arn.clone()]),
            ]),
        );
    // A deploy applies the whole root module, so terraform refreshes the AWS
    // stacks too: the deployer may read them, never change them. Infrastructure
    // changes are applied by an administrator; from CI they fail by design.
    let mut refresh = vec![terraform_refresh_statement()];
    if let Some(bucket) = &env.config.ci.state_bucket {
        refresh.extend(state_statements(&partition, bucket, &env.name));
    }
    stack
        .resource("aws_iam_role_policy", "ci_deployer_refresh")
        .set("name", "refresh-and-state")
        .set("role", cluster.ci_deployer_role.attr("id"))
        .set("policy", policy(refresh));
    stack
        .resource("aws_iam_role_policy", "admin")
        .set("name", "reach-cluster")
        .set("role", cluster.admin_role.attr("id"))
        .set(
            "policy",
            policy([
                Statement::allow(["eks:DescribeCluster", "eks:AccessKubernetesApi"])
                    .on([eks.cluster_arn.clone()]),
            ]),
        );

    Iam {
        cluster_role_arn: cluster.cluster_role_arn,
        node_role_arn: cluster.node_role_arn,
        secrets_kms_key_arn: cluster.secrets_kms_key_arn,
        admin_role_arn: cluster.admin_role_arn,
        ci_deployer_role_arn: cluster.ci_deployer_role_arn,
        oidc_provider_arn: oidc.attr("arn"),
        lb_controller_role_arn: lb_role.attr("arn"),
        service_role_arn: service_role.attr("arn"),
    }
}

/// The `sub` claim the deployer role accepts: the deploy job's GitHub
/// environment when there is one, else pushes to the one branch.
fn github_subject(ci: &CiConfig) -> String {
    match &ci.github_environment {
        Some(environment) => format!("repo:{}:environment:{environment}", ci.github_repository),
        None => format!("repo:{}:ref:refs/heads/{}", ci.github_repository, ci.branch),
    }
}

/// Read-only calls terraform makes to refresh the network, iam and eks stacks.
/// Describe and List calls of EC2, EKS, Logs and ECR take no resource ARNs.
fn terraform_refresh_statement() -> Statement {
    Statement::allow([
        "ec2:Describe*",
        "ecr:DescribeRepositories",
        "ecr:GetLifecyclePolicy",
        "ecr:GetRepositoryPolicy",
        "ecr:ListTagsForResource",
        "eks:Describe*",
        "eks:List*",
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
        "logs:DescribeLogGroups",
        "logs:ListTagsForResource",
        "logs:ListTagsLogGroup",
    ])
    .sid("RefreshPlatformStacks")
    .on(["*"])
}

/// This environment's state object and its lock file (`use_lockfile`), nothing
/// else in the bucket.
fn state_statements(partition: &Partition, bucket: &str, env: &str) -> Vec<Statement> {
    let bucket_arn = format!("arn:{}:s3:::{bucket}", partition.name);
    let state = format!("{bucket_arn}/{env}/terraform.tfstate");
    vec![
        Statement::allow(["s3:ListBucket"])
            .sid("ListOwnState")
            .on([bucket_arn.clone()])
            .condition("StringLike", "s3:prefix", format!("{env}/*")),
        Statement::allow(["s3:GetObject", "s3:PutObject"])
            .sid("ReadWriteState")
            .on([state.clone()]),
        Statement::allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
            .sid("StateLock")
            .on([format!("{state}.tflock")]),
    ]
}

fn role(stack: &mut Stack, id: &str, name: &str, trust: Expr) -> Handle {
    stack
        .resource("aws_iam_role", id)
        .set("name", name)
        .set("assume_role_policy", trust)
        .set("max_session_duration", 3600)
        .set("tags", name_tags(name, []))
        .handle()
}

fn attach(
    stack: &mut Stack,
    id: &str,
    role: &Handle,
    partition: &Partition,
    managed: &[&str],
) -> Vec<Handle> {
    managed
        .iter()
        .map(|policy_name| {
            stack
                .resource(
                    "aws_iam_role_policy_attachment",
                    &format!("{id}_{policy_name}"),
                )
                .set("role", role.attr("name"))
                .set("policy_arn", partition.managed_policy(policy_name))
                .handle()
        })
        .collect()
}

/// The trust policy of an IRSA role: only this service account of this
/// cluster, with tokens meant for STS. Built as an `aws_iam_policy_document`
/// because the condition keys start with the issuer host, known only after
/// apply, and `jsonencode` cannot take a computed object key.
fn irsa_trust(
    stack: &mut Stack,
    id: &str,
    oidc: &Handle,
    issuer_host: &Expr,
    namespace: &str,
    service_account: &str,
) -> Expr {
    let condition = |test: &str, key: &str, value: String| {
        Expr::object([
            ("test", Expr::from(test)),
            (
                "variable",
                Expr::template([issuer_host.clone(), Expr::from(format!(":{key}"))]),
            ),
            ("values", Expr::list([value])),
        ])
    };
    stack
        .data("aws_iam_policy_document", &format!("{id}_trust"))
        .set(
            "statement",
            Expr::list([Expr::object([
                ("effect", Expr::from("Allow")),
                ("actions", Expr::list(["sts:AssumeRoleWithWebIdentity"])),
                (
                    "principals",
                    Expr::list([Expr::object([
                        ("type", Expr::from("Federated")),
                        ("identifiers", Expr::list([oidc.attr("arn")])),
                    ])]),
                ),
                (
                    "condition",
                    Expr::list([
                        condition("StringEquals", "aud", "sts.amazonaws.com".to_owned()),
                        condition(
                            "StringEquals",
                            "sub",
                            format!("system:serviceaccount:{namespace}:{service_account}"),
                        ),
                    ]),
                ),
            ])]),
        )
        .handle()
        .attr("json")
}

/// The account's GitHub Actions OIDC provider: created here, or (where
/// another stack owns it, there being one per account) looked up.
fn github_oidc_provider(stack: &mut Stack, env: &Environment) -> Expr {
    let url = format!("https://{GITHUB_OIDC_HOST}");
    if env.config.ci.create_github_oidc_provider {
        stack
            .resource("aws_iam_openid_connect_provider", "github")
            .set("url", url)
            .set("client_id_list", Expr::list(["sts.amazonaws.com"]))
            .set(
                "tags",
                name_tags(&Names::new(env).name("github-actions"), []),
            )
            .handle()
            .attr("arn")
    } else {
        stack
            .data("aws_iam_openid_connect_provider", "github")
            .set("url", url)
            .handle()
            .attr("arn")
    }
}

/// The AWS Load Balancer Controller's IAM policy, statement for statement as
/// its documentation lists it (docs/install/iam_policy.json of v2.13, the
/// version the app stack installs). Wildcard resources are the upstream
/// policy's; its tag conditions confine writes to resources the controller
/// created (tagged `elbv2.k8s.aws/cluster`).
fn load_balancer_controller_statements(partition: &Partition) -> Vec<Statement> {
    let elb =
        |resource: &str| format!("arn:{}:elasticloadbalancing:*:*:{resource}", partition.name);
    let security_groups = format!("arn:{}:ec2:*:*:security-group/*", partition.name);
    let cluster_tag = "elbv2.k8s.aws/cluster";
    let request_tag = format!("aws:RequestTag/{cluster_tag}");
    let resource_tag = format!("aws:ResourceTag/{cluster_tag}");
    let balancers_and_groups = [
        elb("targetgroup/*/*"),
        elb("loadbalancer/net/*/*"),
        elb("loadbalancer/app/*/*"),
    ];
    vec![
        Statement::allow(["iam:CreateServiceLinkedRole"])
            .on(["*"])
            .condition(
                "StringEquals",
                "iam:AWSServiceName",
                partition.service("elasticloadbalancing"),
            ),
        Statement::allow([
            "ec2:DescribeAccountAttributes",
            "ec2:DescribeAddresses",
            "ec2:DescribeAvailabilityZones",
            "ec2:DescribeInternetGateways",
            "ec2:DescribeVpcs",
            "ec2:DescribeVpcPeeringConnections",
            "ec2:DescribeSubnets",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeInstances",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeTags",
            "ec2:GetCoipPoolUsage",
            "ec2:DescribeCoipPools",
            "ec2:GetSecurityGroupsForVpc",
            "ec2:DescribeIpamPools",
            "ec2:DescribeRouteTables",
            "elasticloadbalancing:DescribeLoadBalancers",
            "elasticloadbalancing:DescribeLoadBalancerAttributes",
            "elasticloadbalancing:DescribeListeners",
            "elasticloadbalancing:DescribeListenerCertificates",
            "elasticloadbalancing:DescribeSSLPolicies",
            "elasticloadbalancing:DescribeRules",
            "elasticloadbalancing:DescribeTargetGroups",
            "elasticloadbalancing:DescribeTargetGroupAttributes",
            "elasticloadbalancing:DescribeTargetHealth",
            "elasticloadbalancing:DescribeTags",
            "elasticloadbalancing:DescribeTrustStores",
            "elasticloadbalancing:DescribeListenerAttributes",
            "elasticloadbalancing:DescribeCapacityReservation",
        ])
        .on(["*"]),
        Statement::allow([
            "cognito-idp:DescribeUserPoolClient",
            "acm:ListCertificates",
            "acm:DescribeCertificate",
            "iam:ListServerCertificates",
            "iam:GetServerCertificate",
            "waf-regional:GetWebACL",
            "waf-regional:GetWebACLForResource",
            "waf-regional:AssociateWebACL",
            "waf-regional:DisassociateWebACL",
            "wafv2:GetWebACL",
            "wafv2:GetWebACLForResource",
            "wafv2:AssociateWebACL",
            "wafv2:DisassociateWebACL",
            "shield:GetSubscriptionState",
            "shield:DescribeProtection",
            "shield:CreateProtection",
            "shield:DeleteProtection",
        ])
        .on(["*"]),
        Statement::allow([
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupIngress",
        ])
        .on(["*"]),
        Statement::allow(["ec2:CreateSecurityGroup"]).on(["*"]),
        Statement::allow(["ec2:CreateTags"])
            .on([security_groups.clone()])
            .condition("StringEquals", "ec2:CreateAction", "CreateSecurityGroup")
            .condition("Null", &request_tag, "false"),
        Statement::allow(["ec2:CreateTags", "ec2:DeleteTags"])
            .on([security_groups])
            .condition("Null", &request_tag, "true")
            .condition("Null", &resource_tag, "false"),
        Statement::allow([
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupIngress",
            "ec2:DeleteSecurityGroup",
        ])
        .on(["*"])
        .condition("Null", &resource_tag, "false"),
        Statement::allow([
            "elasticloadbalancing:CreateLoadBalancer",
            "elasticloadbalancing:CreateTargetGroup",
        ])
        .on(["*"])
        .condition("Null", &request_tag, "false"),
        Statement::allow([
            "elasticloadbalancing:CreateListener",
            "elasticloadbalancing:DeleteListener",
            "elasticloadbalancing:CreateRule",
            "elasticloadbalancing:DeleteRule",
        ])
        .on(["*"]),
        Statement::allow([
            "elasticloadbalancing:AddTags",
            "elasticloadbalancing:RemoveTags",
        ])
        .on(balancers_and_groups.clone())
        .condition("Null", &request_tag, "true")
        .condition("Null", &resource_tag, "false"),
        Statement::allow([
            "elasticloadbalancing:AddTags",
            "elasticloadbalancing:RemoveTags",
        ])
        .on([
            elb("listener/net/*/*/*"),
            elb("listener/app/*/*/*"),
            elb("listener-rule/net/*/*/*"),
            elb("listener-rule/app/*/*/*"),
        ]),
        Statement::allow([
            "elasticloadbalancing:ModifyLoadBalancerAttributes",
            "elasticloadbalancing:SetIpAddressType",
            "elasticloadbalancing:SetSecurityGroups",
            "elasticloadbalancing:SetSubnets",
            "elasticloadbalancing:DeleteLoadBalancer",
            "elasticloadbalancing:ModifyTargetGroup",
            "elasticloadbalancing:ModifyTargetGroupAttributes",
            "elasticloadbalancing:DeleteTargetGroup",
            "elasticloadbalancing:ModifyListenerAttributes",
            "elasticloadbalancing:ModifyCapacityReservation",
            "elasticloadbalancing:ModifyIpPools",
        ])
        .on(["*"])
        .condition("Null", &resource_tag, "false"),
        Statement::allow(["elasticloadbalancing:AddTags"])
            .on(balancers_and_groups)
            .condition(
                "StringEquals",
                "elasticloadbalancing:CreateAction",
                Expr::list(["CreateTargetGroup", "CreateLoadBalancer"]),
            )
            .condition("Null", &request_tag, "false"),
        Statement::allow([
            "elasticloadbalancing:RegisterTargets",
            "elasticloadbalancing:DeregisterTargets",
        ])
        .on([elb("targetgroup/*/*")]),
        Statement::allow([
            "elasticloadbalancing:SetWebAcl",
            "elasticloadbalancing:ModifyListener",
            "elasticloadbalancing:AddListenerCertificates",
            "elasticloadbalancing:RemoveListenerCertificates",
            "elasticloadbalancing:ModifyRule",
            "elasticloadbalancing:SetRulePriorities",
        ])
        .on(["*"]),
    ]
}
