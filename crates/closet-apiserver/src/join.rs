//! How a new node gets its certificates: `POST /closet/v1/join`, authenticated by the join
//! token alone, and `GET /closet/v1/ca`, which anyone may read.
//!
//! A joining agent has no certificate yet, so both paths are served without one (the router
//! merges them outside the authentication layer). The agent first fetches the CA over a TLS
//! connection it cannot verify yet, checks the CA's SHA-256 against the hash inside its token,
//! and only then calls `/join` over a connection verified with that CA, as k3s does. The
//! answer carries the CA, a client certificate naming the node (`system:node:<name>` in
//! `system:nodes`) and a serving certificate for the node's own API.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use closet_pki::node::{JoinRequest, issue_node};
use closet_pki::{CertificateAuthority, JoinToken};
use closet_types::{FieldError, Status};
use http::{HeaderMap, StatusCode, header};
use http_body_util::BodyExt;

use crate::error::ApiError;

/// The path a node posts its [`JoinRequest`] to.
pub const JOIN_PATH: &str = "/closet/v1/join";
/// The path serving the cluster CA certificate (PEM).
pub const CA_PATH: &str = "/closet/v1/ca";
/// A join request is a name and a few addresses; anything bigger is not one.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// More addresses than any machine has; keeps a certificate from growing without bound.
const MAX_ADDRESSES: usize = 64;

/// What the server needs to let nodes join: the token they must present and the CA that signs
/// their certificates. Handed to [`crate::ApiServer::with_join`].
#[derive(Clone, Debug)]
pub struct JoinAuthority {
    /// The server's join token.
    pub token: JoinToken,
    /// The cluster CA.
    pub ca: CertificateAuthority,
}

/// The public join routes. Without an authority (a server built without
/// [`crate::ApiServer::with_join`]) they answer 404, so nothing can join.
pub(crate) fn router(authority: Option<Arc<JoinAuthority>>) -> Router {
    Router::new()
        .route(CA_PATH, get(ca))
        .route(JOIN_PATH, post(join))
        .with_state(authority)
}

async fn ca(State(authority): State<Option<Arc<JoinAuthority>>>, req: Request) -> Response {
    let Some(authority) = authority else {
        return ApiError::path_not_found(req.uri().path()).into_response();
    };
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        authority.ca.pair().cert_pem.clone(),
    )
        .into_response()
}

async fn join(State(authority): State<Option<Arc<JoinAuthority>>>, req: Request) -> Response {
    let Some(authority) = authority else {
        return ApiError::path_not_found(req.uri().path()).into_response();
    };
    let (parts, body) = req.into_parts();
    // The token is checked before the body is even read: an unauthenticated caller learns
    // nothing about what a valid request looks like.
    if !presents_token(&parts.headers, &authority.token) {
        tracing::info!("join refused: missing or wrong join token");
        return ApiError::unauthorized().into_response();
    }
    let request = match read_request(body).await {
        Ok(request) => request,
        Err(err) => return err.into_response(),
    };
    let errors = validate(&request);
    if !errors.is_empty() {
        return ApiError::from(Status::invalid("", "Node", &request.node_name, &errors))
            .into_response();
    }
    match issue_node(&authority.ca, &request.node_name, &request.addresses) {
        Ok(credentials) => {
            tracing::info!(
                node = %request.node_name,
                addresses = ?request.addresses,
                "issued node credentials"
            );
            (StatusCode::OK, axum::Json(credentials)).into_response()
        }
        Err(err) => {
            let chain = crate::error::error_chain(&err);
            tracing::error!(node = %request.node_name, error = %chain, "issuing node credentials failed");
            ApiError::internal(&format!("issuing node credentials failed: {chain}")).into_response()
        }
    }
}

/// Whether the `Authorization: Bearer <token>` header carries the server's token.
fn presents_token(headers: &HeaderMap, expected: &JoinToken) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .and_then(|token| JoinToken::parse(token).ok())
        .is_some_and(|presented| expected.accepts(&presented))
}

async fn read_request(body: Body) -> Result<JoinRequest, ApiError> {
    let bytes = match http_body_util::Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => {
            return Err(ApiError::too_large(MAX_BODY_BYTES));
        }
        Err(err) => {
            return Err(ApiError::bad_request(format!(
                "could not read the request body: {err}"
            )));
        }
    };
    serde_json::from_slice(&bytes).map_err(|err| {
        ApiError::bad_request(format!(
            "the join request must be JSON like {{\"nodeName\": \"pi-4\", \"addresses\": [\"192.168.1.20\"]}}: {err}"
        ))
    })
}

/// The node name must be a DNS subdomain (a Node's name); each address an IP address or a
/// DNS subdomain, since both go into the serving certificate.
fn validate(request: &JoinRequest) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if request.node_name.is_empty() {
        errors.push(FieldError::required("nodeName", ""));
    } else {
        for message in closet_types::names::is_dns1123_subdomain(&request.node_name) {
            errors.push(FieldError::invalid(
                "nodeName",
                request.node_name.as_str(),
                message,
            ));
        }
    }
    if request.addresses.len() > MAX_ADDRESSES {
        errors.push(FieldError::too_many(
            "addresses",
            i64::try_from(request.addresses.len()).unwrap_or(i64::MAX),
            i64::try_from(MAX_ADDRESSES).unwrap_or(i64::MAX),
        ));
        return errors;
    }
    for (i, address) in request.addresses.iter().enumerate() {
        let unbracketed = address.trim_start_matches('[').trim_end_matches(']');
        if unbracketed.parse::<IpAddr>().is_ok() {
            continue;
        }
        if let Some(message) = closet_types::names::is_dns1123_subdomain(address)
            .into_iter()
            .next()
        {
            errors.push(FieldError::invalid(
                format!("addresses[{i}]"),
                address.as_str(),
                format!("must be an IP address or a DNS name: {message}"),
            ));
        }
    }
    errors
}
