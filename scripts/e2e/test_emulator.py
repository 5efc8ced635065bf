#!/usr/bin/env python3
"""Tests of the e2e emulator's shim (scripts/e2e/emulator.py, edge_shim.py) through boto3,
against a real emulator process on loopback, so a moto upgrade that changes
what the shim relies on fails here in seconds instead of in a 10-minute run.

  .venv/bin/python scripts/e2e/test_emulator.py
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

HERE = Path(__file__).resolve().parent
ROTATION_SOURCE = HERE.parents[1] / "stacks" / "lambda" / "secret_rotation.py"
REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/path/deployer"


class EmulatorShimTest(unittest.TestCase):
    process: subprocess.Popen[bytes]
    url: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory()
        port_file = Path(cls.tmp.name) / "port"
        cls.process = subprocess.Popen(
            [sys.executable, str(HERE / "emulator.py"), "--port-file", str(port_file)],
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not port_file.exists():
            if time.monotonic() > deadline or cls.process.poll() is not None:
                cls.process.kill()
                raise RuntimeError("emulator did not start")
            time.sleep(0.1)
        cls.url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        session = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name=REGION)
        cls.eks = session.client("eks", endpoint_url=cls.url)
        cls.ec2 = session.client("ec2", endpoint_url=cls.url)
        cls.iam = session.client("iam", endpoint_url=cls.url)
        cls.acm = session.client("acm", endpoint_url=cls.url)
        cls.route53 = session.client("route53", endpoint_url=cls.url)
        cls.secrets = session.client("secretsmanager", endpoint_url=cls.url)
        cls.awslambda = session.client("lambda", endpoint_url=cls.url)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.process.terminate()
        cls.process.wait(timeout=10)
        cls.tmp.cleanup()

    def cluster(self, name: str, **extra: Any) -> None:
        self.eks.create_cluster(
            name=name,
            roleArn="arn:aws:iam::123456789012:role/cluster",
            resourcesVpcConfig={"subnetIds": ["subnet-1"]},
            **extra,
        )

    def error_code(self, call: Any, **kwargs: Any) -> str:
        with self.assertRaises(ClientError) as raised:
            call(**kwargs)
        return raised.exception.response["Error"]["Code"]

    def report(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.url}/_e2e/shim-report", timeout=5) as response:
            return json.load(response)

    def test_managed_policies_are_loaded(self) -> None:
        policy = self.iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy")
        self.assertEqual(policy["Policy"]["PolicyName"], "AmazonEKSClusterPolicy")

    def test_addon_needs_its_cluster_and_lives_until_deleted(self) -> None:
        self.assertEqual(
            self.error_code(self.eks.create_addon, clusterName="missing", addonName="coredns"),
            "ResourceNotFoundException",
        )
        self.cluster("addons")
        created = self.eks.create_addon(clusterName="addons", addonName="coredns", tags={"team": "x"})["addon"]
        self.assertEqual(created["status"], "ACTIVE")
        self.assertEqual(
            self.error_code(self.eks.create_addon, clusterName="addons", addonName="coredns"),
            "ResourceInUseException",
        )
        described = self.eks.describe_addon(clusterName="addons", addonName="coredns")["addon"]
        self.assertEqual(described["addonArn"], created["addonArn"])
        self.assertEqual(described["tags"], {"team": "x"})
        self.assertEqual(self.eks.list_addons(clusterName="addons")["addons"], ["coredns"])
        self.eks.delete_addon(clusterName="addons", addonName="coredns")
        self.assertEqual(
            self.error_code(self.eks.describe_addon, clusterName="addons", addonName="coredns"),
            "ResourceNotFoundException",
        )
        self.assertGreaterEqual(self.report().get("served CreateAddon", 0), 1)

    def test_access_entry_with_a_slashed_principal_and_its_policies(self) -> None:
        self.cluster("access")
        entry = self.eks.create_access_entry(clusterName="access", principalArn=ROLE)["accessEntry"]
        self.assertEqual(entry["type"], "STANDARD")
        self.assertEqual(self.eks.describe_access_entry(clusterName="access", principalArn=ROLE)["accessEntry"]["principalArn"], ROLE)
        policy = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
        self.eks.associate_access_policy(
            clusterName="access", principalArn=ROLE, policyArn=policy, accessScope={"type": "cluster"}
        )
        listed = self.eks.list_associated_access_policies(clusterName="access", principalArn=ROLE)
        self.assertEqual([p["policyArn"] for p in listed["associatedAccessPolicies"]], [policy])
        self.eks.disassociate_access_policy(clusterName="access", principalArn=ROLE, policyArn=policy)
        self.assertEqual(self.eks.list_associated_access_policies(clusterName="access", principalArn=ROLE)["associatedAccessPolicies"], [])
        self.eks.delete_access_entry(clusterName="access", principalArn=ROLE)
        self.assertEqual(
            self.error_code(self.eks.describe_access_entry, clusterName="access", principalArn=ROLE),
            "ResourceNotFoundException",
        )

    def test_pod_identity_association_round_trip(self) -> None:
        self.cluster("pods")
        created = self.eks.create_pod_identity_association(
            clusterName="pods", namespace="webapp", serviceAccount="webapp", roleArn=ROLE
        )["association"]
        self.assertEqual(
            self.error_code(
                self.eks.create_pod_identity_association,
                clusterName="pods", namespace="webapp", serviceAccount="webapp", roleArn=ROLE,
            ),
            "ResourceInUseException",
        )
        got = self.eks.describe_pod_identity_association(clusterName="pods", associationId=created["associationId"])
        self.assertEqual(got["association"]["roleArn"], ROLE)
        self.eks.delete_pod_identity_association(clusterName="pods", associationId=created["associationId"])
        self.assertEqual(
            self.error_code(self.eks.describe_pod_identity_association, clusterName="pods", associationId=created["associationId"]),
            "ResourceNotFoundException",
        )

    def test_cluster_keeps_access_config_and_upgrade_policy(self) -> None:
        self.cluster(
            "config",
            accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
            upgradePolicy={"supportType": "STANDARD"},
        )
        cluster = self.eks.describe_cluster(name="config")["cluster"]
        self.assertEqual(cluster["accessConfig"]["authenticationMode"], "API")
        self.assertFalse(cluster["accessConfig"]["bootstrapClusterCreatorAdminPermissions"])
        self.assertEqual(cluster["upgradePolicy"], {"supportType": "STANDARD"})

    def test_node_group_keeps_update_config_and_gets_no_remote_access(self) -> None:
        self.cluster("nodes")
        self.eks.create_nodegroup(
            clusterName="nodes",
            nodegroupName="general",
            subnets=["subnet-1"],
            nodeRole="arn:aws:iam::123456789012:role/node",
            updateConfig={"maxUnavailable": 1},
        )
        group = self.eks.describe_nodegroup(clusterName="nodes", nodegroupName="general")["nodegroup"]
        self.assertEqual(group["updateConfig"], {"maxUnavailable": 1})
        self.assertNotIn("remoteAccess", group)

    def test_launch_template_tags_stay_out_of_its_data(self) -> None:
        self.ec2.create_launch_template(
            LaunchTemplateName="nodes",
            LaunchTemplateData={
                "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "b"}]}]
            },
            TagSpecifications=[{"ResourceType": "launch-template", "Tags": [{"Key": "env", "Value": "e2e"}]}],
        )
        version = self.ec2.describe_launch_template_versions(LaunchTemplateName="nodes")["LaunchTemplateVersions"][0]
        kinds = [spec["ResourceType"] for spec in version["LaunchTemplateData"]["TagSpecifications"]]
        self.assertEqual(kinds, ["instance"])
        template = self.ec2.describe_launch_templates(LaunchTemplateNames=["nodes"])["LaunchTemplates"][0]
        self.assertIn({"Key": "env", "Value": "e2e"}, template["Tags"])

    def test_cluster_gets_its_security_group_until_deleted(self) -> None:
        vpc = self.ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        subnet = self.ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.0.0/20")["Subnet"]["SubnetId"]
        self.eks.create_cluster(
            name="grouped",
            roleArn="arn:aws:iam::123456789012:role/cluster",
            resourcesVpcConfig={"subnetIds": [subnet]},
        )
        group_id = self.eks.describe_cluster(name="grouped")["cluster"]["resourcesVpcConfig"]["clusterSecurityGroupId"]
        group = self.ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
        self.assertEqual(group["VpcId"], vpc)
        self.assertIn({"Key": "kubernetes.io/cluster/grouped", "Value": "owned"}, group["Tags"])
        self.assertEqual([p["UserIdGroupPairs"][0]["GroupId"] for p in group["IpPermissions"]], [group_id])
        # What the stacks do with it: a tag of their own (aws_ec2_tag).
        self.ec2.create_tags(Resources=[group_id], Tags=[{"Key": "karpenter.sh/discovery", "Value": "grouped"}])
        self.eks.delete_cluster(name="grouped")
        self.assertEqual(
            self.error_code(self.ec2.describe_security_groups, GroupIds=[group_id]),
            "InvalidGroup.NotFound",
        )
        self.assertGreaterEqual(self.report().get("patched DeleteCluster (deleted the cluster security group)", 0), 1)

    def test_node_access_entries_name_their_nodes(self) -> None:
        self.cluster("joined")
        entry = self.eks.create_access_entry(clusterName="joined", principalArn=ROLE, type="EC2_LINUX")["accessEntry"]
        self.assertEqual((entry["type"], entry["username"]), ("EC2_LINUX", "system:node:{{EC2PrivateDNSName}}"))

    def test_a_rule_from_another_group_keeps_its_description_and_names_the_group(self) -> None:
        vpc = self.ec2.create_vpc(CidrBlock="10.98.0.0/16")["Vpc"]["VpcId"]
        target = self.ec2.create_security_group(GroupName="api", Description="api", VpcId=vpc)["GroupId"]
        source = self.ec2.create_security_group(GroupName="bastion", Description="b", VpcId=vpc)["GroupId"]
        self.ec2.authorize_security_group_ingress(
            GroupId=target,
            IpPermissions=[{
                "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                "UserIdGroupPairs": [{"GroupId": source, "Description": "from the bastion"}],
            }],
        )
        rules = self.ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [target]}])
        rule = next(r for r in rules["SecurityGroupRules"] if not r["IsEgress"])
        self.assertEqual(rule["Description"], "from the bastion")
        self.assertEqual(rule["ReferencedGroupInfo"], {"GroupId": source})

    def test_detailed_monitoring_is_switched_on_and_off(self) -> None:
        image = self.ec2.describe_images()["Images"][0]["ImageId"]
        instance = self.ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        state = self.ec2.monitor_instances(InstanceIds=[instance])["InstanceMonitorings"][0]["Monitoring"]["State"]
        self.assertEqual(state, "enabled")
        described = self.ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
        self.assertEqual(described["Monitoring"]["State"], "enabled")
        self.ec2.unmonitor_instances(InstanceIds=[instance])
        described = self.ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
        self.assertEqual(described["Monitoring"]["State"], "disabled")
        self.assertEqual(self.error_code(self.ec2.monitor_instances, InstanceIds=["i-0123456789abcdef0"]),
                         "InvalidInstanceID.NotFound")
        self.ec2.terminate_instances(InstanceIds=[instance])
        self.assertGreaterEqual(self.report().get("served MonitorInstances", 0), 2)

    def test_deleting_a_cluster_drops_what_the_shim_kept_for_it(self) -> None:
        self.cluster("gone")
        self.eks.create_addon(clusterName="gone", addonName="vpc-cni")
        self.eks.delete_cluster(name="gone")
        self.cluster("gone")
        self.assertEqual(self.eks.list_addons(clusterName="gone")["addons"], [])

    def test_a_certificate_is_issued_once_its_validation_record_is_in_the_zone(self) -> None:
        zone = self.route53.create_hosted_zone(Name="example.test", CallerReference="acm")["HostedZone"]["Id"]
        arn = self.acm.request_certificate(DomainName="web.example.test", ValidationMethod="DNS")["CertificateArn"]
        certificate = self.acm.describe_certificate(CertificateArn=arn)["Certificate"]
        self.assertEqual(certificate["Status"], "PENDING_VALIDATION")
        record = certificate["DomainValidationOptions"][0]["ResourceRecord"]

        def put(value: str) -> None:
            self.route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{
                "Action": "UPSERT",
                "ResourceRecordSet": {"Name": record["Name"], "Type": "CNAME", "TTL": 300,
                                      "ResourceRecords": [{"Value": value}]},
            }]})

        put("_wrong.acm-validations.aws.")
        self.assertEqual(self.acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"], "PENDING_VALIDATION")
        put(record["Value"])
        self.assertEqual(self.acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"], "ISSUED")

    def test_rotate_secret_runs_the_rotation_functions_own_code(self) -> None:
        role = self.iam.create_role(
            RoleName="rotation",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
        )["Role"]["Arn"]
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as archive:
            archive.writestr("secret_rotation.py", ROTATION_SOURCE.read_text(encoding="utf-8"))
        function = self.awslambda.create_function(
            FunctionName="rotation", Runtime="python3.12", Role=role, Handler="secret_rotation.handler",
            Code={"ZipFile": package.getvalue()},
        )["FunctionArn"]
        secret = self.secrets.create_secret(Name="e2e/APP_SECRET")["ARN"]
        self.secrets.rotate_secret(
            SecretId=secret, RotationLambdaARN=function, RotationRules={"AutomaticallyAfterDays": 30}
        )
        first = self.secrets.get_secret_value(SecretId=secret, VersionStage="AWSCURRENT")["SecretString"]
        self.assertEqual(len(first), 64)
        self.assertTrue(first.isalnum())
        described = self.secrets.describe_secret(SecretId=secret)
        self.assertTrue(described["RotationEnabled"])
        self.assertEqual(described["RotationRules"]["AutomaticallyAfterDays"], 30)
        self.assertEqual(described["RotationLambdaARN"], function)
        # A second rotation replaces the value and keeps the first as previous.
        self.secrets.rotate_secret(SecretId=secret)
        second = self.secrets.get_secret_value(SecretId=secret, VersionStage="AWSCURRENT")["SecretString"]
        previous = self.secrets.get_secret_value(SecretId=secret, VersionStage="AWSPREVIOUS")["SecretString"]
        self.assertNotEqual(second, first)
        self.assertEqual(previous, first)
        self.assertGreaterEqual(self.report().get("served RotateSecret (ran the rotation function's four steps)", 0), 2)
        self.assertEqual(
            self.error_code(self.secrets.rotate_secret, SecretId=secret, RotationLambdaARN=function + "-missing"),
            "ResourceNotFoundException",
        )


if __name__ == "__main__":
    unittest.main()
