"""A Kubernetes RBAC evaluator over rendered objects, with the EKS access
policies and the third-party roles the platform installs, to prove who may do
what in a namespace.

Kubernetes' rules, as the API server's RBAC authorizer applies them: a rule
allows a request when its apiGroups, resources and verbs match (each may be
`*`) and, if it names resourceNames, the request names one of them (so a
rule with resourceNames never allows `list` or `watch` of a collection, nor
`create`). A RoleBinding applies its Role or ClusterRole in its own
namespace only; a ClusterRoleBinding everywhere. A service account is the
user `system:serviceaccount:<ns>:<name>`.

EKS access policies are not RBAC objects; their rules are transcribed below
from the EKS user guide ("Review access policy permissions",
awsdocs/amazon-eks-user-guide, latest/ug/manage-access/k8s-access/
access-policy-reference.adoc), the rows that concern the core API group's
objects, which is what these checks ask about. An association applies them
cluster-wide or in its namespaces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
READ = ("get", "list", "watch")
WRITE = ("create", "update", "patch", "delete", "deletecollection")

# Core-group rows of each policy: resources -> verbs.
ACCESS_POLICIES: dict[str, list[dict[str, Any]]] = {
    "AmazonEKSClusterAdminPolicy": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
    "AmazonEKSAdminViewPolicy": [{"apiGroups": ["*"], "resources": ["*"], "verbs": list(READ)}],
    "AmazonEKSAdminPolicy": [
        {"apiGroups": [""], "resources": ["configmaps", "endpoints", "persistentvolumeclaims", "pods",
                                          "replicationcontrollers", "serviceaccounts", "services"], "verbs": list(READ)},
        {"apiGroups": [""], "resources": ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy",
                                          "secrets", "services/proxy"], "verbs": list(READ)},
        {"apiGroups": [""], "resources": ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
                                          "secrets", "serviceaccounts", "services", "services/proxy"], "verbs": list(WRITE)},
        {"apiGroups": [""], "resources": ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"],
         "verbs": list(WRITE)},
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings", "roles"], "verbs": list(VERBS)},
    ],
    "AmazonEKSEditPolicy": [
        {"apiGroups": [""], "resources": ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy",
                                          "secrets", "services/proxy"], "verbs": list(READ)},
        {"apiGroups": [""], "resources": ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"],
         "verbs": list(WRITE)},
        {"apiGroups": [""], "resources": ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
                                          "secrets", "serviceaccounts", "services", "services/proxy"], "verbs": list(WRITE)},
        {"apiGroups": [""], "resources": ["configmaps", "endpoints", "persistentvolumeclaims", "pods",
                                          "replicationcontrollers", "serviceaccounts", "services"], "verbs": list(READ)},
    ],
    "AmazonEKSViewPolicy": [
        {"apiGroups": [""], "resources": ["configmaps", "endpoints", "persistentvolumeclaims", "pods",
                                          "replicationcontrollers", "serviceaccounts", "services"], "verbs": list(READ)},
        {"apiGroups": [""], "resources": ["bindings", "events", "limitranges", "namespaces/status", "pods/log",
                                          "pods/status", "replicationcontrollers/status", "resourcequotas"],
         "verbs": list(READ)},
    ],
}

# What the platform's charts grant on Secrets across namespaces, each chart
# rendered by Helm's library at its pinned version with the values the stacks
# pass it (both environments render the same grants). Only the rules that
# reach Secrets of other namespaces are kept; every binding names its
# account. A chart bump, or a values change touching RBAC, must check these
# again. The AWS Load Balancer Controller 3.5.0 (with
# clusterSecretsPermissions.allowAllSecrets false), Karpenter 1.14.1 and
# metrics-server 3.12.2 grant nothing on Secrets.
OPERATOR_NAMESPACE = "external-secrets"
ARGOCD_NAMESPACE = "argocd"
MONITORING_NAMESPACE = "monitoring"
READ_SECRETS_AND_CONFIGMAPS = {"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["get", "list", "watch"]}


def cluster_grant(name: str, namespace: str, account: str, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A ClusterRole and the ClusterRoleBinding giving it to one service account."""
    return [
        {"kind": "ClusterRole", "metadata": {"name": name}, "rules": rules},
        {"kind": "ClusterRoleBinding", "metadata": {"name": name},
         "roleRef": {"kind": "ClusterRole", "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}]},
    ]


THIRD_PARTY_ROLES: list[dict[str, Any]] = [
    # External Secrets Operator 2.9.0 (templates/rbac.yaml, cert-controller-rbac.yaml):
    # the controller writes every namespace's Secrets, the certificate
    # controller reads them to find its webhook's.
    *cluster_grant("external-secrets-controller", OPERATOR_NAMESPACE, "external-secrets", [
        {"apiGroups": [""], "resources": ["secrets"],
         "verbs": ["get", "list", "watch", "create", "update", "delete", "patch"]}]),
    *cluster_grant("external-secrets-cert-controller", OPERATOR_NAMESPACE, "external-secrets-cert-controller", [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["external-secrets-webhook"],
         "verbs": ["update", "patch"]}]),
    # Argo CD (argo-cd 10.1.1, createClusterRoles): the application
    # controller applies and prunes every kind in every namespace; the API
    # server may get, patch and delete any object by name (not list).
    *cluster_grant("argocd-application-controller", ARGOCD_NAMESPACE, "argocd-application-controller", [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]),
    *cluster_grant("argocd-server", ARGOCD_NAMESPACE, "argocd-server", [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["delete", "get", "patch"]}]),
    # kube-prometheus-stack 88.5.3: the Prometheus operator reads the Secrets
    # monitors refer to in any namespace and writes its own; Grafana's
    # sidecars (12.11.1, dashboards searched in ALL namespaces) and
    # kube-state-metrics 8.4.0 (its `secrets` collector, metadata only) list them.
    *cluster_grant("kube-prometheus-stack-operator", MONITORING_NAMESPACE, "kube-prometheus-stack-operator", [
        {"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["*"]}]),
    *cluster_grant("kube-prometheus-stack-grafana-clusterrole", MONITORING_NAMESPACE, "kube-prometheus-stack-grafana",
                   [READ_SECRETS_AND_CONFIGMAPS]),
    *cluster_grant("kube-prometheus-stack-kube-state-metrics", MONITORING_NAMESPACE,
                   "kube-prometheus-stack-kube-state-metrics",
                   [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list", "watch"]}]),
    # Loki 18.11.0 (its rules sidecar) and Alloy 1.11.1 (remote.kubernetes.*).
    *cluster_grant("loki-clusterrole", MONITORING_NAMESPACE, "loki", [READ_SECRETS_AND_CONFIGMAPS]),
    *cluster_grant("alloy", MONITORING_NAMESPACE, "alloy", [READ_SECRETS_AND_CONFIGMAPS]),
]


def service_account(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


@dataclass(frozen=True)
class Request:
    verb: str
    resource: str
    namespace: str
    name: str | None = None
    group: str = ""


@dataclass
class Grant:
    """Rules that apply to a principal, cluster-wide or in some namespaces."""

    rules: list[dict[str, Any]]
    namespaces: frozenset[str] | None  # None: every namespace


@dataclass
class Authorizer:
    grants: dict[str, list[Grant]] = field(default_factory=dict)

    def grant(self, principal: str, rules: list[dict[str, Any]], namespaces: Iterable[str] | None) -> None:
        scope = None if namespaces is None else frozenset(namespaces)
        self.grants.setdefault(principal, []).append(Grant(rules, scope))

    def principals(self) -> list[str]:
        return sorted(self.grants)

    def allows(self, principal: str, request: Request) -> bool:
        for grant in self.grants.get(principal, []):
            if grant.namespaces is not None and request.namespace not in grant.namespaces:
                continue
            if any(rule_allows(rule, request) for rule in grant.rules):
                return True
        return False

    def who(self, request: Request) -> list[str]:
        return [p for p in self.principals() if self.allows(p, request)]


def matches(values: list[str] | None, wanted: str) -> bool:
    return bool(values) and ("*" in values or wanted in values)


def rule_allows(rule: dict[str, Any], request: Request) -> bool:
    if not (matches(rule.get("apiGroups"), request.group)
            and matches(rule.get("resources"), request.resource)
            and matches(rule.get("verbs"), request.verb)):
        return False
    names = rule.get("resourceNames") or []
    return not names or (request.name is not None and request.name in names)


def add_rbac_objects(authorizer: Authorizer, objects: Iterable[dict[str, Any]], default_namespace: str) -> None:
    """Roles, ClusterRoles and their bindings, as rendered."""
    objects = list(objects)
    roles = {
        (obj["kind"], obj["metadata"].get("namespace", default_namespace) if obj["kind"] == "Role" else None,
         obj["metadata"]["name"]): obj.get("rules") or []
        for obj in objects if obj.get("kind") in ("Role", "ClusterRole")
    }
    for binding in objects:
        kind = binding.get("kind")
        if kind not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        namespace = binding["metadata"].get("namespace", default_namespace) if kind == "RoleBinding" else None
        ref = binding["roleRef"]
        role_namespace = namespace if ref["kind"] == "Role" else None
        rules = roles.get((ref["kind"], role_namespace, ref["name"]))
        if rules is None:
            raise ValueError(f"{kind} {binding['metadata']['name']} refers to {ref['kind']} {ref['name']}, which is not rendered")
        for subject in binding.get("subjects") or []:
            if subject["kind"] == "ServiceAccount":
                who = service_account(subject.get("namespace", namespace or default_namespace), subject["name"])
            else:
                who = f"{subject['kind'].lower()}:{subject['name']}"
            authorizer.grant(who, rules, None if namespace is None else [namespace])


def add_access_policy(authorizer: Authorizer, principal: str, policy_arn: str, scope: dict[str, Any]) -> None:
    """An EKS access policy association of `principal`."""
    name = policy_arn.rpartition("/")[2]
    if name not in ACCESS_POLICIES:
        raise ValueError(f"{principal}: access policy {name} is not modelled here")
    namespaces = None if scope.get("type") == "cluster" else scope.get("namespaces") or []
    authorizer.grant(principal, ACCESS_POLICIES[name], namespaces)
