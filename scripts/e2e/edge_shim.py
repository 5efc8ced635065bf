"""The emulator's shim for the edge and the secrets (imported by emulator.py,
after it has set moto's environment).

- ACM: moto marks every DNS-validated certificate issued a minute after it is
  requested, whatever the zone holds. Here a certificate stays
  PENDING_VALIDATION until its validation record (name and value as ACM gave
  them) is in one of the emulator's Route 53 zones, so the apply proves the
  record is wired right (emulator.py sets moto's own wait out of reach).
- Secrets Manager RotateSecret: moto fails it on a secret without a value yet
  (the first rotation of a new secret) and would run the Lambda in a Docker
  container. Here the rotation configuration is recorded on moto's secret
  and the rotation function's own code (the package moto stored at
  CreateFunction) runs in this process for the four steps; its Secrets
  Manager calls come back to this emulator over HTTP. No Lambda runtime, no
  IAM check of the function's role.
"""

from __future__ import annotations

import io
import os
import time
import uuid
import zipfile
from typing import Any

from moto.acm.models import acm_backends
from moto.awslambda.models import lambda_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.route53.models import route53_backends
from moto.secretsmanager.models import secretsmanager_backends

ROTATION_STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


class ApiError(Exception):
    """An error response: HTTP status, AWS error code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def record_values(rrset: Any) -> set[str]:
    return {(r["Value"] if isinstance(r, dict) else str(r)).rstrip(".") for r in rrset.records or []}


def zone_has(name: str, kind: str, value: str) -> bool:
    """Whether any of the emulator's hosted zones holds this record."""
    name, value = name.rstrip("."), value.rstrip(".")
    for backend in route53_backends[DEFAULT_ACCOUNT_ID].values():
        for zone in backend.zones.values():
            for rrset in zone.rrsets:
                if rrset.name.rstrip(".") == name and rrset.type == kind and value in record_values(rrset):
                    return True
    return False


def issue_if_validated(region: str, arn: str) -> str | None:
    """Issues a pending DNS-validated certificate whose every validation
    record is in a zone; returns what was done, for the shim report."""
    bundle = acm_backends[DEFAULT_ACCOUNT_ID][region]._certificates.get(arn)
    if bundle is None or bundle.type != "AMAZON_ISSUED" or bundle.status != "PENDING_VALIDATION":
        return None
    options = bundle.describe()["Certificate"].get("DomainValidationOptions", [])
    records = [o["ResourceRecord"] for o in options if "ResourceRecord" in o]
    if records and all(zone_has(r["Name"], r["Type"], r["Value"]) for r in records):
        bundle.status = "ISSUED"
        return "DescribeCertificate (issued: validation record found in the zone)"
    return None


def run_rotation(function: Any, region: str, secret_arn: str, token: str) -> None:
    """Runs the rotation function's handler from its stored package."""
    module_name, _, handler_name = function.handler.rpartition(".")
    with zipfile.ZipFile(io.BytesIO(function.code_bytes)) as package:
        source = package.read(f"{module_name}.py")
    namespace: dict[str, Any] = {"__name__": module_name}
    exec(compile(source, f"{function.function_name}/{module_name}.py", "exec"), namespace)  # noqa: S102
    handler = namespace[handler_name]
    os.environ["AWS_DEFAULT_REGION"] = region
    for step in ROTATION_STEPS:
        try:
            handler({"SecretId": secret_arn, "ClientRequestToken": token, "Step": step}, None)
        except Exception as error:  # noqa: BLE001 - reported to the caller, as Lambda would
            raise ApiError(
                400, "InvalidRequestException", f"rotation function failed at {step}: {error}"
            ) from error


def rotate_secret(region: str, body: dict[str, Any]) -> dict[str, Any]:
    backend = secretsmanager_backends[DEFAULT_ACCOUNT_ID][region]
    secret_id = body["SecretId"]
    if not backend._is_valid_identifier(secret_id):
        raise ApiError(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
    secret = backend.secrets[secret_id]
    function_arn = body.get("RotationLambdaARN") or secret.rotation_lambda_arn
    try:
        function = lambda_backends[DEFAULT_ACCOUNT_ID][region].get_function(function_arn)
    except Exception as error:  # noqa: BLE001 - moto's not-found error
        raise ApiError(400, "ResourceNotFoundException", f"Resource not found for ARN '{function_arn}'.") from error
    days = (body.get("RotationRules") or {}).get("AutomaticallyAfterDays")
    secret.rotation_requested = True
    secret.rotation_enabled = True
    secret.rotation_lambda_arn = function_arn
    if days:
        secret.auto_rotate_after_days = int(days)
        secret.next_rotation_date = int(time.time()) + int(days) * 86400
    token = body.get("ClientRequestToken") or str(uuid.uuid4())
    if body.get("RotateImmediately", True):
        if secret.versions:
            # As Secrets Manager does: the new version is pending before the function runs.
            secret.remove_version_stages_from_old_versions(["AWSPENDING"])
            secret.versions[token] = {
                "version_id": token,
                "version_stages": ["AWSPENDING"],
                "createdate": int(time.time()),
            }
        run_rotation(function, region, secret.arn, token)
        secret.last_rotation_date = int(time.time())
    return {"ARN": secret.arn, "Name": secret.name, "VersionId": token}
