//! Test databases: each test gets its own, created from a migrated template.
