//! The runtime's streaming server: plain HTTP on loopback, one-time URLs from CRI.
//!
//! [`pass_through`] hands a client's SPDY upgrade to such a URL unchanged and pipes the
//! bytes (kubelet's behaviour for SPDY clients); [`dial_upgrade`] opens a SPDY connection
//! of our own there, for the WebSocket port-forward tunnel.

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::status::{self, Failure};
use crate::upgrade;

/// How a stream request wants to switch protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UpgradeKind {
    /// `Upgrade: websocket`.
    WebSocket,
    /// `Upgrade: SPDY/3.1`.
    Spdy,
}

/// The protocol a stream request upgrades to; anything else is 400, as kubelet answers.
pub(crate) fn upgrade_kind(headers: &HeaderMap) -> Result<UpgradeKind, Failure> {
    if upgrade::is_upgrade(headers) {
        if upgrade::has_token(headers, &header::UPGRADE, "websocket") {
            return Ok(UpgradeKind::WebSocket);
        }
        if upgrade::has_token(headers, &header::UPGRADE, "SPDY/3.1") {
            return Ok(UpgradeKind::Spdy);
        }
    }
    Err(status::bad_request(
        "Upgrade request required (WebSocket or SPDY/3.1)",
    ))
}

/// Sends `request`'s upgrade to the runtime's `url` and, once the runtime switched, answers
/// the client with the runtime's 101 and pipes bytes both ways. A refusal is passed back
/// with the runtime's status and text.
pub(crate) async fn pass_through(url: &str, mut request: Request) -> Result<Response, Failure> {
    let client = request
        .extensions_mut()
        .remove::<OnUpgrade>()
        .ok_or_else(|| status::bad_request("this connection cannot be upgraded"))?;
    let headers = upgrade::forwardable(request.headers(), true);
    let mut response = send_upgrade(url, request.method().clone(), headers).await?;
    let backend = hyper::upgrade::on(&mut response);
    upgrade::splice(client, backend, "runtime stream");
    let (parts, _) = response.into_parts();
    let mut answer = Response::new(Body::empty());
    *answer.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    *answer.headers_mut() = upgrade::forwardable(&parts.headers, true);
    Ok(answer)
}

/// Opens a classic SPDY connection to the runtime's `url` for `protocol` (e.g.
/// `portforward.k8s.io`) and returns it once switched.
pub(crate) async fn dial_upgrade(url: &str, protocol: &str) -> Result<Upgraded, Failure> {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
    let version = HeaderValue::from_str(protocol)
        .map_err(|_| status::bad_request("invalid stream protocol name"))?;
    headers.insert("x-stream-protocol-version", version);
    let mut response = send_upgrade(url, http::Method::POST, headers).await?;
    hyper::upgrade::on(&mut response)
        .await
        .map_err(|err| status::internal("switching the runtime's connection to SPDY", &err))
}

/// Sends an upgrade request to `url` and returns its 101, or the runtime's refusal as a
/// [`Failure`] carrying the runtime's status and text.
async fn send_upgrade(
    url: &str,
    method: http::Method,
    headers: HeaderMap,
) -> Result<Response<hyper::body::Incoming>, Failure> {
    let uri: Uri = url
        .parse()
        .map_err(|_| status::bad_request(format!("the runtime returned a bad URL {url:?}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(status::bad_request(format!(
            "the runtime's streaming URL {url:?} is not plain HTTP on loopback"
        )));
    }
    let authority = uri
        .authority()
        .ok_or_else(|| status::bad_request(format!("the runtime's URL {url:?} has no host")))?
        .clone();
    let tcp = TcpStream::connect(authority.as_str())
        .await
        .map_err(|err| status::internal("connecting to the runtime's streaming server", &err))?;
    let _ = tcp.set_nodelay(true);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = http::Request::builder()
        .method(method)
        .uri(path)
        .body(Empty::<Bytes>::new())
        .map_err(|err| status::internal("building the runtime request", &err))?;
    *request.headers_mut() = headers;
    if let Ok(host) = HeaderValue::from_str(authority.as_str()) {
        request.headers_mut().insert(header::HOST, host);
    }
    let response = upgrade::send(tcp, request)
        .await
        .map_err(|err| status::internal("requesting the runtime's stream", &err))?;
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        return Ok(response);
    }
    Err(refusal(response).await)
}

/// The runtime's refusal, passed on with its code and (the start of) its text.
async fn refusal(response: Response<hyper::body::Incoming>) -> Failure {
    let code = response.status();
    let text = match Limited::new(response.into_body(), 4096).collect().await {
        Ok(body) => String::from_utf8_lossy(&body.to_bytes()).trim().to_owned(),
        Err(_) => String::new(),
    };
    let mut status = closet_types::Status::new(
        closet_types::status::FAILURE,
        i32::from(code.as_u16()),
        reason_for(code),
        format!("the container runtime refused the stream ({code}): {text}"),
    );
    if code.is_success() {
        status.code = 502;
    }
    Failure::from(status)
}

fn reason_for(code: StatusCode) -> &'static str {
    match code.as_u16() {
        400 => closet_types::status::reason::BAD_REQUEST,
        403 => closet_types::status::reason::FORBIDDEN,
        404 => closet_types::status::reason::NOT_FOUND,
        _ => closet_types::status::reason::INTERNAL_ERROR,
    }
}

/// An upgraded connection as a tokio byte stream.
pub(crate) type RuntimeStream = TokioIo<Upgraded>;
