//! `closet server` as a process: the ready line, the kubeconfig, clean shutdown and restart,
//! and the refusals (data dir in use, port taken).

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use closet_e2e::{Cluster, closet_binary, run_with_timeout, scaled};
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use serde_json::Value;

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("not YAML ({e}):\n{text}"))
}

/// `closet server` on `port` and `data_dir`, run to completion (it must refuse to start).
fn refused_start(data_dir: &std::path::Path, port: u16) -> std::process::Output {
    let scratch = tempfile::tempdir().expect("temp dir");
    let config = scratch.path().join("config.yaml");
    std::fs::write(&config, "disable-agent: true\n").expect("write config");
    let mut cmd = Command::new(closet_binary());
    cmd.arg("server")
        .arg("--data-dir")
        .arg(data_dir)
        .args([
            "--https-listen-port",
            &port.to_string(),
            "--bind-address",
            "127.0.0.1",
        ])
        .arg("--write-kubeconfig")
        .arg(scratch.path().join("kubeconfig.yaml"))
        .arg("--config")
        .arg(&config);
    run_with_timeout(&mut cmd, None, scaled(Duration::from_secs(20)))
        .unwrap_or_else(|e| panic!("a refused start must end by itself: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_line_kubeconfig_clean_stop_and_restart() {
    let cluster = Cluster::start();
    let ready = format!("closet API ready at https://127.0.0.1:{}", cluster.port());
    assert!(
        cluster.log().contains(&ready),
        "no ready line {ready:?} in:\n{}",
        cluster.log()
    );

    let mode = std::fs::metadata(cluster.kubeconfig())
        .expect("kubeconfig")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the kubeconfig holds the admin key");
    let written = yaml(&std::fs::read_to_string(cluster.kubeconfig()).expect("kubeconfig"));
    assert_eq!(written["clusters"][0]["cluster"]["server"], cluster.url());

    let mut cmd = Command::new(closet_binary());
    cmd.arg("kubeconfig")
        .arg("--data-dir")
        .arg(cluster.data_dir())
        .args(["--server", &cluster.url()]);
    let out = run_with_timeout(&mut cmd, None, scaled(Duration::from_secs(20)))
        .expect("closet kubeconfig");
    assert!(
        out.status.success(),
        "closet kubeconfig: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = yaml(&String::from_utf8_lossy(&out.stdout));
    for pointer in [
        "/clusters/0/cluster/certificate-authority-data",
        "/users/0/user/client-certificate-data",
    ] {
        assert_eq!(
            printed.pointer(pointer),
            written.pointer(pointer),
            "{pointer} differs"
        );
    }

    // System objects, then one of ours that must survive a clean restart.
    let client = cluster.client().await;
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let sa = Api::<ServiceAccount>::namespaced(client.clone(), ns)
            .get("default")
            .await;
        assert!(sa.is_ok(), "no default ServiceAccount in {ns}: {sa:?}");
    }
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("kept".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let created = api
        .create(&PostParams::default(), &cm)
        .await
        .expect("create");

    cluster.stop();
    assert!(
        cluster.log().contains("SIGTERM received"),
        "{}",
        cluster.log_tail()
    );
    cluster.restart();
    let again = yaml(&std::fs::read_to_string(cluster.kubeconfig()).expect("kubeconfig"));
    for pointer in [
        "/clusters/0/cluster/certificate-authority-data",
        "/users/0/user/client-key-data",
    ] {
        assert_eq!(
            again.pointer(pointer),
            written.pointer(pointer),
            "a restart must reuse {pointer}"
        );
    }
    let api: Api<ConfigMap> = Api::default_namespaced(cluster.client().await);
    let kept = api
        .get("kept")
        .await
        .unwrap_or_else(|e| cluster.fail(format!("after restart: {e}")));
    assert_eq!(kept.metadata.uid, created.metadata.uid);
    cluster.stop();
}

#[test]
fn a_second_server_on_the_same_data_dir_refuses() {
    let cluster = Cluster::start();
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let out = refused_start(&cluster.data_dir(), port);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a second server started:\n{stderr}");
    let data_dir = cluster.data_dir().display().to_string();
    assert!(
        stderr.contains("error:") && stderr.contains(&data_dir),
        "{stderr}"
    );
    assert!(cluster.is_running(), "the first server must keep running");
}

#[test]
fn a_taken_port_is_refused_with_a_clear_message() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("temp dir");
    let out = refused_start(dir.path(), port);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started on a taken port:\n{stderr}");
    assert!(
        stderr.contains(&port.to_string()),
        "the message must name the port:\n{stderr}"
    );
}
