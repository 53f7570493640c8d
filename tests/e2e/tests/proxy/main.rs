//! The service proxy with real nftables, driven by real kubectl: pods reach Services by
//! ClusterIP, the LAN reaches NodePorts and LoadBalancers, closet's table follows the server
//! ([`services`]), and endpoints leave and rejoin the rotation with their readiness probes
//! ([`readiness`]). Each test starts its own cluster with the agent; `.config/nextest.toml`
//! runs them one at a time, and they run under the machine-wide node lock.

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

mod lan;
mod readiness;
mod services;

use std::process::Command;
use std::time::Duration;

use closet_e2e::{Cluster, TestNs, eventually, node};

/// A cluster with its agent and the busybox image, or None (reason printed) when this
/// machine cannot run pods or has no `nft`.
fn node_cluster() -> Option<node::NodeCluster> {
    if Command::new("nft").arg("--version").output().is_err() {
        eprintln!("skipping: no `nft` (apt-get install nftables)");
        return None;
    }
    node::node_cluster()
}

/// An HTTP backend: busybox httpd on the named port `http` (8080), answering `/` with the
/// pod's name and `/cgi-bin/peer` with the client address it sees. `setup` runs first and
/// `container_extra` (YAML at the container's indentation) adds to the container.
fn backend_with(name: &str, labels: &str, setup: &str, container_extra: &str) -> String {
    let script = format!(
        "{setup}mkdir -p /www/cgi-bin && hostname > /www/index.html && \
        printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR\\n' > /www/cgi-bin/peer && \
        chmod +x /www/cgi-bin/peer && exec httpd -f -p 8080 -h /www"
    );
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n{labels}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: {image}\n    imagePullPolicy: Never\n    command: [\"sh\", \"-c\", {script:?}]\n    ports:\n    - name: http\n      containerPort: 8080\n{container_extra}",
        image = node::BUSYBOX,
    )
}

/// [`backend_with`] without setup or extra container fields.
fn backend(name: &str, labels: &str) -> String {
    backend_with(name, labels, "", "")
}

/// A Service named `name` at ClusterIP `ip` with port 80 to the pods' `http` port; `extra`
/// adds spec fields and `port_extra` fields of the port.
fn service(name: &str, ip: &str, selector: &str, extra: &str, port_extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  clusterIP: {ip}\n  selector:\n{selector}\n{extra}  ports:\n  - name: web\n    port: 80\n    targetPort: http\n{port_extra}"
    )
}

/// A plain busybox pod running `command`.
fn plain_pod(name: &str, command: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: {image}\n    imagePullPolicy: Never\n    command: [\"sh\", \"-c\", {command:?}]\n",
        image = node::BUSYBOX,
    )
}

fn apply(ns: &TestNs<'_>, manifest: &str) {
    let out = ns.kubectl_stdin(&["apply", "-f", "-"], manifest);
    if !out.success() {
        ns.cluster().fail(out.describe());
    }
}

/// A GET from inside `pod` with its busybox `wget`: the body, or the error text. Bounded by
/// busybox's `timeout`, since this busybox's `wget -T` crashes.
fn wget_from(ns: &TestNs<'_>, pod: &str, url: &str) -> Result<String, String> {
    let out = ns.kubectl(&["exec", pod, "--", "timeout", "10", "wget", "-q", "-O-", url]);
    if out.success() {
        Ok(out.stdout.trim().to_owned())
    } else {
        Err(format!("{}{}", out.stdout, out.stderr))
    }
}

/// An HTTP/1.0 GET of `http://ip:port/path` from this machine itself (the node's network
/// namespace, as a host-network pod or someone logged in on the node sends it): the body of
/// a 200 answer, or the error text.
fn get_from_node(address: &str, path: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let address: std::net::SocketAddr = address.parse().map_err(|e| format!("{e}"))?;
    let mut stream = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(3))
        .map_err(|e| format!("connect {address}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: closet\r\n\r\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| format!("reading from {address}: {e}"))?;
    match answer.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.") && head.contains(" 200 ") => {
            Ok(body.trim().to_owned())
        }
        _ => Err(answer),
    }
}

/// Waits until `url` answers from `pod`.
fn answer(ns: &TestNs<'_>, pod: &str, url: &str) -> String {
    eventually(Duration::from_secs(30), || wget_from(ns, pod, url))
}

/// The client address a backend's `/cgi-bin/peer` reported: httpd listens on IPv6 and
/// writes IPv4 peers as `[::ffff:a.b.c.d]`.
fn peer(reported: &str) -> String {
    reported
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_start_matches("::ffff:")
        .to_owned()
}

/// The endpoints of the Service `name` as its EndpointSlices list them: `pod=ready` pairs
/// (`ready-a=true`), sorted.
fn endpoints(ns: &TestNs<'_>, name: &str) -> Vec<String> {
    let out = ns.kubectl_ok(&[
        "get",
        "endpointslices",
        "-l",
        &format!("kubernetes.io/service-name={name}"),
        "-o",
        "jsonpath={range .items[*].endpoints[*]}{.targetRef.name}={.conditions.ready}{\"\\n\"}{end}",
    ]);
    let mut pairs: Vec<String> = out.split_whitespace().map(str::to_owned).collect();
    pairs.sort();
    pairs
}

/// Waits until the Service `name`'s EndpointSlices list exactly `want` (`pod=ready` pairs).
fn wait_endpoints_exactly(ns: &TestNs<'_>, name: &str, want: &[&str]) {
    eventually(Duration::from_secs(30), || {
        let got = endpoints(ns, name);
        if got == want {
            Ok(())
        } else {
            Err(format!("{name} has endpoints {got:?}, want {want:?}"))
        }
    });
}

/// Waits until the Service `name` has `count` ready endpoints in its EndpointSlices.
fn wait_endpoints(ns: &TestNs<'_>, name: &str, count: usize) {
    eventually(Duration::from_secs(30), || {
        let got = endpoints(ns, name);
        let ready = got.iter().filter(|e| e.ends_with("=true")).count();
        if ready == count {
            Ok(())
        } else {
            Err(format!("{name} has endpoints {got:?}, want {count} ready"))
        }
    });
}

/// How many `closet` tables of family ip the host has.
fn closet_tables() -> usize {
    let out = Command::new("nft")
        .args(["list", "tables"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.trim() == "table ip closet")
        .count()
}

/// The node's InternalIP.
fn node_ip(cluster: &Cluster) -> String {
    let out = cluster.kubectl_ok(&[
        "get",
        "node",
        Cluster::NODE,
        "-o",
        "jsonpath={.status.addresses[?(@.type==\"InternalIP\")].address}",
    ]);
    out.trim().to_owned()
}
