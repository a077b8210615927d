//! `latchkey`: runs a subcommand, or opens the console when there is none.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    // Only a successful parse without a subcommand opens the console; every
    // other case (help, usage errors, commands) belongs to `run_cli`.
    if let Some(socket) = latchkey_tui::cli::console_requested(args.iter().cloned()) {
        let path = latchkey_tui::socket::resolve(socket.as_deref());
        return match latchkey_tui::console::run(path).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("latchkey: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let code = latchkey_tui::run_cli(args, &mut std::io::stdout(), &mut std::io::stderr()).await;
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
