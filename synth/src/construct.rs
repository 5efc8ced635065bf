//! What generated typed builders are made of: a builder per block type
//! wraps a [`Resource`] (top-level blocks) or a [`Body`] (nested blocks,
//! objects, provider configuration), its setters are thin calls into them,
//! and [`Stack::add`] turns a finished builder into its typed reference.
//!
//! The traits carry what every builder shares (meta-arguments, the escape
//! hatch), so generated code only holds what differs per schema.

use std::collections::BTreeMap;

use crate::block::{Handle, Lifecycle, Mode, Provider, Resource};
use crate::expr::{Address, Expr};
use crate::stack::Stack;

/// The attributes and nested blocks of a nested block, an object value or a
/// provider configuration under construction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Body(BTreeMap<String, Expr>);

impl Body {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets an attribute or nested block, replacing what was there.
    pub fn set(&mut self, name: &str, value: impl Into<Expr>) {
        self.0.insert(name.to_owned(), value.into());
    }
}

impl From<Body> for Expr {
    fn from(body: Body) -> Self {
        Expr::Map(body.0)
    }
}

/// A builder over a [`Body`]: nested blocks, objects, provider configuration.
pub trait BlockBody: Sized {
    fn body_mut(&mut self) -> &mut Body;
    fn into_body(self) -> Body;

    /// The escape hatch: sets an attribute by name, for what the schema (and
    /// so the typed setters) cannot say. Synthesis still checks the result
    /// against the provider schema.
    #[must_use]
    fn raw_attr(mut self, name: &str, value: impl Into<Expr>) -> Self {
        self.body_mut().set(name, value);
        self
    }
}

/// One or several instances of a repeatable nested block. One block renders
/// as a JSON object and a list as a JSON list of objects; terraform reads
/// both alike, and the stacks' files use both.
#[derive(Debug, Clone, PartialEq)]
pub enum Blocks<B> {
    One(B),
    Many(Vec<B>),
}

impl<B: BlockBody> From<B> for Blocks<B> {
    fn from(block: B) -> Self {
        Self::One(block)
    }
}

impl<B: BlockBody> From<Vec<B>> for Blocks<B> {
    fn from(blocks: Vec<B>) -> Self {
        Self::Many(blocks)
    }
}

impl<B: BlockBody, const N: usize> From<[B; N]> for Blocks<B> {
    fn from(blocks: [B; N]) -> Self {
        Self::Many(blocks.into())
    }
}

impl<B: BlockBody> From<Blocks<B>> for Expr {
    fn from(blocks: Blocks<B>) -> Self {
        match blocks {
            Blocks::One(block) => block.into_body().into(),
            Blocks::Many(blocks) => Expr::List(
                blocks
                    .into_iter()
                    .map(|b| Expr::from(b.into_body()))
                    .collect(),
            ),
        }
    }
}

/// Blocks of a `map` nesting mode: one body per key.
pub fn block_map<K: Into<String>, B: BlockBody>(blocks: impl IntoIterator<Item = (K, B)>) -> Expr {
    Expr::Map(
        blocks
            .into_iter()
            .map(|(k, b)| (k.into(), Expr::from(b.into_body())))
            .collect(),
    )
}

/// A generated reference to a resource or data source added to a stack.
pub trait BlockRef: Sized {
    fn from_handle(handle: Handle) -> Self;
    /// The untyped handle: its address, and `attr` for what the schema lacks.
    fn handle(&self) -> &Handle;
}

impl<R: BlockRef> From<&R> for Address {
    fn from(reference: &R) -> Self {
        reference.handle().address().clone()
    }
}

/// A generated builder of a resource or data source. Meta-arguments and the
/// escape hatch are here, once, rather than on every generated type.
pub trait ResourceBuilder: Sized {
    /// What [`Stack::add`] returns: typed references to the block's attributes.
    type Ref: BlockRef;

    fn resource_mut(&mut self) -> &mut Resource;
    fn into_resource(self) -> Resource;

    #[must_use]
    fn depends_on(mut self, target: impl Into<Address>) -> Self {
        self.resource_mut().depends_on(target);
        self
    }

    /// `depends_on` every target, in order.
    #[must_use]
    fn depends_on_all<A: Into<Address>>(mut self, targets: impl IntoIterator<Item = A>) -> Self {
        for target in targets {
            self.resource_mut().depends_on(target);
        }
        self
    }

    #[must_use]
    fn count(mut self, count: impl Into<Expr>) -> Self {
        self.resource_mut().count(count);
        self
    }

    #[must_use]
    fn for_each(mut self, for_each: impl Into<Expr>) -> Self {
        self.resource_mut().for_each(for_each);
        self
    }

    /// `provider = "<name>.<alias>"`
    #[must_use]
    fn provider_alias(mut self, name: &str, alias: &str) -> Self {
        self.resource_mut().provider_alias(name, alias);
        self
    }

    #[must_use]
    fn lifecycle(mut self, lifecycle: Lifecycle) -> Self {
        self.resource_mut().lifecycle(lifecycle);
        self
    }

    /// The escape hatch: sets an attribute by name ([`Resource::set`]), for
    /// what the schema cannot say. Synthesis still checks it against the schema.
    #[must_use]
    fn raw_attr(mut self, name: &str, value: impl Into<Expr>) -> Self {
        self.resource_mut().set(name, value);
        self
    }

    /// The escape hatch at any depth: [`Resource::override_path`].
    #[must_use]
    fn override_path(mut self, path: &str, value: impl Into<Expr>) -> Self {
        self.resource_mut().override_path(path, value);
        self
    }

    /// [`Resource::remove_path`].
    #[must_use]
    fn remove_path(mut self, path: &str) -> Self {
        self.resource_mut().remove_path(path);
        self
    }
}

/// A generated provider configuration builder.
pub trait ProviderConfig: BlockBody {
    /// The provider's local name (`provider "<NAME>"`).
    const NAME: &'static str;
}

impl<P: ProviderConfig> From<P> for Provider {
    fn from(config: P) -> Self {
        config
            .into_body()
            .0
            .into_iter()
            .fold(Provider::new(P::NAME), |provider, (name, value)| {
                provider.set(&name, value)
            })
    }
}

impl Resource {
    /// A detached `resource` block, for generated builders; [`Stack::add`] adds it.
    pub fn managed(ty: &str, label: &str) -> Self {
        Self::new(Mode::Managed, ty, label)
    }

    /// A detached `data` block, for generated builders.
    pub fn data_source(ty: &str, label: &str) -> Self {
        Self::new(Mode::Data, ty, label)
    }
}

impl Stack {
    /// Adds a block built with a typed builder and returns its typed reference.
    pub fn add<B: ResourceBuilder>(&mut self, builder: B) -> B::Ref {
        let resource = builder.into_resource();
        let handle = resource.handle();
        self.resources.push(resource);
        B::Ref::from_handle(handle)
    }

    /// An overlay on the provider blocks of `P`'s provider this stack has
    /// already declared (retargeting them, say): each setting of `config`
    /// replaces the block's, except that an object merges key by key into
    /// an object already there (`helm`'s `kubernetes`). The names come from
    /// the typed builder, so the overlay is checked as a new block would be.
    pub fn overlay_providers<P: ProviderConfig>(&mut self, config: P) {
        let settings = config.into_body().0;
        for provider in self.providers.iter_mut().filter(|p| p.name() == P::NAME) {
            for (name, value) in &settings {
                let value = match (provider.get(name), value) {
                    (Some(Expr::Map(old)), Expr::Map(new)) => {
                        let mut merged = old.clone();
                        merged.extend(new.clone());
                        Expr::Map(merged)
                    }
                    _ => value.clone(),
                };
                *provider = std::mem::replace(provider, Provider::new(P::NAME)).set(name, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::typed::{read_attr, ty, Value};

    /// Hand-written stand-ins for generated code, to test the plumbing alone.
    #[derive(Debug)]
    struct Thing(Resource);
    #[derive(Debug)]
    struct ThingRef(Handle);
    #[derive(Debug)]
    struct Rule(Body);

    impl ResourceBuilder for Thing {
        type Ref = ThingRef;
        fn resource_mut(&mut self) -> &mut Resource {
            &mut self.0
        }
        fn into_resource(self) -> Resource {
            self.0
        }
    }

    impl BlockRef for ThingRef {
        fn from_handle(handle: Handle) -> Self {
            Self(handle)
        }
        fn handle(&self) -> &Handle {
            &self.0
        }
    }

    impl BlockBody for Rule {
        fn body_mut(&mut self) -> &mut Body {
            &mut self.0
        }
        fn into_body(self) -> Body {
            self.0
        }
    }

    impl ProviderConfig for Rule {
        const NAME: &'static str = "p";
    }

    fn rule(n: i32) -> Rule {
        let mut body = Body::new();
        body.set("n", Value::<ty::Number>::from(n));
        Rule(body)
    }

    #[test]
    fn one_block_is_an_object_and_several_are_a_list() {
        assert_eq!(Expr::from(Blocks::from(rule(1))).to_json(), json!({"n": 1}));
        assert_eq!(
            Expr::from(Blocks::from(vec![rule(1)])).to_json(),
            json!([{"n": 1}])
        );
        assert_eq!(
            block_map([("b", rule(2)), ("a", rule(1))]).to_json(),
            json!({"a": {"n": 1}, "b": {"n": 2}})
        );
    }

    #[test]
    fn adding_a_builder_returns_references_and_keeps_meta_arguments() {
        let mut stack = Stack::new("s", "");
        let first = stack.add(Thing(Resource::managed("t_thing", "a")));
        let second = stack.add(
            Thing(Resource::managed("t_thing", "b"))
                .raw_attr("x", Blocks::from(rule(3)))
                .depends_on_all([&first])
                .override_path("x.m", 4)
                .remove_path("x.n"),
        );
        let id: Value<ty::String> = read_attr::<ty::String>(second.handle().expr(), "id");
        assert_eq!(Expr::from(id).to_json(), json!("${t_thing.b.id}"));
        assert_eq!(
            stack.resources()[1].to_json().expect("renders"),
            json!({"x": {"m": 4}, "depends_on": ["t_thing.a"]})
        );
        let data = Resource::data_source("t_thing", "c");
        assert_eq!(data.address().to_string(), "data.t_thing.c");
    }

    #[test]
    fn a_provider_overlay_replaces_settings_and_merges_objects() {
        let mut stack = Stack::new("s", "");
        let mut nested = Body::new();
        nested.set("host", "a");
        nested.set("ca", "c");
        stack.provider(Provider::new("p").set("n", 1).set("k", Expr::from(nested)));
        stack.provider(Provider::new("q").set("n", 1));
        let mut patch = Body::new();
        patch.set("host", "b");
        stack.overlay_providers(rule(2).raw_attr("k", Expr::from(patch)));
        assert_eq!(
            stack.providers_mut()[0].to_json(),
            json!({"n": 2, "k": {"host": "b", "ca": "c"}})
        );
        assert_eq!(stack.providers_mut()[1].to_json(), json!({"n": 1}));
    }

    #[test]
    fn provider_configuration_becomes_a_provider_block() {
        let provider = Provider::from(rule(1).raw_attr("region", "r")).alias("east");
        assert_eq!(provider.name(), "p");
        assert_eq!(
            provider.to_json(),
            json!({"n": 1, "region": "r", "alias": "east"})
        );
    }
}
