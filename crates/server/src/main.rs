//! The `hourglass` binary: parses and validates the configuration, starts logging, binds the port and
//! serves until SIGTERM or Ctrl-C; `hourglass replay` replays a decision log instead.

use std::process::ExitCode;

use anyhow::Context as _;
use hourglass_server::config::Command;
use hourglass_server::{Config, raise_open_file_limit, run, shutdown_signal, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse_from_process().unwrap_or_else(|error| error.exit());
    if let Some(Command::Replay(args)) = &config.command {
        let mut bill = Vec::new();
        return match hourglass_server::decision_log::replay(args, &mut bill).await {
            Ok(()) => {
                print!("{}", String::from_utf8_lossy(&bill));
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("hourglass replay: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    if let Err(error) = config.validate() {
        eprintln!("hourglass: invalid configuration:");
        for problem in &error.problems {
            eprintln!("  {problem}");
        }
        return ExitCode::from(2);
    }
    match serve(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hourglass: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    telemetry::init(config.log_format, &config.log_filter, &config.log_privacy)?;
    raise_open_file_limit();
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("bind {}", config.listen))?;
    run(config, listener, shutdown_signal()).await
}
