//! Volumes: configMap and secret contents reach running pods, and subPath stays inside its
//! volume.

use std::time::Duration;

use closet_e2e::{eventually, test_ns};

use crate::{node_cluster, wait_for};

#[test]
fn config_map_and_secret_volumes_update_in_place() {
    let Some(cluster) = node_cluster() else {
        return;
    };
    let ns = test_ns!(&cluster);
    ns.kubectl_ok(&[
        "create",
        "configmap",
        "settings",
        "--from-literal=color=blue",
    ]);
    ns.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "creds",
        "--from-literal=password=hunter2",
    ]);
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: reader\nspec:\n  volumes:\n  - name: settings\n    configMap: {{name: settings}}\n  - name: creds\n    secret: {{secretName: creds, defaultMode: 0400}}\n  containers:\n  - name: main\n    image: {image}\n    imagePullPolicy: Never\n    command: [\"sleep\", \"3600\"]\n    volumeMounts:\n    - {{name: settings, mountPath: /etc/settings}}\n    - {{name: creds, mountPath: /etc/creds, readOnly: true}}\n",
        image = closet_e2e::node::BUSYBOX
    );
    ns.kubectl_ok(&["apply", "-f", &ns.write("reader.yaml", &manifest)]);
    ns.wait_ready("reader");
    assert_eq!(
        ns.kubectl_ok(&["exec", "reader", "--", "cat", "/etc/settings/color"]),
        "blue"
    );
    assert_eq!(
        ns.kubectl_ok(&["exec", "reader", "--", "cat", "/etc/creds/password"]),
        "hunter2"
    );
    let mode = ns.kubectl_ok(&[
        "exec",
        "reader",
        "--",
        "stat",
        "-L",
        "-c",
        "%a",
        "/etc/creds/password",
    ]);
    assert_eq!(mode.trim(), "400");
    let readonly = ns.kubectl(&[
        "exec",
        "reader",
        "--",
        "sh",
        "-c",
        "echo x > /etc/creds/new",
    ]);
    assert!(!readonly.success(), "a readOnly mount took a write");

    ns.kubectl_ok(&[
        "patch",
        "configmap",
        "settings",
        "-p",
        r#"{"data":{"color":"green"}}"#,
    ]);
    ns.kubectl_ok(&[
        "patch",
        "secret",
        "creds",
        "-p",
        r#"{"stringData":{"password":"correct-horse"}}"#,
    ]);
    eventually(Duration::from_secs(60), || {
        let color = ns.kubectl_ok(&["exec", "reader", "--", "cat", "/etc/settings/color"]);
        let password = ns.kubectl_ok(&["exec", "reader", "--", "cat", "/etc/creds/password"]);
        if color == "green" && password == "correct-horse" {
            Ok(())
        } else {
            Err(format!("still {color:?} and {password:?}"))
        }
    });
}

#[test]
fn a_sub_path_through_a_planted_symlink_cannot_reach_the_host() {
    let Some(cluster) = node_cluster() else {
        return;
    };
    let ns = test_ns!(&cluster);
    // The first container plants a symlink to / in a shared emptyDir; the second mounts it
    // through subPath. The agent must refuse rather than mount the host's root.
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: escape\nspec:\n  restartPolicy: Never\n  volumes:\n  - name: shared\n    emptyDir: {{}}\n  initContainers:\n  - name: plant\n    image: {image}\n    imagePullPolicy: Never\n    command: [\"ln\", \"-s\", \"/\", \"/shared/escape\"]\n    volumeMounts: [{{name: shared, mountPath: /shared}}]\n  containers:\n  - name: main\n    image: {image}\n    imagePullPolicy: Never\n    command: [\"sh\", \"-c\", \"ls /mnt/host/etc/closet-e2e-marker && echo ESCAPED || echo contained\"]\n    volumeMounts: [{{name: shared, mountPath: /mnt/host, subPath: escape}}]\n",
        image = closet_e2e::node::BUSYBOX
    );
    let marker = std::path::Path::new("/etc/closet-e2e-marker");
    let _ = std::fs::write(marker, "host file\n");
    ns.kubectl_ok(&["apply", "-f", &ns.write("escape.yaml", &manifest)]);
    let reason = wait_for(
        &ns,
        "escape",
        "{.status.containerStatuses[0].state.waiting.reason}{.status.phase}",
        Duration::from_secs(60),
        |r| {
            r.contains("CreateContainerConfigError")
                || r.contains("CreateContainerError")
                || r.contains("Succeeded")
                || r.contains("Failed")
        },
    );
    let logs = ns.kubectl(&["logs", "escape"]).stdout;
    let _ = std::fs::remove_file(marker);
    assert!(
        !logs.contains("ESCAPED"),
        "the container read the host's /etc through a subPath symlink ({reason})"
    );
}
