//! The way in when the cluster's API is private: a small EC2 instance in a
//! private subnet, managed by AWS Systems Manager, that only forwards a port.
//!
//! `just bootstrap <env>` (scripts/gitops/bootstrap.sh) opens an SSM port
//! forwarding session through it to the API endpoint and runs phase 2 with
//! terraform's helm and kubernetes providers pointed at the local end of the
//! tunnel (`var.cluster_api_tunnel`; TLS is still checked against the
//! endpoint's name). Why this and not a VPN or a runner in the VPC: nothing
//! listens on the internet (no SSH, no public address, no inbound rule but
//! the API's from this one security group), every session is an IAM-signed,
//! logged AWS API call by the MFA-guarded admin role, the admin's own
//! terraform, credentials and state stay where they are, and it costs one
//! t3.micro instead of a VPN endpoint per hour or a runner to keep patched.

use bindings::aws::data_ssm_parameter::DataSsmParameter;
use bindings::aws::iam_instance_profile::IamInstanceProfile;
use bindings::aws::instance::{Instance, MetadataOptions, RootBlockDevice};
use bindings::aws::security_group::{SecurityGroup, SecurityGroupRef};
use bindings::aws::vpc_security_group_egress_rule::VpcSecurityGroupEgressRule;
use bindings::aws::vpc_security_group_ingress_rule::VpcSecurityGroupIngressRule;
use bindings::helm::provider as helm_provider;
use bindings::kubernetes::provider as kubernetes_provider;
use bindings::prelude::*;
use synth::{Expr, Lifecycle, Stack, Variable};

use crate::aws::{
    attach, inline_policy, name_tags, role, service_trust, Names, Partition, Statement,
};
use crate::config::{Environment, GitopsConfig};
use crate::eks::Eks;
use crate::iam::ClusterIam;
use crate::network::Network;

/// The one SSM document the admin role may start sessions with.
pub const PORT_FORWARD_DOCUMENT: &str = "AWS-StartPortForwardingSessionToRemoteHost";

/// The variable holding the tunnel's local end (`https://127.0.0.1:PORT`).
pub const TUNNEL_VARIABLE: &str = "cluster_api_tunnel";

/// The latest Amazon Linux 2023 image, whose SSM agent is preinstalled.
fn ami_parameter(instance_type: &str) -> String {
    format!(
        "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{}",
        if is_graviton(instance_type) {
            "arm64"
        } else {
            "x86_64"
        }
    )
}

/// Graviton families carry a `g` after their generation (t4g, m7gd, c6gn).
fn is_graviton(instance_type: &str) -> bool {
    let family = instance_type.split('.').next().unwrap_or("");
    family.find(|c: char| c.is_ascii_digit()).is_some_and(|i| {
        family[i..]
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .contains('g')
    })
}

/// The bastion's IAM role and instance profile (iam stack), instance and
/// security group rules (eks stack), and the admin role's right to open a
/// port-forwarding session through it and nothing else.
pub fn bastion(
    app: &mut synth::App,
    env: &Environment,
    gitops: &GitopsConfig,
    network: &Network,
    cluster_iam: &ClusterIam,
    eks: &Eks,
) {
    let names = Names::new(env);
    let partition = Partition::of(&env.config.region);
    let name = names.name("bastion");

    let iam = crate::Layer::Iam.of(app);
    let instance_role = role(iam, "bastion", &name, service_trust(&partition, "ec2"));
    attach(
        iam,
        "bastion",
        &instance_role,
        &partition,
        &["AmazonSSMManagedInstanceCore"],
    );
    let profile = iam.add(
        IamInstanceProfile::new("bastion")
            .name(&name)
            .role(instance_role.name())
            .tags(name_tags(&name, [])),
    );

    let stack = crate::Layer::Eks.of(app);
    let group = security_group(stack, &name, network, eks);
    let ami = stack.add(DataSsmParameter::new(
        "bastion_ami",
        ami_parameter(&gitops.bastion.instance_type),
    ));
    let subnet_id = &network.private_subnet_ids[0];
    let instance = stack.add(
        Instance::new("bastion")
            .ami(ami.value())
            .instance_type(&gitops.bastion.instance_type)
            // A private subnet: no public address is ever mapped there, and the
            // instance reaches Systems Manager through the NAT.
            .subnet_id(subnet_id)
            .vpc_security_group_ids([group.id()])
            .iam_instance_profile(profile.name())
            .monitoring(true)
            .ebs_optimized(true)
            // IMDSv2 only, one hop, no tags: what eks.rs gives
            // the node groups' launch templates (another block type).
            .metadata_options(
                MetadataOptions::new()
                    .http_endpoint("enabled")
                    .http_tokens("required")
                    .http_put_response_hop_limit(1)
                    .instance_metadata_tags("disabled"),
            )
            .root_block_device(
                RootBlockDevice::new()
                    .encrypted(true)
                    .volume_type("gp3")
                    .volume_size(8)
                    .delete_on_termination(true),
            )
            .tags(name_tags(&name, []))
            // A newer image is published every few weeks: it is taken when the
            // instance is replaced on purpose, not on every plan.
            .lifecycle(Lifecycle::new().ignore_changes(["ami"])),
    );
    stack.export(
        "api_tunnel",
        Expr::object([
            ("instance_id", Expr::from(instance.id())),
            ("region", Expr::from(env.config.region.as_str())),
            ("api_host", api_host(eks)),
            ("document", Expr::from(PORT_FORWARD_DOCUMENT)),
        ]),
        "What `just apply` opens an SSM port-forwarding session to the private API with: the bastion, its region, the API's host name and the session document.",
    );
    let region = &env.config.region;
    let account = &network.account_id;
    inline_policy(
        crate::Layer::Iam.of(app),
        "admin_bastion",
        "port-forward-to-the-api",
        &cluster_iam.admin_role,
        [
            Statement::allow(["ssm:StartSession"])
                .sid("PortForwardThroughTheBastion")
                .on([
                    partition_arn(
                        &partition,
                        "ec2",
                        region,
                        account,
                        "instance/",
                        instance.id().into(),
                    ),
                    Expr::from(format!(
                        "arn:{}:ssm:{region}::document/{PORT_FORWARD_DOCUMENT}",
                        partition.name
                    )),
                ])
                // Only the documents listed above: no shell on the bastion.
                .condition("BoolIfExists", "ssm:SessionDocumentAccessCheck", "true"),
            Statement::allow(["ssm:TerminateSession", "ssm:ResumeSession"])
                .sid("OwnSessionsOnly")
                .on([partition_arn(
                    &partition,
                    "ssm",
                    region,
                    account,
                    "session/",
                    Expr::from("*"),
                )])
                .condition(
                    "StringLike",
                    "ssm:resourceTag/aws:ssmmessages:session-id",
                    "${aws:userid}*",
                ),
        ],
    );
}

/// `arn:<partition>:<service>:<region>:<account>:<kind><id>`.
fn partition_arn(
    partition: &Partition,
    service: &str,
    region: &str,
    account: &Value<ty::String>,
    kind: &str,
    id: Expr,
) -> Expr {
    Expr::template([
        Expr::from(format!("arn:{}:{service}:{region}:", partition.name)),
        Expr::from(account),
        Expr::from(format!(":{kind}")),
        id,
    ])
}

/// The bastion's group: out to HTTPS only (Systems Manager through the NAT,
/// the API endpoint); nothing in. The cluster's group lets it reach the API.
fn security_group(stack: &mut Stack, name: &str, network: &Network, eks: &Eks) -> SecurityGroupRef {
    let vpc_id = &network.vpc_id;
    let cluster_group = &eks.cluster_security_group_id;
    let group = stack.add(
        SecurityGroup::new("bastion")
            .name(name)
            .description(
                "SSM-managed bastion: HTTPS out to Systems Manager and the cluster API, nothing in",
            )
            .vpc_id(vpc_id)
            .tags(name_tags(name, [])),
    );
    stack.add(
        VpcSecurityGroupEgressRule::new("bastion_https", "tcp", group.id())
            .description("HTTPS to Systems Manager (through the NAT) and to the cluster API")
            .from_port(443)
            .to_port(443)
            .cidr_ipv4("0.0.0.0/0")
            .tags(name_tags(&format!("{name}-https-out"), [])),
    );
    stack.add(
        VpcSecurityGroupIngressRule::new("api_from_bastion", "tcp", cluster_group)
            .description("The Kubernetes API from the bastion's port-forwarding sessions")
            .from_port(443)
            .to_port(443)
            .referenced_security_group_id(group.id())
            .tags(name_tags(&format!("{name}-to-api"), [])),
    );
    group
}

/// The API endpoint's host name (its URL without the scheme).
fn api_host(eks: &Eks) -> Expr {
    Expr::call(
        "replace",
        [
            Expr::from(&eks.endpoint),
            Expr::from("https://"),
            Expr::from(""),
        ],
    )
}

/// Points the app stack's helm and kubernetes providers at the tunnel when
/// one is given, still checking the API server's certificate against its own
/// name; without one they talk to the endpoint as before (from inside the VPC).
///
/// An overlay on provider blocks helm.rs has already declared
/// (`Stack::overlay_providers`): only the host and the server name change.
pub fn tunnel_providers(stack: &mut Stack, eks: &Eks) {
    let tunnel: Value<ty::String> = stack.typed_variable(
        TUNNEL_VARIABLE,
        Variable::new()
            .default("")
            .description(
                "Local end of an SSM port-forwarding session to the private API endpoint (https://127.0.0.1:PORT), set by just bootstrap; empty to reach the endpoint directly.",
            )
            .validation(
                Expr::raw(format!(
                    "var.{TUNNEL_VARIABLE} == \"\" || can(regex(\"^https://(127\\\\.0\\\\.0\\\\.1|localhost):[0-9]+$\", var.{TUNNEL_VARIABLE}))"
                )),
                "cluster_api_tunnel must be empty or https://127.0.0.1:PORT (the tunnel ends on this machine).",
            ),
    );
    // Function calls of strings (the variable, the endpoint): strings.
    let host: Value<ty::String> = Value::assume(Expr::call(
        "coalesce",
        [Expr::call("trimspace", [tunnel]), Expr::from(&eks.endpoint)],
    ));
    let server_name: Value<ty::String> = Value::assume(api_host(eks));
    stack.overlay_providers(
        kubernetes_provider::Provider::new()
            .host(&host)
            .tls_server_name(&server_name),
    );
    stack.overlay_providers(
        helm_provider::Provider::new().kubernetes(
            helm_provider::Kubernetes::new()
                .host(host)
                .tls_server_name(server_name),
        ),
    );
}
