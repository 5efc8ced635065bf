//! The end-to-end overlay: points an environment's AWS provider at a local AWS
//! API emulator (moto server behind the shim in `scripts/e2e/emulator.py`),
//! so plain terraform can apply, re-plan and destroy the stacks without an
//! AWS account.
//!
//! It is applied only when [`crate::Options::emulator`] is set; the real
//! environments' output never carries it. It changes the aws provider's and
//! the S3 backend's configuration only, never a resource: the emulator's gaps are closed by the shim, not by
//! disabling resources or ignoring attributes here, so the run exercises the
//! same resource blocks as production. What the emulator cannot prove is
//! printed on every synthesis (see [`not_covered`]).

use bindings::aws::provider::{Endpoints, Provider};
use bindings::prelude::*;
use synth::{App, Backend, Expr, Mode};

use crate::Error;

/// An endpoint setter of the aws provider's `endpoints` block.
type EndpointSetter = fn(Endpoints, &str) -> Endpoints;

/// The AWS services the stacks call, each served by the emulator: the
/// provider's endpoint name, and its typed setter.
const SERVICES: &[(&str, EndpointSetter)] = &[
    ("acm", |e, url| e.acm(url)),
    ("ec2", |e, url| e.ec2(url)),
    ("ecr", |e, url| e.ecr(url)),
    ("eks", |e, url| e.eks(url)),
    ("elbv2", |e, url| e.elbv2(url)),
    ("events", |e, url| e.events(url)),
    ("iam", |e, url| e.iam(url)),
    ("kms", |e, url| e.kms(url)),
    ("lambda", |e, url| e.lambda(url)),
    ("logs", |e, url| e.logs(url)),
    ("route53", |e, url| e.route53(url)),
    ("s3", |e, url| e.s3(url)),
    ("secretsmanager", |e, url| e.secretsmanager(url)),
    ("sns", |e, url| e.sns(url)),
    ("sqs", |e, url| e.sqs(url)),
    ("ssm", |e, url| e.ssm(url)),
    ("sts", |e, url| e.sts(url)),
    ("wafv2", |e, url| e.wafv2(url)),
];

/// Which service serves each resource or data source type prefix, longest
/// prefix first wins. A type with no entry fails the overlay: its API calls
/// would otherwise go to real AWS with dummy credentials.
const SERVICE_OF_TYPE: &[(&str, Option<&str>)] = &[
    ("aws_acm_", Some("acm")),
    ("aws_cloudwatch_event_", Some("events")),
    ("aws_cloudwatch_log_", Some("logs")),
    ("aws_default_security_group", Some("ec2")),
    ("aws_ec2_tag", Some("ec2")),
    ("aws_ecr_", Some("ecr")),
    ("aws_eip", Some("ec2")),
    ("aws_eks_", Some("eks")),
    ("aws_flow_log", Some("ec2")),
    ("aws_iam_policy_document", None),
    ("aws_iam_", Some("iam")),
    ("aws_instance", Some("ec2")),
    ("aws_internet_gateway", Some("ec2")),
    ("aws_kms_", Some("kms")),
    ("aws_lambda_", Some("lambda")),
    ("aws_launch_template", Some("ec2")),
    ("aws_lb", Some("elbv2")),
    ("aws_nat_gateway", Some("ec2")),
    ("aws_route", Some("ec2")),
    ("aws_route53_", Some("route53")),
    ("aws_s3_", Some("s3")),
    ("aws_secretsmanager_", Some("secretsmanager")),
    ("aws_ssm_", Some("ssm")),
    ("aws_security_group", Some("ec2")),
    ("aws_sns_", Some("sns")),
    ("aws_sqs_", Some("sqs")),
    ("aws_subnet", Some("ec2")),
    ("aws_vpc", Some("ec2")),
    ("aws_wafv2_", Some("wafv2")),
    ("aws_availability_zones", Some("ec2")),
    ("aws_caller_identity", Some("sts")),
    ("aws_partition", None),
    ("aws_region", None),
];

/// Resource types whose API moto lacks: the shim stores them and answers for
/// them, but nothing behind the call happens.
const SHIM_SERVED: &[(&str, &str)] = &[
    ("aws_eks_addon", "add-on recorded, never installed"),
    (
        "aws_eks_access_entry",
        "access entry recorded, never enforced",
    ),
    (
        "aws_eks_access_policy_association",
        "policy association recorded, never enforced",
    ),
    (
        "aws_eks_pod_identity_association",
        "association recorded, no credentials issued",
    ),
    (
        "aws_secretsmanager_secret_rotation",
        "RotateSecret runs the rotation function's own code in the emulator process (no Lambda \
         runtime, no IAM check of its role)",
    ),
];

/// Resource types moto (or the shim) serves as records whose effect no run
/// exercises: one line per type, when the module has one.
const NOT_SIMULATED: &[(&str, &str)] = &[
    (
        "aws_acm_certificate",
        "ACM: the certificate is issued once its validation record is in the emulator's zone (the \
         shim checks the record's name and value); no CA, no DNS resolution",
    ),
    (
        "aws_cloudwatch_event_rule",
        "EventBridge rules and targets are stored, but no EC2 or AWS Health event is ever \
         emitted, so nothing reaches the interruption queue",
    ),
    (
        "aws_instance",
        "instances never boot, so the bastion's SSM agent and port forwarding are not exercised",
    ),
    (
        "aws_wafv2_web_acl",
        "WAF: the web ACL and its logging are stored, no request is filtered or logged (the smoke \
         test checks a deployed environment's WAF)",
    ),
];

/// What no emulator run can prove, whatever the stacks contain.
const ALWAYS_NOT_COVERED: &[&str] = &[
    "EKS: control plane records only; no Kubernetes API, no node boots (the app stack is not applied)",
    "IAM, KMS and SQS queue policies are stored, never evaluated",
    "networking is not simulated: routes, NAT and flow logs exist only as records",
];

/// Points every `aws` provider of `app`, and an S3 backend, at `endpoint`;
/// returns the lines saying what the emulator does not cover. Fails, naming
/// the block, when a resource type would be served by an AWS service the
/// emulator is not configured for.
pub fn apply(app: &mut App, endpoint: &str) -> Result<Vec<String>, Error> {
    check_loopback(endpoint)?;
    let mut unknown = Vec::new();
    for stack in app.stacks() {
        for resource in stack.resources() {
            if resource.ty().starts_with("aws_") && service_of(resource.ty()).is_err() {
                unknown.push(resource.address().to_string());
            }
        }
    }
    if !unknown.is_empty() {
        return Err(Error::Emulator(format!(
            "no emulator endpoint is configured for the service of {} \
             (add it to SERVICES and SERVICE_OF_TYPE in stacks/src/aws/emulator.rs, and check \
             the emulator supports it)",
            unknown.join(", ")
        )));
    }
    for stack in app.stacks_mut() {
        stack.overlay_providers(emulated(endpoint));
    }
    if let Some(backend) = app.backend_config().filter(|b| b.kind() == "s3").cloned() {
        app.backend(emulated_backend(backend, endpoint));
    }
    let mut notes = vec![format!(
        "emulator overlay: aws provider -> {endpoint} for {}, dummy credentials, \
         account/region/metadata checks skipped",
        SERVICES
            .iter()
            .map(|(service, _)| *service)
            .collect::<Vec<_>>()
            .join(", ")
    )];
    notes.extend(
        not_covered(app)
            .into_iter()
            .map(|line| format!("NOT COVERED by the emulator: {line}")),
    );
    Ok(notes)
}

/// The S3 backend's settings for the emulator, which accepts any credentials
/// and has no account or region metadata to validate against. Set by name: a
/// backend is terraform's own block, in no provider schema.
fn emulated_backend(backend: Backend, endpoint: &str) -> Backend {
    backend
        .set("endpoints", Expr::object([("s3", endpoint)]))
        .set("use_path_style", true)
        .set("access_key", "emulator")
        .set("secret_key", "emulator")
        .set("skip_credentials_validation", true)
        .set("skip_requesting_account_id", true)
        .set("skip_metadata_api_check", true)
        .set("skip_region_validation", true)
}

/// The aws provider's own settings for an emulator, laid over each declared
/// aws provider: it accepts any credentials and has no instance metadata,
/// account or region list to check against.
fn emulated(endpoint: &str) -> Provider {
    let endpoints = SERVICES
        .iter()
        .fold(Endpoints::new(), |endpoints, (_, set)| {
            set(endpoints, endpoint)
        });
    Provider::new()
        .endpoints(endpoints)
        .access_key("emulator")
        .secret_key("emulator")
        .s3_use_path_style(true)
        .skip_credentials_validation(true)
        .skip_requesting_account_id(true)
        // The schema types it a string; terraform converts the literal.
        .skip_metadata_api_check(Value::from_bool(true))
        .skip_region_validation(true)
}

/// The emulator listens on loopback only; anything else would send the dummy
/// credentials and every request of the run elsewhere.
fn check_loopback(endpoint: &str) -> Result<(), Error> {
    let host_port = endpoint.strip_prefix("http://").unwrap_or_default();
    let (host, port) = host_port
        .trim_end_matches('/')
        .rsplit_once(':')
        .unwrap_or_default();
    let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]");
    if !loopback || port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(Error::Emulator(format!(
            "endpoint `{endpoint}` must be http://127.0.0.1:<port> (a loopback URL with a port)"
        )));
    }
    Ok(())
}

fn service_of(ty: &str) -> Result<Option<&'static str>, ()> {
    SERVICE_OF_TYPE
        .iter()
        .filter(|(prefix, _)| ty.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, service)| *service)
        .ok_or(())
}

/// One line per resource the shim answers for, then the run-wide limits.
pub fn not_covered(app: &App) -> Vec<String> {
    let mut lines = Vec::new();
    for stack in app.stacks() {
        for resource in stack.resources() {
            if resource.mode() != Mode::Managed {
                continue;
            }
            if let Some((_, what)) = SHIM_SERVED.iter().find(|(ty, _)| *ty == resource.ty()) {
                lines.push(format!(
                    "{} is served by the e2e shim, not moto: {what}",
                    resource.address()
                ));
            }
        }
    }
    for (ty, what) in NOT_SIMULATED {
        let present = app
            .stacks()
            .iter()
            .flat_map(|s| s.resources())
            .any(|r| r.mode() == Mode::Managed && r.ty() == *ty);
        if present {
            lines.push((*what).to_owned());
        }
    }
    lines.extend(ALWAYS_NOT_COVERED.iter().map(|s| (*s).to_owned()));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use synth::{RequiredProvider, SynthOptions};

    fn app_with(types: &[(&str, &str)]) -> App {
        let mut app = App::new("staging");
        let stack = app.stack("network", "test");
        stack.require_provider("aws", RequiredProvider::new("hashicorp/aws", "~> 5.100"));
        stack.provider(Provider::new().region("eu-west-1").into());
        for (ty, name) in types {
            stack.resource(ty, name);
        }
        app
    }

    fn provider_json(app: &App) -> serde_json::Value {
        let module = app.synth(&SynthOptions::default()).expect("synth");
        let providers: serde_json::Value =
            serde_json::from_slice(&module.files["providers.tf.json"]).expect("json");
        let aws = &providers["provider"]["aws"];
        aws.as_array().map_or(aws, |a| &a[0]).clone()
    }

    #[test]
    fn points_every_service_at_the_emulator_and_keeps_the_rest() {
        let mut app = app_with(&[("aws_vpc", "main"), ("aws_eks_cluster", "main")]);
        apply(&mut app, "http://127.0.0.1:4566").expect("overlay");
        let aws = provider_json(&app);
        assert_eq!(aws["region"], "eu-west-1");
        for (service, _) in SERVICES {
            assert_eq!(
                aws["endpoints"][service], "http://127.0.0.1:4566",
                "{service}"
            );
        }
        assert_eq!(aws["skip_credentials_validation"], true);
        assert_eq!(aws["skip_requesting_account_id"], true);
        assert_eq!(aws["s3_use_path_style"], true);
    }

    #[test]
    fn without_the_overlay_the_provider_has_no_emulator_settings() {
        let app = app_with(&[("aws_vpc", "main")]);
        let aws = provider_json(&app);
        assert!(aws.get("endpoints").is_none());
        assert!(aws.get("access_key").is_none());
    }

    #[test]
    fn a_resource_of_an_unconfigured_service_is_refused_by_address() {
        let mut app = app_with(&[("aws_vpc", "main"), ("aws_dynamodb_table", "jobs")]);
        let err = apply(&mut app, "http://127.0.0.1:4566").expect_err("dynamodb has no endpoint");
        assert!(err.to_string().contains("aws_dynamodb_table.jobs"), "{err}");
    }

    #[test]
    fn only_loopback_endpoints_are_accepted() {
        for bad in [
            "https://127.0.0.1:4566",
            "http://10.0.0.1:4566",
            "http://127.0.0.1",
            "127.0.0.1:4566",
            "http://127.0.0.1:0",
        ] {
            let mut app = app_with(&[]);
            assert!(apply(&mut app, bad).is_err(), "{bad} accepted");
        }
        let mut app = app_with(&[]);
        apply(&mut app, "http://localhost:5000/").expect("loopback with port");
    }

    #[test]
    fn shim_served_resources_are_reported_by_address() {
        let app = app_with(&[("aws_eks_addon", "coredns"), ("aws_eks_cluster", "main")]);
        let lines = not_covered(&app);
        assert!(
            lines[0].starts_with("aws_eks_addon.coredns is served by the e2e shim"),
            "{lines:?}"
        );
        assert!(
            !lines.iter().any(|l| l.contains("aws_eks_cluster.main")),
            "{lines:?}"
        );
    }
}
