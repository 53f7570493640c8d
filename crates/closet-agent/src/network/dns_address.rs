//! The cluster DNS address (`10.43.0.10`) made local on every node, on a dummy interface of
//! its own: pods reach it through their default route via the node's bridge, and the host's
//! local routing table wins over the route for the service range, so each node
//! answers its own pods' queries.
//!
//! As for the routes, `ip` (iproute2) does the work: three idempotent commands at start-up.
//! Kernels without the dummy driver get the address on `lo` instead.

use std::net::IpAddr;

/// The dummy interface holding the cluster DNS address.
pub const LINK: &str = "closet-dns";

/// The `ip` invocations that put `address` on [`LINK`], in order.
pub fn commands(address: IpAddr) -> Vec<Vec<String>> {
    let prefix = if address.is_ipv4() { 32 } else { 128 };
    let owned = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect();
    vec![
        owned(&["link", "add", LINK, "type", "dummy"]),
        owned(&["link", "set", LINK, "up"]),
        owned(&[
            "addr",
            "replace",
            &format!("{address}/{prefix}"),
            "dev",
            LINK,
        ]),
    ]
}

/// Where the address ended up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    /// On the dummy link [`LINK`].
    Dummy,
    /// On `lo`, for kernels without the dummy driver (some containers and VMs): an address
    /// on loopback is just as local to packets arriving from the bridge.
    Loopback,
}

/// Creates [`LINK`] (or keeps it) and puts `address` on it; falls back to `lo` when the
/// kernel has no dummy interfaces.
pub async fn install(address: IpAddr) -> Result<Holder, String> {
    match run_all(&commands(address)).await {
        Ok(()) => Ok(Holder::Dummy),
        Err(dummy) => {
            run_all(&[loopback_command(address)])
                .await
                .map_err(|lo| format!("{dummy}; and on lo: {lo}"))?;
            tracing::info!("{dummy}; the cluster DNS address is on lo instead");
            Ok(Holder::Loopback)
        }
    }
}

/// The `ip` invocation that puts `address` on `lo`.
pub fn loopback_command(address: IpAddr) -> Vec<String> {
    let prefix = if address.is_ipv4() { 32 } else { 128 };
    [
        "addr",
        "replace",
        &format!("{address}/{prefix}"),
        "dev",
        "lo",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect()
}

async fn run_all(commands: &[Vec<String>]) -> Result<(), String> {
    for args in commands {
        if let Err(why) = super::ip(args).await {
            // The link from an earlier run is still there: fine, the next commands refresh it.
            let exists =
                args.get(1).map(String::as_str) == Some("add") && why.contains("File exists");
            if !exists {
                return Err(why);
            }
        }
    }
    Ok(())
}

/// Removes the address (with [`LINK`], when it is there) on a clean shutdown; the next
/// start puts it back.
pub async fn remove(holder: Holder, address: IpAddr) {
    let args: Vec<String> = match holder {
        Holder::Dummy => ["link", "del", LINK]
            .iter()
            .map(|a| (*a).to_owned())
            .collect(),
        Holder::Loopback => {
            let mut args = loopback_command(address);
            args[1] = "del".to_owned();
            args
        }
    };
    let _ = super::ip(&args).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_goes_on_a_dummy_link_as_a_host_route() {
        let cmds = commands("10.43.0.10".parse().unwrap());
        let lines: Vec<String> = cmds.iter().map(|c| c.join(" ")).collect();
        assert_eq!(
            lines,
            [
                "link add closet-dns type dummy",
                "link set closet-dns up",
                "addr replace 10.43.0.10/32 dev closet-dns"
            ]
        );
        let v6 = commands("fd00::a".parse().unwrap());
        assert_eq!(v6[2][2], "fd00::a/128");
        assert_eq!(
            loopback_command("10.43.0.10".parse().unwrap()).join(" "),
            "addr replace 10.43.0.10/32 dev lo"
        );
    }
}
