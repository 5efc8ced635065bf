//! The public name (`[edge].hostname`): an alias record in the
//! environment's Route 53 zone pointing at the load balancer the AWS Load
//! Balancer Controller made for the service, and the URLs to open.
//!
//! The controller tags every load balancer it makes with the cluster
//! (`elbv2.k8s.aws/cluster`) and what it made it for: the Ingress group
//! (`ingress.k8s.aws/stack`, ALB) or the Service (`service.k8s.aws/stack`,
//! NLB). Terraform finds it by those tags.
//!
//! When terraform installs the release, it reads the load balancer right
//! after the release (the release waits for its pods, which wait to be
//! registered in the load balancer's target group), in the app stack.
//!
//! When Argo CD delivers the release, no terraform block may follow it, and
//! the load balancer appears only once Argo CD has synced the service, after
//! terraform's apply. So the record is made in the network stack (phase 1,
//! AWS only) from a lookup that may find nothing: `aws_lbs` lists the load
//! balancers carrying the tags, and the load balancer and its record exist
//! in the configuration only when one does. Until Argo CD has synced, an
//! apply makes no record; the next apply after it (any `just apply`) plans
//! exactly that record, and a later replacement of the load balancer shows
//! as a change of the record in the next plan. docs/edge.md says so.

use std::collections::BTreeMap;

use bindings::aws::data_lb::DataLb;
use bindings::aws::data_lbs::DataLbs;
use bindings::aws::route53_record::{Alias, Route53Record};
use bindings::helm::release::ReleaseRef;
use bindings::prelude::*;
use synth::{App, Expr};

use crate::aws::Names;
use crate::config::{Environment, LoadBalancerKind};
use crate::edge::Edge;
use crate::Layer;

use super::{ALB_GROUP, RELEASE_NAME};

/// Who installs the service's release.
#[derive(Debug, Clone, Copy)]
pub(super) enum Delivery<'a> {
    /// Terraform, with this release.
    Terraform(&'a ReleaseRef),
    /// Argo CD, out of terraform's sight.
    ArgoCd,
}

/// The record and the outputs `service_url`, `configs_url` and
/// `load_balancer_hostname`.
pub(super) fn public_name(app: &mut App, env: &Environment, edge: &Edge, delivery: Delivery<'_>) {
    let tags = balancer_tags(env);
    let (stack, balancer_name) = match delivery {
        Delivery::Terraform(release) => {
            let stack = Layer::App.of(app);
            let balancer = stack.add(DataLb::new("webapp").tags(tags).depends_on(release));
            stack.add(record(env, edge, balancer.dns_name(), balancer.zone_id()));
            (stack, balancer.dns_name().into())
        }
        Delivery::ArgoCd => {
            let stack = Layer::Network.of(app);
            let found = stack.add(DataLbs::new("webapp").tags(tags.clone()));
            // One when the controller has made it, else none: a second one
            // with the same tags fails the lookup below, as it should.
            let present = Expr::call("min", [Expr::call("length", [found.arns()]), Expr::from(1)]);
            let balancer = stack.add(DataLb::new("webapp").tags(tags).count(present.clone()));
            // The typed accessors read a block without `count`; its first
            // instance is read by attribute name (both strings).
            let first = balancer.handle().at(0);
            stack.add(
                record(
                    env,
                    edge,
                    Value::assume(first.clone().attr("dns_name")),
                    Value::assume(first.attr("zone_id")),
                )
                .count(present),
            );
            // Empty until the load balancer exists.
            let names = balancer.handle().expr().splat().attr("dns_name");
            (stack, Expr::call("join", [Expr::from(""), names]))
        }
    };
    let hostname = env.config.edge.hostname.as_str();
    let url = |path: &str| format!("https://{hostname}{path}");
    stack.export(
        "service_url",
        Expr::from(url("/")),
        "The service's front page.",
    );
    stack.export(
        "configs_url",
        Expr::from(url("/configs")),
        "The service's /configs page: its APP_* configuration.",
    );
    stack.export(
        "load_balancer_hostname",
        balancer_name,
        "DNS name of the service's load balancer (the public name points at it; empty until it exists).",
    );
}

/// The tags the controller gives the service's load balancer. The cluster's
/// name is written as the config makes it, not read from the cluster, so
/// the lookup never waits on a change to the cluster.
fn balancer_tags(env: &Environment) -> BTreeMap<&'static str, String> {
    let (key, value) = match env.config.app.load_balancer.kind {
        // An Ingress group's load balancer is tagged with the group's name.
        LoadBalancerKind::Alb => ("ingress.k8s.aws/stack", ALB_GROUP.to_owned()),
        LoadBalancerKind::Nlb => (
            "service.k8s.aws/stack",
            format!("{}/{RELEASE_NAME}", env.config.service.namespace),
        ),
    };
    BTreeMap::from([
        ("elbv2.k8s.aws/cluster", Names::new(env).cluster()),
        (key, value),
    ])
}

/// The alias A record of the public name.
fn record(
    env: &Environment,
    edge: &Edge,
    name: Value<ty::String>,
    zone_id: Value<ty::String>,
) -> Route53Record {
    Route53Record::new(
        "webapp",
        env.config.edge.hostname.as_str(),
        "A",
        &edge.zone_id,
    )
    .alias(Alias::new(true, name, zone_id))
}
