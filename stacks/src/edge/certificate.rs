//! The public name's certificate: requested from ACM, validated by a DNS
//! record in the environment's hosted zone, and handed on only once issued.

use synth::{Expr, Lifecycle, Stack};

use crate::aws::{name_tags, Names};

/// Requests the certificate of `hostname` and validates it through the zone;
/// returns its ARN as known after validation.
pub(super) fn issued(stack: &mut Stack, names: &Names, hostname: &str, zone_id: &Expr) -> Expr {
    let certificate = stack
        .resource("aws_acm_certificate", "edge")
        .set("domain_name", hostname)
        .set("validation_method", "DNS")
        .set("tags", name_tags(&names.name("edge"), []))
        // A new name needs a new certificate: it is issued before the old one
        // goes, so the load balancer always has one to present.
        .lifecycle(Lifecycle::new().create_before_destroy())
        .handle();
    // One name, so one validation record.
    let option = Expr::call("tolist", [certificate.attr("domain_validation_options")]).index(0);
    let record = stack
        .resource("aws_route53_record", "certificate_validation")
        .set("zone_id", zone_id.clone())
        .set("name", option.clone().attr("resource_record_name"))
        .set("type", option.clone().attr("resource_record_type"))
        .set(
            "records",
            Expr::list([option.attr("resource_record_value")]),
        )
        .set("ttl", 300)
        // ACM names the record after the domain and the account, so a
        // certificate issued again for the same name finds it in place.
        .set("allow_overwrite", true)
        .handle();
    stack
        .resource("aws_acm_certificate_validation", "edge")
        .set("certificate_arn", certificate.attr("arn"))
        .set("validation_record_fqdns", Expr::list([record.attr("fqdn")]))
        .handle()
        .attr("certificate_arn")
}
