//! What the FFI's integration tests share: a township with one grid and
//! its worker, on the server's data directory.
//!
//! Each test file uses part of it.
#![allow(dead_code)]

use gridsync_proto::{Level, Place, Role};
use gridsync_server::operator::Operator;

/// The township.
pub(crate) const TOWNSHIP: &str = "530102";
/// Its village.
pub(crate) const VILLAGE: &str = "530102001";
/// The village's grid, where the worker `li` works.
pub(crate) const GRID: &str = "530102001-01";
/// A day in milliseconds.
pub(crate) const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// A township → village → grid and the worker `li` in the grid.
pub(crate) fn township_with_a_worker(op: &Operator) -> anyhow::Result<()> {
    let place = |code: &str, name: &str, level, parent: Option<&str>| Place {
        code: code.into(),
        name: name.into(),
        level,
        parent: parent.map(Into::into),
    };
    op.add_place(&place(TOWNSHIP, "城关镇", Level::Township, None))?;
    op.add_place(&place(VILLAGE, "东关村", Level::Village, Some(TOWNSHIP)))?;
    op.add_place(&place(GRID, "东关村第一网格", Level::Grid, Some(VILLAGE)))?;
    op.add_user("li", Role::Worker, Some(GRID), None, None)?;
    Ok(())
}
