//! Colours and emphasis in one place, so screens agree and a palette change
//! is one edit. Plain attributes first: the console must stay readable on
//! terminals without colour.

use ratatui::style::{Color, Modifier, Style};

pub fn bar() -> Style {
    Style::new().fg(Color::Black).bg(Color::Cyan)
}

pub fn tab_active() -> Style {
    bar().add_modifier(Modifier::BOLD | Modifier::REVERSED)
}

pub fn header() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

pub fn selected() -> Style {
    Style::new().add_modifier(Modifier::REVERSED)
}

pub fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

pub fn key() -> Style {
    Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
}

pub fn error() -> Style {
    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
}

pub fn ok() -> Style {
    Style::new().fg(Color::Green)
}

pub fn warning() -> Style {
    Style::new().fg(Color::Yellow)
}

pub fn focused() -> Style {
    Style::new().fg(Color::Yellow)
}
