//! Hand-written HTTP/1.1 over TLS, for requests that well-behaved clients never send
//! (oversized or malformed bodies, wrong content types, no client certificate) and for
//! checking readiness without a runtime. One connection per request (`Connection: close`).

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, Stream};
use serde_json::Value;

/// The TLS side of a connection to the cluster: trust in its CA and, optionally, the admin
/// client certificate, both taken from the admin kubeconfig.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ClientConfig>,
    host: IpAddr,
    port: u16,
    timeout: Duration,
}

impl Tls {
    /// Reads the CA and admin credentials from `kubeconfig`. With `client_cert` false the
    /// connection trusts the server but presents no certificate (an anonymous client).
    pub fn from_kubeconfig(
        kubeconfig: &Path,
        port: u16,
        client_cert: bool,
    ) -> Result<Self, String> {
        crate::install_crypto();
        let text = std::fs::read_to_string(kubeconfig)
            .map_err(|e| format!("cannot read {}: {e}", kubeconfig.display()))?;
        let doc: Value = serde_saphyr::from_str(&text)
            .map_err(|e| format!("{} is not YAML: {e}", kubeconfig.display()))?;
        let field = |path: &str| -> Result<Vec<u8>, String> {
            let b64 = doc
                .pointer(path)
                .and_then(Value::as_str)
                .ok_or(format!("{} has no {path}", kubeconfig.display()))?;
            STANDARD
                .decode(b64.trim())
                .map_err(|e| format!("{path} is not base64: {e}"))
        };
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&field(
            "/clusters/0/cluster/certificate-authority-data",
        )?) {
            let cert = cert.map_err(|e| format!("bad CA PEM: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("bad CA certificate: {e}"))?;
        }
        let builder = ClientConfig::builder().with_root_certificates(roots);
        let config = if client_cert {
            let certs =
                CertificateDer::pem_slice_iter(&field("/users/0/user/client-certificate-data")?)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("bad client certificate PEM: {e}"))?;
            let key = PrivateKeyDer::from_pem_slice(&field("/users/0/user/client-key-data")?)
                .map_err(|e| format!("bad client key PEM: {e}"))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| format!("client auth: {e}"))?
        } else {
            builder.with_no_client_auth()
        };
        Ok(Self {
            config: Arc::new(config),
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port,
            timeout: Duration::from_secs(30),
        })
    }

    /// The same, connecting to `host` instead of 127.0.0.1 (the server's bind address).
    pub fn at(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }

    /// Sends `request` and reads the whole response.
    pub fn send(&self, request: &Request) -> Result<Response, String> {
        self.send_bytes(&request.to_bytes())
    }

    /// Sends `bytes` as they are (a complete HTTP/1.1 request) and reads the whole response.
    /// A write error is not fatal: a server may answer (413, say) and close before reading
    /// everything, so whatever it answered is still read.
    pub fn send_bytes(&self, bytes: &[u8]) -> Result<Response, String> {
        let mut tcp = TcpStream::connect((self.host, self.port))
            .map_err(|e| format!("connect to {}:{}: {e}", self.host, self.port))?;
        tcp.set_read_timeout(Some(self.timeout))
            .map_err(|e| e.to_string())?;
        tcp.set_write_timeout(Some(self.timeout))
            .map_err(|e| e.to_string())?;
        let name = ServerName::from(self.host);
        let mut conn =
            ClientConnection::new(self.config.clone(), name).map_err(|e| e.to_string())?;
        let write_error = {
            let mut stream = Stream::new(&mut conn, &mut tcp);
            stream.write_all(bytes).and_then(|()| stream.flush()).err()
        };
        // Read at the record level: after a failed write, rustls's `Stream` would first try
        // to send what is still queued and fail again, hiding an answer already received.
        let mut received = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match conn.reader().read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    received.extend_from_slice(&buf[..n]);
                    continue;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                // Servers often skip close_notify; what arrived is the answer.
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(format!("TLS read failed: {e}")),
            }
            match conn.read_tls(&mut tcp) {
                Ok(0) => break,
                Ok(_) => {
                    conn.process_new_packets()
                        .map_err(|e| format!("TLS error: {e}"))?;
                }
                Err(e) if !received.is_empty() && e.kind() == ErrorKind::ConnectionReset => break,
                Err(e) => {
                    return Err(match write_error {
                        Some(w) => format!("write failed ({w}), then read failed ({e})"),
                        None => format!("read failed: {e}"),
                    });
                }
            }
        }
        Response::parse(&received)
    }
}

/// An HTTP/1.1 request to build by hand.
#[derive(Clone, Debug)]
pub struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    /// `method path` with no body and `Accept: application/json`.
    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: method.to_string(),
            path: path.to_string(),
            headers: vec![("Accept".into(), "application/json".into())],
            body: Vec::new(),
        }
    }

    /// `GET path`.
    pub fn get(path: &str) -> Self {
        Self::new("GET", path)
    }

    /// Sets a header, replacing any earlier value.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body, sent with a Content-Length.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body with `Content-Type: application/json`.
    pub fn json(self, body: &Value) -> Self {
        self.header("Content-Type", "application/json")
            .body(body.to_string())
    }

    /// The request on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\n",
            self.method, self.path
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if !self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PUT" | "PATCH") {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str("Connection: close\r\n\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// A parsed HTTP/1.1 response (chunked bodies are reassembled).
#[derive(Clone, Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names in lower case, with their values.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    fn parse(raw: &[u8]) -> Result<Self, String> {
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| {
                format!(
                    "no complete response head in {:?}",
                    String::from_utf8_lossy(raw)
                )
            })?;
        let head = String::from_utf8_lossy(&raw[..end]);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let rest = &raw[end + 4..];
        let chunked = headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
        let body = if chunked {
            dechunk(rest)?
        } else {
            rest.to_vec()
        };
        Ok(Self {
            status,
            headers,
            body,
        })
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunk size line")?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|e| format!("bad chunk size {size_text:?}: {e}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        if rest.len() < size {
            return Err("truncated chunk".into());
        }
        body.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
}
