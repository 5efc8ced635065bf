//! Two estimates side by side: two environments (`infra cost staging
//! production`), or a module before and after a change (`infra diff`).
//! Items are matched by resource address and what is paid for, so an item
//! only one side has shows as added or removed.

use serde::Serialize;

use super::{Estimate, Line, Totals};

/// One item on either side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub address: String,
    pub stack: String,
    pub what: String,
    /// The detail of each side (`t3.medium, spot ...` / `m6i.large, on-demand`).
    pub detail: (Option<String>, Option<String>),
    pub monthly: (Option<f64>, Option<f64>),
    pub estimated: bool,
    pub usage_based: bool,
}

impl Row {
    /// Right minus left; an absent side counts as nothing.
    pub fn change(&self) -> f64 {
        self.monthly.1.unwrap_or(0.0) - self.monthly.0.unwrap_or(0.0)
    }

    /// Whether the item differs between the sides (in cost or in what it is).
    pub fn differs(&self) -> bool {
        self.change().abs() >= 0.005 || self.detail.0 != self.detail.1
    }
}

/// The rows of two estimates and their totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub names: (String, String),
    pub rows: Vec<Row>,
    pub totals: (Totals, Totals),
}

impl Comparison {
    pub fn change(&self) -> f64 {
        self.totals.1.monthly - self.totals.0.monthly
    }
}

/// Rows in the left estimate's order, each item only the right has placed
/// after the last row of its resource (else of its stack, else at the end).
pub fn compare(left: &Estimate, right: &Estimate, names: (&str, &str)) -> Comparison {
    let row = |line: &Line| Row {
        address: line.address.clone(),
        stack: line.stack.clone(),
        what: line.what.clone(),
        detail: (None, None),
        monthly: (None, None),
        estimated: line.estimated,
        usage_based: !line.usage.is_empty(),
    };
    let mut rows: Vec<Row> = Vec::new();
    for line in &left.lines {
        let mut r = row(line);
        r.detail.0 = Some(line.detail.clone());
        r.monthly.0 = Some(line.monthly);
        rows.push(r);
    }
    for line in &right.lines {
        let same = rows
            .iter()
            .position(|r| r.address == line.address && r.what == line.what);
        let i = match same {
            Some(i) => i,
            None => {
                let after = rows
                    .iter()
                    .rposition(|r| r.address == line.address)
                    .or_else(|| rows.iter().rposition(|r| r.stack == line.stack))
                    .map_or(rows.len(), |i| i + 1);
                rows.insert(after, row(line));
                after
            }
        };
        rows[i].detail.1 = Some(line.detail.clone());
        rows[i].monthly.1 = Some(line.monthly);
        rows[i].usage_based |= !line.usage.is_empty();
    }
    Comparison {
        names: (names.0.to_owned(), names.1.to_owned()),
        rows,
        totals: (left.totals, right.totals),
    }
}
