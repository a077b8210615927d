//! The `latchkey` admin console and command line, as a library so that tests
//! drive both in-process: [`run_cli`] for the scriptable subcommands and
//! [`console`] for the full-screen console.

pub mod cli;
pub mod console;
pub mod fmt;
pub mod qr;
pub mod socket;

pub use cli::run_cli;
