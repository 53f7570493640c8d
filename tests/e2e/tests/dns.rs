//! Cluster DNS from inside a pod: the node agent's DNS server on 10.43.0.10 answers
//! Service names (short names through the search path, other namespaces, headless Services,
//! SRV, ExternalName, NXDOMAIN), `wget http://web` reaches a Service by name as any program
//! using the C library's resolver would, and names outside the cluster come from a fake
//! upstream resolver this test runs on 127.0.0.1 (`dns-upstream`), never from the internet.
//! Runs under the machine-wide node lock (one agent at a time).

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::time::Duration;

use closet_e2e::{Cluster, TestNs, eventually, node, test_ns};
use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};

/// The one name the fake upstream knows, and its address.
const OUTSIDE_NAME: &str = "outside.example.test.";
const OUTSIDE_ADDRESS: [u8; 4] = [192, 0, 2, 7];

/// Answers `outside.example.test` A with 192.0.2.7 and everything else NXDOMAIN, on a
/// thread, for as long as the test runs.
fn fake_upstream() -> std::net::SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok((len, peer)) = socket.recv_from(&mut buf) {
            let Ok(request) = Message::from_vec(&buf[..len]) else {
                continue;
            };
            let Some(question) = request.queries.first().cloned() else {
                continue;
            };
            let mut reply = Message::response(request.metadata.id, OpCode::Query);
            reply.metadata.recursion_desired = request.metadata.recursion_desired;
            reply.metadata.recursion_available = true;
            reply.add_query(question.clone());
            if question
                .name()
                .to_ascii()
                .eq_ignore_ascii_case(OUTSIDE_NAME)
            {
                if question.query_type() == RecordType::A {
                    let [a, b, c, d] = OUTSIDE_ADDRESS;
                    reply.add_answer(Record::from_rdata(
                        question.name().clone(),
                        30,
                        RData::A(A::new(a, b, c, d)),
                    ));
                }
            } else {
                reply.metadata.response_code = ResponseCode::NXDomain;
            }
            if let Ok(bytes) = reply.to_vec() {
                let _ = socket.send_to(&bytes, peer);
            }
        }
    });
    addr
}

/// Removes the DNS address and its dummy interface once the cluster is gone (its clean shutdown does that
/// too, but the harness stops servers with SIGKILL).
struct DnsLinkCleanup;

impl Drop for DnsLinkCleanup {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", "closet-dns"])
            .output();
        // Kernels without the dummy driver get the address on lo.
        let _ = std::process::Command::new("ip")
            .args(["addr", "del", "10.43.0.10/32", "dev", "lo"])
            .output();
    }
}

fn skip_reason() -> Option<String> {
    if !closet_e2e::kubectl_available() {
        return Some("no kubectl on the PATH".into());
    }
    if let Err(e) = closet_cri::find_binaries(&std::env::var_os("PATH").unwrap_or_default()) {
        return Some(e.to_string());
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0");
    if !root {
        return Some("the node agent needs root".into());
    }
    // Requests by name go through the service proxy's nftables rules.
    let nft = std::process::Command::new("nft").arg("--version").output();
    nft.is_err()
        .then(|| "no `nft` (apt-get install nftables)".into())
}

fn apply(ns: &TestNs<'_>, file: &str, yaml: &str) {
    let path = ns.write(file, yaml);
    ns.kubectl_ok(&["apply", "-f", &path]);
}

/// A busybox pod running `command`.
fn pod(name: &str, labels: &str, pod_extra: &str, command: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n{labels}spec:\n{pod_extra}  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: {image}\n    imagePullPolicy: Never\n    command: [\"sh\", \"-c\", {command:?}]\n",
        image = node::BUSYBOX,
    )
}

fn sleeper(name: &str, labels: &str, pod_extra: &str) -> String {
    pod(name, labels, pod_extra, "sleep 3600")
}

/// A pod whose busybox httpd answers `/` on port 80 with the pod's hostname.
fn web_server(name: &str, labels: &str, pod_extra: &str) -> String {
    pod(
        name,
        labels,
        pod_extra,
        "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www",
    )
}

/// `nslookup` run in the client pod; stdout and stderr together (busybox prints failures
/// on either).
fn nslookup(ns: &TestNs<'_>, args: &[&str]) -> String {
    let mut all = vec!["exec", "client", "--", "nslookup"];
    all.extend_from_slice(args);
    let out = ns.kubectl(&all);
    format!("{}{}", out.stdout, out.stderr)
}

/// Runs `nslookup` until its output satisfies `check` (names appear as watch events and
/// endpoint updates arrive), failing with the last output.
fn lookup_until(ns: &TestNs<'_>, args: &[&str], check: impl Fn(&str) -> bool) -> String {
    eventually(Duration::from_secs(30), || {
        let out = nslookup(ns, args);
        if check(&out) {
            Ok(out)
        } else {
            Err(format!("nslookup {}: {out}", args.join(" ")))
        }
    })
}

/// `wget` of `url` in the client pod until the page it returns satisfies `check`, failing
/// with the last output. Bounded by busybox's `timeout`: this busybox's `wget -T` crashes.
fn wget_until(ns: &TestNs<'_>, url: &str, check: impl Fn(&str) -> bool) -> String {
    eventually(Duration::from_secs(30), || {
        let out = ns.kubectl(&[
            "exec", "client", "--", "timeout", "10", "wget", "-q", "-O-", url,
        ]);
        let page = out.stdout.trim();
        if out.success() && check(page) {
            Ok(page.to_owned())
        } else {
            Err(format!("wget {url}: {}", out.describe()))
        }
    })
}

#[test]
fn pods_resolve_services_and_outside_names_through_the_node_dns() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipping: {reason}");
        return;
    }
    let upstream = fake_upstream();
    let _cleanup = DnsLinkCleanup;
    let cluster = Cluster::with_agent_settings(&format!("dns-upstream: \"{upstream}\"\n"));
    node::import_busybox(&cluster);
    let ns = test_ns!(&cluster);
    let other = test_ns!(&cluster);
    let name = ns.name().to_owned();

    // Two backends: web-0 carries a hostname under the headless Service `peers`.
    apply(
        &ns,
        "web-0.yaml",
        &web_server(
            "web-0",
            "    app: web\n",
            "  hostname: web-0\n  subdomain: peers\n",
        ),
    );
    apply(
        &ns,
        "web-1.yaml",
        &web_server("web-1", "    app: web\n", ""),
    );
    apply(
        &ns,
        "client.yaml",
        &sleeper("client", "    app: client\n", ""),
    );
    // ClusterIPs are given explicitly: the addresses are then known to the test.
    apply(
        &ns,
        "services.yaml",
        &format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  clusterIP: 10.43.0.50\n  selector:\n    app: web\n  ports:\n  - name: http\n    port: 80\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: peers\nspec:\n  clusterIP: None\n  selector:\n    app: web\n  ports:\n  - name: http\n    port: 80\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: ext\nspec:\n  type: ExternalName\n  externalName: {}\n",
            OUTSIDE_NAME.trim_end_matches('.')
        ),
    );
    // A Service of the same name in another namespace, with a backend of its own.
    apply(
        &other,
        "elsewhere.yaml",
        &web_server("elsewhere", "    app: web\n", ""),
    );
    apply(
        &other,
        "web.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  clusterIP: 10.43.0.51\n  selector:\n    app: web\n  ports:\n  - port: 80\n",
    );
    for pod in ["web-0", "web-1", "client"] {
        ns.wait_ready(pod);
    }
    other.wait_ready("elsewhere");

    // The pod's resolv.conf points at the node's DNS with the cluster search path.
    let resolv = ns.kubectl_ok(&["exec", "client", "--", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 10.43.0.10"), "{resolv}");
    assert!(
        resolv.contains(&format!(
            "search {name}.svc.cluster.local svc.cluster.local cluster.local"
        )),
        "{resolv}"
    );
    assert!(resolv.contains("options ndots:5"), "{resolv}");

    // A short name through the search path, and a name in another namespace.
    let out = lookup_until(&ns, &["web"], |o| o.contains("10.43.0.50"));
    assert!(
        out.contains(&format!("web.{name}.svc.cluster.local")),
        "{out}"
    );
    let fqdn = format!("web.{}.svc.cluster.local", other.name());
    lookup_until(&ns, &[&fqdn], |o| o.contains("10.43.0.51"));

    // The same names from an ordinary client: busybox `wget` resolves them through the C
    // library's resolver (the pod's resolv.conf: search path, ndots:5, the node's DNS) and
    // its request goes through the ClusterIP to a backend.
    let mut pages = BTreeSet::new();
    for _ in 0..40 {
        pages.insert(wget_until(&ns, "http://web", |p| {
            p == "web-0" || p == "web-1"
        }));
        if pages.len() == 2 {
            break;
        }
    }
    assert_eq!(
        pages,
        BTreeSet::from(["web-0".to_owned(), "web-1".to_owned()])
    );
    let page = wget_until(&ns, &format!("http://{fqdn}/"), |p| p == "elsewhere");
    assert_eq!(page, "elsewhere");

    // The headless Service lists every ready pod; web-0 also has its own name.
    let ip0 = ns.kubectl_ok(&["get", "pod", "web-0", "-o", "jsonpath={.status.podIP}"]);
    let ip1 = ns.kubectl_ok(&["get", "pod", "web-1", "-o", "jsonpath={.status.podIP}"]);
    let headless = format!("peers.{name}.svc.cluster.local");
    lookup_until(&ns, &[&headless], |o| {
        o.contains(ip0.trim()) && o.contains(ip1.trim())
    });
    let own = format!("web-0.peers.{name}.svc.cluster.local");
    lookup_until(&ns, &[&own], |o| o.contains(ip0.trim()));

    // SRV for the named port: one record per pod, web-0 by its hostname.
    let srv = format!("_http._tcp.peers.{name}.svc.cluster.local");
    let out = lookup_until(&ns, &["-type=srv", &srv], |o| {
        o.contains(&format!("web-0.peers.{name}.svc.cluster.local"))
    });
    let web1_label = ip1.trim().replace('.', "-");
    assert!(
        out.contains(&format!("{web1_label}.peers.{name}.svc.cluster.local")),
        "{out}"
    );
    assert!(out.contains(" 80 "), "{out}");

    // The ExternalName is a CNAME, chased to the upstream's address.
    let ext = format!("ext.{name}.svc.cluster.local");
    let out = lookup_until(&ns, &[&ext], |o| o.contains("192.0.2.7"));
    assert!(out.contains("canonical name"), "{out}");

    // A name inside the cluster domain that does not exist.
    let missing = format!("missing.{name}.svc.cluster.local");
    let out = nslookup(&ns, &[&missing]);
    assert!(out.contains("NXDOMAIN"), "{out}");

    // A name outside the cluster, answered by the fake upstream through the node's DNS.
    let out = lookup_until(&ns, &[OUTSIDE_NAME.trim_end_matches('.')], |o| {
        o.contains("192.0.2.7")
    });
    assert!(out.contains("10.43.0.10"), "{out}");
}
