//! stub
pub async fn run(_path: std::path::PathBuf) -> anyhow::Result<()> { Ok(()) }
