//! Moving a selection through a list with the keys every list shares:
//! arrows and `j`/`k`, page up and down, home and end (`g`/`G`).

use crossterm::event::{KeyCode, KeyEvent};

/// Moves a selection by a key; `None` when the key is not a movement.
pub fn step(selected: usize, len: usize, key: KeyEvent, page: usize) -> Option<usize> {
    let last = len.saturating_sub(1);
    let next = match key.code {
        KeyCode::Down | KeyCode::Char('j') => selected.saturating_add(1),
        KeyCode::Up | KeyCode::Char('k') => selected.saturating_sub(1),
        KeyCode::PageDown => selected.saturating_add(page),
        KeyCode::PageUp => selected.saturating_sub(page),
        KeyCode::Home | KeyCode::Char('g') => 0,
        KeyCode::End | KeyCode::Char('G') => last,
        _ => return None,
    };
    Some(next.min(last))
}
