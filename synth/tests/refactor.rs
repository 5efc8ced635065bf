//! Refactoring without losing state: `moved` and `import` blocks, renaming
//! a construct, and the destroy guard of the writer, over real directories
//! with the traces terraform leaves (a local state file, a remote backend
//! recorded by `terraform init`). `refactor_terraform.rs` does the same
//! with real terraform.
#![allow(clippy::unwrap_used)] // a panic in a test helper is a failed test with its location

mod common;

use std::fs;
use std::path::Path;

use serde_json::{json, Value};
use synth::output::write_module;
use synth::{
    Address, App, Backend, Expr, Module, Output, Provider, RequiredProvider, SynthError,
    SynthOptions,
};

use common::tree;

const STATE_FILE: &str = "terraform.blue.tfstate";

/// An app with the stateful type `demo_vault`, and stack `data` requiring
/// the `demo` provider.
fn base(backend: Backend) -> App {
    let mut app = App::new("blue");
    app.backend(backend)
        .stateful("demo_vault", "the secrets stored in it");
    let data = app.stack("data", "data");
    data.require_provider("demo", RequiredProvider::new("example/demo", "1.0"));
    data.provider(Provider::new("demo").set("region", "here"));
    app
}

fn synth(app: &App, stacks: Option<&[&str]>) -> Module {
    app.synth(&SynthOptions {
        stacks: stacks.map(|s| s.iter().map(|n| (*n).to_owned()).collect()),
        tool: "test 0".into(),
    })
    .unwrap()
}

/// Stack `data`: a stateful `demo_vault` named `vault` (none when `None`)
/// and a `demo_cache` named `cache` that uses it; stack `web`: a site using
/// both. `edit` runs on the construct tree before synthesis.
fn module_with(
    backend: Backend,
    vault: Option<&str>,
    cache: &str,
    edit: impl FnOnce(&mut App),
) -> Module {
    let mut app = base(backend);
    let data = app.stack("data", "data");
    let vault = vault.map(|name| {
        data.resource("demo_vault", name)
            .set("size", 3)
            .set(
                "tags",
                Expr::object([("Name", "blue-vault"), ("Team", "a")]),
            )
            .handle()
    });
    let cache = data
        .resource("demo_cache", cache)
        .set(
            "vault_id",
            vault
                .as_ref()
                .map_or(Expr::from("external"), |v| v.attr("id")),
        )
        .set("ttl", 60)
        .set("mode", "lru")
        .handle();
    let web = app.stack("web", "web");
    let site = web
        .resource("demo_site", "www")
        .set("cache", cache.attr("id"));
    if let Some(vault) = &vault {
        site.depends_on(vault);
        web.output("vault", Output::new(vault.attr("arn")));
    }
    edit(&mut app);
    synth(&app, None)
}

fn module(vault: &str, edit: impl FnOnce(&mut App)) -> Module {
    module_with(Backend::local(STATE_FILE), Some(vault), "cache", edit)
}

fn file(module: &Module, name: &str) -> Value {
    serde_json::from_slice(&module.files[name]).unwrap()
}

fn resource<'a>(app: &'a mut App, address: &Address) -> &'a mut synth::Resource {
    app.stacks_mut()
        .iter_mut()
        .find_map(|s| s.find_mut(address))
        .unwrap_or_else(|| panic!("no {address}"))
}

/// A local state file as terraform writes it, holding `addresses`.
fn local_state(dir: &Path, addresses: &[&str]) {
    let resources: Vec<Value> = addresses
        .iter()
        .map(|a| {
            let (ty, name) = a.split_once('.').unwrap();
            json!({"mode": "managed", "type": ty, "name": name,
                   "provider": "provider[\"registry.terraform.io/example/demo\"]",
                   "instances": [{"schema_version": 0, "attributes": {"id": "x"}}]})
        })
        .collect();
    let state = json!({"version": 4, "terraform_version": "1.11.4", "serial": 3,
                       "lineage": "l", "outputs": {}, "resources": resources});
    fs::write(dir.join(STATE_FILE), state.to_string()).unwrap();
}

fn diagnostics(err: SynthError) -> String {
    match err {
        SynthError::Invalid(d) => synth::list_diagnostics(&d),
        other => panic!("expected diagnostics, got {other}"),
    }
}

#[test]
fn moved_and_import_blocks_render_in_their_own_file() {
    let m = module("current", |app| {
        resource(app, &Address::resource("demo_vault", "current"))
            .moved_from("demo_vault", "first")
            .moved_from("demo_vault", "second")
            .import_from("vault-${7}");
        resource(app, &Address::resource("demo_cache", "cache"))
            .provider_alias("demo", "east")
            .import_from(Expr::reference(Address::Var("cache_id".into())));
        app.stack("data", "")
            .provider(Provider::new("demo").alias("east").set("region", "there"))
            .variable("cache_id", synth::Variable::new().ty("string"));
    });
    let data = file(&m, synth::REFACTOR_FILE);
    // Former addresses chained oldest first, ending at the resource's own.
    assert_eq!(
        data["moved"],
        json!([{"from": "demo_vault.first", "to": "demo_vault.second"},
               {"from": "demo_vault.second", "to": "demo_vault.current"}])
    );
    // Sorted by address; the ID is a template (a literal `${` escaped); an
    // aliased provider goes with the import.
    assert_eq!(
        data["import"],
        json!([{"to": "demo_cache.cache", "id": "${var.cache_id}", "provider": "demo.east"},
               {"to": "demo_vault.current", "id": "vault-$${7}"}])
    );
    // Apart from the stacks, which scanners read: nothing to scan in them.
    for stack in ["data.tf.json", "web.tf.json"] {
        let body = file(&m, stack);
        assert!(body.get("moved").is_none() && body.get("import").is_none());
    }
    let plain = module("current", |_| {});
    assert!(!plain.files.contains_key(synth::REFACTOR_FILE));
}

#[test]
fn moves_and_imports_that_terraform_would_refuse_are_named_before_rendering() {
    let err = App::synth(
        &{
            let mut app = App::new("blue");
            let s = app.stack("data", "");
            s.require_provider("demo", RequiredProvider::new("example/demo", "1.0"));
            s.resource("demo_vault", "kept");
            s.resource("demo_vault", "a")
                .moved_from("demo_vault", "kept");
            s.resource("demo_vault", "b")
                .moved_from("demo_vault", "gone");
            s.resource("demo_vault", "c")
                .moved_from("demo_vault", "gone");
            s.resource("demo_vault", "d").moved_from("demo_vault", "d");
            s.resource("demo_vault", "e").count(2).import_from("id");
            s.resource("demo_vault", "f")
                .import_from(Expr::reference(Address::Var("nope".into())));
            s.data("demo_vault", "read")
                .moved_from("demo_vault", "x")
                .import_from("id");
            app
        },
        &SynthOptions::default(),
    )
    .unwrap_err();
    let text = diagnostics(err);
    for expected in [
        "demo_vault.a: moved_from `demo_vault.kept`, but `demo_vault.kept` is still declared (in stack `data`)",
        "demo_vault.c: moved_from `demo_vault.gone`, which `demo_vault.b` says it used to be too",
        "demo_vault.d: moved_from `demo_vault.d` names its own address",
        "demo_vault.e: has import_from, but it has count or for_each",
        "demo_vault.f: references `var.nope`, which does not exist",
        "data.demo_vault.read: has moved_from, but a data source holds no state to move",
        "data.demo_vault.read: has import_from, but a data source is read, never imported",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
}

#[test]
fn a_stack_may_not_take_the_name_of_the_modules_own_files() {
    for name in ["refactor", "terraform", "providers", "variables"] {
        let mut app = App::new("blue");
        app.stack(name, "");
        let text = diagnostics(app.synth(&SynthOptions::default()).unwrap_err());
        assert!(
            text.contains(&format!(
                "stack `{name}`: its file would be {name}.tf.json, which is the module's own"
            )),
            "{text}"
        );
    }
}

#[test]
fn renaming_a_resource_renames_every_reference_to_it() {
    let old = Address::resource("demo_vault", "vault");
    let renamed = module("vault", |app| {
        let new = app.rename_resource(&old, "secrets").unwrap();
        assert_eq!(new, Address::resource("demo_vault", "secrets"));
    });
    let written_as = module("secrets", |_| {});
    assert_eq!(renamed.files, written_as.files);

    let mut app = App::new("blue");
    app.stack("data", "").resource("demo_vault", "a");
    app.stack("data", "").resource("demo_vault", "b");
    let taken = app.rename_resource(&Address::resource("demo_vault", "a"), "b");
    assert!(diagnostics(taken.unwrap_err()).contains("`demo_vault.b` exists already"));
    let missing = app.rename_resource(&Address::resource("demo_vault", "aa"), "c");
    assert!(diagnostics(missing.unwrap_err()).contains("did you mean `demo_vault.a`?"));
    let bad = app.rename_resource(&Address::resource("demo_vault", "a"), "1x");
    assert!(diagnostics(bad.unwrap_err()).contains("a block name is letters"));
}

#[test]
fn a_rename_without_a_moved_block_is_refused_with_the_line_that_keeps_the_state() {
    let dir = tempfile::tempdir().unwrap();
    write_module(dir.path(), &module("old", |_| {})).unwrap();
    local_state(
        dir.path(),
        &["demo_vault.old", "demo_cache.cache", "demo_site.www"],
    );
    let before = tree(dir.path());

    let err = write_module(dir.path(), &module("new", |_| {})).unwrap_err();
    let text = err.to_string();
    for expected in [
        "refusing to write `blue` into",
        "terraform would destroy 1 stateful resource(s) that its state holds (the local state file terraform.blue.tfstate)",
        "  - demo_vault.old (the secrets stored in it) looks renamed to demo_vault.new (3 of 3 attribute values equal)\n",
        r#"    to keep it: add `.moved_from("demo_vault", "old")` to the construct of demo_vault.new, which synthesizes {"moved": [{"from": "demo_vault.old", "to": "demo_vault.new"}]}"#,
        "\n    to destroy it on purpose: --allow-destroy demo_vault.old\n",
        "Nothing was written.",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
    assert_eq!(
        before,
        tree(dir.path()),
        "a refused write changed the directory"
    );

    // The hint, followed: the state moves, nothing is destroyed.
    let kept = module("new", |app| {
        resource(app, &Address::resource("demo_vault", "new")).moved_from("demo_vault", "old");
    });
    let report = write_module(dir.path(), &kept).unwrap();
    assert_eq!(report.assessment.destroyed, []);
    assert_eq!(
        report.assessment.renames,
        [],
        "a declared move is no rename"
    );
    let refactor = dir.path().join(synth::REFACTOR_FILE);
    let data: Value = serde_json::from_slice(&fs::read(refactor).unwrap()).unwrap();
    assert_eq!(
        data["moved"],
        json!([{"from": "demo_vault.old", "to": "demo_vault.new"}])
    );
}

#[test]
fn an_allowed_destroy_is_written_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_module(dir.path(), &module("old", |_| {})).unwrap();
    local_state(dir.path(), &["demo_vault.old"]);
    let allowed = module("new", |app| {
        app.allow_destroy(&Address::resource("demo_vault", "old"));
    });
    let report = write_module(dir.path(), &allowed).unwrap();
    let destroyed = &report.assessment.destroyed;
    assert_eq!(destroyed.len(), 1);
    assert!(destroyed[0].allowed && destroyed[0].address == "demo_vault.old");
    assert_eq!(destroyed[0].renamed.as_ref().unwrap().to, "demo_vault.new");
}

#[test]
fn renames_of_other_types_and_of_what_state_lacks_are_reported_not_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_module(dir.path(), &module("old", |_| {})).unwrap();
    // Applied before the vault was added: only the cache is in state.
    local_state(dir.path(), &["demo_cache.cache"]);
    let renamed = module_with(Backend::local(STATE_FILE), Some("new"), "lru", |_| {});
    let report = write_module(dir.path(), &renamed).unwrap();
    let pairs: Vec<(&str, &str)> = report
        .assessment
        .renames
        .iter()
        .map(|r| (r.from.as_str(), r.to.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("demo_vault.old", "demo_vault.new"),
            ("demo_cache.cache", "demo_cache.lru")
        ]
    );
    assert_eq!(report.assessment.destroyed, []);
}

#[test]
fn a_removed_resource_gets_the_general_hint() {
    let dir = tempfile::tempdir().unwrap();
    write_module(dir.path(), &module("old", |_| {})).unwrap();
    local_state(dir.path(), &["demo_vault.old", "demo_cache.cache"]);
    let without = module_with(Backend::local(STATE_FILE), None, "cache", |_| {});
    let text = write_module(dir.path(), &without).unwrap_err().to_string();
    assert!(
        text.contains(
            r#"demo_vault.old (the secrets stored in it) is no longer declared
    to keep it: if its construct was renamed, add `.moved_from("demo_vault", "old")` to the construct it became
    to destroy it on purpose: --allow-destroy demo_vault.old"#
        ),
        "{text}"
    );
}

#[test]
fn a_subset_of_stacks_may_not_drop_what_the_state_holds() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = base(Backend::local(STATE_FILE));
    app.stack("data", "").resource("demo_vault", "vault");
    let web = app.stack("web", "web");
    web.require_provider("demo", RequiredProvider::new("example/demo", "1.0"));
    web.resource("demo_site", "www");
    write_module(dir.path(), &synth(&app, None)).unwrap();
    local_state(dir.path(), &["demo_vault.vault", "demo_site.www"]);
    let web_only = synth(&app, Some(&["web"]));
    let text = write_module(dir.path(), &web_only).unwrap_err().to_string();
    assert!(
        text.contains(
            "demo_vault.vault (the secrets stored in it) is declared in stack `data`, which --stacks leaves out\n    to keep it: add `data` to --stacks"
        ),
        "{text}"
    );
}

/// `terraform init` with a remote backend: the state is elsewhere.
fn initialised_remote(dir: &Path) {
    fs::create_dir_all(dir.join(".terraform")).unwrap();
    let record = json!({"version": 3, "backend": {"type": "remote",
        "config": {"organization": "o", "workspaces": {"name": "blue"}, "token": null}, "hash": 1}});
    fs::write(dir.join(".terraform/terraform.tfstate"), record.to_string()).unwrap();
}

fn remote() -> Backend {
    Backend::new("remote")
        .set("organization", "o")
        .set("workspaces", Expr::object([("name", "blue")]))
}

#[test]
fn remote_state_counts_as_holding_what_was_synthesized_before() {
    let dir = tempfile::tempdir().unwrap();
    let old = module_with(remote(), Some("old"), "cache", |_| {});
    write_module(dir.path(), &old).unwrap();
    initialised_remote(dir.path());
    let renamed = module_with(remote(), Some("new"), "cache", |_| {});
    let text = write_module(dir.path(), &renamed).unwrap_err().to_string();
    for expected in [
        r#"the state of backend "remote" (organization = "o")"#,
        "which synth does not read (it makes no network calls); it counts as holding what was synthesized there before",
        "demo_vault.old (the secrets stored in it) looks renamed to demo_vault.new",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
}

#[test]
fn remote_state_with_nothing_synthesized_before_is_written_blind() {
    let dir = tempfile::tempdir().unwrap();
    initialised_remote(dir.path());
    let fresh = module_with(remote(), Some("v"), "c", |_| {});
    let report = write_module(dir.path(), &fresh).unwrap();
    assert!(report.assessment.blind);
    assert!(!report.assessment.state.unread.is_empty());
}

#[test]
fn unreadable_local_state_counts_as_state() {
    let dir = tempfile::tempdir().unwrap();
    write_module(dir.path(), &module("old", |_| {})).unwrap();
    fs::write(dir.path().join(STATE_FILE), "{\"resources\": 7}").unwrap();
    let text = write_module(dir.path(), &module("new", |_| {}))
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("the local state file terraform.blue.tfstate, which is not terraform state synth can read"),
        "{text}"
    );
    assert!(text.contains("demo_vault.old"), "{text}");
}
