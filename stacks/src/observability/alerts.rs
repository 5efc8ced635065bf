//! Where alerts go: an SNS topic per environment that Alertmanager publishes
//! to, through an IRSA role allowed that topic only. People subscribe to
//! the topic (e-mail, AWS Chatbot to Slack or Teams, a paging service's HTTPS
//! endpoint); no webhook URL or token lives in the values or the state.

use bindings::aws::sns_topic::SnsTopic;
use bindings::prelude::*;
use synth::{App, Expr};

use crate::aws::{inline_policy, name_tags, Irsa, Names, Statement};
use crate::config::Environment;
use crate::iam::{deployer_refresh, ClusterIam};
use crate::Layer;

/// Alertmanager's Kubernetes service account; its IRSA role trusts exactly it.
pub const SERVICE_ACCOUNT: &str = "alertmanager";

/// The topic and the role, as Alertmanager's values need them (expressions:
/// they go to chart values, not to schema setters).
#[derive(Debug, Clone)]
pub struct AlertTopic {
    pub arn: Expr,
    pub role_arn: Value<ty::String>,
}

pub fn alert_topic(
    app: &mut App,
    env: &Environment,
    cluster_iam: &ClusterIam,
    irsa: &Irsa,
) -> AlertTopic {
    let names = Names::new(env);
    let name = names.name("alerts");
    let eks = Layer::Eks.of(app);
    let topic = eks.add(
        SnsTopic::new("alerts")
            .name(&name)
            .display_name(format!("Alerts of {}", names.cluster()))
            // Encrypted at rest with the account's SNS key: subscribers need no
            // KMS permissions of ours.
            .kms_master_key_id("alias/aws/sns")
            .tags(name_tags(&name, [])),
    );
    let arn = eks.export(
        "alerts_topic_arn",
        topic.arn().into(),
        "SNS topic Alertmanager publishes alerts to: subscribe e-mail, chat or paging to it.",
    );

    let iam = Layer::Iam.of(app);
    let namespace = &env.config.observability.namespace;
    let role = irsa.role(
        iam,
        "alertmanager",
        &names.name("alertmanager"),
        namespace,
        SERVICE_ACCOUNT,
    );
    inline_policy(
        iam,
        "alertmanager",
        "publish-alerts",
        &role,
        [Statement::allow(["sns:Publish"])
            .sid("PublishAlerts")
            .on([arn.clone()])],
    );
    deployer_refresh(
        iam,
        env,
        cluster_iam,
        "alerts_topic",
        "refresh-alerts-topic",
        [
            Statement::allow(["sns:GetTopicAttributes", "sns:ListTagsForResource"])
                .sid("RefreshAlertsTopic")
                .on([arn.clone()]),
        ],
    );
    AlertTopic {
        arn,
        role_arn: role.arn(),
    }
}
