//! A `variable` block.

use serde::{Serialize, Serializer};

use super::is_false;
use crate::expr::Expr;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Variable {
    /// Terraform's JSON syntax reads `type` as a bare type expression.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    ty: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    default: Option<Expr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    sensitive: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    nullable: Option<bool>,
    #[serde(rename = "validation", skip_serializing_if = "Vec::is_empty")]
    validations: Vec<Validation>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
struct Validation {
    #[serde(serialize_with = "condition")]
    condition: Expr,
    error_message: String,
}

impl Variable {
    pub fn new() -> Self {
        <Self as Default>::default()
    }

    /// A type constraint in Terraform's type syntax: `string`, `list(string)`.
    #[must_use]
    pub fn ty(mut self, ty: &str) -> Self {
        self.ty = Some(ty.to_owned());
        self
    }

    #[must_use]
    pub fn default(mut self, value: impl Into<Expr>) -> Self {
        self.default = Some(value.into());
        self
    }

    #[must_use]
    pub fn nullable(mut self, nullable: bool) -> Self {
        self.nullable = Some(nullable);
        self
    }

    /// A `validation` block. The condition is HCL that refers to the variable.
    #[must_use]
    pub fn validation(mut self, condition: impl Into<Expr>, error_message: &str) -> Self {
        self.validations.push(Validation {
            condition: condition.into(),
            error_message: error_message.to_owned(),
        });
        self
    }
}

super::described!(Variable);

/// Conditions are expressions: even a literal is wrapped, so it is never
/// read as a template.
fn condition<S: Serializer>(condition: &Expr, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format!("${{{}}}", condition.to_hcl()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn variables_render_types_as_expressions() {
        let v = Variable::new()
            .ty("list(string)")
            .default(Expr::list(["a"]))
            .description("d")
            .sensitive()
            .validation(Expr::raw("length(var.x) > 0"), "must not be empty");
        assert_eq!(
            crate::json::to_value(&v),
            json!({
                "type": "list(string)",
                "default": ["a"],
                "description": "d",
                "sensitive": true,
                "validation": [{"condition": "${length(var.x) > 0}", "error_message": "must not be empty"}]
            })
        );
    }
}
