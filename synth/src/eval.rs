//! Evaluating an expression at synth time, with what is only known at apply
//! time filled in by the caller: a release's values rendered with stand-ins
//! for role ARNs and cluster names, so checks can render a chart and
//! validate its objects before terraform runs.

use serde_json::{Map, Value};

use crate::expr::Expr;

impl Expr {
    /// The value this expression has, with `unknown` deciding the value of
    /// each part synthesis cannot know (a reference, raw HCL). Literal
    /// strings stay as written; `jsonencode` is evaluated as terraform does
    /// (keys sorted); other function calls are unknown.
    pub fn evaluate(&self, unknown: &mut dyn FnMut(&Expr) -> Value) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Number(n) => Value::Number(n.clone()),
            Self::Str(s) => Value::String(s.clone()),
            Self::List(items) => Value::Array(items.iter().map(|i| i.evaluate(unknown)).collect()),
            Self::Map(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), v.evaluate(unknown)))
                    .collect::<Map<_, _>>(),
            ),
            Self::Template(parts) => {
                let mut out = String::new();
                for part in parts {
                    match part.evaluate(unknown) {
                        Value::String(s) => out.push_str(&s),
                        Value::Null => {}
                        other => out.push_str(&other.to_string()),
                    }
                }
                Value::String(out)
            }
            Self::Call(name, args) if name == "jsonencode" && args.len() == 1 => {
                let value = args[0].evaluate(unknown);
                Value::String(crate::json::to_compact_sorted(&value))
            }
            Self::Ref(..) | Self::Call(..) | Self::Traverse(..) | Self::Raw(_) => unknown(self),
        }
    }

    /// [`Expr::evaluate`] with each unknown part standing for itself as
    /// terraform would print it: `"${aws_iam_role.node.name}"`.
    pub fn evaluate_with_stand_ins(&self) -> Value {
        self.evaluate(&mut |e| Value::String(format!("${{{}}}", e.to_hcl())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Address;
    use serde_json::json;

    #[test]
    fn literals_evaluate_and_unknowns_are_filled_in() {
        let role = Expr::reference(Address::resource("aws_iam_role", "node")).attr("name");
        let e = Expr::object([
            ("role", role.clone()),
            ("tags", Expr::object([("Name", Expr::from("${literal}"))])),
            ("arn", Expr::template([Expr::from("x/"), role.clone()])),
            ("replicas", Expr::from(2)),
            (
                "policy",
                Expr::call("jsonencode", [Expr::object([("b", 1), ("a", 2)])]),
            ),
        ]);
        assert_eq!(
            e.evaluate_with_stand_ins(),
            json!({
                "role": "${aws_iam_role.node.name}",
                "tags": {"Name": "${literal}"},
                "arn": "x/${aws_iam_role.node.name}",
                "replicas": 2,
                "policy": "{\"a\":2,\"b\":1}",
            })
        );
        let mut seen = Vec::new();
        let value = role.evaluate(&mut |e| {
            seen.push(e.to_hcl());
            json!("node-role")
        });
        assert_eq!(
            (value, seen),
            (
                json!("node-role"),
                vec!["aws_iam_role.node.name".to_owned()]
            )
        );
    }
}
