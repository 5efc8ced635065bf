//! Expressions: the values assigned to attributes, and how they render.
//!
//! Terraform's JSON syntax treats every JSON string as a template, so a value
//! has two renderings: as a JSON value at the top level of an attribute
//! ([`Expr::to_json`]), and as HCL expression text inside `${...}`
//! ([`Expr::to_hcl`]). References are values, not strings: they carry the
//! [`Address`] they point at, which is how synthesis finds dependencies,
//! dangling references and cycles.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

/// The address of a referenceable block in the root module.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Address {
    /// A managed resource: `aws_vpc.main`.
    Resource { ty: String, name: String },
    /// A data source: `data.aws_region.current`.
    Data { ty: String, name: String },
    /// An input variable: `var.image_tag`.
    Var(String),
    /// A local value: `local.common_tags`.
    Local(String),
}

impl Address {
    pub fn resource(ty: impl Into<String>, name: impl Into<String>) -> Self {
        Self::Resource {
            ty: ty.into(),
            name: name.into(),
        }
    }

    pub fn data(ty: impl Into<String>, name: impl Into<String>) -> Self {
        Self::Data {
            ty: ty.into(),
            name: name.into(),
        }
    }

    /// Reads a resource address as written in a config file or on a
    /// command line: `aws_vpc.main` or `data.aws_region.current`. `None`
    /// when it is not one (a variable, a local, an instance key, a typo).
    pub fn parse(text: &str) -> Option<Self> {
        let (data, rest) = match text.strip_prefix("data.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (ty, name) = rest.split_once('.')?;
        let is_type = ty.contains('_')
            && ty.starts_with(|c: char| c.is_ascii_lowercase())
            && ty
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        let is_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        match (is_type && is_name, data) {
            (false, _) => None,
            (true, false) => Some(Self::resource(ty, name)),
            (true, true) => Some(Self::data(ty, name)),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Resource { ty, name } => write!(f, "{ty}.{name}"),
            Self::Data { ty, name } => write!(f, "data.{ty}.{name}"),
            Self::Var(name) => write!(f, "var.{name}"),
            Self::Local(name) => write!(f, "local.{name}"),
        }
    }
}

/// One step of a traversal after a reference or a parenthesised expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `.name`
    Attr(String),
    /// `[expr]`: a number, a string key, or any expression (`count.index`).
    Index(Box<Expr>),
    /// `[*]`
    Splat,
}

/// A Terraform expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    /// A literal string. It never interpolates: `${` is escaped on render.
    Str(String),
    List(Vec<Expr>),
    Map(BTreeMap<String, Expr>),
    /// A reference to a block, followed by attribute and index steps.
    Ref(Address, Vec<Step>),
    /// A function call such as `cidrsubnet(var.vpc_cidr, 8, 1)`.
    Call(String, Vec<Expr>),
    /// Steps applied to a non-reference expression: `(call(...))[0]`.
    Traverse(Box<Expr>, Vec<Step>),
    /// String concatenation: literal parts are escaped, the others interpolated.
    Template(Vec<Expr>),
    /// Verbatim HCL expression text. An escape hatch: its references are not
    /// tracked, so prefer [`Expr::Ref`] for anything that names a block.
    Raw(String),
}

impl Expr {
    /// A JSON object; also the body of a nested block.
    pub fn object<K: Into<String>, V: Into<Expr>>(
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    pub fn list<V: Into<Expr>>(items: impl IntoIterator<Item = V>) -> Self {
        Self::List(items.into_iter().map(Into::into).collect())
    }

    pub fn call<V: Into<Expr>>(name: impl Into<String>, args: impl IntoIterator<Item = V>) -> Self {
        Self::Call(name.into(), args.into_iter().map(Into::into).collect())
    }

    pub fn template<V: Into<Expr>>(parts: impl IntoIterator<Item = V>) -> Self {
        Self::Template(parts.into_iter().map(Into::into).collect())
    }

    pub fn raw(hcl: impl Into<String>) -> Self {
        Self::Raw(hcl.into())
    }

    /// A reference to a whole block (`aws_vpc.main`), for attribute access.
    pub fn reference(address: Address) -> Self {
        Self::Ref(address, Vec::new())
    }

    /// `count.index` inside a resource with `count`.
    pub fn count_index() -> Self {
        Self::raw("count.index")
    }

    /// `each.key` inside a resource with `for_each`.
    pub fn each_key() -> Self {
        Self::raw("each.key")
    }

    /// `each.value` inside a resource with `for_each`.
    pub fn each_value() -> Self {
        Self::raw("each.value")
    }

    fn step(self, step: Step) -> Self {
        match self {
            Self::Ref(address, mut steps) => {
                steps.push(step);
                Self::Ref(address, steps)
            }
            Self::Traverse(inner, mut steps) => {
                steps.push(step);
                Self::Traverse(inner, steps)
            }
            other => Self::Traverse(Box::new(other), vec![step]),
        }
    }

    /// `expr.name`
    #[must_use]
    pub fn attr(self, name: impl Into<String>) -> Self {
        self.step(Step::Attr(name.into()))
    }

    /// `expr[index]`
    #[must_use]
    pub fn index(self, index: impl Into<Expr>) -> Self {
        self.step(Step::Index(Box::new(index.into())))
    }

    /// `expr[*]`
    #[must_use]
    pub fn splat(self) -> Self {
        self.step(Step::Splat)
    }

    /// Every block address this expression refers to, in order of appearance.
    pub fn references(&self) -> Vec<&Address> {
        let mut out = Vec::new();
        self.collect_references(&mut out);
        out
    }

    /// References with the first attribute step that follows them (if any),
    /// which lets schema checks catch `aws_vpc.main.idd`.
    pub(crate) fn references_with_attr<'a>(
        &'a self,
        out: &mut Vec<(&'a Address, Option<&'a str>)>,
    ) {
        self.walk(&mut |e| {
            if let Self::Ref(address, steps) = e {
                let attr = steps.iter().find_map(|s| match s {
                    Step::Attr(a) => Some(a.as_str()),
                    _ => None,
                });
                out.push((address, attr));
            }
        });
    }

    fn collect_references<'a>(&'a self, out: &mut Vec<&'a Address>) {
        self.walk(&mut |e| {
            if let Self::Ref(address, _) = e {
                out.push(address);
            }
        });
    }

    /// Points every reference to `from` at `to` instead. [`Expr::Raw`] text
    /// is not looked into: its references are not tracked.
    pub(crate) fn rename_references(&mut self, from: &Address, to: &Address) {
        match self {
            Self::List(items) | Self::Call(_, items) | Self::Template(items) => {
                items.iter_mut().for_each(|i| i.rename_references(from, to));
            }
            Self::Map(map) => map.values_mut().for_each(|v| v.rename_references(from, to)),
            Self::Ref(address, steps) => {
                if address == from {
                    *address = to.clone();
                }
                rename_in_steps(steps, from, to);
            }
            Self::Traverse(inner, steps) => {
                inner.rename_references(from, to);
                rename_in_steps(steps, from, to);
            }
            Self::Null | Self::Bool(_) | Self::Number(_) | Self::Str(_) | Self::Raw(_) => {}
        }
    }

    fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        f(self);
        match self {
            Self::List(items) | Self::Call(_, items) | Self::Template(items) => {
                items.iter().for_each(|i| i.walk(f));
            }
            Self::Map(map) => map.values().for_each(|v| v.walk(f)),
            Self::Ref(_, steps) => walk_steps(steps, f),
            Self::Traverse(inner, steps) => {
                inner.walk(f);
                walk_steps(steps, f);
            }
            Self::Null | Self::Bool(_) | Self::Number(_) | Self::Str(_) | Self::Raw(_) => {}
        }
    }

    /// The JSON value Terraform reads for an attribute set to this expression.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Number(n) => Value::Number(n.clone()),
            Self::Str(s) => Value::String(escape_template(s)),
            Self::List(items) => Value::Array(items.iter().map(Self::to_json).collect()),
            Self::Map(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (escape_template(k), v.to_json()))
                    .collect(),
            ),
            Self::Template(parts) => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        Self::Str(s) => out.push_str(&escape_template(s)),
                        other => {
                            out.push_str("${");
                            out.push_str(&other.to_hcl());
                            out.push('}');
                        }
                    }
                }
                Value::String(out)
            }
            Self::Ref(..) | Self::Call(..) | Self::Traverse(..) | Self::Raw(_) => {
                Value::String(format!("${{{}}}", self.to_hcl()))
            }
        }
    }

    /// HCL expression text, as it appears inside `${...}`.
    pub fn to_hcl(&self) -> String {
        match self {
            Self::Null => "null".to_owned(),
            Self::Bool(b) => b.to_string(),
            Self::Number(n) => n.to_string(),
            Self::Str(s) => hcl_string(s),
            Self::List(items) => {
                let items: Vec<String> = items.iter().map(Self::to_hcl).collect();
                format!("[{}]", items.join(", "))
            }
            Self::Map(map) => {
                if map.is_empty() {
                    return "{}".to_owned();
                }
                let entries: Vec<String> = map
                    .iter()
                    .map(|(k, v)| format!("{} = {}", hcl_string(k), v.to_hcl()))
                    .collect();
                format!("{{ {} }}", entries.join(", "))
            }
            Self::Ref(address, steps) => format!("{address}{}", render_steps(steps)),
            Self::Call(name, args) => {
                let args: Vec<String> = args.iter().map(Self::to_hcl).collect();
                format!("{name}({})", args.join(", "))
            }
            Self::Traverse(inner, steps) => format!("({}){}", inner.to_hcl(), render_steps(steps)),
            Self::Template(parts) => {
                let mut out = String::from("\"");
                for part in parts {
                    match part {
                        Self::Str(s) => out.push_str(&escape_hcl_string_body(s)),
                        other => {
                            out.push_str("${");
                            out.push_str(&other.to_hcl());
                            out.push('}');
                        }
                    }
                }
                out.push('"');
                out
            }
            Self::Raw(hcl) => hcl.clone(),
        }
    }
}

fn walk_steps<'a>(steps: &'a [Step], f: &mut impl FnMut(&'a Expr)) {
    for step in steps {
        if let Step::Index(index) = step {
            index.walk(f);
        }
    }
}

fn rename_in_steps(steps: &mut [Step], from: &Address, to: &Address) {
    for step in steps {
        if let Step::Index(index) = step {
            index.rename_references(from, to);
        }
    }
}

fn render_steps(steps: &[Step]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Attr(name) => {
                out.push('.');
                out.push_str(name);
            }
            Step::Index(index) => {
                out.push('[');
                out.push_str(&index.to_hcl());
                out.push(']');
            }
            Step::Splat => out.push_str("[*]"),
        }
    }
    out
}

/// Escapes a literal so Terraform's template parser reads it back unchanged:
/// `${` becomes `$${` and `%{` becomes `%%{`.
pub fn escape_template(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if (c == '$' || c == '%') && chars.peek() == Some(&'{') {
            out.push(c);
        }
    }
    out
}

fn escape_hcl_string_body(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in escape_template(s).chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}

fn hcl_string(s: &str) -> String {
    format!("\"{}\"", escape_hcl_string_body(s))
}

impl From<&str> for Expr {
    fn from(s: &str) -> Self {
        Self::Str(s.to_owned())
    }
}

impl From<String> for Expr {
    fn from(s: String) -> Self {
        Self::Str(s)
    }
}

impl From<&String> for Expr {
    fn from(s: &String) -> Self {
        Self::Str(s.clone())
    }
}

impl From<bool> for Expr {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

macro_rules! from_integer {
    ($($t:ty),*) => {$(
        impl From<$t> for Expr {
            fn from(n: $t) -> Self {
                Self::Number(n.into())
            }
        }
    )*};
}
from_integer!(i32, i64, u8, u16, u32, u64, usize);

impl From<f64> for Expr {
    /// Non-finite floats have no JSON form and become `null`.
    fn from(n: f64) -> Self {
        serde_json::Number::from_f64(n).map_or(Self::Null, Self::Number)
    }
}

impl<T: Into<Expr>> From<Vec<T>> for Expr {
    fn from(items: Vec<T>) -> Self {
        Self::list(items)
    }
}

impl<T: Into<Expr>> From<Option<T>> for Expr {
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Null, Into::into)
    }
}

impl<K: Into<String>, V: Into<Expr>> From<BTreeMap<K, V>> for Expr {
    fn from(map: BTreeMap<K, V>) -> Self {
        Self::object(map)
    }
}

impl From<&Value> for Expr {
    /// A JSON document as literal values (strings stay literal, never interpolated).
    fn from(value: &Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => Self::Number(n.clone()),
            Value::String(s) => Self::Str(s.clone()),
            Value::Array(items) => Self::List(items.iter().map(Self::from).collect()),
            Value::Object(map) => Self::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Self::from(v)))
                    .collect(),
            ),
        }
    }
}

impl From<Value> for Expr {
    fn from(value: Value) -> Self {
        Self::from(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vpc() -> Expr {
        Expr::reference(Address::resource("aws_vpc", "main"))
    }

    #[test]
    fn literal_interpolation_markers_are_escaped() {
        assert_eq!(Expr::from("${var.x}").to_json(), json!("$${var.x}"));
        assert_eq!(Expr::from("%{ if x }").to_json(), json!("%%{ if x }"));
        assert_eq!(Expr::from("cost: $5 {x}").to_json(), json!("cost: $5 {x}"));
        assert_eq!(Expr::from("$$").to_json(), json!("$$"));
    }

    #[test]
    fn map_keys_are_escaped_too() {
        let e = Expr::object([("${k}", "v")]);
        assert_eq!(e.to_json(), json!({"$${k}": "v"}));
    }

    #[test]
    fn references_render_as_interpolations() {
        assert_eq!(vpc().attr("id").to_json(), json!("${aws_vpc.main.id}"));
        let subnet = Expr::reference(Address::resource("aws_subnet", "private"));
        assert_eq!(
            subnet.clone().index(0).attr("id").to_json(),
            json!("${aws_subnet.private[0].id}")
        );
        assert_eq!(
            subnet.splat().attr("id").to_json(),
            json!("${aws_subnet.private[*].id}")
        );
        let tags = vpc().attr("tags").index("Name");
        assert_eq!(tags.to_json(), json!("${aws_vpc.main.tags[\"Name\"]}"));
        let data = Expr::reference(Address::data("aws_region", "current")).attr("name");
        assert_eq!(data.to_json(), json!("${data.aws_region.current.name}"));
        let var = Expr::reference(Address::Var("image_tag".into()));
        assert_eq!(var.to_json(), json!("${var.image_tag}"));
    }

    #[test]
    fn calls_render_arguments_as_hcl() {
        let e = Expr::call(
            "cidrsubnet",
            [
                Expr::reference(Address::Var("cidr".into())),
                8.into(),
                1.into(),
            ],
        );
        assert_eq!(e.to_json(), json!("${cidrsubnet(var.cidr, 8, 1)}"));
        let e = Expr::call(
            "jsonencode",
            [Expr::object([
                ("Version", Expr::from("2012-10-17")),
                ("List", Expr::list([1, 2])),
            ])],
        );
        assert_eq!(
            e.to_json(),
            json!("${jsonencode({ \"List\" = [1, 2], \"Version\" = \"2012-10-17\" })}")
        );
    }

    #[test]
    fn strings_inside_calls_are_quoted_and_escaped() {
        let e = Expr::call("file", ["a \"quoted\" ${x}\\path\n"]);
        assert_eq!(
            e.to_json(),
            json!("${file(\"a \\\"quoted\\\" $${x}\\\\path\\n\")}")
        );
    }

    #[test]
    fn traversal_of_call_results_is_parenthesised() {
        let e = Expr::call("split", [",", "a,b"]).index(1);
        assert_eq!(e.to_json(), json!("${(split(\",\", \"a,b\"))[1]}"));
    }

    #[test]
    fn templates_mix_literals_and_interpolations() {
        let e = Expr::template([Expr::from("arn:${x}:"), vpc().attr("arn"), Expr::from("/*")]);
        assert_eq!(e.to_json(), json!("arn:$${x}:${aws_vpc.main.arn}/*"));
        let nested = Expr::call("upper", [e]);
        assert_eq!(
            nested.to_json(),
            json!("${upper(\"arn:$${x}:${aws_vpc.main.arn}/*\")}")
        );
    }

    #[test]
    fn lists_and_maps_of_references_stay_json() {
        let e = Expr::list([vpc().attr("id"), Expr::from("x")]);
        assert_eq!(e.to_json(), json!(["${aws_vpc.main.id}", "x"]));
    }

    #[test]
    fn references_are_collected_from_everywhere() {
        let idx = Expr::reference(Address::Var("i".into()));
        let e = Expr::object([(
            "a",
            Expr::call(
                "f",
                [
                    vpc().attr("id"),
                    Expr::template([Expr::from("x"), idx.clone()]),
                ],
            ),
        )]);
        let refs: Vec<String> = e.references().iter().map(ToString::to_string).collect();
        assert_eq!(refs, ["aws_vpc.main", "var.i"]);
        let indexed = vpc().attr("ids").index(idx);
        assert_eq!(indexed.references().len(), 2);
    }

    #[test]
    fn raw_expressions_pass_through() {
        let e = Expr::count_index();
        assert_eq!(e.to_json(), json!("${count.index}"));
    }

    #[test]
    fn addresses_parse_as_written() {
        assert_eq!(
            Address::parse("aws_vpc.main"),
            Some(Address::resource("aws_vpc", "main"))
        );
        assert_eq!(
            Address::parse("data.aws_region.current"),
            Some(Address::data("aws_region", "current"))
        );
        assert_eq!(
            Address::parse("terraform_data.a-b_1"),
            Some(Address::resource("terraform_data", "a-b_1"))
        );
        for bad in [
            "",
            "aws_vpc",
            "var.x",
            "local.y",
            "aws_vpc.main.id",
            "aws_vpc.main[0]",
            "Aws_vpc.main",
            "aws_vpc.1a",
            "data.aws_region",
            "module.m.aws_vpc.main",
        ] {
            assert_eq!(Address::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn references_are_renamed_everywhere_but_in_raw_text() {
        let old = Address::resource("aws_vpc", "main");
        let new = Address::resource("aws_vpc", "core");
        let mut e = Expr::object([(
            "a",
            Expr::call(
                "f",
                [
                    vpc().attr("id"),
                    Expr::template([Expr::from("x"), vpc().attr("arn")]),
                    Expr::reference(Address::Var("v".into())).index(vpc().attr("n")),
                    Expr::raw("aws_vpc.main.id"),
                ],
            ),
        )]);
        e.rename_references(&old, &new);
        assert_eq!(
            e.to_json(),
            json!({"a": "${f(aws_vpc.core.id, \"x${aws_vpc.core.arn}\", var.v[aws_vpc.core.n], aws_vpc.main.id)}"})
        );
    }

    #[test]
    fn json_documents_become_literals() {
        let e = Expr::from(json!({"a": ["${not_a_ref}", 1, true, null]}));
        assert_eq!(e.to_json(), json!({"a": ["$${not_a_ref}", 1, true, null]}));
    }
}
