//! Local volumes and StatefulSets on a real node: claims bound on first use, data on the
//! node's disk, protection while in use, both reclaim policies, volume usage in the node
//! summary, and the power-cut drill.
//!
//! Every test starts its own cluster with the agent on; run them under the machine-wide
//! node lock (`flock /tmp/closet-node.lock cargo test -p closet-e2e --test storage`).

#![allow(clippy::unwrap_used, reason = "tests")]

mod claims;
mod powercut;
mod usage;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use closet_e2e::TestNs;

pub use closet_e2e::node::{NodeCluster, node_cluster};

/// A jsonpath of an object.
pub fn get(ns: &TestNs<'_>, what: &str, path: &str) -> String {
    ns.kubectl_ok(&["get", what, "-o", &format!("jsonpath={path}")])
}

/// A free port of 127.0.0.1.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `GET path` over plain HTTP/1.0 at 127.0.0.1:`port`: the body of a 200 answer.
pub fn http_get(port: u16, path: &str) -> Result<String, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| e.to_string())?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no header end in {answer:?}"))?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        return Err(format!("answer: {head}"));
    }
    Ok(body.to_owned())
}

/// One GET through a fresh `kubectl port-forward` to `pod`'s `remote` port; the forward is
/// stopped before returning.
pub fn get_through_forward(
    ns: &TestNs<'_>,
    pod: &str,
    remote: u16,
    path: &str,
) -> Result<String, String> {
    let port = free_port();
    let mut forward: Child = ns
        .kubectl_command(&[
            "port-forward",
            &format!("pod/{pod}"),
            &format!("{port}:{remote}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    // The forward listens once kubectl has reached the pod; try for a few seconds.
    let deadline = Instant::now() + Duration::from_secs(5);
    let result = loop {
        let attempt = http_get(port, path);
        if attempt.is_ok() || Instant::now() > deadline {
            break attempt;
        }
        if let Ok(Some(status)) = forward.try_wait() {
            break Err(format!("kubectl port-forward exited: {status}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = forward.kill();
    let _ = forward.wait();
    result
}
