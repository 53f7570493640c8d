//! The `closet` binary: parses the command line, sets up logging and dispatches to one module
//! per subcommand under `commands/`. Behaviour lives in the libraries; this crate wires them.
//!
//! Exit codes: 0 on success (including a clean shutdown on SIGTERM), 1 on any error, printed
//! on stderr as `error: ...` with its causes, and 2 for command-line mistakes (clap's).

mod agent;
mod commands;
mod config;
mod https;
mod observability;
mod preflight;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use closet_cli::{Cli, Command};

fn main() -> ExitCode {
    // Before anything can build a TLS config. Only ring is compiled in, but installing it
    // explicitly means a dependency that later enables aws-lc-rs cannot make rustls panic
    // at the first handshake for want of a single default. A second install (in tests) fails
    // harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    if let Err(err) = observability::init(cli.log_format) {
        return fail(&err);
    }

    let result = match cli.command {
        Command::Server(args) => {
            let server = matches.subcommand_matches("server").unwrap_or(&matches);
            config::resolve(args, server, &config::ProcessEnv)
                .map_err(anyhow::Error::from)
                .and_then(commands::server::run)
        }
        Command::Kubeconfig(args) => commands::kubeconfig::run(&args),
        Command::Agent(args) => commands::agent::run(args),
        Command::Token(args) => commands::token::run(&args),
        Command::Image(args) => commands::image::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err),
    }
}

/// Prints `error: <message>: <cause>: ...` and returns the failure exit code.
fn fail(err: &anyhow::Error) -> ExitCode {
    eprintln!("error: {err:#}");
    ExitCode::FAILURE
}
