//! `provider` blocks, references to them, and `required_providers` entries.

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::expr::{Address, Expr};

/// A `provider = "aws.us_east_1"` meta-argument.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProviderRef {
    pub name: String,
    pub alias: Option<String>,
}

impl std::fmt::Display for ProviderRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.alias {
            Some(alias) => write!(f, "{}.{alias}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// An entry of `terraform.required_providers`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RequiredProvider {
    pub source: String,
    /// Empty for a built-in provider (`terraform.io/builtin/terraform`),
    /// which terraform refuses a version constraint for.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
}

impl RequiredProvider {
    pub fn new(source: &str, version: &str) -> Self {
        Self {
            source: source.to_owned(),
            version: version.to_owned(),
        }
    }
}

/// A `provider` block: its local name, optional alias and configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    name: String,
    alias: Option<String>,
    config: BTreeMap<String, Expr>,
}

impl Provider {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            alias: None,
            config: BTreeMap::new(),
        }
    }

    #[must_use]
    pub fn alias(mut self, alias: &str) -> Self {
        self.alias = Some(alias.to_owned());
        self
    }

    #[must_use]
    pub fn set(mut self, name: &str, value: impl Into<Expr>) -> Self {
        self.config.insert(name.to_owned(), value.into());
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// One setting's expression, for overlays that adjust a declared provider.
    pub fn get(&self, name: &str) -> Option<&Expr> {
        self.config.get(name)
    }

    pub fn reference(&self) -> ProviderRef {
        ProviderRef {
            name: self.name.clone(),
            alias: self.alias.clone(),
        }
    }

    pub fn dependencies(&self) -> Vec<&Address> {
        self.config.values().flat_map(Expr::references).collect()
    }

    pub(crate) fn config_exprs(&self) -> impl Iterator<Item = &Expr> {
        self.config.values()
    }

    pub(crate) fn rename_references(&mut self, from: &Address, to: &Address) {
        for value in self.config.values_mut() {
            value.rename_references(from, to);
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        crate::json::to_value(self)
    }
}

/// The configuration's attributes, plus `alias` when there is one.
impl Serialize for Provider {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (k, v) in &self.config {
            map.serialize_entry(k, v)?;
        }
        if let Some(alias) = &self.alias {
            map.serialize_entry("alias", alias)?;
        }
        map.end()
    }
}
