//! The edge component: what stands between the internet and the service's
//! load balancer, in the network stack (phase 1 of an apply, before anything
//! runs on the cluster). The TLS certificate of the public name, issued by
//! ACM and validated through the environment's Route 53 zone (or an existing
//! one from config), and the WAF web ACL that the ALB is attached to, with
//! its request log. The record pointing the name at the load balancer is
//! made by the webapp component, once the controller has created the ALB
//! (in the app stack after the release, or, when Argo CD delivers the
//! service, in this stack from a lookup by the controller's tags).

mod certificate;
mod waf;

use bindings::aws::data_route53_zone::DataRoute53Zone;
use bindings::prelude::*;
use synth::{App, Expr};

use crate::aws::{inline_policy, Names, Partition, Statement};
use crate::config::Environment;
use crate::iam::ClusterIam;
use crate::network::Network;
use crate::Layer;

/// What the edge hands to the components that publish the service.
#[derive(Debug, Clone)]
pub struct Edge {
    /// The certificate the load balancer presents: once issued and validated
    /// when this module requests it, so nothing uses it before it works.
    pub certificate_arn: Value<ty::String>,
    /// The REGIONAL web ACL the ALB is attached to, when the environment has one.
    pub web_acl_arn: Option<Value<ty::String>>,
    /// The Route 53 zone of `[edge].hosted_zone`.
    pub zone_id: Value<ty::String>,
}

/// The certificate, the zone lookup and the WAF (network stack), and, when
/// CI deploys with terraform, the CI deployer's permission to point the
/// public name at the load balancer (iam stack): the app stack makes that
/// record on every deploy. With GitOps CI runs no terraform, and the record
/// is an administrator's apply.
pub fn edge(app: &mut App, env: &Environment, network: &Network, iam: &ClusterIam) -> Edge {
    let names = Names::new(env);
    let partition = Partition::of(&env.config.region);
    let edge = &env.config.edge;
    let stack = Layer::Network.of(app);
    let zone_id = stack
        .add(
            DataRoute53Zone::new("edge")
                .name(&edge.hosted_zone)
                .private_zone(false),
        )
        .zone_id();
    let certificate_arn = match &edge.certificate_arn {
        Some(arn) => Value::from(arn),
        None => certificate::issued(stack, &names, &edge.hostname, &zone_id),
    };
    let web_acl_arn = edge
        .waf
        .as_ref()
        .map(|config| waf::web_acl(stack, &names, &partition, config, network));
    if env.config.gitops_enabled().is_none() {
        ci_deployer_public_name(app, &partition, &edge.hostname, iam, &zone_id);
    }
    Edge {
        certificate_arn,
        web_acl_arn,
        zone_id,
    }
}

/// The CI deployer may change exactly the public name's A record.
fn ci_deployer_public_name(
    app: &mut App,
    partition: &Partition,
    hostname: &str,
    iam: &ClusterIam,
    zone_id: &Value<ty::String>,
) {
    inline_policy(
        Layer::Iam.of(app),
        "ci_deployer_public_name",
        "point-public-name",
        &iam.ci_deployer_role,
        [Statement::allow(["route53:ChangeResourceRecordSets"])
            .sid("PublicNameRecordOnly")
            .on([Value::template([
                Expr::from(format!("arn:{}:route53:::hostedzone/", partition.name)),
                zone_id.into(),
            ])])
            .condition(
                "ForAllValues:StringEquals",
                "route53:ChangeResourceRecordSetsNormalizedRecordNames",
                Expr::list([hostname]),
            )
            .condition(
                "ForAllValues:StringEquals",
                "route53:ChangeResourceRecordSetsRecordTypes",
                Expr::list(["A"]),
            )],
    );
}

#[cfg(test)]
mod tests;
