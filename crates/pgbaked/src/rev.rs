//! Revisions as the CLI takes them: `head`, `base`, `+N`, `-N`, a version, or a full name.

use std::fmt;
use std::str::FromStr;

/// A revision, before it is resolved against the migrations and the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rev {
    /// The newest migration the binary knows.
    Head,
    /// Nothing applied.
    Base,
    /// N migrations above (`+N`) or below (`-N`) the current version; never zero.
    Relative(i64),
    /// A version number.
    Version(i64),
    /// A full name, `V3__add_jwt_token`: version and description must both match.
    Name(i64, String),
}

/// A revision that cannot be parsed or resolved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RevError {
    /// The text is not a revision at all.
    #[error(
        "invalid revision `{0}`: expected head, base, +N, -N, a version number or a name like V3__add_users"
    )]
    Syntax(String),
    /// `+0` or `-0`.
    #[error("invalid revision `{0}`: a relative step must be at least 1")]
    ZeroStep(String),
    /// The version is not embedded in this binary.
    #[error("no migration has version {0}")]
    NoSuchVersion(i64),
    /// The version exists but under another description.
    #[error("no migration is named V{version}__{name}; version {version} is V{version}__{actual}")]
    NameMismatch {
        /// The version asked for.
        version: i64,
        /// The description asked for.
        name: String,
        /// The description the binary has.
        actual: String,
    },
    /// `+N` goes past the newest migration.
    #[error("cannot go up {asked} step(s): only {available} migration(s) are pending")]
    BeyondHead {
        /// N.
        asked: i64,
        /// How many are pending.
        available: usize,
    },
    /// `-N` goes past base.
    #[error("cannot go down {asked} step(s): only {available} migration(s) are applied")]
    BeyondBase {
        /// N.
        asked: i64,
        /// How many are applied.
        available: usize,
    },
    /// An upgrade target below the current version.
    #[error("cannot upgrade to {target}: the database is already at {current}")]
    UpgradeBelowCurrent {
        /// The target.
        target: String,
        /// The current version.
        current: i64,
    },
    /// A downgrade target above the current version.
    #[error("cannot downgrade to {target}: the database is at {current}, below it")]
    DowngradeAboveCurrent {
        /// The target.
        target: String,
        /// The current version, or base.
        current: String,
    },
    /// A downgrade target that is not applied.
    #[error("cannot downgrade to V{0}: it is not applied")]
    NotApplied(i64),
    /// `+N` given to a downgrade or `-N` to an upgrade.
    #[error("`{0}` points the wrong way for this command")]
    WrongDirection(String),
}

impl FromStr for Rev {
    type Err = RevError;

    fn from_str(text: &str) -> Result<Rev, RevError> {
        let trimmed = text.trim();
        let syntax = || RevError::Syntax(text.to_string());
        match trimmed.to_ascii_lowercase().as_str() {
            "head" | "heads" => return Ok(Rev::Head),
            "base" => return Ok(Rev::Base),
            _ => {}
        }
        if let Some(rest) = trimmed
            .strip_prefix('+')
            .map(|r| (r, 1))
            .or_else(|| trimmed.strip_prefix('-').map(|r| (r, -1)))
        {
            let (digits, sign) = rest;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(syntax());
            }
            let n: i64 = digits.parse().map_err(|_| syntax())?;
            if n == 0 {
                return Err(RevError::ZeroStep(text.to_string()));
            }
            return Ok(Rev::Relative(sign * n));
        }
        if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            let version: i64 = trimmed.parse().map_err(|_| syntax())?;
            return if version == 0 {
                Err(syntax())
            } else {
                Ok(Rev::Version(version))
            };
        }
        let stem = trimmed.strip_suffix(".sql").unwrap_or(trimmed);
        let stem = stem.rsplit('/').next().unwrap_or(stem);
        match super::grammar::parse_file_name(&format!("{stem}.sql")) {
            Ok(name) if name.kind == super::grammar::FileKind::Apply => {
                Ok(Rev::Name(name.version, name.description))
            }
            _ => Err(syntax()),
        }
    }
}

impl fmt::Display for Rev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rev::Head => write!(f, "head"),
            Rev::Base => write!(f, "base"),
            Rev::Relative(n) => write!(f, "{n:+}"),
            Rev::Version(v) => write!(f, "{v}"),
            Rev::Name(v, name) => write!(f, "V{v}__{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_parse() {
        let ok = [
            ("head", Rev::Head),
            ("HEAD", Rev::Head),
            ("base", Rev::Base),
            ("+1", Rev::Relative(1)),
            ("-2", Rev::Relative(-2)),
            ("3", Rev::Version(3)),
            ("20261122093000", Rev::Version(20261122093000)),
            ("V3__add_jwt_token", Rev::Name(3, "add_jwt_token".into())),
            (
                "sql/V3__add_jwt_token.sql",
                Rev::Name(3, "add_jwt_token".into()),
            ),
        ];
        for (text, rev) in ok {
            assert_eq!(text.parse::<Rev>(), Ok(rev.clone()), "{text}");
            assert!(rev.to_string().parse::<Rev>() == Ok(rev));
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_is_rejected_without_panicking(text in ".*") {
            if let Ok(rev) = text.parse::<Rev>() {
                // Whatever parses prints back to something that parses the same.
                proptest::prop_assert_eq!(rev.to_string().parse::<Rev>(), Ok(rev));
            }
        }

        #[test]
        fn relative_steps_parse(n in 1..=i64::MAX, up: bool) {
            let text = if up { format!("+{n}") } else { format!("-{n}") };
            let expected = if up { n } else { -n };
            proptest::prop_assert_eq!(text.parse::<Rev>(), Ok(Rev::Relative(expected)));
        }
    }

    #[test]
    fn bad_revisions_are_rejected_with_the_text() {
        for text in [
            "",
            "+x",
            "+",
            "-",
            "--1",
            "+-1",
            "1.5",
            "V3",
            "U3__x",
            "v3__x",
            "0",
            "abc",
            "99999999999999999999",
            "+99999999999999999999",
            "V3__bad-name",
        ] {
            let err = text.parse::<Rev>().unwrap_err();
            assert!(
                matches!(&err, RevError::Syntax(t) if t == text),
                "{text}: {err}"
            );
        }
        assert_eq!("-0".parse::<Rev>(), Err(RevError::ZeroStep("-0".into())));
        assert_eq!("+0".parse::<Rev>(), Err(RevError::ZeroStep("+0".into())));
    }
}
