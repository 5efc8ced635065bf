//! GitOps delivery with Argo CD (`[gitops]` in the environment's config).
//!
//! With GitOps on, terraform's app stack installs only Argo CD (chart argo-cd
//! 10.1.1) and, in one local chart after it, the AppProjects and the root
//! Application; everything else the components release with helm is
//! delivered by Argo CD from the environment's tree in git (`gitops/<env>/`),
//! which `infra synth` writes beside the Terraform JSON. Deploying an image
//! is then a commit to that tree, and CI needs no access to the cluster.
//!
//! The components do not know which way they are delivered: they declare
//! their helm releases as always, and [`deliver`] (a step of
//! `stacks::synthesize` after every component is built) turns each release
//! of the construct tree into an Application, so an add-on added tomorrow
//! gets its Application without a line here. docs/gitops.md has the design.

mod argocd;
mod bastion;
mod convert;
mod objects;
mod projects;
mod record;
mod tree;

use std::collections::{BTreeMap, BTreeSet};

use bindings::helm::release::ReleaseRef;
use synth::{Address, App, Expr};

pub use record::{DeliveredRelease, Delivery, METADATA_KEY as DELIVERY_METADATA_KEY};
pub use tree::{blocks, Tree, APPS_VALUES, IMAGE_VALUES};

use bastion::{bastion, tunnel_providers};
use convert::Delivered;

use crate::config::Environment;
use crate::eks::Eks;
use crate::helm::custom_resources;
use crate::releases::{release_values, Chart};
use crate::{Error, Layer};

/// Terraform id of the release of the AppProjects and the root Application.
pub const BOOTSTRAP_RELEASE_ID: &str = "argocd_bootstrap";

/// The bastion phase 2 goes through, and the providers' tunnel variable,
/// when GitOps is on and the cluster's API is private (no one outside the
/// VPC could install Argo CD otherwise).
pub fn way_in(
    app: &mut App,
    env: &Environment,
    network: &crate::network::Network,
    cluster_iam: &crate::iam::ClusterIam,
    eks: &Eks,
) {
    let Some(gitops) = env.config.gitops_enabled() else {
        return;
    };
    if env.config.cluster.endpoint_public_access {
        return;
    }
    bastion(app, env, gitops, network, cluster_iam, eks);
    tunnel_providers(Layer::App.of(app), eks);
}

/// Argo CD, when the environment has GitOps on: its release (after what pods
/// need to run) and, for an SSH repository, the Secret with its deploy key.
/// A component like the others, built with them.
pub fn argo_cd(app: &mut App, env: &Environment, eks: &Eks) -> Result<(), Error> {
    let Some(gitops) = env.config.gitops_enabled() else {
        return Ok(());
    };
    let stack = Layer::App.of(app);
    let release = argocd::argo_cd(stack, env, gitops, eks)?;
    if gitops.uses_ssh() {
        argocd::repository_secret(stack, gitops, &release);
    }
    Ok(())
}

/// Hands every helm release of `app` but Argo CD's own to Argo CD, when the
/// environment has GitOps on: each becomes an Application in the returned
/// tree, its values split into the tree (what synthesis knows) and the root
/// Application (what terraform knows at apply time); the release leaves the
/// app stack with the chart it carried and the locals only it used; and the
/// AppProjects and the root Application go in after Argo CD. `None` when
/// GitOps is off (the releases stay, applied by terraform).
pub fn deliver(app: &mut App, env: &Environment) -> Result<Option<Tree>, Error> {
    let Some(gitops) = env.config.gitops_enabled() else {
        return Ok(None);
    };
    let argo = Address::resource("helm_release", argocd::RELEASE_ID);
    let delivered = convert::delivered(app, std::slice::from_ref(&argo))?;
    let addresses: BTreeSet<String> = delivered.iter().map(|r| r.address.to_string()).collect();
    let releases = release_values(app)
        .into_iter()
        .filter(|r| addresses.contains(&r.address))
        .collect();
    let service = env.config.service.namespace.as_str();
    let applications: Vec<_> = delivered
        .iter()
        .map(|release| {
            // The service's own release takes the image CI commits.
            let image =
                release.release_name == crate::webapp::RELEASE_NAME && release.namespace == service;
            (tree::application(env, gitops, release, image), release)
        })
        .collect();

    let stack = Layer::App.of(app);
    let mut charts = BTreeMap::new();
    let mut used_locals = BTreeSet::new();
    for release in &delivered {
        let block = stack
            .remove(&release.address)
            .ok_or_else(|| Error::Gitops(format!("{} is not in the app stack", release.address)))?;
        used_locals.extend(block.dependencies().into_iter().filter_map(|a| match a {
            Address::Local(name) => Some(name.clone()),
            _ => None,
        }));
        if let Chart::Local { path } = &release.chart {
            for (name, bytes) in stack.take_asset(path).unwrap_or_default() {
                charts.insert(format!("{path}/{name}"), bytes);
            }
        }
    }
    remove_unused_locals(app, &used_locals);

    let files = tree::files(&applications, charts);
    bootstrap(app, env, gitops, &delivered)?;
    // What left the app stack, for what reads the module alone (cost, graph).
    let root = Address::resource("helm_release", BOOTSTRAP_RELEASE_ID);
    let delivery = record::delivery(
        gitops,
        gitops.tree_path(&env.name),
        (&argo, &root),
        &delivered,
    );
    let delivery = serde_json::to_value(&delivery).map_err(|source| Error::Metadata { source })?;
    app.metadata(record::METADATA_KEY, delivery);
    Ok(Some(Tree {
        path: gitops.tree_path(&env.name),
        files,
        releases,
    }))
}

/// Locals the delivered releases used that nothing left uses.
fn remove_unused_locals(app: &mut App, candidates: &BTreeSet<String>) {
    let mut still_used = BTreeSet::new();
    for stack in app.stacks() {
        let references = stack
            .resources()
            .iter()
            .flat_map(|r| r.dependencies())
            .chain(stack.locals().flat_map(|(_, e)| e.references()))
            .chain(stack.outputs().flat_map(|(_, o)| o.value().references()));
        for address in references {
            if let Address::Local(name) = address {
                still_used.insert(name.clone());
            }
        }
    }
    let stack = Layer::App.of(app);
    for name in candidates.difference(&still_used) {
        stack.remove_local(name);
    }
}

/// The AppProjects and the root Application, after Argo CD (and the deploy
/// key's Secret): terraform writes into the root Application what only it
/// knows, for each Application that needs any.
fn bootstrap(
    app: &mut App,
    env: &Environment,
    gitops: &crate::config::GitopsConfig,
    delivered: &[Delivered],
) -> Result<ReleaseRef, Error> {
    let apply_time = Expr::Map(
        delivered
            .iter()
            .filter_map(|r| r.apply_time.clone().map(|e| (r.name.clone(), e)))
            .collect(),
    );
    let mut objects: Vec<Expr> = Vec::new();
    for project in projects::projects(env, gitops, delivered) {
        objects.push(object(&project)?);
    }
    objects.push(object(&projects::root_application(
        env, gitops, apply_time,
    ))?);
    let stack = Layer::App.of(app);
    let after: Vec<Address> = [
        Address::resource("helm_release", argocd::RELEASE_ID),
        Address::resource("kubernetes_secret_v1", argocd::REPOSITORY_SECRET_ID),
    ]
    .into_iter()
    .filter(|address| stack.find_mut(address).is_some())
    .collect();
    custom_resources(
        stack,
        BOOTSTRAP_RELEASE_ID,
        "argocd-bootstrap",
        argocd::NAMESPACE,
        &objects,
        &after,
    )
}

/// A typed object as an expression, the bootstrap release named on error.
fn object(value: &impl serde::Serialize) -> Result<Expr, Error> {
    synth::to_expr(value).map_err(|source| Error::Values {
        release: BOOTSTRAP_RELEASE_ID.to_owned(),
        source: Box::new(source),
    })
}

#[cfg(test)]
mod tests;
