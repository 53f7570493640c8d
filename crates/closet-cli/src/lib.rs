//! The command line of the `closet` binary: clap argument structs and nothing else.
//!
//! Behaviour lives in the binary (`crates/closet/src/commands/`) and the libraries it calls;
//! keeping the structs apart lets other tools (completions, man pages, docs) read the same
//! definitions. Every `closet server` flag can also come from an environment variable
//! `CLOSET_<FLAG>` and from the config file; [`server`] lists the names and defaults.

pub mod server;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use server::ServerArgs;

/// closet: a Kubernetes-compatible cluster for home labs, in one binary.
#[derive(Debug, Parser)]
#[command(name = "closet", version, about, propagate_version = true)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,

    /// Log line format on stderr. The level filter comes from `CLOSET_LOG`
    /// (default `warn,closet=info`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "CLOSET_LOG_FORMAT")]
    pub log_format: LogFormat,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API server, its datastore and (later) the controllers and the node agent.
    Server(ServerArgs),
    /// Print the admin kubeconfig of the server whose data dir is given.
    Kubeconfig(KubeconfigArgs),
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// `closet kubeconfig`: prints the admin kubeconfig to stdout.
#[derive(Debug, Args)]
pub struct KubeconfigArgs {
    /// The server's data directory, which holds the certificates.
    #[arg(long, env = "CLOSET_DATA_DIR", default_value = server::DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,

    /// The API server URL to put in the kubeconfig, e.g. `https://closet.lan:6443`.
    #[arg(long, env = "CLOSET_SERVER", default_value = "https://127.0.0.1:6443")]
    pub server: String,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn server_defaults() {
        let cli = Cli::try_parse_from(["closet", "server"]).expect("parses");
        let Command::Server(args) = cli.command else {
            panic!("expected the server subcommand");
        };
        assert_eq!(args.https_listen_port, 6443);
        assert_eq!(args.bind_address.to_string(), "0.0.0.0");
        assert!(args.tls_san.is_empty());
        assert!(!args.disable_agent);
        assert_eq!(cli.log_format, LogFormat::Text);
    }

    #[test]
    fn tls_san_repeats_and_splits_on_commas() {
        let cli = Cli::try_parse_from([
            "closet",
            "--log-format",
            "json",
            "server",
            "--tls-san",
            "a.lan",
            "--tls-san=10.0.0.1,b.lan",
        ])
        .expect("parses");
        let Command::Server(args) = cli.command else {
            panic!("expected the server subcommand");
        };
        assert_eq!(args.tls_san, ["a.lan", "10.0.0.1", "b.lan"]);
        assert_eq!(cli.log_format, LogFormat::Json);
    }
}
