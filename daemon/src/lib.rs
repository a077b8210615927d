//! placeholder

pub mod clock;
pub mod idm;
pub mod store;
