//! `latchkey-test-postgres`: a throwaway PostgreSQL for tests written in another language (the
//! browser tests): starts a cluster with the harness the Rust tests use
//! (`latchkey_tests::postgres`), prints the URL of a fresh database on one line, and stops the
//! server and removes its files once its stdin closes: when the process that spawned it closes
//! the pipe or ends, however it ends.

use std::io::{Read as _, Write as _};

use latchkey_tests::postgres::TestPostgres;

fn main() -> std::io::Result<()> {
    let postgres = TestPostgres::start();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", postgres.fresh_database())?;
    out.flush()?;
    drop(out);
    std::io::stdin().read_to_end(&mut Vec::new())?;
    drop(postgres);
    Ok(())
}
