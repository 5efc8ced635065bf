#!/usr/bin/env python3
"""Checks and chores against the AWS API emulator of an end-to-end run, via boto3.

  probe.py URL REGION inventory --expect applied|empty [--allow-bucket B]
  probe.py URL REGION bucket-create BUCKET
  probe.py URL REGION bucket-delete BUCKET
  probe.py URL REGION lock BUCKET KEY --expect held|released
  probe.py URL REGION state-versions BUCKET KEY --min N
  probe.py URL REGION repository-create NAME
  probe.py URL REGION repository-adopted NAME --created-at T --tag KEY=VALUE
  probe.py URL REGION zone-create NAME | zone-delete NAME
  probe.py URL REGION balancer-create NAME --tags JSON | balancer-delete NAME
  probe.py URL REGION secrets --expect rotated
  probe.py URL REGION secrets-purge

`inventory` lists what the stacks create (VPCs and their parts, IAM roles,
policies and OIDC providers, KMS keys and aliases, EKS clusters, ECR
repositories, log groups and their resource policies, S3 buckets, SQS queues,
EventBridge rules, SNS topics, certificates, records of the hosted zones, web
ACLs, secrets, Lambda functions, load balancers), ignoring what the emulator
starts with (the default VPC and AWS managed policies) and the hosted zone the
run bootstrapped. `--expect empty` fails naming every leftover; `--expect
applied` fails unless a VPC and an EKS cluster exist, which proves the probe
looks at the emulator and region terraform applied to. A KMS key cannot be
deleted at once, in AWS or moto: destroy schedules its deletion, so a key in
PendingDeletion counts as gone and any other state as left over. A secret
likewise: scheduled for deletion counts as gone.

The hosted zone is the one `[edge].hosted_zone` names: it exists before the
stacks (delegated from a registrar), so the run creates it first, as the
state bucket. `secrets --expect rotated` checks that every secret the
rotation function generated has a current value of its form (the shim ran
the function's code); `secrets-purge` deletes for good the secrets destroy
scheduled for deletion, so the next run can create the same names (as an
operator would with `--force-delete-without-recovery`). `balancer-create`
makes the ALB the AWS Load Balancer Controller would make for the service's
Ingress (its tags, the public subnets), so the run can show the public
name's record following it; `balancer-delete` removes it as the controller
would.

The state bucket is bootstrapped as a real one would be (versioning, default
encryption, public access blocked) and deleted version by version: moto fails
DeleteObjects with HTTP 500 once versioning is suspended, which is what
emptying a versioned bucket through terraform does, so versioning is never
suspended here.

`repository-create` makes an ECR repository the way someone would have made it
by hand before the stacks managed it (the stacks' settings, none of their
tags) and prints its creation time; `repository-adopted` checks, after an
apply with an `import` entry for it, that it is the same repository (same
creation time) and that terraform now manages it (it carries the tag the
stacks set).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import boto3
from botocore.config import Config


def clients(url: str, region: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id="emulator", aws_secret_access_key="emulator", region_name=region
    )
    config = Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=30, s3={"addressing_style": "path"})
    return lambda service: session.client(service, endpoint_url=url, config=config)


def paginate(client: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    items: list[Any] = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        items.extend(page.get(key, []))
    return items


def zone_records(route53: Any) -> list[str]:
    """Records of every hosted zone but the SOA and NS records a zone is made with."""
    found = []
    for zone in route53.list_hosted_zones()["HostedZones"]:
        for rrset in paginate(route53, "list_resource_record_sets", "ResourceRecordSets", HostedZoneId=zone["Id"]):
            if rrset["Type"] not in ("SOA", "NS"):
                found.append(f"{rrset['Name']} {rrset['Type']}")
    return found


def inventory(client: Any, allow_bucket: str | None) -> dict[str, list[str]]:
    ec2, iam, kms, eks, ecr, logs, s3, sqs, events, sns = (
        client(s) for s in ("ec2", "iam", "kms", "eks", "ecr", "logs", "s3", "sqs", "events", "sns")
    )
    acm, route53, wafv2, secrets, lambda_, elbv2 = (
        client(s) for s in ("acm", "route53", "wafv2", "secretsmanager", "lambda", "elbv2")
    )
    default_vpcs = {v["VpcId"] for v in paginate(ec2, "describe_vpcs", "Vpcs") if v.get("IsDefault")}

    def outside_default(items: list[dict[str, Any]], id_key: str) -> list[str]:
        return [i[id_key] for i in items if i.get("VpcId") not in default_vpcs]

    keys = []
    # moto makes the EBS default key (alias/aws/ebs, for an encrypted volume
    # without a key) a customer key; in AWS it is AWS managed, and not ours.
    aws_managed = {a["TargetKeyId"] for a in paginate(kms, "list_aliases", "Aliases")
                   if a["AliasName"].startswith("alias/aws/") and "TargetKeyId" in a}
    for key in paginate(kms, "list_keys", "Keys"):
        meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        if key["KeyId"] in aws_managed:
            continue
        if meta["KeyManager"] == "CUSTOMER" and meta["KeyState"] != "PendingDeletion":
            keys.append(f"{key['KeyId']} ({meta['KeyState']})")
    found = {
        "ec2 vpcs": [v["VpcId"] for v in paginate(ec2, "describe_vpcs", "Vpcs") if not v.get("IsDefault")],
        "ec2 subnets": outside_default(paginate(ec2, "describe_subnets", "Subnets"), "SubnetId"),
        "ec2 route tables": outside_default(paginate(ec2, "describe_route_tables", "RouteTables"), "RouteTableId"),
        "ec2 security groups": outside_default(paginate(ec2, "describe_security_groups", "SecurityGroups"), "GroupId"),
        "ec2 internet gateways": [g["InternetGatewayId"] for g in paginate(ec2, "describe_internet_gateways", "InternetGateways")
                                  if not {a["VpcId"] for a in g.get("Attachments", [])} & default_vpcs],
        "ec2 nat gateways": [n["NatGatewayId"] for n in paginate(ec2, "describe_nat_gateways", "NatGateways")
                             if n["State"] not in ("deleted", "deleting")],
        "ec2 elastic ips": [a.get("AllocationId", a.get("PublicIp", "?")) for a in ec2.describe_addresses()["Addresses"]],
        "ec2 vpc endpoints": [e["VpcEndpointId"] for e in paginate(ec2, "describe_vpc_endpoints", "VpcEndpoints")
                              if e["State"].lower() not in ("deleted", "deleting")],
        "ec2 instances": [i["InstanceId"] for r in paginate(ec2, "describe_instances", "Reservations")
                          for i in r["Instances"] if i["State"]["Name"] not in ("terminated", "shutting-down")],
        "ec2 flow logs": [f["FlowLogId"] for f in paginate(ec2, "describe_flow_logs", "FlowLogs")],
        "ec2 launch templates": [t["LaunchTemplateName"] for t in paginate(ec2, "describe_launch_templates", "LaunchTemplates")],
        "iam roles": [r["RoleName"] for r in paginate(iam, "list_roles", "Roles")],
        "iam policies": [p["PolicyName"] for p in paginate(iam, "list_policies", "Policies", Scope="Local")],
        "iam oidc providers": [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]],
        "iam instance profiles": [p["InstanceProfileName"] for p in paginate(iam, "list_instance_profiles", "InstanceProfiles")],
        "kms keys (not pending deletion)": keys,
        "kms aliases": [a["AliasName"] for a in paginate(kms, "list_aliases", "Aliases") if not a["AliasName"].startswith("alias/aws/")],
        "eks clusters": paginate(eks, "list_clusters", "clusters"),
        "ecr repositories": [r["repositoryName"] for r in paginate(ecr, "describe_repositories", "repositories")],
        "logs log groups": [g["logGroupName"] for g in paginate(logs, "describe_log_groups", "logGroups")],
        "s3 buckets": [b["Name"] for b in s3.list_buckets().get("Buckets", []) if b["Name"] != allow_bucket],
        "sqs queues": sqs.list_queues().get("QueueUrls", []),
        "events rules": [r["Name"] for r in paginate(events, "list_rules", "Rules")],
        "sns topics": [t["TopicArn"] for t in paginate(sns, "list_topics", "Topics")],
        "logs resource policies": [p["policyName"] for p in logs.describe_resource_policies().get("resourcePolicies", [])],
        "acm certificates": [c["CertificateArn"] for c in paginate(acm, "list_certificates", "CertificateSummaryList")],
        "route53 records": zone_records(route53),
        "wafv2 web acls": [a["Name"] for a in wafv2.list_web_acls(Scope="REGIONAL")["WebACLs"]],
        "secretsmanager secrets (not scheduled for deletion)": [
            s["Name"] for s in paginate(secrets, "list_secrets", "SecretList") if not s.get("DeletedDate")
        ],
        "lambda functions": [f["FunctionName"] for f in paginate(lambda_, "list_functions", "Functions")],
        "elbv2 load balancers": [b["LoadBalancerName"] for b in paginate(elbv2, "describe_load_balancers", "LoadBalancers")],
    }
    return {kind: sorted(ids) for kind, ids in found.items()}


def cmd_inventory(client: Any, args: argparse.Namespace) -> int:
    found = inventory(client, args.allow_bucket)
    present = {kind: ids for kind, ids in found.items() if ids}
    if args.expect == "empty":
        if present:
            print("left behind in the emulator after destroy:", file=sys.stderr)
            for kind, ids in present.items():
                print(f"  {kind}: {', '.join(ids)}", file=sys.stderr)
            return 1
        print(f"emulator empty: none of {len(found)} kinds of resource left (KMS keys pending deletion count as gone)")
        return 0
    missing = [kind for kind in ("ec2 vpcs", "eks clusters") if not found[kind]]
    if missing:
        print(f"after apply the emulator holds no {' and no '.join(missing)}: wrong endpoint or region?", file=sys.stderr)
        return 1
    print("applied: " + ", ".join(f"{len(ids)} {kind}" for kind, ids in present.items()))
    return 0


def cmd_zone_create(client: Any, args: argparse.Namespace) -> int:
    route53 = client("route53")
    zone = route53.create_hosted_zone(Name=args.name, CallerReference=f"e2e-{args.name}")["HostedZone"]
    print(f"hosted zone {args.name}: created ({zone['Id']}), as the registrar's delegation would have it")
    return 0


def cmd_zone_delete(client: Any, args: argparse.Namespace) -> int:
    route53 = client("route53")
    zones = [z for z in route53.list_hosted_zones()["HostedZones"] if z["Name"].rstrip(".") == args.name]
    for zone in zones:
        route53.delete_hosted_zone(Id=zone["Id"])
    print(f"hosted zone {args.name}: {len(zones)} deleted")
    return 0


def cmd_secrets(client: Any, args: argparse.Namespace) -> int:
    """Every rotated secret holds a current value of the form the rotation
    function makes: it ran, and its value never went through terraform."""
    secrets = client("secretsmanager")
    rotated = [s for s in paginate(secrets, "list_secrets", "SecretList") if s.get("RotationEnabled")]
    if not rotated:
        print("no secret has rotation enabled after apply", file=sys.stderr)
        return 1
    for secret in rotated:
        value = secrets.get_secret_value(SecretId=secret["ARN"], VersionStage="AWSCURRENT")["SecretString"]
        if len(value) != 64 or not value.isalnum():
            print(f"{secret['Name']}: the current value is not a generated one", file=sys.stderr)
            return 1
        days = secret.get("RotationRules", {}).get("AutomaticallyAfterDays")
        print(f"{secret['Name']}: current value generated by the rotation function (64 letters and digits), "
              f"rotated every {days} days")
    return 0


def cmd_secrets_purge(client: Any, args: argparse.Namespace) -> int:
    secrets = client("secretsmanager")
    scheduled = [
        s for s in paginate(secrets, "list_secrets", "SecretList", IncludePlannedDeletion=True) if s.get("DeletedDate")
    ]
    for secret in scheduled:
        secrets.delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)
    print(f"secrets scheduled for deletion by destroy: {len(scheduled)} deleted for good before the next run")
    return 0


def cmd_bucket_create(client: Any, args: argparse.Namespace) -> int:
    s3 = client("s3")
    region = s3.meta.region_name
    create: dict[str, Any] = {"Bucket": args.bucket}
    if region != "us-east-1":
        create["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**create)
    s3.put_bucket_versioning(Bucket=args.bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=args.bucket,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
    )
    s3.put_public_access_block(
        Bucket=args.bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
        },
    )
    status = s3.get_bucket_versioning(Bucket=args.bucket).get("Status")
    if status != "Enabled":
        print(f"state bucket {args.bucket}: versioning is {status!r} after enabling it", file=sys.stderr)
        return 1
    print(f"state bucket {args.bucket}: created in {region}, versioning enabled, AES256 by default, public access blocked")
    return 0


def cmd_bucket_delete(client: Any, args: argparse.Namespace) -> int:
    s3 = client("s3")
    removed = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=args.bucket):
        for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=args.bucket, Key=version["Key"], VersionId=version["VersionId"])
            removed += 1
    s3.delete_bucket(Bucket=args.bucket)
    print(f"state bucket {args.bucket}: {removed} object versions and delete markers removed one by one, bucket deleted")
    return 0


def cmd_lock(client: Any, args: argparse.Namespace) -> int:
    """Terraform's S3 lock file (use_lockfile) is the object KEY.tflock."""
    s3 = client("s3")
    lock_key = f"{args.key}.tflock"
    try:
        body = s3.get_object(Bucket=args.bucket, Key=lock_key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        if args.expect == "held":
            print(f"no lock object s3://{args.bucket}/{lock_key} while terraform should hold it", file=sys.stderr)
            return 1
        print(f"lock s3://{args.bucket}/{lock_key} released")
        return 0
    info = json.loads(body)
    held = f"lock s3://{args.bucket}/{lock_key} held: ID {info.get('ID')}, operation {info.get('Operation')}, by {info.get('Who')}"
    if args.expect == "released":
        print(f"{held}, but should be released", file=sys.stderr)
        return 1
    print(held)
    return 0


def cmd_state_versions(client: Any, args: argparse.Namespace) -> int:
    versions = [
        v for v in paginate(client("s3"), "list_object_versions", "Versions", Bucket=args.bucket, Prefix=args.key)
        if v["Key"] == args.key
    ]
    if len(versions) < args.min:
        print(f"s3://{args.bucket}/{args.key}: {len(versions)} versions, expected at least {args.min}", file=sys.stderr)
        return 1
    print(f"s3://{args.bucket}/{args.key}: {len(versions)} state versions kept by bucket versioning")
    return 0


def cmd_balancer_create(client: Any, args: argparse.Namespace) -> int:
    """An ALB as the AWS Load Balancer Controller makes one for an Ingress:
    in the public subnets it discovers by their role tag, with its tags."""
    ec2, elbv2 = client("ec2"), client("elbv2")
    subnets = [s["SubnetId"] for s in paginate(
        ec2, "describe_subnets", "Subnets", Filters=[{"Name": "tag-key", "Values": ["kubernetes.io/role/elb"]}],
    )]
    if not subnets:
        print("no subnet tagged kubernetes.io/role/elb to put a load balancer in", file=sys.stderr)
        return 1
    tags = json.loads(args.tags)
    balancer = elbv2.create_load_balancer(
        Name=args.name, Subnets=subnets, Scheme="internet-facing", Type="application",
        Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
    )["LoadBalancers"][0]
    print(f"load balancer {args.name}: {balancer['DNSName']} in {len(subnets)} public subnets, tagged "
          + ", ".join(f"{k}={v}" for k, v in sorted(tags.items())) + " (as the controller would)")
    return 0


def cmd_balancer_delete(client: Any, args: argparse.Namespace) -> int:
    elbv2 = client("elbv2")
    arns = [b["LoadBalancerArn"] for b in paginate(elbv2, "describe_load_balancers", "LoadBalancers")
            if b["LoadBalancerName"] == args.name]
    for arn in arns:
        elbv2.delete_load_balancer(LoadBalancerArn=arn)
    print(f"load balancer {args.name}: {len(arns)} deleted (as the controller would, with the service)")
    return 0


def cmd_repository_create(client: Any, args: argparse.Namespace) -> int:
    repo = client("ecr").create_repository(
        repositoryName=args.name,
        imageTagMutability="IMMUTABLE",
        imageScanningConfiguration={"scanOnPush": True},
        encryptionConfiguration={"encryptionType": "KMS"},
    )["repository"]
    print(f"{repo['createdAt'].timestamp()}")
    return 0


def cmd_repository_adopted(client: Any, args: argparse.Namespace) -> int:
    ecr = client("ecr")
    repos = ecr.describe_repositories(repositoryNames=[args.name])["repositories"]
    created = repos[0]["createdAt"].timestamp()
    if abs(created - args.created_at) > 0.001:
        print(f"repository {args.name} was created at {created}, not at {args.created_at}: "
              "terraform replaced it instead of adopting it", file=sys.stderr)
        return 1
    tags = {t["Key"]: t["Value"] for t in ecr.list_tags_for_resource(resourceArn=repos[0]["repositoryArn"])["tags"]}
    key, _, value = args.tag.partition("=")
    if tags.get(key) != value:
        print(f"repository {args.name} has tags {tags}, not {key}={value}: terraform does not manage it", file=sys.stderr)
        return 1
    print(f"repository {args.name}: the one created before the apply (createdAt {created}), now tagged {key}={value}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="emulator endpoint, http://127.0.0.1:PORT")
    parser.add_argument("region")
    sub = parser.add_subparsers(dest="command", required=True)
    inv = sub.add_parser("inventory")
    inv.add_argument("--expect", choices=("applied", "empty"), required=True)
    inv.add_argument("--allow-bucket", help="a bucket that may remain (the state bucket)")
    inv.set_defaults(run=cmd_inventory)
    for name, run in (("bucket-create", cmd_bucket_create), ("bucket-delete", cmd_bucket_delete)):
        p = sub.add_parser(name)
        p.add_argument("bucket")
        p.set_defaults(run=run)
    lock = sub.add_parser("lock")
    lock.add_argument("bucket")
    lock.add_argument("key")
    lock.add_argument("--expect", choices=("held", "released"), required=True)
    lock.set_defaults(run=cmd_lock)
    ver = sub.add_parser("state-versions")
    ver.add_argument("bucket")
    ver.add_argument("key")
    ver.add_argument("--min", type=int, required=True)
    ver.set_defaults(run=cmd_state_versions)
    create = sub.add_parser("repository-create")
    create.add_argument("name")
    create.set_defaults(run=cmd_repository_create)
    adopted = sub.add_parser("repository-adopted")
    adopted.add_argument("name")
    adopted.add_argument("--created-at", type=float, required=True)
    adopted.add_argument("--tag", required=True, help="KEY=VALUE the stacks set")
    adopted.set_defaults(run=cmd_repository_adopted)

    balancer = sub.add_parser("balancer-create")
    balancer.add_argument("name")
    balancer.add_argument("--tags", required=True, help="the controller's tags, as a JSON object")
    balancer.set_defaults(run=cmd_balancer_create)
    for name, run in (("zone-create", cmd_zone_create), ("zone-delete", cmd_zone_delete),
                      ("balancer-delete", cmd_balancer_delete)):
        p = sub.add_parser(name)
        p.add_argument("name")
        p.set_defaults(run=run)
    sec = sub.add_parser("secrets")
    sec.add_argument("--expect", choices=("rotated",), required=True)
    sec.set_defaults(run=cmd_secrets)
    sub.add_parser("secrets-purge").set_defaults(run=cmd_secrets_purge)
    args = parser.parse_args()
    if not args.url.startswith(("http://127.0.0.1:", "http://localhost:")):
        parser.error(f"{args.url}: the emulator must be on loopback")
    return args.run(clients(args.url, args.region), args)


if __name__ == "__main__":
    sys.exit(main())
