//! Estimates as text tables for the terminal: the monthly figure first,
//! right-aligned, so a column of money reads at a glance; then the resource
//! and what is paid for, with the arithmetic behind it.

use std::fmt::Write as _;

use super::{Comparison, Estimate, Line, Row, UsageSource};

/// Marks a figure that depends on `[usage]` inputs.
const USAGE_MARK: char = '*';
/// Marks a resource created by a controller in the cluster.
const ESTIMATED_MARK: char = '~';

/// `1,234.56`.
pub fn money(usd: f64) -> String {
    let cents = (usd * 100.0).round() as i64;
    let (sign, cents) = if cents < 0 {
        ("-", -cents)
    } else {
        ("", cents)
    };
    format!("{sign}{}.{:02}", thousands(cents / 100), cents % 100)
}

/// `+12.00`, `-3.65`, or `=` for no change.
pub fn signed(usd: f64) -> String {
    if usd.abs() < 0.005 {
        "=".into()
    } else if usd > 0.0 {
        format!("+{}", money(usd))
    } else {
        money(usd)
    }
}

fn thousands(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A quantity: whole numbers with separators, else up to two decimals.
pub fn quantity(q: f64) -> String {
    if (q - q.round()).abs() < 1e-9 {
        thousands(q.round() as i64)
    } else {
        let text = format!("{q:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// A unit price with as many decimals as it has (at least two).
pub fn unit_price(usd: f64) -> String {
    let text = format!("{usd:.6}");
    let trimmed = text.trim_end_matches('0');
    let decimals = trimmed.split('.').nth(1).map_or(0, str::len);
    if decimals < 2 {
        format!("{usd:.2}")
    } else {
        trimmed.to_owned()
    }
}

/// `data processed (detail): 50 GB x 0.048`.
pub fn arithmetic(line: &Line) -> String {
    let mut text = line.what.clone();
    if !line.detail.is_empty() {
        text.push_str(&format!(" ({})", line.detail));
    }
    text.push_str(&format!(
        ": {} {} x {}",
        quantity(line.quantity),
        line.unit,
        unit_price(line.unit_price)
    ));
    if let Some((min, max)) = line.range {
        text.push_str(&format!("; {} to {} by scaling", money(min), money(max)));
    }
    if !line.usage.is_empty() {
        let keys: Vec<&str> = line.usage.iter().map(|k| k.name()).collect();
        text.push_str(&format!(" [usage.{}]", keys.join(", usage.")));
    }
    if let Some(note) = &line.note {
        text.push_str(&format!("; {note}"));
    }
    text
}

fn marks(usage: bool, estimated: bool) -> String {
    let mut m = String::new();
    m.push(if usage { USAGE_MARK } else { ' ' });
    m.push(if estimated { ESTIMATED_MARK } else { ' ' });
    m
}

/// Stacks in order of first appearance, with their lines.
fn by_stack(lines: &[Line]) -> Vec<(&str, Vec<&Line>)> {
    let mut groups: Vec<(&str, Vec<&Line>)> = Vec::new();
    for line in lines {
        match groups.iter_mut().find(|(s, _)| *s == line.stack) {
            Some((_, group)) => group.push(line),
            None => groups.push((&line.stack, vec![line])),
        }
    }
    groups
}

/// One environment's estimate.
pub fn estimate_table(e: &Estimate) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: monthly estimate in {}, {}, as of {} ({} hours a month)\n",
        e.environment, e.currency, e.region, e.as_of, e.hours_per_month
    );
    let width = e.lines.iter().map(|l| l.address.len()).max().unwrap_or(0);
    for (stack, lines) in by_stack(&e.lines) {
        let title = if stack == crate::inventory::IN_CLUSTER {
            "in the cluster: created by controllers, estimated from config (not in terraform)"
        } else {
            stack
        };
        let _ = writeln!(out, "{title}");
        let mut previous = "";
        for line in &lines {
            let address = if line.address == previous {
                ""
            } else {
                &line.address
            };
            previous = &line.address;
            let _ = writeln!(
                out,
                "{:>10}{} {address:<width$}  {}",
                money(line.monthly),
                marks(!line.usage.is_empty(), line.estimated),
                arithmetic(line)
            );
        }
        let subtotal: f64 = lines.iter().map(|l| l.monthly).sum();
        let _ = writeln!(out, "{:>10}   {stack}\n", money(subtotal));
    }
    let t = &e.totals;
    let _ = writeln!(
        out,
        "{:>10}   total a month ({})",
        money(t.monthly),
        e.currency
    );
    if (t.min - t.monthly).abs() >= 0.005 || (t.max - t.monthly).abs() >= 0.005 {
        let _ = writeln!(
            out,
            "{:>10}   from {} to {} as node groups and NodePools scale between their sizes",
            "",
            money(t.min),
            money(t.max)
        );
    }
    let _ = writeln!(
        out,
        "{:>10}{USAGE_MARK}  of it depends on [usage] inputs (below)",
        money(t.usage_based)
    );
    let _ = writeln!(
        out,
        "{:>10} {ESTIMATED_MARK} of it is created by controllers in the cluster, estimated from config",
        money(t.estimated_from_config)
    );
    footer(&mut out, e);
    out
}

fn footer(out: &mut String, e: &Estimate) {
    if !e.usage.is_empty() {
        let _ = writeln!(out, "\nusage inputs ([usage] in the environment's config):");
        for u in &e.usage {
            let source = match u.source {
                UsageSource::Default => "default",
                UsageSource::Environment => "set in [usage]",
                UsageSource::Resource => "set for this resource",
            };
            let _ = writeln!(
                out,
                "  {} = {} {} ({source}): {}; for {}",
                u.key.name(),
                quantity(u.value),
                u.unit,
                u.meaning,
                u.resources.join(", ")
            );
        }
    }
    if !e.estimates.is_empty() {
        let _ = writeln!(out, "\nwhat the in-cluster estimates (~) rest on:");
        for b in &e.estimates {
            let _ = writeln!(
                out,
                "  {}: {} (made by {} for {})",
                b.address, b.basis, b.controller, b.created_by
            );
        }
    }
    if e.unpriced.is_empty() {
        let _ = writeln!(out, "\nnot priced: nothing");
    } else {
        let _ = writeln!(
            out,
            "\nnot priced ({}), so the total is too low:",
            e.unpriced.len()
        );
        for u in &e.unpriced {
            let _ = writeln!(out, "  {}: {}", u.address, u.reason);
        }
    }
    let free: Vec<String> = e
        .no_charge
        .iter()
        .map(|(ty, n)| format!("{ty} x{n}"))
        .collect();
    let _ = writeln!(
        out,
        "no charge of their own: {} blocks ({})",
        e.no_charge.values().sum::<usize>(),
        free.join(", ")
    );
    let counts: Vec<String> = e
        .prices
        .counts
        .iter()
        .map(|(status, n)| status.counted(*n))
        .collect();
    let _ = writeln!(
        out,
        "prices: {} (read {}; {})",
        e.prices.file,
        e.prices
            .oldest_read
            .map_or_else(|| "-".to_owned(), |d| d.to_string()),
        counts.join(", ")
    );
    for notice in &e.notices {
        let _ = writeln!(out, "notice: {notice}");
    }
}

/// Two estimates side by side; with `only_changes`, the items that differ.
pub fn comparison_table(c: &Comparison, only_changes: bool) -> String {
    let mut out = String::new();
    let (a, b) = (&c.names.0, &c.names.1);
    let wa = a.len().max(10);
    let wb = b.len().max(10);
    let _ = writeln!(out, "{a:>wa$} {b:>wb$} {:>10}    resource: item", "change");
    let width = c.rows.iter().map(|r| r.address.len()).max().unwrap_or(0);
    let mut stack = "";
    for row in &c.rows {
        if only_changes && !row.differs() {
            continue;
        }
        if row.stack != stack {
            stack = &row.stack;
            let _ = writeln!(out, "{stack}");
        }
        let side = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), money);
        let _ = writeln!(
            out,
            "{:>wa$} {:>wb$} {:>10}{} {:<width$}  {}",
            side(row.monthly.0),
            side(row.monthly.1),
            signed(row.change()),
            marks(row.usage_based, row.estimated),
            row.address,
            describe(row)
        );
    }
    let (ta, tb) = &c.totals;
    let _ = writeln!(
        out,
        "{:>wa$} {:>wb$} {:>10}    total a month",
        money(ta.monthly),
        money(tb.monthly),
        signed(c.change())
    );
    out
}

fn describe(row: &Row) -> String {
    match &row.detail {
        (Some(x), Some(y)) if x != y => format!("{} ({x} -> {y})", row.what),
        (Some(d), _) | (None, Some(d)) if !d.is_empty() => format!("{} ({d})", row.what),
        _ => row.what.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_money_and_units() {
        assert_eq!(money(1234.5), "1,234.50");
        assert_eq!(money(-0.004), "0.00");
        assert_eq!(money(-12.345), "-12.35");
        assert_eq!(signed(35.04), "+35.04");
        assert_eq!(signed(0.001), "=");
        assert_eq!(quantity(1460.0), "1,460");
        assert_eq!(quantity(0.5), "0.5");
        assert_eq!(unit_price(0.6), "0.60");
        assert_eq!(unit_price(0.0456), "0.0456");
        assert_eq!(unit_price(0.01824), "0.01824");
    }
}
