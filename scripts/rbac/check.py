"""Who may do what to the service's Secret and ConfigMap in one environment,
proved over what is deployed: the service's chart rendered (Helm's library)
with the values its helm_release passes, the EKS access entries and access
policy associations of the synthesized module, and the roles the
platform's charts grant (rbac.py: the secret operator, Argo CD, the
monitoring stack).

    python scripts/rbac/check.py ENV MODULE_DIR VALUES_YAML

Fails unless:
- the service's account may `get` its own Secret and ConfigMap, by name, and
  nothing else in its namespace (no other verb, no other object, no list);
- the principals that may list Secrets in the namespace are exactly those
  this file lists for the environment (the administrators, the secret
  operator, the platform controllers, and teams the environment lets edit).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "chart"))

import chartlib  # noqa: E402
import rbac  # noqa: E402

NAMESPACE = chartlib.NAMESPACE
SECRET = "webapp-secrets"
CONFIGMAP = "webapp"
OPERATOR = [
    rbac.service_account(rbac.OPERATOR_NAMESPACE, "external-secrets"),
    rbac.service_account(rbac.OPERATOR_NAMESPACE, "external-secrets-cert-controller"),
]
#: Platform controllers that list Secrets in every namespace, each for its
#: job (rbac.py says which rule): Argo CD's application controller, which
#: applies and prunes everything it delivers; the Prometheus operator,
#: Grafana's dashboard sidecar, kube-state-metrics, Loki's rules sidecar and
#: Alloy. Narrowing the monitoring ones (Grafana and Loki namespaced,
#: kube-state-metrics without its `secrets` collector) is observability's
#: change to make; until then they are reviewed here.
PLATFORM = [
    rbac.service_account(rbac.ARGOCD_NAMESPACE, "argocd-application-controller"),
    *(rbac.service_account(rbac.MONITORING_NAMESPACE, account) for account in (
        "kube-prometheus-stack-operator", "kube-prometheus-stack-grafana",
        "kube-prometheus-stack-kube-state-metrics", "loki", "alloy")),
]

#: Who may list Secrets in the service's namespace: a reviewed list. The
#: administrators' role (a cluster-wide admin access entry; with GitOps the
#: CI deployer has none), the secret operator's controllers, the platform
#: controllers above, and staging's developers, whose `edit` level reads
#: Secrets (production lets teams only view).
LISTERS = {
    "staging": ["aws_iam_role.admin", "aws_iam_role.team_developers", *OPERATOR, *PLATFORM],
    "production": ["aws_iam_role.admin", *OPERATOR, *PLATFORM],
}

#: The kinds of the service's namespace the service account is asked about.
RESOURCES = ("secrets", "configmaps", "pods", "pods/exec", "services", "serviceaccounts", "events")


def principal_of(arn: str) -> str:
    """`${aws_iam_role.admin.arn}` -> `aws_iam_role.admin`."""
    inner = arn.removeprefix("${").removesuffix("}")
    return inner.removesuffix(".arn") if inner != arn else arn


def one(value: Any) -> Any:
    """A nested block rendered as an object or a one-item list."""
    return value[0] if isinstance(value, list) else value


def authorizer(module: Path, values: dict[str, Any]) -> rbac.Authorizer:
    auth = rbac.Authorizer()
    eks = json.loads((module / "eks.tf.json").read_text(encoding="utf-8"))["resource"]
    for name, association in eks.get("aws_eks_access_policy_association", {}).items():
        entry = eks["aws_eks_access_entry"][name]
        rbac.add_access_policy(
            auth, principal_of(entry["principal_arn"]), association["policy_arn"], one(association["access_scope"])
        )
    rendered = chartlib.render(values, source="the release's values")
    objects = [obj for _, obj in chartlib.manifests(rendered)]
    rbac.add_rbac_objects(auth, objects, NAMESPACE)
    rbac.add_rbac_objects(auth, rbac.THIRD_PARTY_ROLES, rbac.OPERATOR_NAMESPACE)
    return auth


def service_account_grants(auth: rbac.Authorizer, account: str) -> set[tuple[str, str, str | None]]:
    """Everything the account may do to the namespace's objects asked about:
    collections, its own objects, any object a rule of its names, another."""
    named = {name for grant in auth.grants.get(account, []) for rule in grant.rules
             for name in rule.get("resourceNames") or []}
    allowed = set()
    for resource in RESOURCES:
        for name in (None, SECRET, CONFIGMAP, "another-object", *sorted(named)):
            for verb in rbac.VERBS:
                if auth.allows(account, rbac.Request(verb, resource, NAMESPACE, name)):
                    allowed.add((verb, resource, name))
    return allowed


def check(env: str, module: Path, values: dict[str, Any]) -> list[str]:
    auth = authorizer(module, values)
    problems = []
    account = rbac.service_account(NAMESPACE, values["serviceAccount"]["name"])
    granted = service_account_grants(auth, account)
    expected = {("get", "secrets", SECRET), ("get", "configmaps", CONFIGMAP)}
    if granted != expected:
        problems.append(f"{account} may {sorted(granted, key=str)}; it must get its own Secret and ConfigMap only")
    listers = auth.who(rbac.Request("list", "secrets", NAMESPACE))
    if sorted(listers) != sorted(LISTERS[env]):
        problems.append(f"may list Secrets in {NAMESPACE}: {listers}; the reviewed list is {sorted(LISTERS[env])}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    env, module, values_file = argv[0], Path(argv[1]), Path(argv[2])
    values = chartlib.merged_values(yaml.safe_load(values_file.read_text(encoding="utf-8")))
    problems = check(env, module, values)
    for problem in problems:
        print(f"rbac [{env}]: {problem}", file=sys.stderr)
    if not problems:
        listers = ", ".join(LISTERS[env])
        print(f"rbac [{env}]: the service account gets its own Secret and ConfigMap only; "
              f"Secrets in {NAMESPACE} are listed by {listers} only")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
