//! Runs the built `closet server` in a temporary data dir on a free loopback port and checks
//! what a person would: the ready line, TLS with and without a client certificate, the
//! refusals (lock, port), and a clean exit on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

const READY: &str = "closet API ready at";
const PATIENCE: Duration = Duration::from_secs(60);

fn free_port() -> u16 {
    let probe = TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
    probe.local_addr().expect("probe addr").port()
}

fn closet(data_dir: &Path, port: u16, kubeconfig: &Path) -> Command {
    // An explicit, empty config file keeps the real /etc/closet/config.yaml out of the test.
    let config = data_dir.with_extension("config.yaml");
    std::fs::write(&config, "# test\n").expect("write config");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_closet"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CLOSET_LOG", "info")
        .arg("server")
        .arg("--data-dir")
        .arg(data_dir)
        .args([
            "--bind-address",
            "127.0.0.1",
            "--https-listen-port",
            &port.to_string(),
        ])
        .arg("--write-kubeconfig")
        .arg(kubeconfig)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null());
    cmd
}

/// A running server whose stderr lines arrive on a channel.
struct Server {
    child: Child,
    lines: Receiver<String>,
}

impl Server {
    fn start(mut cmd: Command) -> Server {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("server: {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let server = Server { child, lines };
        server.wait_for(READY);
        server
    }

    fn wait_for(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(err) => panic!("no line containing {needle:?}: {err}"),
            }
        }
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success());
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "server did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_to_end(mut cmd: Command) -> Output {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run closet")
}

/// One HTTP/1.1 GET over TLS, trusting only the cluster CA and presenting the client
/// certificate and key in `identity`, if any; returns the status code.
fn get(addr: SocketAddr, ca_pem: &[u8], identity: Option<(&[u8], &[u8])>, path: &str) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem).expect("CA PEM"))
        .expect("add CA");
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((cert, key)) => {
            let cert = CertificateDer::from_pem_slice(cert).expect("client cert PEM");
            let key = PrivateKeyDer::from_pem_slice(key).expect("client key PEM");
            builder
                .with_client_auth_cert(vec![cert], key)
                .expect("client auth")
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = ServerName::try_from("localhost").expect("server name");
    let conn = ClientConnection::new(Arc::new(config), name).expect("client connection");
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut tls = StreamOwned::new(conn, tcp);
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).expect("send request");
    let mut response = Vec::new();
    // A peer that closes without close_notify is fine here; the status line is what counts.
    let _ = tls.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    let status = text.split_whitespace().nth(1).unwrap_or_default();
    status
        .parse()
        .unwrap_or_else(|_| panic!("no HTTP status in {text:?}"))
}

#[test]
fn server_starts_serves_refuses_and_stops() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data_dir = tmp.path().join("data");
    let kubeconfig = tmp.path().join("etc").join("kubeconfig.yaml");
    let port = free_port();

    let server = Server::start(closet(&data_dir, port, &kubeconfig));

    // The kubeconfig exists, is private, and names the port.
    let text = std::fs::read_to_string(&kubeconfig).expect("kubeconfig written");
    assert!(
        text.contains(&format!("https://127.0.0.1:{port}")),
        "{text}"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&kubeconfig)
            .expect("metadata")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    // Anonymous TLS works, and the public path answers.
    let ca = std::fs::read(data_dir.join("server/tls/ca.crt")).expect("CA written");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    assert_eq!(get(addr, &ca, None, "/healthz"), 200);
    // Everything else needs a client certificate; the apiserver answers 401 without one.
    assert_eq!(get(addr, &ca, None, "/api"), 401);
    // With the admin certificate the listener passes the user on and the request gets in.
    let cert = std::fs::read(data_dir.join("server/tls/admin.crt")).expect("admin cert");
    let key = std::fs::read(data_dir.join("server/tls/admin.key")).expect("admin key");
    assert_eq!(get(addr, &ca, Some((&cert, &key)), "/api"), 200);

    // `closet kubeconfig` prints the same credentials.
    let printed = run_to_end({
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_closet"));
        cmd.env_clear()
            .arg("kubeconfig")
            .arg("--data-dir")
            .arg(&data_dir);
        cmd.args(["--server", &format!("https://127.0.0.1:{port}")]);
        cmd
    });
    assert!(printed.status.success(), "{printed:?}");
    assert_eq!(String::from_utf8_lossy(&printed.stdout), text);

    // A second server on the same data dir is refused by the lock, before touching the port.
    let second = run_to_end(closet(&data_dir, free_port(), &kubeconfig));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: another closet (PID"), "{stderr}");
    assert!(stderr.contains(&server.child.id().to_string()), "{stderr}");

    // Another data dir but the same port: refused, naming the port and the flag.
    let other_dir = tmp.path().join("other");
    let third = run_to_end(closet(&other_dir, port, &tmp.path().join("other.yaml")));
    let stderr = String::from_utf8_lossy(&third.stderr);
    assert_eq!(third.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("port {port}")), "{stderr}");
    assert!(stderr.contains("--https-listen-port"), "{stderr}");

    let status = server.terminate();
    assert_eq!(
        status.code(),
        Some(0),
        "SIGTERM must end the server cleanly"
    );
}

#[test]
fn restart_reuses_the_certificates() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data_dir = tmp.path().join("data");
    let kubeconfig = tmp.path().join("kubeconfig.yaml");

    let first = Server::start(closet(&data_dir, free_port(), &kubeconfig));
    let ca = std::fs::read(data_dir.join("server/tls/ca.crt")).expect("CA");
    let admin_key = std::fs::read(data_dir.join("server/tls/admin.key")).expect("admin key");
    assert_eq!(first.terminate().code(), Some(0));

    let second = Server::start(closet(&data_dir, free_port(), &kubeconfig));
    assert_eq!(
        std::fs::read(data_dir.join("server/tls/ca.crt")).expect("CA"),
        ca
    );
    assert_eq!(
        std::fs::read(data_dir.join("server/tls/admin.key")).expect("key"),
        admin_key
    );
    assert_eq!(second.terminate().code(), Some(0));
}

#[test]
fn kubeconfig_before_the_first_start_says_what_to_do() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = run_to_end({
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_closet"));
        cmd.env_clear()
            .arg("kubeconfig")
            .arg("--data-dir")
            .arg(tmp.path());
        cmd
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("closet server"), "{stderr}");
}
