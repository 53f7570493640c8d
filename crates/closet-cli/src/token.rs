//! `closet token` flags.

use std::path::PathBuf;

use clap::Args;

use crate::server::DEFAULT_DATA_DIR;

/// `closet token`: prints the join token of the server whose data dir is given, without
/// starting anything.
#[derive(Clone, Debug, Args)]
pub struct TokenArgs {
    /// The server's data directory, which holds `server/token`.
    #[arg(long, env = "CLOSET_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
}
