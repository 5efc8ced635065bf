"""The CRD check itself: a valid object passes, a misspelt field, a wrong
type and a bad name fail, each named by its path."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import crds  # noqa: E402


def node_pool(**spec_overrides):
    spec = {
        "template": {
            "spec": {
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
                "requirements": [
                    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]}
                ],
            }
        },
        "limits": {"cpu": "100", "memory": "400Gi"},
    }
    spec.update(spec_overrides)
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": "general"},
        "spec": spec,
    }


def test_a_valid_object_passes():
    assert crds.validate(node_pool()) == []


def test_a_misspelt_field_is_named():
    problems = crds.validate(node_pool(limitz={"cpu": "1"}))
    assert any("limitz" in p and "Additional properties" in p for p in problems), problems


def test_a_wrong_type_is_named_by_path():
    obj = node_pool()
    obj["spec"]["template"]["spec"]["requirements"][0]["values"] = "on-demand"
    problems = crds.validate(obj)
    assert any(p.startswith("spec.template.spec.requirements.0.values:") for p in problems), problems


def test_int_or_string_accepts_both():
    assert crds.validate(node_pool(limits={"cpu": 100})) == []


def test_a_bad_name_and_an_unknown_kind_fail():
    obj = node_pool()
    obj["metadata"]["name"] = "General_Pool"
    assert any(p.startswith("metadata.name:") for p in crds.validate(obj))
    assert crds.validate({"apiVersion": "example.com/v1", "kind": "Nope", "metadata": {"name": "x"}})


def test_a_kind_whose_crd_the_data_lacks_is_named_not_passed():
    project = {"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": {"name": "p"}}
    assert "upstream chart data holds only" in crds.unvalidated(project)
    assert crds.validate(project) == ["no CRD schema for argoproj.io/v1alpha1 AppProject in stacks/upstream/crds"]
    assert crds.unvalidated(node_pool()) is None
    stranger = {"apiVersion": "example.io/v1", "kind": "Thing", "metadata": {"name": "x"}}
    assert crds.unvalidated(stranger) is None, "an unknown kind is an error, not a known gap"


def test_builtin_objects_beside_custom_resources_are_validated_strictly():
    import custom_resources

    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}, "data": {"a.json": "{}"}}
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "secrets-reader"}}
    for obj, misspelt, field in ((config_map, "dat", "data"), (account, "automountToken", None)):
        assert custom_resources.problems_of(obj) == []
        obj[misspelt] = obj.pop(field) if field else False
        assert custom_resources.problems_of(obj), f"a misspelt field of a {obj['kind']} passes"


def test_extra_crd_sources_are_recognised_by_their_git_blob_id():
    import facts

    # `git hash-object` of "hello\n".
    assert facts.git_blob_id(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"
    committed = facts.extra_crd_facts([])
    assert any(str(path).endswith("elbv2.k8s.aws/IngressClassParams-v1beta1.json") for path in committed)
