//! The service proxy with real nftables: pods reach Services by ClusterIP (both backends,
//! hairpin, a refusal for a Service without endpoints, session affinity), a "LAN client"
//! in a network namespace of its own reaches a NodePort and a LoadBalancer Service, and
//! `externalTrafficPolicy: Local` keeps its source address; closet's table goes away on a
//! clean stop and is replaced, not duplicated, after a kill -9. Runs under the node lock.

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use closet_e2e::{Cluster, TestNs, eventually, node, test_ns};

/// A cluster with its agent and the busybox image, or None (reason printed) when this
/// machine cannot run pods or has no `nft`.
fn node_cluster() -> Option<Cluster> {
    if !closet_e2e::kubectl_available() {
        eprintln!("skipping: no kubectl on the PATH");
        return None;
    }
    if let Err(e) = closet_cri::find_binaries(&std::env::var_os("PATH").unwrap_or_default()) {
        eprintln!("skipping: {e}");
        return None;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0");
    if !root {
        eprintln!("skipping: the node agent needs root");
        return None;
    }
    if Command::new("nft").arg("--version").output().is_err() {
        eprintln!("skipping: no `nft` (apt-get install nftables)");
        return None;
    }
    let cluster = Cluster::with_agent();
    node::import_busybox(&cluster);
    Some(cluster)
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

/// An HTTP backend: busybox httpd on the named port `http` (8080), answering `/` with the
/// pod's name and `/cgi-bin/peer` with the client address it sees.
fn backend(name: &str, labels: &str) -> String {
    let script = "mkdir -p /www/cgi-bin && hostname > /www/index.html && \
        printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR\\n' > /www/cgi-bin/peer && \
        chmod +x /www/cgi-bin/peer && exec httpd -f -p 8080 -h /www";
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n{labels}\nspec:\n  containers:\n  - name: main\n    image: {image}\n    imagePullPolicy: Never\n    command: [\"sh\", \"-c\", {script:?}]\n    ports:\n    - name: http\n      containerPort: 8080\n",
        image = node::BUSYBOX,
    )
}

fn service(name: &str, ip: &str, selector: &str, extra: &str, port_extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  clusterIP: {ip}\n  selector:\n{selector}\n{extra}  ports:\n  - name: web\n    port: 80\n    targetPort: http\n{port_extra}"
    )
}

fn apply(ns: &TestNs<'_>, manifest: &str) {
    let out = ns.kubectl_stdin(&["apply", "-f", "-"], manifest);
    if !out.success() {
        ns.cluster().fail(out.describe());
    }
}

fn wait_ready(ns: &TestNs<'_>, pods: &[&str]) {
    for pod in pods {
        let out = ns.kubectl(&[
            "wait",
            "--for=condition=Ready",
            &format!("pod/{pod}"),
            "--timeout=90s",
        ]);
        if !out.success() {
            ns.cluster().fail(out.describe());
        }
    }
}

/// An HTTP/1.0 GET for `path`; the busybox httpd closes the connection after answering.
/// (busybox-static's `wget` crashes on Debian, so requests go through `nc`.)
fn request(path: &str) -> String {
    format!("GET {path} HTTP/1.0\r\nHost: closet\r\n\r\n")
}

/// The body of a 200 response, or everything that was printed. A CGI answer carries its
/// own header lines (ended by a bare newline) after httpd's, hence the last blank line.
fn body(stdout: &str, stderr: &str, ok: bool) -> Result<String, String> {
    let text = stdout.replace("\r\n", "\n");
    match text.rsplit_once("\n\n") {
        Some(_) if ok && text.starts_with("HTTP/1.") && text.contains(" 200 ") => Ok(text
            .rsplit_once("\n\n")
            .map(|(_, b)| b.trim().to_owned())
            .unwrap_or_default()),
        _ => Err(format!("{stdout}{stderr}")),
    }
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

/// Splits `http://host:port/path` (port 80 when absent).
fn parse_url(url: &str) -> (String, String, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (host, port) = authority.split_once(':').unwrap_or((authority, "80"));
    (host.to_owned(), port.to_owned(), format!("/{path}"))
}

/// A GET from this machine itself (the node's network namespace, as a host-network pod or
/// someone logged in on the node would send it): the body, or the error text.
fn get_from_node(url: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let (host, port, path) = parse_url(url);
    let address: std::net::SocketAddr = format!("{host}:{port}")
        .parse()
        .map_err(|e| format!("{e}"))?;
    let mut stream = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(3))
        .map_err(|e| format!("connect {address}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(request(&path).as_bytes())
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| format!("reading from {address}: {e}"))?;
    body(&answer, "", true)
}

/// A GET from inside `pod`: the body, or the error text.
fn wget_from(ns: &TestNs<'_>, pod: &str, url: &str) -> Result<String, String> {
    let (host, port, path) = parse_url(url);
    let out = ns.kubectl_stdin(
        &["exec", "-i", pod, "--", "nc", "-w", "5", &host, &port],
        &request(&path),
    );
    body(&out.stdout, &out.stderr, out.success())
}

/// Waits until `url` answers from `pod`.
fn answer(ns: &TestNs<'_>, pod: &str, url: &str) -> String {
    eventually(Duration::from_secs(30), || wget_from(ns, pod, url))
}

/// Waits until the Service named `name` has `count` ready endpoints in its EndpointSlices.
fn wait_endpoints(ns: &TestNs<'_>, name: &str, count: usize) {
    eventually(Duration::from_secs(30), || {
        let out = ns.kubectl_ok(&[
            "get",
            "endpointslices",
            "-l",
            &format!("kubernetes.io/service-name={name}"),
            "-o",
            "jsonpath={.items[*].endpoints[*].addresses[0]}",
        ]);
        let n = out.split_whitespace().count();
        if n == count {
            Ok(())
        } else {
            Err(format!("{name} has endpoints {out:?}, want {count}"))
        }
    });
}

/// A "LAN client": a network namespace joined to the host by a veth pair, 192.168.251.2
/// inside, 192.168.251.1 on the host side, its default route through the host. Removed on
/// drop (deleting the namespace deletes the pair).
struct LanClient {
    netns: String,
}

const LAN_HOST: &str = "192.168.251.1";
const LAN_CLIENT: &str = "192.168.251.2";

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
    fn new() -> Self {
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

    /// A GET from the LAN client (the host's busybox `nc`): the body, or the error text.
    fn wget(&self, url: &str) -> Result<String, String> {
        use std::io::Write as _;
        let (host, port, path) = parse_url(url);
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.netns,
                closet_e2e::images::BUSYBOX,
                "nc",
            ])
            .args(["-w", "5", &host, &port])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(request(&path).as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        body(
            &String::from_utf8_lossy(&out.stdout),
            &String::from_utf8_lossy(&out.stderr),
            out.status.success(),
        )
    }
}

impl Drop for LanClient {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .output();
    }
}

#[test]
fn services_reach_pods_from_pods_and_from_the_lan_and_the_table_follows_closet() {
    let Some(cluster) = node_cluster() else {
        return;
    };
    let ns = test_ns!(&cluster);
    let web = "    app: web";
    apply(&ns, &backend("web-a", &format!("{web}\n    name: web-a")));
    apply(&ns, &backend("web-b", &format!("{web}\n    name: web-b")));
    apply(&ns, &closet_e2e_pod("client", "sleep 3600"));
    apply(&ns, &service("web", "10.43.0.60", web, "", ""));
    apply(
        &ns,
        &service("self", "10.43.0.61", "    name: web-a", "", ""),
    );
    apply(
        &ns,
        &service("empty", "10.43.0.62", "    app: nothing", "", ""),
    );
    apply(
        &ns,
        &service(
            "sticky",
            "10.43.0.63",
            web,
            "  sessionAffinity: ClientIP\n",
            "",
        ),
    );
    wait_ready(&ns, &["web-a", "web-b", "client"]);
    wait_endpoints(&ns, "web", 2);
    wait_endpoints(&ns, "self", 1);

    // ClusterIP: random choice reaches both backends.
    let mut seen = BTreeSet::new();
    for _ in 0..40 {
        seen.insert(answer(&ns, "client", "http://10.43.0.60/"));
        if seen.len() == 2 {
            break;
        }
    }
    assert_eq!(
        seen,
        BTreeSet::from(["web-a".to_owned(), "web-b".to_owned()])
    );

    // The node itself reaches a ClusterIP: its route into the bridge lets the output hook's
    // DNAT happen (a blackhole route would fail `connect()` first).
    let body = eventually(Duration::from_secs(10), || {
        get_from_node("http://10.43.0.60/")
    });
    assert!(body == "web-a" || body == "web-b", "{body}");

    // Hairpin: a pod reaches itself through its own Service.
    assert_eq!(answer(&ns, "web-a", "http://10.43.0.61/"), "web-a");

    // No endpoints: refused at once, not left to time out.
    let refused = eventually(Duration::from_secs(30), || {
        match wget_from(&ns, "client", "http://10.43.0.62/") {
            Err(e) if e.contains("refused") => Ok(e),
            other => Err(format!("not refused yet: {other:?}")),
        }
    });
    assert!(refused.contains("Connection refused"), "{refused}");

    // Session affinity: every request from one client lands on the same backend.
    let first = answer(&ns, "client", "http://10.43.0.63/");
    for _ in 0..12 {
        assert_eq!(answer(&ns, "client", "http://10.43.0.63/"), first);
    }

    // From the LAN: a NodePort on the node's address facing the client, and a LoadBalancer
    // at the node's InternalIP with externalTrafficPolicy Local.
    let node_ip = cluster.kubectl_ok(&[
        "get",
        "node",
        Cluster::NODE,
        "-o",
        "jsonpath={.status.addresses[?(@.type==\"InternalIP\")].address}",
    ]);
    let node_ip = node_ip.trim().to_owned();
    apply(
        &ns,
        &service(
            "nodeport",
            "10.43.0.64",
            web,
            "  type: NodePort\n",
            "    nodePort: 30080\n",
        ),
    );
    apply(
        &ns,
        &service(
            "lb",
            "10.43.0.65",
            web,
            "  type: LoadBalancer\n  externalTrafficPolicy: Local\n",
            "    nodePort: 30081\n",
        ),
    );
    let status = format!(r#"{{"status":{{"loadBalancer":{{"ingress":[{{"ip":"{node_ip}"}}]}}}}}}"#);
    ns.kubectl_ok(&[
        "patch",
        "service",
        "lb",
        "--subresource=status",
        "--type=merge",
        "-p",
        &status,
    ]);
    wait_endpoints(&ns, "nodeport", 2);
    wait_endpoints(&ns, "lb", 2);
    let lan = LanClient::new();
    let body = eventually(Duration::from_secs(30), || {
        lan.wget(&format!("http://{LAN_HOST}:30080/"))
    });
    assert!(body == "web-a" || body == "web-b", "{body}");
    // Cluster policy: the backend sees the node (masqueraded), not the client.
    let seen = peer(&eventually(Duration::from_secs(30), || {
        lan.wget(&format!("http://{LAN_HOST}:30080/cgi-bin/peer"))
    }));
    assert!(
        seen.starts_with("10.42."),
        "externalTrafficPolicy Cluster masquerades: {seen}"
    );
    // Local policy, through the LoadBalancer address: the client's own address arrives.
    let seen = peer(&eventually(Duration::from_secs(30), || {
        lan.wget(&format!("http://{node_ip}/cgi-bin/peer"))
    }));
    assert_eq!(seen, LAN_CLIENT);
    let seen = peer(&eventually(Duration::from_secs(30), || {
        lan.wget(&format!("http://{LAN_HOST}:30081/cgi-bin/peer"))
    }));
    assert_eq!(seen, LAN_CLIENT);

    // kill -9 leaves the table; the restarted server replaces it with exactly one, and the
    // running pods are reachable through their Services again.
    assert_eq!(closet_tables(), 1);
    cluster.kill9();
    assert_eq!(closet_tables(), 1, "a killed proxy cannot clean up");
    cluster.restart();
    cluster.wait_node_ready();
    assert_eq!(closet_tables(), 1);
    // The restarted agent adopts the running containers before exec reaches them again.
    eventually(Duration::from_secs(90), || {
        let out = ns.kubectl(&["exec", "web-a", "--", "true"]);
        if out.success() {
            Ok(())
        } else {
            Err(out.describe())
        }
    });
    assert_eq!(answer(&ns, "web-a", "http://10.43.0.61/"), "web-a");
    let body = eventually(Duration::from_secs(30), || {
        lan.wget(&format!("http://{LAN_HOST}:30080/"))
    });
    assert!(body == "web-a" || body == "web-b", "{body}");

    // A clean stop removes it.
    cluster.stop();
    assert_eq!(closet_tables(), 0);
}

/// A plain busybox pod running `command`.
fn closet_e2e_pod(name: &str, command: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n  - name: main\n    image: {image}\n    imagePullPolicy: Never\n    command: [\"sh\", \"-c\", {command:?}]\n",
        image = node::BUSYBOX,
    )
}
