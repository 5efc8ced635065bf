//! Provider schemas, and checking rendered blocks against them.
//!
//! The format is the one `terraform providers schema -json` prints, so a
//! committed subset of a real provider's schema can be loaded as is. Checking
//! happens on the rendered JSON of each block, after overrides, which is
//! exactly what terraform will read: a misspelled attribute, a missing
//! required one, a read-only one set, or a wrongly shaped value fails
//! synthesis instead of `terraform plan`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// Meta-arguments terraform accepts in every resource and data block.
pub const META_ARGUMENTS: &[&str] = &[
    "count",
    "for_each",
    "depends_on",
    "provider",
    "lifecycle",
    "provisioner",
    "connection",
];

#[derive(Debug, Clone, Deserialize)]
struct SchemaFile {
    provider_schemas: BTreeMap<String, ProviderSchema>,
}

// The model below is public and read-only in spirit, so generators (typed
// builders) read the same parse the checks use instead of a second one.

/// The schema of one provider: its configuration block, resources, data sources.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProviderSchema {
    #[serde(default)]
    pub provider: Option<TypedBlock>,
    #[serde(default)]
    pub resource_schemas: BTreeMap<String, TypedBlock>,
    #[serde(default)]
    pub data_source_schemas: BTreeMap<String, TypedBlock>,
}

/// A top-level block's schema (terraform wraps it with a version).
#[derive(Debug, Clone, Deserialize)]
pub struct TypedBlock {
    pub block: Block,
}

/// The body of a block: its attributes and nested block types.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Block {
    #[serde(default)]
    pub attributes: BTreeMap<String, Attribute>,
    #[serde(default)]
    pub block_types: BTreeMap<String, NestedBlock>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub deprecated: bool,
}

/// One attribute: a type (terraform's type syntax as JSON) or a nested type.
#[derive(Debug, Clone, Deserialize)]
pub struct Attribute {
    #[serde(rename = "type")]
    pub ty: Option<Value>,
    pub nested_type: Option<NestedType>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub optional: bool,
    #[serde(default)]
    pub computed: bool,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub deprecated: bool,
}

impl Attribute {
    /// Read-only: computed by the provider, never set in configuration.
    pub fn is_read_only(&self) -> bool {
        self.computed && !self.optional && !self.required
    }
}

/// The attributes of a nested attribute type (plugin-framework providers).
#[derive(Debug, Clone, Deserialize)]
pub struct NestedType {
    pub attributes: BTreeMap<String, Attribute>,
    /// `single`, `list`, `set` or `map`.
    pub nesting_mode: String,
}

/// A nested block type.
#[derive(Debug, Clone, Deserialize)]
pub struct NestedBlock {
    /// `single`, `group`, `list`, `set` or `map`.
    pub nesting_mode: String,
    pub block: Block,
    #[serde(default)]
    pub min_items: u64,
    /// 0 when unbounded.
    #[serde(default)]
    pub max_items: u64,
}

/// Which kind of block a body belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    Provider,
    Resource,
    Data,
}

/// Provider schemas by provider local name (`aws`, `helm`).
#[derive(Debug, Clone, Default)]
pub struct Schemas {
    providers: BTreeMap<String, ProviderSchema>,
}

impl Schemas {
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads every provider of a `terraform providers schema -json` document;
    /// each is known by the last part of its source address (`…/hashicorp/aws` → `aws`).
    pub fn add_json(&mut self, json: &str) -> Result<(), serde_json::Error> {
        let file: SchemaFile = serde_json::from_str(json)?;
        for (source, schema) in file.provider_schemas {
            let name = source.rsplit('/').next().unwrap_or(&source).to_owned();
            self.providers.insert(name, schema);
        }
        Ok(())
    }

    pub fn from_json_str(json: &str) -> Result<Self, serde_json::Error> {
        let mut schemas = Self::new();
        schemas.add_json(json)?;
        Ok(schemas)
    }

    /// Every loaded provider schema by local name, in name order.
    pub fn providers(&self) -> impl Iterator<Item = (&str, &ProviderSchema)> {
        self.providers
            .iter()
            .map(|(name, schema)| (name.as_str(), schema))
    }

    /// Whether a schema for this provider is loaded (blocks of other providers are not checked).
    pub fn has_provider(&self, provider: &str) -> bool {
        self.providers.contains_key(provider)
    }

    /// Checks one rendered block body; returns a message per problem found,
    /// each naming the attribute path. `None` when the provider is unknown here.
    pub fn check(
        &self,
        provider: &str,
        kind: BlockKind,
        ty: &str,
        body: &Value,
    ) -> Option<Vec<String>> {
        let schema = self.providers.get(provider)?;
        let block = match kind {
            BlockKind::Provider => schema.provider.as_ref().map(|b| &b.block),
            BlockKind::Resource => schema.resource_schemas.get(ty).map(|b| &b.block),
            BlockKind::Data => schema.data_source_schemas.get(ty).map(|b| &b.block),
        };
        let Some(block) = block else {
            let known: Vec<&String> = match kind {
                BlockKind::Resource => schema.resource_schemas.keys().collect(),
                BlockKind::Data => schema.data_source_schemas.keys().collect(),
                BlockKind::Provider => Vec::new(),
            };
            let what = if kind == BlockKind::Data {
                "data source"
            } else {
                "resource"
            };
            return Some(vec![format!(
                "{what} type `{ty}` is not in the {provider} provider schema{}",
                did_you_mean(ty, known.iter().map(|s| s.as_str()))
            )]);
        };
        let mut errors = Vec::new();
        let skip: &[&str] = match kind {
            BlockKind::Provider => &["alias"],
            _ => META_ARGUMENTS,
        };
        check_block(block, body, "", skip, &mut errors);
        Some(errors)
    }

    /// Whether `attr` exists on blocks of this type (for references like
    /// `aws_vpc.main.id`); `None` when there is no schema to tell.
    pub fn has_attribute(
        &self,
        provider: &str,
        kind: BlockKind,
        ty: &str,
        attr: &str,
    ) -> Option<bool> {
        let schema = self.providers.get(provider)?;
        let block = match kind {
            BlockKind::Resource => &schema.resource_schemas.get(ty)?.block,
            BlockKind::Data => &schema.data_source_schemas.get(ty)?.block,
            BlockKind::Provider => return None,
        };
        Some(block.attributes.contains_key(attr) || block.block_types.contains_key(attr))
    }

    /// Suggestion text for an unknown attribute of a type, for error messages.
    pub fn suggest_attribute(
        &self,
        provider: &str,
        kind: BlockKind,
        ty: &str,
        attr: &str,
    ) -> String {
        let Some(schema) = self.providers.get(provider) else {
            return String::new();
        };
        let block = match kind {
            BlockKind::Resource => schema.resource_schemas.get(ty),
            BlockKind::Data => schema.data_source_schemas.get(ty),
            BlockKind::Provider => schema.provider.as_ref(),
        };
        block.map_or_else(String::new, |b| {
            did_you_mean(
                attr,
                b.block
                    .attributes
                    .keys()
                    .chain(b.block.block_types.keys())
                    .map(String::as_str),
            )
        })
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// A whole-value interpolation (or any template) whose result is unknown at synth time.
fn is_dynamic(value: &Value) -> bool {
    match value {
        Value::String(s) => contains_interpolation(s),
        _ => false,
    }
}

fn contains_interpolation(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if (bytes[i] == b'$' || bytes[i] == b'%') && bytes[i + 1] == b'{' {
            // `$${` is an escaped literal, not an interpolation.
            if i > 0 && bytes[i - 1] == bytes[i] {
                i += 2;
                continue;
            }
            return true;
        }
        i += 1;
    }
    false
}

fn check_block(block: &Block, body: &Value, path: &str, skip: &[&str], errors: &mut Vec<String>) {
    if is_dynamic(body) {
        return;
    }
    let Value::Object(map) = body else {
        errors.push(format!(
            "`{path}` must be a block (a JSON object), found {}",
            kind_of(body)
        ));
        return;
    };
    for (key, value) in map {
        if skip.contains(&key.as_str()) {
            continue;
        }
        let here = join(path, key);
        if let Some(attr) = block.attributes.get(key) {
            check_attribute(attr, value, &here, errors);
        } else if let Some(nested) = block.block_types.get(key) {
            check_nested_block(nested, value, &here, errors);
        } else {
            errors.push(format!(
                "unknown attribute `{here}`{}",
                did_you_mean(
                    key,
                    block
                        .attributes
                        .keys()
                        .chain(block.block_types.keys())
                        .map(String::as_str)
                )
            ));
        }
    }
    for (name, attr) in &block.attributes {
        if attr.required && !map.contains_key(name) {
            errors.push(format!("missing required attribute `{}`", join(path, name)));
        }
    }
    for (name, nested) in &block.block_types {
        if nested.min_items > 0 && !map.contains_key(name) {
            errors.push(format!("missing required block `{}`", join(path, name)));
        }
    }
}

fn check_attribute(attr: &Attribute, value: &Value, path: &str, errors: &mut Vec<String>) {
    if attr.is_read_only() {
        errors.push(format!(
            "`{path}` is read-only (computed by the provider) and cannot be set"
        ));
        return;
    }
    if value.is_null() || is_dynamic(value) {
        return;
    }
    if let Some(nested) = &attr.nested_type {
        check_nested_attribute(nested, value, path, errors);
    } else if let Some(ty) = &attr.ty {
        check_type(ty, value, path, errors);
    }
}

fn check_nested_attribute(
    nested: &NestedType,
    value: &Value,
    path: &str,
    errors: &mut Vec<String>,
) {
    let block = Block {
        attributes: nested.attributes.clone(),
        ..Block::default()
    };
    match nested.nesting_mode.as_str() {
        "single" => check_block(&block, value, path, &[], errors),
        "map" => match value {
            Value::Object(map) => {
                for (k, v) in map {
                    check_block(&block, v, &join(path, k), &[], errors);
                }
            }
            other => errors.push(format!(
                "`{path}` must be a map of objects, found {}",
                kind_of(other)
            )),
        },
        _ => match value {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    check_block(&block, item, &format!("{path}.{i}"), &[], errors);
                }
            }
            other => errors.push(format!(
                "`{path}` must be a list of objects, found {}",
                kind_of(other)
            )),
        },
    }
}

fn check_nested_block(nested: &NestedBlock, value: &Value, path: &str, errors: &mut Vec<String>) {
    if is_dynamic(value) {
        return;
    }
    match (nested.nesting_mode.as_str(), value) {
        ("map", Value::Object(map)) => {
            for (k, v) in map {
                check_block(&nested.block, v, &join(path, k), &[], errors);
            }
        }
        (_, Value::Array(items)) => {
            let n = items.len() as u64;
            if n < nested.min_items {
                errors.push(format!(
                    "`{path}` needs at least {} block(s), found {n}",
                    nested.min_items
                ));
            }
            if nested.max_items > 0 && n > nested.max_items {
                errors.push(format!(
                    "`{path}` allows at most {} block(s), found {n}",
                    nested.max_items
                ));
            }
            for (i, item) in items.iter().enumerate() {
                check_block(&nested.block, item, &format!("{path}.{i}"), &[], errors);
            }
        }
        (_, Value::Object(_)) => check_block(&nested.block, value, path, &[], errors),
        (_, other) => errors.push(format!(
            "`{path}` must be a block (a JSON object), found {}",
            kind_of(other)
        )),
    }
}

fn check_type(ty: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    if value.is_null() || is_dynamic(value) {
        return;
    }
    match ty {
        Value::String(primitive) => {
            let ok = match primitive.as_str() {
                // Terraform converts between strings, numbers and bools.
                "string" | "number" | "bool" => !value.is_array() && !value.is_object(),
                _ => true,
            };
            if !ok {
                errors.push(format!(
                    "`{path}` must be a {primitive}, found {}",
                    kind_of(value)
                ));
            }
        }
        Value::Array(parts) => {
            let kind = parts.first().and_then(Value::as_str).unwrap_or("");
            let inner = parts.get(1).unwrap_or(&Value::Null);
            match (kind, value) {
                ("list" | "set", Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        check_type(inner, item, &format!("{path}.{i}"), errors);
                    }
                }
                ("map", Value::Object(map)) => {
                    for (k, v) in map {
                        check_type(inner, v, &join(path, k), errors);
                    }
                }
                ("object", Value::Object(map)) => {
                    if let Value::Object(fields) = inner {
                        for (k, v) in map {
                            match fields.get(k) {
                                Some(field_ty) => check_type(field_ty, v, &join(path, k), errors),
                                None => errors.push(format!(
                                    "unknown attribute `{}`{}",
                                    join(path, k),
                                    did_you_mean(k, fields.keys().map(String::as_str))
                                )),
                            }
                        }
                    }
                }
                ("tuple", Value::Array(_)) => {}
                ("list" | "set" | "tuple", other) => {
                    errors.push(format!("`{path}` must be a list, found {}", kind_of(other)));
                }
                ("map" | "object", other) => {
                    errors.push(format!(
                        "`{path}` must be an object, found {}",
                        kind_of(other)
                    ));
                }
                _ => {}
            }
        }
        _ => {}
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// ` (did you mean `x`?)` for the closest candidate within a small edit distance.
pub fn did_you_mean<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    let limit = (name.len() / 3).max(2);
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit && *d < name.len())
        .min()
        .map_or_else(String::new, |(_, c)| format!(" (did you mean `{c}`?)"))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schemas() -> Schemas {
        let doc = json!({
            "format_version": "1.0",
            "provider_schemas": {
                "registry.terraform.io/hashicorp/aws": {
                    "provider": {"block": {"attributes": {"region": {"type": "string", "optional": true}}}},
                    "resource_schemas": {
                        "aws_vpc": {"block": {
                            "attributes": {
                                "id": {"type": "string", "computed": true, "optional": true},
                                "arn": {"type": "string", "computed": true},
                                "cidr_block": {"type": "string", "required": true},
                                "enable_dns_hostnames": {"type": "bool", "optional": true},
                                "tags": {"type": ["map", "string"], "optional": true},
                                "ids": {"type": ["list", "string"], "optional": true},
                                "obj": {"type": ["object", {"a": "string"}], "optional": true},
                                "kube": {"nested_type": {"nesting_mode": "single",
                                    "attributes": {"host": {"type": "string", "optional": true}}}, "optional": true}
                            },
                            "block_types": {
                                "timeouts": {"nesting_mode": "single", "block": {"attributes": {"create": {"type": "string", "optional": true}}}},
                                "rule": {"nesting_mode": "list", "max_items": 1, "min_items": 1,
                                          "block": {"attributes": {"name": {"type": "string", "required": true}}}}
                            }
                        }}
                    },
                    "data_source_schemas": {}
                }
            }
        });
        Schemas::from_json_str(&doc.to_string()).unwrap()
    }

    fn check(body: Value) -> Vec<String> {
        schemas()
            .check("aws", BlockKind::Resource, "aws_vpc", &body)
            .unwrap()
    }

    #[test]
    fn a_correct_block_passes() {
        let errors = check(json!({
            "cidr_block": "10.0.0.0/16", "enable_dns_hostnames": true,
            "tags": {"Name": "x"}, "rule": {"name": "r"}, "count": 2,
            "timeouts": {"create": "5m"}, "kube": {"host": "${aws_eks_cluster.x.endpoint}"},
            "lifecycle": {"ignore_changes": ["tags"]}
        }));
        assert_eq!(errors, Vec::<String>::new());
    }

    #[test]
    fn misspelled_attribute_is_named_with_a_suggestion() {
        let errors =
            check(json!({"cidr_block": "x", "enable_dns_hostname": true, "rule": {"name": "r"}}));
        assert_eq!(
            errors,
            ["unknown attribute `enable_dns_hostname` (did you mean `enable_dns_hostnames`?)"]
        );
    }

    #[test]
    fn missing_required_attribute_and_block() {
        let errors = check(json!({}));
        assert_eq!(
            errors,
            [
                "missing required attribute `cidr_block`",
                "missing required block `rule`"
            ]
        );
    }

    #[test]
    fn nested_problems_carry_their_path() {
        let errors = check(json!({
            "cidr_block": "x", "rule": [{"nme": "r"}], "kube": {"hots": "h"}, "obj": {"b": "1"}
        }));
        assert_eq!(
            errors,
            [
                "unknown attribute `kube.hots` (did you mean `host`?)",
                "unknown attribute `obj.b`",
                "unknown attribute `rule.0.nme` (did you mean `name`?)",
                "missing required attribute `rule.0.name`",
            ]
        );
    }

    #[test]
    fn read_only_and_shape_errors() {
        let errors = check(json!({
            "cidr_block": ["a"], "arn": "x", "tags": "plain", "rule": [{"name": "a"}, {"name": "b"}]
        }));
        assert_eq!(
            errors,
            [
                "`arn` is read-only (computed by the provider) and cannot be set",
                "`cidr_block` must be a string, found a list",
                "`rule` allows at most 1 block(s), found 2",
                "`tags` must be an object, found a string",
            ]
        );
    }

    #[test]
    fn interpolations_are_not_type_checked_but_escaped_literals_are() {
        assert!(
            check(json!({"cidr_block": "x", "rule": {"name": "r"}, "tags": "${local.tags}"}))
                .is_empty()
        );
        let errors =
            check(json!({"cidr_block": "x", "rule": {"name": "r"}, "tags": "$${local.tags}"}));
        assert_eq!(errors, ["`tags` must be an object, found a string"]);
    }

    #[test]
    fn unknown_types_are_reported() {
        let errors = schemas()
            .check("aws", BlockKind::Resource, "aws_vcp", &json!({}))
            .unwrap();
        assert_eq!(
            errors,
            ["resource type `aws_vcp` is not in the aws provider schema (did you mean `aws_vpc`?)"]
        );
        assert!(schemas()
            .check("helm", BlockKind::Resource, "helm_release", &json!({}))
            .is_none());
    }

    #[test]
    fn provider_blocks_are_checked() {
        let s = schemas();
        let errors = s
            .check(
                "aws",
                BlockKind::Provider,
                "",
                &json!({"region": "x", "alias": "a", "regoin": "y"}),
            )
            .unwrap();
        assert_eq!(
            errors,
            ["unknown attribute `regoin` (did you mean `region`?)"]
        );
    }
}
