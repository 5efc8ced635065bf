//! Resources and data sources: attributes, meta-arguments, overrides, and
//! what keeps a resource's state across refactorings (its former addresses,
//! the existing object it adopts).
//!
//! [`Resource::override_path`] is the escape hatch that edits the rendered
//! JSON directly, as CDKTF's `addOverride` does.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{type_provider, Lifecycle, Mode, ProviderRef};
use crate::error::OverrideError;
use crate::expr::{Address, Expr};

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
    /// Former addresses, oldest first (`moved` blocks).
    moved_from: Vec<Address>,
    /// The ID of an existing object to adopt (an `import` block).
    import: Option<Expr>,
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
            moved_from: Vec::new(),
            import: None,
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

    /// Asks terraform to refuse any plan that destroys this resource
    /// (`lifecycle.prevent_destroy`), keeping the rest of its lifecycle.
    pub fn prevent_destroy(&mut self) -> &mut Self {
        let lifecycle = std::mem::take(&mut self.lifecycle);
        self.lifecycle = lifecycle.prevent_destroy();
        self
    }

    /// This resource used to be `ty.name`: synthesizes a `moved` block, so
    /// terraform moves the state it has under that address here instead of
    /// destroying that object and creating this one. For a construct
    /// renamed more than once, call it once per former address, oldest
    /// first: the moves are chained (`a` to `b`, `b` to this), which is right
    /// whichever of them an environment's state still uses.
    pub fn moved_from(&mut self, ty: &str, name: &str) -> &mut Self {
        self.moved_from.push(Address::resource(ty, name));
        self
    }

    /// Adopts an object that already exists, by the ID its provider imports
    /// it with: synthesizes an `import` block, so the next apply takes it
    /// into state instead of creating it. Once imported, terraform ignores
    /// the block; it can stay as a record of where the object came from.
    pub fn import_from(&mut self, id: impl Into<Expr>) -> &mut Self {
        self.import = Some(id.into());
        self
    }

    /// The addresses this resource used to have, oldest first.
    pub fn former_addresses(&self) -> &[Address] {
        &self.moved_from
    }

    /// The ID of the existing object this resource adopts, if any.
    pub fn import_id(&self) -> Option<&Expr> {
        self.import.as_ref()
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

    /// Whether the block has `count` or `for_each`: many instances.
    pub(crate) fn is_repeated(&self) -> bool {
        self.count.is_some() || self.for_each.is_some()
    }

    /// The `provider` meta-argument, when one is set.
    pub(crate) fn explicit_provider(&self) -> Option<&ProviderRef> {
        self.provider.as_ref()
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

    /// Gives the block another name (see [`crate::App::rename_resource`]).
    pub(crate) fn set_name(&mut self, name: &str) {
        name.clone_into(&mut self.name);
    }

    /// Points every reference to `from` this block makes, in attributes,
    /// meta-arguments, overrides and its import ID, at `to`.
    pub(crate) fn rename_references(&mut self, from: &Address, to: &Address) {
        let exprs = self
            .attrs
            .values_mut()
            .chain(self.count.iter_mut())
            .chain(self.for_each.iter_mut())
            .chain(self.import.iter_mut())
            .chain(self.overrides.iter_mut().filter_map(|o| o.value.as_mut()));
        for expr in exprs {
            expr.rename_references(from, to);
        }
        for target in &mut self.depends_on {
            if target == from {
                *target = to.clone();
            }
        }
    }

    pub(crate) fn overrides(&self) -> &[Override] {
        &self.overrides
    }

    /// The block body as Terraform JSON, overrides applied.
    pub fn to_json(&self) -> Result<Value, OverrideError> {
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
        if !self.lifecycle.is_empty() {
            body.insert("lifecycle".into(), crate::json::to_value(&self.lifecycle));
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
) -> Result<(), OverrideError> {
    let fail = |problem: String| OverrideError {
        path: path.to_owned(),
        problem,
    };
    let parts: Vec<&str> = path.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(fail("has an empty part".into()));
    }
    let (last, parents) = parts.split_last().ok_or_else(|| fail("is empty".into()))?;
    let index = |part: &str, len: usize| -> Result<usize, OverrideError> {
        let i: usize = part
            .parse()
            .map_err(|_| fail(format!("`{part}` indexes a list but is not a number")))?;
        if i >= len {
            return Err(fail(format!(
                "index {i} is past the end of a list of {len}"
            )));
        }
        Ok(i)
    };
    let mut node = root;
    for part in parents {
        node = match node {
            Value::Array(items) => {
                let i = index(part, items.len())?;
                &mut items[i]
            }
            Value::Object(map) => map
                .entry((*part).to_owned())
                .or_insert_with(|| Value::Object(Map::new())),
            _ => return Err(fail(format!("`{part}` is inside a scalar value"))),
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
            let i = index(last, items.len())?;
            match value {
                Some(v) => items[i] = v,
                None => {
                    items.remove(i);
                }
            }
        }
        _ => return Err(fail("ends inside a scalar value".into())),
    }
    Ok(())
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
        assert!(r
            .to_json()
            .unwrap_err()
            .to_string()
            .contains("index 5 is past the end"));
        let mut r = Resource::new(Mode::Managed, "t_x", "a");
        r.set("n", 1).override_path("n.x", 1);
        assert!(r
            .to_json()
            .unwrap_err()
            .to_string()
            .contains("inside a scalar"));
    }

    #[test]
    fn prevent_destroy_keeps_the_rest_of_the_lifecycle() {
        let mut r = Resource::new(Mode::Managed, "aws_eks_node_group", "general");
        r.ignore_changes(["scaling_config[0].desired_size"])
            .prevent_destroy();
        assert_eq!(
            r.to_json().unwrap()["lifecycle"],
            json!({"prevent_destroy": true, "ignore_changes": ["scaling_config[0].desired_size"]})
        );
    }

    #[test]
    fn renamed_references_reach_meta_arguments_overrides_and_the_import_id() {
        let old = Address::resource("aws_kms_key", "logs");
        let new = Address::resource("aws_kms_key", "log_key");
        let key = Expr::reference(old.clone());
        let mut r = Resource::new(Mode::Managed, "aws_cloudwatch_log_group", "flow");
        r.set("kms_key_id", key.clone().attr("arn"))
            .count(Expr::call("length", [key.clone().attr("tags")]))
            .depends_on(old.clone())
            .override_path("x", key.clone().attr("id"))
            .import_from(key.attr("key_id"));
        r.rename_references(&old, &new);
        let body = r.to_json().unwrap();
        assert_eq!(body["kms_key_id"], "${aws_kms_key.log_key.arn}");
        assert_eq!(body["count"], "${length(aws_kms_key.log_key.tags)}");
        assert_eq!(body["depends_on"], json!(["aws_kms_key.log_key"]));
        assert_eq!(body["x"], "${aws_kms_key.log_key.id}");
        assert_eq!(
            r.import_id().unwrap().to_json(),
            "${aws_kms_key.log_key.key_id}"
        );
    }

    #[test]
    fn provider_defaults_to_the_type_prefix() {
        let r = Resource::new(Mode::Data, "aws_region", "current");
        assert_eq!(r.provider_ref().to_string(), "aws");
        assert_eq!(r.address().to_string(), "data.aws_region.current");
    }
}
