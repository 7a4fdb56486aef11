//! Identifiers and literals in generated SQL: the one place names and values are quoted, and
//! the one place a quoted name from the catalog is read back into the name it stands for.
//!
//! The catalog reads every name through the server's own `format('%I')`/`quote_ident`, so a
//! name the planner takes from it is already quoted where it needs to be; a name the planner
//! makes up (a temporary constraint, a table moved aside) is quoted here, always.

/// Quotes an identifier the way PostgreSQL's `quote_ident` does, always.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a string literal; standard_conforming_strings is on, so only `'` needs doubling.
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The name one part of a qualified name stands for: `"Ev""il"` → `Ev"il`, `users` → `users`.
/// A part that is not quoted is returned as it is (the catalog writes unquoted only names that
/// need no quoting, which are already folded to lower case).
pub fn unquote(part: &str) -> String {
    match part
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
    {
        Some(inner) => inner.replace("\"\"", "\""),
        None => part.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_round_trip() {
        for name in [
            "x; DROP TABLE victim",
            "Mixed Schema",
            "Ev'il",
            "a\"b",
            "\"",
            "naïve 🐘",
            "select",
        ] {
            assert_eq!(unquote(&quote_identifier(name)), name);
        }
        assert_eq!(unquote("users"), "users");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(
            quote_identifier("x; DROP TABLE victim"),
            "\"x; DROP TABLE victim\""
        );
    }
}
