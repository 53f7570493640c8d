//! A node API on loopback with fakes below its seams: a CRI fake whose streaming URLs point
//! at a small HTTP server playing containerd's streaming server, a pod directory in memory,
//! and a remotecommand dialer whose sessions the test drives.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use closet_nodeapi::exec;
use closet_nodeapi::testing::{FakeDialer, MemoryPods, ProcessEnd, StreamingRuntime};
use closet_nodeapi::{ContainerInfo, NodeApi, PodInfo};
use closet_pki::{CertAndKey, CertificateAuthority, ServingNames};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

// ---------------------------------------------------------------- PKI

/// A cluster CA with the certificates the tests need.
pub(crate) struct Pki {
    pub(crate) ca: CertificateAuthority,
    pub(crate) serving: CertAndKey,
    pub(crate) apiserver: CertAndKey,
}

impl Pki {
    pub(crate) fn new() -> Self {
        let ca = CertificateAuthority::generate().unwrap();
        let serving = ca.issue_serving(&ServingNames::loopback()).unwrap();
        let apiserver = ca
            .issue_client(closet_nodeapi::APISERVER_CLIENT_CN, &[])
            .unwrap();
        Self {
            ca,
            serving,
            apiserver,
        }
    }

    pub(crate) fn server_config(&self) -> Arc<rustls::ServerConfig> {
        closet_nodeapi::tls::server_config(
            &self.ca.pair().cert_pem,
            &self.serving.cert_pem,
            &self.serving.key_pem,
        )
        .unwrap()
    }

    /// A client config trusting the cluster CA and presenting `cert`.
    pub(crate) fn client_config(&self, cert: &CertAndKey) -> Arc<rustls::ClientConfig> {
        closet_nodeapi::tls::client_config(&self.ca.pair().cert_pem, &cert.cert_pem, &cert.key_pem)
            .unwrap()
    }
}

// ---------------------------------------------------------------- streaming server

/// One request the fake streaming server saw.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: http::HeaderMap,
}

/// Plays containerd's streaming server: answers SPDY upgrades with 101 and then echoes
/// every byte back, or, for `/exec/...` when started for SPDY, runs a
/// "process" over real SPDY; `/refuse/...` gets 404. Counts upgraded connections open.
pub(crate) struct Backend {
    pub(crate) addr: SocketAddr,
    pub(crate) seen: Arc<Mutex<Vec<Seen>>>,
    upgraded: Arc<AtomicUsize>,
    ended: Arc<AtomicUsize>,
}

impl Backend {
    async fn start_with(spdy: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let upgraded = Arc::new(AtomicUsize::new(0));
        let ended = Arc::new(AtomicUsize::new(0));
        let (s, o, c) = (seen.clone(), upgraded.clone(), ended.clone());
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (s, o, c) = (s.clone(), o.clone(), c.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        backend_answer(req, spdy, s.clone(), o.clone(), c.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        Self {
            addr,
            seen,
            upgraded,
            ended,
        }
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Upgraded connections still open.
    pub(crate) fn open(&self) -> usize {
        self.upgraded.load(Ordering::SeqCst) - self.ended.load(Ordering::SeqCst)
    }

    /// Waits until at least one connection was upgraded and every upgraded one has closed.
    pub(crate) async fn wait_all_closed(&self) {
        tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while self.upgraded.load(Ordering::SeqCst) == 0 || self.open() != 0 {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("every runtime connection closed in time");
    }
}

async fn backend_answer(
    mut req: Request<Incoming>,
    spdy: bool,
    seen: Arc<Mutex<Vec<Seen>>>,
    upgraded: Arc<AtomicUsize>,
    ended: Arc<AtomicUsize>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    seen.lock().unwrap().push(Seen {
        method: req.method().to_string(),
        path: req.uri().path().to_owned(),
        headers: req.headers().clone(),
    });
    if req.uri().path().starts_with("/refuse") {
        let mut resp = Response::new(Full::from("token not found"));
        *resp.status_mut() = StatusCode::NOT_FOUND;
        return Ok(resp);
    }
    let offered = req
        .headers()
        .get("x-stream-protocol-version")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .unwrap_or("")
        .trim()
        .to_owned();
    let on_upgrade = hyper::upgrade::on(&mut req);
    if spdy && req.uri().path().starts_with("/exec") {
        tokio::spawn(async move {
            if let Ok(connection) = on_upgrade.await {
                spdy_process(TokioIo::new(connection)).await;
            }
        });
        return Ok(switching(&offered));
    }
    tokio::spawn(async move {
        let Ok(connection) = on_upgrade.await else {
            return;
        };
        upgraded.fetch_add(1, Ordering::SeqCst);
        let mut io = TokioIo::new(connection);
        let mut buf = vec![0u8; 4096];
        loop {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if io.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        // End of input may be a half-close by a peer that still holds the connection: only
        // a failing write proves the peer has let go of it.
        while io.write_all(b".").await.is_ok() && io.flush().await.is_ok() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        ended.fetch_add(1, Ordering::SeqCst);
    });
    Ok(switching(&offered))
}

fn switching(protocol: &str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::default());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    resp.headers_mut()
        .insert("connection", "Upgrade".parse().unwrap());
    resp.headers_mut()
        .insert("upgrade", "SPDY/3.1".parse().unwrap());
    resp.headers_mut()
        .insert("x-stream-protocol-version", protocol.parse().unwrap());
    resp
}

/// The exec flow of kubelet's (and containerd's) streaming server for stdin, stdout and
/// stderr: wait for the four streams, copy stdin to stdout until stdin's end, a line to
/// stderr, close the outputs, write an exit status of 7, reset everything.
async fn spdy_process(io: TokioIo<hyper::upgrade::Upgraded>) {
    let session = closet_spdy::Session::server(io);
    let mut streams = HashMap::new();
    for _ in 0..4 {
        let Some(stream) = session.accept().await else {
            return;
        };
        let kind = stream.headers().get("streamtype").unwrap_or("").to_owned();
        streams.insert(kind, stream);
    }
    let (Some(mut stdin), Some(mut stdout), Some(mut stderr), Some(mut error)) = (
        streams.remove("stdin"),
        streams.remove("stdout"),
        streams.remove("stderr"),
        streams.remove("error"),
    ) else {
        return;
    };
    let _ = tokio::io::copy(&mut stdin, &mut stdout).await;
    let _ = stderr.write_all(b"warning\n").await;
    let _ = stderr.shutdown().await;
    let _ = stdout.shutdown().await;
    let status = exec::exit_code_status(7).to_json();
    let _ = error.write_all(status.as_bytes()).await;
    for stream in [&error, &stdout, &stderr, &stdin] {
        stream.reset();
    }
    session.close();
}

// ---------------------------------------------------------------- the node

/// A running node API and its fakes.
pub(crate) struct Node {
    pub(crate) addr: SocketAddr,
    pub(crate) pki: Pki,
    pub(crate) runtime: Arc<StreamingRuntime>,
    pub(crate) pods: Arc<MemoryPods>,
    pub(crate) sessions: mpsc::UnboundedReceiver<ProcessEnd>,
    pub(crate) backend: Backend,
    pub(crate) dir: tempfile::TempDir,
    _shutdown: oneshot::Sender<()>,
}

impl Node {
    /// A node whose exec sessions are fakes the test drives ([`Node::sessions`]).
    pub(crate) async fn start() -> Self {
        Self::start_with(false).await
    }

    /// A node using the real SPDY client against a streaming server running a "process".
    pub(crate) async fn start_spdy() -> Self {
        Self::start_with(true).await
    }

    async fn start_with(spdy: bool) -> Self {
        let pki = Pki::new();
        let backend = Backend::start_with(spdy).await;
        let runtime = Arc::new(StreamingRuntime::new(format!("http://{}", backend.addr)));
        let pods = Arc::new(MemoryPods::default());
        let (dialer, sessions) = FakeDialer::new();
        let mut api = NodeApi::new(runtime.clone(), pods.clone(), "node-1");
        if !spdy {
            api = api.with_remote_command_dialer(Arc::new(dialer));
        }
        let api = api.with_log_poll_interval(std::time::Duration::from_millis(20));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(api.serve(listener, pki.server_config(), async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            pki,
            runtime,
            pods,
            sessions,
            backend,
            dir: tempfile::tempdir().unwrap(),
            _shutdown: stop,
        }
    }

    /// Adds pod `default/web` with container `app` (id `c1`) logging to `app.log`.
    pub(crate) fn add_web_pod(&self, tty: bool) -> PathBuf {
        let log = self.dir.path().join("app.log");
        self.pods.add_container(
            "default",
            "web",
            "app",
            ContainerInfo {
                container_id: "c1".into(),
                log_path: log.clone(),
                previous_log_path: None,
                running: true,
                tty,
            },
        );
        self.pods.add_pod(PodInfo {
            namespace: "default".into(),
            name: "web".into(),
            uid: "uid-1".into(),
            sandbox_id: "sandbox-1".into(),
            containers: vec![("app".into(), "c1".into())],
            volumes: Vec::new(),
        });
        log
    }

    /// A TLS connection presenting the apiserver's certificate.
    pub(crate) async fn tls(&self) -> TlsStream<TcpStream> {
        self.tls_with(self.pki.client_config(&self.pki.apiserver))
            .await
            .unwrap()
    }

    pub(crate) async fn tls_with(
        &self,
        config: Arc<rustls::ClientConfig>,
    ) -> std::io::Result<TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(self.addr).await?;
        tokio_rustls::TlsConnector::from(config)
            .connect("127.0.0.1".try_into().unwrap(), tcp)
            .await
    }

    /// `GET path` as the apiserver; status and body.
    pub(crate) async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self.request(path).await;
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// `GET path` as the apiserver, body unread.
    pub(crate) async fn request(&self, path: &str) -> Response<Incoming> {
        let io = TokioIo::new(self.tls().await);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(conn);
        let request = Request::get(path)
            .header("host", "127.0.0.1")
            .body(Empty::<Bytes>::new())
            .unwrap();
        sender.send_request(request).await.unwrap()
    }

    /// A WebSocket to `path` offering `protocol`, over TLS as the apiserver.
    pub(crate) async fn websocket(
        &self,
        path: &str,
        protocol: &str,
    ) -> Result<WebSocketStream<TlsStream<TcpStream>>, tokio_tungstenite::tungstenite::Error> {
        let mut request = format!("wss://127.0.0.1:{}{path}", self.addr.port())
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocol.parse().unwrap());
        let (socket, response) = tokio_tungstenite::client_async(request, self.tls().await).await?;
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            protocol,
            "the server selects the offered subprotocol"
        );
        Ok(socket)
    }
}
