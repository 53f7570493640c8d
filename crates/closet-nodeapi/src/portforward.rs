//! `GET|POST /portForward/{ns}/{pod}`: TCP into the pod's network namespace.
//!
//! kubectl 1.31 and later open a WebSocket with the subprotocol
//! `SPDY/3.1+portforward.k8s.io` and run an ordinary SPDY client inside it: the binary
//! messages are just a byte stream of SPDY frames, cut anywhere. The runtime's streaming
//! server speaks the SPDY server side. So the tunnel needs no SPDY of its own: it opens a
//! classic SPDY upgrade on the runtime's URL and copies payload bytes to it and its bytes
//! back as binary messages, as upstream's apiserver does when it tunnels to a kubelet.
//! Older clients send the classic SPDY upgrade themselves, and WebSocket clients of the
//! older channel protocol (`v4.channel.k8s.io` with `?ports=`, as kube-rs speaks it) need
//! the ports in the CRI request; both are passed through to the runtime unchanged.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use closet_cri::cri;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::server::Inner;
use crate::status::{self, Failure};
use crate::streaming::{self, RuntimeStream, UpgradeKind};

/// The WebSocket subprotocol of the tunnel.
pub(crate) const TUNNEL_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";
/// The SPDY protocol inside it, and of classic clients.
const PORT_FORWARD_PROTOCOL: &str = "portforward.k8s.io";
/// Largest message sent to the client.
const READ_BUFFER: usize = 32 * 1024;

/// The handler.
pub(crate) async fn port_forward(
    State(api): State<Arc<Inner>>,
    Path((namespace, pod)): Path<(String, String)>,
    request: Request,
) -> Response {
    serve(api, namespace, pod, request)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn serve(
    api: Arc<Inner>,
    namespace: String,
    pod: String,
    request: Request,
) -> Result<Response, Failure> {
    let info = api
        .pods
        .pod(&namespace, &pod)
        .ok_or_else(|| status::pod_not_found(&namespace, &pod))?;
    let kind = streaming::upgrade_kind(request.headers())?;
    let tunnelled = kind == UpgradeKind::WebSocket
        && crate::upgrade::has_token(
            request.headers(),
            &http::header::SEC_WEBSOCKET_PROTOCOL,
            TUNNEL_PROTOCOL,
        );
    // Only the channel protocol names its ports up front; SPDY streams name them later.
    let ports = if kind == UpgradeKind::WebSocket && !tunnelled {
        query_ports(request.uri().query().unwrap_or(""))?
    } else {
        Vec::new()
    };
    let (mut parts, body) = request.into_parts();
    let websocket = match kind {
        UpgradeKind::WebSocket if tunnelled => {
            let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &())
                .await
                .map_err(|rejection| status::bad_request(rejection.body_text()))?
                .protocols([TUNNEL_PROTOCOL]);
            if upgrade.selected_protocol().is_none() {
                return Err(status::bad_request(format!(
                    "no supported WebSocket subprotocol; this server speaks {TUNNEL_PROTOCOL}"
                )));
            }
            Some(upgrade)
        }
        UpgradeKind::WebSocket | UpgradeKind::Spdy => None,
    };
    let url = api
        .runtime
        .port_forward(cri::PortForwardRequest {
            pod_sandbox_id: info.sandbox_id.clone(),
            port: ports,
        })
        .await
        .map_err(|err| status::internal("CRI PortForward", &err))?
        .url;
    match websocket {
        Some(upgrade) => {
            let runtime = streaming::dial_upgrade(&url, PORT_FORWARD_PROTOCOL).await?;
            let runtime = RuntimeStream::new(runtime);
            Ok(upgrade.on_upgrade(move |socket| tunnel(socket, runtime)))
        }
        None => streaming::pass_through(&url, Request::from_parts(parts, body)).await,
    }
}

/// The `ports` of a channel-protocol request (`ports=80&ports=443` or `ports=80,443`).
fn query_ports(query: &str) -> Result<Vec<i32>, Failure> {
    let mut ports = Vec::new();
    for (key, value) in crate::logs::form_pairs(query) {
        if key != "ports" {
            continue;
        }
        for port in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match port.parse::<u16>() {
                Ok(n) if n > 0 => ports.push(i32::from(n)),
                _ => {
                    return Err(status::bad_request(format!(
                        "port {port:?} is not a valid port number"
                    )));
                }
            }
        }
    }
    if ports.is_empty() {
        return Err(status::bad_request(format!(
            "a WebSocket port-forward needs ports=... unless it speaks {TUNNEL_PROTOCOL}"
        )));
    }
    Ok(ports)
}

/// Copies WebSocket payloads to the runtime and the runtime's bytes back, until either
/// side ends.
async fn tunnel(socket: WebSocket, runtime: RuntimeStream) {
    let (mut from_runtime, mut to_runtime) = tokio::io::split(runtime);
    let (mut sink, mut incoming) = socket.split();
    let upstream = async {
        while let Some(Ok(message)) = incoming.next().await {
            match message {
                Message::Binary(data) if to_runtime.write_all(&data).await.is_err() => break,
                Message::Binary(_) => {}
                Message::Close(_) => break,
                // Pings are answered while reading; text has no meaning here.
                _ => {}
            }
        }
        let _ = to_runtime.shutdown().await;
    };
    let downstream = async {
        let mut buffer = vec![0u8; READ_BUFFER];
        loop {
            match from_runtime.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let data = Bytes::copy_from_slice(&buffer[..n]);
                    if sink.send(Message::Binary(data)).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = sink.send(Message::Close(None)).await;
    };
    // Whichever side ends first ends the tunnel; dropping both halves closes both ends.
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_in_either_form() {
        assert_eq!(query_ports("ports=80&ports=443").unwrap(), [80, 443]);
        assert_eq!(query_ports("ports=80,8080").unwrap(), [80, 8080]);
        assert!(query_ports("").is_err());
        assert!(query_ports("ports=0").is_err());
        assert!(query_ports("ports=http").is_err());
        assert!(query_ports("ports=70000").is_err());
    }
}
