//! The `terraform.backend` block: where state lives.

use std::collections::BTreeMap;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::expr::Expr;

#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    kind: String,
    config: BTreeMap<String, Expr>,
}

impl Backend {
    /// Any backend type with its settings (`s3`, `gcs`, ...).
    pub fn new(kind: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            config: BTreeMap::new(),
        }
    }

    /// State in a local file, relative to the module directory (terraform's
    /// built-in default backend, named explicitly).
    pub fn local(path: &str) -> Self {
        Self::new("local").set("path", path)
    }

    #[must_use]
    pub fn set(mut self, name: &str, value: impl Into<Expr>) -> Self {
        self.config.insert(name.to_owned(), value.into());
        self
    }

    pub fn kind(&self) -> &str {
        &self.kind
    }

    pub fn get(&self, name: &str) -> Option<&Expr> {
        self.config.get(name)
    }
}

/// `{ "<kind>": { settings } }`, as the `terraform` block nests it.
impl Serialize for Backend {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(&self.kind, &self.config)?;
        map.end()
    }
}
