//! Typed expressions: [`Value<T>`] is an [`Expr`] that carries its Terraform
//! type `T` (one of the [`ty`] markers), so a setter generated for a `string`
//! attribute takes a string literal or a reference to a string, and a list,
//! a map or a reference of another type does not compile.
//!
//! The type only exists at compile time: a `Value<T>` renders exactly as the
//! expression inside it, so a block built through typed setters is the same
//! JSON as one built with [`crate::Resource::set`].
//!
//! Where the author knows better than the types (a function call, a
//! variable, a local), [`Value::assume`] is the documented escape hatch: it
//! takes any [`Expr`] and vouches for its type.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::marker::PhantomData;

use crate::block::Variable;
use crate::expr::Expr;
use crate::stack::Stack;

/// Marker types for Terraform's types. They are never constructed; they
/// only parameterise [`Value`].
pub mod ty {
    use std::convert::Infallible;
    use std::marker::PhantomData;

    /// `string`
    #[derive(Debug)]
    pub enum String {}

    /// `number`
    #[derive(Debug)]
    pub enum Number {}

    /// `bool`
    #[derive(Debug)]
    pub enum Bool {}

    /// `dynamic`: any type, decided by the value.
    #[derive(Debug)]
    pub enum Dynamic {}

    /// `list(T)`
    #[derive(Debug)]
    pub struct List<T>(Infallible, PhantomData<T>);

    /// `set(T)`: unordered, so it cannot be indexed.
    #[derive(Debug)]
    pub struct Set<T>(Infallible, PhantomData<T>);

    /// `map(T)`
    #[derive(Debug)]
    pub struct Map<T>(Infallible, PhantomData<T>);

    /// `object({...})`, nested attributes and nested blocks; `R` is the
    /// generated reference type with one accessor per attribute.
    #[derive(Debug)]
    pub struct Object<R>(Infallible, PhantomData<R>);
}

/// A Terraform type marker, and what reading a value of that type gives:
/// a [`Value`], or for an object its reference type, so
/// `cluster.certificate_authority().at(0).data()` is typed all the way.
pub trait TfType {
    type Ref;
    fn wrap(expr: Expr) -> Self::Ref;
}

/// A generated reference to an object value (an attribute of object type, a
/// nested attribute or a nested block): one typed accessor per attribute.
pub trait ObjectRef: Sized {
    fn from_expr(expr: Expr) -> Self;
    fn expr(&self) -> &Expr;
}

macro_rules! value_types {
    ($($t:ty),*) => {$(
        impl TfType for $t {
            type Ref = Value<$t>;
            fn wrap(expr: Expr) -> Value<$t> {
                Value::assume(expr)
            }
        }
    )*};
}
value_types!(ty::String, ty::Number, ty::Bool, ty::Dynamic);

macro_rules! collection_types {
    ($($t:ident),*) => {$(
        impl<T> TfType for ty::$t<T> {
            type Ref = Value<ty::$t<T>>;
            fn wrap(expr: Expr) -> Self::Ref {
                Value::assume(expr)
            }
        }
    )*};
}
collection_types!(List, Set, Map);

impl<R: ObjectRef> TfType for ty::Object<R> {
    type Ref = R;
    fn wrap(expr: Expr) -> R {
        R::from_expr(expr)
    }
}

/// Attribute `name` of the object `base` refers to, typed `T`: what
/// generated accessors return (`${aws_vpc.main.id}`).
pub fn read_attr<T: TfType>(base: Expr, name: &str) -> T::Ref {
    T::wrap(base.attr(name))
}

/// An expression of Terraform type `T` (a [`ty`] marker).
pub struct Value<T> {
    expr: Expr,
    ty: PhantomData<fn() -> T>,
}

impl<T> Value<T> {
    /// The escape hatch for an untyped expression whose type the author
    /// vouches for: a function call (`Expr::call`), a variable or local, a
    /// raw HCL expression. Nothing checks the claim before `terraform plan`.
    pub fn assume(expr: impl Into<Expr>) -> Self {
        Self {
            expr: expr.into(),
            ty: PhantomData,
        }
    }

    pub fn into_expr(self) -> Expr {
        self.expr
    }
}

impl<T> Clone for Value<T> {
    fn clone(&self) -> Self {
        Self::assume(self.expr.clone())
    }
}

impl<T> fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Value").field(&self.expr).finish()
    }
}

impl<T> PartialEq for Value<T> {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr
    }
}

/// A typed value is still an expression: it goes anywhere an [`Expr`] does
/// (outputs, policy documents, templates).
impl<T> From<Value<T>> for Expr {
    fn from(value: Value<T>) -> Self {
        value.expr
    }
}

impl<T> From<&Value<T>> for Expr {
    fn from(value: &Value<T>) -> Self {
        value.expr.clone()
    }
}

impl<T> From<&Value<T>> for Value<T> {
    fn from(value: &Value<T>) -> Self {
        value.clone()
    }
}

impl<T: TfType> Value<ty::List<T>> {
    /// `list[index]`
    pub fn at(&self, index: impl Into<Value<ty::Number>>) -> T::Ref {
        T::wrap(self.expr.clone().index(index.into().expr))
    }
}

impl<T: TfType> Value<ty::Map<T>> {
    /// `map["key"]`
    pub fn get(&self, key: impl Into<Value<ty::String>>) -> T::Ref {
        T::wrap(self.expr.clone().index(key.into().expr))
    }
}

impl Value<ty::String> {
    /// A string template: literal parts are escaped, the others interpolated
    /// (`"arn:aws:logs:${...}:*"`). Its result is a string whatever the parts.
    pub fn template<E: Into<Expr>>(parts: impl IntoIterator<Item = E>) -> Self {
        Self::assume(Expr::template(parts))
    }
}

// Terraform converts a bool or number to a string, and a list to a set, by
// itself. These are methods, not `From` impls: a second way into
// `Value<ty::String>` would leave `Value::assume(...)` passed to a string
// setter without an inferable type.
impl Value<ty::String> {
    /// A bool literal where the schema says `string` but the provider reads
    /// a bool (`"true"`): the JSON keeps `true`, terraform converts it.
    pub fn from_bool(value: bool) -> Self {
        Self::assume(value)
    }

    /// A number literal where the schema says `string`: the JSON keeps the
    /// number, terraform converts it.
    pub fn from_number(value: impl Into<Value<ty::Number>>) -> Self {
        Self::assume(value.into().expr)
    }
}

impl<T> Value<ty::List<T>> {
    /// The list as a set (terraform converts it; duplicates collapse).
    pub fn into_set(self) -> Value<ty::Set<T>> {
        Value::assume(self.expr)
    }
}

/// An object reference is also the whole object as a value.
impl<R: ObjectRef> From<R> for Value<ty::Object<R>> {
    fn from(object: R) -> Self {
        Self::assume(object.expr().clone())
    }
}

/// `dynamic` takes any expression: the schema itself leaves the type open.
impl From<Expr> for Value<ty::Dynamic> {
    fn from(expr: Expr) -> Self {
        Self::assume(expr)
    }
}

/// `jsonencode(value)`: always a string.
pub fn jsonencode(value: impl Into<Expr>) -> Value<ty::String> {
    Value::assume(Expr::call("jsonencode", [value.into()]))
}

/// `yamlencode(value)`: always a string.
pub fn yamlencode(value: impl Into<Expr>) -> Value<ty::String> {
    Value::assume(Expr::call("yamlencode", [value.into()]))
}

impl From<&str> for Value<ty::String> {
    fn from(s: &str) -> Self {
        Self::assume(s)
    }
}

impl From<String> for Value<ty::String> {
    fn from(s: String) -> Self {
        Self::assume(s)
    }
}

impl From<&String> for Value<ty::String> {
    fn from(s: &String) -> Self {
        Self::assume(s)
    }
}

impl From<bool> for Value<ty::Bool> {
    fn from(b: bool) -> Self {
        Self::assume(b)
    }
}

macro_rules! number_literals {
    ($($t:ty),*) => {$(
        impl From<$t> for Value<ty::Number> {
            fn from(n: $t) -> Self {
                Self::assume(n)
            }
        }
    )*};
}
number_literals!(i32, i64, u8, u16, u32, u64, usize, f64);

macro_rules! sequence_literals {
    ($($t:ident),*) => {$(
        impl<T, V: Into<Value<T>>> From<Vec<V>> for Value<ty::$t<T>> {
            fn from(items: Vec<V>) -> Self {
                Self::assume(Expr::List(items.into_iter().map(|v| v.into().expr).collect()))
            }
        }

        impl<T, V: Into<Value<T>>, const N: usize> From<[V; N]> for Value<ty::$t<T>> {
            fn from(items: [V; N]) -> Self {
                Self::assume(Expr::List(items.into_iter().map(|v| v.into().expr).collect()))
            }
        }
    )*};
}
sequence_literals!(List, Set);

impl<T, V: Into<Value<T>>> From<BTreeSet<V>> for Value<ty::Set<T>> {
    fn from(items: BTreeSet<V>) -> Self {
        Self::assume(Expr::List(
            items.into_iter().map(|v| v.into().expr).collect(),
        ))
    }
}

impl<T, K: Into<String>, V: Into<Value<T>>> From<BTreeMap<K, V>> for Value<ty::Map<T>> {
    fn from(map: BTreeMap<K, V>) -> Self {
        Self::assume(Expr::Map(
            map.into_iter()
                .map(|(k, v)| (k.into(), v.into().expr))
                .collect(),
        ))
    }
}

/// Types a `variable` block can declare, in terraform's type syntax.
pub trait VariableType: TfType {
    fn type_syntax() -> String;
}

macro_rules! variable_primitives {
    ($($t:ident => $syntax:literal),*) => {$(
        impl VariableType for ty::$t {
            fn type_syntax() -> String {
                $syntax.to_owned()
            }
        }
    )*};
}
variable_primitives!(String => "string", Number => "number", Bool => "bool");

macro_rules! variable_collections {
    ($($t:ident => $syntax:literal),*) => {$(
        impl<T: VariableType> VariableType for ty::$t<T> {
            fn type_syntax() -> String {
                format!(concat!($syntax, "({})"), T::type_syntax())
            }
        }
    )*};
}
variable_collections!(List => "list", Set => "set", Map => "map");

impl Stack {
    /// Declares an input variable whose `type` is `T`, and returns a typed
    /// reference to it.
    pub fn typed_variable<T: VariableType>(&mut self, name: &str, variable: Variable) -> Value<T> {
        Value::assume(self.variable(name, variable.ty(&T::type_syntax())))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::expr::Address;

    fn vpc() -> Expr {
        Expr::reference(Address::resource("aws_vpc", "main"))
    }

    fn json<T>(value: impl Into<Value<T>>) -> serde_json::Value {
        value.into().into_expr().to_json()
    }

    #[test]
    fn literals_render_as_their_untyped_expressions() {
        assert_eq!(json::<ty::String>("a ${b}"), json!("a $${b}"));
        assert_eq!(json::<ty::Number>(3), json!(3));
        assert_eq!(json::<ty::Number>(1.5), json!(1.5));
        assert_eq!(json::<ty::Bool>(true), json!(true));
        assert_eq!(json::<ty::List<ty::String>>(["a", "b"]), json!(["a", "b"]));
        assert_eq!(
            json::<ty::Set<ty::Number>>(vec![1, 2]),
            json!([1, 2]),
            "a set is a JSON list"
        );
        let tags = BTreeMap::from([("b", "2"), ("a", "1")]);
        assert_eq!(
            json::<ty::Map<ty::String>>(tags),
            json!({"a": "1", "b": "2"})
        );
        assert_eq!(
            json::<ty::List<ty::List<ty::Bool>>>(vec![vec![true]]),
            json!([[true]])
        );
    }

    #[test]
    fn references_and_escape_hatches_keep_their_rendering() {
        let id: Value<ty::String> = read_attr::<ty::String>(vpc(), "id");
        assert_eq!(json::<ty::String>(&id), json!("${aws_vpc.main.id}"));
        let ids: Value<ty::List<ty::String>> = vec![id.clone(), "x".into()].into();
        assert_eq!(json::<ty::List<_>>(ids), json!(["${aws_vpc.main.id}", "x"]));
        let policy = jsonencode(Expr::object([("a", 1)]));
        assert_eq!(
            json::<ty::String>(policy),
            json!("${jsonencode({ \"a\" = 1 })}")
        );
        let call = Value::<ty::String>::assume(Expr::call("base64decode", [id]));
        assert_eq!(
            json::<ty::String>(call),
            json!("${base64decode(aws_vpc.main.id)}")
        );
        let arn = Value::template([Expr::from("arn:"), vpc().attr("arn"), Expr::from(":*")]);
        assert_eq!(json::<ty::String>(arn), json!("arn:${aws_vpc.main.arn}:*"));
    }

    #[test]
    fn indexing_follows_the_element_type() {
        let subnets: Value<ty::List<ty::String>> = read_attr::<ty::List<_>>(vpc(), "subnets");
        assert_eq!(
            json::<ty::String>(subnets.at(0)),
            json!("${aws_vpc.main.subnets[0]}")
        );
        let tags: Value<ty::Map<ty::String>> = read_attr::<ty::Map<_>>(vpc(), "tags");
        assert_eq!(
            json::<ty::String>(tags.get("Name")),
            json!("${aws_vpc.main.tags[\"Name\"]}")
        );
    }

    #[test]
    fn terraforms_own_conversions_are_explicit() {
        assert_eq!(json::<ty::String>(Value::from_bool(true)), json!(true));
        assert_eq!(json::<ty::String>(Value::from_number(5)), json!(5));
        let list: Value<ty::List<ty::String>> = vec!["a"].into();
        assert_eq!(json::<ty::Set<ty::String>>(list.into_set()), json!(["a"]));
    }

    #[test]
    fn assumed_values_take_the_type_they_are_passed_as() {
        fn string_setter(value: impl Into<Value<ty::String>>) -> Expr {
            value.into().into_expr()
        }
        fn set_setter(value: impl Into<Value<ty::Set<ty::String>>>) -> Expr {
            value.into().into_expr()
        }
        let var = Expr::reference(Address::Var("v".into()));
        assert_eq!(string_setter(Value::assume(var.clone())), var);
        assert_eq!(set_setter(Value::assume(var.clone())), var);
        assert_eq!(
            set_setter(vec![Value::assume(var.clone())]),
            Expr::list([var])
        );
    }

    #[test]
    fn typed_variables_declare_their_type() {
        let mut stack = Stack::new("s", "");
        let tags: Value<ty::Map<ty::List<ty::String>>> =
            stack.typed_variable("tags", Variable::new().description("d"));
        assert_eq!(json::<ty::Map<_>>(tags), json!("${var.tags}"));
        assert_eq!(
            crate::json::to_value(&stack.variables[0].1),
            json!({"type": "map(list(string))", "description": "d"})
        );
    }
}
