//! A list the console asked the daemon for: still loading, ready, or
//! refused with the daemon's message (shown in place of the list).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded<T> {
    Loading,
    Ready(T),
    /// The daemon refused; the message is shown in place of the list.
    Failed(String),
}

impl<T> Loaded<T> {
    pub fn ready(&self) -> Option<&T> {
        match self {
            Loaded::Ready(value) => Some(value),
            _ => None,
        }
    }
}
