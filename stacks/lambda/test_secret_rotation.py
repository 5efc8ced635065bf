#!/usr/bin/env python3
"""Tests of the rotation function (secret_rotation.py) against moto's
Secrets Manager in this process, driven the way Secrets Manager drives a
rotation: a version id, then the four steps with it.

  .venv/bin/python stacks/lambda/test_secret_rotation.py
"""

from __future__ import annotations

import os
import sys
import time
import unittest
import uuid
from pathlib import Path

os.environ.update(
    AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="eu-west-1"
)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.secretsmanager.models import secretsmanager_backends  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import secret_rotation  # noqa: E402

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


@mock_aws
class RotationTest(unittest.TestCase):
    def setUp(self) -> None:
        self.client = boto3.client("secretsmanager")
        self.arn = self.client.create_secret(Name="webapp-staging/webapp/APP_SECRET")["ARN"]
        self.model = secretsmanager_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].secrets[self.arn]
        # What RotateSecret turns on; moto's own RotateSecret would run the
        # function in a Lambda container instead of here.
        self.model.rotation_requested = True
        self.model.rotation_enabled = True

    def start_rotation(self) -> str:
        """What Secrets Manager does before the first step: a new version
        id, registered as pending when the secret has versions already."""
        token = str(uuid.uuid4())
        if self.model.versions:
            self.model.remove_version_stages_from_old_versions(["AWSPENDING"])
            self.model.versions[token] = {
                "version_id": token,
                "version_stages": ["AWSPENDING"],
                "createdate": int(time.time()),
            }
        return token

    def step(self, token: str, step: str) -> None:
        secret_rotation.handler(
            {"SecretId": self.arn, "ClientRequestToken": token, "Step": step}, None
        )

    def rotate(self) -> str:
        token = self.start_rotation()
        for step in STEPS:
            self.step(token, step)
        return token

    def stages(self) -> dict[str, list[str]]:
        return self.client.describe_secret(SecretId=self.arn)["VersionIdsToStages"]

    def current(self) -> str:
        # By stage, as External Secrets Operator asks: moto's default version
        # does not follow a moved AWSCURRENT.
        return self.client.get_secret_value(SecretId=self.arn, VersionStage="AWSCURRENT")[
            "SecretString"
        ]

    def test_the_first_rotation_makes_the_first_value(self) -> None:
        token = self.rotate()
        self.assertEqual(self.stages(), {token: ["AWSCURRENT"]})
        value = self.current()
        self.assertEqual(len(value), secret_rotation.VALUE_LENGTH)
        self.assertTrue(set(value) <= secret_rotation.VALUE_ALPHABET, value)

    def test_a_later_rotation_replaces_the_value_and_keeps_the_previous(self) -> None:
        first_token = self.rotate()
        first = self.current()
        second_token = self.rotate()
        self.assertNotEqual(self.current(), first)
        stages = self.stages()
        self.assertEqual(stages[second_token], ["AWSCURRENT"])
        self.assertEqual(stages[first_token], ["AWSPREVIOUS"])
        previous = self.client.get_secret_value(SecretId=self.arn, VersionStage="AWSPREVIOUS")
        self.assertEqual(previous["SecretString"], first)

    def test_a_retried_create_step_keeps_its_value(self) -> None:
        self.rotate()
        token = self.start_rotation()
        self.step(token, "createSecret")
        pending = self.client.get_secret_value(SecretId=self.arn, VersionStage="AWSPENDING")
        self.step(token, "createSecret")
        again = self.client.get_secret_value(SecretId=self.arn, VersionStage="AWSPENDING")
        self.assertEqual(again["SecretString"], pending["SecretString"])

    def test_a_version_already_current_is_left_alone(self) -> None:
        token = self.rotate()
        value = self.current()
        for step in STEPS:
            self.step(token, step)
        self.assertEqual(self.current(), value)
        self.assertEqual(self.stages(), {token: ["AWSCURRENT"]})

    def test_refuses_what_is_not_a_rotation_of_this_secret(self) -> None:
        self.rotate()
        with self.assertRaisesRegex(secret_rotation.RotationError, "is not being rotated"):
            self.step(str(uuid.uuid4()), "createSecret")
        self.model.rotation_enabled = False
        with self.assertRaisesRegex(secret_rotation.RotationError, "rotation is not enabled"):
            self.step(self.start_rotation(), "createSecret")
        self.model.rotation_enabled = True
        with self.assertRaisesRegex(secret_rotation.RotationError, "unknown step"):
            self.step(self.start_rotation(), "dropSecret")

    def test_a_pending_value_not_made_here_fails_the_test_step(self) -> None:
        self.rotate()
        token = self.start_rotation()
        self.client.put_secret_value(
            SecretId=self.arn,
            ClientRequestToken=token,
            SecretString="short; with punctuation",
            VersionStages=["AWSPENDING"],
        )
        with self.assertRaisesRegex(secret_rotation.RotationError, "not a generated value"):
            self.step(token, "testSecret")
        self.assertNotIn("AWSCURRENT", self.stages()[token])

    def test_no_value_is_logged(self) -> None:
        with self.assertLogs(level="INFO") as logs:
            self.rotate()
            self.rotate()
        text = "\n".join(logs.output)
        self.assertNotIn(self.current(), text)
        self.assertIn("is current", text)


if __name__ == "__main__":
    unittest.main()
