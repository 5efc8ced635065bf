//! GitOps mode from the outside: the `[gitops]` config and its floors, Argo
//! CD's hardening, the bastion and the CI deployer's rights, and every
//! Application's values against its chart's own keys.

use std::path::{Path, PathBuf};

use serde_json::Value;
use synth::{Expr, SynthOptions};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn text(name: &str, kind: &str) -> (PathBuf, String) {
    let path = repo_root().join(format!("stacks/{kind}/{name}.toml"));
    let text = std::fs::read_to_string(&path).expect("shipped file");
    (path, text)
}

/// Loads `name` with `from` replaced by `to` in its config (and `policy`
/// replaced likewise in its floors).
fn load_edited(
    name: &str,
    edits: &[(&str, &str)],
    policy_edits: &[(&str, &str)],
) -> Result<stacks::Environment, String> {
    let (config_path, mut config) = text(name, "config");
    let (policy_path, mut policy) = text(name, "policy");
    for (from, to) in edits {
        assert!(config.contains(from), "`{from}` is not in {name}.toml");
        config = config.replacen(from, to, 1);
    }
    for (from, to) in policy_edits {
        assert!(
            policy.contains(from),
            "`{from}` is not in policy/{name}.toml"
        );
        policy = policy.replacen(from, to, 1);
    }
    stacks::config::parse_environment(
        name,
        stacks::config::Source {
            path: &config_path,
            text: &config,
        },
        stacks::config::Source {
            path: &policy_path,
            text: &policy,
        },
    )
    .map_err(|e| e.to_string())
}

fn refused(name: &str, edits: &[(&str, &str)], policy: &[(&str, &str)], expected: &[&str]) {
    let e = match load_edited(name, edits, policy) {
        Ok(_) => panic!("{name} with {edits:?} {policy:?} was accepted"),
        Err(e) => e,
    };
    for part in expected {
        assert!(e.contains(part), "error does not say `{part}`:\n{e}");
    }
}

fn environment(name: &str) -> stacks::Environment {
    load_edited(name, &[], &[]).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn bad_gitops_settings_are_named_by_field() {
    let repo = "repository = \"git@github.com:example-org/webapp.git\"";
    refused(
        "staging",
        &[(
            repo,
            "repository = \"https://bot:hunter2@github.com/example-org/webapp.git\"",
        )],
        &[],
        &[
            "stacks/config/staging.toml",
            "gitops.repository",
            "carries credentials; Argo CD takes them from a repository Secret",
        ],
    );
    refused(
        "staging",
        &[(repo, "repository = \"ftp://example.org/x\"")],
        &[],
        &["gitops.repository: `ftp://example.org/x` must start with https://, git@ or ssh://git@"],
    );
    refused(
        "staging",
        &[(
            "revision = \"main\"",
            "revision = \"main\"\npath = \"../elsewhere\"",
        )],
        &[],
        &["gitops.path: `../elsewhere` must not have empty, `.` or `..` components"],
    );
    refused(
        "staging",
        &[("name = \"webapp\"\nrole", "name = \"platform\"\nrole")],
        &[],
        &["gitops.teams[1].name: `platform` is listed twice"],
    );
    refused(
        "staging",
        &[("name = \"platform\"", "name = \"admin\"")],
        &[],
        &["gitops.teams[0].name: `admin` is Argo CD's built-in account"],
    );
    refused(
        "production",
        &[(
            "admin_groups = [\"platform-admins\"]",
            "admin_groups = [\"a,b\"]",
        )],
        &[],
        &["gitops.sso.admin_groups[0]: `a,b` must be a group name without commas"],
    );
    refused(
        "staging",
        &[(
            "revision = \"main\"",
            "revision = \"main\"\n[gitops.bastion]\ninstance_type = \"big\"",
        )],
        &[],
        &["gitops.bastion.instance_type: `big` is not an EC2 instance type"],
    );
    refused(
        "staging",
        &[("revision = \"main\"", "revision = \"main\"\nflux = true")],
        &[],
        &["unknown field `flux`"],
    );
}

#[test]
fn production_floors_require_gitops_a_private_api_and_no_shared_admin() {
    refused(
        "production",
        &[("enabled = true\n# Read", "enabled = false\n# Read")],
        &[],
        &[
            "stacks/config/production.toml",
            "gitops.enabled: is off, but this environment must be delivered by Argo CD (policy gitops.required)",
        ],
    );
    refused(
        "production",
        &[(
            "endpoint_public_access = false\n",
            "endpoint_public_access = true\nendpoint_public_access_cidrs = [\"203.0.113.0/24\"]\n",
        )],
        &[],
        &["cluster.endpoint_public_access: is true, but with GitOps on this environment's Kubernetes API must be private (policy gitops.private_api)"],
    );
    let no_accounts = [
        (
            "[gitops.sso]\nissuer = \"https://sso.example.org\"\nclient_id = \"argocd-production\"\nadmin_groups = [\"platform-admins\"]\nreadonly_groups = [\"engineering\"]\ndeployer_groups = [\"webapp-deployers\"]\n",
            "",
        ),
        ("[[gitops.teams]]\nname = \"platform\"\nrole = \"admin\"\n", ""),
    ];
    refused(
        "production",
        &no_accounts,
        &[],
        &["gitops.teams: is empty and gitops.sso is unset, so Argo CD's shared admin account stays on"],
    );
    // Staging's floors allow all three: the same edits load there.
    load_edited(
        "staging",
        &[(
            "endpoint_public_access = false\n",
            "endpoint_public_access = true\nendpoint_public_access_cidrs = [\"203.0.113.0/24\"]\n",
        )],
        &[],
    )
    .expect("staging may keep a public endpoint");
    // A floor is read from the policy file, not the config.
    refused(
        "staging",
        &[("enabled = true\n# Read", "enabled = false\n# Read")],
        &[("required = false", "required = true")],
        &["gitops.enabled: is off", "policy gitops.required"],
    );
}

fn synthesized(env: &stacks::Environment) -> (synth::Module, Option<stacks::gitops::Tree>) {
    let mut app = stacks::build(env, &stacks::chart_dir(&repo_root())).expect("build");
    let tree = stacks::gitops::deliver(&mut app, env).expect("delivery");
    let module = app
        .synth(&SynthOptions {
            stacks: None,
            tool: "test".into(),
        })
        .unwrap_or_else(|e| panic!("{e}"));
    (module, tree)
}

fn json(module: &synth::Module, file: &str) -> Value {
    serde_json::from_slice(&module.files[file]).expect("JSON")
}

/// The Argo CD release's values, evaluated.
fn argo_values(env: &stacks::Environment) -> Value {
    let mut app = stacks::build(env, &stacks::chart_dir(&repo_root())).expect("build");
    stacks::gitops::deliver(&mut app, env).expect("delivery");
    stacks::releases::release_values(&app)
        .into_iter()
        .find(|r| r.name == "argocd")
        .expect("Argo CD's release")
        .values
}

#[test]
fn argo_cd_is_hardened() {
    let production = argo_values(&environment("production"));
    let cm = &production["configs"]["cm"];
    assert_eq!(cm["admin.enabled"], false, "SSO and a team account are set");
    assert_eq!(cm["exec.enabled"], false);
    assert_eq!(cm["accounts.platform"], "login");
    let oidc = cm["oidc.config"].as_str().expect("OIDC settings");
    assert!(oidc.contains("issuer: https://sso.example.org\n"), "{oidc}");
    assert!(
        oidc.contains("clientSecret: $oidc.clientSecret"),
        "the secret is a reference into argocd-secret, never a value: {oidc}"
    );
    assert!(cm["resource.customizations.health.argoproj.io_Application"]
        .as_str()
        .expect("the Application health check sync waves wait on")
        .contains("obj.status.health.status"));
    let rbac = &production["configs"]["rbac"];
    assert_eq!(rbac["policy.default"], "", "no right unless granted");
    let csv = rbac["policy.csv"].as_str().expect("policy");
    for line in [
        "p, role:deployer, applications, sync, webapp/*, allow",
        "g, platform-admins, role:admin",
        "g, engineering, role:readonly",
        "g, webapp-deployers, role:deployer",
        "g, platform, role:admin",
    ] {
        assert!(csv.lines().any(|l| l == line), "{line} missing:\n{csv}");
    }
    assert!(
        csv.lines()
            .filter(|l| l.starts_with("p, role:deployer"))
            .all(|l| l.contains(", webapp")),
        "the deployer role reaches the service's project only:\n{csv}"
    );
    assert_eq!(production["server"]["service"]["type"], "ClusterIP");
    assert_eq!(production["server"]["ingress"]["enabled"], false);
    assert_eq!(production["dex"]["enabled"], false);
    for part in ["controller", "server", "repoServer"] {
        assert_eq!(production[part]["metrics"]["enabled"], true, "{part}");
        assert_eq!(
            production[part]["metrics"]["serviceMonitor"]["enabled"], false,
            "{part}: no Prometheus Operator in the shipped environments"
        );
        assert!(production[part]["resources"]["limits"]["memory"].is_string());
    }

    // Without an account per team or SSO, the admin account is all there is.
    let mut bare = environment("staging");
    let gitops = bare.config.gitops.as_mut().expect("gitops");
    gitops.teams.clear();
    gitops.service_monitor = true;
    let values = argo_values(&bare);
    assert_eq!(values["configs"]["cm"]["admin.enabled"], true);
    assert_eq!(
        values["server"]["metrics"]["serviceMonitor"]["enabled"],
        true
    );
}

fn resources(module: &synth::Module, file: &str, ty: &str) -> Vec<(String, Value)> {
    json(module, file)["resource"][ty]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

#[test]
fn a_private_api_comes_with_a_bastion_and_nothing_listening_outside() {
    let env = environment("production");
    let (module, _) = synthesized(&env);
    let cluster = &resources(&module, "eks.tf.json", "aws_eks_cluster")[0].1;
    assert_eq!(cluster["vpc_config"]["endpoint_public_access"], false);
    let (_, instance) = resources(&module, "eks.tf.json", "aws_instance").remove(0);
    let subnet = instance["subnet_id"].as_str().unwrap_or_default();
    assert!(
        subnet.starts_with("${aws_subnet.private_"),
        "in a private subnet, where no public address is mapped: {subnet}"
    );
    assert_eq!(instance["metadata_options"]["http_tokens"], "required");
    assert_eq!(instance["root_block_device"]["encrypted"], true);
    assert_eq!(
        instance["lifecycle"]["ignore_changes"],
        serde_json::json!(["ami"])
    );
    assert!(
        resources(
            &module,
            "eks.tf.json",
            "aws_vpc_security_group_ingress_rule"
        )
        .iter()
        .all(|(_, rule)| rule.get("cidr_ipv4").is_none()),
        "the only way in is from the bastion's group"
    );
    let policies = resources(&module, "iam.tf.json", "aws_iam_role_policy");
    let (_, admin) = policies
        .iter()
        .find(|(name, _)| name == "admin_bastion")
        .expect("the admin role's session rights");
    let policy = admin["policy"].as_str().unwrap_or_default();
    assert!(
        policy.contains("document/AWS-StartPortForwardingSessionToRemoteHost"),
        "{policy}"
    );
    assert!(
        policy.contains("\"ssm:SessionDocumentAccessCheck\" = \"true\""),
        "{policy}"
    );
    assert!(!policy.contains("AWS-StartSSHSession") && !policy.contains("ssm:SendCommand"));
    let providers = json(&module, "providers.tf.json");
    assert_eq!(
        providers["provider"]["kubernetes"]["host"],
        "${coalesce(trimspace(var.cluster_api_tunnel), aws_eks_cluster.main.endpoint)}"
    );
    assert_eq!(
        providers["provider"]["helm"]["kubernetes"]["tls_server_name"],
        "${replace(aws_eks_cluster.main.endpoint, \"https://\", \"\")}"
    );

    // A restricted public endpoint needs no way in.
    let mut public = environment("staging");
    public.config.cluster.endpoint_public_access = true;
    public.config.cluster.endpoint_public_access_cidrs = vec!["203.0.113.0/24".parse().unwrap()];
    let (module, _) = synthesized(&public);
    assert!(resources(&module, "eks.tf.json", "aws_instance").is_empty());
    let providers = json(&module, "providers.tf.json");
    assert_eq!(
        providers["provider"]["kubernetes"]["host"],
        "${aws_eks_cluster.main.endpoint}"
    );
}

#[test]
fn with_gitops_ci_pushes_images_and_never_reaches_the_cluster() {
    let env = environment("production");
    let (module, _) = synthesized(&env);
    let entries = |module: &synth::Module| -> Vec<(String, String)> {
        resources(module, "eks.tf.json", "aws_eks_access_entry")
            .into_iter()
            .map(|(name, e)| (name, e["principal_arn"].as_str().unwrap_or("").to_owned()))
            .collect()
    };
    // People through the admin role and their team's namespace-scoped
    // role, and the nodes Karpenter launches.
    assert_eq!(
        entries(&module),
        [
            ("admin".to_owned(), "${aws_iam_role.admin.arn}".to_owned()),
            (
                "karpenter_node".to_owned(),
                "${aws_iam_role.karpenter_node.arn}".to_owned()
            ),
            (
                "team_developers".to_owned(),
                "${aws_iam_role.team_developers.arn}".to_owned()
            ),
        ],
        "no access entry for the CI deployer"
    );
    let deployer_policies = |module: &synth::Module| -> Vec<(String, Value)> {
        resources(module, "iam.tf.json", "aws_iam_role_policy")
            .into_iter()
            .filter(|(_, p)| p["role"] == "${aws_iam_role.ci_deployer.id}")
            .collect()
    };
    let deployer = deployer_policies(&module);
    assert_eq!(
        deployer
            .iter()
            .map(|(id, _)| id.as_str())
            .collect::<Vec<_>>(),
        ["ci_deployer"],
        "no refresh or state rights, the add-ons' included: CI runs no terraform"
    );
    let policy = deployer[0].1["policy"].as_str().unwrap_or_default();
    assert!(policy.contains("ecr:PutImage"), "{policy}");
    assert!(!policy.contains("eks:"), "{policy}");

    let mut without = environment("production");
    without.config.gitops = None;
    let (module, tree) = synthesized(&without);
    assert!(tree.is_none());
    let names: Vec<String> = entries(&module).into_iter().map(|(name, _)| name).collect();
    assert_eq!(
        names,
        ["admin", "ci_deployer", "karpenter_node", "team_developers"]
    );
    // A deploy then applies the whole module: terraform refreshes every
    // add-on's AWS resources with the deployer's credentials.
    let refresh: Vec<String> = deployer_policies(&module)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        refresh,
        [
            "ci_deployer",
            "ci_deployer_alerts_topic",
            "ci_deployer_karpenter_interruption",
            "ci_deployer_log_buckets",
            // Every deploy applies the app stack, which points the public
            // name at the load balancer.
            "ci_deployer_public_name",
            "ci_deployer_refresh"
        ]
    );
}

/// Helm's merge of one values document over another.
fn merge(base: &mut Value, top: &Value) {
    match (base, top) {
        (Value::Object(base), Value::Object(top)) => {
            for (key, value) in top {
                match base.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value);
                    }
                    _ => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, top) => *base = top.clone(),
    }
}

/// Every Application's values, as the tree's chart merges them (the
/// known ones with terraform's over them), against its chart's own keys.
#[test]
fn every_application_passes_only_keys_its_chart_defines() {
    let mut checked = 0;
    for name in ["staging", "production"] {
        let env = environment(name);
        let mut app = stacks::build(&env, &stacks::chart_dir(&repo_root())).expect("build");
        let tree = stacks::gitops::deliver(&mut app, &env).unwrap().unwrap();
        let root = stacks::releases::release_values(&app)
            .into_iter()
            .find(|r| r.name == "argocd-bootstrap")
            .expect("bootstrap");
        let terraform = root.values["objects"]
            .as_array()
            .and_then(|o| o.iter().find(|o| o["kind"] == "Application"))
            .map(|o| o["spec"]["source"]["helm"]["valuesObject"]["terraform"].clone())
            .expect("the root Application's values");
        let doc: Value =
            serde_json::from_slice(&tree.files[stacks::gitops::APPS_VALUES]).expect("JSON");
        for (app_name, entry) in doc["applications"].as_object().expect("applications") {
            let source = &entry["application"]["spec"]["source"];
            let (Some(chart), Some(version)) =
                (source["chart"].as_str(), source["targetRevision"].as_str())
            else {
                continue; // a chart carried in the tree: checked by just gitops-check
            };
            let mut values = entry["values"].clone();
            if let Some(later) = terraform.get(app_name) {
                merge(&mut values, later);
            }
            let facts = stacks::upstream::ChartFacts::load(&repo_root(), chart, version)
                .unwrap_or_else(|e| panic!("{app_name}: {e}"));
            let problems = facts.check(&Expr::from(&values));
            assert!(
                problems.is_empty(),
                "{name}: {app_name}:\n{}",
                problems.join("\n")
            );
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} applications checked");
}
