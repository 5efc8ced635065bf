//! The secrets component in the shipped environments and in config variants.

use serde_json::{json, Value};

use crate::config::SecretSource;
use crate::test_support::{
    attr, block, crate_dir, environment, policy, program, shipped, synth_json,
};

fn count(app: &synth::App, ty: &str) -> usize {
    app.stacks()
        .iter()
        .flat_map(|s| s.resources())
        .filter(|r| r.ty() == ty)
        .count()
}

/// The objects the service namespace's custom-resources release installs.
fn objects(app: &synth::App) -> Vec<Value> {
    let release = block(app, "helm_release", "service_secrets");
    match release.get("values") {
        Some(synth::Expr::List(docs)) => match &docs[0] {
            synth::Expr::Call(name, args) if name == "yamlencode" => args[0]
                .evaluate_with_stand_ins()["objects"]
                .as_array()
                .expect("objects")
                .clone(),
            other => panic!("values are not yamlencode: {other:?}"),
        },
        other => panic!("no values: {other:?}"),
    }
}

#[test]
fn each_secret_is_encrypted_by_its_own_key_and_has_no_value_here() {
    let app = shipped("production");
    let secret = |a: &str| attr(&app, "aws_secretsmanager_secret", "app_secret", a);
    assert_eq!(secret("name"), "webapp-production/webapp/APP_SECRET");
    assert_eq!(secret("kms_key_id"), "${aws_kms_key.app_secrets.arn}");
    assert_eq!(secret("recovery_window_in_days"), 30);
    assert_eq!(
        attr(&app, "aws_kms_key", "app_secrets", "enable_key_rotation"),
        true
    );
    // Values never pass through Terraform: no version, anywhere.
    assert_eq!(count(&app, "aws_secretsmanager_secret_version"), 0);
    // The only Kubernetes Secrets terraform writes are the platform's
    // reviewed bootstrap ones, none of them the service's.
    for stack in app.stacks() {
        for r in stack.resources() {
            if r.ty() == "kubernetes_secret_v1" {
                let address = r.address().to_string();
                assert!(
                    crate::policy::TERRAFORM_WRITTEN_SECRETS
                        .iter()
                        .any(|(a, _)| *a == address),
                    "{address}"
                );
            }
        }
    }
    let (files, _) = synth_json(&environment("production"));
    assert!(files["variables.tf.json"]["variable"]
        .get("app_secret")
        .is_none());
}

#[test]
fn the_namespace_role_reads_exactly_its_secrets_through_secrets_manager_only() {
    let app = shipped("staging");
    let trust = attr(
        &app,
        "aws_iam_policy_document",
        "secrets_reader_trust",
        "statement",
    );
    let conditions = &trust[0]["condition"];
    assert!(conditions
        .as_array()
        .expect("conditions")
        .iter()
        .any(|c| c["values"] == json!(["system:serviceaccount:webapp:secrets-reader"])));
    let document = policy(&app, "aws_iam_role_policy", "secrets_reader", "policy");
    let statements = document["Statement"].as_array().expect("statements");
    assert_eq!(statements.len(), 2, "{document}");
    assert_eq!(
        statements[0]["Action"],
        json!([
            "secretsmanager:GetSecretValue",
            "secretsmanager:DescribeSecret"
        ])
    );
    assert_eq!(
        statements[0]["Resource"],
        json!(["${aws_secretsmanager_secret.app_secret.arn}"])
    );
    assert_eq!(statements[1]["Action"], json!(["kms:Decrypt"]));
    assert_eq!(
        statements[1]["Resource"],
        json!(["${aws_kms_key.app_secrets.arn}"])
    );
    assert_eq!(
        statements[1]["Condition"]["StringEquals"],
        json!({
            "kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com",
            "kms:EncryptionContext:SecretARN": ["${aws_secretsmanager_secret.app_secret.arn}"],
        })
    );
}

#[test]
fn generated_secrets_rotate_on_the_configured_schedule_through_the_packaged_function() {
    let env = environment("staging");
    let (files, module) = synth_json(&env);
    let app = shipped("staging");
    assert_eq!(
        attr(
            &app,
            "aws_secretsmanager_secret_rotation",
            "secret_rotation_app_secret",
            "rotation_rules"
        ),
        json!({"automatically_after_days": 30})
    );
    assert_eq!(
        attr(
            &app,
            "aws_lambda_permission",
            "secret_rotation_app_secret",
            "source_arn"
        ),
        "${aws_secretsmanager_secret.app_secret.arn}"
    );
    let function = &files["iam.tf.json"]["resource"]["aws_lambda_function"]["secret_rotation"];
    assert_eq!(
        function["filename"],
        "${path.module}/lambda/secret-rotation.zip"
    );
    assert_eq!(function["handler"], "secret_rotation.handler");
    assert_eq!(function["tracing_config"], json!({"mode": "Active"}));
    let package = &module.files["lambda/secret-rotation.zip"];
    let source = include_bytes!("../../lambda/secret_rotation.py");
    assert!(
        package.windows(source.len()).any(|w| w == source),
        "the package holds the function's source as stored"
    );
    let rotate = policy(&app, "aws_iam_role_policy", "secret_rotation", "policy");
    assert_eq!(
        rotate["Statement"][0]["Resource"],
        json!(["${aws_secretsmanager_secret.app_secret.arn}"])
    );
}

#[test]
fn external_secrets_are_not_rotated_and_need_no_function() {
    let mut env = environment("staging");
    for source in env.config.secrets.values.values_mut() {
        *source = SecretSource::External;
    }
    env.config
        .secrets
        .values
        .insert("APP_PARTNER_TOKEN".into(), SecretSource::External);
    let app = program(&env, &crate_dir().join("../helm-chart"));
    assert_eq!(count(&app, "aws_secretsmanager_secret"), 2);
    assert_eq!(count(&app, "aws_secretsmanager_secret_rotation"), 0);
    assert_eq!(count(&app, "aws_lambda_function"), 0);
    assert!(attr(
        &app,
        "aws_secretsmanager_secret",
        "app_partner_token",
        "description"
    )
    .as_str()
    .is_some_and(|d| d.contains(
        "aws secretsmanager put-secret-value --secret-id webapp-staging/webapp/APP_PARTNER_TOKEN"
    )));
}

#[test]
fn the_operator_runs_in_its_namespace_and_the_store_authenticates_as_the_namespace() {
    let app = shipped("production");
    assert_eq!(
        attr(&app, "helm_release", "external_secrets", "version"),
        "2.9.0"
    );
    assert_eq!(
        attr(&app, "helm_release", "external_secrets", "namespace"),
        "${kubernetes_namespace_v1.external_secrets.metadata[0].name}"
    );
    assert_eq!(
        attr(&app, "helm_release", "service_secrets", "namespace"),
        "${kubernetes_namespace_v1.app.metadata[0].name}"
    );
    let objects = objects(&app);
    let kinds: Vec<&str> = objects.iter().filter_map(|o| o["kind"].as_str()).collect();
    assert_eq!(kinds, ["ServiceAccount", "SecretStore", "ExternalSecret"]);
    assert_eq!(
        objects[0]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "${aws_iam_role.secrets_reader.arn}"
    );
    assert_eq!(
        objects[1]["spec"]["provider"]["aws"]["auth"],
        json!({"jwt": {"serviceAccountRef": {"name": "secrets-reader"}}})
    );
    let external = &objects[2]["spec"];
    assert_eq!(external["refreshInterval"], "15m");
    assert_eq!(external["target"]["name"], "webapp-secrets");
    assert_eq!(
        external["data"],
        json!([{"secretKey": "APP_SECRET", "remoteRef": {"key": "webapp-production/webapp/APP_SECRET"}}])
    );
    // The service follows its secrets, and goes before them on destroy.
    assert!(block(&app, "helm_release", "webapp")
        .dependencies()
        .iter()
        .any(|a| a.to_string() == "helm_release.service_secrets"));
}

/// Nothing runs the operator before Karpenter's nodes exist (nothing
/// Karpenter or Argo CD needs is a secret it delivers), so it takes no place
/// of its own: no node selector, toleration or affinity in any component.
/// The system nodes' `CriticalAddonsOnly` taint and the monitoring nodes'
/// taint keep it off both; Karpenter's NodePools take it. And it waits for
/// the NodePools, as the other add-ons do.
#[test]
fn the_operator_runs_on_karpenters_nodes_after_the_node_pools() {
    for env in ["staging", "production"] {
        let app = shipped(env);
        let release = crate::releases::release_values(&app)
            .into_iter()
            .find(|r| r.address == "helm_release.external_secrets")
            .expect("the operator's release");
        let text = release.values.to_string();
        for key in [
            "nodeSelector",
            "tolerations",
            "affinity",
            "priorityClassName",
        ] {
            assert!(
                !text.contains(key),
                "{env}: the operator sets {key}: {text}"
            );
        }
        let after: Vec<String> = block(&app, "helm_release", "external_secrets")
            .dependencies()
            .into_iter()
            .map(ToString::to_string)
            .collect();
        assert!(
            after.contains(&"helm_release.karpenter_node_pools".to_owned()),
            "{env}: {after:?}"
        );
    }
}
