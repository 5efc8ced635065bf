//! What controllers inside the cluster will create in AWS: the NLB or ALB of
//! a Service or Ingress, the nodes Karpenter launches, the volumes of
//! persistent volume claims. Terraform never sees these, yet they are paid
//! for; each component that causes some estimates them from the config that
//! drives them, as [`Estimated`] resources.
//!
//! The extension point: a component adds `pub fn estimated(env:
//! &Environment) -> Vec<Estimated>` and a line in [`crate::ESTIMATORS`].
//! An estimated resource stands for an AWS resource type (`aws_lb`,
//! `aws_instance`, `aws_ebs_volume`) with that type's terraform attribute
//! names, so `infra cost` prices it and `infra graph` draws it exactly as it
//! would a block of that type, marked "estimated from config".
//!
//! [`crate::build`] records them in the module's manifest (metadata key
//! [`METADATA_KEY`], by address), so `infra diff` shows a change to each and
//! a module on disk can be priced without its config.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Manifest metadata key of the estimated resources.
pub const METADATA_KEY: &str = "estimated";

/// Manifest metadata key of the environment's `[usage]` section.
pub const USAGE_METADATA_KEY: &str = "usage";

/// Address prefix of an estimated resource: `estimated.aws_lb.webapp`.
pub const ADDRESS_PREFIX: &str = "estimated.";

/// An AWS resource a controller in the cluster creates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Estimated {
    /// The AWS resource type it stands for (`aws_lb`).
    #[serde(rename = "type")]
    pub ty: String,
    /// Unique among the estimated resources of its type (`webapp`).
    pub name: String,
    /// Its attributes, named as terraform names them for `ty`
    /// (`load_balancer_type`, `internal`, `instance_type`, `size`).
    pub attributes: Map<String, Value>,
    /// How many the controller is expected to run.
    pub count: Count,
    /// The subnets it lands in, found as its controller finds them: those
    /// carrying this tag key (`kubernetes.io/role/elb`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_tag: Option<String>,
    /// The block whose objects make the controller act
    /// (`helm_release.webapp`); without it in the module, nothing is created.
    pub created_by: String,
    /// The block running the controller (`helm_release.aws_load_balancer_controller`).
    pub controller: String,
    /// What the estimate rests on, in words, for the reader.
    pub basis: String,
    /// The IAM role it runs as (`aws_iam_role.karpenter_node`), by address:
    /// the picture draws the role beside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// Expected, fewest and most instances.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Count {
    pub expected: f64,
    pub min: f64,
    pub max: f64,
}

impl Count {
    /// Exactly `n`, always.
    pub fn exactly(n: f64) -> Self {
        Self {
            expected: n,
            min: n,
            max: n,
        }
    }
}

impl Estimated {
    /// `estimated.<type>.<name>`.
    pub fn address(&self) -> String {
        format!("{ADDRESS_PREFIX}{}.{}", self.ty, self.name)
    }
}

/// The estimates as the manifest records them: by address, so `infra diff`
/// shows the attribute of the one estimate that changed.
pub fn record(estimated: &[Estimated]) -> BTreeMap<String, &Estimated> {
    estimated.iter().map(|e| (e.address(), e)).collect()
}

/// The estimates of a manifest: by address, or as a list (as the first
/// `infra` to record them wrote).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Recorded {
    ByAddress(BTreeMap<String, Estimated>),
    List(Vec<Estimated>),
}

impl Recorded {
    pub fn into_vec(self) -> Vec<Estimated> {
        match self {
            Self::ByAddress(map) => map.into_values().collect(),
            Self::List(list) => list,
        }
    }
}
