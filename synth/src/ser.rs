//! Typed data turned into expressions through serde: a program describes a
//! document (Helm chart values, a custom resource) as plain Rust structs
//! with `#[derive(Serialize)]`, some fields of which are [`Expr`]s known only
//! at apply time (a role ARN, a cluster name), and [`to_expr`] turns it into
//! one expression whose references are still tracked as dependencies.
//!
//! An [`Expr`] field has to reach [`to_expr`]'s serializer as itself, not as
//! its JSON text, or its references would be lost. It does so the way
//! serde_json passes its `RawValue` through: [`Expr`]'s `Serialize` names a
//! private newtype struct, and hands the expression over beside it in a
//! thread-local slot that only this serializer reads. Any other serializer
//! (serde_json) sees a transparent newtype holding the expression's
//! Terraform JSON, so `serde_json::to_value(&expr)` is `expr.to_json()`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;

use serde::ser::{self, Impossible, Serialize};

use crate::error::SynthError;
use crate::expr::Expr;

/// The newtype-struct name [`Expr`]'s `Serialize` uses to mark itself.
const EXPR_TOKEN: &str = "$synth::private::Expr";

thread_local! {
    static HANDOVER: RefCell<Option<Expr>> = const { RefCell::new(None) };
}

impl Serialize for Expr {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        HANDOVER.with(|slot| *slot.borrow_mut() = Some(self.clone()));
        let result = serializer.serialize_newtype_struct(EXPR_TOKEN, &AsJson(self));
        HANDOVER.with(|slot| slot.borrow_mut().take());
        result
    }
}

/// What serializers other than [`to_expr`]'s see of an [`Expr`].
struct AsJson<'a>(&'a Expr);

impl Serialize for AsJson<'_> {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.to_json().serialize(serializer)
    }
}

/// Serializes any value into an expression: structs and maps become
/// [`Expr::Map`], sequences [`Expr::List`], strings literal [`Expr::Str`]
/// (never interpolated), `None` and unit `null`, and [`Expr`] fields stay the
/// expressions they are.
pub fn to_expr<T: Serialize + ?Sized>(value: &T) -> Result<Expr, SynthError> {
    value
        .serialize(ExprSerializer)
        .map_err(|e| SynthError::Value(e.0))
}

#[derive(Debug)]
struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

struct ExprSerializer;

fn number(n: impl Into<serde_json::Number>) -> Result<Expr, Error> {
    Ok(Expr::Number(n.into()))
}

impl ser::Serializer for ExprSerializer {
    type Ok = Expr;
    type Error = Error;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = Impossible<Expr, Error>;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = Impossible<Expr, Error>;

    fn serialize_bool(self, v: bool) -> Result<Expr, Error> {
        Ok(Expr::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Expr, Error> {
        number(v)
    }
    fn serialize_i16(self, v: i16) -> Result<Expr, Error> {
        number(v)
    }
    fn serialize_i32(self, v: i32) -> Result<Expr, Error> {
        number(v)
    }
    fn serialize_i64(self, v: i64) -> Result<Expr, Error> {
        number(v)
    }
    fn serialize_u8(self, v: u8) -> Result<Expr, Error> {
        number(v)
    }
    fn serialize_u16(self, v: u16) -> Result<Expr, Error> {
        number(v)
    }
    fn serialize_u32(self, v: u32) -> Result<Expr, Error> {
        number(v)
    }
    fn serialize_u64(self, v: u64) -> Result<Expr, Error> {
        number(v)
    }
    fn serialize_f32(self, v: f32) -> Result<Expr, Error> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<Expr, Error> {
        serde_json::Number::from_f64(v)
            .map(Expr::Number)
            .ok_or_else(|| Error(format!("{v} has no JSON form")))
    }
    fn serialize_char(self, v: char) -> Result<Expr, Error> {
        Ok(Expr::Str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Expr, Error> {
        Ok(Expr::Str(v.to_owned()))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<Expr, Error> {
        Err(Error("raw bytes have no Terraform form".into()))
    }
    fn serialize_none(self) -> Result<Expr, Error> {
        Ok(Expr::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Expr, Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Expr, Error> {
        Ok(Expr::Null)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Expr, Error> {
        Ok(Expr::Null)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Expr, Error> {
        Ok(Expr::Str(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Expr, Error> {
        if name == EXPR_TOKEN {
            if let Some(expr) = HANDOVER.with(|slot| slot.borrow_mut().take()) {
                return Ok(expr);
            }
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Expr, Error> {
        Ok(Expr::object([(variant, value.serialize(self)?)]))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, Error> {
        Ok(SeqBuilder(Vec::with_capacity(len.unwrap_or(0))))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<SeqBuilder, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(Error(format!(
            "tuple variant {name}::{variant} is not supported"
        )))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<MapBuilder, Error> {
        Ok(MapBuilder::default())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<MapBuilder, Error> {
        Ok(MapBuilder::default())
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(Error(format!(
            "struct variant {name}::{variant} is not supported"
        )))
    }
}

struct SeqBuilder(Vec<Expr>);

impl ser::SerializeSeq for SeqBuilder {
    type Ok = Expr;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.0.push(value.serialize(ExprSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Expr, Error> {
        Ok(Expr::List(self.0))
    }
}

impl ser::SerializeTuple for SeqBuilder {
    type Ok = Expr;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Expr, Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SeqBuilder {
    type Ok = Expr;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Expr, Error> {
        ser::SerializeSeq::end(self)
    }
}

#[derive(Default)]
struct MapBuilder {
    entries: BTreeMap<String, Expr>,
    key: Option<String>,
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Expr;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key = Some(key.serialize(KeySerializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self
            .key
            .take()
            .ok_or_else(|| Error("a map value came without its key".into()))?;
        self.entries.insert(key, value.serialize(ExprSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Expr, Error> {
        Ok(Expr::Map(self.entries))
    }
}

impl ser::SerializeStruct for MapBuilder {
    type Ok = Expr;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.entries
            .insert(key.to_owned(), value.serialize(ExprSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Expr, Error> {
        Ok(Expr::Map(self.entries))
    }
}

/// Map keys: strings, and scalars written as strings (as JSON does).
struct KeySerializer;

impl KeySerializer {
    fn unsupported<T>(what: &str) -> Result<T, Error> {
        Err(Error(format!("a map key cannot be {what}")))
    }
}

impl ser::Serializer for KeySerializer {
    type Ok = String;
    type Error = Error;
    type SerializeSeq = Impossible<String, Error>;
    type SerializeTuple = Impossible<String, Error>;
    type SerializeTupleStruct = Impossible<String, Error>;
    type SerializeTupleVariant = Impossible<String, Error>;
    type SerializeMap = Impossible<String, Error>;
    type SerializeStruct = Impossible<String, Error>;
    type SerializeStructVariant = Impossible<String, Error>;

    fn serialize_str(self, v: &str) -> Result<String, Error> {
        Ok(v.to_owned())
    }
    fn serialize_char(self, v: char) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_bool(self, v: bool) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_i8(self, v: i8) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_i16(self, v: i16) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_i32(self, v: i32) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_i64(self, v: i64) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_u16(self, v: u16) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_u32(self, v: u32) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_u64(self, v: u64) -> Result<String, Error> {
        Ok(v.to_string())
    }
    fn serialize_f32(self, _: f32) -> Result<String, Error> {
        Self::unsupported("a float")
    }
    fn serialize_f64(self, _: f64) -> Result<String, Error> {
        Self::unsupported("a float")
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<String, Error> {
        Self::unsupported("bytes")
    }
    fn serialize_none(self) -> Result<String, Error> {
        Self::unsupported("null")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<String, Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<String, Error> {
        Self::unsupported("null")
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<String, Error> {
        Self::unsupported("null")
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<String, Error> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<String, Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String, Error> {
        Self::unsupported("an enum with data")
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Self::unsupported("a list")
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Self::unsupported("a tuple")
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Self::unsupported("a tuple")
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Self::unsupported("an enum with data")
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Self::unsupported("a map")
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        Self::unsupported("a struct")
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Self::unsupported("an enum with data")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Address;
    use serde::Serialize;
    use serde_json::json;

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Values {
        cluster_name: Expr,
        replica_count: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        missing: Option<String>,
        note: Option<String>,
        labels: BTreeMap<&'static str, &'static str>,
        args: Vec<Expr>,
        mode: Mode,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "kebab-case")]
    enum Mode {
        InternetFacing,
    }

    fn cluster() -> Expr {
        Expr::reference(Address::resource("aws_eks_cluster", "main")).attr("name")
    }

    #[test]
    fn structs_keep_their_expressions_and_references() {
        let values = Values {
            cluster_name: cluster(),
            replica_count: 2,
            missing: None,
            note: None,
            labels: BTreeMap::from([("team", "${not a reference}")]),
            args: vec![Expr::from("--x"), cluster()],
            mode: Mode::InternetFacing,
        };
        let expr = to_expr(&values).expect("serializable");
        assert_eq!(
            expr.to_json(),
            json!({
                "clusterName": "${aws_eks_cluster.main.name}",
                "replicaCount": 2,
                "note": null,
                "labels": {"team": "$${not a reference}"},
                "args": ["--x", "${aws_eks_cluster.main.name}"],
                "mode": "internet-facing",
            })
        );
        let refs: Vec<String> = expr.references().iter().map(ToString::to_string).collect();
        assert_eq!(refs, ["aws_eks_cluster.main", "aws_eks_cluster.main"]);
    }

    #[test]
    fn other_serializers_see_the_terraform_json() {
        let value = serde_json::to_value(cluster()).expect("json");
        assert_eq!(value, json!("${aws_eks_cluster.main.name}"));
        // The hand-over slot is left empty, so a later plain newtype is not confused.
        assert!(HANDOVER.with(|slot| slot.borrow().is_none()));
    }

    #[test]
    fn values_without_a_terraform_form_are_errors() {
        let err = to_expr(&f64::NAN).expect_err("NaN");
        assert!(err.to_string().contains("has no JSON form"), "{err}");
        let err = to_expr(&BTreeMap::from([((1, 2), "x")])).expect_err("tuple key");
        assert!(
            err.to_string().contains("a map key cannot be a tuple"),
            "{err}"
        );
    }
}
