//! A "LAN client": a network namespace of its own joined to the host by a veth pair, as a
//! machine in the house would be, that fetches pages with the host's busybox `wget`.

use std::process::Command;

/// The host's side of the pair, the client's gateway.
pub(crate) const LAN_HOST: &str = "192.168.251.1";
/// The client's address.
pub(crate) const LAN_CLIENT: &str = "192.168.251.2";

/// The namespace with [`LAN_CLIENT`] inside and [`LAN_HOST`] on the host side, its default
/// route through the host. Removed on drop (deleting the namespace deletes the pair).
pub(crate) struct LanClient {
    netns: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl LanClient {
    pub(crate) fn new() -> Self {
        let id = std::process::id() % 100_000;
        let client = Self {
            netns: format!("closet-lan-{id}"),
        };
        let (host_if, peer_if) = (format!("clh{id}"), format!("clc{id}"));
        ip(&["netns", "add", &client.netns]);
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &peer_if,
        ]);
        ip(&["link", "set", &peer_if, "netns", &client.netns]);
        ip(&["addr", "add", &format!("{LAN_HOST}/30"), "dev", &host_if]);
        ip(&["link", "set", &host_if, "up"]);
        let inside = |args: &[&str]| {
            let mut all = vec!["netns", "exec", client.netns.as_str(), "ip"];
            all.extend(args);
            ip(&all);
        };
        inside(&["addr", "add", &format!("{LAN_CLIENT}/30"), "dev", &peer_if]);
        inside(&["link", "set", &peer_if, "up"]);
        inside(&["link", "set", "lo", "up"]);
        inside(&["route", "add", "default", "via", LAN_HOST]);
        client
    }

    /// A GET of `url` (by address) from the LAN client: the body, or the error text.
    pub(crate) fn wget(&self, url: &str) -> Result<String, String> {
        let busybox = closet_e2e::images::BUSYBOX;
        let out = Command::new("ip")
            .args(["netns", "exec", &self.netns])
            .args([busybox, "timeout", "10", busybox, "wget", "-q", "-O-", url])
            .output()
            .unwrap();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

impl Drop for LanClient {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .output();
    }
}
