//! The public name's certificate: requested from ACM, validated by a DNS
//! record in the environment's hosted zone, and handed on only once issued.

use bindings::aws::acm_certificate::{AcmCertificate, DomainValidationOptionsRef};
use bindings::aws::acm_certificate_validation::AcmCertificateValidation;
use bindings::aws::route53_record::Route53Record;
use bindings::prelude::*;
use synth::{Expr, Lifecycle, Stack};

use crate::aws::{name_tags, Names};

/// Requests the certificate of `hostname` and validates it through the zone;
/// returns its ARN as known after validation.
pub(super) fn issued(
    stack: &mut Stack,
    names: &Names,
    hostname: &str,
    zone_id: &Value<ty::String>,
) -> Value<ty::String> {
    let certificate = stack.add(
        AcmCertificate::new("edge")
            .domain_name(hostname)
            .validation_method("DNS")
            .tags(name_tags(&names.name("edge"), []))
            // A new name needs a new certificate: it is issued before the old
            // one goes, so the load balancer always has one to present.
            .lifecycle(Lifecycle::new().create_before_destroy()),
    );
    // One name, so one validation record. The options are a set, which has
    // no index: `tolist` makes it a list of the same objects.
    let options: Value<ty::List<ty::Object<DomainValidationOptionsRef>>> = Value::assume(
        Expr::call("tolist", [certificate.domain_validation_options()]),
    );
    let option = options.at(0);
    let record = stack.add(
        Route53Record::new(
            "certificate_validation",
            option.resource_record_name(),
            option.resource_record_type(),
            zone_id,
        )
        .records([option.resource_record_value()])
        .ttl(300)
        // ACM names the record after the domain and the account, so a
        // certificate issued again for the same name finds it in place.
        .allow_overwrite(true),
    );
    stack
        .add(
            AcmCertificateValidation::new("edge", certificate.arn())
                .validation_record_fqdns([record.fqdn()]),
        )
        .certificate_arn()
}
