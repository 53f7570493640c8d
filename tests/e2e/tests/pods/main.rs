//! Pods in real containers: the embedded agent, containerd and runc, driven by real kubectl.
//!
//! Every test starts its own cluster with the agent on; `.config/nextest.toml` runs this
//! binary's tests one at a time, since all agents on a machine share the `closet0` bridge.

#![allow(clippy::unwrap_used, reason = "tests")]

mod lifecycle;
mod pull;
mod remote;
mod security;
mod streams;
mod volumes;

use std::time::Duration;

use closet_e2e::{TestNs, eventually, node};

pub use closet_e2e::node::{NodeCluster, node_cluster};

/// A pod manifest running `command` in busybox, with extra container fields (`extra`, YAML
/// at the container's indentation) and pod fields (`pod_extra`).
pub fn pod_yaml(name: &str, command: &str, extra: &str, pod_extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\nspec:\n{pod_extra}  containers:\n  - name: main\n    image: {image}\n    imagePullPolicy: Never\n    command: [\"sh\", \"-c\", {command:?}]\n{extra}",
        image = node::BUSYBOX,
    )
}

/// A jsonpath of `pod`.
pub fn jsonpath(ns: &TestNs<'_>, pod: &str, path: &str) -> String {
    ns.kubectl_ok(&["get", "pod", pod, "-o", &format!("jsonpath={path}")])
}

/// Waits until a jsonpath of `pod` satisfies `check`, returning it.
pub fn wait_for(
    ns: &TestNs<'_>,
    pod: &str,
    path: &str,
    timeout: Duration,
    check: impl Fn(&str) -> bool,
) -> String {
    eventually(timeout, || {
        let value = jsonpath(ns, pod, path);
        if check(&value) {
            Ok(value)
        } else {
            Err(format!("{pod} {path} = {value:?}"))
        }
    })
}
