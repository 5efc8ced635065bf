//! The `lifecycle` meta-argument block.

use serde::{Serialize, Serializer};

use super::is_false;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Lifecycle {
    #[serde(skip_serializing_if = "is_false")]
    prevent_destroy: bool,
    #[serde(skip_serializing_if = "is_false")]
    create_before_destroy: bool,
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "ignore_changes"
    )]
    ignore_changes: Vec<String>,
}

impl Lifecycle {
    pub fn new() -> Self {
        Self::default()
    }

    #[must_use]
    pub fn prevent_destroy(mut self) -> Self {
        self.prevent_destroy = true;
        self
    }

    #[must_use]
    pub fn create_before_destroy(mut self) -> Self {
        self.create_before_destroy = true;
        self
    }

    /// Attributes whose drift terraform should ignore (`all` ignores every one).
    #[must_use]
    pub fn ignore_changes<S: Into<String>>(mut self, attrs: impl IntoIterator<Item = S>) -> Self {
        self.ignore_changes
            .extend(attrs.into_iter().map(Into::into));
        self
    }

    pub(crate) fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// `"all"` alone when it is listed (terraform's keyword), else the list.
fn ignore_changes<S: Serializer>(attrs: &[String], serializer: S) -> Result<S::Ok, S::Error> {
    if attrs.iter().any(|a| a == "all") {
        serializer.serialize_str("all")
    } else {
        attrs.serialize(serializer)
    }
}
