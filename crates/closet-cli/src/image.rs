//! `closet image` subcommands: images in closet's own containerd, by hand.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::server::DEFAULT_DATA_DIR;

/// `closet image`: imports and lists images in the containerd that `closet server` or
/// `closet agent` runs under `<data-dir>/agent`.
#[derive(Clone, Debug, Args)]
pub struct ImageArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ImageCommand,
}

/// The `closet image` subcommands.
#[derive(Clone, Debug, Subcommand)]
pub enum ImageCommand {
    /// Import image archives (docker save or OCI layout tarballs, plain or gzipped) so pods can
    /// use them without a registry.
    Import(ImageImportArgs),
    /// List the images pods can use, like `crictl images`.
    #[command(visible_alias = "list")]
    Ls(ImageListArgs),
}

/// `closet image import FILE...`.
#[derive(Clone, Debug, Args)]
pub struct ImageImportArgs {
    /// Archives to import.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// The data directory of the running `closet server` or `closet agent`.
    #[arg(long, env = "CLOSET_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
}

/// `closet image ls`.
#[derive(Clone, Debug, Args)]
pub struct ImageListArgs {
    /// The data directory of the running `closet server` or `closet agent`.
    #[arg(long, env = "CLOSET_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
}
