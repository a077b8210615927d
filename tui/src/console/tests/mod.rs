//! Console tests without a daemon: the update logic fed [`AppEvent`]s
//! directly, with replies made from plain data (`fixtures`), and snapshots
//! of every screen at 100×30. What the console does against the real
//! daemon is tested end to end in `tests/tests/e2e/console*.rs`.

mod fixtures;
mod logic;
mod snapshots;
