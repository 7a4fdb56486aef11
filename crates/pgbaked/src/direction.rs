//! Which way a run goes: up, applying `V` files, or down, running `U` files.

/// Which way a run, or an offline script, goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Applying `V` files (`up`).
    Up,
    /// Running `U` files (`down`).
    Down,
}
