//! The command line of the `closet` binary: clap argument structs and nothing else.
//!
//! Behaviour lives in the binary (`crates/closet/src/commands/`) and the libraries it calls;
//! keeping the structs apart lets other tools (completions, man pages, docs) read the same
//! definitions. Every `closet server` flag can also come from an environment variable
//! `CLOSET_<FLAG>` and from the config file; [`server`] lists the names and defaults.

pub mod agent;
pub mod image;
pub mod server;
pub mod token;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use agent::AgentArgs;
pub use image::{ImageArgs, ImageCommand, ImageImportArgs, ImageListArgs};
pub use server::ServerArgs;
pub use token::TokenArgs;

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
    /// Join a cluster as a node and run the node agent.
    Agent(AgentArgs),
    /// Print the join token of the server whose data dir is given.
    Token(TokenArgs),
    /// Import or list images in closet's containerd.
    Image(ImageArgs),
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

    #[test]
    fn agent_needs_server_and_token_and_takes_node_ips() {
        assert!(Cli::try_parse_from(["closet", "agent", "--token", "t"]).is_err());
        assert!(Cli::try_parse_from(["closet", "agent", "--server", "https://s:6443"]).is_err());
        let cli = Cli::try_parse_from([
            "closet",
            "agent",
            "--server",
            "https://10.0.0.1:6443",
            "--token",
            "K10abc::server:def",
            "--node-ip",
            "10.0.0.2,fd00::2",
            "--container-runtime-endpoint",
            "unix:///run/containerd/containerd.sock",
        ])
        .expect("parses");
        let Command::Agent(args) = cli.command else {
            panic!("expected the agent subcommand");
        };
        assert_eq!(args.server, "https://10.0.0.1:6443");
        assert_eq!(args.data_dir.to_str(), Some(server::DEFAULT_DATA_DIR));
        assert_eq!(args.node_name, None);
        let ips: Vec<String> = args.node_ip.iter().map(ToString::to_string).collect();
        assert_eq!(ips, ["10.0.0.2", "fd00::2"]);
        assert_eq!(
            args.container_runtime_endpoint.as_deref(),
            Some("unix:///run/containerd/containerd.sock")
        );
    }

    #[test]
    fn image_import_needs_files_and_ls_has_an_alias() {
        assert!(Cli::try_parse_from(["closet", "image", "import"]).is_err());
        let cli = Cli::try_parse_from(["closet", "image", "import", "a.tar", "b.tar.gz"])
            .expect("parses");
        let Command::Image(ImageArgs {
            command: ImageCommand::Import(args),
        }) = cli.command
        else {
            panic!("expected image import");
        };
        assert_eq!(args.files.len(), 2);
        let cli = Cli::try_parse_from(["closet", "image", "list", "--data-dir", "/srv/closet"])
            .expect("parses");
        let Command::Image(ImageArgs {
            command: ImageCommand::Ls(args),
        }) = cli.command
        else {
            panic!("expected image ls");
        };
        assert_eq!(args.data_dir.to_str(), Some("/srv/closet"));
    }
}
