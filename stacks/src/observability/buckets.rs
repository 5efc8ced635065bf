//! Where Loki keeps logs: a chunks bucket and a ruler bucket, encrypted with
//! a key of their own, closed to the public, reachable over TLS only, and
//! expired after the environment's retention; the IRSA role Loki's pods
//! assume, allowed exactly these buckets and this key; and the read access
//! the CI deployer needs to refresh them.

use synth::{App, Expr, Handle, Stack};

use crate::aws::{inline_policy, kms_key, name_tags, Irsa, Names, Partition, Statement};
use crate::config::Environment;
use crate::iam::{deployer_refresh, ClusterIam};
use crate::network::Network;
use crate::Layer;

/// Loki's Kubernetes service account; its IRSA role trusts exactly it.
pub const SERVICE_ACCOUNT: &str = "loki";

/// Days an incomplete multipart upload may linger before S3 removes it.
const ABORT_UPLOADS_DAYS: u32 = 1;
/// Days an overwritten or deleted object version is kept: chunks are
/// immutable and deleted by Loki's compactor, rules are small and edited
/// by hand, so a mistake in them can be undone for a month.
const CHUNKS_NONCURRENT_DAYS: u32 = 1;
const RULER_NONCURRENT_DAYS: u32 = 30;

/// The buckets and the role, as Loki's values need them.
#[derive(Debug, Clone)]
pub struct LogBuckets {
    pub chunks: Expr,
    pub ruler: Expr,
    pub role_arn: Expr,
}

/// One bucket: which data it holds and how long S3 keeps it.
struct BucketSpec<'a> {
    id: &'a str,
    purpose: &'a str,
    /// Days after which current objects expire; `None` keeps them.
    expire_days: Option<u32>,
    noncurrent_days: u32,
}

pub fn log_buckets(
    app: &mut App,
    env: &Environment,
    network: &Network,
    cluster_iam: &ClusterIam,
    irsa: &Irsa,
) -> LogBuckets {
    let names = Names::new(env);
    let partition = Partition::of(&env.config.region);
    let logs = &env.config.observability.logs;

    let iam = Layer::Iam.of(app);
    let key = kms_key(
        iam,
        &names,
        "loki",
        &format!("Logs of {} stored by Loki in S3", names.cluster()),
        partition.account_root(&network.account_id),
        Vec::new(),
    );

    // The chunks expire a day after Loki's own retention deletes them from
    // its index: S3 removes what the compactor missed, never what Loki can
    // still be asked for. Rules are configuration: they do not expire.
    let specs = [
        BucketSpec {
            id: "loki_chunks",
            purpose: "loki-chunks",
            expire_days: Some(logs.retention_days + 1),
            noncurrent_days: CHUNKS_NONCURRENT_DAYS,
        },
        BucketSpec {
            id: "loki_ruler",
            purpose: "loki-ruler",
            expire_days: None,
            noncurrent_days: RULER_NONCURRENT_DAYS,
        },
    ];
    let eks = Layer::Eks.of(app);
    let [chunks, ruler] = specs.map(|spec| bucket(eks, env, &names, network, &key, &spec));

    let iam = Layer::Iam.of(app);
    let namespace = &env.config.observability.namespace;
    let role = irsa.role(iam, "loki", &names.name("loki"), namespace, SERVICE_ACCOUNT);
    let bucket_arns = [chunks.attr("arn"), ruler.attr("arn")];
    let objects = bucket_arns
        .iter()
        .map(|arn| Expr::template([arn.clone(), Expr::from("/*")]));
    inline_policy(
        iam,
        "loki",
        "read-write-log-buckets",
        &role,
        [
            Statement::allow(["s3:ListBucket", "s3:GetBucketLocation"])
                .sid("ListLogBuckets")
                .on(bucket_arns.clone()),
            Statement::allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
                .sid("ReadWriteLogObjects")
                .on(objects),
            Statement::allow(["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"])
                .sid("UseLogKey")
                .on([key.attr("arn")]),
        ],
    );
    // The deployer may read how the buckets are configured, never their
    // content.
    deployer_refresh(
        iam,
        env,
        cluster_iam,
        "log_buckets",
        "refresh-log-buckets",
        [Statement::allow([
            "s3:GetAccelerateConfiguration",
            "s3:GetBucket*",
            "s3:GetEncryptionConfiguration",
            "s3:GetLifecycleConfiguration",
            "s3:GetReplicationConfiguration",
            "s3:ListBucket",
        ])
        .sid("RefreshLogBuckets")
        .on(bucket_arns)],
    );

    LogBuckets {
        chunks: chunks.attr("bucket"),
        ruler: ruler.attr("bucket"),
        role_arn: role.attr("arn"),
    }
}

/// A bucket named `<prefix>-<purpose>-<account>` (bucket names are global;
/// the account makes it unique), with its protections beside it.
fn bucket(
    stack: &mut Stack,
    env: &Environment,
    names: &Names,
    network: &Network,
    key: &Handle,
    spec: &BucketSpec<'_>,
) -> Handle {
    let name = names.name(spec.purpose);
    let id = spec.id;
    let bucket = stack
        .resource("aws_s3_bucket", id)
        .set(
            "bucket",
            Expr::template([Expr::from(format!("{name}-")), network.account_id.clone()]),
        )
        .set(
            "force_destroy",
            env.config.observability.logs.force_destroy_buckets,
        )
        .set("tags", name_tags(&name, []))
        .handle();
    let bucket_id = bucket.attr("id");
    stack
        .resource("aws_s3_bucket_public_access_block", id)
        .set("bucket", bucket_id.clone())
        .set("block_public_acls", true)
        .set("block_public_policy", true)
        .set("ignore_public_acls", true)
        .set("restrict_public_buckets", true);
    // No ACLs: the bucket policy and IAM alone decide access.
    stack
        .resource("aws_s3_bucket_ownership_controls", id)
        .set("bucket", bucket_id.clone())
        .set(
            "rule",
            Expr::object([("object_ownership", "BucketOwnerEnforced")]),
        );
    stack
        .resource("aws_s3_bucket_server_side_encryption_configuration", id)
        .set("bucket", bucket_id.clone())
        .set(
            "rule",
            Expr::list([Expr::object([
                (
                    "apply_server_side_encryption_by_default",
                    Expr::object([
                        ("sse_algorithm", Expr::from("aws:kms")),
                        ("kms_master_key_id", key.attr("arn")),
                    ]),
                ),
                // One data key per bucket rather than a KMS call per object.
                ("bucket_key_enabled", Expr::from(true)),
            ])]),
        );
    // Versions undo an accidental overwrite or deletion; the lifecycle
    // rule below removes old ones.
    let versioning = stack
        .resource("aws_s3_bucket_versioning", id)
        .set("bucket", bucket_id.clone())
        .set(
            "versioning_configuration",
            Expr::object([("status", "Enabled")]),
        )
        .handle();
    let bucket_arn = bucket.attr("arn");
    stack
        .resource("aws_s3_bucket_policy", id)
        .set("bucket", bucket_id.clone())
        .set(
            "policy",
            crate::aws::policy([Statement::deny(["s3:*"])
                .sid("TlsOnly")
                .principal("AWS", "*")
                .on([
                    bucket_arn.clone(),
                    Expr::template([bucket_arn, Expr::from("/*")]),
                ])
                .condition("Bool", "aws:SecureTransport", "false")]),
        );
    let mut rule = vec![
        ("id", Expr::from("expire")),
        ("status", Expr::from("Enabled")),
        // Every object of the bucket.
        ("filter", Expr::object::<&str, Expr>([])),
        (
            "abort_incomplete_multipart_upload",
            Expr::object([("days_after_initiation", ABORT_UPLOADS_DAYS)]),
        ),
        (
            "noncurrent_version_expiration",
            Expr::object([("noncurrent_days", spec.noncurrent_days)]),
        ),
    ];
    if let Some(days) = spec.expire_days {
        rule.push(("expiration", Expr::object([("days", days)])));
    }
    stack
        .resource("aws_s3_bucket_lifecycle_configuration", id)
        .set("bucket", bucket_id)
        .set("rule", Expr::list([Expr::object(rule)]))
        // S3 rejects a lifecycle rule on noncurrent versions before
        // versioning is configured.
        .depends_on(&versioning);
    bucket
}
