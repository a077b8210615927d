//! `latchkeyd`: load the configuration, start the daemon, stop on a signal.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use latchkey_daemon::clock::SystemClock;
use latchkey_daemon::config::{self, Cli, Command, Config, LogFormat};
use latchkey_daemon::{import, migrate, restore};
use tracing::{info, warn};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Migrate(args)) = &cli.command {
        return match migrate::run(args, &config::process_env()) {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("latchkeyd migrate: {e}");
                ExitCode::from(e.exit_code())
            }
        };
    }
    if let Some(Command::Restore(args)) = &cli.command {
        return match restore::run(args, &config::process_env()) {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("latchkeyd restore: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::Import(args)) = &cli.command {
        return match import::run(args, &config::process_env()) {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("latchkeyd import: {e}");
                ExitCode::from(e.exit_code())
            }
        };
    }
    let config = match Config::load(&cli, config::process_env()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("latchkeyd: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.check_config {
        print!("{}", config.to_toml_redacted());
        return ExitCode::SUCCESS;
    }
    let logs =
        tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::new(&config.log));
    match config.log_format {
        LogFormat::Text => logs.with_target(false).init(),
        // One object per line: timestamp, level, target, and the message among the fields.
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    for warning in &config.warnings {
        warn!("{warning}");
    }
    // The I/O driver is polled every 8 tasks instead of tokio's 61: token requests sign
    // inline (an RSA signature is 0.25 ms), and with both workers busy, requests that
    // arrived meanwhile waited for the next poll. Measured with scripts/bench-oidc: the ES256
    // code flow went from 5,474–5,798/s (p99 4.8–5.5 ms) to 5,978–6,597/s (p99 4.3–4.7 ms).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .event_interval(8)
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("latchkeyd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("latchkeyd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    // The handlers go in before anything serves: a stop asked for while the daemon starts (by a
    // service manager, or anyone who saw the socket answer) is then a clean stop, not the
    // default action's end that leaves the socket file behind.
    let signals = Signals::install()?;
    let daemon = latchkey_daemon::start(&config, Arc::new(SystemClock)).await?;
    // systemd's Type=notify: started means serving (the port and the socket are bound, the
    // database is open). Nothing happens without NOTIFY_SOCKET.
    notify_systemd(sd_notify::NotifyState::Ready);
    let signal = signals.recv().await;
    info!("{signal} received, shutting down");
    notify_systemd(sd_notify::NotifyState::Stopping);
    daemon
        .stop()
        .await
        .context("shutting down the web server")?;
    info!("stopped");
    Ok(())
}

/// Tells systemd `state` when it runs the daemon as `Type=notify`; a failure is only logged.
fn notify_systemd(state: sd_notify::NotifyState<'_>) {
    if let Err(e) = sd_notify::notify(false, &[state]) {
        warn!("could not notify systemd: {e}");
    }
}

/// The signals that stop the daemon: SIGTERM and SIGINT.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
        })
    }

    /// Waits for either (one received before this call counts) and names it.
    async fn recv(mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
