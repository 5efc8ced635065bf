//! The `[cluster]` section: the EKS control plane.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::check::{Scope, Section};
use super::cidr::Ipv4Cidr;
use super::Config;

/// The oldest and newest Kubernetes minor versions EKS offers standard or
/// extended support for with hashicorp/aws 5.100.
pub const KUBERNETES_MINOR_VERSIONS: std::ops::RangeInclusive<u32> = 28..=33;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// `1.NN`, as EKS spells it.
    pub kubernetes_version: String,
    /// Whether the API server is reachable from the internet (always from the VPC).
    pub endpoint_public_access: bool,
    /// Who may reach the public API endpoint.
    #[serde(default)]
    pub endpoint_public_access_cidrs: Vec<Ipv4Cidr>,
    /// Kubernetes service network; must not overlap the VPC.
    pub service_ipv4_cidr: Ipv4Cidr,
    /// Control-plane log types sent to CloudWatch.
    pub log_types: Vec<ControlPlaneLogType>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ControlPlaneLogType {
    Api,
    Audit,
    Authenticator,
    ControllerManager,
    Scheduler,
}

impl ControlPlaneLogType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Audit => "audit",
            Self::Authenticator => "authenticator",
            Self::ControllerManager => "controllerManager",
            Self::Scheduler => "scheduler",
        }
    }
}

impl Section for ClusterConfig {
    const KEY: &'static str = "cluster";
    type Checked = ();

    fn check(&self, config: &Config, at: &mut Scope<'_>) {
        let vpc = &config.network.vpc_cidr;
        if let Err(message) = parse_kubernetes_version(&self.kubernetes_version) {
            at.problem("kubernetes_version", message);
        }
        if self.endpoint_public_access && self.endpoint_public_access_cidrs.is_empty() {
            at.problem(
                "endpoint_public_access_cidrs",
                "is empty while endpoint_public_access is true; list the networks allowed \
                 to reach the API, or turn public access off",
            );
        }
        if !self.endpoint_public_access && !self.endpoint_public_access_cidrs.is_empty() {
            at.problem(
                "endpoint_public_access_cidrs",
                "is set while endpoint_public_access is false; it would have no effect",
            );
        }
        for (i, cidr) in self.endpoint_public_access_cidrs.iter().enumerate() {
            let field = format!("endpoint_public_access_cidrs[{i}]");
            if cidr.prefix() == 0 {
                at.problem(
                    &field,
                    "0.0.0.0/0 opens the Kubernetes API to the whole internet; list the networks that need it",
                );
            }
            for (j, earlier) in self.endpoint_public_access_cidrs[..i].iter().enumerate() {
                if cidr.overlaps(earlier) {
                    at.problem(
                        &field,
                        format!("{cidr} overlaps endpoint_public_access_cidrs[{j}] ({earlier})"),
                    );
                }
            }
        }
        let service = self.service_ipv4_cidr;
        if !service.is_rfc1918() || !(12..=24).contains(&service.prefix()) {
            at.problem(
                "service_ipv4_cidr",
                format!("{service} must be a /12 to /24 block inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (EKS rule)"),
            );
        }
        if service.overlaps(vpc) {
            at.problem(
                "service_ipv4_cidr",
                format!(
                    "{service} overlaps network.vpc_cidr ({vpc}); pods could not reach the VPC"
                ),
            );
        }
        if self.log_types.is_empty() {
            at.problem(
                "log_types",
                "is empty; at least api, audit and authenticator logs are expected",
            );
        }
        let unique: BTreeSet<_> = self.log_types.iter().collect();
        if unique.len() != self.log_types.len() {
            at.problem("log_types", "lists a log type twice");
        }
    }
}

/// The minor version of a `1.NN` Kubernetes version, if EKS supports it.
pub fn parse_kubernetes_version(version: &str) -> Result<u32, String> {
    let minor = version
        .strip_prefix("1.")
        .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()) && !m.starts_with('0'))
        .and_then(|m| m.parse::<u32>().ok())
        .ok_or_else(|| format!("`{version}` is not a Kubernetes minor version like \"1.32\""))?;
    if KUBERNETES_MINOR_VERSIONS.contains(&minor) {
        Ok(minor)
    } else {
        Err(format!(
            "`{version}` is not offered by EKS; use 1.{} to 1.{}",
            KUBERNETES_MINOR_VERSIONS.start(),
            KUBERNETES_MINOR_VERSIONS.end()
        ))
    }
}
