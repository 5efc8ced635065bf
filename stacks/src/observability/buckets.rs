//! Where Loki keeps logs: a chunks bucket and a ruler bucket, encrypted with
//! a key of their own, closed to the public, reachable over TLS only, and
//! expired after the environment's retention; the IRSA role Loki's pods
//! assume, allowed exactly these buckets and this key; and the read access
//! the CI deployer needs to refresh them.

use bindings::aws::kms_key::KmsKeyRef;
use bindings::aws::s3_bucket::{S3Bucket, S3BucketRef};
use bindings::aws::s3_bucket_lifecycle_configuration::{
    self as lifecycle, AbortIncompleteMultipartUpload, Expiration, Filter,
    NoncurrentVersionExpiration, S3BucketLifecycleConfiguration,
};
use bindings::aws::s3_bucket_ownership_controls::{self as ownership, S3BucketOwnershipControls};
use bindings::aws::s3_bucket_policy::S3BucketPolicy;
use bindings::aws::s3_bucket_public_access_block::S3BucketPublicAccessBlock;
use bindings::aws::s3_bucket_server_side_encryption_configuration::{
    self as sse, ApplyServerSideEncryptionByDefault, S3BucketServerSideEncryptionConfiguration,
};
use bindings::aws::s3_bucket_versioning::{S3BucketVersioning, VersioningConfiguration};
use bindings::prelude::*;
use synth::{App, Expr, Stack};

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
    pub role_arn: Value<ty::String>,
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
    let bucket_arns = [Expr::from(chunks.arn()), Expr::from(ruler.arn())];
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
                .on([key.arn()]),
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
        chunks: chunks.bucket().into(),
        ruler: ruler.bucket().into(),
        role_arn: role.arn(),
    }
}

/// A bucket named `<prefix>-<purpose>-<account>` (bucket names are global;
/// the account makes it unique), with its protections beside it.
fn bucket(
    stack: &mut Stack,
    env: &Environment,
    names: &Names,
    network: &Network,
    key: &KmsKeyRef,
    spec: &BucketSpec<'_>,
) -> S3BucketRef {
    let name = names.name(spec.purpose);
    let id = spec.id;
    let bucket = stack.add(
        S3Bucket::new(id)
            .bucket(Value::template([
                Expr::from(format!("{name}-")),
                Expr::from(&network.account_id),
            ]))
            .force_destroy(env.config.observability.logs.force_destroy_buckets)
            .tags(name_tags(&name, [])),
    );
    let bucket_id = bucket.id();
    stack.add(
        S3BucketPublicAccessBlock::new(id, &bucket_id)
            .block_public_acls(true)
            .block_public_policy(true)
            .ignore_public_acls(true)
            .restrict_public_buckets(true),
    );
    // No ACLs: the bucket policy and IAM alone decide access.
    stack.add(S3BucketOwnershipControls::new(
        id,
        &bucket_id,
        ownership::Rule::new("BucketOwnerEnforced"),
    ));
    stack.add(S3BucketServerSideEncryptionConfiguration::new(
        id,
        &bucket_id,
        vec![sse::Rule::new()
            .apply_server_side_encryption_by_default(
                ApplyServerSideEncryptionByDefault::new("aws:kms").kms_master_key_id(key.arn()),
            )
            // One data key per bucket rather than a KMS call per object.
            .bucket_key_enabled(true)],
    ));
    // Versions undo an accidental overwrite or deletion; the lifecycle
    // rule below removes old ones.
    let versioning = stack.add(S3BucketVersioning::new(
        id,
        &bucket_id,
        VersioningConfiguration::new("Enabled"),
    ));
    let bucket_arn = bucket.arn();
    let tls_only = Statement::deny(["s3:*"])
        .sid("TlsOnly")
        .principal("AWS", "*")
        .on([
            Expr::from(&bucket_arn),
            Expr::template([Expr::from(&bucket_arn), Expr::from("/*")]),
        ])
        .condition("Bool", "aws:SecureTransport", "false");
    stack.add(S3BucketPolicy::new(
        id,
        &bucket_id,
        crate::aws::policy([tls_only]),
    ));
    let mut rule = lifecycle::Rule::new("expire", "Enabled")
        // Every object of the bucket.
        .filter(Filter::new())
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::new().days_after_initiation(ABORT_UPLOADS_DAYS),
        )
        .noncurrent_version_expiration(NoncurrentVersionExpiration::new(spec.noncurrent_days));
    if let Some(days) = spec.expire_days {
        rule = rule.expiration(Expiration::new().days(days));
    }
    stack.add(
        S3BucketLifecycleConfiguration::new(id, bucket_id)
            .rule(vec![rule])
            // S3 rejects a lifecycle rule on noncurrent versions before
            // versioning is configured.
            .depends_on(&versioning),
    );
    bucket
}
