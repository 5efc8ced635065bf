//! An `output` block.

use serde::Serialize;

use super::is_false;
use crate::expr::{Address, Expr};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Output {
    value: Expr,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    sensitive: bool,
}

impl Output {
    pub fn new(value: impl Into<Expr>) -> Self {
        Self {
            value: value.into(),
            description: None,
            sensitive: false,
        }
    }

    pub fn value(&self) -> &Expr {
        &self.value
    }

    pub(crate) fn rename_references(&mut self, from: &Address, to: &Address) {
        self.value.rename_references(from, to);
    }
}

super::described!(Output);
