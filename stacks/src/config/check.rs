//! How a config file is checked: each section checks itself against the
//! whole config through the same [`Section`] trait, reporting problems at
//! field paths under its key, so every section reads and reports alike.

use synth::Diagnostic;

use super::Config;

/// A section of an environment's config file.
pub(crate) trait Section {
    /// The section's key in the file (`network`, `node_groups`).
    const KEY: &'static str;
    /// What checking works out besides problems (the subnet layout, say).
    type Checked;
    fn check(&self, config: &Config, at: &mut Scope<'_>) -> Self::Checked;
}

/// Every problem found in one file.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    found: Vec<Diagnostic>,
}

impl Problems {
    /// Checks one section, its problems reported under its key.
    pub(crate) fn section<S: Section>(&mut self, section: &S, config: &Config) -> S::Checked {
        section.check(
            config,
            &mut Scope {
                prefix: S::KEY,
                problems: self,
            },
        )
    }

    pub(crate) fn add(&mut self, at: impl Into<String>, message: impl Into<String>) {
        self.found.push(Diagnostic {
            at: at.into(),
            message: message.into(),
        });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    pub(crate) fn into_vec(self) -> Vec<Diagnostic> {
        self.found
    }
}

/// Problems of one section: fields are named relative to its key.
pub(crate) struct Scope<'a> {
    prefix: &'static str,
    problems: &'a mut Problems,
}

impl Scope<'_> {
    /// A problem with `field` of this section (`min_size`, `[0].min_size`,
    /// or "" for the section as a whole).
    pub(crate) fn problem(&mut self, field: impl AsRef<str>, message: impl Into<String>) {
        let field = field.as_ref();
        let at = if field.is_empty() {
            self.prefix.to_owned()
        } else if field.starts_with('[') {
            format!("{}{field}", self.prefix)
        } else {
            format!("{}.{field}", self.prefix)
        };
        self.problems.add(at, message);
    }

    /// A problem this section's rule finds in another section's field
    /// (`network.azs` too few for `policy.min_azs`): reported where the
    /// reader has to change something.
    pub(crate) fn elsewhere(&mut self, path: &str, message: impl Into<String>) {
        self.problems.add(path, message);
    }

    /// `field` must be a DNS label of at most `max_len` characters.
    pub(crate) fn dns_label(&mut self, field: &str, value: &str, max_len: usize) {
        if !is_dns_label(value, max_len) {
            self.problem(field, dns_label_message(value, max_len));
        }
    }
}

/// The shipped staging config, for the sections' tests to vary.
#[cfg(test)]
pub(crate) fn shipped_staging() -> Config {
    toml::from_str(include_str!("../../config/staging.toml")).expect("staging.toml")
}

/// One section's problems within `config`, as they are printed.
#[cfg(test)]
pub(crate) fn problems_in<S: Section>(section: &S, config: &Config) -> Vec<String> {
    let mut problems = Problems::default();
    problems.section(section, config);
    problems
        .into_vec()
        .into_iter()
        .map(|p| p.to_string())
        .collect()
}

/// The file's top-level fields, and its name.
pub(crate) fn top_level(env_name: &str, c: &Config, problems: &mut Problems) {
    if !is_dns_label(env_name, 32) {
        problems.add(
            "(file name)",
            format!("environment name `{env_name}` must be lowercase letters, digits and `-`"),
        );
    }
    // Longest derived name is `<prefix>-load-balancer-controller` (IAM role names max 64).
    for (field, value, max_len) in [
        ("project", &c.project, 20),
        ("name_prefix", &c.name_prefix, 32),
    ] {
        if !is_dns_label(value, max_len) {
            problems.add(field, dns_label_message(value, max_len));
        }
    }
    if !is_region(&c.region) {
        problems.add(
            "region",
            format!("`{}` is not an AWS region name like eu-west-1", c.region),
        );
    }
}

fn dns_label_message(value: &str, max_len: usize) -> String {
    format!(
        "`{value}` must be 1 to {max_len} lowercase letters, digits and `-`, \
         starting with a letter and not ending with `-`"
    )
}

/// e.g. eu-west-1, us-gov-east-1, ap-southeast-2
fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok()
}

/// A Kubernetes qualified name (a label or taint key): an optional DNS
/// subdomain prefix and `/`, then a name of 1 to 63 characters.
pub(crate) fn is_qualified_name(key: &str) -> bool {
    let (prefix, name) = key.rsplit_once('/').unwrap_or(("", key));
    let prefix_ok =
        prefix.is_empty() || (prefix.len() <= 253 && prefix.split('.').all(is_dns_label_part));
    prefix_ok && !name.is_empty() && is_label_value(name)
}

/// One dot-separated part of a DNS subdomain (it may start with a digit).
fn is_dns_label_part(part: &str) -> bool {
    let bytes = part.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// A Kubernetes label value: empty, or at most 63 alphanumerics, `-`, `_`
/// and `.`, starting and ending with an alphanumeric.
pub(crate) fn is_label_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.is_empty()
        || (bytes.len() <= 63
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric()
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
}

pub(crate) fn is_dns_label(value: &str, max_len: usize) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= max_len
        && bytes[0].is_ascii_lowercase()
        && bytes[bytes.len() - 1] != b'-'
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}
