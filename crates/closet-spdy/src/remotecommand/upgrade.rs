//! The HTTP/1.1 request that turns a connection into a SPDY/3.1 session.
//!
//! The streaming server (kubelet's, vendored by containerd) answers
//! `POST /exec/<token>` carrying `Connection: Upgrade`, `Upgrade: SPDY/3.1` and the
//! offered `X-Stream-Protocol-Version`s with `101 Switching Protocols`, naming the protocol
//! it chose, and then speaks SPDY on the same connection. Anything else it answers with an
//! ordinary error response whose body says why.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::RemoteCommandError;

/// Largest response head accepted.
const MAX_HEAD_LEN: usize = 16 * 1024;
/// Most of an error body kept for the error message.
const MAX_ERROR_BODY_LEN: usize = 4 * 1024;
/// How long to wait for the rest of an error body the server announced.
const ERROR_BODY_TIMEOUT: Duration = Duration::from_secs(2);

/// Where a streaming URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    /// `http` or `https`.
    pub(super) scheme: &'static str,
    /// `host[:port]` as written, for the Host header.
    pub(super) authority: String,
    /// `host:port` to dial, with the scheme's default port filled in.
    pub(super) address: String,
    /// Path and query, at least `/`.
    pub(super) path: String,
}

impl Target {
    pub(super) fn parse(url: &str) -> Result<Self, RemoteCommandError> {
        let invalid = |reason| RemoteCommandError::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("http://") {
            ("http", rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            ("https", rest)
        } else {
            return Err(invalid("scheme must be http or https"));
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_owned()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_owned()),
        };
        if authority.is_empty() || authority.contains(['@', ' ']) {
            return Err(invalid("host is missing or malformed"));
        }
        if path.contains(|c: char| c.is_ascii_whitespace() || c.is_ascii_control()) {
            return Err(invalid("path contains whitespace or control characters"));
        }
        let has_port = match authority.rfind(':') {
            // "[::1]" has colons but no port; "[::1]:80" and "host:80" have one.
            Some(i) => !authority[i..].contains(']'),
            None => false,
        };
        let address = if has_port {
            authority.to_owned()
        } else {
            let port = if scheme == "http" { 80 } else { 443 };
            format!("{authority}:{port}")
        };
        let port_ok = address
            .rsplit_once(':')
            .is_some_and(|(_, port)| port.parse::<u16>().is_ok());
        if !port_ok {
            return Err(invalid("port is not a number"));
        }
        Ok(Self {
            scheme,
            authority: authority.to_owned(),
            address,
            path,
        })
    }
}

/// The parts of the server's answer the client checks.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends the upgrade request offering `protocol` and checks the 101. Returns any bytes the
/// server sent after its response head: they are already SPDY.
pub(super) async fn upgrade<T>(
    io: &mut T,
    target: &Target,
    protocol: &str,
) -> Result<Bytes, RemoteCommandError>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: closet\r\nContent-Length: 0\r\n\
         Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: {protocol}\r\n\r\n",
        path = target.path,
        host = target.authority,
    );
    io.write_all(request.as_bytes())
        .await
        .map_err(RemoteCommandError::Upgrade)?;
    io.flush().await.map_err(RemoteCommandError::Upgrade)?;

    let mut buf = BytesMut::with_capacity(1024);
    let head_len = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD_LEN {
            return Err(RemoteCommandError::MalformedResponse(
                "response head is too long",
            ));
        }
        if io
            .read_buf(&mut buf)
            .await
            .map_err(RemoteCommandError::Upgrade)?
            == 0
        {
            return Err(RemoteCommandError::MalformedResponse(
                "connection closed mid-response",
            ));
        }
    };
    let head = buf.split_to(head_len);
    let response = parse_head(&head)?;
    if response.status != 101 {
        let body = error_body(io, &response, buf).await;
        return Err(RemoteCommandError::Rejected {
            status: response.status,
            body,
        });
    }
    let upgrade = response.header("upgrade");
    if !upgrade.is_some_and(|u| u.to_ascii_lowercase().contains("spdy/3.1")) {
        return Err(RemoteCommandError::NotSpdy(upgrade.map(str::to_owned)));
    }
    let chosen = response.header("x-stream-protocol-version");
    if chosen != Some(protocol) {
        return Err(RemoteCommandError::ProtocolNotNegotiated(
            chosen.map(str::to_owned),
        ));
    }
    Ok(buf.freeze())
}

fn parse_head(head: &[u8]) -> Result<Response, RemoteCommandError> {
    let malformed = RemoteCommandError::MalformedResponse;
    let text = std::str::from_utf8(head).map_err(|_| malformed("response head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(malformed("status line is not HTTP/1.x"));
    }
    let status = parts
        .next()
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or(malformed("status code is not a number"))?;
    let headers = lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (name, value) = line
                .split_once(':')
                .ok_or(malformed("header line without a colon"))?;
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect::<Result<_, RemoteCommandError>>()?;
    Ok(Response { status, headers })
}

/// Reads (a bounded part of) the body of an error response for the error message.
async fn error_body<T>(io: &mut T, response: &Response, mut body: BytesMut) -> String
where
    T: AsyncRead + Unpin,
{
    let announced = response
        .header("content-length")
        .and_then(|len| len.parse::<usize>().ok())
        .unwrap_or(MAX_ERROR_BODY_LEN);
    let wanted = announced.min(MAX_ERROR_BODY_LEN);
    let _ = tokio::time::timeout(ERROR_BODY_TIMEOUT, async {
        while body.len() < wanted {
            match io.read_buf(&mut body).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    body.truncate(wanted);
    String::from_utf8_lossy(&body).trim().to_owned()
}

/// An io that first yields bytes already read from it.
pub(super) struct Prefixed<T> {
    prefix: Bytes,
    io: T,
}

impl<T> Prefixed<T> {
    pub(super) fn new(prefix: Bytes, io: T) -> Self {
        Self { prefix, io }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Prefixed<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Prefixed<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_parse_into_dial_address_host_and_path() {
        let target = Target::parse("http://127.0.0.1:10010/exec/AbC?x=1").unwrap();
        assert_eq!(target.address, "127.0.0.1:10010");
        assert_eq!(target.authority, "127.0.0.1:10010");
        assert_eq!(target.path, "/exec/AbC?x=1");
        assert_eq!(
            Target::parse("http://[::1]/exec/t").unwrap().address,
            "[::1]:80"
        );
        assert_eq!(
            Target::parse("https://[::1]:9/").unwrap().address,
            "[::1]:9"
        );
        assert_eq!(Target::parse("http://node?q").unwrap().path, "/?q");
        assert_eq!(Target::parse("http://node").unwrap().path, "/");
        for bad in [
            "ftp://x/",
            "http:///exec",
            "http://h:port/",
            "http://h/a b",
            "http://u@h/",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn response_heads_parse() {
        let head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\nX-A:  b \r\n\r\n";
        let response = parse_head(head).unwrap();
        assert_eq!(response.status, 101);
        assert_eq!(response.header("upgrade"), Some("SPDY/3.1"));
        assert_eq!(response.header("x-a"), Some("b"));
        assert!(parse_head(b"SPDY/3 200 OK\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 abc\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n").is_err());
    }
}
