//! The `[network]` section: the VPC block, its AZs and the subnet layout,
//! worked out and checked here so a subnet that does not fit fails before
//! terraform runs.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::check::{Scope, Section};
use super::cidr::Ipv4Cidr;
use super::Config;

/// Subnet sizes used when the config gives neither explicit subnets nor a prefix.
const DEFAULT_PRIVATE_SUBNET_PREFIX: u8 = 20;
const DEFAULT_PUBLIC_SUBNET_PREFIX: u8 = 24;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    pub vpc_cidr: Ipv4Cidr,
    /// Availability zones by name (`eu-west-1a`): explicit rather than looked
    /// up at plan time, so the subnet layout is known and checked at synth time
    /// and does not move when AWS adds a zone.
    pub azs: Vec<String>,
    /// Explicit private subnets, one per AZ in `azs` order (terraform-aws-modules/vpc style).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_subnets: Option<Vec<Ipv4Cidr>>,
    /// Explicit public subnets, one per AZ in `azs` order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_subnets: Option<Vec<Ipv4Cidr>>,
    /// Prefix length of computed private subnets (default /20), carved from the start of the VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_subnet_prefix: Option<u8>,
    /// Prefix length of computed public subnets (default /24), carved from the end of the VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_subnet_prefix: Option<u8>,
    pub nat_gateway: NatGatewayMode,
}

/// How private subnets reach the internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NatGatewayMode {
    /// A NAT gateway in every AZ: an AZ outage does not cut the others off,
    /// and no cross-AZ data charges.
    OnePerAz,
    /// One NAT gateway for all AZs: cheaper, for environments that can lose egress.
    Single,
}

/// The public and private subnet of one availability zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzSubnets {
    /// Full AZ name, `eu-west-1a`.
    pub az: String,
    /// The AZ's letter, `a`: short and stable, used in resource names.
    pub suffix: String,
    pub public: Ipv4Cidr,
    pub private: Ipv4Cidr,
}

impl Section for NetworkConfig {
    const KEY: &'static str = "network";
    /// Subnets per AZ, in `azs` order; empty when the layout has problems.
    type Checked = Vec<AzSubnets>;

    fn check(&self, config: &Config, at: &mut Scope<'_>) -> Vec<AzSubnets> {
        let vpc = self.vpc_cidr;
        if !(16..=28).contains(&vpc.prefix()) {
            at.problem(
                "vpc_cidr",
                format!("{vpc}: a VPC block must be between /16 and /28"),
            );
            return Vec::new();
        }
        let azs = self.azs(&config.region, at);
        if let Some(message) = self.too_small_for_default_subnets(azs.len()) {
            at.problem("vpc_cidr", message);
            return Vec::new();
        }
        let private = self.tier(Tier::Private, azs.len(), at);
        let public = self.tier(Tier::Public, azs.len(), at);
        let (Some(private), Some(public)) = (private, public) else {
            return Vec::new();
        };
        let all: Vec<(String, Ipv4Cidr)> = private
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("private_subnets[{i}]"), *c))
            .chain(
                public
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (format!("public_subnets[{i}]"), *c)),
            )
            .collect();
        let mut clean = true;
        for (i, (name, cidr)) in all.iter().enumerate() {
            for (other, other_cidr) in &all[..i] {
                if cidr.overlaps(other_cidr) {
                    clean = false;
                    at.problem(
                        name,
                        format!("{cidr} overlaps network.{other} ({other_cidr})"),
                    );
                }
            }
        }
        if !clean {
            return Vec::new();
        }
        azs.into_iter()
            .zip(private.into_iter().zip(public))
            .map(|((az, suffix), (private, public))| AzSubnets {
                az,
                suffix,
                public,
                private,
            })
            .collect()
    }
}

/// Public or private subnets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tier {
    Public,
    Private,
}

impl NetworkConfig {
    /// When the file sets no subnets or sizes, a VPC too small for the
    /// default layout is the VPC's problem, not that of a prefix field the
    /// file never sets: says so, and what size would fit.
    fn too_small_for_default_subnets(&self, count: usize) -> Option<String> {
        let sets_subnets = self.private_subnets.is_some()
            || self.public_subnets.is_some()
            || self.private_subnet_prefix.is_some()
            || self.public_subnet_prefix.is_some();
        if sets_subnets {
            return None;
        }
        let (private, public) = (DEFAULT_PRIVATE_SUBNET_PREFIX, DEFAULT_PUBLIC_SUBNET_PREFIX);
        let block = |prefix: u8| 1u64 << (32 - u32::from(prefix));
        // Private blocks are carved from the start, public ones from the end:
        // they fit side by side exactly when their sizes add up.
        let needed = count as u64 * (block(private) + block(public));
        let vpc = self.vpc_cidr;
        if needed <= vpc.size() && private >= vpc.prefix() && public >= vpc.prefix() {
            return None;
        }
        let fit = 32 - needed.next_power_of_two().trailing_zeros();
        Some(format!(
            "{vpc} is too small for {count} private /{private} and {count} public /{public} \
             subnets (one of each per AZ); it needs to be a /{fit} or larger, or set smaller \
             subnets with network.private_subnet_prefix and network.public_subnet_prefix"
        ))
    }

    /// Each AZ with its letter; AZs of another region or listed twice are problems.
    fn azs(&self, region: &str, at: &mut Scope<'_>) -> Vec<(String, String)> {
        let mut result = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, az) in self.azs.iter().enumerate() {
            let field = format!("azs[{i}]");
            let letter = az
                .strip_prefix(region)
                .filter(|rest| rest.len() == 1 && rest.bytes().all(|b| b.is_ascii_lowercase()));
            match letter {
                Some(letter) => {
                    if !seen.insert(az.as_str()) {
                        at.problem(&field, format!("`{az}` is listed twice"));
                    }
                    result.push((az.clone(), letter.to_owned()));
                }
                None => at.problem(
                    &field,
                    format!(
                        "`{az}` is not an availability zone of region {region} (like {region}a)"
                    ),
                ),
            }
        }
        result
    }

    /// The subnets of one tier: as listed, or computed from the prefix.
    fn tier(&self, tier: Tier, count: usize, at: &mut Scope<'_>) -> Option<Vec<Ipv4Cidr>> {
        let (kind, explicit, prefix, default_prefix) = match tier {
            Tier::Private => (
                "private",
                self.private_subnets.as_deref(),
                self.private_subnet_prefix,
                DEFAULT_PRIVATE_SUBNET_PREFIX,
            ),
            Tier::Public => (
                "public",
                self.public_subnets.as_deref(),
                self.public_subnet_prefix,
                DEFAULT_PUBLIC_SUBNET_PREFIX,
            ),
        };
        let vpc = self.vpc_cidr;
        let list_field = format!("{kind}_subnets");
        let prefix_field = format!("{kind}_subnet_prefix");
        if let Some(list) = explicit {
            if prefix.is_some() {
                at.problem(
                    &prefix_field,
                    format!("set either {kind}_subnets or {kind}_subnet_prefix, not both"),
                );
                return None;
            }
            if list.len() != count {
                at.problem(
                    &list_field,
                    format!(
                        "has {} subnets for {count} AZs; give one per entry of network.azs",
                        list.len()
                    ),
                );
                return None;
            }
            let mut ok = true;
            for (i, subnet) in list.iter().enumerate() {
                if !vpc.contains(subnet) {
                    ok = false;
                    at.problem(
                        format!("{list_field}[{i}]"),
                        format!("{subnet} does not fit in network.vpc_cidr ({vpc})"),
                    );
                } else if subnet.prefix() > 28 {
                    ok = false;
                    at.problem(
                        format!("{list_field}[{i}]"),
                        format!("{subnet}: AWS subnets are at most /28"),
                    );
                }
            }
            return ok.then(|| list.to_vec());
        }
        let prefix = prefix.unwrap_or(default_prefix);
        if prefix < vpc.prefix() || prefix > 28 {
            at.problem(
                &prefix_field,
                format!(
                    "/{prefix} must be between the VPC's /{} and /28",
                    vpc.prefix()
                ),
            );
            return None;
        }
        let available = vpc.subnet_count(prefix);
        if (count as u64) > available {
            at.problem(
                &prefix_field,
                format!("{count} {kind} /{prefix} subnets do not fit in network.vpc_cidr ({vpc}), which holds {available}"),
            );
            return None;
        }
        // Private subnets are counted from the start of the VPC and public ones
        // from its end, so adding an AZ later never moves an existing subnet.
        let from_end = tier == Tier::Public;
        let subnets = (0..count as u64)
            .filter_map(|i| vpc.subnet(prefix, if from_end { available - 1 - i } else { i }))
            .collect();
        Some(subnets)
    }
}
