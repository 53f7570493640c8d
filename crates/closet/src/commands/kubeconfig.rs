//! `closet kubeconfig`: prints the admin kubeconfig from the data dir's certificates.

use std::io::Write;

use anyhow::Context;
use closet_cli::KubeconfigArgs;
use closet_pki::ClusterTls;

/// Prints the kubeconfig to stdout.
pub(crate) fn run(args: &KubeconfigArgs) -> anyhow::Result<()> {
    let dir = args.data_dir.join("server").join("tls");
    let tls = ClusterTls::load(&dir)?;
    let text = tls.admin_kubeconfig(&args.server)?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing the kubeconfig to stdout")
}
