//! A one-line text input (the filter box and form fields): a string and a
//! cursor counted in characters, edited by key presses.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    value: String,
    /// Cursor position in characters (not bytes), 0..=len.
    cursor: usize,
}

impl TextInput {
    pub fn new(value: impl Into<String>) -> TextInput {
        let value = value.into();
        let cursor = value.chars().count();
        TextInput { value, cursor }
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Applies an editing key. Returns whether the key was an editing key
    /// (so callers know not to treat it as a command) and whether the text
    /// changed.
    pub fn on_key(&mut self, key: KeyEvent) -> Edit {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('u') if ctrl => self.replace(String::new()),
            KeyCode::Char('w') if ctrl => {
                let chars: Vec<char> = self.value.chars().collect();
                let mut start = self.cursor;
                while start > 0 && chars.get(start - 1).is_some_and(|c| c.is_whitespace()) {
                    start -= 1;
                }
                while start > 0 && chars.get(start - 1).is_some_and(|c| !c.is_whitespace()) {
                    start -= 1;
                }
                let kept: String = chars
                    .iter()
                    .take(start)
                    .chain(chars.iter().skip(self.cursor))
                    .collect();
                let changed = kept != self.value;
                self.value = kept;
                self.cursor = start;
                Edit::from_changed(changed)
            }
            KeyCode::Char(_) if ctrl => Edit::NotMine,
            KeyCode::Char(c) => {
                let at = self.byte_index(self.cursor);
                self.value.insert(at, c);
                self.cursor += 1;
                Edit::Changed
            }
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                let at = self.byte_index(self.cursor);
                self.value.remove(at);
                Edit::Changed
            }
            KeyCode::Delete if self.cursor < self.len() => {
                let at = self.byte_index(self.cursor);
                self.value.remove(at);
                Edit::Changed
            }
            KeyCode::Backspace | KeyCode::Delete => Edit::Moved,
            KeyCode::Left => {
                self.cursor = self.cursor.saturating_sub(1);
                Edit::Moved
            }
            KeyCode::Right => {
                self.cursor = (self.cursor + 1).min(self.len());
                Edit::Moved
            }
            KeyCode::Home => {
                self.cursor = 0;
                Edit::Moved
            }
            KeyCode::End => {
                self.cursor = self.len();
                Edit::Moved
            }
            _ => Edit::NotMine,
        }
    }

    fn replace(&mut self, value: String) -> Edit {
        let changed = value != self.value;
        self.value = value;
        self.cursor = self.len();
        Edit::from_changed(changed)
    }

    fn len(&self) -> usize {
        self.value.chars().count()
    }

    fn byte_index(&self, chars: usize) -> usize {
        self.value
            .char_indices()
            .nth(chars)
            .map_or(self.value.len(), |(i, _)| i)
    }
}

/// What a key did to a [`TextInput`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    Changed,
    /// Consumed (cursor moved, or nothing to delete) without changing the text.
    Moved,
    /// Not an editing key.
    NotMine,
}

impl Edit {
    fn from_changed(changed: bool) -> Edit {
        if changed { Edit::Changed } else { Edit::Moved }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn edits_in_the_middle_of_multibyte_text() {
        let mut input = TextInput::new("zoë");
        assert_eq!(input.on_key(key(KeyCode::Left)), Edit::Moved);
        assert_eq!(input.on_key(key(KeyCode::Char('x'))), Edit::Changed);
        assert_eq!(input.value(), "zoxë");
        input.on_key(key(KeyCode::Delete));
        assert_eq!(input.value(), "zox");
        input.on_key(key(KeyCode::Home));
        assert_eq!(input.on_key(key(KeyCode::Backspace)), Edit::Moved);
        assert_eq!(input.on_key(key(KeyCode::Enter)), Edit::NotMine);
    }

    #[test]
    fn ctrl_w_deletes_a_word_and_ctrl_u_clears() {
        let mut input = TextInput::new("ada lovelace");
        let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
        input.on_key(ctrl('w'));
        assert_eq!(input.value(), "ada ");
        input.on_key(ctrl('u'));
        assert_eq!(input.value(), "");
    }
}
