//! Node networking: the CNI config containerd uses for pods, routes that keep the cluster
//! ranges on the node, routes to the other nodes' pods, and the cluster DNS address on its
//! dummy interface. All of it goes through `ip` (iproute2, on every Debian-family system).

pub mod cni;
pub mod dns_address;
pub mod peer_routes;
pub mod route_table;
pub mod routes;

/// Runs `ip ARGS` and returns what it printed; the error names the command and its stderr.
pub(crate) async fn ip<S: AsRef<str>>(args: &[S]) -> Result<Vec<u8>, String> {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    let output = tokio::process::Command::new("ip")
        .args(&args)
        .output()
        .await
        .map_err(|e| format!("cannot run `ip` (package iproute2): {e}"))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}
