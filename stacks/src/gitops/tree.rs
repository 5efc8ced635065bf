//! The GitOps tree of one environment: the files `infra synth <env>` writes
//! into `gitops/<env>/` (a path of this repository, which Argo CD reads) as
//! plain files (`synth::output::write_plain`: no generations or links in git).
//!
//! ```text
//! gitops/<env>/apps/Chart.yaml                the chart of Applications the root Application renders
//! gitops/<env>/apps/values.yaml               each Application, and its values as synthesis knows them
//! gitops/<env>/apps/templates/applications.yaml
//! gitops/<env>/chart/, charts/<name>/         charts carried by the environment (the service's, custom resources)
//! gitops/<env>/manifest.json                  what synth wrote (its bookkeeping, committed too)
//! gitops/<env>/image.yaml                     not synth's: the image a deploy chose, committed by CI
//! ```
//!
//! The tree holds only what synthesis knows, so it is the same on every
//! machine and reviewable in a pull request. What only terraform knows (role
//! ARNs, the cluster's name, the ECR repository) reaches Argo CD through the
//! root Application's values, which terraform writes at the bootstrap; the
//! chart of Applications merges it in. The image is the one value a deploy
//! changes, so it lives in a file of its own, which CI commits and a revert
//! rolls back.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};
use synth::{Module, SynthError};

use super::convert::Delivered;
use super::objects::{
    Application, ApplicationSpec, Destination, Helm, SyncPolicy, API_VERSION, SYNC_WAVE,
};
use super::projects::{chart_source, metadata, project_of, APPS_DIR, PLATFORM_PROJECT};
use crate::config::{Environment, GitopsConfig};
use crate::releases::ReleaseValues;

/// The file CI commits the deployed image into, beside the synthesized tree.
pub const IMAGE_VALUES: &str = "image.yaml";

/// The values file of the chart of Applications.
pub const APPS_VALUES: &str = "apps/values.yaml";

/// Renders each Application of `.Values.applications`, its values being the
/// known ones with terraform's (`.Values.terraform.<name>`) merged over them.
/// The two never set the same leaf (synthesis splits them), so the merge
/// only joins mappings.
const APPLICATIONS_TEMPLATE: &str = "\
{{- /* Written by infra synth from stacks/: change the stacks, not this file. */ -}}
{{- $terraform := .Values.terraform | default dict }}
{{- range $name, $app := .Values.applications }}
{{- $values := mustMergeOverwrite (deepCopy $app.values) (deepCopy (get $terraform $name | default dict)) }}
{{- $application := deepCopy $app.application }}
{{- $_ := set $application.spec.source.helm \"valuesObject\" $values }}
---
{{ toYaml $application }}
{{- end }}
";

/// One environment's tree.
#[derive(Debug, Clone)]
pub struct Tree {
    /// Its place in the repository (`gitops/<env>`).
    pub path: String,
    /// File names relative to the tree.
    pub files: BTreeMap<String, Vec<u8>>,
    /// The releases it delivers, with the values their charts receive, as
    /// the terraform path would pass them (apply-time parts standing for
    /// themselves): what `infra values` prints for them.
    pub releases: Vec<ReleaseValues>,
}

impl Tree {
    /// The tree as a module for [`synth::output::write_plain`].
    pub fn module(&self, environment: &str, tool: &str) -> Module {
        Module::from_files(environment, tool, self.files.clone())
    }
}

#[derive(Debug, Serialize)]
struct Entry<'a> {
    application: &'a Application,
    values: &'a Value,
}

/// The Application that delivers `release`.
pub fn application(
    env: &Environment,
    gitops: &GitopsConfig,
    release: &Delivered,
    image_values: bool,
) -> Application {
    let tree = gitops.tree_path(&env.name);
    let project = project_of(env, release);
    let mut helm = Helm::release(&release.release_name);
    helm.skip_crds = release.skip_crds;
    if image_values {
        // A path from the repository's root (Argo CD resolves it there).
        helm.value_files.push(format!("/{tree}/{IMAGE_VALUES}"));
    }
    let mut sync_options = Vec::new();
    if release.create_namespace {
        sync_options.push("CreateNamespace=true".to_owned());
    }
    if project == PLATFORM_PROJECT {
        // Add-ons ship CRDs larger than client-side apply's annotation limit.
        sync_options.push("ServerSideApply=true".to_owned());
    }
    let mut metadata = metadata(&release.name);
    metadata
        .annotations
        .insert(SYNC_WAVE.to_owned(), release.wave.to_string());
    metadata.labels.insert(
        "app.kubernetes.io/managed-by".to_owned(),
        "infra".to_owned(),
    );
    Application {
        api_version: API_VERSION,
        kind: "Application",
        metadata,
        spec: ApplicationSpec {
            project: project.to_owned(),
            destination: Destination::in_cluster(&release.namespace),
            source: chart_source(gitops, &tree, &release.chart, helm),
            sync_policy: SyncPolicy::git_is_the_truth(sync_options),
        },
    }
}

/// The files of the tree: the chart of Applications and the charts carried.
pub fn files(
    applications: &[(Application, &Delivered)],
    charts: BTreeMap<String, Vec<u8>>,
) -> BTreeMap<String, Vec<u8>> {
    let mut entries = Map::new();
    for (application, release) in applications {
        let entry = Entry {
            application,
            values: &release.known,
        };
        entries.insert(
            release.name.clone(),
            serde_json::to_value(&entry).unwrap_or(Value::Null),
        );
    }
    let values = serde_json::json!({
        "applications": entries,
        // Filled in by the root Application, from terraform.
        "terraform": {},
    });
    let mut files = charts;
    files.insert(
        format!("{APPS_DIR}/Chart.yaml"),
        b"apiVersion: v2\nname: apps\ndescription: The environment's Argo CD Applications, synthesized by infra\ntype: application\nversion: 0.1.0\n".to_vec(),
    );
    // JSON is YAML: the canonical writer keeps the file deterministic.
    files.insert(
        APPS_VALUES.to_owned(),
        synth::to_canonical_string(&values).into_bytes(),
    );
    files.insert(
        format!("{APPS_DIR}/templates/applications.yaml"),
        APPLICATIONS_TEMPLATE.as_bytes().to_vec(),
    );
    files
}

/// A tree's files as `infra diff` compares them: one entry per Application
/// (`application <name>`, with its values), the other files by content.
pub fn blocks(files: &BTreeMap<String, Vec<u8>>) -> Result<BTreeMap<String, Value>, SynthError> {
    let mut rest = files.clone();
    let mut out = BTreeMap::new();
    if let Some(bytes) = rest.remove(APPS_VALUES) {
        let doc: Value =
            serde_json::from_slice(&bytes).map_err(|e| SynthError::UnreadableModule {
                file: APPS_VALUES.to_owned(),
                message: format!("not valid JSON: {e}"),
            })?;
        for (name, entry) in doc
            .get("applications")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            out.insert(format!("application {name}"), entry.clone());
        }
    }
    out.extend(synth::diff::blocks(&rest)?);
    Ok(out)
}
