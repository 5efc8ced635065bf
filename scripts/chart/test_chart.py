"""The webapp chart, checked offline by Helm's own library.

Per values set: strict lint, render, `kubernetes-validate --strict` for
Kubernetes 1.31 and the newest shipped schema, Pod Security "restricted",
and the contract the service and the AWS Load Balancer Controller rely on.
Once over every render: checkov with no failed check. Behaviour tests (marked
`behaviour`) check that bad values are refused with a message naming the
field, and that config and secret changes roll the pods.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

import chartlib
from chartlib import ChartCheckError, ValuesCase

CONFIG_DIR = "/etc/webapp/config"
SECRETS_DIR = "/etc/webapp/secrets"
ALB_ANNOTATION = "alb.ingress.kubernetes.io/"
LB_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-"
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?")
RECOMMENDED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
)


@dataclass(frozen=True)
class Render:
    """One values set rendered: what went in and the objects that came out."""

    values: dict[str, Any]
    rendered: dict[str, str]
    objects: list[tuple[str, dict[str, Any]]]

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [obj for _, obj in self.objects if obj["kind"] == kind]

    def one(self, kind: str) -> dict[str, Any]:
        found = [obj for obj in self.all(kind) if "helm.sh/hook" not in annotations(obj)]
        assert len(found) == 1, f"expected one {kind}, rendered {len(found)}"
        return found[0]


def annotations(obj: dict[str, Any]) -> dict[str, str]:
    return obj.get("metadata", {}).get("annotations") or {}


@cache
def render_file(path: Path | None) -> Render:
    case = ValuesCase(str(path) if path else "default", path)
    return render_values(case.load(), source=case.label)


def render_values(values: dict[str, Any], *, source: str) -> Render:
    rendered = chartlib.render(values, source=source)
    return Render(chartlib.merged_values(values), rendered, chartlib.manifests(rendered))


def render_yaml(text: str) -> Render:
    return render_values(chartlib.load_values_text(text, source="test values"), source="test")


def app_container(render: Render) -> dict[str, Any]:
    return render.one("Deployment")["spec"]["template"]["spec"]["containers"][0]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container["env"]}


# --- per values set ---------------------------------------------------------


def test_lint_strict_passes(case: ValuesCase) -> None:
    chartlib.lint(case.load(), source=case.label)


def test_manifests_pass_kubernetes_validate_strict(case: ValuesCase) -> None:
    render = render_file(case.path)
    kinds = {obj["kind"] for _, obj in render.objects}
    assert {"Deployment", "Service", "ConfigMap", "ServiceAccount"} <= kinds
    problems = chartlib.kube_validate(render.objects)
    assert not problems, "\n".join(problems)


def test_every_pod_meets_pod_security_restricted(case: ValuesCase) -> None:
    render = render_file(case.path)
    pods = [(path, obj) for path, obj in render.objects if chartlib.pod_spec_of(obj) is not None]
    assert len(pods) >= 2, "expected the Deployment and the helm test pod"
    for path, obj in pods:
        problems = chartlib.pss_restricted_violations(chartlib.pod_spec_of(obj))
        assert not problems, f"{path} {chartlib.describe(obj)}: " + "; ".join(problems)


def assert_label_values_valid(render: Render) -> None:
    """Label syntax is checked by the API server, not by the OpenAPI schemas."""
    for path, obj in render.objects:
        template = obj.get("spec", {}).get("template", {})
        for metadata in (obj["metadata"], template.get("metadata", {})):
            for key, value in (metadata.get("labels") or {}).items():
                assert LABEL_VALUE.fullmatch(value), f"{path}: label {key}={value!r} is invalid"


def test_every_object_has_recommended_labels_and_namespace(case: ValuesCase) -> None:
    render = render_file(case.path)
    assert_label_values_valid(render)
    for path, obj in render.objects:
        metadata = obj["metadata"]
        if obj["kind"] in chartlib.CLUSTER_SCOPED_KINDS:
            assert "namespace" not in metadata, f"{path}: a cluster-scoped object has a namespace"
        else:
            assert metadata.get("namespace") == chartlib.NAMESPACE, f"{path}: no namespace"
        labels = metadata.get("labels", {})
        if obj["kind"] == "Pod":  # the helm test pod must stay outside the app's selectors
            assert "app.kubernetes.io/name" not in labels
            continue
        missing = [label for label in RECOMMENDED_LABELS if label not in labels]
        assert not missing, f"{path} {chartlib.describe(obj)} lacks labels {missing}"


def test_deployment_rolls_without_losing_capacity(case: ValuesCase) -> None:
    render = render_file(case.path)
    deployment = render.one("Deployment")
    strategy = deployment["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0
    if render.values["autoscaling"]["enabled"]:
        assert "replicas" not in deployment["spec"], "the HPA owns replicas"
    else:
        assert deployment["spec"]["replicas"] == render.values["replicaCount"]


def test_container_follows_the_service_contract(case: ValuesCase) -> None:
    render = render_file(case.path)
    values = render.values
    container = app_container(render)
    image = values["image"]
    expected_image = f"{image['repository']}:{image['tag']}"
    if image["digest"]:
        expected_image += f"@{image['digest']}"
    assert container["image"] == expected_image
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])

    env = env_of(container)
    assert env["APP_ENV"]["value"] == values["environment"]
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert env["SERVICE_DRAIN_SECONDS"]["value"] == str(values["drainSeconds"])
    timeout = str(values["shutdownTimeoutSeconds"])
    assert env["SERVICE_SHUTDOWN_TIMEOUT_SECONDS"]["value"] == timeout
    assert env["SERVICE_LOG_LEVEL"]["value"] == values["settings"]["logLevel"]
    assert env["SERVICE_CONFIG_DIR"]["value"] == CONFIG_DIR

    sources = {next(iter(ref)): ref[next(iter(ref))]["name"] for ref in container["envFrom"]}
    configmap = render.one("ConfigMap")
    assert sources["configMapRef"] == configmap["metadata"]["name"]
    assert set(configmap.get("data", {})) == set(values["config"])
    # Secrets are files the service reads again when they change, never
    # environment variables, which a running process cannot see change.
    assert "secretRef" not in sources
    assert not [e for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})]

    pod = render.one("Deployment")["spec"]["template"]["spec"]
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    config_volume = volumes[mounts[CONFIG_DIR]["name"]]
    assert config_volume["configMap"]["name"] == configmap["metadata"]["name"]
    secret = values["secret"]
    if secret["existingSecret"] or secret["values"]:
        expected = secret["existingSecret"] or render.one("Secret")["metadata"]["name"]
        if secret["existingSecret"]:
            assert not render.all("Secret"), "an existing Secret must not be rendered again"
        assert env["SERVICE_SECRETS_DIR"]["value"] == SECRETS_DIR
        assert env["SERVICE_SECRETS_POLL_SECONDS"]["value"] == str(secret["pollSeconds"])
        assert mounts[SECRETS_DIR]["readOnly"] is True
        secret_volume = volumes[mounts[SECRETS_DIR]["name"]]["secret"]
        assert secret_volume["secretName"] == expected
        assert secret_volume["defaultMode"] == 0o440
    else:
        assert "SERVICE_SECRETS_DIR" not in env
        assert SECRETS_DIR not in mounts
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["runAsUser"] == 65532


def test_pod_outlives_its_drain_and_spreads(case: ValuesCase) -> None:
    render = render_file(case.path)
    values = render.values
    pod = render.one("Deployment")["spec"]["template"]
    grace = pod["spec"]["terminationGracePeriodSeconds"]
    assert grace == (
        values["drainSeconds"]
        + values["shutdownTimeoutSeconds"]
        + values["terminationGraceMarginSeconds"]
    )
    assert grace > values["drainSeconds"] + values["shutdownTimeoutSeconds"]
    spread = {c["topologyKey"]: c for c in pod["spec"]["topologySpreadConstraints"]}
    assert set(spread) == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    selector = render.one("Deployment")["spec"]["selector"]["matchLabels"]
    for constraint in spread.values():
        assert constraint["labelSelector"]["matchLabels"] == selector
    assert "checksum/config" in pod["metadata"]["annotations"]
    # Only when asked: rbac.rules bounds the account, the token uses it.
    token_needed = values["serviceAccount"]["automountToken"]
    assert pod["spec"]["automountServiceAccountToken"] is token_needed


def test_service_is_an_nlb_with_ip_targets_draining_with_the_pods(case: ValuesCase) -> None:
    render = render_file(case.path)
    values = render.values
    service = render.one("Service")
    if values["service"]["type"] != "LoadBalancer":
        assert service["spec"]["type"] == "ClusterIP"
        assert not annotations(service), "a ClusterIP Service is no load balancer's"
        assert [p["port"] for p in service["spec"]["ports"]] == [values["service"]["httpPort"]]
        return
    notes = annotations(service)
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["loadBalancerClass"] == "service.k8s.aws/nlb"
    assert notes[LB_ANNOTATION + "type"] == "external"
    assert notes[LB_ANNOTATION + "nlb-target-type"] == "ip"
    assert notes[LB_ANNOTATION + "scheme"] == values["service"]["scheme"]
    assert notes[LB_ANNOTATION + "healthcheck-path"] == "/readyz"
    delay = f"deregistration_delay.timeout_seconds={values['drainSeconds']}"
    assert delay in notes[LB_ANNOTATION + "target-group-attributes"].split(",")
    ports = {port["name"]: port for port in service["spec"]["ports"]}
    assert all(port["targetPort"] == "http" for port in ports.values())
    tls = values["service"]["tls"]
    if tls["enabled"]:
        assert notes[LB_ANNOTATION + "ssl-cert"] == tls["certificateArn"]
        assert notes[LB_ANNOTATION + "ssl-ports"] == str(tls["port"])
        assert ports["https"]["port"] == tls["port"]
    else:
        assert LB_ANNOTATION + "ssl-cert" not in notes
        assert "https" not in ports
    http_port = values["service"]["httpPort"]
    assert ("http" in ports) == bool(http_port)


def test_ingress_is_https_only_behind_the_waf_pinned_by_its_class(case: ValuesCase) -> None:
    render = render_file(case.path)
    values = render.values
    ingress_values = values["ingress"]
    if not ingress_values["enabled"]:
        for kind in ("Ingress", "IngressClass", "IngressClassParams"):
            assert not render.all(kind), f"{kind} rendered without ingress.enabled"
        return
    ingress = render.one("Ingress")
    notes = annotations(ingress)
    assert json.loads(notes[ALB_ANNOTATION + "listen-ports"]) == [{"HTTP": 80}, {"HTTPS": 443}]
    assert notes[ALB_ANNOTATION + "ssl-redirect"] == "443"
    assert notes[ALB_ANNOTATION + "ssl-policy"] == ingress_values["sslPolicy"]
    assert ingress_values["sslPolicy"].startswith("ELBSecurityPolicy-TLS13-")
    assert notes[ALB_ANNOTATION + "certificate-arn"] == ingress_values["certificateArn"]
    assert notes.get(ALB_ANNOTATION + "wafv2-acl-arn") == (ingress_values["wafAclArn"] or None)
    assert notes[ALB_ANNOTATION + "target-type"] == "ip"
    assert notes[ALB_ANNOTATION + "healthcheck-path"] == "/readyz"
    delay = f"deregistration_delay.timeout_seconds={values['drainSeconds']}"
    assert notes[ALB_ANNOTATION + "target-group-attributes"] == delay
    # Only the public name reaches the Service, on its plain HTTP port.
    [rule] = ingress["spec"]["rules"]
    assert rule["host"] == ingress_values["host"]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    service = render.one("Service")
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["number"] == service["spec"]["ports"][0]["port"]
    # The class pins the WAF, the TLS policy and the certificate for every
    # Ingress of the class, and admits only this namespace's Ingresses.
    ingress_class = render.one("IngressClass")
    assert ingress["spec"]["ingressClassName"] == ingress_class["metadata"]["name"]
    assert ingress_class["spec"]["controller"] == "ingress.k8s.aws/alb"
    parameters = ingress_class["spec"]["parameters"]
    params = render.one("IngressClassParams")
    assert (parameters["apiGroup"], parameters["kind"], parameters["name"]) == (
        "elbv2.k8s.aws", "IngressClassParams", params["metadata"]["name"])
    spec = params["spec"]
    assert spec["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": chartlib.NAMESPACE}}
    assert spec["group"]["name"] == notes[ALB_ANNOTATION + "group.name"]
    assert spec["sslPolicy"] == ingress_values["sslPolicy"]
    assert spec["certificateArn"] == [ingress_values["certificateArn"]]
    assert spec.get("wafv2AclArn") == (ingress_values["wafAclArn"] or None)
    assert spec["scheme"] == ingress_values["scheme"] == notes[ALB_ANNOTATION + "scheme"]
    assert spec.get("inboundCIDRs", []) == ingress_values["sourceRanges"]
    attributes = {a["key"]: a["value"] for a in spec["loadBalancerAttributes"]}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert int(attributes["idle_timeout.timeout_seconds"]) < 75, "the pods' keep-alive must outlast the ALB's"


def test_autoscaling_and_disruption_budget(case: ValuesCase) -> None:
    render = render_file(case.path)
    values = render.values
    selector = render.one("Deployment")["spec"]["selector"]["matchLabels"]
    if values["autoscaling"]["enabled"]:
        hpa = render.one("HorizontalPodAutoscaler")
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"]["name"] == render.one("Deployment")["metadata"]["name"]
        assert hpa["spec"]["minReplicas"] == values["autoscaling"]["minReplicas"]
        assert hpa["spec"]["maxReplicas"] == values["autoscaling"]["maxReplicas"]
    else:
        assert not render.all("HorizontalPodAutoscaler")
    if values["podDisruptionBudget"]["enabled"]:
        pdb = render.one("PodDisruptionBudget")
        assert pdb["spec"]["selector"]["matchLabels"] == selector
        assert pdb["spec"]["maxUnavailable"] not in (0, "0%"), "would block every drain"
        assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_network_policy_admits_only_the_app_port_and_dns(case: ValuesCase) -> None:
    render = render_file(case.path)
    if not render.values["networkPolicy"]["enabled"]:
        pytest.skip("networkPolicy.enabled is false in this values set")
    selector = render.one("Deployment")["spec"]["selector"]["matchLabels"]
    policies = {p["metadata"]["name"]: p for p in render.all("NetworkPolicy")}
    app = next(p for p in policies.values() if p["spec"]["podSelector"]["matchLabels"] == selector)
    assert set(app["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert [rule["ports"] for rule in app["spec"]["ingress"]] == [
        [{"port": "http", "protocol": "TCP"}]
    ]
    dns = app["spec"]["egress"][0]
    assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}
    extra = render.values["networkPolicy"]["extraEgress"]
    assert app["spec"]["egress"][1:] == extra


def test_rbac_only_for_named_objects(case: ValuesCase) -> None:
    render = render_file(case.path)
    rules = render.values["rbac"]["rules"]
    if not rules:
        assert not render.all("Role") and not render.all("RoleBinding")
        return
    role = render.one("Role")
    assert all(rule["resourceNames"] for rule in role["rules"])
    binding = render.one("RoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    account = render.one("Deployment")["spec"]["template"]["spec"]["serviceAccountName"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account, "namespace": chartlib.NAMESPACE}
    ]
    assert not render.all("ClusterRole")


def test_service_account_carries_the_irsa_role(case: ValuesCase) -> None:
    render = render_file(case.path)
    account = render.values["serviceAccount"]
    if not account["create"]:
        assert not render.all("ServiceAccount")
        return
    notes = annotations(render.one("ServiceAccount"))
    if account["roleArn"]:
        assert notes["eks.amazonaws.com/role-arn"] == account["roleArn"]
    else:
        assert "eks.amazonaws.com/role-arn" not in notes


def test_helm_test_pod_checks_healthz_through_the_service(case: ValuesCase) -> None:
    render = render_file(case.path)
    pods = [pod for pod in render.all("Pod") if annotations(pod).get("helm.sh/hook") == "test"]
    assert len(pods) == 1
    command = pods[0]["spec"]["containers"][0]["command"]
    service = render.one("Service")["metadata"]["name"]
    assert command[0] == "wget"
    assert command[-1].startswith(f"http://{service}.{chartlib.NAMESPACE}.svc:")
    assert command[-1].endswith("/healthz")


def test_notes_show_how_to_reach_the_service(case: ValuesCase) -> None:
    render = render_file(case.path)
    notes = render.rendered["templates/NOTES.txt"]
    values = render.values
    assert "/configs" in notes
    if values["ingress"]["enabled"]:
        assert f"kubectl get ingress {render.one('Ingress')['metadata']['name']}" in notes
        assert f"curl https://{values['ingress']['host']}/" in notes
    elif values["service"]["type"] == "LoadBalancer":
        assert "{.status.loadBalancer.ingress[0].hostname}" in notes
        scheme = "https" if values["service"]["tls"]["enabled"] else "http"
        assert f"curl {scheme}://$LB" in notes
    else:
        assert "kubectl port-forward" in notes


def test_checkov_reports_no_failed_checks(
    all_cases: list[ValuesCase], tmp_path_factory: pytest.TempPathFactory
) -> None:
    outdir = tmp_path_factory.mktemp("rendered")
    for index, case in enumerate(all_cases):
        rendered = render_file(case.path).rendered
        chartlib.write_rendered(rendered, outdir / f"{index:02d}-{Path(case.label).stem}")
    report = run_checkov(outdir)
    summary = report["summary"]
    failed = [
        f"{check['check_id']} {check['check_name']}: {check['resource']} in {check['file_path']}"
        for check in report["results"]["failed_checks"]
    ]
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)
    assert summary["passed"] > 0, "checkov scanned nothing"
    assert summary["parsing_errors"] == 0, "checkov could not parse some manifests"
    # Skips come only from checkov.io/skip annotations in the templates; each
    # must say why the check does not apply.
    unexplained = [
        f"{check['check_id']} on {check['resource']}"
        for check in report["results"].get("skipped_checks", [])
        if check["check_result"].get("suppress_comment", "No comment provided")
        == "No comment provided"
    ]
    assert not unexplained, "checkov skips without a reason: " + ", ".join(unexplained)


def run_checkov(directory: Path) -> dict[str, Any]:
    checkov = Path(sys.executable).with_name("checkov")
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "LOG_LEVEL": "ERROR"}
    result = subprocess.run(
        [str(checkov), "--skip-download", "--framework", "kubernetes", "-d", str(directory),
         "--output", "json", "--soft-fail"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"checkov did not run: {result.stderr[-2000:]}"
    report = json.loads(result.stdout)
    # One framework gives one report; checkov returns a list when it has several.
    return report[0] if isinstance(report, list) else report


# --- behaviour on the chart's own values ---------------------------------------

# (what is wrong, values on top of the defaults, what the message must say).
# The schema refuses these before any template runs.
SCHEMA_REJECTS = [
    ("image tag empty", 'image: {tag: ""}', "/image/tag"),
    ("unknown key (typo)", "replicas: 3", "additional properties 'replicas' not allowed"),
    ("TLS without certificate", "service: {tls: {enabled: true}}", "/service/tls/certificateArn"),
    (
        "malformed certificate ARN",
        "service: {tls: {enabled: true, certificateArn: 'arn:aws:iam::1:role/x'}}",
        "/service/tls/certificateArn",
    ),
    ("secret-like config key", "config: {APP_DB_PASSWORD: hunter2}", "/config/APP_DB_PASSWORD"),
    ("config key without APP_", "config: {greeting: hi}", "additional properties 'greeting'"),
    ("unquoted number in config", "config: {APP_LIMIT: 1000000}", "/config/APP_LIMIT': got number"),
    ("secret key without APP_", "secret: {values: {db: x}}", "additional properties 'db'"),
    ("drain as a string", 'drainSeconds: "5"', "/drainSeconds': got string, want integer"),
    ("PDB blocking drains", "podDisruptionBudget: {maxUnavailable: 0}", "/podDisruptionBudget"),
    ("no memory limit", "resources: {limits: {memory: null}}", "missing property 'memory'"),
    ("cpu not a quantity", "resources: {requests: {cpu: lots}}", "/resources/requests/cpu"),
    ("NodePort service", "service: {type: NodePort}", "/service/type"),
    ("Ingress without a host", "{service: {type: ClusterIP}, ingress: {enabled: true, certificateArn: 'arn:aws:acm:eu-west-1:111122223333:certificate/x'}}", "/ingress/host"),
    ("Ingress without a certificate", "{service: {type: ClusterIP}, ingress: {enabled: true, host: a.example.com}}", "/ingress/certificateArn"),
    ("Ingress TLS policy without TLS 1.3", "ingress: {sslPolicy: ELBSecurityPolicy-2016-08}", "/ingress/sslPolicy"),
    ("WAF ARN of another kind", "ingress: {wafAclArn: 'arn:aws:iam::111122223333:role/x'}", "/ingress/wafAclArn"),
    (
        "RBAC rule without resourceNames",
        "rbac: {rules: [{apiGroups: [''], resources: [secrets], verbs: [get]}]}",
        "missing property 'resourceNames'",
    ),
    (
        "RBAC verb not restricted by name",
        "rbac: {rules: [{apiGroups: [''], resources: [pods], resourceNames: [a], verbs: [create]}]}",
        "/rbac/rules/0/verbs/0",
    ),
    ("bad log level", "settings: {logLevel: verbose}", "/settings/logLevel"),
    ("bad image digest", "image: {digest: 'sha256:abc'}", "/image/digest"),
]

# Rules across fields, which JSON schema cannot state: the templates refuse
# these at render time. (`helm lint` only logs template failures, so the
# render is what catches them.)
TEMPLATE_REJECTS = [
    (
        "HPA bounds crossed",
        "autoscaling: {minReplicas: 5, maxReplicas: 2}",
        "autoscaling.minReplicas (5) must not exceed autoscaling.maxReplicas (2)",
    ),
    (
        "existing and inline secret",
        "secret: {existingSecret: s, values: {APP_DB_PASSWORD: x}}",
        "secret.existingSecret and secret.values are both set",
    ),
    (
        "annotation fighting a value",
        "service: {annotations: {service.beta.kubernetes.io/aws-load-balancer-scheme: internal}}",
        "service.annotations: service.beta.kubernetes.io/aws-load-balancer-scheme is set by the chart",
    ),
    (
        "no listener at all",
        "service: {httpPort: 0}",
        "service.httpPort is 0 and service.tls.enabled is false",
    ),
    (
        "an NLB beside the ALB",
        "ingress: {enabled: true, host: a.example.com, certificateArn: 'arn:aws:acm:eu-west-1:111122223333:certificate/x'}",
        "ingress.enabled publishes the service through an ALB, and service.type is LoadBalancer",
    ),
    (
        "TLS on a ClusterIP Service",
        "service: {type: ClusterIP, tls: {enabled: true, certificateArn: 'arn:aws:acm:eu-west-1:111122223333:certificate/x'}}",
        "service.tls.enabled needs service.type LoadBalancer",
    ),
    (
        "Ingress annotation fighting a value",
        "ingress: {annotations: {alb.ingress.kubernetes.io/wafv2-acl-arn: none}}",
        "ingress.annotations: alb.ingress.kubernetes.io/wafv2-acl-arn is set by the chart",
    ),
]


def assert_render_rejects(overrides: str, message: str) -> None:
    values = chartlib.load_values_text(overrides, source="bad values")
    with pytest.raises(ChartCheckError) as rendered:
        chartlib.render(values, source="bad.yaml")
    assert message in str(rendered.value)
    assert str(rendered.value).startswith("bad.yaml: ")


@pytest.mark.behaviour
@pytest.mark.parametrize(
    ("overrides", "message"),
    [pytest.param(text, message, id=label) for label, text, message in SCHEMA_REJECTS],
)
def test_schema_rejects_bad_values_naming_the_field(overrides: str, message: str) -> None:
    assert_render_rejects(overrides, message)
    values = chartlib.load_values_text(overrides, source="bad values")
    with pytest.raises(ChartCheckError) as linted:
        chartlib.lint(values, source="bad.yaml")
    assert message in str(linted.value)


@pytest.mark.behaviour
def test_schema_is_plain_draft_07_for_helm_3_too() -> None:
    """Helm 3 (inside the terraform helm provider) reads draft-07 with another engine.

    A second, independent draft-07 validator must accept the chart's own
    values and refuse every bad-values case, so the schema relies on no
    Helm 4 engine quirk.
    """
    schema = json.loads((chartlib.CHART_DIR / "values.schema.json").read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    for path in (None, *sorted(chartlib.CHART_DIR.glob("values-*.yaml"))):
        merged = render_file(path).values
        errors = [error.message for error in validator.iter_errors(merged)]
        assert not errors, f"{path}: {errors}"
    for label, overrides, _ in SCHEMA_REJECTS:
        merged = chartlib.merged_values(chartlib.load_values_text(overrides, source=label))
        assert not validator.is_valid(merged), f"draft-07 validator accepts: {label}"


@pytest.mark.behaviour
@pytest.mark.parametrize(
    ("overrides", "message"),
    [pytest.param(text, message, id=label) for label, text, message in TEMPLATE_REJECTS],
)
def test_templates_reject_inconsistent_values(overrides: str, message: str) -> None:
    assert_render_rejects(overrides, message)


@pytest.mark.behaviour
def test_config_change_rolls_the_pods() -> None:
    before = render_yaml("config: {APP_GREETING: hello}").one("Deployment")
    after = render_yaml("config: {APP_GREETING: goodbye}").one("Deployment")
    key = "checksum/config"
    assert annotations(before["spec"]["template"])[key] != annotations(after["spec"]["template"])[key]


@pytest.mark.behaviour
@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(
            "secret: {values: {APP_DB_PASSWORD: one}}",
            "secret: {values: {APP_DB_PASSWORD: two}}",
            id="chart-made secret",
        ),
        pytest.param(
            "secret: {existingSecret: s}",
            "secret: {existingSecret: s}",
            id="existing secret",
        ),
    ],
)
def test_a_secret_change_leaves_the_pods_running(first: str, second: str) -> None:
    """The files change in the running pods, which read them again: no rollout."""
    before = render_yaml(first)
    after = render_yaml(second)
    assert before.one("Deployment")["spec"]["template"] == after.one("Deployment")["spec"]["template"]
    if "values" in first:
        assert before.one("Secret")["data"] != after.one("Secret")["data"]


@pytest.mark.behaviour
def test_environments_differ_where_they_should() -> None:
    staging = render_file(chartlib.CHART_DIR / "values-staging.yaml")
    production = render_file(chartlib.CHART_DIR / "values-production.yaml")
    stage_hpa = staging.one("HorizontalPodAutoscaler")["spec"]
    prod_hpa = production.one("HorizontalPodAutoscaler")["spec"]
    assert prod_hpa["minReplicas"] > stage_hpa["minReplicas"]
    assert prod_hpa["maxReplicas"] > stage_hpa["maxReplicas"]
    # Production keeps one pod per zone at least (three zones).
    assert prod_hpa["minReplicas"] >= 3
    assert app_container(production)["resources"] != app_container(staging)["resources"]
    for render in (staging, production):
        assert render.values["ingress"]["enabled"] and render.values["ingress"]["wafAclArn"]
    assert production.one("Ingress")["spec"]["rules"][0]["host"] == "webapp.example.com"
    assert staging.one("Ingress")["spec"]["rules"][0]["host"] == "webapp.staging.example.com"
    assert env_of(app_container(production))["APP_ENV"]["value"] == "production"
    assert env_of(app_container(staging))["APP_ENV"]["value"] == "staging"


@pytest.mark.behaviour
def test_any_valid_image_tag_gives_valid_version_labels() -> None:
    for tag in ("_v1.2.", "1.0.0-rc.1", "a" * 70 + "."):
        render = render_yaml(f"image: {{tag: '{tag}'}}")
        assert_label_values_valid(render)
        assert app_container(render)["image"] == f"webapp:{tag}"


@pytest.mark.behaviour
def test_default_image_tag_is_the_app_version() -> None:
    defaults = chartlib.merged_values({})
    metadata = yaml.safe_load((chartlib.CHART_DIR / "Chart.yaml").read_text(encoding="utf-8"))
    assert defaults["image"]["tag"] == metadata["appVersion"]


@pytest.mark.behaviour
def test_render_cli_writes_manifests_and_reports_bad_files(tmp_path: Path) -> None:
    script = Path(__file__).with_name("render.py")
    good = subprocess.run(
        [sys.executable, str(script), str(chartlib.CHART_DIR / "values-production.yaml"),
         str(tmp_path / "out")],
        capture_output=True, text=True, check=False,
    )
    assert good.returncode == 0, good.stderr
    assert (tmp_path / "out" / "templates" / "deployment.yaml").is_file()
    assert not (tmp_path / "out" / "templates" / "NOTES.txt").exists()

    bad = tmp_path / "bad.yaml"
    bad.write_text("image:\n  tag: ''\n", encoding="utf-8")
    refused = subprocess.run(
        [sys.executable, str(script), str(bad), str(tmp_path / "bad-out")],
        capture_output=True, text=True, check=False,
    )
    assert refused.returncode == 1
    assert str(bad) in refused.stderr and "/image/tag" in refused.stderr

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("not ours", encoding="utf-8")
    clash = subprocess.run(
        [sys.executable, str(script), str(chartlib.CHART_DIR / "values.yaml"), str(foreign)],
        capture_output=True, text=True, check=False,
    )
    assert clash.returncode == 1 and "not empty" in clash.stderr
    assert (foreign / "keep.txt").read_text(encoding="utf-8") == "not ours"
