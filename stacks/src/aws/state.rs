//! Where an environment's terraform state lives, decided in one place: the
//! backend block synth writes, and the state object the CI deployer's policy
//! grants, both come from here.

use synth::Backend;

use super::iam::Statement;
use super::provider::Partition;
use crate::config::Environment;

/// The state file of the local backend, inside the output directory.
pub fn local_state_file(env: &str) -> String {
    format!("terraform.{env}.tfstate")
}

/// The state object's key in the S3 bucket.
pub fn state_key(env: &str) -> String {
    format!("{env}/terraform.tfstate")
}

/// The environment's backend: a local file by default, or with a bucket the
/// S3 backend (encrypted, locked with a lock file beside the state).
///
/// Backend arguments are named by string: a backend is terraform's own block,
/// described by no provider schema, so there is no typed builder for it
/// (terraform checks them at `init`).
pub fn backend(env: &Environment, bucket: Option<&str>) -> Backend {
    match bucket {
        None => Backend::local(&local_state_file(&env.name)),
        Some(bucket) => Backend::new("s3")
            .set("bucket", bucket)
            .set("key", state_key(&env.name))
            .set("region", env.config.region.as_str())
            .set("encrypt", true)
            .set("use_lockfile", true),
    }
}

/// This environment's state object and its lock file (`use_lockfile`), nothing
/// else in the bucket.
pub fn deployer_statements(partition: &Partition, bucket: &str, env: &str) -> Vec<Statement> {
    let bucket_arn = format!("arn:{}:s3:::{bucket}", partition.name);
    let state = format!("{bucket_arn}/{}", state_key(env));
    vec![
        Statement::allow(["s3:ListBucket"])
            .sid("ListOwnState")
            .on([bucket_arn.clone()])
            .condition("StringLike", "s3:prefix", format!("{env}/*")),
        Statement::allow(["s3:GetObject", "s3:PutObject"])
            .sid("ReadWriteState")
            .on([state.clone()]),
        Statement::allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
            .sid("StateLock")
            .on([format!("{state}.tflock")]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deployer_may_touch_exactly_the_state_the_backend_uses() {
        let statements: Vec<String> =
            deployer_statements(&Partition::of("eu-west-1"), "bucket", "staging")
                .iter()
                .map(|s| format!("{s:?}"))
                .collect();
        let key = state_key("staging");
        assert!(statements
            .iter()
            .any(|s| s.contains(&format!("arn:aws:s3:::bucket/{key}\""))));
        assert!(statements
            .iter()
            .any(|s| s.contains(&format!("arn:aws:s3:::bucket/{key}.tflock"))));
    }
}
