//! What the service's release makes a controller create in AWS: the load
//! balancer the AWS Load Balancer Controller provisions for it, as
//! `[app.load_balancer]` publishes the service:
//!
//! - `alb`: an ALB for the chart's Ingress (helm-chart/templates/ingress.yaml:
//!   HTTPS on 443 with the edge's certificate, HTTP on 80 answering with a
//!   redirect, IP targets), one per Ingress group;
//! - `nlb`: an NLB for the chart's `LoadBalancer` Service
//!   (helm-chart/templates/service.yaml: TLS on 443 with the edge's
//!   certificate, plain TCP on 80 when `http` is on, IP targets).

use serde_json::{json, Map, Value};

use crate::config::{Environment, LoadBalancerKind, LoadBalancerScheme};
use crate::estimate::{Count, Estimated};
use crate::network::{INTERNAL_ELB_TAG, PUBLIC_ELB_TAG};

use super::RELEASE_NAME;

/// The service's load balancer: one, with a node in every subnet the
/// controller discovers by the scheme's subnet tag.
pub fn estimated(env: &Environment) -> Vec<Estimated> {
    let lb = &env.config.app.load_balancer;
    let (internal, subnet_tag) = match lb.scheme {
        LoadBalancerScheme::InternetFacing => (false, PUBLIC_ELB_TAG),
        LoadBalancerScheme::Internal => (true, INTERNAL_ELB_TAG),
    };
    let (load_balancer_type, listeners, what): (&str, Vec<Value>, String) = match lb.kind {
        LoadBalancerKind::Alb => (
            "application",
            vec![
                json!({"port": 443, "protocol": "HTTPS"}),
                json!({"port": 80, "protocol": "HTTP"}),
            ],
            format!(
                "the chart's Ingress {}/{RELEASE_NAME} (ALB, group {}, IP targets)",
                env.config.service.namespace,
                super::ALB_GROUP
            ),
        ),
        LoadBalancerKind::Nlb => {
            let mut listeners = Vec::new();
            if lb.http {
                listeners.push(json!({"port": 80, "protocol": "TCP"}));
            }
            listeners.push(json!({"port": 443, "protocol": "TLS"}));
            (
                "network",
                listeners,
                format!(
                    "the chart's Service {}/{RELEASE_NAME} (type LoadBalancer, NLB with IP targets)",
                    env.config.service.namespace
                ),
            )
        }
    };
    let mut attributes = Map::new();
    attributes.insert("load_balancer_type".into(), json!(load_balancer_type));
    attributes.insert("internal".into(), json!(internal));
    attributes.insert("listener".into(), json!(listeners));
    vec![Estimated {
        ty: "aws_lb".into(),
        name: RELEASE_NAME.into(),
        attributes,
        count: Count::exactly(1.0),
        subnet_tag: Some(subnet_tag.into()),
        created_by: format!("helm_release.{RELEASE_NAME}"),
        controller: format!("helm_release.{}", crate::lb_controller::RELEASE_ID),
        basis: format!(
            "{what} and [app.load_balancer] (kind {}, scheme {})",
            lb.kind.as_str(),
            lb.scheme.as_str()
        ),
        role: None,
    }]
}
