//! Pods whose images come from a registry: the agent pulls a multi-arch image index from a
//! local OCI registry (the `docker-registry` package on 127.0.0.1) and runs this machine's
//! platform.

use std::time::Duration;

use closet_e2e::registry::Registry;
use closet_e2e::{images, test_ns};

use crate::{jsonpath, node_cluster};

#[test]
fn a_pod_runs_an_image_pulled_from_a_local_registry() {
    let Some(cluster) = node_cluster() else {
        return;
    };
    if !Registry::available() {
        eprintln!("skipping: no docker-registry (apt-get install docker-registry)");
        return;
    }
    let registry = Registry::start().expect("start the local registry");
    let reference = registry.reference("closet-e2e/busybox:multi");
    let layout = images::busybox_multiarch_layout(&reference);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(registry.push(&layout, "closet-e2e/busybox:multi"))
        .expect("push the multi-arch image");
    // The registry speaks plain HTTP: containerd learns so from a hosts.toml in closet's
    // own registry config directory.
    let host = registry.host();
    let dir = cluster
        .data_dir()
        .join("agent/containerd/certs.d")
        .join(&host);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("hosts.toml"),
        format!("server = \"http://{host}\"\n\n[host.\"http://{host}\"]\n  capabilities = [\"pull\", \"resolve\"]\n"),
    )
    .unwrap();

    let ns = test_ns!(&cluster);
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: pulled\nspec:\n  containers:\n  - name: main\n    image: {reference}\n    imagePullPolicy: Always\n    command: [\"sh\", \"-c\", \"uname -m; sleep 3600\"]\n"
    );
    ns.kubectl_ok(&["apply", "-f", &ns.write("pulled.yaml", &manifest)]);
    ns.wait_ready("pulled");
    let image_id = jsonpath(&ns, "pulled", "{.status.containerStatuses[0].imageID}");
    assert!(!image_id.is_empty(), "the status names the pulled image");
    let machine = closet_e2e::eventually(Duration::from_secs(20), || {
        let out = ns.kubectl_ok(&["logs", "pulled"]);
        if out.trim().is_empty() {
            Err("no output yet".to_owned())
        } else {
            Ok(out)
        }
    });
    assert_eq!(
        machine.trim(),
        std::env::consts::ARCH,
        "the host platform's image ran"
    );

    // A tag the registry does not have: ErrImagePull, then ImagePullBackOff.
    let missing = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: missing\nspec:\n  containers:\n  - name: main\n    image: {}\n",
        registry.reference("closet-e2e/nothing:1")
    );
    ns.kubectl_ok(&["apply", "-f", &ns.write("missing.yaml", &missing)]);
    crate::wait_for(
        &ns,
        "missing",
        "{.status.containerStatuses[0].state.waiting.reason}",
        Duration::from_secs(60),
        |r| r == "ErrImagePull" || r == "ImagePullBackOff",
    );
}
