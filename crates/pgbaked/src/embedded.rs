//! What a build script embeds: the migration files as static text, with the statement offsets
//! the build's parser found. Plain data, so that generated code needs nothing but this type.

/// A migration as a build script embeds it (see `pgbaked-build`): static text, validated
/// at compile time.
#[derive(Clone, Copy, Debug)]
pub struct EmbeddedMigration {
    /// The version, from `V{version}__…`.
    pub version: i64,
    /// The description, from `…__{description}.sql`.
    pub description: &'static str,
    /// The `V` file, relative to the project root.
    pub path: &'static str,
    /// The `V` file's content.
    pub sql: &'static str,
    /// The `U` file, relative to the project root, if there is one.
    pub undo_path: Option<&'static str>,
    /// The `U` file's content, if there is one.
    pub undo_sql: Option<&'static str>,
    /// Where each statement of the `V` file starts (byte offsets, after a byte-order mark),
    /// as the PostgreSQL grammar split it at build time; empty when the build did not parse.
    pub statements: &'static [usize],
    /// The same for the `U` file.
    pub undo_statements: &'static [usize],
}
