//! The network stack: a VPC laid out as terraform-aws-modules/vpc does it. A
//! public and a private subnet per AZ (CIDRs worked out in [`crate::config`]),
//! an internet gateway, NAT gateways (one per AZ, or one for the whole VPC by
//! config), a route table per private subnet, load balancer discovery tags,
//! flow logs to a KMS-encrypted log group, an S3 gateway endpoint, and the
//! default security group stripped of its rules.

use synth::{Expr, Handle, Stack};

use crate::aws::{aws_provider, kms_key, name_tags, policy, Names, Partition, Statement};
use crate::config::{AzSubnets, Environment, NatGatewayMode};

/// Subnet tag key the AWS Load Balancer Controller looks for when it places
/// an internet-facing load balancer (on the public subnets).
pub const PUBLIC_ELB_TAG: &str = "kubernetes.io/role/elb";

/// Subnet tag key for internal load balancers (on the private subnets).
pub const INTERNAL_ELB_TAG: &str = "kubernetes.io/role/internal-elb";

/// What the network exposes to the other components.
#[derive(Debug, Clone)]
pub struct Network {
    pub vpc_id: Expr,
    /// One per AZ, in the config's `network.azs` order.
    pub private_subnet_ids: Vec<Expr>,
    pub public_subnet_ids: Vec<Expr>,
    /// The account the stacks are applied in (`data.aws_caller_identity`).
    pub account_id: Expr,
    /// KMS key encrypting the environment's CloudWatch log groups.
    pub logs_kms_key_arn: Expr,
}

pub fn network(stack: &mut Stack, env: &Environment) -> Network {
    aws_provider(stack, env);
    let names = Names::new(env);
    let partition = Partition::of(&env.config.region);
    let cluster_tag = names.cluster_tag_key();

    let account_id = stack
        .data("aws_caller_identity", "current")
        .handle()
        .attr("account_id");

    let vpc = stack
        .resource("aws_vpc", "main")
        .set("cidr_block", env.config.network.vpc_cidr.to_string())
        .set("enable_dns_support", true)
        .set("enable_dns_hostnames", true)
        .set("tags", name_tags(&names.name("vpc"), []))
        .handle();
    let vpc_id = vpc.attr("id");

    // Without rules, the default group denies everything; resources must use
    // groups of their own instead of sharing it.
    stack
        .resource("aws_default_security_group", "default")
        .set("vpc_id", vpc_id.clone())
        .set("tags", name_tags(&names.name("default-deny-all"), []));

    let igw = stack
        .resource("aws_internet_gateway", "main")
        .set("vpc_id", vpc_id.clone())
        .set("tags", name_tags(&names.name("igw"), []))
        .handle();

    let mut public_subnets = Vec::new();
    let mut private_subnets = Vec::new();
    for az in &env.subnets {
        public_subnets.push(subnet(
            stack,
            &names,
            &vpc_id,
            az,
            Tier::Public,
            &cluster_tag,
        ));
        private_subnets.push(subnet(
            stack,
            &names,
            &vpc_id,
            az,
            Tier::Private,
            &cluster_tag,
        ));
    }

    let public_routes = stack
        .resource("aws_route_table", "public")
        .set("vpc_id", vpc_id.clone())
        .set("tags", name_tags(&names.name("public"), []))
        .handle();
    stack
        .resource("aws_route", "public_internet")
        .set("route_table_id", public_routes.attr("id"))
        .set("destination_cidr_block", "0.0.0.0/0")
        .set("gateway_id", igw.attr("id"));
    for (az, subnet) in env.subnets.iter().zip(&public_subnets) {
        associate(
            stack,
            &format!("public_{}", az.suffix),
            subnet,
            &public_routes,
        );
    }

    let nat_azs: Vec<&AzSubnets> = match env.config.network.nat_gateway {
        NatGatewayMode::OnePerAz => env.subnets.iter().collect(),
        NatGatewayMode::Single => env.subnets.iter().take(1).collect(),
    };
    let nat_gateways: Vec<Handle> = nat_azs
        .iter()
        .map(|az| {
            let public_subnet = &public_subnets[position(env, az)];
            let eip = stack
                .resource("aws_eip", &format!("nat_{}", az.suffix))
                .set("domain", "vpc")
                .set(
                    "tags",
                    name_tags(&names.name(&format!("nat-{}", az.az)), []),
                )
                .handle();
            stack
                .resource("aws_nat_gateway", &az.suffix)
                .set("allocation_id", eip.attr("id"))
                .set("subnet_id", public_subnet.attr("id"))
                .set(
                    "tags",
                    name_tags(&names.name(&format!("nat-{}", az.az)), []),
                )
                // A NAT gateway cannot route until the VPC has its internet gateway.
                .depends_on(&igw)
                .handle()
        })
        .collect();

    let mut route_tables = vec![public_routes.attr("id")];
    for (i, (az, subnet)) in env.subnets.iter().zip(&private_subnets).enumerate() {
        // Each private subnet uses the NAT gateway of its own AZ when there is
        // one, so losing an AZ never cuts the others' egress.
        let nat = nat_gateways.get(i).unwrap_or(&nat_gateways[0]);
        let routes = stack
            .resource("aws_route_table", &format!("private_{}", az.suffix))
            .set("vpc_id", vpc_id.clone())
            .set(
                "tags",
                name_tags(&names.name(&format!("private-{}", az.az)), []),
            )
            .handle();
        stack
            .resource("aws_route", &format!("private_{}_nat", az.suffix))
            .set("route_table_id", routes.attr("id"))
            .set("destination_cidr_block", "0.0.0.0/0")
            .set("nat_gateway_id", nat.attr("id"));
        associate(stack, &format!("private_{}", az.suffix), subnet, &routes);
        route_tables.push(routes.attr("id"));
    }

    // Traffic to S3 (ECR image layers among it) stays on the AWS network and
    // skips the NAT gateways' per-GB charge.
    stack
        .resource("aws_vpc_endpoint", "s3")
        .set("vpc_id", vpc_id.clone())
        .set("service_name", partition.endpoint_service("s3"))
        .set("vpc_endpoint_type", "Gateway")
        .set("route_table_ids", Expr::list(route_tables))
        .set("tags", name_tags(&names.name("s3"), []));

    let logs_key = logs_kms_key(stack, env, &names, &partition, &account_id);
    flow_logs(
        stack,
        env,
        &names,
        &partition,
        &vpc_id,
        &logs_key,
        &account_id,
    );

    let private_subnet_ids: Vec<Expr> = private_subnets.iter().map(|s| s.attr("id")).collect();
    let public_subnet_ids: Vec<Expr> = public_subnets.iter().map(|s| s.attr("id")).collect();
    let vpc_id = stack.export("vpc_id", vpc_id, "ID of the VPC.");
    stack.export(
        "private_subnet_ids",
        Expr::list(private_subnet_ids.clone()),
        "Private subnets (nodes, internal load balancers), in AZ order.",
    );
    stack.export(
        "public_subnet_ids",
        Expr::list(public_subnet_ids.clone()),
        "Public subnets (internet-facing load balancers, NAT gateways), in AZ order.",
    );

    Network {
        vpc_id,
        private_subnet_ids,
        public_subnet_ids,
        account_id,
        logs_kms_key_arn: logs_key.attr("arn"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tier {
    Public,
    Private,
}

fn subnet(
    stack: &mut Stack,
    names: &Names,
    vpc_id: &Expr,
    az: &AzSubnets,
    tier: Tier,
    cluster_tag: &str,
) -> Handle {
    let (kind, cidr, elb_role) = match tier {
        Tier::Public => ("public", az.public, PUBLIC_ELB_TAG),
        Tier::Private => ("private", az.private, INTERNAL_ELB_TAG),
    };
    let cluster = names.cluster();
    let mut tags = vec![(elb_role, "1"), (cluster_tag, "shared")];
    // Karpenter launches nodes in the subnets carrying this tag: the
    // private ones only, like the node groups.
    if tier == Tier::Private {
        tags.push((crate::karpenter::DISCOVERY_TAG, cluster.as_str()));
    }
    stack
        .resource("aws_subnet", &format!("{kind}_{}", az.suffix))
        .set("vpc_id", vpc_id.clone())
        .set("cidr_block", cidr.to_string())
        .set("availability_zone", az.az.as_str())
        // Public subnets hold load balancers and NAT gateways only; nothing
        // launched there gets a public address by accident.
        .set("map_public_ip_on_launch", false)
        .set(
            "tags",
            name_tags(&names.name(&format!("{kind}-{}", az.az)), tags),
        )
        .handle()
}

fn associate(stack: &mut Stack, id: &str, subnet: &Handle, routes: &Handle) {
    stack
        .resource("aws_route_table_association", id)
        .set("subnet_id", subnet.attr("id"))
        .set("route_table_id", routes.attr("id"));
}

fn position(env: &Environment, az: &AzSubnets) -> usize {
    env.subnets
        .iter()
        .position(|a| a.az == az.az)
        .unwrap_or_default()
}

/// The customer-managed key of the environment's CloudWatch log groups:
/// CloudWatch Logs may use it only for log groups of this account and region.
fn logs_kms_key(
    stack: &mut Stack,
    env: &Environment,
    names: &Names,
    partition: &Partition,
    account_id: &Expr,
) -> Handle {
    let region = env.config.region.as_str();
    let logs_use = Statement::allow([
        "kms:Encrypt*",
        "kms:Decrypt*",
        "kms:ReEncrypt*",
        "kms:GenerateDataKey*",
        "kms:Describe*",
    ])
    .sid("CloudWatchLogsUse")
    .principal("Service", format!("logs.{region}.{}", partition.dns_suffix))
    .on(["*"])
    .condition(
        "ArnLike",
        "kms:EncryptionContext:aws:logs:arn",
        partition.arn("logs", region, account_id, "log-group:*"),
    );
    kms_key(
        stack,
        names,
        "logs",
        &format!("CloudWatch Logs of {}", names.cluster()),
        partition.account_root(account_id),
        vec![logs_use],
    )
}

fn flow_logs(
    stack: &mut Stack,
    env: &Environment,
    names: &Names,
    partition: &Partition,
    vpc_id: &Expr,
    logs_key: &Handle,
    account_id: &Expr,
) {
    let group = stack
        .resource("aws_cloudwatch_log_group", "flow_logs")
        .set("name", format!("/aws/vpc/{}/flow-logs", names.cluster()))
        .set("retention_in_days", env.config.logs.retention_days)
        .set("kms_key_id", logs_key.attr("arn"))
        .set("tags", name_tags(&names.name("flow-logs"), []))
        .handle();
    let role = stack
        .resource("aws_iam_role", "flow_logs")
        .set("name", names.name("vpc-flow-logs"))
        .set("assume_role_policy", {
            // Only flow logs of this account may use the role (confused deputy).
            let trust = Statement::allow(["sts:AssumeRole"])
                .principal("Service", partition.service("vpc-flow-logs"))
                .condition("StringEquals", "aws:SourceAccount", account_id.clone());
            policy([trust])
        })
        .set("tags", name_tags(&names.name("vpc-flow-logs"), []))
        .handle();
    stack
        .resource("aws_iam_role_policy", "flow_logs")
        .set("name", "write-flow-logs")
        .set("role", role.attr("id"))
        .set(
            "policy",
            policy([Statement::allow([
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
            ])
            .on([Expr::template([group.attr("arn"), Expr::from(":*")])])]),
        );
    stack
        .resource("aws_flow_log", "vpc")
        .set("vpc_id", vpc_id.clone())
        .set("traffic_type", "ALL")
        .set("log_destination_type", "cloud-watch-logs")
        .set("log_destination", group.attr("arn"))
        .set("iam_role_arn", role.attr("arn"))
        .set("max_aggregation_interval", 60)
        .set("tags", name_tags(&names.name("vpc-flow-logs"), []));
}
