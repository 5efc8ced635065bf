//! Volumes for the stores (Prometheus, Alertmanager, Grafana, Loki's write
//! ahead log): the EBS CSI driver, without which no PersistentVolumeClaim
//! binds (EKS clusters from 1.30 on have no StorageClass at all), with its
//! IRSA role, and an encrypted gp3 StorageClass the charts ask for by name.

use synth::{App, Expr, Handle, Stack};

use crate::aws::{name_tags, Irsa, Names, Partition};
use crate::config::Environment;
use crate::eks::Eks;
use crate::Layer;

/// The StorageClass every volume of the monitoring stack is created with.
pub const STORAGE_CLASS: &str = "gp3-encrypted";

/// The driver's controller service account in kube-system, which the EKS
/// add-on creates and annotates with the role.
const CONTROLLER_SERVICE_ACCOUNT: &str = "ebs-csi-controller-sa";

/// The `aws-ebs-csi-driver` EKS add-on and the IRSA role it runs with.
pub fn ebs_csi_driver(app: &mut App, env: &Environment, irsa: &Irsa, eks: &Eks) -> Handle {
    let names = Names::new(env);
    let partition = Partition::of(&env.config.region);
    let iam = Layer::Iam.of(app);
    let role = irsa.role(
        iam,
        "ebs_csi_driver",
        &names.name("ebs-csi-driver"),
        crate::helm::ADDON_NAMESPACE,
        CONTROLLER_SERVICE_ACCOUNT,
    );
    // The AWS managed policy lives under the service-role/ path.
    let permissions = iam
        .resource("aws_iam_role_policy_attachment", "ebs_csi_driver")
        .set("role", role.attr("name"))
        .set(
            "policy_arn",
            partition.managed_policy("service-role/AmazonEBSCSIDriverPolicy"),
        )
        .handle();
    let stack = Layer::Eks.of(app);
    let addon = stack.resource("aws_eks_addon", "aws_ebs_csi_driver");
    addon
        .set("cluster_name", eks.cluster_name.clone())
        .set("addon_name", "aws-ebs-csi-driver")
        .set("service_account_role_arn", role.attr("arn"))
        .set("resolve_conflicts_on_create", "OVERWRITE")
        .set("resolve_conflicts_on_update", "OVERWRITE")
        .set("tags", name_tags(&names.name("aws-ebs-csi-driver"), []));
    // The controller needs nodes to run on, and its permissions before it
    // starts (and until it has deleted its volumes).
    for dependency in &eks.cluster_ready {
        addon.depends_on(dependency.clone());
    }
    addon.depends_on(&permissions);
    addon.handle()
}

/// gp3 volumes, encrypted, created in the zone of the pod that first uses
/// them (a volume lives in one AZ), growable, deleted with their claim.
pub fn storage_class(stack: &mut Stack) -> Handle {
    stack
        .resource("kubernetes_storage_class_v1", "gp3_encrypted")
        .set("metadata", Expr::object([("name", STORAGE_CLASS)]))
        .set("storage_provisioner", "ebs.csi.aws.com")
        .set("reclaim_policy", "Delete")
        .set("volume_binding_mode", "WaitForFirstConsumer")
        .set("allow_volume_expansion", true)
        .set(
            "parameters",
            Expr::object([("type", "gp3"), ("encrypted", "true")]),
        )
        .handle()
}
