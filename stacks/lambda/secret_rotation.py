"""Rotation function for the service's generated secrets (AWS Lambda, Python).

AWS Secrets Manager calls it four times per rotation, with the same
ClientRequestToken (the id of the new version):

- createSecret: a new random value as the AWSPENDING version, unless that
  version already has one (a retried step must not make a second value);
- setSecret: nothing, because no other system holds a copy of a generic
  secret: its consumers read it from Secrets Manager;
- testSecret: the pending value is there and is what createSecret makes;
- finishSecret: AWSCURRENT moves to the new version (Secrets Manager then
  marks the old one AWSPREVIOUS), and AWSPENDING is dropped.

The first rotation runs right after the secret is created, when it has no
value at all: that is how the first value is made, so no value ever passes
through Terraform or its state. The function logs secret names and version
ids, never a value.
"""

from __future__ import annotations

import logging
import string
from typing import Any

import boto3

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

#: Length of a generated value: letters and digits only, so it survives any
#: quoting (environment, URL, header); 64 of 62 symbols is 381 bits.
VALUE_LENGTH = 64
VALUE_ALPHABET = frozenset(string.ascii_letters + string.digits)

CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"


class RotationError(Exception):
    """The rotation cannot go on; Secrets Manager reports it and retries."""


def handler(event: dict[str, Any], context: Any) -> None:
    arn = event["SecretId"]
    token = event["ClientRequestToken"]
    step = event["Step"]
    steps = {
        "createSecret": create_secret,
        "setSecret": set_secret,
        "testSecret": test_secret,
        "finishSecret": finish_secret,
    }
    if step not in steps:
        raise RotationError(f"unknown step {step!r}")
    client = boto3.client("secretsmanager")
    metadata = client.describe_secret(SecretId=arn)
    if not metadata.get("RotationEnabled"):
        raise RotationError(f"rotation is not enabled for {arn}")
    versions = metadata.get("VersionIdsToStages", {})
    stages = versions.get(token)
    if stages is None:
        # Only the first value is asked for before its version exists.
        if versions or step != "createSecret":
            raise RotationError(f"version {token} of {arn} is not being rotated")
    elif CURRENT in stages and PENDING not in stages:
        LOG.info("%s: version %s is current already", arn, token)
        return
    elif PENDING not in stages:
        raise RotationError(f"version {token} of {arn} is not pending")
    steps[step](client, arn, token)


def create_secret(client: Any, arn: str, token: str) -> None:
    try:
        client.get_secret_value(SecretId=arn, VersionId=token, VersionStage=PENDING)
        LOG.info("%s: version %s has its value already", arn, token)
        return
    except client.exceptions.ResourceNotFoundException:
        pass
    value = client.get_random_password(
        PasswordLength=VALUE_LENGTH, ExcludePunctuation=True, IncludeSpace=False
    )["RandomPassword"]
    client.put_secret_value(
        SecretId=arn, ClientRequestToken=token, SecretString=value, VersionStages=[PENDING]
    )
    LOG.info("%s: created version %s", arn, token)


def set_secret(client: Any, arn: str, token: str) -> None:
    LOG.info("%s: version %s needs setting nowhere else", arn, token)


def test_secret(client: Any, arn: str, token: str) -> None:
    value = client.get_secret_value(SecretId=arn, VersionId=token, VersionStage=PENDING).get(
        "SecretString", ""
    )
    if len(value) != VALUE_LENGTH or not set(value) <= VALUE_ALPHABET:
        raise RotationError(f"version {token} of {arn} is not a generated value")
    LOG.info("%s: version %s tested", arn, token)


def finish_secret(client: Any, arn: str, token: str) -> None:
    versions = client.describe_secret(SecretId=arn).get("VersionIdsToStages", {})
    current = next((v for v, stages in versions.items() if CURRENT in stages), None)
    if current != token:
        move = {"MoveToVersionId": token}
        if current is not None:
            move["RemoveFromVersionId"] = current
        client.update_secret_version_stage(SecretId=arn, VersionStage=CURRENT, **move)
    # The first value is current as soon as it is put; either way the
    # rotation ends with no version pending.
    client.update_secret_version_stage(SecretId=arn, VersionStage=PENDING, RemoveFromVersionId=token)
    LOG.info("%s: version %s is current (previous: %s)", arn, token, current)
