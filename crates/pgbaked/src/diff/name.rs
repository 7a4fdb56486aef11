//! Names as the catalog writes them (already quoted where they must be): taken apart,
//! matched in deparsed text, and made up where the plan needs one of its own.

use super::catalog::{Catalog, Kind};
use crate::quote::unquote;

/// The parts of a qualified name as the catalog writes it (each already quoted where needed).
pub(crate) fn parts(name: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in name.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => {
                parts.push(&name[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&name[start..]);
    parts
}

/// `text` cut at each `separator` that stands outside quotes: a separator inside a
/// single-quoted literal or a double-quoted identifier (`"c CONSTRAINT x"`) is text.
pub(crate) fn split_unquoted<'a>(text: &'a str, separator: &str) -> Vec<&'a str> {
    let mut pieces = Vec::new();
    let (mut start, mut single, mut double) = (0, false, false);
    let mut i = 0;
    while i < text.len() {
        let c = text[i..].chars().next().unwrap_or(' ');
        if !single && !double && text[i..].starts_with(separator) {
            pieces.push(&text[start..i]);
            i += separator.len();
            start = i;
            continue;
        }
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            _ => {}
        }
        i += c.len_utf8();
    }
    pieces.push(&text[start..]);
    pieces
}

/// `split_once` and `rsplit_once` made outside quotes: names the catalog quotes and strings
/// in deparsed expressions may hold the separator themselves.
pub(crate) trait Unquoted {
    /// Around the first `separator` outside quotes.
    fn split_once_unquoted(&self, separator: &str) -> Option<(&str, &str)>;
    /// Around the last `separator` outside quotes.
    fn rsplit_once_unquoted(&self, separator: &str) -> Option<(&str, &str)>;
}

impl Unquoted for str {
    fn split_once_unquoted(&self, separator: &str) -> Option<(&str, &str)> {
        let pieces = split_unquoted(self, separator);
        let head = *pieces.first().filter(|_| pieces.len() > 1)?;
        Some((head, &self[head.len() + separator.len()..]))
    }

    fn rsplit_once_unquoted(&self, separator: &str) -> Option<(&str, &str)> {
        let pieces = split_unquoted(self, separator);
        let tail = *pieces.last().filter(|_| pieces.len() > 1)?;
        Some((&self[..self.len() - tail.len() - separator.len()], tail))
    }
}

/// The first word of `text` as the catalog writes it (a quoted identifier whole, spaces and
/// all), and what follows the space after it.
pub(crate) fn first_word(text: &str) -> (&str, &str) {
    let end = if text.starts_with('"') {
        let mut quoted = false;
        text.char_indices()
            .find(|&(i, c)| {
                if c == '"' {
                    quoted = !quoted;
                }
                !quoted && i > 0 && c == ' '
            })
            .map_or(text.len(), |(i, _)| i)
    } else {
        text.find(' ').unwrap_or(text.len())
    };
    (&text[..end], text[end..].strip_prefix(' ').unwrap_or(""))
}

/// `schema.table` of a `schema.table.object` name, and the object.
pub(crate) fn split_last(name: &str) -> (String, &str) {
    let p = parts(name);
    let (last, table) = p.split_last().map_or(("", &p[..]), |(l, t)| (*l, t));
    (table.join("."), last)
}

/// The name PostgreSQL gives an object it names after a table and a column
/// (`makeObjectName`): `<table>_<column>_<label>`, the longer of the two names cut a
/// character at a time until the whole fits in 63 bytes.
pub(crate) fn object_name(table: &str, column: &str, label: &str) -> String {
    let available = 63 - (label.len() + 2);
    let (mut t, mut c) = (table.len(), column.len());
    while t + c > available {
        if t > c {
            t -= 1;
            while !table.is_char_boundary(t) {
                t -= 1;
            }
        } else {
            c -= 1;
            while !column.is_char_boundary(c) {
                c -= 1;
            }
        }
    }
    format!("{}_{}_{label}", &table[..t], &column[..c])
}

/// Whitespace collapsed, as the catalog compares definitions.
pub(crate) fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The last part of a qualified name, without its quotes: `users` of `public."users"`, for
/// finding it in deparsed text.
pub(crate) fn bare_name(name: &str) -> &str {
    parts(name)
        .last()
        .map(|n| n.trim_matches('"'))
        .unwrap_or("")
}

/// `wanted`, or `wanted` with a number after it, whichever names no constraint of `table` in
/// `catalog`: a constraint the plan adds for a while must not clash with one the user made.
pub(crate) fn free_constraint_name(catalog: &Catalog, table: &str, wanted: &str) -> String {
    let taken = |candidate: &str| {
        catalog.objects().any(|(kind, name, _)| {
            kind == Kind::Constraint && {
                let (on, constraint) = split_last(name);
                on == table && unquote(constraint) == candidate
            }
        })
    };
    free_name(wanted, taken)
}

/// `wanted`, or `wanted` with a number after it, cut to the 63 bytes the server keeps of a
/// name (it would cut it itself, onto a name that may be taken), whichever `taken` refuses.
pub(crate) fn free_name(wanted: &str, taken: impl Fn(&str) -> bool) -> String {
    let cut = |name: &str, room: usize| {
        let mut end = name.len().min(room);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name[..end].to_string()
    };
    let mut candidate = cut(wanted, 63);
    let mut n = 1;
    while taken(&candidate) {
        let number = n.to_string();
        candidate = format!("{}{number}", cut(wanted, 63 - number.len()));
        n += 1;
    }
    candidate
}

/// Whether `text` mentions the relation `name` (its bare name, as a whole word).
pub(crate) fn mentions(text: &str, name: &str) -> bool {
    let bare = bare_name(name);
    if bare.is_empty() {
        return false;
    }
    let word = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(bare).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + bare.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

/// Replaces `old` as a whole word in `text`.
pub(crate) fn replace_word(text: &str, old: &str, new: &str) -> String {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(old) {
        let before = rest[..i].chars().next_back().or(out.chars().next_back());
        let after = rest[i + old.len()..].chars().next();
        out.push_str(&rest[..i]);
        if before.is_some_and(word) || after.is_some_and(word) {
            out.push_str(old);
        } else {
            out.push_str(new);
        }
        rest = &rest[i + old.len()..];
    }
    out.push_str(rest);
    out
}
