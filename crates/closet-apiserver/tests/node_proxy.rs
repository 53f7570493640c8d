//! `pods/log`, `pods/exec` and `nodes/proxy` through the apiserver to a real node API over TLS: the
//! apiserver on loopback HTTP (as the admin), the node API on loopback HTTPS with a CRI
//! fake and a fake process behind its exec seam.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::net::SocketAddr;
use std::sync::Arc;

use closet_apiserver::auth::User;
use closet_apiserver::{ApiServer, Config};
use closet_nodeapi::exec;
use closet_nodeapi::testing::{FakeDialer, MemoryPods, ProcessEnd, StreamingRuntime};
use closet_nodeapi::{ContainerInfo, NodeApi};
use closet_pki::{CertificateAuthority, ServingNames};
use closet_store::sqlite::{Options, SqliteStore};
use futures::{SinkExt, StreamExt};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tower::ServiceExt;

struct Cluster {
    api: ApiServer,
    apiserver: SocketAddr,
    processes: tokio::sync::Mutex<mpsc::UnboundedReceiver<ProcessEnd>>,
    _dir: tempfile::TempDir,
}

fn admin() -> User {
    User {
        name: "admin".into(),
        groups: vec!["system:masters".into()],
    }
}

async fn cluster(with_node_client: bool) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(
        &log,
        "2024-05-01T10:00:00Z stdout F first\n2024-05-01T10:00:01Z stderr F last\n",
    )
    .unwrap();

    let ca = CertificateAuthority::generate().unwrap();
    let serving = ca.issue_serving(&ServingNames::loopback()).unwrap();
    let apiserver_cert = ca
        .issue_client(closet_nodeapi::APISERVER_CLIENT_CN, &[])
        .unwrap();
    // A volume with 1 MiB of data in it.
    let volume = dir.path().join("volume");
    std::fs::create_dir(&volume).unwrap();
    std::fs::write(volume.join("data"), vec![1u8; 1 << 20]).unwrap();
    let pods = MemoryPods::default();
    pods.add_container(
        "default",
        "web",
        "app",
        ContainerInfo {
            container_id: "c1".into(),
            log_path: log,
            previous_log_path: None,
            running: false,
            tty: false,
        },
    );
    pods.add_pod(closet_nodeapi::PodInfo {
        namespace: "default".into(),
        name: "web".into(),
        uid: "uid-web".into(),
        sandbox_id: "s1".into(),
        containers: vec![("app".into(), "c1".into())],
        volumes: vec![closet_nodeapi::VolumeInfo {
            name: "data".into(),
            host_path: volume,
            claim_name: Some("data-web".into()),
        }],
    });
    let (dialer, processes) = FakeDialer::new();
    // Sessions go to the fake dialer, so the streaming URL is never dialled.
    let runtime = StreamingRuntime::new("http://127.0.0.1:9");
    *runtime.stats.lock().unwrap() = vec![closet_cri::cri::ContainerStats {
        attributes: Some(closet_cri::cri::ContainerAttributes {
            id: "c1".into(),
            ..Default::default()
        }),
        cpu: Some(closet_cri::cri::CpuUsage {
            timestamp: 1,
            usage_core_nano_seconds: Some(closet_cri::cri::UInt64Value { value: 5 }),
            usage_nano_cores: None,
        }),
        memory: Some(closet_cri::cri::MemoryUsage {
            timestamp: 1,
            working_set_bytes: Some(closet_cri::cri::UInt64Value { value: 3 << 20 }),
            ..Default::default()
        }),
        ..Default::default()
    }];
    let node = NodeApi::new(Arc::new(runtime), Arc::new(pods), "node-1")
        .with_remote_command_dialer(Arc::new(dialer))
        .with_node_fs_path(dir.path());
    let node_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let node_port = node_listener.local_addr().unwrap().port();
    let node_tls = closet_nodeapi::tls::server_config(
        &ca.pair().cert_pem,
        &serving.cert_pem,
        &serving.key_pem,
    )
    .unwrap();
    tokio::spawn(node.serve(node_listener, node_tls, std::future::pending()));

    let store = SqliteStore::open(&dir.path().join("state.db"), Options::default()).unwrap();
    let mut api = ApiServer::new(store, Config::default());
    if with_node_client {
        api = api.with_node_client(
            closet_nodeapi::tls::client_config(
                &ca.pair().cert_pem,
                &apiserver_cert.cert_pem,
                &apiserver_cert.key_pem,
            )
            .unwrap(),
        );
    }
    api.bootstrap().await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let apiserver = listener.local_addr().unwrap();
    let router = api.router_as(admin());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let c = Cluster {
        api,
        apiserver,
        processes: tokio::sync::Mutex::new(processes),
        _dir: dir,
    };
    c.send(
        "POST",
        "/api/v1/nodes",
        serde_json::json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}),
    )
    .await;
    c.patch_status(
        "/api/v1/nodes/node-1/status",
        serde_json::json!({"status": {
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": node_port}}}}),
    )
    .await;
    c.pod("web", Some("node-1"), "Running").await;
    c
}

impl Cluster {
    async fn send(
        &self,
        method: &str,
        path: &str,
        body: serde_json::Value,
    ) -> (StatusCode, String) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        self.call(request).await
    }

    async fn patch_status(&self, path: &str, body: serde_json::Value) {
        let request = Request::patch(path)
            .header("content-type", "application/merge-patch+json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        let (status, text) = self.call(request).await;
        assert_eq!(status, StatusCode::OK, "{text}");
    }

    async fn call(&self, request: Request<axum::body::Body>) -> (StatusCode, String) {
        let response = self.api.router_as(admin()).oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    async fn pod(&self, name: &str, node: Option<&str>, phase: &str) {
        let mut spec = serde_json::json!({"containers": [{"name": "app", "image": "busybox"}]});
        if let Some(node) = node {
            spec["nodeName"] = node.into();
        }
        let (status, text) = self
            .send(
                "POST",
                "/api/v1/namespaces/default/pods",
                serde_json::json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": name}, "spec": spec}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{text}");
        self.patch_status(
            &format!("/api/v1/namespaces/default/pods/{name}/status"),
            serde_json::json!({"status": {"phase": phase}}),
        )
        .await;
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        self.call(Request::get(path).body(axum::body::Body::empty()).unwrap())
            .await
    }

    async fn websocket(
        &self,
        path: &str,
    ) -> Result<
        tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
        tokio_tungstenite::tungstenite::Error,
    > {
        let mut request = format!("ws://{}{path}", self.apiserver)
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "v5.channel.k8s.io".parse().unwrap(),
        );
        let tcp = tokio::net::TcpStream::connect(self.apiserver)
            .await
            .unwrap();
        let (socket, response) = tokio_tungstenite::client_async(request, tcp).await?;
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            "v5.channel.k8s.io"
        );
        Ok(socket)
    }
}

#[tokio::test]
async fn logs_come_from_the_node() {
    let c = cluster(true).await;
    let (status, body) = c.get("/api/v1/namespaces/default/pods/web/log").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "first\nlast\n"));
    let (status, body) = c
        .get("/api/v1/namespaces/default/pods/web/log?container=app&tailLines=1&timestamps=true")
        .await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "2024-05-01T10:00:01Z last\n")
    );
    let (status, body) = c
        .get("/api/v1/namespaces/default/pods/web/log?container=db")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("container db is not valid for pod web"),
        "{body}"
    );
    let (status, _) = c.get("/api/v1/namespaces/default/pods/nope/log").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn exec_over_websocket_through_the_apiserver() {
    let c = cluster(true).await;
    let mut socket = c
        .websocket("/api/v1/namespaces/default/pods/web/exec?command=ls&container=app&stdout=true")
        .await
        .unwrap();
    let mut process = c.processes.lock().await.recv().await.unwrap();
    process.stdout.write_all(b"bin\n").await.unwrap();
    drop(process.stdout);
    process.outcome.send(exec::exit_code_status(2)).unwrap();
    let mut data = Vec::new();
    while let Some(Ok(message)) = socket.next().await {
        match message {
            Message::Binary(b) => data.push(b.to_vec()),
            Message::Close(_) => break,
            _ => {}
        }
    }
    assert_eq!(data[0], b"\x01bin\n");
    let status: serde_json::Value = serde_json::from_slice(&data[1][1..]).unwrap();
    assert_eq!(status["details"]["causes"][0]["message"], "2");
    let _ = socket.send(Message::Close(None)).await;
}

#[tokio::test]
async fn refusals_are_statuses() {
    let c = cluster(true).await;
    c.pod("floating", None, "Pending").await;
    let (status, body) = c.get("/api/v1/namespaces/default/pods/floating/log").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("pod floating does not have a host assigned"),
        "{body}"
    );

    c.pod("done", Some("node-1"), "Succeeded").await;
    let err = c
        .websocket("/api/v1/namespaces/default/pods/done/exec?command=ls&stdout=true")
        .await
        .unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
        panic!("expected a refusal, got {err}");
    };
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned();
    assert!(
        body.contains("cannot exec into a container in a completed pod"),
        "{body}"
    );

    // In-process callers have no connection to upgrade.
    let request = Request::get("/api/v1/namespaces/default/pods/web/exec?command=ls&stdout=true")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, body) = c.call(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("cannot be upgraded"), "{body}");

    let (status, _) = c
        .call(
            Request::delete("/api/v1/namespaces/default/pods/web/log")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn without_a_node_client_the_subresources_are_unavailable() {
    let c = cluster(false).await;
    let (status, body) = c.get("/api/v1/namespaces/default/pods/web/log").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body.contains("no node agent connection is configured"),
        "{body}"
    );
}

#[tokio::test]
async fn kubectl_top_finds_pod_and_node_metrics() {
    let c = cluster(true).await;
    let agg =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let (_, groups) = c
        .call(
            Request::get("/apis")
                .header("accept", agg)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert!(groups.contains("\"metrics.k8s.io\""), "{groups}");
    let (_, legacy) = c.get("/apis").await;
    assert!(legacy.contains("metrics.k8s.io/v1beta1"), "{legacy}");
    let (status, resources) = c.get("/apis/metrics.k8s.io/v1beta1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(resources.contains("PodMetrics"), "{resources}");

    let protobuf_first = "application/vnd.kubernetes.protobuf, */*";
    let request = Request::get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods")
        .header("accept", protobuf_first)
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, body) = c.call(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list["kind"], "PodMetricsList");
    assert_eq!(list["items"][0]["metadata"]["name"], "web");
    assert_eq!(
        list["items"][0]["containers"][0],
        serde_json::json!({"name": "app", "usage": {"cpu": "0", "memory": "3Mi"}})
    );
    let (status, body) = c.get("/apis/metrics.k8s.io/v1beta1/nodes").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let nodes: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(nodes["items"][0]["metadata"]["name"], "node-1");
    assert!(nodes["items"][0]["usage"]["memory"].is_string(), "{nodes}");
    let (status, _) = c
        .get("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/nope")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = c
        .get("/apis/metrics.k8s.io/v1beta1/namespaces/other/pods?labelSelector=app%3Dweb")
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn without_a_node_client_there_is_no_metrics_api() {
    let c = cluster(false).await;
    let (_, legacy) = c.get("/apis").await;
    assert!(!legacy.contains("metrics.k8s.io"), "{legacy}");
    let (status, _) = c.get("/apis/metrics.k8s.io/v1beta1/nodes").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_node_proxy_serves_the_summary_with_volume_usage() {
    let c = cluster(true).await;
    let (status, body) = c.get("/api/v1/nodes/node-1/proxy/stats/summary").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let summary: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(summary["node"]["nodeName"], "node-1");
    let node_fs = &summary["node"]["fs"];
    assert!(node_fs["capacityBytes"].as_u64().unwrap() > 0, "{node_fs}");
    let volume = &summary["pods"][0]["volume"][0];
    assert_eq!(volume["name"], "data");
    assert_eq!(
        volume["pvcRef"],
        serde_json::json!({"name": "data-web", "namespace": "default"})
    );
    let used = volume["usedBytes"].as_u64().unwrap();
    assert!(used >= 1 << 20, "{volume}");
    assert!(volume["capacityBytes"].as_u64().unwrap() > used, "{volume}");
    assert!(volume["inodesUsed"].as_u64().unwrap() >= 2, "{volume}");

    let (status, body) = c.get("/api/v1/nodes/node-1/proxy/healthz").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
}

#[tokio::test]
async fn the_node_proxy_refuses_writes_and_other_paths() {
    let c = cluster(true).await;
    let (status, body) = c
        .send(
            "POST",
            "/api/v1/nodes/node-1/proxy/stats/summary",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    let refusal: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(refusal["kind"], "Status");
    assert_eq!(refusal["reason"], "MethodNotAllowed");

    for path in [
        "/api/v1/nodes/node-1/proxy",
        "/api/v1/nodes/node-1/proxy/containerLogs/default/web/app",
        "/api/v1/nodes/node-1/proxy/stats%2Fsummary",
        "/api/v1/nodes/node-1/proxy/stats/summary/..",
    ] {
        let (status, body) = c.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        let refusal: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(refusal["kind"], "Status", "{path}: {body}");
    }
    let (status, _) = c.get("/api/v1/nodes/nope/proxy/stats/summary").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body) = c.get("/api/v1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"nodes/proxy\""), "{body}");
}
