//! The blocks of a Terraform root module and their JSON rendering.
//!
//! Each builder keeps typed meta-arguments (`count`, `depends_on`,
//! `lifecycle`, `provider`) apart from ordinary attributes, so checks can
//! reason about them; [`Resource::override_path`] is the escape hatch that
//! edits the rendered JSON directly, as CDKTF's `addOverride` does.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::expr::{Address, Expr};

/// Whether a [`Resource`] is managed (`resource`) or read (`data`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Managed,
    Data,
}

/// The provider a block type belongs to by Terraform's convention: the
/// type's prefix before the first `_` (`aws_vpc` → `aws`).
pub(crate) fn type_provider(ty: &str) -> &str {
    ty.split('_').next().unwrap_or(ty)
}

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

/// The `lifecycle` meta-argument block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lifecycle {
    prevent_destroy: bool,
    create_before_destroy: bool,
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

    fn to_json(&self) -> Option<Value> {
        let mut body = Map::new();
        if self.prevent_destroy {
            body.insert("prevent_destroy".into(), Value::Bool(true));
        }
        if self.create_before_destroy {
            body.insert("create_before_destroy".into(), Value::Bool(true));
        }
        if !self.ignore_changes.is_empty() {
            let value = if self.ignore_changes.iter().any(|a| a == "all") {
                Value::String("all".into())
            } else {
                Value::Array(
                    self.ignore_changes
                        .iter()
                        .map(|a| Value::String(a.clone()))
                        .collect(),
                )
            };
            body.insert("ignore_changes".into(), value);
        }
        (!body.is_empty()).then_some(Value::Object(body))
    }
}

/// A handle to a resource or data source: its address, for references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handle {
    address: Address,
}

impl Handle {
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// A reference to one attribute: `${aws_vpc.main.id}`.
    pub fn attr(&self, name: &str) -> Expr {
        Expr::reference(self.address.clone()).attr(name)
    }

    /// A reference to one instance of a `count` resource: `aws_subnet.x[0]`.
    pub fn at(&self, index: impl Into<Expr>) -> Expr {
        Expr::reference(self.address.clone()).index(index)
    }

    /// The whole block as a value.
    pub fn expr(&self) -> Expr {
        Expr::reference(self.address.clone())
    }
}

impl From<&Handle> for Address {
    fn from(handle: &Handle) -> Self {
        handle.address.clone()
    }
}

/// One JSON edit applied after rendering, as CDKTF's `addOverride`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Override {
    pub(crate) path: String,
    pub(crate) value: Option<Expr>,
}

/// A `resource` or `data` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    mode: Mode,
    ty: String,
    name: String,
    attrs: BTreeMap<String, Expr>,
    depends_on: Vec<Address>,
    count: Option<Expr>,
    for_each: Option<Expr>,
    provider: Option<ProviderRef>,
    lifecycle: Lifecycle,
    overrides: Vec<Override>,
}

impl Resource {
    pub(crate) fn new(mode: Mode, ty: &str, name: &str) -> Self {
        Self {
            mode,
            ty: ty.to_owned(),
            name: name.to_owned(),
            attrs: BTreeMap::new(),
            depends_on: Vec::new(),
            count: None,
            for_each: None,
            provider: None,
            lifecycle: Lifecycle::default(),
            overrides: Vec::new(),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn ty(&self) -> &str {
        &self.ty
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn address(&self) -> Address {
        match self.mode {
            Mode::Managed => Address::resource(&self.ty, &self.name),
            Mode::Data => Address::data(&self.ty, &self.name),
        }
    }

    pub fn handle(&self) -> Handle {
        Handle {
            address: self.address(),
        }
    }

    /// Sets an attribute or a nested block (a block body is an [`Expr::object`],
    /// repeated blocks an [`Expr::list`] of objects).
    pub fn set(&mut self, name: &str, value: impl Into<Expr>) -> &mut Self {
        self.attrs.insert(name.to_owned(), value.into());
        self
    }

    /// Appends one more instance of a repeatable nested block.
    pub fn push_block(&mut self, name: &str, body: impl Into<Expr>) -> &mut Self {
        let body = body.into();
        match self.attrs.get_mut(name) {
            Some(Expr::List(items)) => items.push(body),
            Some(existing) => {
                let first = std::mem::replace(existing, Expr::Null);
                *existing = Expr::List(vec![first, body]);
            }
            None => {
                self.attrs.insert(name.to_owned(), Expr::List(vec![body]));
            }
        }
        self
    }

    pub fn get(&self, name: &str) -> Option<&Expr> {
        self.attrs.get(name)
    }

    pub fn depends_on(&mut self, target: impl Into<Address>) -> &mut Self {
        self.depends_on.push(target.into());
        self
    }

    pub fn count(&mut self, count: impl Into<Expr>) -> &mut Self {
        self.count = Some(count.into());
        self
    }

    pub fn for_each(&mut self, for_each: impl Into<Expr>) -> &mut Self {
        self.for_each = Some(for_each.into());
        self
    }

    /// Selects a non-default provider configuration: `provider = "aws.alias"`.
    pub fn provider_alias(&mut self, name: &str, alias: &str) -> &mut Self {
        self.provider = Some(ProviderRef {
            name: name.to_owned(),
            alias: Some(alias.to_owned()),
        });
        self
    }

    pub fn lifecycle(&mut self, lifecycle: Lifecycle) -> &mut Self {
        self.lifecycle = lifecycle;
        self
    }

    /// Adds attributes to `lifecycle.ignore_changes`, keeping what is there.
    pub fn ignore_changes<S: Into<String>>(
        &mut self,
        attrs: impl IntoIterator<Item = S>,
    ) -> &mut Self {
        let lifecycle = std::mem::take(&mut self.lifecycle);
        self.lifecycle = lifecycle.ignore_changes(attrs);
        self
    }

    /// Sets any JSON path of the rendered block (`a.b.0.c`; numeric parts
    /// index arrays), for what the builders do not cover.
    pub fn override_path(&mut self, path: &str, value: impl Into<Expr>) -> &mut Self {
        self.overrides.push(Override {
            path: path.to_owned(),
            value: Some(value.into()),
        });
        self
    }

    /// Deletes a JSON path of the rendered block.
    pub fn remove_path(&mut self, path: &str) -> &mut Self {
        self.overrides.push(Override {
            path: path.to_owned(),
            value: None,
        });
        self
    }

    /// The provider local name this block uses: the explicit `provider`
    /// meta-argument, else the type's prefix before the first `_`.
    pub fn provider_ref(&self) -> ProviderRef {
        self.provider.clone().unwrap_or_else(|| ProviderRef {
            name: type_provider(&self.ty).to_owned(),
            alias: None,
        })
    }

    /// Every address this block depends on: references in its attributes and
    /// meta-arguments, and explicit `depends_on`.
    pub fn dependencies(&self) -> Vec<&Address> {
        let mut out: Vec<&Address> = self.attrs.values().flat_map(Expr::references).collect();
        out.extend(self.count.iter().flat_map(Expr::references));
        out.extend(self.for_each.iter().flat_map(Expr::references));
        out.extend(self.depends_on.iter());
        out
    }

    /// The explicit `depends_on` targets only.
    pub(crate) fn explicit_depends_on(&self) -> &[Address] {
        &self.depends_on
    }

    pub(crate) fn attr_exprs(&self) -> impl Iterator<Item = &Expr> {
        self.attrs
            .values()
            .chain(self.count.iter())
            .chain(self.for_each.iter())
    }

    pub(crate) fn overrides(&self) -> &[Override] {
        &self.overrides
    }

    /// The block body as Terraform JSON, overrides applied.
    pub fn to_json(&self) -> Result<Value, String> {
        let mut body: Map<String, Value> = self
            .attrs
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect();
        if let Some(count) = &self.count {
            body.insert("count".into(), count.to_json());
        }
        if let Some(for_each) = &self.for_each {
            body.insert("for_each".into(), for_each.to_json());
        }
        if !self.depends_on.is_empty() {
            let deps = self
                .depends_on
                .iter()
                .map(|a| Value::String(a.to_string()))
                .collect();
            body.insert("depends_on".into(), Value::Array(deps));
        }
        if let Some(provider) = &self.provider {
            body.insert("provider".into(), Value::String(provider.to_string()));
        }
        if let Some(lifecycle) = self.lifecycle.to_json() {
            body.insert("lifecycle".into(), lifecycle);
        }
        let mut body = Value::Object(body);
        for o in &self.overrides {
            apply_override(&mut body, &o.path, o.value.as_ref().map(Expr::to_json))?;
        }
        Ok(body)
    }
}

/// Sets (or with `None`, removes) a dotted path inside a JSON value, creating
/// objects on the way. A numeric part indexes an existing array.
pub(crate) fn apply_override(
    root: &mut Value,
    path: &str,
    value: Option<Value>,
) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("override path `{path}` has an empty part"));
    }
    let (last, parents) = parts.split_last().ok_or("empty override path")?;
    let mut node = root;
    for part in parents {
        node = match node {
            Value::Array(items) => {
                let i: usize = part.parse().map_err(|_| {
                    format!("override path `{path}`: `{part}` indexes a list but is not a number")
                })?;
                let len = items.len();
                items.get_mut(i).ok_or_else(|| {
                    format!("override path `{path}`: index {i} is past the end of a list of {len}")
                })?
            }
            Value::Object(map) => map
                .entry((*part).to_owned())
                .or_insert_with(|| Value::Object(Map::new())),
            _ => {
                return Err(format!(
                    "override path `{path}`: `{part}` is inside a scalar value"
                ))
            }
        };
    }
    match (node, value) {
        (Value::Object(map), Some(v)) => {
            map.insert((*last).to_owned(), v);
        }
        (Value::Object(map), None) => {
            map.remove(*last);
        }
        (Value::Array(items), value) => {
            let i: usize = last.parse().map_err(|_| {
                format!("override path `{path}`: `{last}` indexes a list but is not a number")
            })?;
            if i >= items.len() {
                return Err(format!(
                    "override path `{path}`: index {i} is past the end of a list of {}",
                    items.len()
                ));
            }
            match value {
                Some(v) => items[i] = v,
                None => {
                    items.remove(i);
                }
            }
        }
        _ => return Err(format!("override path `{path}` ends inside a scalar value")),
    }
    Ok(())
}

/// An entry of `terraform.required_providers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredProvider {
    pub source: String,
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

    pub fn to_json(&self) -> Value {
        let mut body: Map<String, Value> = self
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect();
        if let Some(alias) = &self.alias {
            body.insert("alias".into(), Value::String(alias.clone()));
        }
        Value::Object(body)
    }
}

/// A `variable` block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Variable {
    ty: Option<String>,
    default: Option<Expr>,
    description: Option<String>,
    sensitive: bool,
    nullable: Option<bool>,
    validations: Vec<(Expr, String)>,
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
    pub fn description(mut self, text: &str) -> Self {
        self.description = Some(text.to_owned());
        self
    }

    #[must_use]
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
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
        self.validations
            .push((condition.into(), error_message.to_owned()));
        self
    }

    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        if let Some(ty) = &self.ty {
            // Terraform's JSON syntax reads `type` as a bare type expression.
            body.insert("type".into(), Value::String(ty.clone()));
        }
        if let Some(default) = &self.default {
            body.insert("default".into(), default.to_json());
        }
        if let Some(description) = &self.description {
            body.insert("description".into(), Value::String(description.clone()));
        }
        if self.sensitive {
            body.insert("sensitive".into(), Value::Bool(true));
        }
        if let Some(nullable) = self.nullable {
            body.insert("nullable".into(), Value::Bool(nullable));
        }
        if !self.validations.is_empty() {
            let blocks = self
                .validations
                .iter()
                .map(|(condition, message)| {
                    let mut v = Map::new();
                    v.insert("condition".into(), condition_json(condition));
                    v.insert("error_message".into(), Value::String(message.clone()));
                    Value::Object(v)
                })
                .collect();
            body.insert("validation".into(), Value::Array(blocks));
        }
        Value::Object(body)
    }
}

/// Conditions are expressions: a literal is wrapped so it is never a template.
fn condition_json(condition: &Expr) -> Value {
    match condition {
        Expr::Raw(hcl) => Value::String(format!("${{{hcl}}}")),
        other => Value::String(format!("${{{}}}", other.to_hcl())),
    }
}

/// An `output` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    value: Expr,
    description: Option<String>,
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

    #[must_use]
    pub fn description(mut self, text: &str) -> Self {
        self.description = Some(text.to_owned());
        self
    }

    #[must_use]
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    pub fn value(&self) -> &Expr {
        &self.value
    }

    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert("value".into(), self.value.to_json());
        if let Some(description) = &self.description {
            body.insert("description".into(), Value::String(description.clone()));
        }
        if self.sensitive {
            body.insert("sensitive".into(), Value::Bool(true));
        }
        Value::Object(body)
    }
}

/// The `terraform.backend` block: where state lives.
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    kind: String,
    config: BTreeMap<String, Expr>,
}

impl Backend {
    /// Any backend type with its settings.
    pub fn new(kind: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            config: BTreeMap::new(),
        }
    }

    /// State in a local file, relative to the module directory.
    pub fn local(path: &str) -> Self {
        Self::new("local").set("path", path)
    }

    /// State in an S3 object, encrypted, locked with a lock file beside it.
    pub fn s3(bucket: &str, key: &str, region: &str) -> Self {
        Self::new("s3")
            .set("bucket", bucket)
            .set("key", key)
            .set("region", region)
            .set("encrypt", true)
            .set("use_lockfile", true)
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

    pub fn to_json(&self) -> Value {
        let body: Map<String, Value> = self
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect();
        let mut outer = Map::new();
        outer.insert(self.kind.clone(), Value::Object(body));
        Value::Object(outer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn meta_arguments_render_beside_attributes() {
        let mut r = Resource::new(Mode::Managed, "aws_subnet", "private");
        r.set("cidr_block", "10.0.0.0/24")
            .count(3)
            .depends_on(Address::resource("aws_vpc", "main"))
            .provider_alias("aws", "east")
            .lifecycle(
                Lifecycle::new()
                    .prevent_destroy()
                    .create_before_destroy()
                    .ignore_changes(["tags"]),
            );
        assert_eq!(
            r.to_json().unwrap(),
            json!({
                "cidr_block": "10.0.0.0/24",
                "count": 3,
                "depends_on": ["aws_vpc.main"],
                "provider": "aws.east",
                "lifecycle": {"prevent_destroy": true, "create_before_destroy": true, "ignore_changes": ["tags"]}
            })
        );
    }

    #[test]
    fn overrides_set_and_remove_paths() {
        let mut r = Resource::new(Mode::Managed, "aws_security_group", "sg");
        r.push_block("ingress", Expr::object([("from_port", 80)]))
            .push_block("ingress", Expr::object([("from_port", 443)]))
            .override_path("ingress.1.description", "https")
            .override_path("timeouts.create", "30m")
            .remove_path("ingress.0.from_port");
        assert_eq!(
            r.to_json().unwrap(),
            json!({
                "ingress": [{}, {"from_port": 443, "description": "https"}],
                "timeouts": {"create": "30m"}
            })
        );
    }

    #[test]
    fn bad_override_paths_are_errors() {
        let mut r = Resource::new(Mode::Managed, "t_x", "a");
        r.set("list", Expr::list([1])).override_path("list.5.x", 1);
        assert!(r.to_json().unwrap_err().contains("index 5 is past the end"));
        let mut r = Resource::new(Mode::Managed, "t_x", "a");
        r.set("n", 1).override_path("n.x", 1);
        assert!(r.to_json().unwrap_err().contains("inside a scalar"));
    }

    #[test]
    fn provider_defaults_to_the_type_prefix() {
        let r = Resource::new(Mode::Data, "aws_region", "current");
        assert_eq!(r.provider_ref().to_string(), "aws");
        assert_eq!(r.address().to_string(), "data.aws_region.current");
    }

    #[test]
    fn variables_render_types_as_expressions() {
        let v = Variable::new()
            .ty("list(string)")
            .default(Expr::list(["a"]))
            .description("d")
            .sensitive()
            .validation(Expr::raw("length(var.x) > 0"), "must not be empty");
        assert_eq!(
            v.to_json(),
            json!({
                "type": "list(string)",
                "default": ["a"],
                "description": "d",
                "sensitive": true,
                "validation": [{"condition": "${length(var.x) > 0}", "error_message": "must not be empty"}]
            })
        );
    }

    #[test]
    fn s3_backend_locks_and_encrypts() {
        let b = Backend::s3("bucket", "envs/staging/terraform.tfstate", "eu-west-1");
        assert_eq!(
            b.to_json(),
            json!({"s3": {"bucket": "bucket", "key": "envs/staging/terraform.tfstate",
                          "region": "eu-west-1", "encrypt": true, "use_lockfile": true}})
        );
    }
}
