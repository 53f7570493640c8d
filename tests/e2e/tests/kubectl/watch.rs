//! `kubectl get -w` keeps streaming, and `kubectl wait --for=delete` returns on deletion.

use std::time::Duration;

use closet_e2e::{require_kubectl, scaled, test_ns};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};

use crate::{cluster, configmap};

/// Creates ConfigMap `name` in `ns` through kube-rs.
fn create_with_kube(ns: &str, name: &str) {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let api: Api<ConfigMap> = Api::namespaced(cluster().client().await, ns);
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            data: Some([("k".to_string(), "v".to_string())].into()),
            ..Default::default()
        };
        api.create(&PostParams::default(), &cm)
            .await
            .unwrap_or_else(|e| cluster().fail(format!("create {name}: {e}")));
    });
}

#[test]
fn get_watch_streams_new_objects_and_stays_open() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    ns.kubectl_ok(&[
        "create",
        "-f",
        &ns.write("before.yaml", &configmap("before", &[], &[])),
    ]);

    let mut watch = ns.kubectl_spawn(&["get", "configmaps", "-w"]);
    let first = watch.wait_for_line(Duration::from_secs(20), |l| l.starts_with("before "));
    first.unwrap_or_else(|e| cluster().fail(e));

    create_with_kube(ns.name(), "during-1");
    let line = watch.wait_for_line(Duration::from_secs(10), |l| l.starts_with("during-1 "));
    let line = line.unwrap_or_else(|e| cluster().fail(e));
    assert_eq!(
        line.split_whitespace().nth(1),
        Some("1"),
        "DATA column: {line:?}"
    );

    // `get -w` sets no timeout and exits when the server ends the stream, so it must stay up.
    std::thread::sleep(scaled(Duration::from_secs(5)));
    assert!(
        watch.is_running(),
        "kubectl get -w stopped: {}",
        watch.describe()
    );
    create_with_kube(ns.name(), "during-2");
    let later = watch.wait_for_line(Duration::from_secs(10), |l| l.starts_with("during-2 "));
    later.unwrap_or_else(|e| cluster().fail(e));
    assert!(
        watch.is_running(),
        "kubectl get -w stopped: {}",
        watch.describe()
    );
}

#[test]
fn get_watch_shows_added_modified_and_deleted_events() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    ns.kubectl_ok(&[
        "create",
        "-f",
        &ns.write("first.yaml", &configmap("first", &[], &[])),
    ]);
    let mut watch = ns.kubectl_spawn(&["get", "configmaps", "-w", "--output-watch-events"]);
    // The initial list shows as ADDED; the watch then starts from the list's resourceVersion,
    // so nothing after this line can be missed.
    let listed = watch.wait_for_line(Duration::from_secs(20), |l| l.starts_with("ADDED "));
    listed.unwrap_or_else(|e| cluster().fail(e));

    ns.kubectl_ok(&[
        "create",
        "-f",
        &ns.write("cm.yaml", &configmap("evented", &[], &[])),
    ]);
    ns.kubectl_ok(&["label", "configmap", "evented", "touched=yes"]);
    ns.kubectl_ok(&["delete", "configmap", "evented"]);
    for event in ["ADDED", "MODIFIED", "DELETED"] {
        let seen = watch.wait_for_line(Duration::from_secs(10), |l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.first() == Some(&event) && cells.get(1) == Some(&"evented")
        });
        seen.unwrap_or_else(|e| cluster().fail(format!("no {event} line: {e}")));
    }
}

#[test]
fn wait_for_delete_returns_when_the_object_goes() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    ns.kubectl_ok(&[
        "create",
        "-f",
        &ns.write("cm.yaml", &configmap("doomed", &[], &[])),
    ]);

    let mut wait = ns.kubectl_spawn(&["wait", "--for=delete", "configmap/doomed", "--timeout=60s"]);
    std::thread::sleep(scaled(Duration::from_secs(1)));
    assert!(
        wait.is_running(),
        "wait returned before the delete: {}",
        wait.describe()
    );

    ns.kubectl_ok(&["delete", "configmap", "doomed", "--wait=false"]);
    ns.eventually(Duration::from_secs(20), || match wait.is_running() {
        false => Ok(()),
        true => Err(format!("kubectl wait still running: {}", wait.describe())),
    });
    let out = wait.describe();
    assert!(out.contains("exited with exit status: 0"), "{out}");
    assert!(out.contains("configmap/doomed condition met"), "{out}");

    // Waiting for an object that is already gone succeeds at once.
    let gone = ns.kubectl(&["wait", "--for=delete", "configmap/doomed", "--timeout=10s"]);
    assert!(gone.success(), "{}", gone.describe());
}
