//! The typed builders render byte for byte what the stacks build today with
//! `Resource::set`: the same sample is built both ways, each module is
//! synthesized (so every block also passes the provider schema checks), and
//! the files are compared. The sample covers each rendering the golden files
//! hold: blocks with `max_items = 1` as objects, a repeatable block set once
//! as an object and several times as a list, set-nested blocks, nested
//! attributes, maps, references into list blocks, jsonencode and template
//! strings, a string the provider reads as a bool, and meta-arguments.

use std::collections::BTreeMap;

use bindings::aws::{
    data_caller_identity, data_iam_policy_document as policy_document, ecr_repository, eks_cluster,
    eks_node_group, iam_role, launch_template, subnet, vpc,
};
use bindings::helm::{provider as helm_provider, release};
use bindings::kubernetes::{namespace_v1, provider as k8s_provider, secret_v1};
use bindings::prelude::*;
use synth::{
    App, Expr, Lifecycle, Provider, RequiredProvider, Schemas, Stack, SynthOptions, Variable,
};

fn schemas() -> Schemas {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../stacks/schemas");
    let mut schemas = Schemas::new();
    for name in ["aws", "helm", "kubernetes"] {
        let text = std::fs::read_to_string(format!("{dir}/{name}.json")).expect("schema file");
        schemas.add_json(&text).expect("provider schema");
    }
    schemas
}

fn require_providers(stack: &mut Stack) {
    stack.require_provider("aws", RequiredProvider::new("hashicorp/aws", "~> 5.100"));
    stack.require_provider("helm", RequiredProvider::new("hashicorp/helm", "~> 3.1"));
    stack.require_provider(
        "kubernetes",
        RequiredProvider::new("hashicorp/kubernetes", "~> 2.38"),
    );
}

fn tags(name: &str) -> BTreeMap<&'static str, String> {
    BTreeMap::from([("Name", name.to_owned())])
}

/// A trust policy document, the same on both sides (it is plain `Expr`).
fn trust_document(account_id: Expr) -> Expr {
    Expr::object([
        ("Version", Expr::from("2012-10-17")),
        (
            "Statement",
            Expr::list([Expr::object([
                ("Effect", Expr::from("Allow")),
                ("Action", Expr::list(["sts:AssumeRole"])),
                (
                    "Principal",
                    Expr::object([(
                        "AWS",
                        Expr::template([
                            Expr::from("arn:aws:iam::"),
                            account_id,
                            Expr::from(":root"),
                        ]),
                    )]),
                ),
            ])]),
        ),
    ])
}

/// The sample with the generated builders.
fn typed(stack: &mut Stack) {
    require_providers(stack);
    stack.provider(
        bindings::aws::Provider::new()
            .region("eu-west-1")
            .default_tags(
                bindings::aws::provider::DefaultTags::new()
                    .tags(BTreeMap::from([("Project", "infra")])),
            )
            .into(),
    );
    let app_secret: Value<ty::String> =
        stack.typed_variable("app_secret", Variable::new().sensitive());
    let account = stack.add(data_caller_identity::DataCallerIdentity::new("current"));

    let vpc = stack.add(
        vpc::Vpc::new("main")
            .cidr_block("10.0.0.0/16")
            .enable_dns_support(true)
            .tags(tags("vpc")),
    );
    let subnets: Vec<Value<ty::String>> = ["a", "b"]
        .into_iter()
        .enumerate()
        .map(|(i, az)| {
            stack
                .add(
                    subnet::Subnet::new(&format!("private_{az}"), vpc.id())
                        .cidr_block(format!("10.0.{i}.0/24"))
                        .availability_zone(format!("eu-west-1{az}"))
                        .map_public_ip_on_launch(false),
                )
                .id()
        })
        .collect();

    let trust = jsonencode(trust_document(account.account_id().into()));
    let role = stack.add(
        iam_role::IamRole::new("cluster", trust)
            .name("cluster")
            .max_session_duration(3600),
    );

    let oidc_trust = stack.add(
        policy_document::DataIamPolicyDocument::new("trust").statement(
            policy_document::Statement::new()
                .effect("Allow")
                .actions(["sts:AssumeRoleWithWebIdentity"])
                .principals(vec![policy_document::Principals::new(
                    [account.arn()],
                    "Federated",
                )])
                .condition(vec![policy_document::Condition::new(
                    "StringEquals",
                    ["sts.amazonaws.com"],
                    Value::template([role.name().into(), Expr::from(":aud")]),
                )]),
        ),
    );

    let cluster = stack.add(
        eks_cluster::EksCluster::new(
            "main",
            "demo",
            role.arn(),
            eks_cluster::VpcConfig::new(subnets.clone())
                .endpoint_private_access(true)
                .public_access_cidrs(["203.0.113.0/24"]),
        )
        .enabled_cluster_log_types(["api", "audit"])
        .encryption_config(eks_cluster::EncryptionConfig::new(
            eks_cluster::Provider::new(role.arn()),
            ["secrets"],
        ))
        .access_config(eks_cluster::AccessConfig::new().authentication_mode("API"))
        .depends_on(&role),
    );

    let template = stack.add(
        launch_template::LaunchTemplate::new("nodes")
            .metadata_options(
                launch_template::MetadataOptions::new()
                    .http_tokens("required")
                    .http_put_response_hop_limit(1),
            )
            .block_device_mappings(vec![launch_template::BlockDeviceMappings::new()
                .device_name("/dev/xvda")
                .ebs(
                    launch_template::Ebs::new()
                        .volume_size(20)
                        .encrypted(Value::from_bool(true)),
                )])
            .tag_specifications(["instance", "volume"].map(|kind| {
                launch_template::TagSpecifications::new()
                    .resource_type(kind)
                    .tags(tags("node"))
            })),
    );
    stack.add(
        eks_node_group::EksNodeGroup::new(
            "general",
            cluster.name(),
            role.arn(),
            eks_node_group::ScalingConfig::new(2, 4, 1),
            subnets,
        )
        .instance_types(vec!["m6i.large"])
        .launch_template(
            eks_node_group::LaunchTemplate::new(Value::from_number(template.latest_version()))
                .id(template.id()),
        )
        .labels(BTreeMap::from([("role", "general")]))
        .lifecycle(Lifecycle::new().ignore_changes(["scaling_config[0].desired_size"])),
    );
    stack.add(
        ecr_repository::EcrRepository::new("service", "demo").encryption_configuration(
            ecr_repository::EncryptionConfiguration::new().encryption_type("KMS"),
        ),
    );

    let k8s_exec = k8s_provider::Exec::new("client.authentication.k8s.io/v1beta1", "aws")
        .args(vec![Value::from("eks"), cluster.name()]);
    stack.provider(
        k8s_provider::Provider::new()
            .host(cluster.endpoint())
            .exec(vec![k8s_exec])
            .into(),
    );
    stack.provider(
        helm_provider::Provider::new()
            .kubernetes(
                helm_provider::Kubernetes::new()
                    .host(cluster.endpoint())
                    .cluster_ca_certificate(Value::assume(Expr::call(
                        "base64decode",
                        [cluster.certificate_authority().at(0).data()],
                    ))),
            )
            .into(),
    );
    let namespace = stack.add(namespace_v1::NamespaceV1::new(
        "app",
        namespace_v1::Metadata::new()
            .name("webapp")
            .labels(BTreeMap::from([(
                "pod-security.kubernetes.io/enforce",
                "restricted",
            )])),
    ));
    let secret = stack.add(
        secret_v1::SecretV1::new(
            "app",
            secret_v1::Metadata::new()
                .name("webapp-secrets")
                .namespace(namespace.metadata().at(0).name()),
        )
        .type_("Opaque")
        .data(BTreeMap::from([("APP_SECRET", app_secret)])),
    );
    stack.add(
        release::Release::new("webapp", "./chart", "webapp")
            .namespace(namespace.metadata().at(0).name())
            .atomic(true)
            .timeout(900)
            .values([yamlencode(Expr::object([("replicas", 2)]))])
            .set(vec![
                release::Set::new("serviceAccount.roleArn")
                    .value(oidc_trust.json())
                    .type_("string"),
                release::Set::new("secret.existingSecretChecksum")
                    .value(secret.metadata().at(0).resource_version()),
            ])
            .depends_on(&cluster),
    );
}

/// The same blocks the way the stacks write them today.
fn untyped(stack: &mut Stack) {
    require_providers(stack);
    stack.provider(Provider::new("aws").set("region", "eu-west-1").set(
        "default_tags",
        Expr::object([("tags", Expr::object([("Project", "infra")]))]),
    ));
    let app_secret = stack.variable("app_secret", Variable::new().ty("string").sensitive());
    let account = stack.data("aws_caller_identity", "current").handle();

    let vpc = stack
        .resource("aws_vpc", "main")
        .set("cidr_block", "10.0.0.0/16")
        .set("enable_dns_support", true)
        .set("tags", Expr::object([("Name", "vpc")]))
        .handle();
    let subnets: Vec<Expr> = ["a", "b"]
        .into_iter()
        .enumerate()
        .map(|(i, az)| {
            stack
                .resource("aws_subnet", &format!("private_{az}"))
                .set("vpc_id", vpc.attr("id"))
                .set("cidr_block", format!("10.0.{i}.0/24"))
                .set("availability_zone", format!("eu-west-1{az}"))
                .set("map_public_ip_on_launch", false)
                .handle()
                .attr("id")
        })
        .collect();

    let trust = Expr::call("jsonencode", [trust_document(account.attr("account_id"))]);
    let role = stack
        .resource("aws_iam_role", "cluster")
        .set("name", "cluster")
        .set("assume_role_policy", trust)
        .set("max_session_duration", 3600)
        .handle();

    let oidc_trust = stack
        .data("aws_iam_policy_document", "trust")
        .set(
            "statement",
            Expr::object([
                ("effect", Expr::from("Allow")),
                ("actions", Expr::list(["sts:AssumeRoleWithWebIdentity"])),
                (
                    "principals",
                    Expr::list([Expr::object([
                        ("type", Expr::from("Federated")),
                        ("identifiers", Expr::list([account.attr("arn")])),
                    ])]),
                ),
                (
                    "condition",
                    Expr::list([Expr::object([
                        ("test", Expr::from("StringEquals")),
                        (
                            "variable",
                            Expr::template([role.attr("name"), Expr::from(":aud")]),
                        ),
                        ("values", Expr::list(["sts.amazonaws.com"])),
                    ])]),
                ),
            ]),
        )
        .handle();

    let cluster = stack
        .resource("aws_eks_cluster", "main")
        .set("name", "demo")
        .set("role_arn", role.attr("arn"))
        .set("enabled_cluster_log_types", Expr::list(["api", "audit"]))
        .set(
            "vpc_config",
            Expr::object([
                ("subnet_ids", Expr::list(subnets.clone())),
                ("endpoint_private_access", Expr::from(true)),
                ("public_access_cidrs", Expr::list(["203.0.113.0/24"])),
            ]),
        )
        .set(
            "encryption_config",
            Expr::object([
                ("resources", Expr::list(["secrets"])),
                ("provider", Expr::object([("key_arn", role.attr("arn"))])),
            ]),
        )
        .set(
            "access_config",
            Expr::object([("authentication_mode", "API")]),
        )
        .depends_on(&role)
        .handle();

    let template = stack
        .resource("aws_launch_template", "nodes")
        .set(
            "metadata_options",
            Expr::object([
                ("http_tokens", Expr::from("required")),
                ("http_put_response_hop_limit", Expr::from(1)),
            ]),
        )
        .set(
            "block_device_mappings",
            Expr::list([Expr::object([
                ("device_name", Expr::from("/dev/xvda")),
                (
                    "ebs",
                    Expr::object([
                        ("volume_size", Expr::from(20)),
                        ("encrypted", Expr::from(true)),
                    ]),
                ),
            ])]),
        )
        .set(
            "tag_specifications",
            Expr::list(["instance", "volume"].map(|kind| {
                Expr::object([
                    ("resource_type", Expr::from(kind)),
                    ("tags", Expr::object([("Name", "node")])),
                ])
            })),
        )
        .handle();
    stack
        .resource("aws_eks_node_group", "general")
        .set("cluster_name", cluster.attr("name"))
        .set("node_role_arn", role.attr("arn"))
        .set("subnet_ids", Expr::list(subnets))
        .set("instance_types", Expr::list(["m6i.large"]))
        .set(
            "scaling_config",
            Expr::object([
                ("min_size", Expr::from(1)),
                ("desired_size", Expr::from(2)),
                ("max_size", Expr::from(4)),
            ]),
        )
        .set(
            "launch_template",
            Expr::object([
                ("id", template.attr("id")),
                ("version", template.attr("latest_version")),
            ]),
        )
        .set("labels", Expr::object([("role", "general")]))
        .lifecycle(Lifecycle::new().ignore_changes(["scaling_config[0].desired_size"]));
    stack
        .resource("aws_ecr_repository", "service")
        .set("name", "demo")
        .set(
            "encryption_configuration",
            Expr::object([("encryption_type", "KMS")]),
        );

    stack.provider(
        Provider::new("kubernetes")
            .set("host", cluster.attr("endpoint"))
            .set(
                "exec",
                Expr::list([Expr::object([
                    (
                        "api_version",
                        Expr::from("client.authentication.k8s.io/v1beta1"),
                    ),
                    ("command", Expr::from("aws")),
                    (
                        "args",
                        Expr::list([Expr::from("eks"), cluster.attr("name")]),
                    ),
                ])]),
            ),
    );
    stack.provider(Provider::new("helm").set(
        "kubernetes",
        Expr::object([
            ("host", cluster.attr("endpoint")),
            (
                "cluster_ca_certificate",
                Expr::call(
                    "base64decode",
                    [cluster.attr("certificate_authority").index(0).attr("data")],
                ),
            ),
        ]),
    ));
    let namespace = stack
        .resource("kubernetes_namespace_v1", "app")
        .set(
            "metadata",
            Expr::object([
                ("name", Expr::from("webapp")),
                (
                    "labels",
                    Expr::object([("pod-security.kubernetes.io/enforce", "restricted")]),
                ),
            ]),
        )
        .handle()
        .attr("metadata")
        .index(0)
        .attr("name");
    let secret = stack
        .resource("kubernetes_secret_v1", "app")
        .set(
            "metadata",
            Expr::object([
                ("name", Expr::from("webapp-secrets")),
                ("namespace", namespace.clone()),
            ]),
        )
        .set("type", "Opaque")
        .set("data", Expr::object([("APP_SECRET", app_secret)]))
        .handle();
    stack
        .resource("helm_release", "webapp")
        .set("name", "webapp")
        .set("chart", "./chart")
        .set("namespace", namespace)
        .set("atomic", true)
        .set("timeout", 900)
        .set(
            "values",
            Expr::list([Expr::call("yamlencode", [Expr::object([("replicas", 2)])])]),
        )
        .set(
            "set",
            Expr::list([
                Expr::object([
                    ("name", Expr::from("serviceAccount.roleArn")),
                    ("value", oidc_trust.attr("json")),
                    ("type", Expr::from("string")),
                ]),
                Expr::object([
                    ("name", Expr::from("secret.existingSecretChecksum")),
                    (
                        "value",
                        secret.attr("metadata").index(0).attr("resource_version"),
                    ),
                ]),
            ]),
        )
        .depends_on(&cluster);
}

fn synthesized(build: fn(&mut Stack)) -> BTreeMap<String, Vec<u8>> {
    let mut app = App::new("sample");
    app.set_schemas(schemas());
    build(app.stack("sample", "typed builders against Resource::set"));
    app.synth(&SynthOptions::default())
        .unwrap_or_else(|e| panic!("the sample must pass synth's checks: {e}"))
        .files
}

#[test]
fn typed_builders_render_what_resource_set_renders() {
    let typed = synthesized(typed);
    let untyped = synthesized(untyped);
    assert_eq!(
        typed.keys().collect::<Vec<_>>(),
        untyped.keys().collect::<Vec<_>>()
    );
    // The manifest holds a hash of the others: compare it last, so a
    // failure names the block file that differs.
    let mut names: Vec<&String> = untyped.keys().collect();
    names.sort_by_key(|name| (name.as_str() == synth::MANIFEST_FILE, *name));
    for name in names {
        let bytes = &untyped[name];
        assert_eq!(
            String::from_utf8_lossy(&typed[name]),
            String::from_utf8_lossy(bytes),
            "{name} differs"
        );
    }
    // The sample really covers the shapes it claims to.
    let sample: serde_json::Value = serde_json::from_slice(&typed["sample.tf.json"]).expect("JSON");
    let resource = &sample["resource"];
    assert!(resource["aws_eks_cluster"]["main"]["vpc_config"].is_object());
    assert!(resource["aws_ecr_repository"]["service"]["encryption_configuration"].is_object());
    assert!(resource["aws_launch_template"]["nodes"]["block_device_mappings"].is_array());
    assert!(
        resource["aws_launch_template"]["nodes"]["block_device_mappings"][0]["ebs"].is_object()
    );
    assert_eq!(
        resource["aws_launch_template"]["nodes"]["block_device_mappings"][0]["ebs"]["encrypted"],
        true
    );
    assert!(sample["data"]["aws_iam_policy_document"]["trust"]["statement"].is_object());
    assert_eq!(
        resource["helm_release"]["webapp"]["set"][1]["value"],
        "${kubernetes_secret_v1.app.metadata[0].resource_version}"
    );
}
