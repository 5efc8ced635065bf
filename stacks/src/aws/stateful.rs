//! Which resource types hold data (or take the platform down with them):
//! synth refuses to take one out of an environment's state unless a `moved`
//! entry takes it elsewhere or `--allow-destroy ADDRESS` says so, and where
//! the config asks (`state.prevent_destroy`, production's floor) terraform
//! refuses to destroy them too.
//!
//! A component that adds a type holding data adds its line to [`STATEFUL`]
//! (sorted, one line per type), nothing else.
//!
//! Some data lives in objects terraform does not manage, and is guarded
//! through the one it does manage that takes it along: the volumes of the
//! monitoring stores (Prometheus, Alertmanager, Grafana, Loki's write-ahead
//! log) are EBS volumes the CSI driver creates for PersistentVolumeClaims
//! and deletes with them, and the claims go with their namespace; the
//! subscriptions people make to the alerts topic go with the topic.

use synth::{Address, App, Mode};

use crate::config::Environment;

/// Stateful types, each with what destroying one loses.
pub const STATEFUL: &[(&str, &str)] = &[
    ("aws_backup_vault", "its recovery points"),
    ("aws_cloudwatch_log_group", "its log events"),
    ("aws_db_instance", "the database and its automated backups"),
    ("aws_dynamodb_table", "the items in the table"),
    ("aws_ebs_volume", "the data on the volume"),
    ("aws_ecr_repository", "every image pushed to it"),
    ("aws_efs_file_system", "the files on it"),
    (
        "aws_eks_cluster",
        "the cluster and every Kubernetes object in it",
    ),
    (
        "aws_eks_node_group",
        "its nodes, and the pods running on them are evicted",
    ),
    ("aws_elasticache_replication_group", "the cached data"),
    (
        "aws_kms_key",
        "everything encrypted with it, unreadable once the key is gone",
    ),
    ("aws_opensearch_domain", "the indexed documents"),
    ("aws_rds_cluster", "the database and its automated backups"),
    ("aws_s3_bucket", "the objects stored in it"),
    (
        "aws_secretsmanager_secret",
        "the secret's value and its versions",
    ),
    (
        "aws_sns_topic",
        "every subscription people made to it: alerts reach no one until they subscribe again",
    ),
    ("aws_sqs_queue", "the messages waiting in it"),
    (
        "kubernetes_namespace_v1",
        "every object in it, and the volumes of its PersistentVolumeClaims (deleted with them)",
    ),
];

/// Whether resources of type `ty` hold data.
pub fn is_stateful(ty: &str) -> bool {
    STATEFUL.iter().any(|(t, _)| *t == ty)
}

/// The stateful resources of `app`, in stack order.
pub fn stateful_resources(app: &App) -> Vec<Address> {
    app.stacks()
        .iter()
        .flat_map(|s| s.resources())
        .filter(|r| r.mode() == Mode::Managed && is_stateful(r.ty()))
        .map(|r| r.address())
        .collect()
}

/// Declares the stateful types to `app`, and marks every stateful resource
/// `lifecycle.prevent_destroy` when the environment's config asks for it.
pub fn protect(app: &mut App, env: &Environment) {
    for (ty, loses) in STATEFUL {
        app.stateful(ty, loses);
    }
    if env.config.state.prevent_destroy {
        app.visit_resources_mut(|r| {
            if r.mode() == Mode::Managed && is_stateful(r.ty()) {
                r.prevent_destroy();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_with_one_line_per_type() {
        let types: Vec<&str> = STATEFUL.iter().map(|(t, _)| *t).collect();
        let mut sorted = types.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(types, sorted, "keep STATEFUL sorted, one line per type");
        assert!(STATEFUL.iter().all(|(t, loses)| {
            ["aws_", "kubernetes_"].iter().any(|p| t.starts_with(p)) && !loses.is_empty()
        }));
    }
}
