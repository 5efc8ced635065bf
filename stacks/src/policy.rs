//! Policies checked on every synthesis, as Pulumi policy packs and CDKTF
//! aspects do: they read the rendered blocks, exactly what terraform will
//! see, so an override or a new resource cannot slip past them. A violation
//! fails `synth` and `validate` with the policy's name and the resource's
//! address.
//!
//! Thresholds come from the environment's floors (`stacks/policy/<env>.toml`); the rules never
//! look at the environment's name.

use std::collections::BTreeSet;

use serde_json::Value;
use synth::{BlockKind, Diagnostic, ModuleView, Policy, ResourceView, Schemas};

use crate::config::{Environment, Ipv4Cidr, RESERVED_TAGS};

mod nodes;
mod secrets;

pub use nodes::{KarpenterDiscovery, NoSpot, NodeRoleIsNotClusterRole};
pub use secrets::{SecretValuesOutsideTerraform, TERRAFORM_WRITTEN_SECRETS};

/// Tag that exempts a security group from `no-public-ingress`: only a
/// group in front of an internet-facing load balancer may carry it.
pub const PUBLIC_LOAD_BALANCER_TAG: (&str, &str) = ("Exposure", "public-load-balancer");

/// Tag key marking a subnet as private (internal load balancers go there).
const PRIVATE_SUBNET_TAG: &str = "kubernetes.io/role/internal-elb";

/// The policies of an environment.
pub fn policies(env: &Environment, schemas: &Schemas) -> Vec<Box<dyn Policy>> {
    let mut policies: Vec<Box<dyn Policy>> = vec![
        Box::new(Tagged {
            schemas: schemas.clone(),
        }),
        Box::new(NoPublicIngress),
        Box::new(EncryptionAtRest),
        Box::new(ZoneRedundancy {
            min_azs: env.policy.min_azs,
            nat_gateway_per_az: env.policy.require_nat_gateway_per_az,
        }),
        Box::new(PrivateNodeGroups),
        Box::new(NodeRoleIsNotClusterRole),
        Box::new(KarpenterDiscovery),
        Box::new(SecretValuesOutsideTerraform),
    ];
    if !env.policy.allow_spot {
        policies.push(Box::new(NoSpot));
    }
    policies
}

/// Every taggable AWS resource sets its own `tags` (at least `Name`); the
/// provider's `default_tags` add Project, Environment and ManagedBy. Launch
/// templates, whose instances and volumes default tags do not reach, must
/// carry those in every `tag_specifications` block.
#[derive(Debug)]
pub struct Tagged {
    schemas: Schemas,
}

impl Policy for Tagged {
    fn name(&self) -> &str {
        "tagged"
    }

    fn description(&self) -> String {
        "every taggable AWS resource sets its own tags (at least Name); launch templates carry the common tags in every tag specification".into()
    }

    fn check(&self, module: &ModuleView<'_>) -> Vec<Diagnostic> {
        let mut violations = Vec::new();
        for r in module.managed().filter(|r| r.ty.starts_with("aws_")) {
            let taggable = self
                .schemas
                .has_attribute("aws", BlockKind::Resource, r.ty, "tags")
                == Some(true);
            if taggable
                && r.body
                    .pointer("/tags/Name")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
            {
                violations.push(Diagnostic::new(
                    &r.address,
                    "taggable resource has no `tags` with a Name",
                ));
            }
            if r.ty == "aws_launch_template" {
                let specs = blocks(r.body.get("tag_specifications"));
                if specs.is_empty() {
                    violations.push(Diagnostic::new(
                        &r.address,
                        "launch template has no tag_specifications",
                    ));
                }
                for spec in specs {
                    let kind = spec
                        .get("resource_type")
                        .and_then(Value::as_str)
                        .unwrap_or("?");
                    for key in RESERVED_TAGS {
                        if spec.pointer(&format!("/tags/{key}")).is_none() {
                            violations.push(Diagnostic::new(
                                &r.address,
                                format!("tag_specifications for `{kind}` lacks the `{key}` tag"),
                            ));
                        }
                    }
                }
            }
        }
        violations
    }
}

/// No security group admits the whole internet, except one tagged as a
/// public load balancer's.
#[derive(Debug)]
pub struct NoPublicIngress;

impl Policy for NoPublicIngress {
    fn name(&self) -> &str {
        "no-public-ingress"
    }

    fn description(&self) -> String {
        "no security group admits the whole internet, except one tagged as a public load balancer's"
            .into()
    }

    fn check(&self, module: &ModuleView<'_>) -> Vec<Diagnostic> {
        let mut violations = Vec::new();
        let open = |v: Option<&Value>| match v {
            Some(Value::String(s)) => admits_internet(&[s.as_str()]),
            Some(Value::Array(items)) => {
                admits_internet(&items.iter().filter_map(Value::as_str).collect::<Vec<_>>())
            }
            _ => false,
        };
        let exempt = |group: Option<&ResourceView<'_>>| {
            group.is_some_and(|g| {
                g.body
                    .pointer(&format!("/tags/{}", PUBLIC_LOAD_BALANCER_TAG.0))
                    .and_then(Value::as_str)
                    == Some(PUBLIC_LOAD_BALANCER_TAG.1)
            })
        };
        for r in module.managed() {
            let (is_open, group) = match r.ty {
                "aws_security_group" | "aws_default_security_group" => (
                    blocks(r.body.get("ingress")).iter().any(|rule| {
                        open(rule.get("cidr_blocks")) || open(rule.get("ipv6_cidr_blocks"))
                    }),
                    Some(r),
                ),
                "aws_security_group_rule" => (
                    r.body.get("type").and_then(Value::as_str) == Some("ingress")
                        && (open(r.body.get("cidr_blocks"))
                            || open(r.body.get("ipv6_cidr_blocks"))),
                    referenced(module, r.body.get("security_group_id")),
                ),
                "aws_vpc_security_group_ingress_rule" => (
                    open(r.body.get("cidr_ipv4")) || open(r.body.get("cidr_ipv6")),
                    referenced(module, r.body.get("security_group_id")),
                ),
                _ => continue,
            };
            if is_open && !exempt(group) {
                violations.push(Diagnostic::new(
                    &r.address,
                    format!(
                        "admits ingress from the internet at large (0.0.0.0/0, ::/0 or blocks as wide together); only a security group tagged {}={} may",
                        PUBLIC_LOAD_BALANCER_TAG.0, PUBLIC_LOAD_BALANCER_TAG.1
                    ),
                ));
            }
        }
        violations
    }
}

/// IPv4 blocks covering this many addresses together (a /8's worth) let in
/// the internet at large, however they are spelt.
const INTERNET_AT_LARGE: u64 = 1 << 24;

/// Whether one rule's CIDRs let in the internet at large: IPv4 blocks that
/// together cover a /8's worth of addresses (so `0.0.0.0/1` plus
/// `128.0.0.0/1` counts like `0.0.0.0/0`), or an IPv6 block shorter than /16.
fn admits_internet(cidrs: &[&str]) -> bool {
    let mut v4 = Vec::new();
    for cidr in cidrs {
        if let Ok(block) = cidr.parse::<Ipv4Cidr>() {
            v4.push(block);
        } else if let Some((address, prefix)) = cidr.split_once('/') {
            // Host bits may be set here (terraform accepts them); judge the prefix.
            let wide = prefix.parse::<u8>().is_ok_and(|p| p < 16);
            if address.contains(':') && wide {
                return true;
            }
            if let (Ok(address), Ok(prefix)) = (address.parse(), prefix.parse()) {
                v4.extend(Ipv4Cidr::containing(address, prefix));
            }
        }
    }
    Ipv4Cidr::union_size(&v4) >= INTERNET_AT_LARGE
}

/// Logs, Kubernetes secrets, Secrets Manager secrets, volumes and queues are
/// encrypted.
#[derive(Debug)]
pub struct EncryptionAtRest;

impl Policy for EncryptionAtRest {
    fn name(&self) -> &str {
        "encryption-at-rest"
    }

    fn description(&self) -> String {
        "log groups, Kubernetes secrets and EBS volumes (launch templates included) are encrypted"
            .into()
    }

    fn check(&self, module: &ModuleView<'_>) -> Vec<Diagnostic> {
        let mut violations = Vec::new();
        for r in module.managed() {
            let problem = match r.ty {
                "aws_cloudwatch_log_group" => {
                    is_unset(r.body.get("kms_key_id")).then_some("log group has no kms_key_id")
                }
                "aws_eks_cluster" => {
                    let encrypts_secrets =
                        blocks(r.body.get("encryption_config")).iter().any(|c| {
                            c.get("resources")
                                .and_then(Value::as_array)
                                .is_some_and(|rs| rs.iter().any(|x| x == "secrets"))
                                && blocks(c.get("provider"))
                                    .iter()
                                    .any(|p| !is_unset(p.get("key_arn")))
                        });
                    (!encrypts_secrets).then_some(
                        "cluster does not encrypt secrets with a KMS key (encryption_config)",
                    )
                }
                "aws_launch_template" => {
                    let mappings = blocks(r.body.get("block_device_mappings"));
                    let all_encrypted = !mappings.is_empty()
                        && mappings.iter().all(|m| {
                            blocks(m.get("ebs"))
                                .iter()
                                .all(|ebs| ebs.get("encrypted") == Some(&Value::Bool(true)))
                        });
                    (!all_encrypted).then_some(
                        "launch template volumes are not all declared with encrypted = true",
                    )
                }
                "aws_ebs_volume" => (r.body.get("encrypted") != Some(&Value::Bool(true)))
                    .then_some("volume is not encrypted"),
                "aws_sqs_queue" => (r.body.get("sqs_managed_sse_enabled")
                    != Some(&Value::Bool(true))
                    && is_unset(r.body.get("kms_master_key_id")))
                .then_some(
                    "queue has neither sqs_managed_sse_enabled = true nor a kms_master_key_id",
                ),
                // The AWS managed key would let anyone allowed the secret's
                // API read it; a customer key's use is granted separately.
                "aws_secretsmanager_secret" => is_unset(r.body.get("kms_key_id"))
                    .then_some("secret has no kms_key_id (a customer-managed key)"),
                _ => None,
            };
            if let Some(message) = problem {
                violations.push(Diagnostic::new(&r.address, message));
            }
        }
        violations
    }
}

/// Enough AZs, and (where required) each private subnet's default route
/// going through a NAT gateway in its own AZ.
#[derive(Debug)]
pub struct ZoneRedundancy {
    pub min_azs: usize,
    pub nat_gateway_per_az: bool,
}

impl Policy for ZoneRedundancy {
    fn name(&self) -> &str {
        "zone-redundancy"
    }

    fn description(&self) -> String {
        let nat = if self.nat_gateway_per_az {
            ", each private subnet's default route through a NAT gateway in its own AZ"
        } else {
            ""
        };
        format!("subnets in at least {} AZs{nat}", self.min_azs)
    }

    fn check(&self, module: &ModuleView<'_>) -> Vec<Diagnostic> {
        let subnets: Vec<&ResourceView<'_>> = module.of_type("aws_subnet").collect();
        if subnets.is_empty() {
            // Network stack not synthesized: nothing to judge.
            return Vec::new();
        }
        let mut violations = Vec::new();
        let azs: BTreeSet<&str> = subnets
            .iter()
            .filter_map(|s| availability_zone(s))
            .collect();
        if azs.len() < self.min_azs {
            let first = subnets[0];
            violations.push(Diagnostic::new(
                &first.address,
                format!(
                    "subnets span {} AZs; at least {} required",
                    azs.len(),
                    self.min_azs
                ),
            ));
        }
        if !self.nat_gateway_per_az {
            return violations;
        }
        for subnet in subnets.iter().filter(|s| is_private(s)) {
            let az = availability_zone(subnet).unwrap_or("?");
            let nat_az = private_route_nat(module, subnet)
                .and_then(|nat| referenced(module, nat.body.get("subnet_id")))
                .and_then(|public| availability_zone(public));
            if nat_az != Some(az) {
                violations.push(Diagnostic::new(
                    &subnet.address,
                    format!(
                        "private subnet in {az} does not route 0.0.0.0/0 through a NAT gateway in {az} (found {})",
                        nat_az.unwrap_or("none")
                    ),
                ));
            }
        }
        violations
    }
}

/// The NAT gateway a subnet's default route goes through, following
/// association → route table → route → NAT gateway.
fn private_route_nat<'m>(
    module: &'m ModuleView<'m>,
    subnet: &ResourceView<'_>,
) -> Option<&'m ResourceView<'m>> {
    let table = module
        .of_type("aws_route_table_association")
        .find(|a| points_at(a.body.get("subnet_id"), subnet))
        .and_then(|a| referenced(module, a.body.get("route_table_id")))?;
    let route = module.of_type("aws_route").find(|r| {
        points_at(r.body.get("route_table_id"), table)
            && r.body.get("destination_cidr_block").and_then(Value::as_str) == Some("0.0.0.0/0")
    })?;
    referenced(module, route.body.get("nat_gateway_id"))
}

/// Node groups run only in private subnets.
#[derive(Debug)]
pub struct PrivateNodeGroups;

impl Policy for PrivateNodeGroups {
    fn name(&self) -> &str {
        "private-node-groups"
    }

    fn description(&self) -> String {
        "node groups run only in private subnets".into()
    }

    fn check(&self, module: &ModuleView<'_>) -> Vec<Diagnostic> {
        let mut violations = Vec::new();
        for group in module.of_type("aws_eks_node_group") {
            let Some(subnet_ids) = group.body.get("subnet_ids").and_then(Value::as_array) else {
                violations.push(Diagnostic::new(
                    &group.address,
                    "subnet_ids is not a list of subnet references, so it cannot be checked",
                ));
                continue;
            };
            for id in subnet_ids {
                match referenced(module, Some(id)) {
                    Some(subnet) if subnet.ty == "aws_subnet" && is_private(subnet) => {}
                    Some(subnet) => violations.push(Diagnostic::new(
                        &group.address,
                        format!("runs in {}, which is not a private subnet", subnet.address),
                    )),
                    None => violations.push(Diagnostic::new(
                        &group.address,
                        format!(
                            "subnet {id} is not a subnet of this module, so it cannot be checked"
                        ),
                    )),
                }
            }
        }
        violations
    }
}

fn is_private(subnet: &ResourceView<'_>) -> bool {
    subnet
        .body
        .pointer(&format!("/tags/{}", PRIVATE_SUBNET_TAG.replace('/', "~1")))
        .is_some()
        && subnet.body.get("map_public_ip_on_launch") != Some(&Value::Bool(true))
}

fn availability_zone<'a>(subnet: &'a ResourceView<'_>) -> Option<&'a str> {
    subnet.body.get("availability_zone").and_then(Value::as_str)
}

fn is_unset(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(_) => false,
    }
}

/// A nested block rendered as an object or a list of objects.
fn blocks(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => Vec::new(),
    }
}

/// The resource a `"${type.name.attr}"` value refers to.
fn referenced<'m>(
    module: &'m ModuleView<'m>,
    value: Option<&Value>,
) -> Option<&'m ResourceView<'m>> {
    let text = value?.as_str()?;
    let inner = text.strip_prefix("${")?.strip_suffix('}')?;
    let mut parts = inner.split('.');
    let (ty, name) = (parts.next()?, parts.next()?);
    module
        .managed()
        .find(|r| r.ty == ty && r.address.to_string() == format!("{ty}.{name}"))
}

fn points_at(value: Option<&Value>, target: &ResourceView<'_>) -> bool {
    value
        .and_then(Value::as_str)
        .and_then(|s| s.strip_prefix("${"))
        .is_some_and(|s| s.starts_with(&format!("{}.", target.address)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use synth::{Address, Mode};

    use super::*;

    fn view<'a>(ty: &'a str, name: &str, body: &'a Value) -> ResourceView<'a> {
        ResourceView {
            stack: "network",
            address: Address::resource(ty, name),
            mode: Mode::Managed,
            ty,
            body,
            block: None,
        }
    }

    fn violations(resources: Vec<ResourceView<'_>>) -> Vec<String> {
        let module = ModuleView {
            environment: "test",
            resources,
            locals: Default::default(),
        };
        NoPublicIngress
            .check(&module)
            .into_iter()
            .map(|v| v.at)
            .collect()
    }

    #[test]
    fn only_a_public_load_balancer_group_may_admit_the_internet() {
        let open_group = json!({"ingress": [{"cidr_blocks": ["0.0.0.0/0"], "from_port": 443}]});
        let lb_group = json!({
            "ingress": [{"ipv6_cidr_blocks": ["::/0"], "from_port": 443}],
            "tags": {"Name": "lb", "Exposure": "public-load-balancer"},
        });
        let office_group = json!({"ingress": {"cidr_blocks": ["203.0.113.0/24"]}});
        let rule_to_lb =
            json!({"security_group_id": "${aws_security_group.lb.id}", "cidr_ipv4": "0.0.0.0/0"});
        let rule_to_app =
            json!({"security_group_id": "${aws_security_group.app.id}", "cidr_ipv4": "0.0.0.0/0"});
        let old_style_rule = json!({"type": "ingress", "security_group_id": "${aws_security_group.app.id}", "cidr_blocks": ["0.0.0.0/0"]});
        let egress_rule = json!({"type": "egress", "security_group_id": "${aws_security_group.app.id}", "cidr_blocks": ["0.0.0.0/0"]});
        let found = violations(vec![
            view("aws_security_group", "app", &open_group),
            view("aws_security_group", "lb", &lb_group),
            view("aws_security_group", "office", &office_group),
            view("aws_vpc_security_group_ingress_rule", "to_lb", &rule_to_lb),
            view(
                "aws_vpc_security_group_ingress_rule",
                "to_app",
                &rule_to_app,
            ),
            view("aws_security_group_rule", "old_style", &old_style_rule),
            view("aws_security_group_rule", "egress", &egress_rule),
        ]);
        assert_eq!(
            found,
            [
                "aws_security_group.app",
                "aws_vpc_security_group_ingress_rule.to_app",
                "aws_security_group_rule.old_style",
            ]
        );
    }
}
