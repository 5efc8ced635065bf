//! Volumes for the stores (Prometheus, Alertmanager, Grafana, Loki's write
//! ahead log): the EBS CSI driver, without which no PersistentVolumeClaim
//! binds (EKS clusters from 1.30 on have no StorageClass at all), with its
//! IRSA role, and an encrypted gp3 StorageClass the charts ask for by name.

use std::collections::BTreeMap;

use bindings::aws::eks_addon::{EksAddon, EksAddonRef};
use bindings::aws::iam_role_policy_attachment::IamRolePolicyAttachment;
use bindings::kubernetes::storage_class_v1::{Metadata, StorageClassV1, StorageClassV1Ref};
use bindings::prelude::*;
use synth::{App, Stack};

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
pub fn ebs_csi_driver(app: &mut App, env: &Environment, irsa: &Irsa, eks: &Eks) -> EksAddonRef {
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
    let permissions = iam.add(IamRolePolicyAttachment::new(
        "ebs_csi_driver",
        partition.managed_policy("service-role/AmazonEBSCSIDriverPolicy"),
        role.name(),
    ));
    Layer::Eks.of(app).add(
        EksAddon::new(
            "aws_ebs_csi_driver",
            "aws-ebs-csi-driver",
            &eks.cluster_name,
        )
        .service_account_role_arn(role.arn())
        .resolve_conflicts_on_create("OVERWRITE")
        .resolve_conflicts_on_update("OVERWRITE")
        .tags(name_tags(&names.name("aws-ebs-csi-driver"), []))
        // The controller needs nodes to run on, and its permissions before
        // it starts (and until it has deleted its volumes).
        .depends_on_all(eks.cluster_ready.clone())
        .depends_on(&permissions),
    )
}

/// gp3 volumes, encrypted, created in the zone of the pod that first uses
/// them (a volume lives in one AZ), growable, deleted with their claim.
pub fn storage_class(stack: &mut Stack) -> StorageClassV1Ref {
    stack.add(
        StorageClassV1::new(
            "gp3_encrypted",
            Metadata::new().name(STORAGE_CLASS),
            "ebs.csi.aws.com",
        )
        .reclaim_policy("Delete")
        .volume_binding_mode("WaitForFirstConsumer")
        .allow_volume_expansion(true)
        .parameters(BTreeMap::from([("type", "gp3"), ("encrypted", "true")])),
    )
}
