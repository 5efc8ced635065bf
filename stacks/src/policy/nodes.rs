//! Policies on the nodes of the cluster, managed node groups and Karpenter's
//! alike: which role they act as, which capacity they run on, where Karpenter
//! may put them. Karpenter's EC2NodeClass and NodePools are read where they
//! are: from the locals the Karpenter component keeps them in, and from the
//! values of any release that carries them inline (Argo CD's root
//! Application, with GitOps on).

use serde_json::Value;
use synth::{Diagnostic, Expr, ModuleView, Policy, ResourceView};

use super::{is_private, referenced};
use crate::karpenter::DISCOVERY_TAG;

/// Karpenter's custom resources of one kind, with where each was found
/// (`local.<name>`, or the release whose values carry it).
fn karpenter_objects(module: &ModuleView<'_>, kind: &str) -> Vec<(String, Value)> {
    let wanted = |value: &Value| {
        let api = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        value.get("kind").and_then(Value::as_str) == Some(kind)
            && (api.starts_with("karpenter.sh/") || api.starts_with("karpenter.k8s.aws/"))
    };
    let mut found: Vec<(String, Value)> = module
        .locals
        .iter()
        .filter(|(_, value)| wanted(value))
        .map(|(name, value)| (format!("local.{name}"), (*value).clone()))
        .collect();
    for release in module.of_type("helm_release") {
        let Some(Expr::List(documents)) = release.block.and_then(|b| b.get("values")) else {
            continue;
        };
        for document in documents {
            let document = match document {
                Expr::Call(name, args) if name == "yamlencode" && args.len() == 1 => &args[0],
                other => other,
            };
            let mut inline = Vec::new();
            collect(&document.evaluate_with_stand_ins(), &wanted, &mut inline);
            found.extend(inline.into_iter().map(|v| (release.address.to_string(), v)));
        }
    }
    found
}

/// Every object below `value` (itself included) that `wanted` picks.
fn collect(value: &Value, wanted: &dyn Fn(&Value) -> bool, out: &mut Vec<Value>) {
    if wanted(value) {
        out.push(value.clone());
        return;
    }
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect(v, wanted, out)),
        Value::Object(map) => map.values().for_each(|v| collect(v, wanted, out)),
        _ => {}
    }
}

/// No node runs on spot capacity: no managed node group of capacity type
/// SPOT, no NodePool that allows `spot`. For environments whose floors say
/// `allow_spot = false`.
#[derive(Debug)]
pub struct NoSpot;

impl Policy for NoSpot {
    fn name(&self) -> &str {
        "no-spot"
    }

    fn check(&self, module: &ModuleView<'_>) -> Vec<Diagnostic> {
        let mut violations = Vec::new();
        for group in module.of_type("aws_eks_node_group") {
            if group.body.get("capacity_type").and_then(Value::as_str) != Some("ON_DEMAND") {
                violations.push(Diagnostic::new(
                    &group.address,
                    "node group capacity_type is not ON_DEMAND (unset means ON_DEMAND, but say so)",
                ));
            }
        }
        for (at, pool) in karpenter_objects(module, "NodePool") {
            if let Some(problem) = spot_allowed(&pool) {
                violations.push(Diagnostic::new(at, format!("NodePool {problem}")));
            }
        }
        violations
    }
}

/// Why a NodePool may run spot nodes, if it may. Karpenter reads the
/// capacity type from the requirements and from the template's labels; a
/// pool that names none could be given any, so it must name on-demand.
fn spot_allowed(pool: &Value) -> Option<String> {
    const KEY: &str = "karpenter.sh/capacity-type";
    let template = pool.pointer("/spec/template")?;
    if template
        .pointer("/metadata/labels")
        .and_then(|labels| labels.get(KEY))
        .is_some_and(|v| v == "spot")
    {
        return Some(format!("labels its nodes {KEY}=spot"));
    }
    let requirements: Vec<&Value> = template
        .pointer("/spec/requirements")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter(|r| r["key"] == KEY).collect())
        .unwrap_or_default();
    if requirements.is_empty() {
        return Some(format!(
            "has no {KEY} requirement, so nothing keeps it off spot; require on-demand"
        ));
    }
    for requirement in requirements {
        let values: Vec<&str> = requirement["values"]
            .as_array()
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let operator = requirement["operator"].as_str().unwrap_or_default();
        // Exists, DoesNotExist (any capacity type) and the rest allow spot.
        let excludes_spot = match operator {
            "In" => !values.contains(&"spot"),
            "NotIn" => values.contains(&"spot"),
            _ => false,
        };
        if !excludes_spot {
            return Some(format!(
                "allows spot capacity ({KEY} {operator} {values:?}); this environment runs \
                 on-demand only (policy allow_spot = false)"
            ));
        }
    }
    None
}

/// Nodes never act as the cluster's role: node groups, `EC2_*` access
/// entries and Karpenter's EC2NodeClass name roles of their own. The
/// cluster's role may manage ENIs and load balancers for the whole VPC; a
/// node (and any pod reaching its credentials) must not inherit that.
#[derive(Debug)]
pub struct NodeRoleIsNotClusterRole;

impl Policy for NodeRoleIsNotClusterRole {
    fn name(&self) -> &str {
        "node-role-not-cluster-role"
    }

    fn check(&self, module: &ModuleView<'_>) -> Vec<Diagnostic> {
        let cluster_roles: Vec<&ResourceView<'_>> = module
            .of_type("aws_eks_cluster")
            .filter_map(|c| referenced(module, c.body.get("role_arn")))
            .collect();
        let mut node_roles: Vec<(String, Option<Value>)> = Vec::new();
        for group in module.of_type("aws_eks_node_group") {
            node_roles.push((
                group.address.to_string(),
                group.body.get("node_role_arn").cloned(),
            ));
        }
        for entry in module.of_type("aws_eks_access_entry") {
            let node_entry = entry
                .body
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.starts_with("EC2_"));
            if node_entry {
                node_roles.push((
                    entry.address.to_string(),
                    entry.body.get("principal_arn").cloned(),
                ));
            }
        }
        for (at, class) in karpenter_objects(module, "EC2NodeClass") {
            node_roles.push((at, class.pointer("/spec/role").cloned()));
        }
        let mut violations = Vec::new();
        for (at, role) in node_roles {
            let role = role.as_ref();
            let found = referenced(module, role).or_else(|| {
                // A role given by name rather than by reference.
                let name = role?.as_str()?;
                module
                    .of_type("aws_iam_role")
                    .find(|r| r.body.get("name").and_then(Value::as_str) == Some(name))
            });
            match found {
                Some(role) if role.ty != "aws_iam_role" => violations.push(Diagnostic::new(
                    &at,
                    format!("node role refers to {}, not to a role", role.address),
                )),
                Some(role) if cluster_roles.iter().any(|c| c.address == role.address) => {
                    violations.push(Diagnostic::new(
                        &at,
                        format!(
                            "nodes would act as the cluster's role {}; give them a role of their own",
                            role.address
                        ),
                    ));
                }
                Some(_) => {}
                None if cluster_roles.is_empty() => {}
                None => violations.push(Diagnostic::new(
                    &at,
                    format!(
                        "node role {} is not a role of this module, so it cannot be checked",
                        role.map_or_else(|| "(none)".to_owned(), Value::to_string)
                    ),
                )),
            }
        }
        violations
    }
}

/// Karpenter launches nodes into what carries its discovery tag: subnets,
/// which must all be private (as the node groups'), and security groups, of
/// which there must be exactly one, so every node gets the same rules.
#[derive(Debug)]
pub struct KarpenterDiscovery;

impl Policy for KarpenterDiscovery {
    fn name(&self) -> &str {
        "karpenter-discovery"
    }

    fn check(&self, module: &ModuleView<'_>) -> Vec<Diagnostic> {
        let pointer = format!("/tags/{}", DISCOVERY_TAG.replace('/', "~1"));
        let mut violations = Vec::new();
        for subnet in module.of_type("aws_subnet") {
            if subnet.body.pointer(&pointer).is_some() && !is_private(subnet) {
                violations.push(Diagnostic::new(
                    &subnet.address,
                    format!("carries {DISCOVERY_TAG} but is not a private subnet: Karpenter would launch nodes in it"),
                ));
            }
        }
        let mut groups: Vec<String> = module
            .of_type("aws_security_group")
            .filter(|g| g.body.pointer(&pointer).is_some())
            .map(|g| g.address.to_string())
            .collect();
        groups.extend(
            module
                .of_type("aws_ec2_tag")
                .filter(|t| t.body.get("key").and_then(Value::as_str) == Some(DISCOVERY_TAG))
                .filter(|t| {
                    t.body
                        .get("resource_id")
                        .and_then(Value::as_str)
                        .is_some_and(|target| target.contains("security_group"))
                })
                .map(|t| t.address.to_string()),
        );
        let clusters: Vec<&ResourceView<'_>> = module.of_type("aws_eks_cluster").collect();
        if let Some(cluster) = clusters.first() {
            if groups.len() != 1 {
                violations.push(Diagnostic::new(
                    &cluster.address,
                    format!(
                        "{} security groups carry {DISCOVERY_TAG} ({}); Karpenter's nodes need exactly one",
                        groups.len(),
                        groups.join(", ")
                    ),
                ));
            }
        }
        violations
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use synth::{Address, Mode};

    use super::*;

    fn view<'a>(ty: &'a str, name: &str, body: &'a Value) -> ResourceView<'a> {
        ResourceView {
            stack: "app",
            address: Address::resource(ty, name),
            mode: Mode::Managed,
            ty,
            body,
            block: None,
        }
    }

    fn pool(requirements: Value, labels: Value) -> Value {
        json!({
            "apiVersion": "karpenter.sh/v1",
            "kind": "NodePool",
            "metadata": {"name": "general"},
            "spec": {"template": {
                "metadata": {"labels": labels},
                "spec": {"requirements": requirements},
            }},
        })
    }

    fn capacity(operator: &str, values: &[&str]) -> Value {
        json!([{"key": "karpenter.sh/capacity-type", "operator": operator, "values": values}])
    }

    #[test]
    fn only_pools_that_exclude_spot_pass() {
        let on_demand = pool(capacity("In", &["on-demand"]), json!({}));
        let not_spot = pool(capacity("NotIn", &["spot"]), json!({}));
        assert_eq!(spot_allowed(&on_demand), None);
        assert_eq!(spot_allowed(&not_spot), None);
        for (bad, says) in [
            (
                pool(capacity("In", &["on-demand", "spot"]), json!({})),
                "allows spot",
            ),
            (pool(capacity("Exists", &[]), json!({})), "allows spot"),
            (
                pool(capacity("NotIn", &["reserved"]), json!({})),
                "allows spot",
            ),
            (
                pool(json!([]), json!({})),
                "has no karpenter.sh/capacity-type requirement",
            ),
            (
                pool(
                    capacity("In", &["on-demand"]),
                    json!({"karpenter.sh/capacity-type": "spot"}),
                ),
                "labels its nodes",
            ),
        ] {
            let problem = spot_allowed(&bad).unwrap_or_default();
            assert!(problem.contains(says), "{bad}: {problem}");
        }
    }

    #[test]
    fn a_node_class_naming_the_cluster_role_is_refused() {
        let cluster = json!({"role_arn": "${aws_iam_role.cluster.arn}"});
        let role = json!({"name": "webapp-eks-cluster"});
        let class = json!({
            "apiVersion": "karpenter.k8s.aws/v1",
            "kind": "EC2NodeClass",
            "spec": {"role": "webapp-eks-cluster"},
        });
        let module = ModuleView {
            environment: "test",
            resources: vec![
                view("aws_eks_cluster", "main", &cluster),
                view("aws_iam_role", "cluster", &role),
            ],
            locals: [("karpenter_node_class", class)].into(),
        };
        let found = NodeRoleIsNotClusterRole.check(&module);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].at, "local.karpenter_node_class");
    }
}
