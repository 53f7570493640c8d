//! Endpoints follow readiness through proxied traffic: two backends behind one ClusterIP,
//! each ready while its `/tmp/ready` exists (an exec readiness probe the agent runs every
//! second). One losing the file leaves the EndpointSlice's ready set and the nftables
//! rotation; getting it back returns it to both.

use std::collections::BTreeSet;
use std::time::Duration;

use closet_e2e::{TestNs, eventually, test_ns};

use super::{
    apply, backend_with, node_cluster, plain_pod, service, wait_endpoints_exactly, wget_from,
};

const URL: &str = "http://10.43.0.66/";

/// A backend that creates its readiness file at start and is ready while it exists.
fn probed_backend(name: &str) -> String {
    backend_with(
        name,
        "    app: probed",
        "touch /tmp/ready && ",
        "    readinessProbe:\n      exec:\n        command: [\"test\", \"-e\", \"/tmp/ready\"]\n      periodSeconds: 1\n      failureThreshold: 1\n",
    )
}

/// The backends that `runs` requests from the client through the ClusterIP reached. Every
/// request must succeed: a backend out of the rotation must not be chosen at all.
fn reached(ns: &TestNs<'_>, runs: usize) -> Result<BTreeSet<String>, String> {
    let mut seen = BTreeSet::new();
    for _ in 0..runs {
        seen.insert(wget_from(ns, "client", URL)?);
    }
    Ok(seen)
}

/// Waits until requests through the ClusterIP reach both backends.
fn wait_both_reached(ns: &TestNs<'_>) {
    let both = BTreeSet::from(["probed-a".to_owned(), "probed-b".to_owned()]);
    let mut seen = BTreeSet::new();
    eventually(Duration::from_secs(30), || {
        seen.insert(wget_from(ns, "client", URL)?);
        if seen == both {
            Ok(())
        } else {
            Err(format!("only {seen:?} reached so far"))
        }
    });
}

#[test]
fn a_backend_failing_its_readiness_probe_leaves_the_rotation_and_comes_back() {
    let Some(cluster) = node_cluster() else {
        return;
    };
    let ns = test_ns!(&cluster);
    apply(&ns, &probed_backend("probed-a"));
    apply(&ns, &probed_backend("probed-b"));
    apply(&ns, &plain_pod("client", "sleep 3600"));
    apply(
        &ns,
        &service("probed", "10.43.0.66", "    app: probed", "", ""),
    );
    for pod in ["probed-a", "probed-b", "client"] {
        ns.wait_ready(pod);
    }
    wait_endpoints_exactly(&ns, "probed", &["probed-a=true", "probed-b=true"]);
    wait_both_reached(&ns);

    // probed-a fails its probe: its endpoint stays listed, not ready, and the proxy stops
    // choosing it.
    ns.kubectl_ok(&["exec", "probed-a", "--", "rm", "/tmp/ready"]);
    wait_endpoints_exactly(&ns, "probed", &["probed-a=false", "probed-b=true"]);
    let only_b = BTreeSet::from(["probed-b".to_owned()]);
    eventually(Duration::from_secs(30), || match reached(&ns, 8) {
        Ok(seen) if seen == only_b => Ok(()),
        other => Err(format!("requests reached {other:?}")),
    });
    // Once out, it stays out: with both in a random rotation, 20 requests all reaching
    // probed-b would happen about once in a million runs.
    assert_eq!(reached(&ns, 20), Ok(only_b));

    // It recovers: ready again in the slice, and back in the rotation.
    ns.kubectl_ok(&["exec", "probed-a", "--", "touch", "/tmp/ready"]);
    wait_endpoints_exactly(&ns, "probed", &["probed-a=true", "probed-b=true"]);
    wait_both_reached(&ns);
}
