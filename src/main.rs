//! The `berth` binary: flags to config, logging, signals, run.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use berth::app::{self, Signals};
use berth::cli::Cli;
use berth::config::{Config, LogFormat};
use clap::Parser;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Notify;
use tracing_subscriber::EnvFilter;

/// sysexits.h EX_USAGE: the command line was wrong.
const EXIT_USAGE: u8 = 64;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let check = cli.check;
    let config = match Config::resolve(cli) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("berth: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if check {
        print!("{}", config.effective());
        return ExitCode::SUCCESS;
    }
    init_logging(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("berth: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let reload = Arc::new(Notify::new());
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let reload_on_hangup = reload.clone();
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading zone files");
            reload_on_hangup.notify_one();
        }
    });
    let shutdown = async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    };
    app::run(config, Signals { reload, shutdown }).await
}

fn init_logging(format: LogFormat) {
    // berth logs nothing per query at INFO. hickory_proto (the registry's
    // record types, the zone-file parser) is kept to warnings, so a noisy
    // release of it cannot fill the log.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,hickory_proto=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
