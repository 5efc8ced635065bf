//! Likely renames: a resource gone from a module and one added to it, of
//! the same type, whose attributes match closely. Terraform would destroy
//! the first and create the second; usually the author renamed a construct
//! and meant to keep the object, which a `moved` block does.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{moves, Blocks};
use crate::expr::Address;

/// A removed and an added resource of one type that look like one construct
/// renamed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    pub from: String,
    pub to: String,
    /// Attribute values (leaves of the block bodies) equal on both sides...
    pub equal: usize,
    /// ...of the attribute paths either side has.
    pub compared: usize,
}

impl Rename {
    /// The call to add to the construct of `to`, in the library's API.
    pub fn moved_from_call(&self) -> String {
        let (ty, name) = self.from.split_once('.').unwrap_or((&self.from, ""));
        format!(".moved_from(\"{ty}\", \"{name}\")")
    }

    /// What that call synthesizes in the stack's file, on one line.
    pub fn moved_block(&self) -> String {
        format!(
            "{{\"moved\": [{{\"from\": {}, \"to\": {}}}]}}",
            Value::from(self.from.as_str()),
            Value::from(self.to.as_str())
        )
    }

    /// `9 of 10 attribute values equal`.
    pub fn likeness(&self) -> String {
        format!("{} of {} attribute values equal", self.equal, self.compared)
    }

    /// How to keep the object: the line to add and the block it makes.
    pub fn hint(&self) -> String {
        format!(
            "add `{}` to the construct of {}, which synthesizes {}",
            self.moved_from_call(),
            self.to,
            self.moved_block()
        )
    }
}

/// The type of a managed resource's address (`aws_vpc.main` → `aws_vpc`);
/// `None` for any other key of [`super::blocks`].
pub fn resource_type(key: &str) -> Option<&str> {
    match Address::parse(key)? {
        Address::Resource { .. } => key.split_once('.').map(|(ty, _)| ty),
        _ => None,
    }
}

/// Removed and added resources that look like renames, best match first,
/// each address in at most one. Resources a `moved` block of `new` already
/// takes care of are left out.
pub fn renames(old: &Blocks, new: &Blocks) -> Vec<Rename> {
    let moves = moves(old, new);
    let moved_to: BTreeSet<&String> = moves.values().collect();
    let removed = resources(old, new, |a| !moves.contains_key(a));
    let added = resources(new, old, |a| !moved_to.contains(a));
    let mut candidates = Vec::new();
    for (from, ty) in &removed {
        for (to, _) in added.iter().filter(|(_, t)| t == ty) {
            let (equal, compared) = likeness(&old[*from], &new[*to]);
            // Both empty, or at least half of the values equal.
            if compared == 0 || (equal > 0 && 2 * equal >= compared) {
                candidates.push(Rename {
                    from: (*from).clone(),
                    to: (*to).clone(),
                    equal,
                    compared,
                });
            }
        }
    }
    candidates.sort_by(|a, b| {
        better(b, a)
            .then_with(|| a.from.cmp(&b.from))
            .then_with(|| a.to.cmp(&b.to))
    });
    let mut used = BTreeSet::new();
    let mut chosen = Vec::new();
    for rename in candidates {
        if !used.contains(&rename.from) && !used.contains(&rename.to) {
            used.insert(rename.from.clone());
            used.insert(rename.to.clone());
            chosen.push(rename);
        }
    }
    chosen
}

/// Resources of `side` that `other` lacks, with their types.
fn resources<'a>(
    side: &'a Blocks,
    other: &Blocks,
    keep: impl Fn(&String) -> bool,
) -> Vec<(&'a String, &'a str)> {
    side.keys()
        .filter(|a| !other.contains_key(*a) && keep(a))
        .filter_map(|a| Some((a, resource_type(a)?)))
        .collect()
}

/// Orders two candidates by the share of equal values, then by how many.
fn better(a: &Rename, b: &Rename) -> Ordering {
    let share = |r: &Rename| (r.equal.max(1), r.compared.max(1));
    let ((ea, ca), (eb, cb)) = (share(a), share(b));
    (ea * cb).cmp(&(eb * ca)).then(a.equal.cmp(&b.equal))
}

/// Equal leaf values, and the leaf paths of either body.
fn likeness(a: &Value, b: &Value) -> (usize, usize) {
    let (mut left, mut right) = (BTreeMap::new(), BTreeMap::new());
    leaves(a, String::new(), &mut left);
    leaves(b, String::new(), &mut right);
    let paths: BTreeSet<&String> = left.keys().chain(right.keys()).collect();
    let equal = left
        .iter()
        .filter(|(path, value)| right.get(*path) == Some(*value))
        .count();
    (equal, paths.len())
}

fn leaves<'a>(value: &'a Value, path: String, out: &mut BTreeMap<String, &'a Value>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, v) in map {
                leaves(v, join(key), out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                leaves(v, join(&i.to_string()), out);
            }
        }
        leaf => {
            out.insert(path, leaf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::blocks;
    use super::*;
    use serde_json::json;

    fn module(doc: &Value) -> Blocks {
        let files = BTreeMap::from([("a.tf.json".to_owned(), doc.to_string().into_bytes())]);
        blocks(&files).unwrap()
    }

    fn key(name: &str, alias: &str) -> Value {
        json!({"description": "logs", "enable_key_rotation": true, "deletion_window_in_days": 30,
               "tags": {"Name": alias}, "name_hint": name})
    }

    #[test]
    fn a_renamed_resource_is_found_with_its_line_and_block() {
        let old = module(&json!({"resource": {"aws_kms_key": {"logs": key("x", "logs")}}}));
        let new = module(&json!({"resource": {"aws_kms_key": {"log_key": key("x", "logs")}}}));
        let found = renames(&old, &new);
        assert_eq!(
            found,
            vec![Rename {
                from: "aws_kms_key.logs".into(),
                to: "aws_kms_key.log_key".into(),
                equal: 5,
                compared: 5
            }]
        );
        assert_eq!(
            found[0].moved_from_call(),
            r#".moved_from("aws_kms_key", "logs")"#
        );
        assert_eq!(
            found[0].moved_block(),
            r#"{"moved": [{"from": "aws_kms_key.logs", "to": "aws_kms_key.log_key"}]}"#
        );
        assert_eq!(found[0].likeness(), "5 of 5 attribute values equal");
    }

    #[test]
    fn each_removed_block_pairs_with_its_closest_counterpart_once() {
        let old = module(&json!({"resource": {"aws_kms_key": {
            "a": key("a", "A"), "b": key("b", "B")}}}));
        let new = module(&json!({"resource": {"aws_kms_key": {
            "b2": key("b", "B"), "a2": key("a", "A")}}}));
        let pairs: Vec<(String, String)> = renames(&old, &new)
            .into_iter()
            .map(|r| (r.from, r.to))
            .collect();
        assert_eq!(
            pairs,
            [
                ("aws_kms_key.a".into(), "aws_kms_key.a2".into()),
                ("aws_kms_key.b".into(), "aws_kms_key.b2".into())
            ]
        );
    }

    #[test]
    fn unlike_blocks_other_types_and_declared_moves_are_not_renames() {
        let old = module(&json!({"resource": {
            "aws_kms_key": {"a": key("a", "A")},
            "aws_s3_bucket": {"data": {"bucket": "x"}},
            "aws_vpc": {"moved_away": {"cidr_block": "10.0.0.0/16"}}}}));
        let new = module(&json!({"resource": {
            "aws_kms_key": {"z": {"description": "other", "policy": "p", "tags": {"Name": "Z"}}},
            "aws_sqs_queue": {"data": {"bucket": "x"}},
            "aws_vpc": {"main": {"cidr_block": "10.0.0.0/16"}}},
            "moved": [{"from": "aws_vpc.moved_away", "to": "aws_vpc.main"}]}));
        assert_eq!(renames(&old, &new), []);
    }

    #[test]
    fn only_managed_resource_addresses_have_a_type() {
        assert_eq!(resource_type("aws_vpc.main"), Some("aws_vpc"));
        for other in [
            "data.aws_region.current",
            "var.x",
            "output.y",
            "provider.aws",
            "moved aws_vpc.a",
            "file chart/Chart.yaml",
            "policy",
        ] {
            assert_eq!(resource_type(other), None, "{other}");
        }
    }
}
