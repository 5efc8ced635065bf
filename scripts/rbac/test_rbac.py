"""The RBAC evaluator's own rules, each of which the environment check
(check.py) relies on, and the check failing on the grants it must refuse."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import check  # noqa: E402
import rbac  # noqa: E402

SA = rbac.service_account("webapp", "webapp")


def role(kind, name, rules, namespace="webapp"):
    meta = {"name": name}
    if kind == "Role":
        meta["namespace"] = namespace
    return {"kind": kind, "metadata": meta, "rules": rules}


def binding(kind, name, role_kind, role_name, account=SA, namespace="webapp"):
    _, _, ns, sa = account.split(":")
    meta = {"name": name}
    if kind == "RoleBinding":
        meta["namespace"] = namespace
    return {"kind": kind, "metadata": meta, "roleRef": {"kind": role_kind, "name": role_name},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}]}


def authorizer(*objects):
    auth = rbac.Authorizer()
    rbac.add_rbac_objects(auth, objects, "webapp")
    return auth


def test_resource_names_allow_the_named_object_but_never_a_list():
    auth = authorizer(
        role("Role", "own", [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["mine"], "verbs": ["get", "list"]}]),
        binding("RoleBinding", "own", "Role", "own"),
    )
    assert auth.allows(SA, rbac.Request("get", "secrets", "webapp", "mine"))
    assert not auth.allows(SA, rbac.Request("get", "secrets", "webapp", "theirs"))
    assert not auth.allows(SA, rbac.Request("list", "secrets", "webapp"))
    assert not auth.allows(SA, rbac.Request("get", "secrets", "other", "mine")), "a Role binds in its namespace"


def test_a_cluster_role_applies_where_it_is_bound_and_wildcards_match():
    reader = role("ClusterRole", "reader", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["list"]}])
    auth = authorizer(reader, binding("RoleBinding", "here", "ClusterRole", "reader"))
    assert auth.allows(SA, rbac.Request("list", "secrets", "webapp"))
    assert not auth.allows(SA, rbac.Request("list", "secrets", "kube-system"))
    auth = authorizer(reader, binding("ClusterRoleBinding", "everywhere", "ClusterRole", "reader"))
    assert auth.allows(SA, rbac.Request("list", "secrets", "kube-system"))


def test_eks_view_does_not_read_secrets_and_edit_does_in_its_namespaces_only():
    auth = rbac.Authorizer()
    scope = {"type": "namespace", "namespaces": ["webapp"]}
    rbac.add_access_policy(auth, "viewer", "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", scope)
    rbac.add_access_policy(auth, "editor", "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy", scope)
    rbac.add_access_policy(auth, "admin", "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                           {"type": "cluster"})
    secrets = rbac.Request("list", "secrets", "webapp")
    assert auth.who(secrets) == ["admin", "editor"]
    assert auth.allows("viewer", rbac.Request("list", "configmaps", "webapp"))
    assert not auth.allows("editor", rbac.Request("list", "secrets", "kube-system"))


def test_a_binding_to_a_missing_role_is_an_error():
    try:
        authorizer(binding("RoleBinding", "dangling", "Role", "nope"))
    except ValueError as error:
        assert "not rendered" in str(error)
    else:
        raise AssertionError("a dangling binding was accepted")


def test_the_service_account_grants_are_enumerated_exactly():
    own = [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": [check.SECRET], "verbs": ["get"]},
           {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [check.CONFIGMAP], "verbs": ["get"]}]
    auth = authorizer(role("Role", "own", own), binding("RoleBinding", "own", "Role", "own"))
    assert check.service_account_grants(auth, SA) == {("get", "secrets", check.SECRET),
                                                      ("get", "configmaps", check.CONFIGMAP)}
    wider = own + [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
                   {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["flags"], "verbs": ["get"]}]
    auth = authorizer(role("Role", "own", wider), binding("RoleBinding", "own", "Role", "own"))
    granted = check.service_account_grants(auth, SA)
    assert ("list", "pods", None) in granted
    assert ("get", "configmaps", "flags") in granted, "an object a rule names is asked about"


def test_the_platform_charts_grants_name_exactly_the_reviewed_controllers():
    auth = rbac.Authorizer()
    rbac.add_rbac_objects(auth, rbac.THIRD_PARTY_ROLES, rbac.OPERATOR_NAMESPACE)
    listers = auth.who(rbac.Request("list", "secrets", "webapp"))
    assert sorted(listers) == sorted(check.OPERATOR + check.PLATFORM)
    server = rbac.service_account(rbac.ARGOCD_NAMESPACE, "argocd-server")
    assert auth.allows(server, rbac.Request("get", "secrets", "webapp", check.SECRET))
    assert not auth.allows(server, rbac.Request("list", "secrets", "webapp")), "Argo CD's server gets by name only"
