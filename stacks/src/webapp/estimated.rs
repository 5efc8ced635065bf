//! What the service's release makes a controller create in AWS: the NLB the
//! AWS Load Balancer Controller provisions for its `LoadBalancer` Service
//! (helm-chart/templates/service.yaml: `aws-load-balancer-type: external`,
//! IP targets, the scheme of `[app.load_balancer]`).

use serde_json::{json, Map};

use crate::config::{Environment, LoadBalancerScheme};
use crate::estimate::{Count, Estimated};
use crate::network::{INTERNAL_ELB_TAG, PUBLIC_ELB_TAG};

use super::RELEASE_NAME;

/// The service's NLB: one load balancer with a node in every subnet the
/// controller discovers by the scheme's subnet tag.
pub fn estimated(env: &Environment) -> Vec<Estimated> {
    let lb = &env.config.app.load_balancer;
    let (internal, subnet_tag) = match lb.scheme {
        LoadBalancerScheme::InternetFacing => (false, PUBLIC_ELB_TAG),
        LoadBalancerScheme::Internal => (true, INTERNAL_ELB_TAG),
    };
    let mut listeners = Vec::new();
    if lb.http {
        listeners.push(json!({"port": 80, "protocol": "TCP"}));
    }
    if lb.tls_certificate_arn.is_some() {
        listeners.push(json!({"port": 443, "protocol": "TLS"}));
    }
    let mut attributes = Map::new();
    attributes.insert("load_balancer_type".into(), json!("network"));
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
            "the chart's Service {ns}/{RELEASE_NAME} (type LoadBalancer, NLB with IP targets) \
             and [app.load_balancer] (scheme {scheme})",
            ns = env.config.service.namespace,
            scheme = lb.scheme.as_str()
        ),
        role: None,
    }]
}
