//! Liveness, readiness and startup probes: exec through CRI `ExecSync`, HTTP GET and TCP
//! connect from the node to the pod's address, with upstream's timing and thresholds.

use std::time::Duration;

use closet_cri::{Runtime, cri};
use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// Which probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `startupProbe`.
    Startup,
    /// `livenessProbe`.
    Liveness,
    /// `readinessProbe`.
    Readiness,
}

/// The running verdict of one probe of one container instance.
#[derive(Clone, Debug)]
pub struct ProbeState {
    /// Which container instance the counts belong to (reset when it changes).
    pub container_id: String,
    /// The current verdict: `None` until thresholds are reached.
    pub verdict: Option<bool>,
    successes: i32,
    failures: i32,
    /// When the probe is next due.
    pub next: Instant,
    /// The last failure's output, for events and logs.
    pub last_failure: String,
}

impl ProbeState {
    /// A fresh state for a container instance that started at `started`.
    pub fn new(container_id: &str, probe: &Probe, started: Instant) -> Self {
        let delay = secs(probe.initial_delay_seconds, 0);
        Self {
            container_id: container_id.to_owned(),
            verdict: None,
            successes: 0,
            failures: 0,
            next: started + delay,
            last_failure: String::new(),
        }
    }

    /// Records one result against the probe's thresholds.
    pub fn record(&mut self, probe: &Probe, ok: bool, message: String, now: Instant) {
        self.next = now + secs(probe.period_seconds, 10);
        if ok {
            self.successes += 1;
            self.failures = 0;
            if self.successes >= probe.success_threshold.unwrap_or(1).max(1) {
                self.verdict = Some(true);
            }
        } else {
            self.failures += 1;
            self.successes = 0;
            self.last_failure = message;
            if self.failures >= probe.failure_threshold.unwrap_or(3).max(1) {
                self.verdict = Some(false);
            }
        }
    }
}

fn secs(value: Option<i32>, default: i32) -> Duration {
    Duration::from_secs(u64::try_from(value.unwrap_or(default).max(0)).unwrap_or(0))
}

/// Runs a probe once: `Ok(())` on success, the reason on failure.
pub async fn run(
    probe: &Probe,
    container: &Container,
    container_id: &str,
    pod_ip: Option<&str>,
    runtime: &dyn Runtime,
) -> Result<(), String> {
    let timeout = secs(probe.timeout_seconds, 1).max(Duration::from_secs(1));
    if let Some(exec) = &probe.exec {
        let response = runtime
            .exec_sync(cri::ExecSyncRequest {
                container_id: container_id.to_owned(),
                cmd: exec.command.clone().unwrap_or_default(),
                timeout: i64::try_from(timeout.as_secs()).unwrap_or(1),
            })
            .await
            .map_err(|e| format!("exec failed: {e}"))?;
        if response.exit_code == 0 {
            return Ok(());
        }
        let out = String::from_utf8_lossy(&response.stdout).trim().to_owned();
        return Err(format!("command exited with {}: {out}", response.exit_code));
    }
    if let Some(http) = &probe.http_get {
        let host = http
            .host
            .clone()
            .filter(|h| !h.is_empty())
            .or(pod_ip.map(str::to_owned));
        let host = host.ok_or("the pod has no address yet")?;
        let port = port_number(&http.port, container)?;
        let path = http
            .path
            .clone()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".to_owned());
        let headers: Vec<(String, String)> = http
            .http_headers
            .iter()
            .flatten()
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect();
        let https = http.scheme.as_deref() == Some("HTTPS");
        return tokio::time::timeout(timeout, http_get(&host, port, &path, &headers, https))
            .await
            .map_err(|_| format!("GET http://{host}:{port}{path}: timed out after {timeout:?}"))?;
    }
    if let Some(tcp) = &probe.tcp_socket {
        let host = tcp
            .host
            .clone()
            .filter(|h| !h.is_empty())
            .or(pod_ip.map(str::to_owned));
        let host = host.ok_or("the pod has no address yet")?;
        let port = port_number(&tcp.port, container)?;
        return match tokio::time::timeout(
            timeout,
            tokio::net::TcpStream::connect((host.as_str(), port)),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("dial tcp {host}:{port}: {e}")),
            Err(_) => Err(format!("dial tcp {host}:{port}: timed out")),
        };
    }
    if probe.grpc.is_some() {
        return Err("gRPC probes are not supported by closet yet".to_owned());
    }
    Err("the probe has no handler".to_owned())
}

/// A port given as a number or as the name of one of the container's ports.
pub fn port_number(port: &IntOrString, container: &Container) -> Result<u16, String> {
    match port {
        IntOrString::Int(n) => u16::try_from(*n).map_err(|_| format!("port {n} is out of range")),
        IntOrString::String(name) => {
            if let Ok(n) = name.parse::<u16>() {
                return Ok(n);
            }
            container
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name))
                .and_then(|p| u16::try_from(p.container_port).ok())
                .ok_or_else(|| format!("the container has no port named {name:?}"))
        }
    }
}

/// One HTTP/1.1 GET, over TLS without verifying the certificate when `https` (as upstream's
/// kubelet probes); 200–399 is success. Only the status line is read.
async fn http_get(
    host: &str,
    port: u16,
    path: &str,
    headers: &[(String, String)],
    https: bool,
) -> Result<(), String> {
    let scheme = if https { "https" } else { "http" };
    let url = format!("{scheme}://{host}:{port}{path}");
    let tcp = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    if !https {
        return exchange(tcp, &url, host, port, path, headers).await;
    }
    let config = closet_pki::join_client::unverified_probe_config()
        .map_err(|e| format!("GET {url}: {e}"))?;
    let name = rustls_pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| format!("GET {url}: {e}"))?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    exchange(tls, &url, host, port, path, headers).await
}

/// Sends the probe request on `stream` and judges the status line.
async fn exchange(
    mut stream: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    url: &str,
    host: &str,
    port: u16,
    path: &str,
    headers: &[(String, String)],
) -> Result<(), String> {
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: kube-probe/1.35\r\nAccept: */*\r\nConnection: close\r\n"
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let mut head = [0u8; 64];
    let mut len = 0;
    while len < head.len() && !head[..len].contains(&b'\n') {
        let n = stream
            .read(&mut head[len..])
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if n == 0 {
            break;
        }
        len += n;
    }
    let line = String::from_utf8_lossy(&head[..len]);
    let code: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("GET {url}: not an HTTP response"))?;
    if (200..400).contains(&code) {
        Ok(())
    } else {
        Err(format!("HTTP probe failed with statuscode: {code}"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn probe(v: serde_json::Value) -> Probe {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn thresholds_decide_the_verdict() {
        let p = probe(json!({"failureThreshold": 2, "successThreshold": 1, "periodSeconds": 1}));
        let now = Instant::now();
        let mut s = ProbeState::new("c", &p, now);
        s.record(&p, false, "no".into(), now);
        assert_eq!(s.verdict, None);
        s.record(&p, false, "no".into(), now);
        assert_eq!(s.verdict, Some(false));
        s.record(&p, true, String::new(), now);
        assert_eq!(s.verdict, Some(true));
        assert_eq!(s.next, now + Duration::from_secs(1));
    }

    #[test]
    fn named_ports_resolve_through_the_container() {
        let c: Container = serde_json::from_value(
            json!({"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}),
        )
        .unwrap();
        assert_eq!(
            port_number(&IntOrString::String("http".into()), &c),
            Ok(8080)
        );
        assert_eq!(port_number(&IntOrString::Int(80), &c), Ok(80));
        assert!(port_number(&IntOrString::String("grpc".into()), &c).is_err());
        assert!(port_number(&IntOrString::Int(70000), &c).is_err());
    }

    #[tokio::test]
    async fn http_and_tcp_probes_against_a_local_listener() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for status in ["200 OK", "500 Internal Server Error", "200 OK"] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n").as_bytes())
                    .await;
            }
        });
        let c: Container = serde_json::from_value(json!({"name": "c"})).unwrap();
        let fake = closet_cri::fake::FakeRuntime::new();
        let http = probe(json!({"httpGet": {"path": "/healthz", "port": port}}));
        assert_eq!(run(&http, &c, "id", Some("127.0.0.1"), &fake).await, Ok(()));
        let err = run(&http, &c, "id", Some("127.0.0.1"), &fake)
            .await
            .unwrap_err();
        assert!(err.contains("500"), "{err}");
        let tcp = probe(json!({"tcpSocket": {"port": port}}));
        assert_eq!(run(&tcp, &c, "id", Some("127.0.0.1"), &fake).await, Ok(()));
    }

    #[tokio::test]
    async fn https_probes_accept_a_self_signed_certificate() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ca = closet_pki::CertificateAuthority::generate().unwrap();
        let leaf = ca
            .issue_serving(&closet_pki::ServingNames::loopback())
            .unwrap();
        use rustls_pki_types::pem::PemObject as _;
        let certs = rustls_pki_types::CertificateDer::pem_slice_iter(leaf.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap();
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = acceptor.accept(tcp).await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = tls.read(&mut buf).await;
            let _ = tls.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await;
            let _ = tls.shutdown().await;
        });
        let c: Container = serde_json::from_value(json!({"name": "c"})).unwrap();
        let fake = closet_cri::fake::FakeRuntime::new();
        let https = probe(json!({"httpGet": {"path": "/", "port": port, "scheme": "HTTPS"}}));
        assert_eq!(
            run(&https, &c, "id", Some("127.0.0.1"), &fake).await,
            Ok(())
        );
    }
}
