//! `POST /closet/v1/join` and `GET /closet/v1/ca`, called on the router with no user, as a
//! joining node arrives: no client certificate, only the token.

#![allow(clippy::unwrap_used, reason = "tests")]

use closet_apiserver::join::{CA_PATH, JOIN_PATH, JoinAuthority};
use closet_apiserver::{ApiServer, Config};
use closet_pki::{CertificateAuthority, JoinToken, NodeCredentials};
use closet_store::sqlite::{Options, SqliteStore};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

struct Server {
    _dir: tempfile::TempDir,
    router: axum::Router,
    token: JoinToken,
    ca: CertificateAuthority,
}

fn server(with_join: bool) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("state.db"), Options::default()).unwrap();
    let ca = CertificateAuthority::generate().unwrap();
    let token = JoinToken::generate(&ca).unwrap();
    let mut api = ApiServer::new(store, Config::default());
    if with_join {
        api = api.with_join(JoinAuthority {
            token: token.clone(),
            ca: ca.clone(),
        });
    }
    Server {
        _dir: dir,
        router: api.router(),
        token,
        ca,
    }
}

async fn call(
    router: &axum::Router,
    request: Request<axum::body::Body>,
) -> (StatusCode, serde_json::Value, String) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, json, text)
}

fn join_request(token: Option<&str>, body: &str) -> Request<axum::body::Body> {
    let mut builder = Request::post(JOIN_PATH).header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder
        .body(axum::body::Body::from(body.to_owned()))
        .unwrap()
}

const BODY: &str = r#"{"nodeName": "pi-4", "addresses": ["192.168.1.20"]}"#;

#[tokio::test]
async fn the_right_token_gets_node_credentials() {
    let s = server(true);
    let token = s.token.to_string();
    let (status, json, text) = call(&s.router, join_request(Some(&token), BODY)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let creds: NodeCredentials = serde_json::from_value(json).unwrap();
    assert_eq!(creds.ca_pem, s.ca.pair().cert_pem);
    // Signed by the CA, naming system:node:pi-4 in system:nodes, serving 192.168.1.20.
    assert!(creds.fits("pi-4", &["192.168.1.20".to_owned()]));
    assert!(!creds.fits("pi-5", &[]));
}

#[tokio::test]
async fn a_wrong_or_missing_token_gets_401() {
    let s = server(true);
    let other_ca = CertificateAuthority::generate().unwrap();
    let wrong = JoinToken::generate(&s.ca).unwrap().to_string();
    let foreign = JoinToken::generate(&other_ca).unwrap().to_string();
    let requests = [
        join_request(None, BODY),
        join_request(Some(&wrong), BODY),
        join_request(Some(&foreign), BODY),
        join_request(Some("not-a-token"), BODY),
    ];
    for request in requests {
        let (status, json, text) = call(&s.router, request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
        assert_eq!(json["kind"], "Status", "{text}");
        assert_eq!(json["reason"], "Unauthorized", "{text}");
    }
    // A bad body without a token is still 401: nothing is read before the token is checked.
    let (status, _, _) = call(&s.router, join_request(None, "{")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_body_that_is_not_a_join_request_gets_400() {
    let s = server(true);
    let token = s.token.to_string();
    for body in ["", "{", "[]", r#"{"name": "pi-4"}"#, r#"{"nodeName": 4}"#] {
        let (status, json, text) = call(&s.router, join_request(Some(&token), body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
        assert_eq!(json["reason"], "BadRequest", "{text}");
        assert!(
            json["message"].as_str().unwrap().contains("nodeName"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_bad_node_name_or_address_gets_422() {
    let s = server(true);
    let token = s.token.to_string();
    let cases = [
        (r#"{"nodeName": "Pi_4"}"#, "nodeName"),
        (r#"{"nodeName": ""}"#, "nodeName"),
        (
            r#"{"nodeName": "pi-4", "addresses": ["not an address"]}"#,
            "addresses[0]",
        ),
    ];
    for (body, field) in cases {
        let (status, json, text) = call(&s.router, join_request(Some(&token), body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {text}");
        assert_eq!(json["reason"], "Invalid", "{text}");
        assert_eq!(json["details"]["kind"], "Node", "{text}");
        assert_eq!(json["details"]["causes"][0]["field"], field, "{text}");
    }
}

#[tokio::test]
async fn the_ca_is_public() {
    let s = server(true);
    let request = Request::get(CA_PATH)
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, _, text) = call(&s.router, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text, s.ca.pair().cert_pem);
    assert!(s.token.matches_ca(&text));
}

#[tokio::test]
async fn without_a_join_authority_nothing_can_join() {
    let s = server(false);
    let token = s.token.to_string();
    let (status, _, _) = call(&s.router, join_request(Some(&token), BODY)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let request = Request::get(CA_PATH)
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, _, _) = call(&s.router, request).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn other_paths_still_need_a_user() {
    let s = server(true);
    let request = Request::get("/api/v1/namespaces")
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, _, _) = call(&s.router, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
