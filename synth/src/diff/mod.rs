//! Resource-level diffs between two synthesized modules.
//!
//! Both sides are read as the files terraform would load, so a diff against
//! a directory on disk and a diff between two environments synthesized in
//! memory are the same operation. A resource the new module's `moved`
//! blocks take to another address is shown as moved, not as removed and
//! added; a removed and an added resource that look like one construct
//! renamed without such a block are found by [`renames`].

mod renames;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::app::MANIFEST_FILE;
use crate::error::SynthError;

pub use renames::{renames, resource_type, Rename};

/// A module flattened to its blocks, by address (see [`blocks`]).
pub type Blocks = BTreeMap<String, Value>;

/// How one block (or non-Terraform file) differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(String),
    Removed(String),
    /// The block's address and the attribute paths whose values differ,
    /// each with the old and new value.
    Changed(String, Vec<AttrChange>),
    /// A resource the new module's `moved` blocks take from its old address
    /// to its new one, with the attributes that differ between the two.
    Moved {
        from: String,
        to: String,
        attrs: Vec<AttrChange>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrChange {
    pub path: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// Flattens module files into `address → body`: `aws_vpc.main`,
/// `data.aws_region.current`, `provider.aws`, `var.x`, `output.y`,
/// `local.z`, `terraform`, `moved <from>` and `import <to>` (each block
/// whole), each entry of the manifest's metadata under its key; other files
/// become `file <name>`.
pub fn blocks(files: &BTreeMap<String, Vec<u8>>) -> Result<Blocks, SynthError> {
    let mut out = BTreeMap::new();
    for (name, bytes) in files {
        if name == MANIFEST_FILE {
            // A manifest too damaged to read holds no metadata to compare.
            if let Ok(Value::Object(manifest)) = serde_json::from_slice::<Value>(bytes) {
                for (key, value) in as_object(manifest.get("metadata").unwrap_or(&Value::Null)) {
                    out.insert(key.clone(), value.clone());
                }
            }
            continue;
        }
        if !name.ends_with(".tf.json") || name.contains('/') {
            out.insert(format!("file {name}"), Value::String(hash_hint(bytes)));
            continue;
        }
        let unreadable = |message: String| SynthError::UnreadableModule {
            file: name.clone(),
            message,
        };
        let doc: Value = serde_json::from_slice(bytes)
            .map_err(|e| unreadable(format!("not valid JSON: {e}")))?;
        let Value::Object(top) = doc else {
            return Err(unreadable("top level is not an object".into()));
        };
        for (kind, body) in top {
            match kind.as_str() {
                "resource" | "data" => {
                    let prefix = if kind == "data" { "data." } else { "" };
                    for (ty, named) in as_object(&body) {
                        for (n, b) in as_object(named) {
                            out.insert(format!("{prefix}{ty}.{n}"), b.clone());
                        }
                    }
                }
                "provider" => {
                    for (p, configs) in as_object(&body) {
                        let list = match configs {
                            Value::Array(items) => items.clone(),
                            other => vec![other.clone()],
                        };
                        for config in list {
                            let key = match config.get("alias").and_then(Value::as_str) {
                                Some(alias) => format!("provider.{p}.{alias}"),
                                None => format!("provider.{p}"),
                            };
                            out.insert(key, config);
                        }
                    }
                }
                // Unlabelled blocks, as an array (or one object).
                "moved" | "import" => {
                    let label = if kind == "moved" { "from" } else { "to" };
                    for block in as_blocks(&body) {
                        let at = block.get(label).and_then(Value::as_str).unwrap_or("?");
                        out.insert(format!("{kind} {at}"), block.clone());
                    }
                }
                "variable" | "output" | "locals" => {
                    let prefix = match kind.as_str() {
                        "variable" => "var",
                        "output" => "output",
                        _ => "local",
                    };
                    for (n, b) in as_object(&body) {
                        out.insert(format!("{prefix}.{n}"), b.clone());
                    }
                }
                _ => {
                    out.insert(kind.clone(), body.clone());
                }
            }
        }
    }
    Ok(out)
}

fn as_object(value: &Value) -> impl Iterator<Item = (&String, &Value)> {
    value.as_object().into_iter().flat_map(|m| m.iter())
}

fn as_blocks(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// Where the new module's `moved` blocks take each old address that is gone
/// from it, following chains (`a` to `b`, `b` to `c`) to an address the new
/// module has.
pub fn moves(old: &Blocks, new: &Blocks) -> BTreeMap<String, String> {
    let step: BTreeMap<&str, &str> = new
        .iter()
        .filter(|(key, _)| key.starts_with("moved "))
        .filter_map(|(_, block)| Some((block.get("from")?.as_str()?, block.get("to")?.as_str()?)))
        .collect();
    let mut out = BTreeMap::new();
    for from in step
        .keys()
        .filter(|a| old.contains_key(**a) && !new.contains_key(**a))
    {
        let mut at = *from;
        // A chain visits each address once; a loop ends where it started.
        for _ in 0..=step.len() {
            match step.get(at) {
                Some(next) if !new.contains_key(*next) => at = next,
                Some(next) => {
                    out.insert((*from).to_owned(), (*next).to_owned());
                    break;
                }
                None => break,
            }
        }
    }
    out
}

/// Non-Terraform files are compared by size and a short content fingerprint.
fn hash_hint(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    format!(
        "{} bytes, sha256 {}",
        bytes.len(),
        &crate::asset::hex(&digest)[..16]
    )
}

/// The changes that turn `old` into `new`, sorted by address (a move at its
/// old address).
pub fn diff(old: &Blocks, new: &Blocks) -> Vec<Change> {
    let moves = moves(old, new);
    let arrivals: BTreeSet<&String> = moves.values().filter(|to| !old.contains_key(*to)).collect();
    let addresses: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut changes = Vec::new();
    for address in addresses {
        if arrivals.contains(address) {
            continue;
        }
        if let Some(to) = moves.get(address).filter(|to| arrivals.contains(to)) {
            let mut attrs = Vec::new();
            diff_values("", &old[address], &new[to], &mut attrs);
            changes.push(Change::Moved {
                from: address.clone(),
                to: to.clone(),
                attrs,
            });
            continue;
        }
        match (old.get(address), new.get(address)) {
            (None, Some(_)) => changes.push(Change::Added(address.clone())),
            (Some(_), None) => changes.push(Change::Removed(address.clone())),
            (Some(a), Some(b)) if a != b => {
                let mut attrs = Vec::new();
                diff_values("", a, b, &mut attrs);
                changes.push(Change::Changed(address.clone(), attrs));
            }
            _ => {}
        }
    }
    changes
}

fn diff_values(path: &str, a: &Value, b: &Value, out: &mut Vec<AttrChange>) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                match (x.get(k), y.get(k)) {
                    (Some(va), Some(vb)) if va != vb => diff_values(&join(k), va, vb, out),
                    (Some(va), None) => out.push(AttrChange {
                        path: join(k),
                        old: Some(va.to_string()),
                        new: None,
                    }),
                    (None, Some(vb)) => out.push(AttrChange {
                        path: join(k),
                        old: None,
                        new: Some(vb.to_string()),
                    }),
                    _ => {}
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                if va != vb {
                    diff_values(&join(&i.to_string()), va, vb, out);
                }
            }
        }
        _ => out.push(AttrChange {
            path: if path.is_empty() {
                "(value)".to_owned()
            } else {
                path.to_owned()
            },
            old: Some(a.to_string()),
            new: Some(b.to_string()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn files(doc: Value) -> BTreeMap<String, Value> {
        let mut f = BTreeMap::new();
        f.insert("network.tf.json".to_owned(), doc.to_string().into_bytes());
        blocks(&f).unwrap()
    }

    #[test]
    fn reports_added_removed_and_changed_paths() {
        let old = files(json!({
            "resource": {"aws_vpc": {"main": {"cidr_block": "10.0.0.0/16", "tags": {"a": "1"}}},
                         "aws_eip": {"nat": {"count": 2}}},
            "output": {"x": {"value": "1"}}
        }));
        let new = files(json!({
            "resource": {"aws_vpc": {"main": {"cidr_block": "10.1.0.0/16", "tags": {"a": "1", "b": "2"}}},
                         "aws_eip": {"nat": {"count": 2}}},
            "data": {"aws_region": {"current": {}}}
        }));
        let changes = diff(&old, &new);
        assert_eq!(
            changes,
            vec![
                Change::Changed(
                    "aws_vpc.main".into(),
                    vec![
                        AttrChange {
                            path: "cidr_block".into(),
                            old: Some("\"10.0.0.0/16\"".into()),
                            new: Some("\"10.1.0.0/16\"".into())
                        },
                        AttrChange {
                            path: "tags.b".into(),
                            old: None,
                            new: Some("\"2\"".into())
                        },
                    ]
                ),
                Change::Added("data.aws_region.current".into()),
                Change::Removed("output.x".into()),
            ]
        );
    }

    #[test]
    fn identical_modules_have_no_changes() {
        let doc = json!({"provider": {"aws": [{"region": "x"}, {"alias": "east", "region": "y"}]}});
        let a = files(doc.clone());
        assert!(a.contains_key("provider.aws.east"));
        assert!(diff(&a, &files(doc)).is_empty());
    }

    #[test]
    fn declared_moves_show_as_moves_and_their_blocks_as_added() {
        let old = files(json!({
            "resource": {"aws_kms_key": {"a": {"description": "k", "tags": {"Name": "a"}}},
                         "aws_vpc": {"main": {"cidr_block": "10.0.0.0/16"}}}
        }));
        let new = files(json!({
            "resource": {"aws_kms_key": {"c": {"description": "k", "tags": {"Name": "c"}}},
                         "aws_vpc": {"main": {"cidr_block": "10.0.0.0/16"}}},
            "moved": [{"from": "aws_kms_key.a", "to": "aws_kms_key.b"},
                      {"from": "aws_kms_key.b", "to": "aws_kms_key.c"}],
            "import": [{"to": "aws_vpc.main", "id": "vpc-1"}]
        }));
        assert_eq!(
            moves(&old, &new),
            BTreeMap::from([("aws_kms_key.a".into(), "aws_kms_key.c".into())])
        );
        assert_eq!(
            diff(&old, &new),
            vec![
                Change::Moved {
                    from: "aws_kms_key.a".into(),
                    to: "aws_kms_key.c".into(),
                    attrs: vec![AttrChange {
                        path: "tags.Name".into(),
                        old: Some("\"a\"".into()),
                        new: Some("\"c\"".into())
                    }]
                },
                Change::Added("import aws_vpc.main".into()),
                Change::Added("moved aws_kms_key.a".into()),
                Change::Added("moved aws_kms_key.b".into()),
            ]
        );
    }

    #[test]
    fn invalid_json_names_the_file() {
        let mut f = BTreeMap::new();
        f.insert("eks.tf.json".to_owned(), b"{".to_vec());
        assert!(blocks(&f)
            .unwrap_err()
            .to_string()
            .starts_with("eks.tf.json: not valid JSON"));
    }
}
