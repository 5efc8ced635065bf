//! The `[edge]` section: the path from the internet to the service's load
//! balancer. The public name and the Route 53 zone it lives in, the TLS
//! certificate (issued by ACM and validated through that zone, or an
//! existing one), the TLS policy, and the WAF web ACL in front of an ALB.

use serde::{Deserialize, Serialize};

use super::app::LoadBalancerKind;
use super::check::{Scope, Section};
use super::{Config, LOG_RETENTION_DAYS};

/// Prefix of the ELB security policies that offer TLS 1.3.
pub const TLS13_POLICY_PREFIX: &str = "ELBSecurityPolicy-TLS13-";

/// The bounds AWS WAF puts on a rate-based rule's limit (requests per
/// client address in the evaluation window).
pub const WAF_RATE_LIMITS: std::ops::RangeInclusive<u32> = 10..=2_000_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeConfig {
    /// The service's public DNS name (the certificate's, and the record
    /// pointing at the load balancer).
    pub hostname: String,
    /// The public Route 53 hosted zone `hostname` lives in; it must exist
    /// (delegated from the registrar), this program only adds records.
    pub hosted_zone: String,
    /// An existing ACM certificate for `hostname`, in the environment's
    /// region; absent, one is requested and validated through `hosted_zone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<String>,
    /// The load balancer's TLS policy; it must offer TLS 1.3.
    pub ssl_policy: String,
    /// The web ACL in front of an ALB; an NLB cannot have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waf: Option<WafConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WafConfig {
    /// Requests one client address may send in 5 minutes before it is
    /// blocked (until its rate falls again).
    pub rate_limit: u32,
    /// Retention of the WAF's request log group.
    pub log_retention_days: u32,
}

impl Section for EdgeConfig {
    const KEY: &'static str = "edge";
    type Checked = ();

    fn check(&self, config: &Config, at: &mut Scope<'_>) {
        if let Err(message) = check_dns_name(&self.hostname) {
            at.problem("hostname", message);
        }
        if let Err(message) = check_dns_name(&self.hosted_zone) {
            at.problem("hosted_zone", message);
        } else if !in_zone(&self.hostname, &self.hosted_zone) {
            at.problem(
                "hostname",
                format!(
                    "`{}` is not in the hosted zone `{}`, so no record for it can be made there",
                    self.hostname, self.hosted_zone
                ),
            );
        }
        if let Some(arn) = &self.certificate_arn {
            if let Err(message) = check_certificate_arn(arn, &config.region) {
                at.problem("certificate_arn", message);
            }
        }
        if !self.ssl_policy.starts_with(TLS13_POLICY_PREFIX)
            || self.ssl_policy.len() == TLS13_POLICY_PREFIX.len()
        {
            at.problem(
                "ssl_policy",
                format!(
                    "`{}` does not offer TLS 1.3; use an {TLS13_POLICY_PREFIX}... policy such as \
                     ELBSecurityPolicy-TLS13-1-2-2021-06",
                    self.ssl_policy
                ),
            );
        }
        if let Some(waf) = &self.waf {
            if config.app.load_balancer.kind == LoadBalancerKind::Nlb {
                at.problem(
                    "waf",
                    "AWS WAF cannot be attached to a Network Load Balancer; set \
                     app.load_balancer.kind = \"alb\" or remove [edge.waf]",
                );
            }
            if !WAF_RATE_LIMITS.contains(&waf.rate_limit) {
                at.problem(
                    "waf.rate_limit",
                    format!(
                        "{} is outside what AWS WAF accepts ({} to {} requests per 5 minutes)",
                        waf.rate_limit,
                        WAF_RATE_LIMITS.start(),
                        WAF_RATE_LIMITS.end()
                    ),
                );
            }
            if !LOG_RETENTION_DAYS.contains(&waf.log_retention_days) {
                at.problem(
                    "waf.log_retention_days",
                    format!(
                        "{} is not a retention CloudWatch Logs accepts; use one of {LOG_RETENTION_DAYS:?}",
                        waf.log_retention_days
                    ),
                );
            }
        }
    }
}

/// Whether `name` is `zone` or a name below it.
fn in_zone(name: &str, zone: &str) -> bool {
    name == zone
        || name
            .strip_suffix(zone)
            .is_some_and(|head| head.ends_with('.') && head.len() > 1)
}

/// A lowercase DNS name of at least two labels, each 1 to 63 letters,
/// digits and `-`, not starting or ending with `-`; 253 characters at most.
fn check_dns_name(name: &str) -> Result<(), String> {
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |label: &&str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if name.len() <= 253 && labels.len() >= 2 && labels.iter().all(label_ok) {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a DNS name such as webapp.example.com (lowercase labels of letters, \
             digits and `-`, without a trailing dot)"
        ))
    }
}

/// An ACM certificate ARN in `region`, the only region whose load balancers
/// can use it.
pub(crate) fn check_certificate_arn(arn: &str, region: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let well_formed = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "acm"
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5]
            .strip_prefix("certificate/")
            .is_some_and(|id| !id.is_empty());
    if !well_formed {
        return Err(format!(
            "`{arn}` is not an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)"
        ));
    }
    if parts[3] != region {
        return Err(format!(
            "the certificate is in {}, but the load balancer is in {region}; a load balancer can \
             only use a certificate of its own region",
            parts[3]
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::check::{problems_in, shipped_staging};
    use super::*;

    /// This section's problems inside the shipped staging config, changed by `edit`.
    fn problems(edit: impl FnOnce(&mut Config)) -> Vec<String> {
        let mut config = shipped_staging();
        edit(&mut config);
        problems_in(&config.edge, &config)
    }

    #[test]
    fn the_shipped_section_has_no_problems() {
        assert_eq!(problems(|_| {}), Vec::<String>::new());
    }

    #[test]
    fn the_name_must_be_in_its_zone() {
        assert_eq!(
            problems(|c| c.edge.hostname = "webapp.example.org".into()),
            ["edge.hostname: `webapp.example.org` is not in the hosted zone `example.com`, so no record for it can be made there"]
        );
        assert_eq!(
            problems(|c| c.edge.hostname = "badexample.com".into()).len(),
            1,
            "a name merely ending like the zone is not in it"
        );
        assert!(
            problems(|c| c.edge.hostname = "Web_App.example.com".into())[0]
                .starts_with("edge.hostname: `Web_App.example.com` is not a DNS name")
        );
    }

    #[test]
    fn the_tls_policy_must_offer_tls_1_3() {
        assert_eq!(
            problems(|c| c.edge.ssl_policy = "ELBSecurityPolicy-2016-08".into()),
            ["edge.ssl_policy: `ELBSecurityPolicy-2016-08` does not offer TLS 1.3; use an ELBSecurityPolicy-TLS13-... policy such as ELBSecurityPolicy-TLS13-1-2-2021-06"]
        );
    }

    #[test]
    fn an_existing_certificate_must_be_of_the_region() {
        assert_eq!(
            problems(|c| c.edge.certificate_arn =
                Some("arn:aws:acm:us-east-1:111122223333:certificate/abc".into())),
            ["edge.certificate_arn: the certificate is in us-east-1, but the load balancer is in eu-west-1; a load balancer can only use a certificate of its own region"]
        );
        assert!(problems(
            |c| c.edge.certificate_arn = Some("arn:aws:iam::111122223333:role/x".into())
        )[0]
        .contains("is not an ACM certificate ARN"));
    }

    #[test]
    fn a_waf_needs_an_alb_and_limits_aws_accepts() {
        assert_eq!(
            problems(|c| {
                c.app.load_balancer.kind = LoadBalancerKind::Nlb;
                let waf = c.edge.waf.as_mut().expect("staging has a WAF");
                waf.rate_limit = 5;
                waf.log_retention_days = 42;
            }),
            [
                "edge.waf: AWS WAF cannot be attached to a Network Load Balancer; set app.load_balancer.kind = \"alb\" or remove [edge.waf]",
                "edge.waf.rate_limit: 5 is outside what AWS WAF accepts (10 to 2000000000 requests per 5 minutes)",
                "edge.waf.log_retention_days: 42 is not a retention CloudWatch Logs accepts; use one of [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]",
            ]
        );
    }
}
