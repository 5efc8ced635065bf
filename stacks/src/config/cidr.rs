//! IPv4 CIDR blocks and the subnet arithmetic the network stack needs, done in
//! Rust so that a subnet that does not fit, or two ranges that overlap, fail at
//! synth time with the config field named instead of at `terraform apply`.
//!
//! A small type over `std::net::Ipv4Addr` rather than the `ipnet` crate: we
//! need parsing with pointed messages, containment, overlap and "the n-th /N
//! block", a few dozen lines, and no IPv6.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An IPv4 network in CIDR notation, always in canonical form (no host bits set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Cidr {
    network: u32,
    prefix: u8,
}

impl Ipv4Cidr {
    /// Builds a block from an address and a prefix length; `None` when the
    /// prefix exceeds 32 or the address has host bits set.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Self> {
        let network = u32::from(addr);
        (prefix <= 32 && network & !mask(prefix) == 0).then_some(Self { network, prefix })
    }

    /// The block of length `prefix` that contains `addr` (host bits dropped).
    pub fn containing(addr: Ipv4Addr, prefix: u8) -> Option<Self> {
        (prefix <= 32).then(|| Self {
            network: u32::from(addr) & mask(prefix),
            prefix,
        })
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network)
    }

    /// Number of addresses in the block (2^32 for /0, hence u64).
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    fn first(&self) -> u64 {
        u64::from(self.network)
    }

    fn last(&self) -> u64 {
        self.first() + self.size() - 1
    }

    /// Whether `other` lies entirely inside this block.
    pub fn contains(&self, other: &Ipv4Cidr) -> bool {
        other.first() >= self.first() && other.last() <= self.last()
    }

    /// Whether the two blocks share at least one address.
    pub fn overlaps(&self, other: &Ipv4Cidr) -> bool {
        self.first() <= other.last() && other.first() <= self.last()
    }

    /// The `index`-th block of length `prefix` inside this one, counted from
    /// the start (terraform's `cidrsubnet(self, prefix - self.prefix, index)`).
    /// `None` when `prefix` is shorter than ours or the block would not fit.
    pub fn subnet(&self, prefix: u8, index: u64) -> Option<Ipv4Cidr> {
        if prefix < self.prefix || prefix > 32 {
            return None;
        }
        let step = 1u64 << (32 - u32::from(prefix));
        let start = self.first() + index.checked_mul(step)?;
        let candidate = Ipv4Cidr {
            network: u32::try_from(start).ok()?,
            prefix,
        };
        self.contains(&candidate).then_some(candidate)
    }

    /// How many blocks of length `prefix` fit in this one (0 if `prefix` is shorter).
    pub fn subnet_count(&self, prefix: u8) -> u64 {
        if prefix < self.prefix || prefix > 32 {
            0
        } else {
            1u64 << (prefix - self.prefix)
        }
    }

    /// How many addresses the blocks cover together, overlaps counted once.
    pub fn union_size(blocks: &[Ipv4Cidr]) -> u64 {
        let mut ranges: Vec<(u64, u64)> = blocks.iter().map(|b| (b.first(), b.last())).collect();
        ranges.sort_unstable();
        let mut total = 0;
        let mut current: Option<(u64, u64)> = None;
        for (first, last) in ranges {
            match current {
                Some((start, end)) if first <= end + 1 => current = Some((start, end.max(last))),
                Some((start, end)) => {
                    total += end - start + 1;
                    current = Some((first, last));
                }
                None => current = Some((first, last)),
            }
        }
        total + current.map_or(0, |(start, end)| end - start + 1)
    }

    /// Whether the block lies in one of the RFC 1918 private ranges.
    pub fn is_rfc1918(&self) -> bool {
        ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
            .iter()
            .filter_map(|s| s.parse::<Ipv4Cidr>().ok())
            .any(|range| range.contains(self))
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix)
    }
}

/// Why a string is not a canonical IPv4 CIDR block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("`{0}` is not in CIDR notation (expected e.g. 10.0.0.0/16)")]
    Syntax(String),
    #[error("`{0}` is not an IPv4 address")]
    Address(String),
    #[error("`{input}`: prefix length must be a number from 0 to 32")]
    Prefix { input: String },
    #[error("`{input}` has host bits set; the network is {canonical}")]
    HostBits { input: String, canonical: String },
}

impl FromStr for Ipv4Cidr {
    type Err = CidrError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = input
            .split_once('/')
            .ok_or_else(|| CidrError::Syntax(input.to_owned()))?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| CidrError::Address(addr.to_owned()))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32 && !prefix.starts_with('+'))
            .ok_or_else(|| CidrError::Prefix {
                input: input.to_owned(),
            })?;
        Ipv4Cidr::new(addr, prefix).ok_or_else(|| CidrError::HostBits {
            input: input.to_owned(),
            canonical: format!(
                "{}/{prefix}",
                Ipv4Addr::from(u32::from(addr) & mask(prefix))
            ),
        })
    }
}

impl Serialize for Ipv4Cidr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ipv4Cidr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Ipv4Cidr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_and_prints_canonical_blocks() {
        assert_eq!(cidr("10.0.0.0/16").to_string(), "10.0.0.0/16");
        assert_eq!(cidr("0.0.0.0/0").size(), 1 << 32);
        assert_eq!(cidr("192.168.1.7/32").size(), 1);
    }

    #[test]
    fn rejects_malformed_blocks_with_the_reason() {
        let err = |s: &str| s.parse::<Ipv4Cidr>().expect_err(s).to_string();
        assert!(err("10.0.0.0").contains("not in CIDR notation"));
        assert!(err("10.0.0.256/16").contains("`10.0.0.256` is not an IPv4 address"));
        assert!(err("10.0.0.0/33").contains("prefix length must be a number from 0 to 32"));
        assert!(err("10.0.0.0/+8").contains("prefix length"));
        assert_eq!(
            err("10.0.1.0/16"),
            "`10.0.1.0/16` has host bits set; the network is 10.0.0.0/16"
        );
    }

    #[test]
    fn subnet_matches_terraform_cidrsubnet() {
        let vpc = cidr("10.0.0.0/16");
        // cidrsubnet("10.0.0.0/16", 4, 2) == "10.0.32.0/20"
        assert_eq!(vpc.subnet(20, 2), Some(cidr("10.0.32.0/20")));
        // cidrsubnet("10.0.0.0/16", 8, 255) == "10.0.255.0/24"
        assert_eq!(vpc.subnet(24, 255), Some(cidr("10.0.255.0/24")));
        assert_eq!(vpc.subnet(24, 256), None);
        assert_eq!(vpc.subnet(15, 0), None);
        assert_eq!(vpc.subnet_count(20), 16);
        assert_eq!(cidr("0.0.0.0/0").subnet(1, 1), Some(cidr("128.0.0.0/1")));
    }

    #[test]
    fn containment_and_overlap() {
        let vpc = cidr("10.0.0.0/16");
        assert!(vpc.contains(&cidr("10.0.255.0/24")));
        assert!(!vpc.contains(&cidr("10.1.0.0/24")));
        assert!(!vpc.contains(&cidr("10.0.0.0/15")));
        assert!(vpc.overlaps(&cidr("10.0.0.0/8")));
        assert!(cidr("10.0.16.0/20").overlaps(&cidr("10.0.31.0/24")));
        assert!(!cidr("10.0.16.0/20").overlaps(&cidr("10.0.32.0/24")));
    }

    #[test]
    fn private_ranges() {
        assert!(cidr("172.20.0.0/16").is_rfc1918());
        assert!(!cidr("172.32.0.0/16").is_rfc1918());
        assert!(!cidr("100.64.0.0/16").is_rfc1918());
    }

    #[test]
    fn unions_count_each_address_once() {
        let blocks = |list: &[&str]| -> Vec<Ipv4Cidr> {
            list.iter().map(|s| s.parse().expect("test CIDR")).collect()
        };
        assert_eq!(Ipv4Cidr::union_size(&[]), 0);
        assert_eq!(
            Ipv4Cidr::union_size(&blocks(&["0.0.0.0/1", "128.0.0.0/1"])),
            1 << 32
        );
        assert_eq!(
            Ipv4Cidr::union_size(&blocks(&["10.0.0.0/24", "10.0.0.128/25", "10.0.1.0/24"])),
            512
        );
        assert_eq!(
            Ipv4Cidr::union_size(&blocks(&["203.0.113.0/24", "198.51.100.7/32"])),
            257
        );
    }
}
