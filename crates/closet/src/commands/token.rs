//! `closet token`: prints the join token from the server's data dir, starting nothing.

use std::io::Write;

use anyhow::Context;
use closet_cli::TokenArgs;
use closet_pki::JoinToken;

/// Prints the token and a newline to stdout.
pub(crate) fn run(args: &TokenArgs) -> anyhow::Result<()> {
    let token = JoinToken::load(&args.data_dir)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{token}")
        .and_then(|()| stdout.flush())
        .context("writing the token to stdout")
}
