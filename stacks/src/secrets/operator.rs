//! External Secrets Operator (chart 2.9.0) in its own namespace, and in the
//! service's namespace the objects that deliver the secrets: the service
//! account its SecretStore authenticates as (bound to the namespace's IRSA
//! role), the SecretStore, and the ExternalSecret that writes the service's
//! Secret. The controller itself has no AWS role: each namespace's store
//! brings its own, so a namespace can never read another's secrets.

use std::collections::BTreeMap;

use bindings::helm::release::ReleaseRef;
use bindings::kubernetes::namespace_v1::{Metadata as NamespaceMetadata, NamespaceV1};
use bindings::prelude::*;
use serde::Serialize;
use synth::{Address, App, Expr};

use crate::config::Environment;
use crate::eks::Eks;
use crate::helm::{addon_release_in, custom_resources, Chart, Resources, ServiceAccount};
use crate::webapp::SECRET_NAME;
use crate::{Error, Layer};

/// Namespace of the operator.
pub const NAMESPACE: &str = "external-secrets";

/// The service account, in each namespace with secrets, that the
/// namespace's SecretStore authenticates as (its IRSA role trusts it).
pub const STORE_SERVICE_ACCOUNT: &str = "secrets-reader";

/// The namespace's SecretStore.
const STORE_NAME: &str = "aws-secrets-manager";

const CHART: Chart = Chart {
    repository: "https://charts.external-secrets.io",
    name: "external-secrets",
    version: "2.9.0",
};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Values {
    #[serde(rename = "installCRDs")]
    install_crds: bool,
    replica_count: u32,
    leader_elect: bool,
    pod_disruption_budget: DisruptionBudget,
    /// Cluster-wide stores and secrets, and pushing values out of the
    /// cluster, are not used: every secret comes through a namespace's store.
    process_cluster_store: bool,
    process_cluster_external_secret: bool,
    process_cluster_push_secret: bool,
    process_push_secret: bool,
    service_account: ServiceAccount,
    resources: Resources,
    webhook: Component,
    cert_controller: Component,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Component {
    replica_count: u32,
    pod_disruption_budget: DisruptionBudget,
    resources: Resources,
}

/// `podDisruptionBudget` as this chart spells it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DisruptionBudget {
    enabled: bool,
    min_available: u32,
}

/// Requests sized for a handful of secrets; memory is limited, CPU is not
/// (a throttled webhook would time out the API server's admission calls).
fn resources(cpu: &str, memory: &str, memory_limit: &str) -> Resources {
    Resources::new((cpu, memory), (None, memory_limit))
}

/// The objects of the service namespace's chart.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Object {
    ServiceAccount(ServiceAccountObject),
    Store(Resource<StoreSpec>),
    External(Resource<ExternalSecretSpec>),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceAccountObject {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    /// The operator requests this account's tokens itself; no pod runs as it.
    automount_service_account_token: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Resource<S> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    spec: S,
}

/// Objects name their namespace, the release's, so whoever reads the
/// manifests (a scanner, a reviewer) sees where they go.
#[derive(Debug, Serialize)]
struct Metadata {
    name: &'static str,
    namespace: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<&'static str, Expr>,
}

#[derive(Debug, Serialize)]
struct StoreSpec {
    provider: StoreProvider,
}

#[derive(Debug, Serialize)]
struct StoreProvider {
    aws: AwsProvider,
}

#[derive(Debug, Serialize)]
struct AwsProvider {
    service: &'static str,
    region: String,
    auth: AwsAuth,
}

#[derive(Debug, Serialize)]
struct AwsAuth {
    jwt: JwtAuth,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct JwtAuth {
    service_account_ref: NameRef,
}

#[derive(Debug, Serialize)]
struct NameRef {
    name: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalSecretSpec {
    refresh_policy: &'static str,
    refresh_interval: String,
    secret_store_ref: StoreRef,
    target: Target,
    data: Vec<Data>,
}

#[derive(Debug, Serialize)]
struct StoreRef {
    name: &'static str,
    kind: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    name: &'static str,
    /// The operator owns the Secret: it is deleted with the ExternalSecret.
    creation_policy: &'static str,
    /// A secret gone from Secrets Manager leaves the last value in place,
    /// so a mistake upstream does not take the pods' secret away.
    deletion_policy: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    secret_key: String,
    /// The secret's current value (`AWSCURRENT`, the operator's default);
    /// the previous one stays readable in Secrets Manager for a while.
    remote_ref: RemoteRef,
}

#[derive(Debug, Serialize)]
struct RemoteRef {
    key: String,
}

/// The operator's release, and the service namespace's objects after it;
/// returns the latter's release. `remote` is `(key in the Secret, name in
/// Secrets Manager)` of each secret.
pub(super) fn install(
    app: &mut App,
    env: &Environment,
    eks: &Eks,
    namespace: &Value<ty::String>,
    role_arn: &Value<ty::String>,
    remote: &[(&str, &str)],
) -> Result<ReleaseRef, Error> {
    let stack = Layer::App.of(app);
    let operator_namespace = stack
        .add(NamespaceV1::new(
            "external_secrets",
            NamespaceMetadata::new()
                .name(NAMESPACE)
                .labels(BTreeMap::from([
                    ("pod-security.kubernetes.io/enforce", "restricted"),
                    ("pod-security.kubernetes.io/warn", "restricted"),
                ])),
        ))
        .metadata()
        .at(0)
        .name();
    let budget = || DisruptionBudget {
        enabled: true,
        min_available: 1,
    };
    let values = Values {
        install_crds: true,
        replica_count: 2,
        leader_elect: true,
        pod_disruption_budget: budget(),
        process_cluster_store: false,
        process_cluster_external_secret: false,
        process_cluster_push_secret: false,
        process_push_secret: false,
        service_account: ServiceAccount {
            create: true,
            name: "external-secrets".to_owned(),
            annotations: Default::default(),
        },
        resources: resources("50m", "64Mi", "256Mi"),
        webhook: Component {
            replica_count: 2,
            pod_disruption_budget: budget(),
            resources: resources("20m", "32Mi", "128Mi"),
        },
        cert_controller: Component {
            replica_count: 1,
            pod_disruption_budget: DisruptionBudget {
                enabled: false,
                min_available: 1,
            },
            resources: resources("20m", "32Mi", "128Mi"),
        },
    };
    let operator = addon_release_in(
        stack,
        "external_secrets",
        CHART,
        operator_namespace,
        &values,
        &eks.workloads_ready,
    )?;

    let named = |name| Metadata {
        name,
        namespace: env.config.service.namespace.clone(),
        annotations: Default::default(),
    };
    let mut account = named(STORE_SERVICE_ACCOUNT);
    account
        .annotations
        .insert("eks.amazonaws.com/role-arn", role_arn.into());
    let objects = [
        Object::ServiceAccount(ServiceAccountObject {
            api_version: "v1",
            kind: "ServiceAccount",
            metadata: account,
            automount_service_account_token: false,
        }),
        Object::Store(Resource {
            api_version: "external-secrets.io/v1",
            kind: "SecretStore",
            metadata: named(STORE_NAME),
            spec: StoreSpec {
                provider: StoreProvider {
                    aws: AwsProvider {
                        service: "SecretsManager",
                        region: env.config.region.clone(),
                        auth: AwsAuth {
                            jwt: JwtAuth {
                                service_account_ref: NameRef {
                                    name: STORE_SERVICE_ACCOUNT,
                                },
                            },
                        },
                    },
                },
            },
        }),
        Object::External(Resource {
            api_version: "external-secrets.io/v1",
            kind: "ExternalSecret",
            metadata: named(SECRET_NAME),
            spec: ExternalSecretSpec {
                refresh_policy: "Periodic",
                refresh_interval: format!("{}m", env.config.secrets.refresh_minutes),
                secret_store_ref: StoreRef {
                    name: STORE_NAME,
                    kind: "SecretStore",
                },
                target: Target {
                    name: SECRET_NAME,
                    creation_policy: "Owner",
                    deletion_policy: "Retain",
                },
                data: remote
                    .iter()
                    .map(|(key, name)| Data {
                        secret_key: (*key).to_owned(),
                        remote_ref: RemoteRef {
                            key: (*name).to_owned(),
                        },
                    })
                    .collect(),
            },
        }),
    ];
    custom_resources(
        stack,
        "service_secrets",
        "service-secrets",
        namespace,
        &objects,
        &[Address::from(&operator)],
    )
}
