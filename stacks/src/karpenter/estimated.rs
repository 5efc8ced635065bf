//! The nodes Karpenter will launch, estimated from `[karpenter]` (see
//! [`crate::estimate`]): an `aws_instance` per NodePool, of one instance
//! type assumed from what the pool allows, between none and as many as the
//! pool's CPU and memory limits admit.
//!
//! Karpenter picks an instance type per launch, the cheapest that fits what
//! is pending (on-demand: lowest price; spot: price and capacity), so no
//! single type is right; the estimate names the one it assumes and why:
//! the `large` size (2 vCPUs, room for the node agents and a few pods) of
//! the allowed category cheapest per vCPU (c, then m, then r), sixth
//! generation when allowed (priced like the fifth in most regions, below
//! the seventh), Intel for amd64 (Graviton when only arm64 is allowed).
//!
//! The expected count: the pods nothing else takes land here (the system and
//! monitoring groups are tainted), and the service is the one that sizes
//! them: its chart spreads its pods over nodes and zones, and Karpenter
//! honours preferred spreads when it launches, so each of the service's
//! pods at its minimum replica count gets a node; the small add-ons without
//! a node group (metrics-server, the load balancer controller) fit beside
//! them. Only the first NodePool is expected to take them.

use serde_json::{json, Map};

use super::{DISCOVERY_TAG, NODE_POOLS_RELEASE_ID, NODE_ROLE_ID, RELEASE_ID};
use crate::config::{parse_quantity, Architecture, Environment, NodeCapacity, QuantityUnit};
use crate::estimate::{Count, Estimated};

/// Instance categories by GiB of memory per vCPU, cheapest per vCPU first.
const CATEGORIES: [(&str, f64); 3] = [("c", 2.0), ("m", 4.0), ("r", 8.0)];

/// The size assumed, and its vCPUs.
const SIZE: &str = "large";
const SIZE_VCPUS: f64 = 2.0;

/// The tag naming an instance's NodePool.
pub const NODEPOOL_TAG: &str = "karpenter.sh/nodepool";

/// The generation assumed when the pool allows it.
const GENERATION: u32 = 6;

/// An `aws_instance` estimate per NodePool.
pub fn estimated(env: &Environment) -> Vec<Estimated> {
    let karpenter = &env.config.karpenter;
    let app = &env.config.app;
    karpenter
        .node_pools
        .iter()
        .enumerate()
        .map(|(i, pool)| {
            let (category, gib_per_vcpu) = CATEGORIES
                .iter()
                .find(|(c, _)| pool.instance_categories.iter().any(|p| p == c))
                .copied()
                // Another category: named as such, so the price table says
                // it has no price rather than the estimate guessing one.
                .unwrap_or((pool.instance_categories[0].as_str(), 4.0));
            let generation = pool.min_instance_generation.max(GENERATION);
            let processor = if pool.architectures.contains(&Architecture::Amd64) {
                "i"
            } else {
                "g"
            };
            let instance_type = format!("{category}{generation}{processor}.{SIZE}");
            let memory_gib = SIZE_VCPUS * gib_per_vcpu;
            // Checked at load: both limits are quantities.
            let cpu = parse_quantity(&pool.cpu_limit, QuantityUnit::Cpu).unwrap_or_default();
            let memory =
                parse_quantity(&pool.memory_limit, QuantityUnit::Bytes).unwrap_or_default();
            let by_cpu = (cpu as f64 / (SIZE_VCPUS * 1000.0)).floor();
            let by_memory = (memory as f64 / (memory_gib * f64::from(1u32 << 30))).floor();
            let most = by_cpu.min(by_memory);
            let expected = if i == 0 {
                f64::from(app.autoscaling.min_replicas.max(1)).min(most)
            } else {
                0.0
            };
            let spot = pool.capacity_types.contains(&NodeCapacity::Spot);
            let mut attributes = Map::new();
            attributes.insert("instance_type".into(), json!(instance_type));
            attributes.insert(
                "capacity_type".into(),
                json!(if spot { "spot" } else { "on-demand" }),
            );
            attributes.insert(
                "root_block_device".into(),
                json!({"volume_size": karpenter.disk_size_gib, "volume_type": "gp3"}),
            );
            // The tag Karpenter puts on every instance it launches.
            attributes.insert("tags".into(), json!({ NODEPOOL_TAG: pool.name }));
            let share = if i == 0 {
                format!(
                    "{expected:.0} expected: a node for each of the service's {} pods at its \
                     minimum ([app.autoscaling] min_replicas; its chart spreads them over nodes \
                     and zones), the add-ons without a node group beside them",
                    app.autoscaling.min_replicas
                )
            } else {
                "none expected: the first NodePool takes the pods".to_owned()
            };
            Estimated {
                ty: "aws_instance".into(),
                name: pool.name.clone(),
                attributes,
                count: Count {
                    expected,
                    min: 0.0,
                    max: most,
                },
                subnet_tag: Some(DISCOVERY_TAG.into()),
                created_by: format!("helm_release.{NODE_POOLS_RELEASE_ID}"),
                controller: format!("helm_release.{RELEASE_ID}"),
                basis: format!(
                    "NodePool {name}: {instance_type} assumed ({SIZE_VCPUS:.0} vCPUs, \
                     {memory_gib:.0} GiB: the {SIZE} size of the cheapest category per vCPU it \
                     allows, generation {generation}; Karpenter picks per launch the cheapest \
                     type that fits), {capacity}; {share}; at most {most:.0}, as its limits of \
                     {cpu_limit} CPUs and {memory_limit} of memory allow",
                    name = pool.name,
                    capacity = if spot {
                        "spot (the pool allows it, and Karpenter prefers it)"
                    } else {
                        "on-demand only"
                    },
                    cpu_limit = pool.cpu_limit,
                    memory_limit = pool.memory_limit,
                ),
                role: Some(format!("aws_iam_role.{NODE_ROLE_ID}")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NodePoolConfig;

    fn staging() -> Environment {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace root");
        crate::load_environment(root, "staging").expect("shipped config")
    }

    fn pool(env: &Environment) -> NodePoolConfig {
        env.config.karpenter.node_pools[0].clone()
    }

    #[test]
    fn the_assumed_type_follows_what_the_pool_allows() {
        let mut env = staging();
        let mut only_big = pool(&env);
        only_big.name = "memory".into();
        only_big.instance_categories = vec!["r".into(), "x".into()];
        only_big.min_instance_generation = 7;
        only_big.architectures = vec![Architecture::Arm64];
        only_big.capacity_types = vec![NodeCapacity::OnDemand];
        // 8 CPUs and 100 GiB: 4 nodes of 2 vCPUs by CPU, 6 of 16 GiB by memory.
        only_big.cpu_limit = "8".into();
        only_big.memory_limit = "100Gi".into();
        let mut unknown = pool(&env);
        unknown.name = "gpu".into();
        unknown.instance_categories = vec!["g".into()];
        env.config.karpenter.node_pools.extend([only_big, unknown]);
        let estimates = estimated(&env);
        let of = |name: &str| {
            estimates
                .iter()
                .find(|e| e.name == name)
                .unwrap_or_else(|| panic!("{name}"))
        };
        let general = of("general");
        assert_eq!(general.attributes["instance_type"], "c6i.large");
        assert_eq!(general.attributes["capacity_type"], "spot");
        // 2 pods of the service, each on a node; 16 CPUs / 2 = 8 at most.
        assert_eq!((general.count.expected, general.count.max), (2.0, 8.0));
        let memory = of("memory");
        assert_eq!(memory.attributes["instance_type"], "r7g.large");
        assert_eq!(memory.attributes["capacity_type"], "on-demand");
        assert_eq!(
            (memory.count.expected, memory.count.min, memory.count.max),
            (0.0, 0.0, 4.0),
            "only the first pool takes the pods"
        );
        // No category the rule knows: named after the pool's, so the price
        // table reports it as unpriced instead of a guess.
        assert_eq!(of("gpu").attributes["instance_type"], "g6i.large");
        assert!(general.basis.contains("at most 8"), "{}", general.basis);
        assert_eq!(general.role.as_deref(), Some("aws_iam_role.karpenter_node"));
    }

    #[test]
    fn the_expected_count_never_passes_the_limits() {
        let mut env = staging();
        env.config.app.autoscaling.min_replicas = 12;
        env.config.karpenter.node_pools[0].cpu_limit = "6".into();
        let general = &estimated(&env)[0];
        assert_eq!((general.count.expected, general.count.max), (3.0, 3.0));
    }
}
