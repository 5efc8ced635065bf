//! The AWS Load Balancer Controller: it turns the service's Ingress into an
//! ALB (HTTPS, attached to the edge's WAF web ACL), or its `LoadBalancer`
//! Service into an NLB. Its IRSA role and IAM policy (in the iam stack, so
//! they exist before the cluster's workloads) and its pinned chart (in the
//! app stack) are built here, side by side.
//!
//! Chart 3.5.0 (controller v3.5.0) rather than 1.13.0: only its
//! IngressClassParams can pin the WAF web ACL (`wafv2AclArn`) for every
//! Ingress of a class. Rendered with these values, the two charts differ in
//! the image, the ClusterRole (v3.5's is a superset, regrouped), webhooks'
//! `admissionReviewVersions` (v1), and two new pod webhooks that act only on
//! namespaces or pods labelled for them (QUIC server ids, ALB target
//! control), which the service's are not. Helm installs a chart's CRDs only
//! on first install: a cluster upgraded from 1.13.0 needs the v3.5.0 CRDs
//! applied first (docs/edge.md), or the API server drops `wafv2AclArn`.

use bindings::aws::iam_policy::IamPolicy;
use bindings::aws::iam_role_policy_attachment::IamRolePolicyAttachment;
use bindings::helm::release::ReleaseRef;
use serde::Serialize;
use synth::{App, Expr};

use crate::aws::{policy, Irsa, Names, Partition, Statement};
use crate::config::Environment;
use crate::eks::Eks;
use crate::helm::{addon_release, Chart, DisruptionBudget, ServiceAccount, ADDON_NAMESPACE};
use crate::network::Network;
use crate::{Error, Layer};

/// Kubernetes service account of the controller; its IRSA role trusts
/// `system:serviceaccount:kube-system:<this>`.
pub const SERVICE_ACCOUNT: &str = "aws-load-balancer-controller";

/// The controller's helm_release id (`helm_release.<this>`).
pub const RELEASE_ID: &str = "aws_load_balancer_controller";

/// Chart 3.5.0 runs controller v3.5.0, whose permissions [`statements`]
/// grants (the controller's docs/install/iam_policy.json at v3.5.0, the same
/// document as at v2.13.0): upgrade both together.
const CHART: Chart = Chart {
    repository: "https://aws.github.io/eks-charts",
    name: "aws-load-balancer-controller",
    version: "3.5.0",
};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Values {
    cluster_name: Expr,
    /// Nodes require IMDSv2 with a hop limit of 1, so the controller cannot
    /// discover its region and VPC from instance metadata.
    region: String,
    vpc_id: Expr,
    replica_count: u32,
    pod_disruption_budget: DisruptionBudget,
    service_account: ServiceAccount,
    /// WAF Classic and Shield Advanced are off: the web ACL is WAFv2, and
    /// with them on the controller would call their APIs on every load
    /// balancer, so its policy would need their actions too.
    enable_waf: bool,
    enable_wafv2: bool,
    enable_shield: bool,
}

/// The controller's IRSA role and policy, and its release; returns the
/// release, which the service's release must follow (its Ingress and Service
/// need the controller's webhooks) and outlive on destroy (the controller
/// deletes the load balancer).
pub fn lb_controller(
    app: &mut App,
    env: &Environment,
    network: &Network,
    irsa: &Irsa,
    eks: &Eks,
) -> Result<ReleaseRef, Error> {
    let names = Names::new(env);
    let partition = Partition::of(&env.config.region);
    let iam = Layer::Iam.of(app);
    let role = irsa.role(
        iam,
        "lb_controller",
        &names.name("load-balancer-controller"),
        ADDON_NAMESPACE,
        SERVICE_ACCOUNT,
    );
    let permissions = iam.add(
        IamPolicy::new("lb_controller", policy(statements(&partition)))
            .name(names.name("load-balancer-controller"))
            .description(
                "Permissions the AWS Load Balancer Controller documents (docs/install/iam_policy.json, v3.5.0), without WAF Classic and Shield",
            )
            .tags(crate::aws::name_tags(&names.name("load-balancer-controller"), [])),
    );
    iam.add(IamRolePolicyAttachment::new(
        "lb_controller",
        permissions.arn(),
        role.name(),
    ));

    let values = Values {
        cluster_name: eks.cluster_name.clone().into(),
        region: env.config.region.clone(),
        vpc_id: network.vpc_id.clone().into(),
        replica_count: 2,
        pod_disruption_budget: DisruptionBudget {
            enabled: None,
            max_unavailable: 1,
        },
        service_account: ServiceAccount::irsa(SERVICE_ACCOUNT, role.arn()),
        enable_waf: false,
        enable_wafv2: true,
        enable_shield: false,
    };
    addon_release(
        Layer::App.of(app),
        RELEASE_ID,
        CHART,
        &values,
        &eks.workloads_ready,
    )
}

/// The AWS Load Balancer Controller's IAM policy, statement for statement as
/// its documentation lists it (docs/install/iam_policy.json of v3.5.0, the
/// version the app stack installs). Wildcard resources are the upstream
/// policy's; its tag conditions confine writes to resources the controller
/// created (tagged `elbv2.k8s.aws/cluster`). Of WAF it grants exactly what
/// the controller calls to attach a web ACL and to find one attached:
/// `wafv2:GetWebACL`, `GetWebACLForResource`, `AssociateWebACL`,
/// `DisassociateWebACL`. The upstream document's WAF Classic
/// (`waf-regional:`) and Shield actions are left out, as the release turns
/// those add-ons off (`enableWaf`, `enableShield`).
fn statements(partition: &Partition) -> Vec<Statement> {
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
            "wafv2:GetWebACL",
            "wafv2:GetWebACLForResource",
            "wafv2:AssociateWebACL",
            "wafv2:DisassociateWebACL",
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

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::test_support::{policy, shipped};

    /// The controller may touch WAFv2 to attach the web ACL and nothing of
    /// WAF Classic or Shield, and the release turns those add-ons off: with
    /// them on, the controller would call APIs its policy refuses.
    #[test]
    fn the_controller_gets_exactly_the_wafv2_actions_and_no_waf_classic_or_shield() {
        for env in ["staging", "production"] {
            let app = shipped(env);
            let document = policy(&app, "aws_iam_policy", "lb_controller", "policy");
            let mut actions: Vec<String> = document["Statement"]
                .as_array()
                .expect("statements")
                .iter()
                .flat_map(|s| match &s["Action"] {
                    Value::Array(a) => a.iter().map(|a| a.as_str().unwrap().to_owned()).collect(),
                    a => vec![a.as_str().unwrap().to_owned()],
                })
                .filter(|a| a.starts_with("waf") || a.starts_with("shield"))
                .collect();
            actions.sort();
            assert_eq!(
                actions,
                [
                    "wafv2:AssociateWebACL",
                    "wafv2:DisassociateWebACL",
                    "wafv2:GetWebACL",
                    "wafv2:GetWebACLForResource"
                ],
                "{env}"
            );
            let values = crate::releases::release_values(&app)
                .into_iter()
                .find(|r| r.address == "helm_release.aws_load_balancer_controller")
                .expect("the controller's release")
                .values;
            assert_eq!(values["enableWaf"], false, "{env}");
            assert_eq!(values["enableShield"], false, "{env}");
            assert_eq!(values["enableWafv2"], true, "{env}");
        }
    }
}
