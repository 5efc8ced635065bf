//! The network stack: a VPC laid out as terraform-aws-modules/vpc does it. A
//! public and a private subnet per AZ (CIDRs worked out in [`crate::config`]),
//! an internet gateway, NAT gateways (one per AZ, or one for the whole VPC by
//! config), a route table per private subnet, load balancer discovery tags,
//! flow logs to a KMS-encrypted log group, an S3 gateway endpoint, and the
//! default security group stripped of its rules.

use bindings::aws::{
    cloudwatch_log_group::CloudwatchLogGroup,
    data_caller_identity::DataCallerIdentity,
    default_security_group::DefaultSecurityGroup,
    eip::Eip,
    flow_log::FlowLog,
    iam_role::IamRole,
    iam_role_policy::IamRolePolicy,
    internet_gateway::InternetGateway,
    kms_key::KmsKeyRef,
    nat_gateway::{NatGateway, NatGatewayRef},
    route::Route,
    route_table::{RouteTable, RouteTableRef},
    route_table_association::RouteTableAssociation,
    subnet::{Subnet, SubnetRef},
    vpc::Vpc,
    vpc_endpoint::VpcEndpoint,
};
use bindings::prelude::*;
use synth::{Expr, Stack};

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
    pub vpc_id: Value<ty::String>,
    /// One per AZ, in the config's `network.azs` order.
    pub private_subnet_ids: Vec<Value<ty::String>>,
    pub public_subnet_ids: Vec<Value<ty::String>>,
    /// The account the stacks are applied in (`data.aws_caller_identity`).
    pub account_id: Value<ty::String>,
    /// KMS key encrypting the environment's CloudWatch log groups.
    pub logs_kms_key_arn: Value<ty::String>,
}

pub fn network(stack: &mut Stack, env: &Environment) -> Network {
    aws_provider(stack, env);
    let names = Names::new(env);
    let partition = Partition::of(&env.config.region);
    let cluster_tag = names.cluster_tag_key();

    let account_id = stack.add(DataCallerIdentity::new("current")).account_id();

    let vpc = stack.add(
        Vpc::new("main")
            .cidr_block(env.config.network.vpc_cidr.to_string())
            .enable_dns_support(true)
            .enable_dns_hostnames(true)
            .tags(name_tags(&names.name("vpc"), [])),
    );
    let vpc_id = vpc.id();

    // Without rules, the default group denies everything; resources must use
    // groups of their own instead of sharing it.
    stack.add(
        DefaultSecurityGroup::new("default")
            .vpc_id(&vpc_id)
            .tags(name_tags(&names.name("default-deny-all"), [])),
    );

    let igw = stack.add(
        InternetGateway::new("main")
            .vpc_id(&vpc_id)
            .tags(name_tags(&names.name("igw"), [])),
    );

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

    let public_routes =
        stack.add(RouteTable::new("public", &vpc_id).tags(name_tags(&names.name("public"), [])));
    stack.add(
        Route::new("public_internet", public_routes.id())
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(igw.id()),
    );
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
    let nat_gateways: Vec<NatGatewayRef> = nat_azs
        .iter()
        .map(|az| {
            let public_subnet = &public_subnets[position(env, az)];
            let tags = name_tags(&names.name(&format!("nat-{}", az.az)), []);
            let eip = stack.add(
                Eip::new(&format!("nat_{}", az.suffix))
                    .domain("vpc")
                    .tags(tags.clone()),
            );
            stack.add(
                NatGateway::new(&az.suffix, public_subnet.id())
                    .allocation_id(eip.id())
                    .tags(tags)
                    // A NAT gateway cannot route until the VPC has its internet gateway.
                    .depends_on(&igw),
            )
        })
        .collect();

    let mut route_tables = vec![public_routes.id()];
    for (i, (az, subnet)) in env.subnets.iter().zip(&private_subnets).enumerate() {
        // Each private subnet uses the NAT gateway of its own AZ when there is
        // one, so losing an AZ never cuts the others' egress.
        let nat = nat_gateways.get(i).unwrap_or(&nat_gateways[0]);
        let routes = stack.add(
            RouteTable::new(&format!("private_{}", az.suffix), &vpc_id)
                .tags(name_tags(&names.name(&format!("private-{}", az.az)), [])),
        );
        stack.add(
            Route::new(&format!("private_{}_nat", az.suffix), routes.id())
                .destination_cidr_block("0.0.0.0/0")
                .nat_gateway_id(nat.id()),
        );
        associate(stack, &format!("private_{}", az.suffix), subnet, &routes);
        route_tables.push(routes.id());
    }

    // Traffic to S3 (ECR image layers among it) stays on the AWS network and
    // skips the NAT gateways' per-GB charge.
    stack.add(
        VpcEndpoint::new("s3", &vpc_id)
            .service_name(partition.endpoint_service("s3"))
            .vpc_endpoint_type("Gateway")
            .route_table_ids(route_tables)
            .tags(name_tags(&names.name("s3"), [])),
    );

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

    let private_subnet_ids: Vec<Value<ty::String>> =
        private_subnets.iter().map(|s| s.id()).collect();
    let public_subnet_ids: Vec<Value<ty::String>> = public_subnets.iter().map(|s| s.id()).collect();
    stack.export("vpc_id", Expr::from(&vpc_id), "ID of the VPC.");
    stack.export(
        "private_subnet_ids",
        Expr::list(private_subnet_ids.iter().map(Expr::from)),
        "Private subnets (nodes, internal load balancers), in AZ order.",
    );
    stack.export(
        "public_subnet_ids",
        Expr::list(public_subnet_ids.iter().map(Expr::from)),
        "Public subnets (internet-facing load balancers, NAT gateways), in AZ order.",
    );

    Network {
        vpc_id,
        private_subnet_ids,
        public_subnet_ids,
        account_id,
        logs_kms_key_arn: logs_key.arn(),
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
    vpc_id: &Value<ty::String>,
    az: &AzSubnets,
    tier: Tier,
    cluster_tag: &str,
) -> SubnetRef {
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
    stack.add(
        Subnet::new(&format!("{kind}_{}", az.suffix), vpc_id)
            .cidr_block(cidr.to_string())
            .availability_zone(&az.az)
            // Public subnets hold load balancers and NAT gateways only; nothing
            // launched there gets a public address by accident.
            .map_public_ip_on_launch(false)
            .tags(name_tags(&names.name(&format!("{kind}-{}", az.az)), tags)),
    )
}

fn associate(stack: &mut Stack, id: &str, subnet: &SubnetRef, routes: &RouteTableRef) {
    stack.add(RouteTableAssociation::new(id, routes.id()).subnet_id(subnet.id()));
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
    account_id: &Value<ty::String>,
) -> KmsKeyRef {
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
    vpc_id: &Value<ty::String>,
    logs_key: &KmsKeyRef,
    account_id: &Value<ty::String>,
) {
    let group = stack.add(
        CloudwatchLogGroup::new("flow_logs")
            .name(format!("/aws/vpc/{}/flow-logs", names.cluster()))
            .retention_in_days(env.config.logs.retention_days)
            .kms_key_id(logs_key.arn())
            .tags(name_tags(&names.name("flow-logs"), [])),
    );
    // Only flow logs of this account may use the role (confused deputy).
    let trust = Statement::allow(["sts:AssumeRole"])
        .principal("Service", partition.service("vpc-flow-logs"))
        .condition("StringEquals", "aws:SourceAccount", account_id);
    let role = stack.add(
        IamRole::new("flow_logs", policy([trust]))
            .name(names.name("vpc-flow-logs"))
            .tags(name_tags(&names.name("vpc-flow-logs"), [])),
    );
    let write = Statement::allow([
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogStreams",
    ])
    .on([Value::template([Expr::from(group.arn()), Expr::from(":*")])]);
    stack.add(IamRolePolicy::new("flow_logs", policy([write]), role.id()).name("write-flow-logs"));
    stack.add(
        FlowLog::new("vpc")
            .vpc_id(vpc_id)
            .traffic_type("ALL")
            .log_destination_type("cloud-watch-logs")
            .log_destination(group.arn())
            .iam_role_arn(role.arn())
            .max_aggregation_interval(60)
            .tags(name_tags(&names.name("vpc-flow-logs"), [])),
    );
}
