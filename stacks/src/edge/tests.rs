//! The edge in the shipped environments and in config variants.

use serde_json::{json, Value};

use crate::config::LoadBalancerKind;
use crate::test_support::{attr, block, crate_dir, environment, policy, program, shipped};

fn has(app: &synth::App, ty: &str) -> bool {
    app.stacks()
        .iter()
        .flat_map(|s| s.resources())
        .any(|r| r.ty() == ty)
}

/// The `set` entry `name` of the webapp release, if any.
fn set_entry(app: &synth::App, name: &str) -> Option<Value> {
    let set = attr(app, "helm_release", "webapp", "set");
    set.as_array()
        .expect("set list")
        .iter()
        .find(|e| e["name"] == name)
        .map(|e| e["value"].clone())
}

#[test]
fn the_certificate_is_validated_in_the_zone_and_used_only_once_issued() {
    let app = shipped("production");
    assert_eq!(
        attr(&app, "aws_route53_zone", "edge", "name"),
        "example.com"
    );
    assert_eq!(
        attr(&app, "aws_acm_certificate", "edge", "domain_name"),
        "webapp.example.com"
    );
    assert_eq!(
        attr(&app, "aws_acm_certificate", "edge", "validation_method"),
        "DNS"
    );
    let record = |a: &str| attr(&app, "aws_route53_record", "certificate_validation", a);
    assert_eq!(record("zone_id"), "${data.aws_route53_zone.edge.zone_id}");
    assert_eq!(
        record("name"),
        "${(tolist(aws_acm_certificate.edge.domain_validation_options))[0].resource_record_name}"
    );
    assert_eq!(
        attr(
            &app,
            "aws_acm_certificate_validation",
            "edge",
            "validation_record_fqdns"
        ),
        json!(["${aws_route53_record.certificate_validation.fqdn}"])
    );
    // The load balancer gets the certificate only through its validation.
    assert_eq!(
        set_entry(&app, "ingress.certificateArn"),
        Some(json!(
            "${aws_acm_certificate_validation.edge.certificate_arn}"
        ))
    );
}

#[test]
fn an_existing_certificate_replaces_the_request() {
    let mut env = environment("staging");
    let arn = "arn:aws:acm:eu-west-1:111122223333:certificate/abcd";
    env.config.edge.certificate_arn = Some(arn.to_owned());
    let app = program(&env, &crate_dir().join("../helm-chart"));
    assert!(!has(&app, "aws_acm_certificate"));
    assert!(!has(&app, "aws_acm_certificate_validation"));
    assert_eq!(set_entry(&app, "ingress.certificateArn"), Some(json!(arn)));
}

#[test]
fn the_web_acl_has_the_managed_groups_a_rate_limit_and_visible_rules() {
    let app = shipped("staging");
    assert_eq!(attr(&app, "aws_wafv2_web_acl", "edge", "scope"), "REGIONAL");
    assert_eq!(
        attr(&app, "aws_wafv2_web_acl", "edge", "default_action"),
        json!({"allow": {}})
    );
    let rules = attr(&app, "aws_wafv2_web_acl", "edge", "rule");
    let rules = rules.as_array().expect("rules");
    let groups: Vec<&str> = rules
        .iter()
        .filter_map(|r| r["statement"]["managed_rule_group_statement"]["name"].as_str())
        .collect();
    assert_eq!(
        groups,
        [
            "AWSManagedRulesAmazonIpReputationList",
            "AWSManagedRulesKnownBadInputsRuleSet",
            "AWSManagedRulesCommonRuleSet",
        ]
    );
    let rate = &rules[0];
    assert_eq!(rate["action"], json!({"block": {}}));
    assert_eq!(
        rate["statement"]["rate_based_statement"],
        json!({"limit": 2000, "aggregate_key_type": "IP", "evaluation_window_sec": 300})
    );
    for rule in rules.iter().chain([&attr(
        &app,
        "aws_wafv2_web_acl",
        "edge",
        "visibility_config",
    )]) {
        let visibility = rule.get("visibility_config").unwrap_or(rule);
        assert_eq!(visibility["cloudwatch_metrics_enabled"], true, "{rule}");
        assert_eq!(visibility["sampled_requests_enabled"], true, "{rule}");
    }
    let priorities: Vec<u64> = rules
        .iter()
        .map(|r| r["priority"].as_u64().expect("priority"))
        .collect();
    assert_eq!(priorities, [10, 20, 30, 40]);
    assert_eq!(
        set_entry(&app, "ingress.wafAclArn"),
        Some(json!("${aws_wafv2_web_acl.edge.arn}"))
    );
}

#[test]
fn the_waf_logs_to_an_encrypted_group_it_may_write_with_credentials_redacted() {
    let app = shipped("production");
    let group = |a: &str| attr(&app, "aws_cloudwatch_log_group", "waf", a);
    assert!(group("name")
        .as_str()
        .is_some_and(|n| n.starts_with("aws-waf-logs-")));
    assert_eq!(group("retention_in_days"), 365);
    assert_eq!(group("kms_key_id"), "${aws_kms_key.logs.arn}");
    let logging = |a: &str| attr(&app, "aws_wafv2_web_acl_logging_configuration", "edge", a);
    assert_eq!(logging("resource_arn"), "${aws_wafv2_web_acl.edge.arn}");
    assert_eq!(
        logging("log_destination_configs"),
        json!(["${aws_cloudwatch_log_group.waf.arn}"])
    );
    assert_eq!(
        logging("redacted_fields"),
        json!([{"single_header": {"name": "authorization"}}, {"single_header": {"name": "cookie"}}])
    );
    let delivery = policy(
        &app,
        "aws_cloudwatch_log_resource_policy",
        "waf",
        "policy_document",
    );
    let statement = &delivery["Statement"][0];
    assert_eq!(
        statement["Principal"],
        json!({"Service": "delivery.logs.amazonaws.com"})
    );
    assert_eq!(
        statement["Resource"],
        json!(["${aws_cloudwatch_log_group.waf.arn}:*"])
    );
    assert_eq!(
        statement["Condition"]["StringEquals"]["aws:SourceAccount"],
        "${data.aws_caller_identity.current.account_id}"
    );
    assert!(
        block(&app, "aws_wafv2_web_acl_logging_configuration", "edge")
            .dependencies()
            .iter()
            .any(|a| a.to_string() == "aws_cloudwatch_log_resource_policy.waf")
    );
}

#[test]
fn an_nlb_gets_the_certificate_and_no_waf() {
    let mut env = environment("staging");
    env.config.app.load_balancer.kind = LoadBalancerKind::Nlb;
    env.config.edge.waf = None;
    env.config.gitops = None;
    let app = program(&env, &crate_dir().join("../helm-chart"));
    assert!(!has(&app, "aws_wafv2_web_acl"));
    assert_eq!(
        set_entry(&app, "service.tls.certificateArn"),
        Some(json!(
            "${aws_acm_certificate_validation.edge.certificate_arn}"
        ))
    );
    assert_eq!(set_entry(&app, "ingress.wafAclArn"), None);
    assert_eq!(
        attr(&app, "aws_lb", "webapp", "tags")["service.k8s.aws/stack"],
        "webapp/webapp"
    );
}
