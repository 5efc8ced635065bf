//! Rust names for schema names: snake_case items stay, keywords and the
//! builders' own method names get a trailing `_`, types are CamelCase.

/// Strict, reserved and weak keywords that cannot name a method or a module.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "union", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Type names a generated struct must not take: they would shadow the
/// prelude names generated code relies on.
const RESERVED_TYPES: &[&str] = &[
    "Self", "Option", "Some", "None", "Result", "Ok", "Err", "Vec", "String", "Box", "Into",
    "From", "Clone", "Debug", "Default", "Sized", "Send", "Sync", "Copy",
];

/// A method, parameter or module name for a schema name.
pub fn ident(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    if KEYWORDS.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

/// A type name for a schema name: `eks_cluster` → `EksCluster`.
pub fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            upper = c.is_ascii_digit();
        } else {
            upper = true;
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'T');
    }
    out
}

/// Whether a struct may be called `name`.
pub fn is_reserved_type(name: &str) -> bool {
    RESERVED_TYPES.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_become_rust_names() {
        assert_eq!(ident("cidr_block"), "cidr_block");
        assert_eq!(ident("type"), "type_");
        assert_eq!(ident("self"), "self_");
        assert_eq!(ident("kebab-name"), "kebab_name");
        assert_eq!(ident("3d"), "_3d");
        assert_eq!(camel("eks_cluster"), "EksCluster");
        assert_eq!(camel("namespace_v1"), "NamespaceV1");
        assert_eq!(camel("ipv6_cidr_block"), "Ipv6CidrBlock");
        assert_eq!(camel("s3"), "S3");
        assert!(is_reserved_type("Option"));
    }
}
