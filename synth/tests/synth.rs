//! End-to-end behaviour of the library: checks, rendering, and writing.
#![allow(clippy::unwrap_used)] // a panic in a test helper is a failed test with its location

use std::fs;
use std::path::Path;

use serde_json::{json, Value};
use synth::output::write_module;
use synth::{
    App, Backend, Diagnostic, Expr, Lifecycle, ModuleView, Output, Policy, Provider,
    RequiredProvider, Schemas, SynthError, SynthOptions, Variable,
};

fn all() -> SynthOptions {
    SynthOptions {
        stacks: None,
        tool: "test 0".into(),
    }
}

fn only(stacks: &[&str]) -> SynthOptions {
    SynthOptions {
        stacks: Some(stacks.iter().map(|s| (*s).to_owned()).collect()),
        tool: "test 0".into(),
    }
}

/// Two stacks, the second using the first, with a helm-like second provider.
fn sample() -> App {
    let mut app = App::new("staging");
    app.required_version(">= 1.9")
        .backend(Backend::local("terraform.staging.tfstate"));
    let net = app.stack("network", "the network");
    net.require_provider("aws", RequiredProvider::new("hashicorp/aws", "~> 5.100"));
    net.provider(Provider::new("aws").set("region", "eu-west-1"));
    let cidr = net.variable("cidr", Variable::new().ty("string").default("10.0.0.0/16"));
    let vpc = net
        .resource("aws_vpc", "main")
        .set("cidr_block", cidr.clone())
        .set("tags", Expr::object([("Name", "${not an interpolation}")]))
        .handle();
    net.resource("aws_subnet", "private")
        .count(2)
        .set("vpc_id", vpc.attr("id"))
        .set(
            "cidr_block",
            Expr::call("cidrsubnet", [cidr, 8.into(), Expr::count_index()]),
        )
        .lifecycle(Lifecycle::new().create_before_destroy());
    net.output("vpc_id", Output::new(vpc.attr("id")).description("the VPC"));

    let app_stack = app.stack("app", "the workload");
    app_stack.require_provider("helm", RequiredProvider::new("hashicorp/helm", "~> 3.1"));
    app_stack.provider(Provider::new("helm").set("endpoint", vpc.attr("arn")));
    let tag = app_stack.variable("image_tag", Variable::new().ty("string"));
    app_stack
        .resource("helm_release", "web")
        .set("name", "web")
        .set(
            "values",
            Expr::list([Expr::template([Expr::from("tag: "), tag])]),
        )
        .depends_on(&vpc);
    app
}

fn file(module: &synth::Module, name: &str) -> Value {
    serde_json::from_slice(&module.files[name]).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn diagnostics(err: SynthError) -> Vec<String> {
    match err {
        SynthError::Invalid(d) => d.into_iter().map(|d| d.to_string()).collect(),
        other => panic!("expected diagnostics, got {other}"),
    }
}

#[test]
fn renders_one_file_per_stack_plus_root_files() {
    let module = sample().synth(&all()).unwrap();
    let names: Vec<&str> = module.files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "app.tf.json",
            "manifest.json",
            "network.tf.json",
            "providers.tf.json",
            "terraform.tf.json",
            "variables.tf.json"
        ]
    );
    assert_eq!(
        file(&module, "terraform.tf.json"),
        json!({"terraform": {
            "required_version": ">= 1.9",
            "required_providers": {
                "aws": {"source": "hashicorp/aws", "version": "~> 5.100"},
                "helm": {"source": "hashicorp/helm", "version": "~> 3.1"}
            },
            "backend": {"local": {"path": "terraform.staging.tfstate"}}
        }})
    );
    let network = file(&module, "network.tf.json");
    assert_eq!(
        network["resource"]["aws_subnet"]["private"],
        json!({
            "count": 2,
            "vpc_id": "${aws_vpc.main.id}",
            "cidr_block": "${cidrsubnet(var.cidr, 8, count.index)}",
            "lifecycle": {"create_before_destroy": true}
        })
    );
    assert_eq!(
        network["resource"]["aws_vpc"]["main"]["tags"]["Name"],
        json!("$${not an interpolation}")
    );
    assert_eq!(
        network["output"]["vpc_id"],
        json!({"value": "${aws_vpc.main.id}", "description": "the VPC"})
    );
    let manifest = file(&module, "manifest.json");
    assert_eq!(manifest["environment"], "staging");
    assert_eq!(manifest["stacks"][1]["name"], "app");
    assert_eq!(manifest["stacks"][0]["resources"], 2);
    assert_eq!(manifest["content_sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn a_subset_keeps_only_the_providers_and_variables_it_uses() {
    let module = sample().synth(&only(&["network"])).unwrap();
    let tf = file(&module, "terraform.tf.json");
    assert!(tf["terraform"]["required_providers"].get("helm").is_none());
    assert!(file(&module, "providers.tf.json")["provider"]
        .get("helm")
        .is_none());
    let vars = file(&module, "variables.tf.json");
    assert!(vars["variable"].get("image_tag").is_none());
    assert!(vars["variable"].get("cidr").is_some());
    assert!(!module.files.contains_key("app.tf.json"));
}

#[test]
fn a_subset_missing_a_dependency_names_it() {
    let errors = diagnostics(sample().synth(&only(&["app"])).unwrap_err());
    assert_eq!(
        errors,
        [
            "--stacks: the selected stacks depend on stack(s) network; add them",
            "helm_release.web: references `aws_vpc.main` of stack `network`, which is not being synthesized (add it to --stacks)",
            "provider.helm: references `aws_vpc.main` of stack `network`, which is not being synthesized (add it to --stacks)",
        ]
    );
}

#[test]
fn a_block_naming_one_missing_thing_twice_is_told_once() {
    let mut app = sample();
    let vpc = synth::Address::resource("aws_vpc", "main");
    let web = app
        .stacks_mut()
        .iter_mut()
        .find_map(|s| s.find_mut(&synth::Address::resource("helm_release", "web")))
        .unwrap();
    web.set("description", Expr::reference(vpc.clone()).attr("arn"))
        .set("namespace", Expr::reference(vpc).attr("id"));
    let errors = diagnostics(app.synth(&only(&["app"])).unwrap_err());
    let about_web: Vec<&String> = errors
        .iter()
        .filter(|e| e.starts_with("helm_release.web:"))
        .collect();
    assert_eq!(about_web.len(), 1, "{errors:#?}");
}

#[test]
fn unknown_stack_lists_the_known_ones() {
    let err = sample().synth(&only(&["netwrk"])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown stack `netwrk` (known stacks: network, app)"
    );
}

#[test]
fn duplicate_addresses_are_refused() {
    let mut app = sample();
    let s = app.stack("app", "");
    s.resource("aws_vpc", "main")
        .set("cidr_block", "10.0.0.0/8");
    s.output("vpc_id", Output::new("x"));
    s.variable("cidr", Variable::new());
    let errors = diagnostics(app.synth(&all()).unwrap_err());
    assert_eq!(
        errors,
        [
            "aws_vpc.main: duplicate address: declared in stack `network` and again in stack `app`",
            "var.cidr: duplicate address: declared in stack `network` and again in stack `app`",
            "output.vpc_id: duplicate address: declared in stack `network` and again in stack `app`",
        ]
    );
}

#[test]
fn dangling_references_are_named_with_a_suggestion() {
    let mut app = sample();
    let s = app.stack("network", "");
    s.resource("aws_route_table", "private")
        .set(
            "vpc_id",
            Expr::reference(synth::Address::resource("aws_vpc", "mian")).attr("id"),
        )
        .set("x", Expr::reference(synth::Address::Local("nope".into())));
    let errors = diagnostics(app.synth(&all()).unwrap_err());
    assert_eq!(
        errors,
        [
            "aws_route_table.private: references `aws_vpc.mian`, which does not exist (did you mean `aws_vpc.main`?)",
            "aws_route_table.private: references `local.nope`, which does not exist",
        ]
    );
}

#[test]
fn cycles_are_reported_with_their_path() {
    let mut app = App::new("x");
    let s = app.stack("s", "");
    s.require_provider("null", RequiredProvider::new("hashicorp/null", "~> 3.0"));
    let a = synth::Address::resource("null_resource", "a");
    let b = synth::Address::resource("null_resource", "b");
    s.resource("null_resource", "a").set(
        "triggers",
        Expr::object([("b", Expr::reference(b.clone()).attr("id"))]),
    );
    s.resource("null_resource", "b").depends_on(a);
    let errors = diagnostics(app.synth(&all()).unwrap_err());
    assert_eq!(
        errors,
        ["null_resource.a: dependency cycle: null_resource.a -> null_resource.b -> null_resource.a"]
    );
}

#[test]
fn local_cycles_are_found_too() {
    let mut app = App::new("x");
    let s = app.stack("s", "");
    let b = Expr::reference(synth::Address::Local("b".into()));
    let a = s.local("a", b);
    s.local("b", Expr::call("upper", [a]));
    let errors = diagnostics(app.synth(&all()).unwrap_err());
    assert_eq!(
        errors,
        ["local.a: dependency cycle: local.a -> local.b -> local.a"]
    );
}

#[test]
fn undeclared_providers_are_refused() {
    let mut app = App::new("x");
    let s = app.stack("s", "");
    s.resource("random_id", "suffix").set("byte_length", 4);
    s.require_provider("aws", RequiredProvider::new("hashicorp/aws", "~> 5.100"));
    s.resource("aws_s3_bucket", "b")
        .provider_alias("aws", "east");
    let errors = diagnostics(app.synth(&all()).unwrap_err());
    assert_eq!(
        errors,
        [
            "random_id.suffix: uses provider `random`, which no stack declares in required_providers",
            "aws_s3_bucket.b: uses provider configuration `aws.east`, which is not declared",
        ]
    );
}

#[test]
fn conflicting_provider_declarations_are_refused() {
    let mut app = sample();
    app.stack("app", "")
        .provider(Provider::new("aws").set("region", "us-east-1"));
    let errors = diagnostics(app.synth(&all()).unwrap_err());
    assert_eq!(
        errors,
        ["provider.aws: declared again by stack `app` with a different configuration"]
    );
}

fn aws_schema() -> Schemas {
    Schemas::from_json_str(
        &json!({"provider_schemas": {"registry.terraform.io/hashicorp/aws": {
            "provider": {"block": {"attributes": {"region": {"type": "string", "optional": true}}}},
            "resource_schemas": {
                "aws_vpc": {"block": {"attributes": {
                    "id": {"type": "string", "optional": true, "computed": true},
                    "arn": {"type": "string", "computed": true},
                    "cidr_block": {"type": "string", "optional": true},
                    "tags": {"type": ["map", "string"], "optional": true}}}},
                "aws_subnet": {"block": {"attributes": {
                    "vpc_id": {"type": "string", "required": true},
                    "cidr_block": {"type": "string", "optional": true}}}}
            }
        }}})
        .to_string(),
    )
    .unwrap()
}

#[test]
fn blocks_and_references_are_checked_against_the_schema() {
    let mut app = sample();
    app.set_schemas(aws_schema());
    assert!(app.synth(&all()).is_ok());
    let s = app.stack("network", "");
    let vpc = Expr::reference(synth::Address::resource("aws_vpc", "main"));
    s.resource("aws_subnet", "public")
        .set("vpc_id", vpc.attr("vpc_idd"))
        .set("cidr_blok", "10.0.0.0/24");
    let errors = diagnostics(app.synth(&all()).unwrap_err());
    assert_eq!(
        errors,
        [
            "aws_subnet.public: references `aws_vpc.main.vpc_idd`, but `aws_vpc` has no attribute `vpc_idd`",
            "aws_subnet.public: unknown attribute `cidr_blok` (did you mean `cidr_block`?)",
        ]
    );
}

#[test]
fn overrides_are_checked_like_everything_else() {
    let mut app = sample();
    app.set_schemas(aws_schema());
    app.visit_resources_mut(|r| {
        if r.ty() == "aws_vpc" {
            r.override_path("enable_dns", true);
        }
    });
    let errors = diagnostics(app.synth(&all()).unwrap_err());
    assert_eq!(errors, ["aws_vpc.main: unknown attribute `enable_dns`"]);
}

#[derive(Debug)]
struct RequireTags;

impl Policy for RequireTags {
    fn name(&self) -> &str {
        "tags-required"
    }
    fn check(&self, module: &ModuleView<'_>) -> Vec<Diagnostic> {
        module
            .of_type("aws_subnet")
            .filter(|r| r.body.get("tags").is_none())
            .map(|r| Diagnostic::new(&r.address, "has no tags"))
            .collect()
    }
}

#[test]
fn policies_fail_with_their_name_and_the_address() {
    let mut app = sample();
    app.add_policy(Box::new(RequireTags));
    let errors = diagnostics(app.synth(&all()).unwrap_err());
    assert_eq!(
        errors,
        ["aws_subnet.private: policy `tags-required` violated: has no tags"]
    );
}

/// Reads a document kept in a local, as terraform will: literal values
/// as written, references as their interpolations.
#[derive(Debug)]
struct LocalReplicas;

impl Policy for LocalReplicas {
    fn name(&self) -> &str {
        "replicas-from-local"
    }
    fn check(&self, module: &ModuleView<'_>) -> Vec<Diagnostic> {
        match module.locals.get("web_values") {
            Some(values) if values["replicas"] == 2 && values["vpc"] == "${aws_vpc.main.id}" => {
                Vec::new()
            }
            other => vec![Diagnostic::new("local.web_values", format!("{other:?}"))],
        }
    }
}

#[test]
fn policies_see_the_chosen_stacks_locals() {
    let mut app = sample();
    let vpc = Expr::reference(synth::Address::resource("aws_vpc", "main")).attr("id");
    app.stack("app", "the workload").local(
        "web_values",
        Expr::object([("replicas", Expr::from(2)), ("vpc", vpc)]),
    );
    app.add_policy(Box::new(LocalReplicas));
    app.synth(&all()).expect("the policy reads the local");
    let errors = diagnostics(app.synth(&only(&["network"])).unwrap_err());
    assert_eq!(
        errors,
        ["local.web_values: policy `replicas-from-local` violated: None"]
    );
}

#[test]
fn synthesis_is_deterministic() {
    let a = sample().synth(&all()).unwrap();
    let b = sample().synth(&all()).unwrap();
    assert_eq!(a, b);
    for bytes in a.files.values() {
        assert_eq!(bytes.last(), Some(&b'\n'));
    }
}

fn write(dir: &Path, app: &App) -> Result<synth::output::WriteReport, SynthError> {
    write_module(dir, &app.synth(&all())?)
}

#[test]
fn writing_keeps_terraform_files_and_removes_only_our_stale_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    write(out, &sample()).unwrap();
    fs::create_dir_all(out.join(".terraform/providers")).unwrap();
    fs::write(out.join(".terraform/providers/p"), "provider").unwrap();
    fs::write(out.join(".terraform.lock.hcl"), "lock").unwrap();
    fs::write(out.join("terraform.staging.tfstate"), "state").unwrap();
    fs::write(out.join("notes.txt"), "mine").unwrap();

    let mut smaller = App::new("staging");
    let s = smaller.stack("network", "");
    s.require_provider("aws", RequiredProvider::new("hashicorp/aws", "~> 5.100"));
    s.resource("aws_vpc", "main")
        .set("cidr_block", "10.0.0.0/16");
    let report = write(out, &smaller).unwrap();
    assert_eq!(
        report.removed,
        ["app.tf.json", "providers.tf.json", "variables.tf.json"]
    );
    assert!(!out.join("app.tf.json").exists());
    assert_eq!(
        fs::read_to_string(out.join(".terraform/providers/p")).unwrap(),
        "provider"
    );
    assert_eq!(
        fs::read_to_string(out.join(".terraform.lock.hcl")).unwrap(),
        "lock"
    );
    assert_eq!(
        fs::read_to_string(out.join("terraform.staging.tfstate")).unwrap(),
        "state"
    );
    assert_eq!(fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
    let leftovers: Vec<_> = fs::read_dir(out)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".synth-tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn rewriting_identical_output_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &sample()).unwrap();
    let report = write(dir.path(), &sample()).unwrap();
    assert!(report.written.is_empty());
    assert!(report.removed.is_empty());
}

#[test]
fn a_failed_synth_leaves_the_previous_output_untouched() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &sample()).unwrap();
    let before = snapshot(dir.path());
    let mut broken = sample();
    broken.stack("network", "").resource("aws_eip", "x").set(
        "instance",
        Expr::reference(synth::Address::resource("aws_instance", "gone")).attr("id"),
    );
    assert!(write(dir.path(), &broken).is_err());
    assert_eq!(before, snapshot(dir.path()));
}

#[test]
fn another_environments_initialised_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &sample()).unwrap();
    fs::create_dir(dir.path().join(".terraform")).unwrap();
    let before = snapshot(dir.path());
    let module = {
        let mut app = App::new("production");
        app.stack("network", "")
            .require_provider("aws", RequiredProvider::new("hashicorp/aws", "~> 5.100"));
        app.synth(&all()).unwrap()
    };
    let err = write_module(dir.path(), &module).unwrap_err();
    assert!(
        err.to_string()
            .contains("initialised for environment `staging`; refusing to write `production`"),
        "{err}"
    );
    assert_eq!(before, snapshot(dir.path()));
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}
