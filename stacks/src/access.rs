//! The access component: people's access to the cluster besides the
//! administrators, per team and namespace. Each team of `[access]` gets an
//! IAM role (assumable from the account with MFA, like the admin role) and an
//! EKS access entry whose access policy (`view` or `edit`) is scoped to the
//! team's namespaces: nobody here is given cluster-admin, and a `view` team
//! cannot read Secrets.

use bindings::aws::eks_access_policy_association::AccessScope;
use synth::App;

use crate::aws::{inline_policy, policy, role, Names, Partition, Statement};
use crate::config::Environment;
use crate::eks::{AccessEntry, Eks};
use crate::network::Network;
use crate::Layer;

/// The role of each team (iam stack) and its access entry (eks stack).
pub fn teams(app: &mut App, env: &Environment, network: &Network, eks: &Eks) {
    let names = Names::new(env);
    let partition = Partition::of(&env.config.region);
    for team in &env.config.access.teams {
        let id = format!("team_{}", team.name.replace('-', "_"));
        let role_name = names.name(&format!("team-{}", team.name));
        let iam = Layer::Iam.of(app);
        let team_role = role(
            iam,
            &id,
            &role_name,
            policy([Statement::allow(["sts:AssumeRole"])
                .principal("AWS", partition.account_root(&network.account_id))
                .condition("Bool", "aws:MultiFactorAuthPresent", "true")]),
        );
        // Enough to write a kubeconfig; what it may do inside is the access entry's.
        inline_policy(
            iam,
            &id,
            "reach-cluster",
            &team_role,
            [Statement::allow(["eks:DescribeCluster"]).on([eks.cluster_arn.clone()])],
        );
        AccessEntry {
            id: &id,
            principal_arn: team_role.arn(),
            policy: team.level.access_policy(),
            scope: AccessScope::new("namespace").namespaces(team.namespaces.clone()),
        }
        .add(Layer::Eks.of(app), &eks.cluster_name, &names, &partition);
    }
}
