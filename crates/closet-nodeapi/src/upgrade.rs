//! One HTTP/1.1 request on a fresh connection, and the joining of two upgraded connections.
//!
//! Both proxy hops use this: the apiserver → node API (over TLS) and the node API → the
//! runtime's streaming server (plain HTTP on loopback). Each request gets its own connection,
//! because an upgraded connection is consumed by its stream anyway and these requests are
//! rare compared with their lifetime.

use http::header::{self, HeaderMap, HeaderName};
use http::{Request, Response};
use hyper::body::{Body, Incoming};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

/// The error type bodies may carry.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Sends `request` over `io`, a fresh connection, and returns the response head.
///
/// The connection is driven by a spawned task with upgrades enabled: it ends once the body
/// is read, or hands the connection to `hyper::upgrade::on(response)` after a 101, or ends
/// when the response is dropped. `request` must carry an origin-form URI and a Host header.
pub(crate) async fn send<IO, B>(
    io: IO,
    request: Request<B>,
) -> Result<Response<Incoming>, hyper::Error>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(async move {
        if let Err(err) = conn.with_upgrades().await {
            tracing::debug!(%err, "backend connection ended with an error");
        }
    });
    sender.send_request(request).await
}

/// Whether a request asks to switch protocols (`Connection: upgrade` and an `Upgrade`).
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE) && has_token(headers, &header::CONNECTION, "upgrade")
}

/// Whether a comma-separated header holds `token`, case-insensitively.
pub(crate) fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Headers that describe one hop, never forwarded as they are (RFC 9110 §7.6.1), plus the
/// caller's credentials, which are for the apiserver and never for a node.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "authorization",
];

/// The headers to pass on to the next hop: all but hop-by-hop ones and credentials. For an
/// upgrade, `Connection: Upgrade` and the `Upgrade` header are kept, since switching
/// protocols end to end is the point.
pub(crate) fn forwardable(headers: &HeaderMap, upgrade: bool) -> HeaderMap {
    let listed: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty() && t != "upgrade")
        .collect();
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let lower = name.as_str();
        if HOP_BY_HOP.contains(&lower) || listed.iter().any(|l| l == lower) {
            continue;
        }
        if lower.starts_with("impersonate-") {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    if upgrade {
        out.insert(
            header::CONNECTION,
            http::HeaderValue::from_static("Upgrade"),
        );
        for value in headers.get_all(header::UPGRADE) {
            out.append(header::UPGRADE, value.clone());
        }
    }
    out
}

/// Joins two connections once both have switched protocols, copying bytes both ways until
/// either side closes. If either upgrade fails, the other connection is dropped at once, so
/// a failed upgrade never leaves a backend connection open.
pub(crate) fn splice(client: OnUpgrade, backend: OnUpgrade, what: &'static str) {
    tokio::spawn(async move {
        let (client, backend) = match tokio::try_join!(client, backend) {
            Ok(pair) => pair,
            Err(err) => {
                tracing::debug!(what, %err, "upgrade failed; closing both connections");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let mut backend = TokioIo::new(backend);
        match tokio::io::copy_bidirectional(&mut client, &mut backend).await {
            Ok((up, down)) => tracing::debug!(what, up, down, "stream ended"),
            Err(err) => tracing::debug!(what, %err, "stream ended with an error"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        map
    }

    #[test]
    fn upgrade_needs_both_headers() {
        assert!(is_upgrade(&headers(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket")
        ])));
        assert!(!is_upgrade(&headers(&[("upgrade", "websocket")])));
        assert!(!is_upgrade(&headers(&[("connection", "upgrade")])));
    }

    #[test]
    fn credentials_and_hop_headers_stay_behind() {
        let input = headers(&[
            ("authorization", "Bearer secret"),
            ("connection", "Upgrade, X-Private"),
            ("x-private", "1"),
            ("upgrade", "websocket"),
            ("sec-websocket-key", "abc"),
            ("impersonate-user", "root"),
            ("host", "apiserver"),
        ]);
        let out = forwardable(&input, true);
        assert!(!out.contains_key("authorization"));
        assert!(!out.contains_key("x-private"));
        assert!(!out.contains_key("impersonate-user"));
        assert!(!out.contains_key("host"));
        assert_eq!(out["sec-websocket-key"], "abc");
        assert_eq!(out["upgrade"], "websocket");
        assert_eq!(out["connection"], "Upgrade");

        let plain = forwardable(&input, false);
        assert!(!plain.contains_key("upgrade") && !plain.contains_key("connection"));
    }
}
