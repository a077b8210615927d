//! Facts about this daemon process that the console and pages show.

use std::path::PathBuf;

use time::OffsetDateTime;

#[derive(Debug, Clone)]
pub struct DaemonInfo {
    pub version: &'static str,
    pub public_url: String,
    pub data_dir: PathBuf,
    /// Where the data is (`Config::data_location`: the file, or PostgreSQL with the password
    /// masked).
    pub database: String,
    pub started_at: OffsetDateTime,
}
