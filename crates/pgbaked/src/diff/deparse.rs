//! What the server's deparsers print but do not read back as the same expression.

/// The deparsed text with the one construct the server prints but does not read back as the
/// same expression: an IN list over `varchar` (or `char`) deparses as
/// `(col)::text = ANY ((ARRAY['a'::character varying, ...])::text[])`, and that cast of an
/// `ARRAY[...]`, read again, is pushed into every element
/// (`ARRAY[('a'::character varying)::text, ...]`): a different expression, so a check or a
/// partial index written back from the deparse would never compare equal to its source. The
/// cast is the implicit coercion that the operator's resolution added; without it the server
/// adds it again, and the expression comes back as it was.
///
/// Only the right operand of `ANY (` / `ALL (` is touched: elsewhere the same cast may be what
/// gives an expression its type.
pub(crate) fn reparseable(def: &str) -> String {
    if !def.contains("ARRAY[") {
        return def.to_string();
    }
    let mut out = String::with_capacity(def.len());
    let mut i = 0;
    let mut quoted = false;
    while i < def.len() {
        let rest = &def[i..];
        let c = rest.chars().next().unwrap_or_default();
        if c == '\'' {
            quoted = !quoted;
        }
        if !quoted
            && (rest.starts_with("ANY (") || rest.starts_with("ALL ("))
            && let Some((array, end)) = uncast_array(def, i + 5)
        {
            out.push_str(&def[i..i + 5]);
            out.push_str(array);
            i = end;
            continue;
        }
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// At `start`: `(ARRAY[...])::type[]` (how constraints and indexes deparse) or
/// `ARRAY[...]::type[]` (how views do), directly followed by the `)` that closes `ANY (`.
/// Returns the bare `ARRAY[...]` and where the cast ends.
fn uncast_array(def: &str, start: usize) -> Option<(&str, usize)> {
    let rest = &def[start..];
    let parenthesised = rest.starts_with("(ARRAY[");
    let open = if parenthesised { start + 1 } else { start };
    if !def[open..].starts_with("ARRAY[") {
        return None;
    }
    // The `]` that closes the array, past nested brackets and quoted literals.
    let mut depth = 0usize;
    let mut quoted = false;
    let mut close = None;
    for (k, c) in def[open..].char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + k);
                    break;
                }
            }
            _ => {}
        }
    }
    let close = close?;
    let array = &def[open..=close];
    let mut after = close + 1;
    if parenthesised {
        if !def[after..].starts_with(')') {
            return None;
        }
        after += 1;
    }
    let cast = def[after..].strip_prefix("::")?;
    // The type name, up to the `[]` of an array type, then the `)` closing ANY/ALL.
    let end_of_type = cast.find("[])")?;
    let type_name = &cast[..end_of_type];
    if type_name.is_empty() || type_name.contains(['(', ')', '\'', ',']) {
        return None;
    }
    Some((array, after + 2 + end_of_type + 2))
}
