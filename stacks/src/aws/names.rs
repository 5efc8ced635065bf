//! Names and tags: every resource of an environment is named from one
//! prefix and carries the same tags.

use std::collections::BTreeMap;

use crate::config::Environment;

/// `ManagedBy` tag value.
pub const MANAGED_BY: &str = "terraform-infra";

/// Resource names of one environment, all derived from its `name_prefix`.
#[derive(Debug, Clone)]
pub struct Names {
    prefix: String,
}

impl Names {
    pub fn new(env: &Environment) -> Self {
        Self {
            prefix: env.config.name_prefix.clone(),
        }
    }

    /// `<prefix>-<suffix>`.
    pub fn name(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.prefix)
    }

    /// The EKS cluster's name: the prefix itself, since there is one per environment.
    pub fn cluster(&self) -> String {
        self.prefix.clone()
    }

    /// The tag that marks subnets as belonging to the cluster (load balancer discovery).
    pub fn cluster_tag_key(&self) -> String {
        format!("kubernetes.io/cluster/{}", self.cluster())
    }
}

/// The tags every taggable resource carries, through the provider's `default_tags`.
pub fn default_tags(env: &Environment) -> BTreeMap<String, String> {
    let mut tags = env.config.tags.clone();
    tags.insert("Project".into(), env.config.project.clone());
    tags.insert("Environment".into(), env.name.clone());
    tags.insert("ManagedBy".into(), MANAGED_BY.into());
    tags
}

/// `{ Name = <name> }` plus any extra tags, for a resource's own `tags`: a
/// plain map, so it goes to a typed `tags` setter (`map(string)`) as well as
/// to `Resource::set`.
pub fn name_tags<'a>(
    name: &str,
    extra: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> BTreeMap<String, String> {
    let mut tags: BTreeMap<String, String> = extra
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    tags.insert("Name".into(), name.to_owned());
    tags
}
