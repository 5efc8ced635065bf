#!/usr/bin/env python3
"""AWS API emulator for the end-to-end run: moto server with a small shim.

moto 5.2.5 lacks a few EKS calls the stacks use and drops some fields the AWS
provider reads back, which would fail the apply or leave a perpetual diff. The
shim is WSGI middleware in front of moto's own application, in the same
process (one PID to stop, no request forwarding), and fills exactly these gaps:

- serves EKS add-ons, access entries, access-policy associations, pod identity
  associations and the updates they start (moto answers 404), keeping their
  state in memory and checking that the cluster exists in moto;
- keeps the fields of CreateCluster that moto drops (accessConfig,
  upgradePolicy, zonalShiftConfig) on moto's cluster so DescribeCluster returns
  them, and makes moto's node groups return the updateConfig they were created
  with and no remoteAccess unless one was requested;
- creates the cluster security group EKS creates with every cluster (in the
  cluster's VPC, admitting itself, tagged as EKS tags it), reports it as the
  cluster's clusterSecurityGroupId, and deletes it with the cluster: moto
  creates none, and the stacks tag it (Karpenter's node security group);
- removes the launch template's own tags that moto copies into the template
  data as a "launch-template" tag specification (not a valid resource type
  there), which the provider reads back as a change on every plan;
- answers EC2 MonitorInstances and UnmonitorInstances (moto raises
  NotImplementedError, a 500 the provider retries until it times out), setting
  the instance's monitoring state that DescribeInstances then reports;
- makes security group rules that reference another group keep their
  description (moto reads it from CIDR rules only) and name the group alone,
  as AWS answers for a group of the same account: the overlay's provider never
  asks which account it is in, so it would read "<account>/<group>" as another
  account's group, and plan to replace the rule on every run;
- issues an ACM certificate only once its DNS validation record is in a
  hosted zone, and serves Secrets Manager's RotateSecret by running the
  rotation function's own code (scripts/e2e/edge_shim.py says how).

Everything else is moto's. Every call the shim answers or patches is counted;
GET /_e2e/shim-report returns the counts so each run prints what was served by
the shim instead of the emulator. The shim fakes the control plane only: no
add-on is installed, no access policy is enforced.

The server binds 127.0.0.1 on a free port chosen by the kernel and writes the
port to --port-file once it accepts connections.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, unquote

# Without this moto knows no AWS managed IAM policy, and every attachment of
# one (AmazonEKSClusterPolicy, ...) fails with 404. It is read when the IAM
# backend is created, so it must be set before moto is imported.
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
# moto issues a DNS-validated certificate after this many seconds whatever the
# zone holds; the shim issues it when its validation record is there instead.
os.environ["MOTO_ACM_VALIDATION_WAIT"] = str(10 * 365 * 86400)

from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.ec2.exceptions import InvalidSubnetIdError  # noqa: E402
from moto.ec2.models import ec2_backends  # noqa: E402
from moto.ec2.models.security_groups import SecurityGroupRule  # noqa: E402
from moto.eks.models import eks_backends  # noqa: E402
from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server  # noqa: E402

import edge_shim  # noqa: E402
from edge_shim import ApiError  # noqa: E402

StartResponse = Callable[..., Any]
Environ = dict[str, Any]
# (region, cluster) -> key (add-on name, principal ARN, association id) -> object.
Table = dict[tuple[str, str], dict[str, dict[str, Any]]]

SIGV4_SCOPE = re.compile(r"Credential=[^/,]+/\d{8}/([^/]+)/([^/]+)/aws4_request")

# CreateCluster fields moto accepts but never returns; the provider reads
# them back, so without them the second plan replaces the cluster.
ECHOED_CLUSTER_FIELDS = {
    "accessConfig": "access_config",
    "upgradePolicy": "upgrade_policy",
    "zonalShiftConfig": "zonal_shift_config",
}

DEFAULT_ACCESS_CONFIG = {
    "authenticationMode": "CONFIG_MAP",
    "bootstrapClusterCreatorAdminPermissions": True,
}

# Versions reported for add-ons created without an explicit addonVersion.
DEFAULT_ADDON_VERSION = "v1.0.0-eksbuild.1"


def not_found(what: str) -> ApiError:
    return ApiError(404, "ResourceNotFoundException", f"No {what} found.")


def in_use(what: str) -> ApiError:
    return ApiError(409, "ResourceInUseException", f"{what} already exists.")


def now() -> float:
    return round(time.time(), 3)


class EksShim:
    """In-memory EKS control plane for the calls moto lacks, per region."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.served: Counter[str] = Counter()
        self.addons: Table = {}
        self.access_entries: Table = {}
        self.policies: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
        self.pod_identities: Table = {}
        self.updates: dict[str, dict[str, Any]] = {}
        # arn -> the object whose "tags" the /tags/{arn} calls manage.
        self.tagged: dict[str, dict[str, Any]] = {}
        # (region, cluster) -> the id of the cluster security group made for it.
        self.cluster_groups: dict[tuple[str, str], str] = {}

    # -- helpers -----------------------------------------------------------

    @staticmethod
    def moto_cluster(region: str, cluster: str) -> Any:
        found = eks_backends[DEFAULT_ACCOUNT_ID][region].clusters.get(cluster)
        if found is None:
            raise not_found(f"cluster found for name: {cluster}")
        return found

    def arn(self, region: str, kind: str, *parts: str) -> str:
        return f"arn:aws:eks:{region}:{DEFAULT_ACCOUNT_ID}:{kind}/" + "/".join(parts)

    def forget_cluster(self, region: str, cluster: str) -> None:
        """Drops what a deleted cluster owned, as EKS does."""
        key = (region, cluster)
        for table in (self.addons, self.access_entries, self.pod_identities):
            for obj in table.pop(key, {}).values():
                self.tagged.pop(obj.get("_arn", ""), None)
        for pkey in [k for k in self.policies if k[:2] == key]:
            del self.policies[pkey]

    def new_update(self, update_type: str, params: list[dict[str, str]]) -> dict[str, Any]:
        update = {
            "id": str(uuid.uuid4()),
            "status": "Successful",
            "type": update_type,
            "params": params,
            "createdAt": now(),
            "errors": [],
        }
        self.updates[update["id"]] = update
        return update

    @staticmethod
    def public(obj: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    def find(self, table: Table, region: str, cluster: str, key: str, what: str) -> dict[str, Any]:
        self.moto_cluster(region, cluster)
        found = table.get((region, cluster), {}).get(key)
        if found is None:
            raise not_found(f"{what} found for: {key}")
        return found

    def store(self, table: Table, region: str, cluster: str, key: str, obj: dict[str, Any]) -> dict[str, Any]:
        table.setdefault((region, cluster), {})[key] = obj
        self.tagged[obj["_arn"]] = obj
        return self.public(obj)

    def drop(self, table: Table, region: str, cluster: str, key: str, what: str) -> dict[str, Any]:
        obj = self.find(table, region, cluster, key, what)
        del table[(region, cluster)][key]
        self.tagged.pop(obj["_arn"], None)
        return self.public(obj)

    def create_cluster_security_group(self, region: str, cluster: Any) -> bool:
        """The group EKS puts on the control plane's ENIs and managed nodes;
        none when moto took subnets EC2 does not know (EKS would refuse them)."""
        ec2 = ec2_backends[DEFAULT_ACCOUNT_ID][region]
        vpc_config = cluster.resources_vpc_config
        try:
            vpc_id = ec2.get_subnet((vpc_config.get("subnetIds") or [""])[0]).vpc_id
        except InvalidSubnetIdError:
            return False
        group = ec2.create_security_group(
            name=f"eks-cluster-sg-{cluster.name}-{uuid.uuid4().int % 10**10}",
            description=(
                "EKS created security group applied to ENI that is attached to EKS Control Plane "
                "master nodes, as well as any managed workloads."
            ),
            vpc_id=vpc_id,
            tags={f"kubernetes.io/cluster/{cluster.name}": "owned", "aws:eks:cluster-name": cluster.name},
        )
        ec2.authorize_security_group_ingress(
            group_name_or_id=group.id,
            ip_protocol="-1",
            from_port=None,
            to_port=None,
            ip_ranges=[],
            source_groups=[{"GroupId": group.id}],
            vpc_id=vpc_id,
        )
        vpc_config["clusterSecurityGroupId"] = group.id
        vpc_config["vpcId"] = vpc_id
        self.cluster_groups[(region, cluster.name)] = group.id
        return True

    # -- add-ons -----------------------------------------------------------

    def create_addon(self, region: str, cluster: str, body: dict[str, Any]) -> Any:
        self.moto_cluster(region, cluster)
        name = body["addonName"]
        table = self.addons.setdefault((region, cluster), {})
        if name in table:
            raise in_use(f"Addon {name}")
        arn = self.arn(region, "addon", cluster, name, str(uuid.uuid4()))
        addon = {
            "_arn": arn,
            "addonName": name,
            "clusterName": cluster,
            "status": "ACTIVE",
            "addonVersion": body.get("addonVersion") or DEFAULT_ADDON_VERSION,
            "health": {"issues": []},
            "addonArn": arn,
            "createdAt": now(),
            "modifiedAt": now(),
            "tags": body.get("tags") or {},
            "podIdentityAssociations": [],
        }
        for optional in ("serviceAccountRoleArn", "configurationValues"):
            if body.get(optional):
                addon[optional] = body[optional]
        return {"addon": self.store(self.addons, region, cluster, name, addon)}

    def addon(self, region: str, cluster: str, name: str) -> dict[str, Any]:
        return self.find(self.addons, region, cluster, name, "addon")

    def update_addon(self, region: str, cluster: str, name: str, body: dict[str, Any]) -> Any:
        addon = self.addon(region, cluster, name)
        params = []
        for field in ("addonVersion", "serviceAccountRoleArn", "configurationValues"):
            if field in body:
                addon[field] = body[field]
                params.append({"type": field[0].upper() + field[1:], "value": str(body[field])})
        addon["modifiedAt"] = now()
        return {"update": self.new_update("AddonUpdate", params)}

    def delete_addon(self, region: str, cluster: str, name: str) -> Any:
        addon = self.drop(self.addons, region, cluster, name, "addon")
        return {"addon": {**addon, "status": "DELETING"}}

    def describe_addon_versions(self, query: dict[str, list[str]]) -> Any:
        names = query.get("addonName", [])
        k8s = query.get("kubernetesVersion", ["1.31"])[0]
        return {
            "addons": [
                {
                    "addonName": name,
                    "type": "networking",
                    "addonVersions": [
                        {
                            "addonVersion": DEFAULT_ADDON_VERSION,
                            "architecture": ["amd64", "arm64"],
                            "compatibilities": [
                                {"clusterVersion": k8s, "platformVersions": ["*"], "defaultVersion": True}
                            ],
                            "requiresConfiguration": False,
                        }
                    ],
                }
                for name in names
            ]
        }

    # -- access entries and access-policy associations ---------------------

    def create_access_entry(self, region: str, cluster: str, body: dict[str, Any]) -> Any:
        self.moto_cluster(region, cluster)
        principal = body["principalArn"]
        table = self.access_entries.setdefault((region, cluster), {})
        if principal in table:
            raise in_use(f"The specified access entry resource for {principal}")
        arn_fields = principal.split(":", 5)
        if len(arn_fields) != 6 or not arn_fields[0] == "arn":
            raise ApiError(400, "InvalidParameterException", f"principalArn is not an ARN: {principal}")
        account, resource = arn_fields[4], arn_fields[5]
        kind, _, role_name = resource.partition("/")
        arn = self.arn(region, "access-entry", cluster, kind, account, role_name, str(uuid.uuid4()))
        entry_type = body.get("type") or "STANDARD"
        if entry_type.startswith("EC2_"):
            # Nodes authenticate as themselves, named after their host.
            default_user = "system:node:{{EC2PrivateDNSName}}"
        elif kind == "role":
            default_user = f"arn:aws:sts::{account}:assumed-role/{role_name}/{{{{SessionName}}}}"
        else:
            default_user = principal
        entry = {
            "_arn": arn,
            "clusterName": cluster,
            "principalArn": principal,
            "kubernetesGroups": body.get("kubernetesGroups") or [],
            "accessEntryArn": arn,
            "createdAt": now(),
            "modifiedAt": now(),
            "tags": body.get("tags") or {},
            "username": body.get("username") or default_user,
            "type": entry_type,
        }
        return {"accessEntry": self.store(self.access_entries, region, cluster, principal, entry)}

    def access_entry(self, region: str, cluster: str, principal: str) -> dict[str, Any]:
        return self.find(self.access_entries, region, cluster, principal, "access entry")

    def update_access_entry(self, region: str, cluster: str, principal: str, body: dict[str, Any]) -> Any:
        entry = self.access_entry(region, cluster, principal)
        for field in ("kubernetesGroups", "username"):
            if field in body:
                entry[field] = body[field]
        entry["modifiedAt"] = now()
        return {"accessEntry": self.public(entry)}

    def delete_access_entry(self, region: str, cluster: str, principal: str) -> Any:
        self.drop(self.access_entries, region, cluster, principal, "access entry")
        self.policies.pop((region, cluster, principal), None)
        return {}

    def associate_policy(self, region: str, cluster: str, principal: str, body: dict[str, Any]) -> Any:
        self.access_entry(region, cluster, principal)
        association = {
            "policyArn": body["policyArn"],
            "accessScope": body.get("accessScope") or {"type": "cluster"},
            "associatedAt": now(),
            "modifiedAt": now(),
        }
        association["accessScope"].setdefault("namespaces", [])
        self.policies.setdefault((region, cluster, principal), {})[body["policyArn"]] = association
        return {"clusterName": cluster, "principalArn": principal, "associatedAccessPolicy": association}

    def list_policies(self, region: str, cluster: str, principal: str) -> Any:
        self.access_entry(region, cluster, principal)
        associations = list(self.policies.get((region, cluster, principal), {}).values())
        return {"clusterName": cluster, "principalArn": principal, "associatedAccessPolicies": associations}

    def disassociate_policy(self, region: str, cluster: str, principal: str, policy: str) -> Any:
        self.access_entry(region, cluster, principal)
        if self.policies.get((region, cluster, principal), {}).pop(policy, None) is None:
            raise not_found(f"access policy association found for policy: {policy}")
        return {}

    # -- pod identity associations -----------------------------------------

    def create_pod_identity(self, region: str, cluster: str, body: dict[str, Any]) -> Any:
        self.moto_cluster(region, cluster)
        table = self.pod_identities.setdefault((region, cluster), {})
        for existing in table.values():
            if (existing["namespace"], existing["serviceAccount"]) == (body["namespace"], body["serviceAccount"]):
                raise in_use(f"Association for {body['namespace']}/{body['serviceAccount']}")
        association_id = "a-" + uuid.uuid4().hex[:17]
        arn = self.arn(region, "podidentityassociation", cluster, association_id)
        association = {
            "_arn": arn,
            "clusterName": cluster,
            "namespace": body["namespace"],
            "serviceAccount": body["serviceAccount"],
            "roleArn": body["roleArn"],
            "associationArn": arn,
            "associationId": association_id,
            "tags": body.get("tags") or {},
            "createdAt": now(),
            "modifiedAt": now(),
        }
        return {"association": self.store(self.pod_identities, region, cluster, association_id, association)}

    def pod_identity(self, region: str, cluster: str, association_id: str) -> dict[str, Any]:
        return self.find(self.pod_identities, region, cluster, association_id, "pod identity association")

    def update_pod_identity(self, region: str, cluster: str, association_id: str, body: dict[str, Any]) -> Any:
        association = self.pod_identity(region, cluster, association_id)
        if "roleArn" in body:
            association["roleArn"] = body["roleArn"]
        association["modifiedAt"] = now()
        return {"association": self.public(association)}

    def delete_pod_identity(self, region: str, cluster: str, association_id: str) -> Any:
        return {"association": self.drop(self.pod_identities, region, cluster, association_id, "pod identity association")}

    # -- routing -----------------------------------------------------------

    def route(self, method: str, segments: list[str], region: str, body: dict[str, Any], query: dict[str, list[str]]) -> tuple[str, Any] | None:
        """Returns (operation, response) for a call the shim serves, else None."""
        match segments:
            case ["addons", "supported-versions"] if method == "GET":
                return "DescribeAddonVersions", self.describe_addon_versions(query)
            case ["clusters", c, "addons"] if method == "POST":
                return "CreateAddon", self.create_addon(region, c, body)
            case ["clusters", c, "addons"] if method == "GET":
                self.moto_cluster(region, c)
                return "ListAddons", {"addons": sorted(self.addons.get((region, c), {}))}
            case ["clusters", c, "addons", a] if method == "GET":
                return "DescribeAddon", {"addon": self.public(self.addon(region, c, a))}
            case ["clusters", c, "addons", a] if method == "DELETE":
                return "DeleteAddon", self.delete_addon(region, c, a)
            case ["clusters", c, "addons", a, "update"] if method == "POST":
                return "UpdateAddon", self.update_addon(region, c, a, body)
            case ["clusters", c, "updates", update_id] if method == "GET":
                if update_id not in self.updates:
                    raise not_found(f"update found for id: {update_id}")
                return "DescribeUpdate", {"update": self.updates[update_id]}
            case ["clusters", c, "access-entries"] if method == "POST":
                return "CreateAccessEntry", self.create_access_entry(region, c, body)
            case ["clusters", c, "access-entries"] if method == "GET":
                self.moto_cluster(region, c)
                return "ListAccessEntries", {"accessEntries": sorted(self.access_entries.get((region, c), {}))}
            case ["clusters", c, "access-entries", p] if method == "GET":
                return "DescribeAccessEntry", {"accessEntry": self.public(self.access_entry(region, c, p))}
            case ["clusters", c, "access-entries", p] if method == "POST":
                return "UpdateAccessEntry", self.update_access_entry(region, c, p, body)
            case ["clusters", c, "access-entries", p] if method == "DELETE":
                return "DeleteAccessEntry", self.delete_access_entry(region, c, p)
            case ["clusters", c, "access-entries", p, "access-policies"] if method == "POST":
                return "AssociateAccessPolicy", self.associate_policy(region, c, p, body)
            case ["clusters", c, "access-entries", p, "access-policies"] if method == "GET":
                return "ListAssociatedAccessPolicies", self.list_policies(region, c, p)
            case ["clusters", c, "access-entries", p, "access-policies", policy] if method == "DELETE":
                return "DisassociateAccessPolicy", self.disassociate_policy(region, c, p, policy)
            case ["clusters", c, "pod-identity-associations"] if method == "POST":
                return "CreatePodIdentityAssociation", self.create_pod_identity(region, c, body)
            case ["clusters", c, "pod-identity-associations"] if method == "GET":
                self.moto_cluster(region, c)
                listed = [self.public(a) for a in self.pod_identities.get((region, c), {}).values()]
                return "ListPodIdentityAssociations", {"associations": listed}
            case ["clusters", c, "pod-identity-associations", i] if method == "GET":
                return "DescribePodIdentityAssociation", {"association": self.public(self.pod_identity(region, c, i))}
            case ["clusters", c, "pod-identity-associations", i] if method == "POST":
                return "UpdatePodIdentityAssociation", self.update_pod_identity(region, c, i, body)
            case ["clusters", c, "pod-identity-associations", i] if method == "DELETE":
                return "DeletePodIdentityAssociation", self.delete_pod_identity(region, c, i)
            case ["tags", arn] if arn in self.tagged:
                return self.tags(method, arn, body, query)
        return None

    def tags(self, method: str, arn: str, body: dict[str, Any], query: dict[str, list[str]]) -> tuple[str, Any]:
        tags = self.tagged[arn].setdefault("tags", {})
        if method == "POST":
            tags.update(body.get("tags") or {})
            return "TagResource", {}
        if method == "DELETE":
            for key in query.get("tagKeys", []):
                tags.pop(key, None)
            return "UntagResource", {}
        return "ListTagsForResource", {"tags": dict(tags)}

    # -- fixes to moto's own answers ---------------------------------------

    def after_moto(self, method: str, segments: list[str], region: str, body: dict[str, Any]) -> str | None:
        """Patches moto's models after a successful call; returns what was patched."""
        match segments:
            case ["clusters"] if method == "POST":
                cluster = self.moto_cluster(region, body["name"])
                cluster.access_config = {**DEFAULT_ACCESS_CONFIG, **(body.get("accessConfig") or {})}
                for field, attribute in ECHOED_CLUSTER_FIELDS.items():
                    if field in body and field != "accessConfig":
                        setattr(cluster, attribute, body[field])
                made = ", made the cluster security group" if self.create_cluster_security_group(region, cluster) else ""
                return f"CreateCluster (kept accessConfig/upgradePolicy/zonalShiftConfig{made})"
            case ["clusters", c, "update-config"] if method == "POST" and "accessConfig" in body:
                cluster = self.moto_cluster(region, c)
                cluster.access_config = {**cluster.access_config, **body["accessConfig"]}
                return "UpdateClusterConfig (kept accessConfig)"
            case ["clusters", c] if method == "DELETE":
                self.forget_cluster(region, c)
                group_id = self.cluster_groups.pop((region, c), None)
                if group_id is None:
                    return None
                ec2_backends[DEFAULT_ACCOUNT_ID][region].delete_security_group(group_id=group_id)
                return "DeleteCluster (deleted the cluster security group)"
            case ["clusters", c, "node-groups"] if method == "POST":
                cluster = self.moto_cluster(region, c)
                nodegroup = cluster.nodegroups[body["nodegroupName"]]
                if "remoteAccess" not in body:
                    nodegroup.remote_access = None
                nodegroup.update_config = body.get("updateConfig")
                nodegroup.node_repair_config = body.get("nodeRepairConfig")
                return "CreateNodegroup (kept updateConfig, no default remoteAccess)"
        return None


def json_response(start_response: StartResponse, status: int, payload: Any, error_code: str | None = None) -> list[bytes]:
    data = json.dumps(payload).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(data))),
        ("x-amzn-RequestId", str(uuid.uuid4())),
    ]
    if error_code:
        headers.append(("X-Amzn-ErrorType", error_code))
    reasons = {200: "OK", 400: "Bad Request", 404: "Not Found", 409: "Conflict"}
    start_response(f"{status} {reasons.get(status, 'Error')}", headers)
    return [data]


class ShimApp:
    """WSGI app: the shim where it applies, moto everywhere else."""

    def __init__(self, moto_app: Callable[[Environ, StartResponse], Iterable[bytes]]) -> None:
        self.moto_app = moto_app
        self.shim = EksShim()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raw_path = environ.get("RAW_URI") or environ.get("PATH_INFO", "/")
        path, _, raw_query = raw_path.partition("?")
        if path == "/_e2e/shim-report":
            with self.shim.lock:
                return json_response(start_response, 200, dict(self.shim.served))
        scope = SIGV4_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if scope is not None and scope.group(2) == "ec2":
            return self.ec2(environ, start_response, scope.group(1))
        if scope is not None and scope.group(2) in ("acm", "secretsmanager"):
            return self.edge(environ, start_response, scope.group(1))
        if scope is None or scope.group(2) != "eks":
            return self.moto_app(environ, start_response)

        region = scope.group(1)
        method = environ["REQUEST_METHOD"]
        # Labels such as a principal ARN arrive percent-encoded, '/' as %2F, so
        # the path is split before it is decoded.
        segments = [unquote(s) for s in path.strip("/").split("/")]
        query = parse_qs(raw_query)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw_body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw_body)
        try:
            body = json.loads(raw_body) if raw_body.strip() else {}
        except json.JSONDecodeError:
            body = {}

        with self.shim.lock:
            try:
                served = self.shim.route(method, segments, region, body, query)
            except ApiError as error:
                return json_response(start_response, error.status, {"message": error.message}, error.code)
            except KeyError as missing:
                return json_response(start_response, 400, {"message": f"missing field {missing}"}, "InvalidParameterException")
            if served is not None:
                operation, payload = served
                self.shim.served[f"served {operation}"] += 1
                return json_response(start_response, 200, payload)

        return self.moto_then(environ, start_response, lambda: self.shim.after_moto(method, segments, region, body))

    def ec2(self, environ: Environ, start_response: StartResponse, region: str) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw_body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw_body)
        form = parse_qs(raw_body.decode("utf-8", "replace"))
        action = form.get("Action", [""])[0]
        if action in MONITORING:
            with self.shim.lock:
                self.shim.served[f"served {action}"] += 1
                return monitor_instances(start_response, region, form, action)
        if action != "CreateLaunchTemplate":
            return self.moto_app(environ, start_response)
        return self.moto_then(environ, start_response, lambda: drop_template_tags(region, form["LaunchTemplateName"][0]))

    def edge(self, environ: Environ, start_response: StartResponse, region: str) -> Iterable[bytes]:
        """ACM and Secrets Manager calls (JSON protocol, the operation in X-Amz-Target)."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw_body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw_body)
        operation = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
        try:
            body = json.loads(raw_body) if raw_body.strip() else {}
        except json.JSONDecodeError:
            body = {}
        if operation == "DescribeCertificate":
            with self.shim.lock:
                issued = edge_shim.issue_if_validated(region, body.get("CertificateArn", ""))
                if issued:
                    self.shim.served[f"patched {issued}"] += 1
        elif operation == "RotateSecret":
            # Not under the shim's lock: the rotation function calls back in.
            try:
                answer = edge_shim.rotate_secret(region, body)
            except ApiError as error:
                # The JSON protocol names the error in the body.
                payload = {"__type": error.code, "message": error.message}
                return json_response(start_response, error.status, payload, error.code)
            with self.shim.lock:
                self.shim.served["served RotateSecret (ran the rotation function's four steps)"] += 1
            return json_response(start_response, 200, answer)
        return self.moto_app(environ, start_response)

    def moto_then(self, environ: Environ, start_response: StartResponse, fix: Callable[[], str | None]) -> Iterable[bytes]:
        """Lets moto answer, then applies `fix` to its models if the call succeeded."""
        status_holder: list[str] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status_holder.append(status)
            return start_response(status, headers, exc_info)

        chunks = list(self.moto_app(environ, capture))
        if status_holder and status_holder[0].startswith("2"):
            with self.shim.lock:
                patched = fix()
                if patched:
                    self.shim.served[f"patched {patched}"] += 1
        return chunks


def rule_description(rule: Any) -> str | None:
    return rule.ip_range.get("Description") or rule.source_group.get("Description")


def referenced_group(rule: Any) -> dict[str, str] | None:
    return {"GroupId": rule.source_group["GroupId"]} if rule.source_group.get("GroupId") else None


SecurityGroupRule.description = property(rule_description)
SecurityGroupRule.referenced_group_info = property(referenced_group)

#: The instance monitoring state each EC2 monitoring call leaves.
MONITORING = {"MonitorInstances": "enabled", "UnmonitorInstances": "disabled"}


def monitor_instances(start_response: StartResponse, region: str, form: dict[str, list[str]], action: str) -> list[bytes]:
    """Sets detailed monitoring on moto's instances and answers as EC2 does."""
    backend = ec2_backends[DEFAULT_ACCOUNT_ID][region]
    ids = [form[key][0] for key in sorted(form) if key.startswith("InstanceId.")]
    items = []
    for instance_id in ids:
        try:
            instance = backend.get_instance_by_id(instance_id)
        except Exception:  # moto's own "not found" error type varies by version
            instance = None
        if instance is None:
            body = (f"<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code>"
                    f"<Message>The instance ID '{instance_id}' does not exist</Message></Error></Errors>"
                    f"<RequestID>{uuid.uuid4()}</RequestID></Response>").encode()
            start_response("400 Bad Request", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
            return [body]
        instance.monitoring_state = MONITORING[action]
        items.append(f"<item><instanceId>{instance_id}</instanceId><monitoring><state>"
                     f"{instance.monitoring_state}</state></monitoring></item>")
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<{action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
            f"<requestId>{uuid.uuid4()}</requestId><instancesSet>{''.join(items)}</instancesSet>"
            f"</{action}Response>").encode()
    start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
    return [body]


def drop_template_tags(region: str, name: str) -> str | None:
    backend = ec2_backends[DEFAULT_ACCOUNT_ID][region]
    template = backend.launch_templates[backend.launch_template_name_to_ids[name]]
    dropped = False
    for version in template.versions:
        specs = version.data.get("TagSpecifications", [])
        kept = [spec for spec in specs if spec.get("ResourceType") != "launch-template"]
        if len(kept) != len(specs):
            version.data["TagSpecifications"] = kept
            dropped = True
    return "CreateLaunchTemplate (template tags not copied into its data)" if dropped else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-file", required=True, help="file to write the bound port to")
    args = parser.parse_args()

    app = ShimApp(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    port = server.server_port
    # moto builds some URLs (S3, SQS) from the port it believes it serves on.
    os.environ["MOTO_PORT"] = str(port)
    # The rotation function the shim runs calls Secrets Manager back here.
    os.environ.update(
        AWS_ENDPOINT_URL_SECRETS_MANAGER=f"http://127.0.0.1:{port}",
        AWS_ACCESS_KEY_ID="emulator",
        AWS_SECRET_ACCESS_KEY="emulator",
    )

    def stop(_signum: int, _frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    tmp = f"{args.port_file}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(f"{port}\n")
    os.replace(tmp, args.port_file)
    print(f"emulator: moto + EKS shim on http://127.0.0.1:{port} (pid {os.getpid()})", file=sys.stderr, flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
