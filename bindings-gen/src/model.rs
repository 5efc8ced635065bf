//! What gets generated, worked out from a schema before any code is written:
//! one [`Module`] per block type, holding the [`Item`]s (structs) of the block
//! and of every nested block, nested attribute and object type inside it.
//!
//! The rendering convention lives here, in [`BlockShape::of`], so the emitter
//! and the tests that hold it against the golden files share one rule.

use std::collections::BTreeSet;

use serde_json::Value as Json;
use synth::schema::{Attribute, Block, NestedBlock, NestedType};

use crate::names::{camel, ident, is_reserved_type};

/// A setter or accessor name: `new` is the builders' constructor.
fn field_ident(name: &str) -> String {
    match ident(name) {
        n if n == "new" => "new_".to_owned(),
        n => n,
    }
}

/// Two schema names that map to one Rust name (`a-b`, `a_b`) cannot both
/// have a method.
fn check_unique(fields: &[Field], path: &str) -> Result<(), GenError> {
    let mut seen = BTreeSet::new();
    for field in fields {
        if !seen.insert(field.ident.as_str()) {
            return Err(GenError::Schema {
                path: format!("{path}.{}", field.tf_name),
                reason: format!("another attribute is also named `{}` in Rust", field.ident),
            });
        }
    }
    Ok(())
}
use crate::GenError;

/// A terraform type, with object types resolved to the item generated for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    String,
    Number,
    Bool,
    Dynamic,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    /// An object; the index of its item in the module.
    Object(usize),
}

/// How a nested block is set, from its nesting mode and `max_items`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockShape {
    /// At most one block (`single`, `group`, or `list`/`set` with
    /// `max_items = 1`): the setter takes one block, rendered as a JSON object.
    Single,
    /// Any number (`list`/`set`): one block renders as a JSON object, a list
    /// of blocks as a JSON list of objects (both are one terraform meaning).
    Repeatable,
    /// `map`: one block per key, rendered as a JSON object of objects.
    Map,
}

impl BlockShape {
    pub fn of(nested: &NestedBlock) -> Result<Self, String> {
        match nested.nesting_mode.as_str() {
            "single" | "group" => Ok(Self::Single),
            "list" | "set" if nested.max_items == 1 => Ok(Self::Single),
            "list" | "set" => Ok(Self::Repeatable),
            "map" => Ok(Self::Map),
            other => Err(format!("unknown nesting mode `{other}`")),
        }
    }
}

/// Which kind of top-level block a module is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleKind {
    Resource,
    DataSource,
    Provider,
}

/// Where an item comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Top,
    Block,
    /// A nested attribute type or an `object(...)` type.
    Object,
}

/// One struct (and its reference struct): a block, a nested block, or an object.
#[derive(Debug, Clone)]
pub struct Item {
    /// The Rust type name; the reference type is `<name>Ref`.
    pub name: String,
    /// `aws_eks_cluster.vpc_config`, for doc comments and errors.
    pub path: String,
    pub origin: Origin,
    pub description: Option<String>,
    pub fields: Vec<Field>,
    /// A builder is generated where the item can be set in configuration.
    pub builder: bool,
    /// A reference type with accessors is generated where it can be read.
    pub reference: bool,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub tf_name: String,
    pub ident: String,
    pub kind: FieldKind,
    pub required: bool,
    /// Has a setter (not computed-only).
    pub settable: bool,
    pub computed: bool,
    pub deprecated: bool,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub enum FieldKind {
    /// An attribute (nested attributes included), set and read as `ty`.
    Attribute(Type),
    /// A nested block: set per `shape`, read as `read` (a list of objects
    /// for `list` nesting even with `max_items = 1`: `metadata[0].name`).
    Block {
        shape: BlockShape,
        item: usize,
        read: Type,
        min_items: u64,
        max_items: u64,
    },
}

/// The generated code of one block type: a file.
#[derive(Debug, Clone)]
pub struct Module {
    /// The module (file) name: `vpc`, `data_caller_identity`, `provider`.
    pub name: String,
    pub kind: ModuleKind,
    /// The terraform type (`aws_vpc`), or the provider name for its configuration.
    pub tf_type: String,
    /// `items[0]` is the top-level block.
    pub items: Vec<Item>,
}

impl Module {
    /// Plans the module of one top-level block.
    pub fn plan(
        name: String,
        kind: ModuleKind,
        tf_type: &str,
        block: &Block,
    ) -> Result<Self, GenError> {
        let top_name = match kind {
            ModuleKind::Provider => "Provider".to_owned(),
            ModuleKind::DataSource => format!("Data{}", camel(&name["data_".len()..])),
            ModuleKind::Resource => camel(&name),
        };
        let mut planner = Planner {
            items: Vec::new(),
            taken: BTreeSet::new(),
            in_provider: kind == ModuleKind::Provider,
        };
        planner.taken.insert(top_name.clone());
        planner.taken.insert(format!("{top_name}Ref"));
        planner.items.push(Item {
            name: top_name.clone(),
            path: tf_type.to_owned(),
            origin: Origin::Top,
            description: block.description.clone(),
            fields: Vec::new(),
            builder: true,
            reference: kind != ModuleKind::Provider,
        });
        let fields = planner.block_fields(0, block, tf_type, true)?;
        planner.items[0].fields = fields;
        Ok(Self {
            name,
            kind,
            tf_type: tf_type.to_owned(),
            items: planner.items,
        })
    }
}

struct Planner {
    items: Vec<Item>,
    taken: BTreeSet<String>,
    in_provider: bool,
}

impl Planner {
    /// A unique struct name in the module: the schema name, else prefixed
    /// by its parent's, else numbered.
    fn name(&mut self, parent: usize, tf_name: &str) -> String {
        let own = camel(tf_name);
        let prefixed = format!("{}{own}", self.items[parent].name);
        let mut candidates = vec![own, prefixed.clone()];
        candidates.extend((2..).take(100).map(|i| format!("{prefixed}{i}")));
        let name = candidates
            .into_iter()
            .find(|c| {
                !is_reserved_type(c)
                    && !self.taken.contains(c)
                    && !self.taken.contains(&format!("{c}Ref"))
                    && !c.ends_with("Ref")
            })
            .unwrap_or_else(|| format!("{prefixed}Item"));
        self.taken.insert(name.clone());
        self.taken.insert(format!("{name}Ref"));
        name
    }

    fn add_item(
        &mut self,
        parent: usize,
        tf_name: &str,
        origin: Origin,
        builder: bool,
        description: Option<String>,
    ) -> usize {
        let name = self.name(parent, tf_name);
        let path = format!("{}.{tf_name}", self.items[parent].path);
        // Provider configuration is never read; its nested objects still need
        // a reference type, as the type marker of their values.
        let reference = !(self.in_provider && origin == Origin::Block);
        self.items.push(Item {
            name,
            path,
            origin,
            description,
            fields: Vec::new(),
            builder,
            reference,
        });
        self.items.len() - 1
    }

    fn block_fields(
        &mut self,
        parent: usize,
        block: &Block,
        path: &str,
        builder: bool,
    ) -> Result<Vec<Field>, GenError> {
        let mut fields = Vec::new();
        for (name, attr) in &block.attributes {
            fields.push(self.attribute(parent, name, attr, &format!("{path}.{name}"), builder)?);
        }
        for (name, nested) in &block.block_types {
            let here = format!("{path}.{name}");
            let shape = BlockShape::of(nested).map_err(|reason| GenError::Schema {
                path: here.clone(),
                reason,
            })?;
            let item = self.add_item(
                parent,
                name,
                Origin::Block,
                builder,
                nested.block.description.clone(),
            );
            let item_fields = self.block_fields(item, &nested.block, &here, builder)?;
            self.items[item].fields = item_fields;
            let object = Box::new(Type::Object(item));
            let read = match nested.nesting_mode.as_str() {
                "list" => Type::List(object),
                "set" => Type::Set(object),
                "map" => Type::Map(object),
                _ => Type::Object(item),
            };
            fields.push(Field {
                tf_name: name.clone(),
                ident: field_ident(name),
                kind: FieldKind::Block {
                    shape,
                    item,
                    read,
                    min_items: nested.min_items,
                    max_items: nested.max_items,
                },
                required: nested.min_items > 0,
                settable: true,
                computed: false,
                deprecated: nested.block.deprecated,
                description: nested.block.description.clone(),
            });
        }
        fields.sort_by(|a, b| a.tf_name.cmp(&b.tf_name));
        check_unique(&fields, path)?;
        Ok(fields)
    }

    fn attribute(
        &mut self,
        parent: usize,
        name: &str,
        attr: &Attribute,
        path: &str,
        parent_builder: bool,
    ) -> Result<Field, GenError> {
        let settable = !attr.is_read_only();
        let builder = parent_builder && settable;
        let ty = match (&attr.nested_type, &attr.ty) {
            (Some(nested), _) => self.nested_type(parent, name, nested, path, builder)?,
            (None, Some(ty)) => self.parse_type(parent, name, ty, path, builder)?,
            (None, None) => {
                return Err(GenError::Schema {
                    path: path.to_owned(),
                    reason: "attribute has neither `type` nor `nested_type`".to_owned(),
                })
            }
        };
        Ok(Field {
            tf_name: name.to_owned(),
            ident: field_ident(name),
            kind: FieldKind::Attribute(ty),
            required: attr.required,
            settable,
            computed: attr.computed,
            deprecated: attr.deprecated,
            description: attr.description.clone(),
        })
    }

    fn nested_type(
        &mut self,
        parent: usize,
        name: &str,
        nested: &NestedType,
        path: &str,
        builder: bool,
    ) -> Result<Type, GenError> {
        let item = self.add_item(parent, name, Origin::Object, builder, None);
        let mut fields = Vec::new();
        for (field_name, attr) in &nested.attributes {
            let here = format!("{path}.{field_name}");
            fields.push(self.attribute(item, field_name, attr, &here, builder)?);
        }
        check_unique(&fields, path)?;
        self.items[item].fields = fields;
        let object = Box::new(Type::Object(item));
        match nested.nesting_mode.as_str() {
            "single" => Ok(Type::Object(item)),
            "list" => Ok(Type::List(object)),
            "set" => Ok(Type::Set(object)),
            "map" => Ok(Type::Map(object)),
            other => Err(GenError::Schema {
                path: path.to_owned(),
                reason: format!("unknown nested attribute nesting mode `{other}`"),
            }),
        }
    }

    /// Terraform's type syntax as JSON: `"string"`, `["list", T]`,
    /// `["object", {name: T}, [optional names]]`, `["tuple", [T...]]`.
    fn parse_type(
        &mut self,
        parent: usize,
        name: &str,
        ty: &Json,
        path: &str,
        builder: bool,
    ) -> Result<Type, GenError> {
        let unknown = || GenError::Schema {
            path: path.to_owned(),
            reason: format!("unknown type {ty}"),
        };
        match ty {
            Json::String(primitive) => match primitive.as_str() {
                "string" => Ok(Type::String),
                "number" => Ok(Type::Number),
                "bool" => Ok(Type::Bool),
                "dynamic" => Ok(Type::Dynamic),
                _ => Err(unknown()),
            },
            Json::Array(parts) => {
                let kind = parts.first().and_then(Json::as_str).ok_or_else(unknown)?;
                let inner = parts.get(1).ok_or_else(unknown)?;
                match kind {
                    "list" => Ok(Type::List(Box::new(
                        self.parse_type(parent, name, inner, path, builder)?,
                    ))),
                    "set" => Ok(Type::Set(Box::new(
                        self.parse_type(parent, name, inner, path, builder)?,
                    ))),
                    "map" => Ok(Type::Map(Box::new(
                        self.parse_type(parent, name, inner, path, builder)?,
                    ))),
                    // A tuple's elements differ in type: it is taken as it comes.
                    "tuple" => Ok(Type::Dynamic),
                    "object" => {
                        let attrs = inner.as_object().ok_or_else(unknown)?;
                        let optional: Vec<&str> = parts
                            .get(2)
                            .and_then(Json::as_array)
                            .map(|names| names.iter().filter_map(Json::as_str).collect())
                            .unwrap_or_default();
                        let item = self.add_item(parent, name, Origin::Object, builder, None);
                        let mut fields = Vec::new();
                        for (field_name, field_ty) in attrs {
                            let here = format!("{path}.{field_name}");
                            let ty = self.parse_type(item, field_name, field_ty, &here, builder)?;
                            // Every attribute of an object value must be given
                            // (null counts), unless the type marks it optional;
                            // an object only the provider sets is read-only throughout.
                            let required = builder && !optional.contains(&field_name.as_str());
                            fields.push(Field {
                                tf_name: field_name.clone(),
                                ident: field_ident(field_name),
                                kind: FieldKind::Attribute(ty),
                                required,
                                settable: builder,
                                computed: false,
                                deprecated: false,
                                description: None,
                            });
                        }
                        check_unique(&fields, path)?;
                        self.items[item].fields = fields;
                        Ok(Type::Object(item))
                    }
                    _ => Err(unknown()),
                }
            }
            _ => Err(unknown()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synth::schema::ProviderSchema;

    fn block(json: Json) -> Block {
        let schema: ProviderSchema = serde_json::from_value(serde_json::json!({
            "resource_schemas": {"t_x": {"block": json}}
        }))
        .expect("schema");
        schema.resource_schemas["t_x"].block.clone()
    }

    fn shape(mode: &str, max: u64) -> BlockShape {
        let nested: NestedBlock = serde_json::from_value(serde_json::json!({
            "nesting_mode": mode, "max_items": max, "block": {}
        }))
        .expect("nested block");
        BlockShape::of(&nested).expect("known mode")
    }

    #[test]
    fn block_shapes_follow_nesting_and_max_items() {
        assert_eq!(shape("single", 0), BlockShape::Single);
        assert_eq!(shape("list", 1), BlockShape::Single);
        assert_eq!(shape("set", 1), BlockShape::Single);
        assert_eq!(shape("list", 0), BlockShape::Repeatable);
        assert_eq!(shape("set", 50), BlockShape::Repeatable);
        assert_eq!(shape("map", 0), BlockShape::Map);
    }

    #[test]
    fn items_are_planned_for_blocks_objects_and_nested_attributes() {
        let b = block(serde_json::json!({
            "attributes": {
                "id": {"type": "string", "computed": true},
                "name": {"type": "string", "required": true},
                "ca": {"type": ["list", ["object", {"data": "string"}]], "computed": true},
                "opts": {"nested_type": {"nesting_mode": "list",
                    "attributes": {"k": {"type": "string", "required": true}}}, "optional": true}
            },
            "block_types": {
                "metadata": {"nesting_mode": "list", "min_items": 1, "max_items": 1,
                    "block": {"attributes": {"name": {"type": "string", "optional": true}}}}
            }
        }));
        let module = Module::plan("x".into(), ModuleKind::Resource, "t_x", &b).expect("plans");
        let names: Vec<&str> = module.items.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["X", "Ca", "Opts", "Metadata"]);
        let ca = &module.items[1];
        assert!(!ca.builder, "a computed object is only read");
        assert!(module.items[2].builder && module.items[3].builder);
        let fields: Vec<(&str, bool, bool)> = module.items[0]
            .fields
            .iter()
            .map(|f| (f.tf_name.as_str(), f.required, f.settable))
            .collect();
        assert_eq!(
            fields,
            [
                ("ca", false, false),
                ("id", false, false),
                ("metadata", true, true),
                ("name", true, true),
                ("opts", false, true)
            ]
        );
        let FieldKind::Block { shape, read, .. } = &module.items[0].fields[2].kind else {
            panic!("metadata is a block");
        };
        assert_eq!(*shape, BlockShape::Single);
        assert_eq!(*read, Type::List(Box::new(Type::Object(3))));
    }

    #[test]
    fn clashing_names_take_their_parents_prefix() {
        let b = block(serde_json::json!({
            "block_types": {
                "a": {"nesting_mode": "list", "block": {"block_types": {
                    "x": {"nesting_mode": "list", "block": {}}}}},
                "x": {"nesting_mode": "list", "block": {}},
                "vec": {"nesting_mode": "list", "block": {}}
            }
        }));
        let module = Module::plan("x".into(), ModuleKind::Resource, "t_x", &b).expect("plans");
        let names: Vec<&str> = module.items.iter().map(|i| i.name.as_str()).collect();
        // The top struct is `X`, so both `x` blocks get a prefix.
        assert_eq!(names, ["X", "A", "AX", "XVec", "XX"]);
    }

    #[test]
    fn rust_names_stay_unique() {
        let b = block(serde_json::json!({
            "attributes": {"new": {"type": "string", "optional": true}}
        }));
        let module = Module::plan("x".into(), ModuleKind::Resource, "t_x", &b).expect("plans");
        assert_eq!(module.items[0].fields[0].ident, "new_");
        let b = block(serde_json::json!({
            "attributes": {
                "a-b": {"type": "string", "optional": true},
                "a_b": {"type": "string", "optional": true}
            }
        }));
        let err = Module::plan("x".into(), ModuleKind::Resource, "t_x", &b)
            .expect_err("a clash")
            .to_string();
        assert!(err.contains("t_x.a_b") && err.contains("`a_b`"), "{err}");
    }

    #[test]
    fn unknown_types_name_their_path() {
        let b = block(serde_json::json!({
            "attributes": {"odd": {"type": ["list", "bytes"], "optional": true}}
        }));
        let err = Module::plan("x".into(), ModuleKind::Resource, "t_x", &b)
            .expect_err("bytes is no type")
            .to_string();
        assert!(err.contains("t_x.odd"), "{err}");
        assert!(err.contains("unknown type \"bytes\""), "{err}");
    }
}
