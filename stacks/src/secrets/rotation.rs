//! The rotation Lambda of the generated secrets: its code (stacks/lambda/,
//! packaged at synth time), a role allowed exactly the calls a rotation
//! makes on these secrets and their key, its own encrypted log group, and a
//! rotation schedule per generated secret. The first rotation runs as soon
//! as the schedule is set, which is how each secret gets its first value.

use bindings::aws::cloudwatch_log_group::CloudwatchLogGroup;
use bindings::aws::lambda_function::{LambdaFunction, TracingConfig};
use bindings::aws::lambda_permission::LambdaPermission;
use bindings::aws::secretsmanager_secret::SecretsmanagerSecretRef;
use bindings::aws::secretsmanager_secret_rotation::{RotationRules, SecretsmanagerSecretRotation};
use bindings::prelude::*;
use synth::{Expr, Stack};

use super::package::zip;
use crate::aws::{inline_policy, name_tags, role, service_trust, Names, Partition, Statement};
use crate::config::Environment;

/// The function's source, reviewed and tested beside its component
/// (stacks/lambda/test_secret_rotation.py).
const SOURCE: &[u8] = include_bytes!("../../lambda/secret_rotation.py");

/// Where the package lands inside the module.
pub const PACKAGE_DIR: &str = "lambda";
const PACKAGE_FILE: &str = "secret-rotation.zip";

/// Rotations of several secrets may overlap; more would only mean a fault.
const CONCURRENCY: u32 = 2;

/// The key and secrets a rotation works on.
pub(super) struct Rotated<'a> {
    pub key_arn: &'a Value<ty::String>,
    /// The key of the environment's log groups.
    pub logs_key_arn: &'a Value<ty::String>,
    /// `(name, secret)` of each generated secret.
    pub secrets: &'a [(&'a str, SecretsmanagerSecretRef)],
}

/// The function, its role and log group, and the schedule of each secret.
pub(super) fn rotation(stack: &mut Stack, env: &Environment, rotated: &Rotated<'_>) {
    let names = Names::new(env);
    let partition = Partition::of(&env.config.region);
    let function_name = names.name("secret-rotation");
    let package = stack.asset_files(
        PACKAGE_DIR,
        vec![(
            PACKAGE_FILE.to_owned(),
            zip(&[("secret_rotation.py", SOURCE)]),
        )],
    );
    let package_path = Value::template([
        Expr::raw("path.module"),
        Expr::from(format!("/{}/{PACKAGE_FILE}", package.path.display())),
    ]);

    // Created before the function, so Lambda writes into a group with our
    // retention and key rather than making one of its own.
    let log_group = stack.add(
        CloudwatchLogGroup::new("secret_rotation")
            .name(format!("/aws/lambda/{function_name}"))
            .retention_in_days(env.config.logs.retention_days)
            .kms_key_id(rotated.logs_key_arn)
            .tags(name_tags(&function_name, [])),
    );

    let arns: Vec<Value<ty::String>> = rotated.secrets.iter().map(|(_, s)| s.arn()).collect();
    let function_role = role(
        stack,
        "secret_rotation",
        &function_name,
        service_trust(&partition, "lambda"),
    );
    let permissions = inline_policy(
        stack,
        "secret_rotation",
        "rotate-generated-secrets",
        &function_role,
        [
            Statement::allow([
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecretVersionStage",
            ])
            .sid("RotateTheseSecrets")
            .on(arns.clone()),
            // GetRandomPassword acts on no resource.
            Statement::allow(["secretsmanager:GetRandomPassword"])
                .sid("GenerateValues")
                .on(["*"]),
            super::key_use(
                ["kms:Decrypt", "kms:GenerateDataKey"],
                rotated.key_arn,
                &partition,
                &arns,
            )
            .sid("EncryptTheseSecrets"),
            Statement::allow(["logs:CreateLogStream", "logs:PutLogEvents"])
                .sid("WriteOwnLog")
                .on([Value::template([
                    Expr::from(log_group.arn()),
                    Expr::from(":*"),
                ])]),
            // X-Ray takes no resource ARNs.
            Statement::allow(["xray:PutTraceSegments", "xray:PutTelemetryRecords"])
                .sid("Trace")
                .on(["*"]),
        ],
    );

    let function = stack.add(
        LambdaFunction::new("secret_rotation", &function_name, function_role.arn())
            .description("Rotates the service's generated secrets in Secrets Manager")
            .runtime("python3.12")
            .handler("secret_rotation.handler")
            .filename(&package_path)
            // A function call: its result, a base64 string, is what the
            // attribute takes.
            .source_code_hash(Value::assume(Expr::call(
                "filebase64sha256",
                [package_path],
            )))
            .timeout(30)
            .memory_size(128)
            .reserved_concurrent_executions(CONCURRENCY)
            .tracing_config(TracingConfig::new("Active"))
            .tags(name_tags(&function_name, []))
            .depends_on(&log_group)
            .depends_on(&permissions),
    );

    for (name, secret) in rotated.secrets {
        let id = format!("secret_rotation_{}", name.to_ascii_lowercase());
        // Secrets Manager may call the function for this secret only.
        let invoke = stack.add(
            LambdaPermission::new(
                &id,
                "lambda:InvokeFunction",
                function.function_name(),
                partition.service("secretsmanager"),
            )
            .statement_id(format!(
                "rotate-{}",
                name.to_ascii_lowercase().replace('_', "-")
            ))
            .source_arn(secret.arn()),
        );
        stack.add(
            SecretsmanagerSecretRotation::new(
                &id,
                RotationRules::new().automatically_after_days(env.config.secrets.rotation_days),
                secret.id(),
            )
            .rotation_lambda_arn(function.arn())
            .depends_on(&invoke),
        );
    }
}
