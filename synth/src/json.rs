//! The deterministic JSON writer.
//!
//! Keys are sorted here, by the writer itself, rather than trusting the map
//! type: serde_json's `preserve_order` feature can be switched on by any
//! crate in the dependency graph, and output must not depend on that.

use serde::Serialize;
use serde_json::Value;

/// The JSON of one of this crate's block types. They have string keys and
/// no fallible parts, so serializing them cannot fail.
pub(crate) fn to_value(value: &impl Serialize) -> Value {
    serde_json::to_value(value).expect("synth's block types serialize to JSON")
}

/// Compact JSON with sorted keys, as terraform's `jsonencode` writes it.
pub(crate) fn to_compact_sorted(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(to_compact_sorted).collect();
            format!("[{}]", items.join(","))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let entries: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        Value::String((*k).clone()),
                        to_compact_sorted(&map[*k])
                    )
                })
                .collect();
            format!("{{{}}}", entries.join(","))
        }
        scalar => scalar.to_string(),
    }
}

/// Pretty JSON with two-space indents, sorted keys and a trailing newline.
pub fn to_canonical_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, 0, &mut out);
    out.push('\n');
    out
}

fn write_value(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                push_indent(indent + 1, out);
                write_value(item, indent + 1, out);
                if i + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            push_indent(indent, out);
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("{\n");
            for (i, key) in keys.iter().enumerate() {
                push_indent(indent + 1, out);
                out.push_str(&Value::String((*key).clone()).to_string());
                out.push_str(": ");
                write_value(&map[*key], indent + 1, out);
                if i + 1 < keys.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            push_indent(indent, out);
            out.push('}');
        }
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn push_indent(level: usize, out: &mut String) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorted_indented_with_trailing_newline() {
        let v = json!({"b": [1, {"z": null, "a": "x\"y"}], "a": {}, "c": []});
        assert_eq!(
            to_canonical_string(&v),
            "{\n  \"a\": {},\n  \"b\": [\n    1,\n    {\n      \"a\": \"x\\\"y\",\n      \"z\": null\n    }\n  ],\n  \"c\": []\n}\n"
        );
    }

    #[test]
    fn round_trips_through_serde() {
        let v = json!({"k": ["${a.b}", 1.5, true, "é\n"]});
        let parsed: Value = serde_json::from_str(&to_canonical_string(&v)).unwrap();
        assert_eq!(parsed, v);
    }
}
