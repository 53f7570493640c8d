//! `closet agent`'s join against a real apiserver router behind the real HTTPS accept loop on
//! loopback: the token, the CA check, the node certificate on the wire.

use std::net::{IpAddr, Ipv4Addr};

use closet_apiserver::join::JoinAuthority;
use closet_apiserver::{ApiServer, Config};
use closet_pki::{CertificateAuthority, ClusterTls, NodeCredentials};
use closet_store::sqlite::{Options, SqliteStore};
use k8s_openapi::api::core::v1::Namespace;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::*;
use crate::https;

struct Server {
    dir: tempfile::TempDir,
    url: String,
    token: JoinToken,
    _stop: oneshot::Sender<()>,
}

async fn server() -> Server {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("tempdir");
    let tls = ClusterTls::load_or_create(&dir.path().join("server/tls"), &ServingNames::loopback())
        .expect("certificates");
    let token = JoinToken::load_or_create(dir.path(), &tls.ca).expect("token");
    let store = SqliteStore::open(&dir.path().join("state.db"), Options::default()).expect("store");
    let api = ApiServer::new(store, Config::default()).with_join(JoinAuthority {
        token: token.clone(),
        ca: tls.ca.clone(),
    });
    api.bootstrap().await.expect("bootstrap");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("https://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = oneshot::channel::<()>();
    let config = tls.server_config().expect("TLS config");
    tokio::spawn(https::serve(listener, config, api.router(), async move {
        let _ = stopped.await;
    }));
    Server {
        dir,
        url,
        token,
        _stop: stop,
    }
}

fn agent_args(server: &Server, token: &str, data_dir: PathBuf) -> AgentArgs {
    AgentArgs {
        server: server.url.clone(),
        token: token.to_owned(),
        data_dir,
        node_name: Some("pi-4".to_owned()),
        node_ip: vec![IpAddr::V4(Ipv4Addr::new(192, 168, 1, 20))],
        container_runtime_endpoint: None,
        service_cidr: closet_cli::server::DEFAULT_SERVICE_CIDR.to_owned(),
        cluster_cidr: closet_cli::server::DEFAULT_CLUSTER_CIDR.to_owned(),
        disable_dns: false,
        dns_upstream: Vec::new(),
    }
}

#[tokio::test]
async fn a_joined_node_reaches_the_api_with_its_own_certificate() {
    let server = server().await;
    let agent_dir = tempfile::tempdir().expect("tempdir");
    let tls_dir = agent_dir.path().join("agent/tls");
    let addresses = ["192.168.1.20".to_owned()];
    let credentials = join_client::join(&server.url, &server.token, "pi-4", &addresses, &tls_dir)
        .await
        .expect("join");
    assert!(credentials.fits("pi-4", &addresses));

    // Listing namespaces needs an authenticated user: the node's client certificate.
    let client = join_client::kube_client(&server.url, &credentials).expect("client");
    let namespaces: kube::Api<Namespace> = kube::Api::all(client);
    let list = namespaces
        .list(&Default::default())
        .await
        .expect("the node is authenticated");
    assert!(
        list.items
            .iter()
            .any(|ns| ns.metadata.name.as_deref() == Some("kube-system"))
    );

    // Credentials from another CA get nowhere: the TLS layer refuses the certificate.
    let stranger = CertificateAuthority::generate().expect("CA");
    let forged = NodeCredentials {
        ca_pem: credentials.ca_pem.clone(),
        ..closet_pki::node::issue_node(&stranger, "pi-4", &[]).expect("issue")
    };
    let client = join_client::kube_client(&server.url, &forged).expect("client");
    let namespaces: kube::Api<Namespace> = kube::Api::all(client);
    assert!(namespaces.list(&Default::default()).await.is_err());
}

#[tokio::test]
async fn closet_agent_joins_and_stores_credentials_then_reuses_them() {
    let server = server().await;
    let agent_dir = tempfile::tempdir().expect("tempdir");
    let args = agent_args(
        &server,
        &server.token.to_string(),
        agent_dir.path().to_path_buf(),
    );
    let joined = connect(&args).await.expect("join");
    assert_eq!(joined.node_name, "pi-4");
    let stored = NodeCredentials::load(&tls_dir(&args))
        .expect("load")
        .expect("credentials were stored");
    assert!(stored.fits("pi-4", &["192.168.1.20".to_owned()]));

    // A restart reuses them.
    connect(&args).await.expect("join again");
    assert_eq!(
        NodeCredentials::load(&tls_dir(&args)).expect("load"),
        Some(stored)
    );
}

#[tokio::test]
async fn wrong_tokens_say_what_is_wrong() {
    let server = server().await;
    let agent_dir = tempfile::tempdir().expect("tempdir");
    let data_dir = agent_dir.path().to_path_buf();

    let stranger = CertificateAuthority::generate().expect("CA");
    let foreign = JoinToken::generate(&stranger).expect("token").to_string();
    let err = connect(&agent_args(&server, &foreign, data_dir.clone()))
        .await
        .expect_err("foreign token");
    assert!(
        format!("{err:#}").contains("does not belong to that server"),
        "{err:#}"
    );

    let ca_pem = std::fs::read_to_string(server.dir.path().join("server/tls/ca.crt")).expect("CA");
    let ca = CertificateAuthority::from_pem(closet_pki::CertAndKey {
        cert_pem: ca_pem,
        key_pem: std::fs::read_to_string(server.dir.path().join("server/tls/ca.key"))
            .expect("CA key"),
    })
    .expect("CA");
    let guessed = JoinToken::generate(&ca).expect("token").to_string();
    let err = connect(&agent_args(&server, &guessed, data_dir.clone()))
        .await
        .expect_err("wrong secret");
    assert!(
        format!("{err:#}").contains("refused the join token"),
        "{err:#}"
    );

    let err = connect(&agent_args(&server, "K10nonsense", data_dir))
        .await
        .expect_err("malformed");
    assert!(format!("{err:#}").contains("--token"), "{err:#}");
}

#[test]
fn the_server_ip_comes_from_the_url_when_it_names_an_address() {
    assert_eq!(
        super::server_ip("https://192.168.1.10:6443"),
        "192.168.1.10".parse().ok()
    );
    assert_eq!(
        super::server_ip("https://[fd00::1]:6443/"),
        "fd00::1".parse().ok()
    );
    assert_eq!(super::server_ip("https://server.lan:6443"), None);
}
