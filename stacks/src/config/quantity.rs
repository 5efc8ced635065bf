//! Kubernetes resource quantities (`250m`, `1`, `128Mi`, `1G`), parsed into a
//! comparable unit so requests, limits and sizes can be checked at load.

/// What a quantity measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantityUnit {
    /// CPU, parsed into millicores.
    Cpu,
    /// Memory or storage, parsed into bytes.
    Bytes,
}

/// A quantity as a whole number of millicores (CPU) or bytes, above zero.
pub fn parse_quantity(text: &str, unit: QuantityUnit) -> Result<u128, String> {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(digits);
    let multiplier: Option<u128> = match (unit, suffix) {
        (QuantityUnit::Cpu, "") => Some(1000),
        (QuantityUnit::Cpu, "m") => Some(1),
        (QuantityUnit::Bytes, "") => Some(1),
        (QuantityUnit::Bytes, suffix) => [
            ("Ki", 1u128 << 10),
            ("Mi", 1 << 20),
            ("Gi", 1 << 30),
            ("Ti", 1 << 40),
        ]
        .into_iter()
        .chain([
            ("k", 1000),
            ("M", 1_000_000),
            ("G", 1_000_000_000),
            ("T", 1_000_000_000_000),
        ])
        .find(|(s, _)| *s == suffix)
        .map(|(_, m)| m),
        (QuantityUnit::Cpu, _) => None,
    };
    let expected = match unit {
        QuantityUnit::Cpu => "a CPU quantity such as 250m or 1",
        QuantityUnit::Bytes => "a memory quantity such as 128Mi or 1Gi",
    };
    match (number.parse::<u128>(), multiplier) {
        (Ok(value), Some(multiplier)) if value > 0 => Ok(value * multiplier),
        _ => Err(format!(
            "`{text}` is not {expected} (a whole number above zero)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_into_comparable_units() {
        assert_eq!(parse_quantity("250m", QuantityUnit::Cpu), Ok(250));
        assert_eq!(parse_quantity("2", QuantityUnit::Cpu), Ok(2000));
        assert_eq!(parse_quantity("128Mi", QuantityUnit::Bytes), Ok(128 << 20));
        assert_eq!(parse_quantity("1G", QuantityUnit::Bytes), Ok(1_000_000_000));
        for bad in ["0", "1.5", "m", "", "128MB"] {
            assert!(parse_quantity(bad, QuantityUnit::Bytes).is_err(), "{bad}");
        }
        assert!(parse_quantity("1Gi", QuantityUnit::Cpu).is_err());
    }
}
