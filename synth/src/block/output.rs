//! An `output` block.

use serde::Serialize;

use super::is_false;
use crate::expr::Expr;

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
}

super::described!(Output);
